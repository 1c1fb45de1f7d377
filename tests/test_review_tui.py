"""The terminal review: key handling and rendering without a terminal, then a real terminal (pexpect)."""

from __future__ import annotations

import os
import signal

import pytest

from pipeline.config import load_config
from pipeline.decisions import load
from pipeline.review.core import Filters, ReviewSession
from pipeline.review.tui import KeyReader, Paste, TerminalError, TuiState, handle_key, render, render_text, run_review
from pipeline.run import run_batch
from pipeline.store import Store

from .conftest import TUI_TRANSCRIPT as TRANSCRIPT
from .conftest import decisions, spawn

@pytest.fixture
def store_path(tui_store):
    return tui_store


def keys(state, *ks):
    for k in ks:
        handle_key(state, k)


def test_keys_record_decisions_and_the_screen_shows_them(store_path):
    s = ReviewSession(store_path, "ann")
    st = TuiState(s)
    screen = render_text(st, 80, 24)
    for shown in ("What would be the greatest barriers?", "Dana", "Nobody knows what the peer role is.",
                  "What supports would help?", "1 · Role confusion", "2 · Space", "reviewed 0 · left 4"):
        assert shown in screen
    role, space = (p.code for p in st.item.proposals)

    keys(st, "a")  # accept the top proposal
    assert "1 ✓ Role confusion" in render_text(st) and "✓ accepted Role confusion" in render_text(st)
    keys(st, "a")  # a second 'a' on an accepted code records nothing
    keys(st, "2", "r")
    assert "2 ✗ Space" in render_text(st)
    keys(st, "+", "t", "r", "a", "i", "enter")  # add a second code from the searchable list
    assert "3 + Training" in render_text(st) and "added by you" in render_text(st)
    assert "reviewed 1 · left 3" in render_text(st)

    keys(st, "n", "m", *"room, not training", "enter")  # a memo on the segment, saved at once
    assert "memo on this segment: room, not training" in render_text(st)
    keys(st, "c", "esc")  # cancelled recode: nothing recorded
    keys(st, "c", *"spa")
    picker = render_text(st)
    assert "recode Training → pick a code" in picker and "▸ Space" in picker and "1 code(s)" in picker
    keys(st, "enter")
    screen = render_text(st)
    assert "recoded Training → Space" in screen and "(with memo)" not in screen  # the decision does not take it
    assert screen.count("room, not training") == 1  # shown once, on the segment
    keys(st, "u")
    assert "undone: recode Training → Space" in render_text(st) and "room, not training" in render_text(st)
    keys(st, "p", "right")  # back and forth
    assert st.index == 1
    keys(st, "q")
    assert st.done
    s.close()

    ds = decisions(store_path)
    assert [(d.verdict, d.segment_id) for d in ds] == [
        ("accept", "one.txt#t2"), ("reject", "one.txt#t2"), ("add", "one.txt#t2"),
        ("recode", "one.txt#t4"), ("undo", "one.txt#t4")]
    assert ds[0].code_guid == role.guid and ds[1].code_guid == space.guid
    assert ds[3].memo == "" and ds[3].code_guid == space.guid
    from pipeline.memos import current_memos

    with Store(store_path) as st_:
        assert {k: m.memo for k, m in current_memos(st_).items()} == {("one.txt#t4", "ann"): "room, not training"}


def test_screen_fits_every_size_and_help(store_path):
    s = ReviewSession(store_path, "ann")
    st = TuiState(s)
    keys(st, "end")  # the long segment
    assert st.item.segment_id == "one.txt#t7"
    for mode_keys in ((), ("m", *"note"), ("c", "r"), ("?",)):
        st.mode = "browse"
        keys(st, *mode_keys)
        for w, h in ((80, 24), (100, 30), (40, 12), (200, 60), (30, 8)):
            lines = render(st, w, h)
            assert len(lines) == h and all(line.cell_len <= w for line in lines)
    st.mode = "browse"
    big = render_text(st, 80, 24)
    assert "…" in big and "Honestly the hardest part" in big  # long text cut to fit, never scrolled
    keys(st, "?")
    assert "accept the selected proposal" in render_text(st) and "segments by top proposed code" in render_text(st, 100, 40)
    help_screen = render_text(st, 160, 40)
    from pipeline.flags import FLAG_LEGEND
    assert all(f"flag {flag}" in help_screen and meaning[:40] in help_screen for flag, meaning in FLAG_LEGEND.items())
    keys(st, "x")
    assert st.mode == "browse"
    s.close()


def test_filters_and_nothing_to_review(store_path):
    s = ReviewSession(store_path, "ann", Filters(code="Training"))
    st = TuiState(s)
    assert "code=Training" in render_text(st, 100, 30)
    none = TuiState(ReviewSession(store_path, "ann", Filters(role="nobody")))
    keys(none, "a", "c", "m", "n", "u")
    assert "Nothing to review" in render_text(none) and decisions(store_path) == []
    keys(none, "q")
    assert none.done


def test_key_reader_parses_escapes_and_pastes():
    r, w = os.pipe()
    try:
        os.write(w, "a\x1b[C\x1bOD\r\x7f\x1b[5~é\x1b[200~pasted a r\ntext\x1b[201~q".encode())
        reader = KeyReader(r)
        got = [reader.read(0.1) for _ in range(9)]
        assert got == ["a", "right", "left", "enter", "backspace", "pgup", "é", "pasted a r\ntext", "q"]
        assert isinstance(got[7], Paste)
        os.write(w, b"\x1b")
        assert reader.read(0.1) == "esc" and reader.read(0.01) is None
    finally:
        os.close(r)
        os.close(w)


def test_run_review_needs_a_terminal(store_path):
    with pytest.raises(TerminalError, match="terminal"):
        run_review(store_path, "ann")


