from __future__ import annotations

import pytest

from pipeline.config import load_config
from pipeline.decisions import load
from pipeline.review.core import Filters, ReviewSession
from pipeline.run import run_batch
from pipeline.store import Store, StoreError

TRANSCRIPT = ("Interviewer: What would be the greatest barriers?\n"
              "Dana: Nobody knows what the peer role is.\n"
              "Interviewer: What supports would help?\n"
              "Dana: Training for staff and a room to meet.\n"
              "Pat: We need an office room.\n")


@pytest.fixture
def store_path(write, tiny_codebook, bow):
    write("data/one.txt", TRANSCRIPT)
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\nstudies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n"
                                          "propose: {threshold: 0.0, top_k: 2, "
                                          "target_precision: null, proposer: precode.similarity.v2, learner: precode.fewshot.v4}\n"))
    run_batch(cfg, embedder=bow)
    return cfg.store_path


def test_review_session_items_context_and_actions(store_path):
    s = ReviewSession(store_path, "ann")
    assert [i.segment_id for i in s.items] == ["one.txt#t2", "one.txt#t4", "one.txt#t5"]
    first = s.items[0]
    assert first.question == "What would be the greatest barriers?" and first.previous == first.question
    assert first.next == "What supports would help?" and len(first.proposals) == 2
    top = first.proposals[0]
    s.accept(first, top.code.guid, memo="yes")
    assert first.proposals[0].status == "accepted" and first.reviewed
    training = next(c for c in s.search_codes("train"))
    s.add(first, training.guid)
    assert [p.status for p in first.proposals][-1] == "added"
    assert s.progress()["reviewed"] == 1 and s.progress()["left"] == 2
    s.undo()
    assert all(p.code.guid != training.guid for p in first.proposals)
    second = s.items[1]
    old = second.proposals[0].code
    new = next(c for c in s.search_codes("") if c.guid != old.guid)
    s.recode(second, old.guid, new.guid)
    assert {(p.code.guid, p.status) for p in second.proposals} >= {(old.guid, "rejected"), (new.guid, "added")}
    s.close()
    with Store(store_path) as st:
        assert [d.verdict for d in load(st)] == ["accept", "add", "undo", "recode"]
    again = ReviewSession(store_path, "ann", Filters(status="reviewed"))
    assert [i.segment_id for i in again.items] == ["one.txt#t2", "one.txt#t4"]
    other = ReviewSession(store_path, "bob")
    assert not any(i.reviewed for i in other.items)  # coders kept apart


def test_review_session_filters_and_uncertainty_order(store_path):
    s = ReviewSession(store_path, "ann", Filters(document="one", role=None), order="uncertainty")
    margins = [i.margin for i in s.items]
    assert margins == sorted(margins)
    assert [i.segment_id for i in ReviewSession(store_path, "ann", Filters(code="Space")).items] == sorted(\
        i.segment_id for i in s.items if any("Space" in p.code.path for p in i.proposals))
    with pytest.raises(StoreError, match="coder name"):
        ReviewSession(store_path, " ")
    with pytest.raises(StoreError, match="no project store"):
        ReviewSession(store_path.parent / "nope.sqlite", "ann")
