from __future__ import annotations

import pytest

from pipeline.ingest import read_document
from pipeline.segment import RoleMap, load_spacy, segment_document

TEXT = ("Interviewer: What are the greatest barriers?\n"
        "Dana: Nobody knew my role. I got every referral.\n\nIt was a lot.\n"
        "Interviewer: And supports?\n"
        "Dana: Training. And a room.\n")


@pytest.fixture
def doc(write):
    return read_document(write("d.txt", TEXT))


def test_segment_turns_keep_question_role_and_offsets(doc):
    segs = segment_document(doc, "turn", RoleMap({"*": {"Dana": "peer support specialist"}}))
    assert [(s.speaker, s.role, s.coded) for s in segs] == [
        ("Interviewer", "interviewer", False), ("Dana", "peer support specialist", True),
        ("Interviewer", "interviewer", False), ("Dana", "peer support specialist", True)]
    assert segs[1].question == "What are the greatest barriers?" and segs[1].question_id == "d.txt#t1"
    assert segs[3].question == "And supports?"
    assert segs[3].previous == "And supports?"
    for s in segs:
        assert doc.text[s.start : s.end] == s.text


def test_segment_paragraphs(doc):
    segs = [s for s in segment_document(doc, "paragraph") if s.coded]
    assert [s.text for s in segs] == ["Nobody knew my role. I got every referral.", "It was a lot.", "Training. And a room."]
    assert [s.id for s in segs] == ["d.txt#t2.p1", "d.txt#t2.p2", "d.txt#t4"]


def test_segment_sentences_with_spacy(doc):
    nlp = load_spacy("en_core_web_sm")
    segs = [s for s in segment_document(doc, "sentence", nlp=nlp) if s.coded]
    assert [s.text for s in segs] == ["Nobody knew my role.", "I got every referral.", "It was a lot.", "Training.", "And a room."]
    for s in segs:
        assert doc.text[s.start : s.end] == s.text
        assert s.question is not None


def test_segment_code_speakers_switches_what_is_coded(doc):
    segs = segment_document(doc, "turn", code_speakers=["interviewer"])
    assert [s.coded for s in segs] == [True, False, True, False]


def test_segment_roles_per_document_win_over_star():
    roles = RoleMap({"*": {"Pat": "PSS"}, "b.txt": {"Pat": "PSS supervisor"}})
    assert roles.role("a.txt", "pat") == "PSS" and roles.role("b.txt", "Pat") == "PSS supervisor"
    assert roles.role("a.txt", "INT") == "interviewer" and roles.role("a.txt", "Zed") is None


def test_segment_role_aliases_unify_spellings(write):
    doc = read_document(write("s.csv", "id,role,text\nR1,PSS,No office.\nR2,pss,No phone.\nR3,PCP,Fine.\n"))
    segs = segment_document(doc, "turn", RoleMap({}, {"PSS": "peer support specialist"}))
    assert [s.role for s in segs] == ["peer support specialist", "peer support specialist", "PCP"]
