"""Memos in .qdpx (issue 16): decision memos and segment memos go out as REFI Notes with NoteRefs and come back."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from pipeline.records import Category, Code, Codebook
from pipeline.refi import RefiCoding, RefiMemo, RefiProject, read_qdpx, write_qdpx

from .conftest import refi_doc as _doc
from .conftest import refi_schema as _schema
from .conftest import span_of as _span

Q = "{urn:QDA-XML:project:1.0}"
TEXT = "Ana: The rota is empty again.\nBo: Training helped a lot, honestly.\n"
BOOK = Codebook("memo book", categories=(Category("Barriers"),), codes=(Code("Staffing", "Barriers"), Code("Training", "Barriers")))
STAFFING, TRAINING = (c.guid("memo book") for c in BOOK.codes)


def _project() -> RefiProject:
    doc = _doc("interview", TEXT)
    return RefiProject(
        "memo study", [doc], [BOOK],
        codings=[RefiCoding("interview", *_span(TEXT, "The rota is empty"), STAFFING, "alice", "2024-05-01T10:00:00Z",
                            "rota gaps\nevery week"),
                 RefiCoding("interview", *_span(TEXT, "Training helped a lot"), TRAINING, "bo")],
        users=["alice", "bo"],
        memos=[RefiMemo("interview", *_span(TEXT, "Training helped a lot"), "alice", "ask who ran it", "2024-05-02T09:00:00Z"),
               RefiMemo("interview", *_span(TEXT, "honestly"), "bo", "hedging?")],
    )


def _qde(path: Path) -> ET.Element:
    with zipfile.ZipFile(path) as zf:
        return ET.fromstring(zf.read("project.qde"))


def test_memos_are_written_as_notes_with_noterefs_and_read_back(tmp_path):
    project = _project()
    assert write_qdpx(project, tmp_path / "m.qdpx") == []
    root = _qde(tmp_path / "m.qdpx")
    with zipfile.ZipFile(tmp_path / "m.qdpx") as zf:
        _schema("Project-mrt2019.xsd").validate(io.BytesIO(zf.read("project.qde")))
    notes = {n.get("guid"): n for n in root.iter(f"{Q}Note")}
    assert sorted(n.findtext(f"{Q}PlainTextContent") for n in notes.values()) == [
        "ask who ran it", "hedging?", "rota gaps\nevery week"]
    users = {u.get("name"): u.get("guid") for u in root.iter(f"{Q}User")}
    # the decision memo: the selection's Description (QualCoder, MAXQDA) and a Note referenced from the Coding
    sels = {(int(s.get("startPosition")), int(s.get("endPosition"))): s for s in root.iter(f"{Q}PlainTextSelection")}
    rota = sels[_span(TEXT, "The rota is empty")]
    assert rota.findtext(f"{Q}Description") == "rota gaps\nevery week"
    (ref,) = rota.find(f"{Q}Coding").findall(f"{Q}NoteRef")
    assert notes[ref.get("targetGUID")].get("creatingUser") == users["alice"]
    assert notes[ref.get("targetGUID")].get("creationDateTime") == "2024-05-01T10:00:00Z"
    # a memo on a span: a selection of its own without a Coding, by the memo's author, the memo as its Description
    # (QualCoder and MAXQDA read that as an annotation) and a NoteRef to the memo's Note; coded selections keep none
    memo_sels = [s for s in root.iter(f"{Q}PlainTextSelection") if s.find(f"{Q}Coding") is None]
    got = sorted((TEXT[int(s.get("startPosition")):int(s.get("endPosition"))], s.get("creatingUser"), s.findtext(f"{Q}Description"),
                  [notes[r.get("targetGUID")].findtext(f"{Q}PlainTextContent") for r in s.findall(f"{Q}NoteRef")]) for s in memo_sels)
    assert got == [("Training helped a lot", users["alice"], "ask who ran it", ["ask who ran it"]),
                   ("honestly", users["bo"], "hedging?", ["hedging?"])]
    assert not [s for s in root.iter(f"{Q}PlainTextSelection") if s.find(f"{Q}Coding") is not None and s.find(f"{Q}NoteRef") is not None]

    back = read_qdpx(tmp_path / "m.qdpx")
    assert sorted((c.start, c.code_guid, c.coder, c.memo) for c in back.codings) == sorted(
        (c.start, c.code_guid, c.coder, c.memo) for c in project.codings)
    assert sorted((m.document_id, m.start, m.end, m.coder, m.text, m.created) for m in back.memos) == sorted(
        (m.document_id, m.start, m.end, m.coder, m.text, m.created) for m in project.memos)
    assert "notes" not in back.extras  # the memo Notes became memos again, none is carried twice
    write_qdpx(back, tmp_path / "again.qdpx")  # same GUIDs, same bytes
    with zipfile.ZipFile(tmp_path / "m.qdpx") as a, zipfile.ZipFile(tmp_path / "again.qdpx") as b:
        assert a.read("project.qde") == b.read("project.qde")


FOREIGN = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="foreign" origin="NVivo 14" creatingUserGUID="aaaaaaaa-0000-0000-0000-00000000000a">
  <Users><User guid="aaaaaaaa-0000-0000-0000-00000000000a" name="Kim"/><User guid="aaaaaaaa-0000-0000-0000-00000000000b" name="Lee"/></Users>
  <CodeBook><Codes><Code guid="cccccccc-0000-0000-0000-000000000001" name="Staffing" isCodable="true"/></Codes></CodeBook>
  <Sources><TextSource guid="dddddddd-0000-0000-0000-000000000001" name="interview">
    <PlainTextContent>{TEXT}</PlainTextContent>
    <PlainTextSelection guid="eeeeeeee-0000-0000-0000-000000000001" startPosition="5" endPosition="22" creatingUser="aaaaaaaa-0000-0000-0000-00000000000a">
      <Coding guid="ffffffff-0000-0000-0000-000000000001" creatingUser="aaaaaaaa-0000-0000-0000-00000000000a">
        <CodeRef targetGUID="cccccccc-0000-0000-0000-000000000001"/><NoteRef targetGUID="99999999-0000-0000-0000-000000000001"/>
      </Coding>
    </PlainTextSelection>
    <PlainTextSelection guid="eeeeeeee-0000-0000-0000-000000000002" startPosition="{TEXT.index("honestly")}" endPosition="{TEXT.index("honestly") + 8}">
      <NoteRef targetGUID="99999999-0000-0000-0000-000000000002"/>
    </PlainTextSelection>
    <PlainTextSelection guid="eeeeeeee-0000-0000-0000-000000000003" startPosition="0" endPosition="3"/>
    <NoteRef targetGUID="99999999-0000-0000-0000-000000000003"/>
  </TextSource></Sources>
  <Notes>
    <Note guid="99999999-0000-0000-0000-000000000001" name="Coding memo" creatingUser="aaaaaaaa-0000-0000-0000-00000000000a">
      <PlainTextContent>gaps on Mondays</PlainTextContent></Note>
    <Note guid="99999999-0000-0000-0000-000000000002" name="Annotation" creatingUser="aaaaaaaa-0000-0000-0000-00000000000b"
          creationDateTime="2024-01-02T03:04:05Z"><PlainTextContent>hedging</PlainTextContent></Note>
    <Note guid="99999999-0000-0000-0000-000000000003" name="Source memo"><PlainTextContent>first interview</PlainTextContent></Note>
  </Notes>
</Project>"""


