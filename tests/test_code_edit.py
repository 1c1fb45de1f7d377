"""Codebook edits in a project: in-vivo create, rename, merge, retire; append-only events; written back out."""

from __future__ import annotations

import contextlib
import re
import sqlite3

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.codebook import load_codebook
from pipeline.config import load_config
from pipeline.decisions import load, orphans, record
from pipeline.run import run_batch
from pipeline.store import Store

from .conftest import TRANSCRIPT, chromium_page, playwright_or_skip, served

runner = CliRunner()


@pytest.fixture
def project(tmp_path, write, tiny_codebook, bow):
    write("data/one.txt", TRANSCRIPT)
    cfg_path = write("study.yaml", f"project: {{name: t, output_dir: out}}\n"
                                   f"studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n")
    res = run_batch(load_config(cfg_path), embedder=bow)
    cb = res.codebooks["s"]
    g = {c.name: c.guid(cb.name) for c in cb.codes}
    store = load_config(cfg_path).store_path
    with Store(store) as st:
        record(st, "one.txt#t2", g["Role confusion"], "accept", "ann")
        record(st, "one.txt#t2", g["Role confusion"], "accept", "bob")
        record(st, "one.txt#t4", g["Space"], "accept", "bob")
    return cfg_path, store, g


def _ok(*args):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.output


def test_edit_events_follow_decisions_and_write_back(project, tmp_path, bow):
    cfg_path, store, g = project
    out = _ok("codebook", "add-code", store, "Staff training", "--coder", "ann", "--category", "Facilitators",
              "--segment", "one.txt#t4", "--example", "Training for staff")
    assert "created Facilitators/Staff training and applied it to one.txt#t4" in out
    _ok("codebook", "rename-code", store, "Role confusion", "Unclear role", "--coder", "bob")
    _ok("codebook", "merge-codes", store, "Space", "Training", "--coder", "ann")
    _ok("codebook", "retire-code", store, "Staff training", "--coder", "bob")
    r = runner.invoke(app, ["codebook", "rename-code", str(store), "Nope", "X", "--coder", "bob"])
    assert r.exit_code == 2 and "no code named 'Nope'" in r.output

    with Store(store) as st:
        events = st.code_events()
        assert [(e.kind, e.coder) for e in events] == [("create", "ann"), ("rename", "bob"), ("merge", "ann"),
                                                       ("retire", "bob")]
        assert events[0].detail["example"] == "Training for staff" and events[1].detail["changes"] == [
            "renamed   Barriers/Role confusion -> Barriers/Unclear role (renamed_from)"]
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            st.conn.execute("DELETE FROM code_events")
        book = next(iter({r.name for r in st.codebook_rows()}))
        decided = {(d.coder, d.segment_id, d.code_guid, d.verdict) for d in load(st)}
        unclear = next(r.guid for r in st.code_rows() if r.name == "Unclear role")
        assert ("ann", "one.txt#t2", unclear, "accept") in decided and ("bob", "one.txt#t2", unclear, "accept") in decided
        assert ("bob", "one.txt#t4", g["Training"], "accept") in decided  # Space merged into Training
        assert [(d.coder, d.verdict, why) for d, why in orphans(st)] == [("ann", "add", "code retired")]
        assert len(st.codebook_versions()) == 5  # the run's and one per edit

    # edits made in the project (as from the review screens) reach agreement and the exports at once
    from pipeline.project import project_codings

    codings = sorted(project_codings(store, None)[0])
    assert codings == [("ann", "one.txt#t2", "Barriers/Unclear role"),
                       ("ann", "one.txt#t4", "Facilitators/Staff training (orphaned: retired)"),
                       ("bob", "one.txt#t2", "Barriers/Unclear role"), ("bob", "one.txt#t4", "Facilitators/Training")]
    for fmt in ("xlsx", "qdpx"):
        _ok("export", store, "-f", fmt, "-o", tmp_path / f"e.{fmt}")
    from openpyxl import load_workbook

    ws = load_workbook(tmp_path / "e.xlsx", read_only=True).worksheets[0]
    values = [[("" if v is None else str(v)) for v in row] for row in ws.iter_rows(values_only=True)]
    head = values[0]
    got = {(r[head.index("code")], r[head.index("coder")], r[head.index("flags")]) for r in values[1:]}
    assert {("Unclear role", "ann", ""), ("Training", "bob", ""), ("Staff training", "ann", "orphaned:retired")} <= got
    import zipfile

    with zipfile.ZipFile(tmp_path / "e.qdpx") as z:
        qde = z.read("project.qde").decode("utf-8")
    assert 'name="Unclear role"' in qde and 'name="Staff training"' in qde and 'name="Role confusion"' not in qde

    y, q = tmp_path / "edited.yaml", tmp_path / "edited.qdc"
    _ok("codebook", "write", store, "-o", y)
    _ok("codebook", "write", store, "-o", q)
    for path in (y, q):
        cb = load_codebook(path)
        assert sorted(c.path for c in cb.codes) == ["Barriers/Unclear role", "Facilitators/Training"], path
    cb = load_codebook(y)
    assert cb.name == book and [c.path for c in cb.retired] == ["Barriers/Space", "Facilitators/Staff training"]
    assert cb.codes[0].renamed_from == ("Role confusion",)
    assert next(c for c in cb.retired if c.name == "Staff training").examples == ("Training for staff",)

    # the config pointed at the written codebook: the re-run finds nothing changed, decisions stay put
    cfg = load_config(cfg_path, {"studies": [{"name": "s", "inputs": ["data/"], "codebook": str(y)}]})
    res = run_batch(cfg, embedder=bow)
    assert res.codebook_changes == {}
    import csv

    with open(res.outputs["csv"], newline="", encoding="utf-8") as fh:
        rows = [(r["code"], r["coder"], r["status"], r["flags"]) for r in csv.DictReader(fh) if r["coder"] != "precode"]
    assert ("Unclear role", "ann", "accepted", "") in rows and ("Training", "bob", "accepted", "") in rows
    assert ("Staff training", "ann", "added", "orphaned:retired") in rows


