from __future__ import annotations

import numpy as np

from pipeline.codebook import load_codebook
from pipeline.embed import embed_texts
from pipeline.propose import SimilarityProposer, category_questions, label_texts, select
from pipeline.records import Segment


def _seg(i, text, question=None):
    return Segment(id=f"s{i}", document_id="d", unit="turn", turn_index=i, start=0, end=len(text), text=text,
                   speaker="P", role=None, coded=True, question=question)


def _fit(cb, bow, **params):
    labels = label_texts(cb)
    qs = category_questions(cb)
    lv = embed_texts([lt.text for lt in labels], bow)
    qv = embed_texts([q for _, q in qs], bow)
    return SimilarityProposer(**params).fit(cb, labels, lv, qs, qv)


def test_propose_ranks_the_matching_code_first_with_evidence(tiny_codebook, bow):
    cb = load_codebook(tiny_codebook)
    prop = _fit(cb, bow, center=0.2, scale=0.1)
    segs = [_seg(0, "the role of the peer was never defined here"), _seg(1, "we had no office room for meetings"),
            _seg(2, "zebra quantum xylophone")]
    scores, evidence, cat, _ = prop.score(embed_texts([s.text for s in segs], bow))
    assert scores.shape == (3, 3) and ((scores >= 0) & (scores <= 1)).all()
    sugg = select(segs, scores, evidence, prop, cat, top_k=2, threshold=0.5, confident=0.9, ambiguity_margin=0.01)
    first = {s.segment_id: s for s in sugg if s.rank == 1}
    assert first["s0"].code.name == "Role confusion" and first["s0"].evidence.startswith("codebook exemplar:")
    assert first["s1"].code.name == "Space" and first["s1"].evidence.startswith("definition:")
    assert first["s2"].flags[0] == "uncoded"
    assert [s for s in sugg if s.segment_id == "s2"] == [first["s2"]]  # uncoded: one row only
    assert all(s.status == "proposed" for s in sugg)


def test_propose_question_selects_the_category(write, bow):
    # the same code name in two categories: only the interview question can tell them apart
    cb = load_codebook(write("q.yaml", """
name: q
categories:
  - {name: Barriers, questions: ["what barriers stop peer support"], codes: [{name: Support, description: funding money}]}
  - {name: Facilitators, questions: ["what helps peer support succeed"], codes: [{name: Support, description: funding money}]}
"""))
    prop = _fit(cb, bow, center=0.2, scale=0.1, question_weight=0.1, question_min=0.3)
    segs = [_seg(0, "funding money", "what barriers stop peer support?"), _seg(1, "funding money", "what helps it succeed?")]
    qv = embed_texts([s.question for s in segs], bow)
    scores, evidence, cat, _ = prop.score(embed_texts([s.text for s in segs], bow), qv, np.array([True, True]))
    assert scores[0, 0] > scores[0, 1] and scores[1, 1] > scores[1, 0]
    sugg = select(segs, scores, evidence, prop, cat, top_k=1, threshold=0.0)
    assert [s.code.path for s in sugg] == ["Barriers/Support", "Facilitators/Support"]
    assert "question fits 'Barriers'" in sugg[0].evidence
    off = _fit(cb, bow, center=0.2, scale=0.1, use_question=False)
    s2, *_ = off.score(embed_texts([s.text for s in segs], bow), qv, np.array([True, True]))
    assert s2[0, 0] == s2[0, 1]


def test_propose_flags_ambiguous_and_low_confidence(tiny_codebook, bow):
    cb = load_codebook(tiny_codebook)
    prop = _fit(cb, bow)
    scores = np.array([[0.70, 0.69, 0.1], [0.95, 0.2, 0.1]])
    evidence = np.zeros((2, 3), dtype=int)
    sugg = select([_seg(0, "a"), _seg(1, "b")], scores, evidence, prop, np.array([-1, -1]), top_k=3,
                  threshold=0.5, confident=0.8, ambiguity_margin=0.05)
    assert [(s.segment_id, s.rank, s.flags) for s in sugg] == [
        ("s0", 1, ("low_confidence", "ambiguous")), ("s0", 2, ("low_confidence", "ambiguous")), ("s1", 1, ())]


def test_propose_v2_matches_the_code_prototype_not_one_exemplar(write, bow):
    from pipeline.propose import PrototypeProposer

    # code A has one stray exemplar sharing a word with the segment; code B's texts agree with each other
    cb = load_codebook(write("p.yaml", """
name: p
codes:
  - {name: A, description: apples oranges pears, examples: ["bananas apples oranges", "zebra"]}
  - {name: B, description: zebra giraffe lion, examples: ["zebra giraffe lion tiger", "giraffe lion zebra"]}
"""))
    labels = label_texts(cb)
    lv = embed_texts([lt.text for lt in labels], bow)
    seg = embed_texts(["zebra"], bow)
    v1 = SimilarityProposer().fit(cb, labels, lv)
    v2 = PrototypeProposer().fit(cb, labels, lv)
    s1, ev1, *_ = v1.score(seg)
    s2, ev2, *_ = v2.score(seg)
    assert s1[0, 0] >= s1[0, 1]  # v1: the stray exemplar "zebra" wins for A
    assert s2[0, 1] > s2[0, 0]  # v2: B's prototype is closer
    assert labels[ev2[0, 1]].code == 1