def test_notes_of_other_tools_become_memos_and_keep_their_guids(tmp_path):
    with zipfile.ZipFile(tmp_path / "f.qdpx", "w") as zf:
        zf.writestr("project.qde", FOREIGN)
    p = read_qdpx(tmp_path / "f.qdpx")
    (coding,) = p.codings
    assert TEXT[coding.start:coding.end] == "The rota is empty" and coding.memo == "gaps on Mondays"
    assert [(TEXT[m.start:m.end], m.coder, m.text, m.created) for m in p.memos] == [
        ("honestly", "Lee", "hedging", "2024-01-02T03:04:05Z")]  # the Note's author, not the selection's
    assert any("1 selections without a code or a memo (annotations); skipped" in w for w in p.warnings)
    write_qdpx(p, tmp_path / "out.qdpx")
    root = _qde(tmp_path / "out.qdpx")
    notes = {n.get("guid"): n for n in root.iter(f"{Q}Note")}
    assert {g: (n.get("name"), n.findtext(f"{Q}PlainTextContent")) for g, n in notes.items()} == {
        "99999999-0000-0000-0000-000000000001": ("Coding memo", "gaps on Mondays"),
        "99999999-0000-0000-0000-000000000002": ("Annotation", "hedging"),
        "99999999-0000-0000-0000-000000000003": ("Source memo", "first interview")}  # carried as it was
    coding_el = next(root.iter(f"{Q}Coding"))
    assert [r.get("targetGUID") for r in coding_el.findall(f"{Q}NoteRef")] == ["99999999-0000-0000-0000-000000000001"]
    memo_sel = next(s for s in root.iter(f"{Q}PlainTextSelection") if s.find(f"{Q}Coding") is None)
    assert memo_sel.get("guid") == "eeeeeeee-0000-0000-0000-000000000002"
    assert [r.get("targetGUID") for r in memo_sel.findall(f"{Q}NoteRef")] == ["99999999-0000-0000-0000-000000000002"]
    assert [r.get("targetGUID") for r in next(root.iter(f"{Q}TextSource")).findall(f"{Q}NoteRef")] == [
        "99999999-0000-0000-0000-000000000003"]