# -- a real terminal --------------------------------------------------------------------------------
def test_review_in_a_real_terminal(store_path):
    pexpect = pytest.importorskip("pexpect")

    child = spawn(store_path)
    child.expect("Nobody knows what the peer role is.")
    child.send("a")
    child.expect("✓ accepted Role confusion")
    child.send("n")
    child.expect("Training for staff and a room to meet.")
    child.send("c")
    child.expect("pick a code")
    child.send("spa")
    child.expect(r"1 code\(s\)")
    child.send("\r")
    child.expect("recoded Training → Space")
    child.send("q")
    child.expect(r"\x1b\[\?1049l")  # alternate screen left
    child.expect("ann: 2 decision")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    ds = decisions(store_path)
    assert [(d.verdict, d.segment_id, d.coder) for d in ds] == [("accept", "one.txt#t2", "ann"),
                                                                ("recode", "one.txt#t4", "ann")]
    s = ReviewSession(store_path, "ann")
    codes = {c.name: c.guid for c in s.codes.values()}
    assert ds[0].code_guid == codes["Role confusion"]
    assert (ds[1].replaces, ds[1].code_guid) == (codes["Training"], codes["Space"])
    s.close()


def test_codebook_edits_in_a_real_terminal(store_path):
    """Rename, merge and retire codes with keys in a real terminal: the screen shows the codebook as edited."""
    pexpect = pytest.importorskip("pexpect")

    child = spawn(store_path)
    child.expect("Nobody knows what the peer role is.")
    child.send("a")
    child.expect("✓ accepted Role confusion")
    child.send("e")
    child.expect("edit which code of the codebook")
    child.send("\r")
    child.expect(r"rename it \(decisions follow the new name\)")
    child.send("r")
    child.expect("new name:")
    child.send("\x15Unclear role\r")  # Ctrl-U clears the old name
    child.expect("renamed Barriers/Role confusion → Unclear role")
    child.send("e")
    child.expect("edit which code")
    child.send("spa\rm")
    child.expect(r"into which code\? \(its decisions follow\)")
    child.send("train\r")
    child.expect("merged Barriers/Space into Facilitators/Training")
    child.send("e")
    child.expect("edit which code")
    child.send("train\rd")
    child.expect("y retires it")
    child.send("y")
    child.expect("retired Facilitators/Training")
    child.send("q")
    child.expect("ann: 1 decision")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    with Store(store_path) as st:
        assert [(e.kind, e.coder) for e in st.code_events()] == [("rename", "ann"), ("merge", "ann"), ("retire", "ann")]
        unclear = next(r.guid for r in st.code_rows() if r.name == "Unclear role")
    assert [(d.verdict, d.code_guid) for d in decisions(store_path)] == [("accept", unclear)]


def test_ctrl_c_restores_the_terminal_and_kill_loses_nothing(store_path):
    pexpect = pytest.importorskip("pexpect")

    child = spawn(store_path, "bob")
    child.expect("Nobody knows what the peer role is.")
    child.send("r")
    child.expect("✗ rejected Role confusion")
    child.sendintr()
    child.expect("bob: 1 decision")
    out = child.before
    child.expect(pexpect.EOF)
    assert "\x1b[?25h\x1b[?1049l" in out  # cursor shown, alternate screen left

    child = spawn(store_path, "bob")
    child.expect("Training for staff and a room to meet.")  # reopens at the first segment bob has not reviewed
    child.send("a")
    child.expect("✓ accepted")
    child.kill(signal.SIGKILL)
    child.close()
    assert [d.verdict for d in decisions(store_path, "bob")] == ["reject", "accept"]


def test_an_uncoded_segment_names_no_code_as_proposed(write, tiny_codebook, bow):
    """With the default calibrated proposer and a bar no code of the stand-in encoder's
    zero-shot scores clears, the screen says so and names the nearest code only as nearest."""
    write("data/one.txt", TRANSCRIPT)
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\nstudies: [{{name: s, inputs: [data/], "
                                          f"codebook: {tiny_codebook}}}]\npropose: {{threshold: 0.99, category_backoff: false}}\n"))
    res = run_batch(cfg, embedder=bow)
    uncoded = [s for s in res.suggestions if "uncoded" in s.flags]
    assert uncoded and all(len([t for t in res.suggestions if t.segment_id == s.segment_id]) == 1 for s in uncoded)
    st = TuiState(ReviewSession(cfg.store_path, "ann"))
    while st.item.proposals[0].flags != ["uncoded"]:
        keys(st, "n")
    screen = render_text(st, 100, 30)
    assert "no code proposed" in screen and f"nearest: {st.item.proposals[0].code.name}" in screen
    assert f"1 · {st.item.proposals[0].code.name}" not in screen


def test_x_says_no_code_applies_and_the_export_shows_it(store_path, tmp_path):
    from pipeline.decisions import NO_CODE, current_state
    from pipeline.export.table import suggestion_rows
    from pipeline.project import load_project

    st = TuiState(ReviewSession(store_path, "ann"))
    seg = st.item.segment_id
    keys(st, "x")
    assert "no code applies" in render_text(st) and st.item.reviewed
    keys(st, "x")
    assert "already marked" in render_text(st)
    ds = decisions(store_path)
    assert [(d.segment_id, d.code_guid, d.verdict) for d in ds] == [(seg, NO_CODE, "accept")]
    data = load_project(store_path)
    with Store(store_path) as s:
        states = current_state(load(s))
    rows = [r for r in suggestion_rows(data.segments, data.suggestions, data.codebooks, states) if r["segment_id"] == seg]
    assert [(r["code"], r["status"], r["coder"]) for r in rows if r["coder"] == "ann"] == [("", "no code applies", "ann")]
