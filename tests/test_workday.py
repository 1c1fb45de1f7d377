"""Issue 17, a researcher's working day: progress on stderr only, exit codes and hints."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.commands._app import RichReporter
from pipeline.config import load_config
from pipeline.run import run_batch

from .conftest import ROOT

runner = CliRunner()


def test_progress_bars_draw_on_their_console_and_are_silent_when_quiet():
    for quiet in (False, True):
        buf = io.StringIO()
        rep = RichReporter(quiet, Console(file=buf, force_terminal=True, width=80))
        tick = rep.stage("embedding", 10)
        tick(4)
        rep.progress.refresh() if rep.progress else None
        rep.stage("loading", None)  # unknown length: a pulsing bar, replaces the previous one
        rep.done("loading")
        assert ("embedding" in buf.getvalue()) is (not quiet)


def test_code_exits_2_when_no_input_could_be_read_and_keeps_stdout_clean(tmp_path):
    pdf = tmp_path / "only.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    r = subprocess.run([str(Path(sys.executable).parent / "precode"), "code", str(pdf), "--codebook",
                        str(ROOT / "configs" / "codebooks" / "shepardson2019.yaml"), "-o", str(tmp_path / "o.csv"),
                        "--no-cache"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "only.pdf" in r.stderr and "could be read" in r.stderr
    assert "Traceback" not in r.stderr and "━" not in r.stdout  # bars go to stderr, never with the data


def test_export_without_confirmed_codings_hints_at_proposals(tmp_path, write, tiny_codebook, bow):
    write("data/a.txt", "Interviewer: What would be the greatest barriers?\nDana: Nobody knows what the peer role is.\n")
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\n"
                                          f"studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n"))
    run_batch(cfg, embedder=bow)
    import pipeline.commands.export as cli  # the module whose `err` console the export command prints to

    for fmt in ("md", "qdpx"):
        buf = io.StringIO()
        old, cli.err = cli.err, Console(file=buf, width=300)
        try:
            r = runner.invoke(app, ["export", str(cfg.store_path), "-f", fmt, "-o", str(tmp_path / f"e.{fmt}")])
        finally:
            cli.err = old
        assert r.exit_code == 0, r.output
        assert "--proposals" in buf.getvalue()
        buf = io.StringIO()
        old, cli.err = cli.err, Console(file=buf, width=300)
        try:
            r = runner.invoke(app, ["export", str(cfg.store_path), "-f", fmt, "--proposals", "-o", str(tmp_path / f"p.{fmt}")])
        finally:
            cli.err = old
        assert "--proposals" not in buf.getvalue()


# -- agreement for any number of coders --------------------------------------------------------------

THREE = [("ann", "u1", "A"), ("ann", "u2", "B"), ("ann", "u3", "A"),
         ("bob", "u1", "A"), ("bob", "u2", "A"), ("bob", "u3", "A"), ("bob", "u5", "B"),
         ("cat", "u1", "A"), ("cat", "u4", "B")]
REVIEWED = {"ann": {"u1", "u2", "u3", "u4"}, "bob": {"u1", "u2", "u3", "u5"}, "cat": {"u1", "u4"}}


def test_agreement_three_coders_who_reviewed_different_segments():
    import krippendorff
    import numpy as np
    import pytest

    from pipeline.evaluate import agreement

    rep = agreement(THREE, ["u1", "u2", "u3", "u4", "u5"], ["ann", "bob", "cat"], {"A": None, "B": None},
                    "code", reviewed=REVIEWED)
    assert rep.n_units == 4 and rep.n_common == 1  # u5 only bob reviewed; u1 all three
    nan = np.nan
    for code, data in {"A": [[1, 0, 1, 0], [1, 1, 1, nan], [1, nan, nan, 0]],
                       "B": [[0, 1, 0, 0], [0, 0, 0, nan], [0, nan, nan, 1]]}.items():
        want = krippendorff.alpha(reliability_data=np.array(data, dtype=float), level_of_measurement="nominal")
        assert rep.row("code", code).krippendorff_alpha == pytest.approx(want)
    overall = [[1, 0, 0, 1, 1, 0, 0, 0], [1, 0, 1, 0, 1, 0, nan, nan], [1, 0, nan, nan, nan, nan, 0, 1]]
    want = krippendorff.alpha(reliability_data=np.array(overall, dtype=float), level_of_measurement="nominal")
    assert rep.overall.krippendorff_alpha == pytest.approx(want)
    # by hand, pooling (segment, code) over A and B on the segments both reviewed:
    # ann|bob u1-u3: [1,0,0,1,1,0] vs [1,0,1,0,1,0]: p_o 4/6, p_e 0.5 -> 1/3
    # ann|cat u1,u4: [1,0,0,0] vs [1,0,0,1]: p_o 3/4, p_e (1*2+3*2)/16 = 0.5 -> 1/2
    # bob|cat u1: [1,0] vs [1,0]: p_o 1, p_e 0.5 -> 1
    table = {(p.a, p.b): (p.n_units, p.percent_agreement, p.cohen_kappa) for p in rep.pairs}
    assert table == {("ann", "bob"): (3, pytest.approx(4 / 6), pytest.approx(1 / 3)),
                     ("ann", "cat"): (2, pytest.approx(0.75), pytest.approx(0.5)),
                     ("bob", "cat"): (1, pytest.approx(1.0), pytest.approx(1.0))}
    # Fleiss on u1 only, where all three applied A and none B: no variance there
    assert rep.row("code", "A").fleiss_kappa is None


def test_agreement_command_and_report_with_a_third_coder_who_made_one_decision(tmp_path, write, tiny_codebook, bow):
    from pipeline.export.report import build_report
    from pipeline.project import load_project
    from pipeline.review.core import ReviewSession

    write("data/a.txt", "Interviewer: What would be the greatest barriers?\nDana: Nobody knows what the peer role is.\n"
                        "Interviewer: What supports would help?\nDana: Training for staff and a room to meet.\n"
                        "Pat: We need an office room for meetings.\n")
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\n"
                                          f"studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n"))
    run_batch(cfg, embedder=bow)
    guid = {c.path: c.guid("tiny") for c in load_project(cfg.store_path).books["tiny"].codes}
    for coder, choices in {"ann": ["Barriers/Role confusion", "Facilitators/Training", "Barriers/Space"],
                           "bob": ["Barriers/Role confusion", "Barriers/Space", "Barriers/Space"],
                           "cy": ["Barriers/Role confusion"]}.items():
        s = ReviewSession(cfg.store_path, coder)
        for item, path in zip(s.items, choices):
            s.add(item, guid[path])
        s.close()
    r = runner.invoke(app, ["agreement", str(cfg.store_path), "-o", str(tmp_path / "a.csv")])
    assert r.exit_code == 0, r.output
    assert "3 segments reviewed by two or more" in r.output and "(1 by all of them)" in r.output
    csv_text = (tmp_path / "a.csv").read_text()
    assert "ann | cy" in csv_text and "bob | cy" in csv_text
    html = build_report(load_project(cfg.store_path), cfg.store_path, tmp_path / "r.html", "t")[0].read_text()
    assert "Pairs of coders" in html and "Krippendorff" in html


# -- comparisons that don't mislead ---------------------------------------------------------------------

LONG = "Leadership that keeps promising resources for the peer program and then never delivers them in the end"
OTHER_BOOK = f"""
name: other
categories:
  - name: Context
    codes:
      - name: {LONG}
        description: promises of support never kept by leaders