def test_in_vivo_code_from_the_terminal_review(project):
    from pipeline.review.core import Filters, ReviewSession
    from pipeline.review.tui import TuiState, handle_key

    _cfg, store, _g = project
    s = ReviewSession(store, "ann", Filters(), "document", learn=False)
    try:
        st = TuiState(s)
        seg = st.item.segment_id
        for k in ("+", *"Peer role unclear", "enter"):
            handle_key(st, k)
        assert "created Peer role unclear (in vivo)" in st.message, st.message
        assert any(p.code.name == "Peer role unclear" and p.status == "added" for p in st.item.proposals)
        for k in ("+", *"Peer role unclear", "enter"):  # it exists (and is added here): nothing new is made
            handle_key(st, k)
        assert "not created" in st.message and "already has a code 'Peer role unclear'" in st.message
    finally:
        s.close()
    with Store(store) as st_:
        ev = st_.code_events()
        assert [(e.kind, e.coder, e.detail["segment"]) for e in ev] == [("create", "ann", seg)]
        assert ev[0].detail["example"] == "Nobody knows what the peer role is."
        assert [(d.verdict, d.memo) for d in load(st_, "ann")][-1] == ("add", "in vivo")


def test_in_vivo_code_from_the_browser_review(project):
    from starlette.testclient import TestClient

    from pipeline.review.web.app import make_app

    _cfg, store, _g = project
    base, origin = "http://127.0.0.1:8765", {"origin": "http://127.0.0.1:8765"}
    with TestClient(make_app(store, coder="bob", token="t"), base_url=base, follow_redirects=False) as c:
        assert c.get("/?token=t").status_code == 303
        seg = c.get("/api/state").json()["item"]["segment_id"]
        r = c.post("/api/code", json={"segment_id": seg, "name": "  Peer   role unclear "}, headers=origin)
        assert r.status_code == 200, r.text
        s = r.json()
        assert "created Peer role unclear (in vivo)" in s["message"]
        assert any(p["name"] == "Peer role unclear" and p["status"] == "added" for p in s["item"]["proposals"])
        again = c.post("/api/code", json={"segment_id": seg, "name": "Peer role unclear"}, headers=origin)
        assert again.status_code == 400 and "already has a code" in again.json()["error"]
        assert c.post("/api/code", json={"segment_id": seg, "name": ""}, headers=origin).status_code == 400
    with Store(store) as st:
        assert [(e.kind, e.coder) for e in st.code_events()] == [("create", "bob")]


