"""Codebooks evolve: decisions by two coders follow renamed, moved and merged codes; decisions on
split and retired codes are kept, listed as orphaned and marked in every export."""

from __future__ import annotations

import csv
import re
import zipfile

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.codebook import diff_codebooks, load_codebook
from pipeline.project import project_codings
from pipeline.config import load_config
from pipeline.decisions import load, orphans, record
from pipeline.run import run_batch
from pipeline.store import Store

runner = CliRunner()

TRANSCRIPT = ("Interviewer: What would be the greatest barriers?\n"
              "Dana: Nobody knows what the peer role is, and there is no room.\n"
              "Interviewer: What supports would help?\n"
              "Dana: Training for staff, money from the county and a director who backs it.\n")

V1 = """
name: clinic
categories:
  - name: Barriers
    codes:
      - {name: Role confusion, description: nobody knows what the peer role is}
      - {name: Space, description: no office or meeting room}
      - {name: Staffing, description: too few staff to cover shifts}
  - name: Facilitators
    codes:
      - {name: Training, description: training courses for staff}
      - {name: Funding, description: money and grants}
      - {name: Leadership, description: a director or manager who backs the programme}
"""

V2 = """
name: clinic
categories:
  - name: Barriers
    codes:
      - {name: Unclear role, description: the peer role is undefined, renamed_from: Role confusion}
      - {name: Office space, description: no office, split_from: Space}
      - {name: Meeting rooms, description: no meeting room, split_from: Space}
      - {name: Staffing, retired: true}
      - {name: Leadership, description: a director or manager who backs the programme}
  - name: Facilitators
    codes:
      - {name: Training, description: training courses for staff}
      - {name: Funding, merged_into: Training}
"""


@pytest.fixture
def evolved(tmp_path, write, bow):
    write("data/one.txt", TRANSCRIPT)
    book = write("codebook.yaml", V1)
    cfg_path = write("study.yaml", "project: {name: t, output_dir: out}\n"
                                   f"studies: [{{name: s, inputs: [data/], codebook: {book}}}]\n")
    res = run_batch(load_config(cfg_path), embedder=bow)
    cb = res.codebooks["s"]
    g = {c.name: c.guid(cb.name) for c in cb.codes}
    store = load_config(cfg_path).store_path
    with Store(store) as st:
        for coder in ("ann", "bob"):
            record(st, "one.txt#t2", g["Role confusion"], "accept", coder)
        record(st, "one.txt#t2", g["Space"], "accept", "ann")
        record(st, "one.txt#t4", g["Training"], "accept", "ann")
        record(st, "one.txt#t4", g["Funding"], "add", "bob", memo="county money")
        record(st, "one.txt#t4", g["Leadership"], "add", "ann")
        record(st, "one.txt#t2", g["Staffing"], "add", "bob")
    write("codebook.yaml", V2)
    res2 = run_batch(load_config(cfg_path), embedder=bow)
    return store, res2, g


def test_diff_names_every_kind_of_change(tmp_path, write):
    old, new = write("v1.yaml", V1), write("v2.yaml", V2)
    lines = [c.line() for c in diff_codebooks(load_codebook(old), load_codebook(new))]
    assert lines == [
        "renamed   Barriers/Role confusion -> Barriers/Unclear role (renamed_from)",
        "moved     Facilitators/Leadership -> Barriers/Leadership (same name)",
        "merged    Facilitators/Funding -> Facilitators/Training (merged_into)",
        "split     Barriers/Space -> Barriers/Office space, Barriers/Meeting rooms: its decisions go back to review (kept as orphaned)",
        "retired   Barriers/Staffing (retired: true): its decisions are kept as orphaned",
    ]
    r = runner.invoke(app, ["codebook", "diff", str(old), str(new)])
    assert r.exit_code == 0 and "merged    Facilitators/Funding -> Facilitators/Training" in r.output
    r = runner.invoke(app, ["codebook", "diff", str(old), str(write("bad.yaml", "name: x\n"))])
    assert r.exit_code == 2 and "bad.yaml" in r.output