def test_two_memos_of_one_author_on_one_span_are_joined(tmp_path):
    src = FOREIGN.replace('<NoteRef targetGUID="99999999-0000-0000-0000-000000000002"/>',
                          '<Description>and a comment</Description><NoteRef targetGUID="99999999-0000-0000-0000-000000000002"/>')
    src = src.replace('creatingUser="aaaaaaaa-0000-0000-0000-00000000000b"\n', 'creatingUser="aaaaaaaa-0000-0000-0000-00000000000a"\n')
    with zipfile.ZipFile(tmp_path / "f.qdpx", "w") as zf:
        zf.writestr("project.qde", src)
    p = read_qdpx(tmp_path / "f.qdpx")
    assert [(m.coder, m.text) for m in p.memos] == [("Kim", "hedging\nand a comment")]


def test_memos_round_trip_through_a_project_store(tmp_path):
    from pipeline.export.refi_project import export_qdpx, import_qdpx
    from pipeline.memos import current_memos, set_memo
    from pipeline.project import load_project
    from pipeline.store import Store

    write_qdpx(_project(), tmp_path / "in.qdpx")
    store = tmp_path / "a" / "project.sqlite"
    store.parent.mkdir()
    summary = import_qdpx(tmp_path / "in.qdpx", store)
    assert (summary["memos"], summary["memos_added"]) == (2, 2)
    assert import_qdpx(tmp_path / "in.qdpx", store)["memos_added"] == 0  # the same file twice adds nothing
    with Store(store) as st:
        memos = current_memos(st)
        texts = st.segment_texts()
        assert sorted((texts[s][0], c, m.memo) for (s, c), m in memos.items()) == [
            ("Training helped a lot", "alice", "ask who ran it"), ("honestly", "bo", "hedging?")]
        turn = next(s for s, (t, _) in sorted(texts.items()) if t.startswith("Training helped a lot, honestly"))
        set_memo(st, turn, "carol", "a memo made in precode")  # on a turn segment, by a coder the file did not have
    with Store(store) as st:  # a later run re-segments into turns only: segments with memos stay
        doc = load_project(store).documents[0]
        st.save_document(doc, "memo study", [s for s in load_project(store).segments if s.unit != "span"])
    export_qdpx(load_project(store), tmp_path / "out.qdpx", store_path=store)
    back = read_qdpx(tmp_path / "out.qdpx")
    assert sorted((TEXT[m.start:m.end], m.coder, m.text) for m in back.memos) == [
        ("Training helped a lot", "alice", "ask who ran it"),
        ("Training helped a lot, honestly.", "carol", "a memo made in precode"), ("honestly", "bo", "hedging?")]
    assert "carol" in back.users
    # decision memos: kept on their decision (line breaks too), exported on their coding
    assert sorted(c.memo for c in back.codings) == ["", "rota gaps\nevery week"]
    with zipfile.ZipFile(tmp_path / "out.qdpx") as zf:
        _schema("Project-mrt2019.xsd").validate(io.BytesIO(zf.read("project.qde")))
    # the Notes precode made for the imported memos keep their GUIDs through the store
    before = {n.findtext(f"{Q}PlainTextContent"): n.get("guid") for n in _qde(tmp_path / "in.qdpx").iter(f"{Q}Note")}
    after = {n.findtext(f"{Q}PlainTextContent"): n.get("guid") for n in _qde(tmp_path / "out.qdpx").iter(f"{Q}Note")}
    assert after["ask who ran it"] == before["ask who ran it"] and after["hedging?"] == before["hedging?"]


@pytest.mark.parametrize("memo,message", [
    (RefiMemo("nowhere", 0, 3, "alice", "x"), "no document with that id"),
    (RefiMemo("interview", 5, 500, "alice", "x"), "span outside the document text"),
    (RefiMemo("interview", 0, 3, " ", "x"), "no coder"),
])
def test_write_refuses_memos_that_point_nowhere(tmp_path, memo, message):
    from pipeline.errors import InputError

    project = _project()
    project.memos.append(memo)
    with pytest.raises(InputError, match=message):
        write_qdpx(project, tmp_path / "bad.qdpx")