"""


@pytest.fixture
def two_books(tmp_path, write, tiny_codebook, bow):
    from pipeline.project import load_project
    from pipeline.review.core import ReviewSession

    write("s1/a.txt", "Interviewer: What would be the greatest barriers?\nDana: Nobody knows what the peer role is.\n"
                      "Pat: We need an office room for meetings.\nDana: The peer role was never defined.\n"
                      "Pat: No room, no office space at all.\n")
    write("s2/b.txt", "Interviewer: What happened?\nLee: Leaders promised money and it never came.\n"
                      "Kim: They promise support every year.\nLee: We had snacks.\n")
    other = write("other.yaml", OTHER_BOOK)
    cfg = load_config(write("study.yaml", f"""
project: {{output_dir: out}}
studies:
  - {{name: s1, inputs: [s1/], codebook: {tiny_codebook}, roles: {{'*': {{Dana: PSS, Pat: PCP}}}}}}
  - {{name: s2, inputs: [s2/], codebook: {other}, roles: {{'*': {{Lee: PSS, Kim: PCP}}}}}}
propose: {{threshold: 0.0, top_k: 1}}
"""))
    run_batch(cfg, embedder=bow)
    data = load_project(cfg.store_path)
    g = {c.path: c.guid(b.name) for b in data.books.values() for c in b.codes}
    plan = {"a.txt#t2": "Barriers/Role confusion", "a.txt#t4": "Barriers/Role confusion", "a.txt#t3": "Barriers/Space",
            "b.txt#t2": f"Context/{LONG}", "b.txt#t3": f"Context/{LONG}"}
    for coder in ("ann", "bob"):  # both confirm the same segments: each counts once
        s = ReviewSession(cfg.store_path, coder)
        for item in s.items:
            if item.segment_id in plan:
                s.add(item, g[plan[item.segment_id]])
        s.close()
    return cfg


def test_holm_and_cramers_v_by_hand():
    import numpy as np

    from pipeline.compare import cramers_v, holm

    assert holm([0.01, 0.04, 0.03, None]) == [pytest.approx(0.03), pytest.approx(0.06), pytest.approx(0.06), None]
    assert cramers_v(np.array([[10, 0], [0, 10]])) == pytest.approx(1.0)
    assert cramers_v(np.array([[5, 5], [5, 5]])) == pytest.approx(0.0)


def test_compare_tests_only_groups_the_codebook_was_applied_to_and_counts_segments(two_books):
    from pipeline.compare import compare
    from pipeline.project import load_project

    data = load_project(two_books.store_path)
    by_study = compare([data], "study")
    assert {r.source for r in by_study.rows} == {"confirmed"}  # proposals only when asked
    long_row = next(r for r in by_study.rows if LONG in r.code)
    s1, s2 = long_row.groups
    assert not s1.applied and s2.applied and s2.segments == 2 and s2.coded_segments == 3  # two coders, counted once
    assert long_row.test == "none" and long_row.p_value is None  # nothing to test against
    by_role = compare([data], "role")
    role = next(r for r in by_role.rows if r.code == "tiny:Barriers/Role confusion")
    assert [(c.group, c.segments, c.coded_segments) for c in role.groups] == [("PCP", 0, 2), ("PSS", 2, 2)]
    assert role.effect == pytest.approx(1.0) and role.p_adjusted is not None and role.p_adjusted >= role.p_value
    from pipeline.export.quotes import coded_pairs

    with_props = compare([data], "role", include_proposals=True)
    has_proposals = any(status == "proposed" for *_, status, _coder in coded_pairs(data, True))
    assert ("proposed" in {r.source for r in with_props.rows}) is has_proposals


def test_compare_command_keeps_long_code_names_and_report_plots_are_not_clipped(two_books, tmp_path):
    from PIL import Image

    r = runner.invoke(app, ["compare", str(two_books.store_path), "--by", "role", "-o", str(tmp_path / "cmp")])
    assert r.exit_code == 0, r.output
    assert LONG in r.output and "p (Holm)" in r.output and "proposed" not in r.output.split("'proposed'")[0]
    out = tmp_path / "report.html"
    r = runner.invoke(app, ["report", str(two_books.store_path), "-o", str(out), "-q"])
    assert r.exit_code == 0, r.output
    pngs = sorted((tmp_path / "report_figures").glob("*.png"))
    assert any(p.name.startswith("compare_by_role") for p in pngs)
    for png in pngs:  # a label cut by the figure's edge leaves ink on the border
        im = np.asarray(Image.open(png).convert("L"))
        frame = np.concatenate([im[:3].ravel(), im[-3:].ravel(), im[:, :3].ravel(), im[:, -3:].ravel()])
        assert frame.min() > 240, f"{png.name}: something touches the edge"
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("/usr/bin/chromium is missing")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            pg = browser.new_page(viewport={"width": 1200, "height": 900})
            pg.goto(out.as_uri())
            boxes = pg.evaluate("""() => Array.from(document.querySelectorAll('figure img')).map(i => {
                const r = i.getBoundingClientRect(), m = document.querySelector('main').getBoundingClientRect();
                return {alt: i.alt, w: r.width, h: r.height, nw: i.naturalWidth, nh: i.naturalHeight,
                        left: r.left, right: r.right, mleft: m.left, mright: m.right}; })""")
            assert any("by role" in b["alt"] for b in boxes)
            for b in boxes:
                assert b["nw"] > 0 and b["left"] >= b["mleft"] - 1 and b["right"] <= b["mright"] + 1, b  # inside the page
                assert b["w"] / b["nw"] >= 0.6, b  # shown near its own size, not squeezed
                assert abs(b["h"] / b["w"] - b["nh"] / b["nw"]) < 0.02, b  # not distorted
                if "by role" in b["alt"]:
                    assert b["nw"] >= 1.2 * 110 * 2, b  # wide enough for its groups, not 1-2 thin columns
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            pg.locator("#compare").scroll_into_view_if_needed()
            pg.screenshot(path=str(ROOT / "test-artifacts" / "report_compare.png"), full_page=True)
        finally:
            browser.close()


def test_a_recode_memo_is_shown_and_exported_once(tmp_path, write, tiny_codebook, bow):
    from pipeline.decisions import current_state, load
    from pipeline.export.table import suggestion_rows
    from pipeline.project import load_project
    from pipeline.review.core import ReviewSession
    from pipeline.store import Store

    write("data/a.txt", "Interviewer: What would be the greatest barriers?\nDana: Nobody knows what the peer role is.\n")
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\n"
                                          f"studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n"))
    run_batch(cfg, embedder=bow)
    s = ReviewSession(cfg.store_path, "ann", learn=False)
    codes = {c.name: c.guid for c in s.codes.values()}
    item = s.items[0]
    s.add(item, codes["Space"])
    s.recode(item, codes["Space"], codes["Training"], memo="about training, not rooms")
    s.close()
    data = load_project(cfg.store_path)
    with Store(cfg.store_path) as st:
        states = current_state(load(st))
    rows = [r for r in suggestion_rows(data.segments, data.suggestions, data.codebooks, states) if r["coder"] == "ann"]
    assert [(r["code"], r["memo"]) for r in rows if r["memo"]] == [("Training", "about training, not rooms")]
    assert {(r["code"], r["status"]) for r in rows} >= {("Space", "rejected"), ("Training", "added")}


def test_report_says_agreement_needs_a_second_coder(tmp_path, write, tiny_codebook, bow):
    from pipeline.export.report import build_report
    from pipeline.project import load_project
    from pipeline.review.core import ReviewSession

    write("data/a.txt", "Interviewer: What would be the greatest barriers?\nDana: Nobody knows what the peer role is.\n")
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\n"
                                          f"studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n"))
    run_batch(cfg, embedder=bow)
    s = ReviewSession(cfg.store_path, "ann", learn=False)
    s.add(s.items[0], next(iter(s.codes)))
    s.close()
    html = build_report(load_project(cfg.store_path), cfg.store_path, tmp_path / "r.html", "t")[0].read_text()
    assert "Only ann has reviewed so far (1 segment)" in html and "second coder" in html
