"""The Markdown quotes export carries every memo once, next to what it is about."""

from __future__ import annotations

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_config
from pipeline.export.quotes import write_markdown
from pipeline.project import load_project
from pipeline.review.core import ReviewSession
from pipeline.run import run_batch

TRANSCRIPT = ("Interviewer: What would be the greatest barriers?\n"
              "Dana: Nobody knows what the peer role is.\n"
              "Interviewer: What supports would help?\n"
              "Dana: Training for staff and a room to meet.\n"
              "Pat: We need an office room for meetings.\n"
              "Dana: Yes, go ahead.\n")


def _project(write, tiny_codebook, bow):
    write("data/a.txt", TRANSCRIPT)
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\n"
                                          f"studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n"))
    run_batch(cfg, embedder=bow)
    ann = ReviewSession(cfg.store_path, "ann", learn=False)
    codes = {c.name: c.guid for c in ann.codes.values()}
    item = {i.text: i for i in ann.items}
    training, office, role, yes = (item["Training for staff and a room to meet."], item["We need an office room for meetings."],
                                   item["Nobody knows what the peer role is."], item["Yes, go ahead."])
    ann.add(training, codes["Training"], memo="staff courses are the point")  # a memo on a coding
    ann.add(training, codes["Space"])  # the same segment under a second code
    ann.set_memo(training, "two topics in one answer")  # a memo on the segment
    ann.reject(office, codes["Training"], memo="rooms, not training")  # a memo on a rejection
    ann.add(office, codes["Space"])
    ann.set_memo(role, "ask about the job description")  # a memo on a segment nobody coded
    ann.no_code(yes, memo="small talk")
    ann.close()
    bob = ReviewSession(cfg.store_path, "bob", learn=False)
    bob.add(bob.items[[i.text for i in bob.items].index("Training for staff and a room to meet.")], codes["Training"])
    bob.set_memo(training, "bob's reading")
    bob.close()
    return cfg.store_path


def test_memos_in_the_markdown_each_once_next_to_their_coding(write, tiny_codebook, bow, tmp_path):
    store = _project(write, tiny_codebook, bow)
    md = write_markdown(load_project(store), tmp_path / "q.md").read_text()
    for memo in ("staff courses are the point", "two topics in one answer", "rooms, not training",
                 "ask about the job description", "small talk", "bob's reading"):
        assert md.count(memo) == 1, (memo, md)
    space = md.split("#### Space")[1].split("###")[0]  # Barriers/Space comes first: the segment memos are here
    assert '"Training for staff and a room to meet."' in space
    assert "> *Memo (ann, on the segment):* two topics in one answer" in space
    assert "> *Memo (bob, on the segment):* bob's reading" in space
    assert "staff courses" not in space
    training = md.split("#### Training")[1].split("##")[0]  # the coding's own memo here; the segment's: a pointer
    assert "> *Memo (ann, on this coding):* staff courses are the point" in training
    assert "a memo on this segment is under Barriers/Space" in training and "two topics" not in training
    other = md.split("## Other memos")[1]
    assert "> *Memo (ann, rejected Facilitators/Training):* rooms, not training" in other
    assert "> *Memo (ann, on the segment):* ask about the job description" in other
    assert "> *Memo (ann, no code applies):* small talk" in other
    assert other.index("Nobody knows") < other.index("office room") < other.index("go ahead")  # document order
    assert md.count('"Training for staff and a room to meet."') == 2  # once per code; its memos once

    only_bob = write_markdown(load_project(store), tmp_path / "bob.md", coder="bob").read_text()
    assert "bob's reading" in only_bob and "ann" not in only_bob and "Other memos" not in only_bob


def test_export_command_writes_the_memos(write, tiny_codebook, bow, tmp_path):
    store = _project(write, tiny_codebook, bow)
    r = CliRunner().invoke(app, ["export", str(store), "-f", "md", "-o", str(tmp_path / "q.md")])
    assert r.exit_code == 0, r.output
    assert "*Memo (ann, on this coding):* staff courses are the point" in (tmp_path / "q.md").read_text()
    r = CliRunner().invoke(app, ["export", str(store), "-f", "csv", "-o", str(tmp_path / "q.csv")])
    assert r.exit_code == 0, r.output
    csv_text = (tmp_path / "q.csv").read_text()
    for memo in ("staff courses are the point", "two topics in one answer", "rooms, not training", "small talk"):
        assert csv_text.count(memo) == 1, memo
