"""Reopening a review starts where this coder stopped: the core, the terminal (pexpect) and the browser (Playwright)."""

from __future__ import annotations

import contextlib

import pytest

from pipeline.decisions import load
from pipeline.review.core import ReviewSession
from pipeline.review.web import make_app
from pipeline.store import Store

from .conftest import SAME_ORIGIN, chromium_page, client, decisions, playwright_or_skip, served, signed_in, spawn


@contextlib.contextmanager
def _page(path):
    """A Chromium page on `serve` for coder ann (skips without Playwright or Chromium)."""
    sync_api = playwright_or_skip()
    with served(path) as url, chromium_page(sync_api) as (page, _):
        page.goto(url)
        yield page, sync_api.expect


def _decide_first(path, coder="ann"):
    s = ReviewSession(path, coder, learn=False)
    first = s.items[0]
    s.reject(first, first.proposals[0].code.guid)
    s.close()
    return first.segment_id


def test_session_resumes_at_the_first_segment_this_coder_has_not_reviewed(web_store):
    _decide_first(web_store)
    ann, bob = ReviewSession(web_store, "ann", learn=False), ReviewSession(web_store, "bob", learn=False)
    assert ann.resume_index() == 1 and bob.resume_index() == 0  # another coder's decisions do not move it
    for item in ann.items:
        if not item.reviewed:
            ann.accept(item, item.proposals[0].code.guid)
    assert ann.resume_index() == 0  # everything reviewed: back at the start
    ann.close(), bob.close()


def test_web_state_opens_at_the_first_unreviewed_segment(web_store):
    _decide_first(web_store)
    with signed_in(client(make_app(web_store, coder="ann", token="t")), "t") as c:
        s = c.get("/api/state").json()
        assert s["item"]["segment_id"] == "one.txt#t4" and s["position"]["index"] == 1
        s = c.post("/api/goto", json={"step": -1}, headers=SAME_ORIGIN).json()
        assert s["item"]["segment_id"] == "one.txt#t2"  # the reviewed ones are still there


def test_terminal_reopens_where_the_coder_stopped(tui_store):
    pexpect = pytest.importorskip("pexpect")
    _decide_first(tui_store)
    child = spawn(tui_store)
    child.expect("Training for staff and a room to meet.")  # not t2, which ann already decided
    child.send("a")
    child.expect("✓ accepted")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert [(d.verdict, d.segment_id) for d in decisions(tui_store)] == [("reject", "one.txt#t2"), ("accept", "one.txt#t4")]


def test_browser_reopens_where_the_coder_stopped(web_store):
    _decide_first(web_store)
    with _page(web_store) as (page, expect):
        expect(page.locator("#transcript mark.current")).to_have_text("Training for staff and a room to meet.")
        expect(page.locator("#progress-text")).to_have_text("1 reviewed / 2 left")


# -- memos belong to the segment -------------------------------------------------------------------------