def test_a_code_moved_by_identical_definition_or_explicit_guid(write):
    a = load_codebook(write("a.yaml", "name: b\ncodes:\n  - {name: X, description: one thing, guid: G-1}\n"
                                      "  - {name: Y, description: another thing}\n"))
    b = load_codebook(write("b.yaml", "name: b\ncodes:\n  - {name: X2, description: changed too, guid: G-1}\n"
                                      "  - {name: Y2, description: another thing}\n"))
    got = {(c.kind, c.old, c.new, c.how) for c in diff_codebooks(a, b)}
    assert got == {("renamed", "X", "X2", "guid"), ("renamed", "Y", "Y2", "same definition")}
    assert a.codes[0].guid("b") == "G-1"


def test_rerun_after_codebook_changes_decisions_follow_and_orphans_are_kept(evolved, tmp_path):
    store, res2, g = evolved
    kinds = sorted(c.kind for c in res2.codebook_changes["s"])
    assert kinds == ["merged", "moved", "renamed", "retired", "split"]
    assert len(res2.manifest["codebooks"]["s"]["changes"]) == 5
    cb2 = res2.codebooks["s"]
    g2 = {c.name: c.guid(cb2.name) for c in cb2.codes}
    with Store(store) as st:
        got = {(d.coder, d.segment_id, d.code_guid) for d in load(st)}
        assert ("ann", "one.txt#t2", g2["Unclear role"]) in got and ("bob", "one.txt#t2", g2["Unclear role"]) in got
        assert ("bob", "one.txt#t4", g2["Training"]) in got  # Funding merged into Training
        assert ("ann", "one.txt#t4", g2["Leadership"]) in got  # moved to Barriers
        assert [(d.coder, why) for d, why in orphans(st)] == [("ann", "code split: review again"), ("bob", "code retired")]
        assert len(st.decision_rows()) == 7  # nothing rewritten or dropped
        versions = st.codebook_versions()
        assert [v.run_id for v in versions] == [1, 2]

    # CSV (the run's own and the export), XLSX, qdpx, agreement
    def check(rows):
        by = {(r["segment_id"], r["code"], r["coder"]): r for r in rows if r["coder"] != "precode"}
        assert by[("one.txt#t2", "Unclear role", "ann")]["status"] == "accepted"
        assert by[("one.txt#t2", "Unclear role", "bob")]["status"] == "accepted"
        assert by[("one.txt#t4", "Training", "bob")]["status"] == "added"
        assert by[("one.txt#t4", "Training", "bob")]["memo"] == "county money"
        assert by[("one.txt#t4", "Leadership", "ann")]["category"] == "Barriers"
        assert by[("one.txt#t2", "Space", "ann")]["flags"] == "orphaned:split"
        assert by[("one.txt#t2", "Staffing", "bob")]["flags"] == "orphaned:retired"
        assert by[("one.txt#t2", "Staffing", "bob")]["codebook"] == "clinic (orphaned codes)"
        assert not any(r["code"] in ("Role confusion", "Funding") for r in rows)

    with open(res2.outputs["csv"], newline="", encoding="utf-8") as fh:
        check(list(csv.DictReader(fh)))
    for fmt in ("csv", "xlsx", "qdpx", "md"):
        r = runner.invoke(app, ["export", str(store), "-f", fmt, "-o", str(tmp_path / f"e.{fmt}")])
        assert r.exit_code == 0, r.output
    with open(tmp_path / "e.csv", newline="", encoding="utf-8") as fh:
        check(list(csv.DictReader(fh)))
    from openpyxl import load_workbook

    ws = load_workbook(tmp_path / "e.xlsx", read_only=True).worksheets[0]
    values = [[("" if v is None else str(v)) for v in row] for row in ws.iter_rows(values_only=True)]
    check([dict(zip(values[0], row)) for row in values[1:]])
    with zipfile.ZipFile(tmp_path / "e.qdpx") as z:
        qde = z.read("project.qde").decode("utf-8")
    names = dict(re.findall(r'<Code guid="([^"]+)" name="([^"]+)"', qde))
    refs = re.findall(r'<CodeRef targetGUID="([^"]+)"', qde)
    assert names[g2["Unclear role"]] == "Unclear role" and refs.count(g2["Unclear role"]) == 2
    assert refs.count(g2["Training"]) == 2 and names[g["Space"]] == "Space" and g["Staffing"] in refs
    assert "clinic (orphaned codes)" in qde and "Role confusion" not in qde
    md = (tmp_path / "e.md").read_text(encoding="utf-8")
    assert "clinic (orphaned codes)" in md and "#### Unclear role" in md

    codings, _units, coders, _cats, _reviewed = project_codings(store, None)
    assert coders == ["ann", "bob"]
    assert ("ann", "one.txt#t2", "Barriers/Unclear role") in codings and ("bob", "one.txt#t2", "Barriers/Unclear role") in codings
    assert ("bob", "one.txt#t4", "Facilitators/Training") in codings
    assert ("ann", "one.txt#t4", "Barriers/Leadership") in codings  # moved
    # retired and split codes: counted under the old code, marked, never dropped or merged with a code in use
    assert ("ann", "one.txt#t2", "Barriers/Space (orphaned: split)") in codings
    assert ("bob", "one.txt#t2", "Barriers/Staffing (orphaned: retired)") in codings
    assert len(codings) == 7  # ann: Unclear role, Space, Training, Leadership; bob: Unclear role, Training, Staffing
    r = runner.invoke(app, ["agreement", str(store), "--by", "code", "-o", str(tmp_path / "agree.csv")])
    assert r.exit_code == 0, r.output
    assert "2 coding(s) on codes retired or split since are counted under their old code" in " ".join(r.output.split())
    with open(tmp_path / "agree.csv", newline="", encoding="utf-8") as fh:
        rows = {row["name"]: row for row in csv.DictReader(fh) if row["level"] == "code"}
    applied = {name: (row["applied:ann"], row["applied:bob"]) for name, row in rows.items()}
    assert applied["Barriers/Unclear role"] == ("1", "1") and rows["Barriers/Unclear role"]["cohen_kappa"] == "1.000"
    assert applied["Facilitators/Training"] == ("1", "1")  # bob's Funding, merged into Training, agrees with ann
    assert applied["Barriers/Space (orphaned: split)"] == ("1", "0")
    assert applied["Barriers/Staffing (orphaned: retired)"] == ("0", "1")
    assert rows["Barriers/Staffing (orphaned: retired)"]["category"] == "Barriers"
    assert not any(name in rows for name in ("Barriers/Role confusion", "Facilitators/Funding", "Barriers/Space"))