@contextlib.contextmanager
def _real_browser(store, coder):
    """A page of `precode serve` for ``coder`` in headless Chromium: yields (page, expect); no page errors."""
    sync_api = playwright_or_skip()
    with served(store, coder) as url, chromium_page(sync_api) as (page, errors):
        page.goto(url)
        yield page, sync_api.expect
        assert errors == []


def test_in_vivo_code_in_a_real_browser(project):
    _cfg, store, _g = project
    with _real_browser(store, "ann") as (page, expect):
        expect(page.locator("#seg-title")).to_contain_text("Dana")
        page.keyboard.press("+")
        expect(page.locator("#picker")).to_be_visible()
        page.keyboard.type("Peer role unclear")
        expect(page.locator("#code-new")).to_contain_text("Create “Peer role unclear” as a new code")
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_contain_text("created Peer role unclear (in vivo)")
        expect(page.locator("#proposals li").filter(has_text="Peer role unclear")).to_have_class(
            re.compile(r"\bst-added\b"))
    with Store(store) as st:
        # the review resumed at ann's first segment without a decision of hers
        assert [(e.kind, e.coder, e.detail["example"]) for e in st.code_events()] == [
            ("create", "ann", "Training for staff and a room to meet.")]


def test_rename_merge_retire_from_the_terminal_review(project, tmp_path):
    """e picks a code (the selected proposal's first), then r renames, m merges, d + y retires: each an
    event with the coder, effective at once on the screen, and in the codebook written back out."""
    from pipeline.code_edit import write_codebook
    from pipeline.review.core import Filters, ReviewSession
    from pipeline.review.tui import TuiState, handle_key, render_text

    _cfg, store, g = project

    def keys(st, *ks):
        for k in ks:
            handle_key(st, k)

    s = ReviewSession(store, "ann", Filters(), "document", learn=False)
    try:
        st = TuiState(s)
        assert st.item.segment_id == "one.txt#t2"  # ann and bob accepted Role confusion here
        keys(st, "e")
        assert "edit which code of the codebook?" in render_text(st) and "▸ Role confusion" in render_text(st)
        keys(st, "enter")
        screen = render_text(st)
        assert "edit code Barriers/Role confusion" in screen and "2 decision(s) by all coders" in screen
        keys(st, "r", "ctrl-u", *"Unclear role", "enter")
        assert "renamed Barriers/Role confusion → Unclear role" in st.message, st.message
        screen = render_text(st)
        assert "1 ✓ Unclear role" in screen  # ann's decision follows the new name
        assert st.item.segment_id == "one.txt#t2"  # the screen stays on its segment
        keys(st, "e", "enter", "r", "ctrl-u", *"Space", "enter")  # a name in use in its category: refused
        assert "not renamed: codebook 'tiny': cannot rename 'Barriers/Unclear role' to 'Space'" in st.message, st.message

        keys(st, "e", *"space", "enter", "m")
        assert "merge Barriers/Space into which code?" in render_text(st)
        keys(st, *"train", "enter")
        assert "merged Barriers/Space into Facilitators/Training" in st.message, st.message
        names = {c.name for c in s.search_codes("")}
        assert names == {"Unclear role", "Training"}  # the lists offer codes in use only

        keys(st, "e", *"train", "enter", "d")
        assert "y retires it" in st.message
        keys(st, "n")  # anything but y cancels
        assert "codebook unchanged" in st.message and {c.name for c in s.search_codes("")} == {"Unclear role", "Training"}
        keys(st, "e", *"train", "enter", "d", "y")
        assert "retired Facilitators/Training" in st.message, st.message
        assert {c.name for c in s.search_codes("")} == {"Unclear role"}
        keys(st, "e", "enter", "r", "esc")  # Esc leaves the codebook as it is
        assert "codebook unchanged" in st.message
        keys(st, "+", *"Training")
        assert "1 code(s)" not in render_text(st) and "no code matches" in render_text(st)  # retired: not offered
        keys(st, "esc")
    finally:
        s.close()
    # bob sees the same codebook: his decisions follow the rename; his Space decision (Space merged into
    # Training, then Training retired) is kept and marked as orphaned; Training is no longer proposed
    s = ReviewSession(store, "bob", Filters(), "document", learn=False)
    try:
        st = TuiState(s, index=0)
        assert "1 ✓ Unclear role" in render_text(st, 100, 30)
        keys(st, "n")
        screen = render_text(st, 100, 30)
        assert "1 ✓ Space  Barriers  added by you  retired: orphaned" in screen and "Training  Facilitators" not in screen
    finally:
        s.close()
    with Store(store) as st_:
        assert [(e.kind, e.coder) for e in st_.code_events()] == [("rename", "ann"), ("merge", "ann"), ("retire", "ann")]
        assert [(d.coder, why) for d, why in orphans(st_)] == [("bob", "code retired")]
    y = write_codebook(Store(store).open(), tmp_path / "back.yaml")
    cb = load_codebook(y)
    assert [c.path for c in cb.codes] == ["Barriers/Unclear role"]
    assert {c.path: c.retired for c in cb.retired} == {"Barriers/Space": "merged", "Facilitators/Training": "retired"}