def test_terminal_memo_is_the_segments_and_exported_once(tui_store, tmp_path):
    import csv

    from typer.testing import CliRunner

    from pipeline.cli import app

    pexpect = pytest.importorskip("pexpect")
    child = spawn(tui_store)
    child.expect("Nobody knows what the peer role is.")
    child.send("m")
    child.expect("memo: ")
    child.send("small talk first")
    child.send("\r")
    child.expect("memo saved on this segment")
    child.send("2r")  # the next decision does not take the memo
    child.expect("✗ rejected")
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    ds = decisions(tui_store)
    assert [(d.verdict, d.memo) for d in ds] == [("reject", "")]
    out = tmp_path / "e.csv"
    r = CliRunner().invoke(app, ["export", str(tui_store), "-f", "csv", "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    memo_rows = [x for x in rows if x["memo"]]
    assert [(x["segment_id"], x["status"], x["coder"], x["code"], x["memo"]) for x in memo_rows] == [
        ("one.txt#t2", "memo", "ann", "", "small talk first")]


def test_browser_memo_shows_once_on_the_segment(web_store):
    with _page(web_store) as (page, expect):
        expect(page.locator("#transcript mark.current")).to_have_text("Nobody knows what the peer role is.")
        page.keyboard.press("m")
        expect(page.locator("#memo-dialog")).to_be_visible()
        page.keyboard.type("clear case")
        page.keyboard.press("Enter")
        expect(page.locator("#memo-text")).to_have_text("clear case")
        page.keyboard.press("a")
        expect(page.locator("#status")).to_contain_text("Accepted")
        page.keyboard.press("2")
        page.keyboard.press("r")
        expect(page.locator("#proposals li.st-rejected")).to_have_count(1)
        expect(page.locator("#memo-text")).to_have_text("clear case")
        assert page.locator(".p-memo").count() == 0  # not copied onto either decision
        assert page.get_by_text("clear case").count() == 1
    with Store(web_store) as st:
        assert [d.memo for d in load(st)] == ["", ""]


# -- coding part of a turn --------------------------------------------------------------------------------

def _span_exports(path, tmp_path, start, end):
    import csv
    import re as _re
    import zipfile

    from typer.testing import CliRunner

    from pipeline.cli import app

    for fmt in ("csv", "qdpx"):
        r = CliRunner().invoke(app, ["export", str(path), "-f", fmt, "-o", str(tmp_path / f"e.{fmt}")])
        assert r.exit_code == 0, r.output
    rows = [x for x in csv.DictReader((tmp_path / "e.csv").open(encoding="utf-8")) if x["status"] == "added"]
    qde = zipfile.ZipFile(tmp_path / "e.qdpx").read("project.qde").decode()
    sels = {(int(a), int(b)) for a, b in _re.findall(r'startPosition="(\d+)" endPosition="(\d+)"', qde)}
    return rows, sels


def test_code_a_part_of_a_turn_keeps_exact_offsets(web_store, tmp_path):
    s = ReviewSession(web_store, "ann", learn=False)
    item = s.items[0]
    doc = s.document_text(item.document_id)
    start = doc.index("peer role", item.start)
    guid = next(c.guid for c in s.codes.values() if c.name == "Role confusion")
    with pytest.raises(Exception, match="not inside"):
        s.code_span(item, item.start - 5, item.start + 3, guid)
    span_id = s.code_span(item, start - 1, start + len("peer role") + 1, guid)  # the spaces around are trimmed
    assert span_id == f"{item.segment_id}@{start}-{start + 9}"
    span = next(i for i in s.items if i.segment_id == span_id)
    assert span.text == "peer role" and (span.start, span.end) == (start, start + 9) and span.speaker == "Dana"
    assert [(p.code.name, p.status) for p in span.proposals] == [("Role confusion", "added")]
    s.close()
    rows, sels = _span_exports(web_store, tmp_path, start, start + 9)
    assert [(x["segment_id"], x["start"], x["end"], x["text"], x["code"]) for x in rows] == [
        (span_id, str(start), str(start + 9), "peer role", "Role confusion")]
    assert (start, start + 9) in sels


def test_browser_select_part_of_a_turn_and_code_it(web_store, tmp_path):
    with _page(web_store) as (page, expect):
        expect(page.locator("#transcript mark.current")).to_have_text("Nobody knows what the peer role is.")
        # select "peer role" in the highlighted turn of the transcript (after a character outside the BMP)
        page.evaluate("""() => { const m = document.getElementById('current-span'), t = m.firstChild,
                                  i = t.data.indexOf('peer role'), r = document.createRange();
                                 r.setStart(t, i); r.setEnd(t, i + 9);
                                 const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); }""")
        page.keyboard.press("+")
        expect(page.locator("#picker-title")).to_contain_text("Code the selection “peer role”")
        page.keyboard.type("conf")
        expect(page.locator("#picker-list li")).to_have_count(1)
        page.keyboard.press("Enter")
        expect(page.locator("#status")).to_contain_text("Coded the selection “peer role” as Role confusion")
        expect(page.locator("#transcript mark.current")).to_have_text("Nobody knows what the peer role is.")
    with Store(web_store) as st:
        (d,) = load(st)
        doc = st.conn.execute("SELECT text FROM documents").fetchone()[0]
        seg = st.conn.execute('SELECT start, "end", text FROM segments WHERE id=?', (d.segment_id,)).fetchone()
    assert d.verdict == "add" and doc[seg[0]:seg[1]] == seg[2] == "peer role"
    rows, sels = _span_exports(web_store, tmp_path, seg[0], seg[1])
    assert [(x["start"], x["end"], x["text"]) for x in rows] == [(str(seg[0]), str(seg[1]), "peer role")]
    assert (seg[0], seg[1]) in sels