def test_a_rename_and_back_resolves_to_the_code_in_use(evolved, write, bow, tmp_path):
    store, res2, g = evolved
    write("codebook.yaml", V2.replace("{name: Unclear role, description: the peer role is undefined, renamed_from: Role confusion}",
                                      "{name: Role confusion, description: nobody knows, renamed_from: Unclear role}"))
    res3 = run_batch(load_config(tmp_path / "study.yaml"), embedder=bow)
    assert [c.kind for c in res3.codebook_changes["s"]] == ["renamed"]
    with Store(store) as st:
        assert {d.code_guid for d in load(st) if d.segment_id == "one.txt#t2" and d.coder == "bob"
                and d.verdict == "accept"} == {g["Role confusion"]}
        assert g["Role confusion"] not in st.code_resolution()  # in use again, not renamed away
        assert st.code_resolution()[res2.codebooks["s"].codes[0].guid("clinic")][0] == g["Role confusion"]


def test_a_split_code_sends_its_segment_back_to_review(evolved):
    from pipeline.review.core import Filters, ReviewSession

    store, _res2, _g = evolved
    s = ReviewSession(store, "ann", Filters(), "document", learn=False)
    try:
        t2 = next(i for i in s.items if i.segment_id == "one.txt#t2")
        # ann's Role confusion (now Unclear role) decision still counts; her Space one is set aside
        assert {p.code.name: p.status for p in t2.proposals if p.status != "proposed"} == {"Unclear role": "accepted"}
    finally:
        s.close()


def test_the_run_output_says_what_changed(evolved, capsys):
    from pipeline.commands.run import report_run

    _store, res2, _g = evolved
    report_run(res2, quiet=True)
    err = capsys.readouterr().err
    assert "codebook of study 's' changed since the last run:" in err
    assert "renamed   Barriers/Role confusion -> Barriers/Unclear role (renamed_from)" in err
    assert "2 decision(s) orphaned" in err
    r = runner.invoke(app, ["codebook", "orphans", str(_store)])
    assert r.exit_code == 0 and "2 orphaned decision(s)" in r.output
    assert "by ann on one.txt#t2: accept Barriers/Space (code split: review again)" in r.output
    assert "by bob on one.txt#t2: add Barriers/Staffing (code retired)" in r.output