def test_rename_merge_retire_from_the_browser_api(project):
    from starlette.testclient import TestClient

    from pipeline.review.web.app import make_app

    _cfg, store, g = project
    base, origin = "http://127.0.0.1:8765", {"origin": "http://127.0.0.1:8765"}
    with TestClient(make_app(store, coder="bob", token="t", learn=False), base_url=base, follow_redirects=False) as c:
        assert c.get("/?token=t").status_code == 303
        seg = c.get("/api/state").json()["item"]["segment_id"]
        codes = c.get("/api/codes", params={"segment_id": seg, "action": "edit", "code_guid": g["Training"]}).json()
        assert [x["name"] for x in codes["codes"]] == ["Training", "Role confusion", "Space"]

        def edit(**body):
            return c.post("/api/codebook", json=body, headers=origin)

        s = edit(action="rename", code_guid=g["Role confusion"], name="Unclear role").json()
        assert "Renamed Barriers/Role confusion → Unclear role" in s["message"]
        assert "Barriers/Unclear role" in s["options"]["codes"] and "Barriers/Role confusion" not in s["options"]["codes"]
        t2 = c.post("/api/goto", json={"segment_id": "one.txt#t2"}, headers=origin).json()["item"]
        assert {p["name"]: p["status"] for p in t2["proposals"]}["Unclear role"] == "accepted"
        r = edit(action="rename", code_guid=g["Role confusion"], name="Again")  # the old name is out of use
        assert r.status_code == 400 and "no longer in the codebook" in r.json()["error"]
        assert edit(action="merge", code_guid=g["Space"], into_guid="nope").status_code == 400
        assert edit(action="explode", code_guid=g["Space"]).status_code == 400
        s = edit(action="merge", code_guid=g["Space"], into_guid=g["Training"]).json()
        assert "Merged Barriers/Space into Facilitators/Training" in s["message"]
        t4 = c.post("/api/goto", json={"segment_id": "one.txt#t4"}, headers=origin).json()["item"]
        assert {p["name"]: p["status"] for p in t4["proposals"]}.get("Training") == "accepted"  # bob's Space decision
        s = edit(action="retire", code_guid=g["Training"]).json()
        assert "Retired Facilitators/Training" in s["message"]
        t4 = s["item"]
        assert [(p["name"], p["retired"]) for p in t4["proposals"] if p["status"] != "proposed"] == [("Space", "retired")]
        codes = c.get("/api/codes", params={"segment_id": seg, "action": "edit"}).json()["codes"]
        assert [x["name"] for x in codes] == ["Unclear role"]  # the lists offer codes in use only
    with Store(store) as st:
        assert [(e.kind, e.coder) for e in st.code_events()] == [("rename", "bob"), ("merge", "bob"), ("retire", "bob")]


def test_rename_merge_retire_in_a_real_browser(project, tmp_path):
    from pipeline.code_edit import write_codebook

    _cfg, store, g = project
    with _real_browser(store, "ann") as (page, expect):
        expect(page.locator("#seg-text")).to_contain_text("Training for staff")  # where ann has not decided
        page.keyboard.press("p")
        expect(page.locator("#seg-text")).to_contain_text("Nobody knows what the peer role is.")
        page.keyboard.press("e")
        expect(page.locator("#picker-title")).to_have_text("Edit which code of the codebook?")
        expect(page.locator("#code-0")).to_contain_text("Role confusion")  # the selected proposal's code first
        page.keyboard.press("Enter")
        expect(page.locator("#edit-title")).to_have_text("Edit code “Barriers/Role confusion”")
        page.fill("#edit-name", "Unclear role")
        page.click("#edit-rename")
        expect(page.locator("#status")).to_contain_text("Renamed Barriers/Role confusion → Unclear role")

        page.click("#b-edit")
        page.keyboard.type("space")
        page.keyboard.press("Enter")
        page.select_option("#edit-into", label="Facilitators/Training")
        page.click("#edit-merge")
        expect(page.locator("#status")).to_contain_text("Merged Barriers/Space into Facilitators/Training")
        expect(page.locator("#proposals")).not_to_contain_text("Space")  # its proposal follows Training

        page.keyboard.press("e")
        page.keyboard.type("train")
        page.keyboard.press("Enter")
        page.once("dialog", lambda d: d.dismiss())  # cancelled: nothing happens
        page.click("#edit-retire")
        expect(page.locator("#code-edit")).to_be_visible()
        page.once("dialog", lambda d: d.accept())
        page.click("#edit-retire")
        expect(page.locator("#status")).to_contain_text("Retired Facilitators/Training")
        expect(page.locator("#proposals")).not_to_contain_text("Training")  # no longer proposed
        page.keyboard.press("+")
        page.keyboard.type("train")
        expect(page.locator("#code-new")).to_contain_text("Create “train” as a new code")  # not offered
        page.keyboard.press("Escape")
    with Store(store) as st:
        assert [(e.kind, e.coder) for e in st.code_events()] == [("rename", "ann"), ("merge", "ann"), ("retire", "ann")]
        y = write_codebook(st, tmp_path / "back.yaml")
        q = write_codebook(st, tmp_path / "back.qdc")
    for path in (y, q):
        assert [c.path for c in load_codebook(path).codes] == ["Barriers/Unclear role"], path


def test_codebook_edits_keep_the_segments_under_review(project):
    """Under a filter (here: segments ann has not reviewed), a code created or renamed on the screen does
    not make the segment on screen jump away, though it is reviewed now."""
    from pipeline.review.core import Filters, ReviewSession
    from pipeline.review.tui import TuiState, handle_key

    _cfg, store, _g = project
    s = ReviewSession(store, "ann", Filters(status="unreviewed"), "document", learn=False)
    try:
        st = TuiState(s)
        assert [i.segment_id for i in s.items] == ["one.txt#t4"]
        for k in ("+", *"Staff training", "enter", "e", *"staff", "enter", "r", "ctrl-u", *"Training staff", "enter"):
            handle_key(st, k)
        assert "renamed Staff training → Training staff" in st.message, st.message
        assert [i.segment_id for i in s.items] == ["one.txt#t4"] and st.item.reviewed
        assert [(p.code.name, p.status) for p in st.item.proposals if p.status != "proposed"] == [("Training staff", "added")]
    finally:
        s.close()
