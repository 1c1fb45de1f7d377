from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from pipeline.errors import InputError
from pipeline.records import Category, Code, Codebook
from pipeline.refi import (
    MACHINE_USER,
    RefiCoding,
    RefiProject,
    read_qdc,
    read_qdpx,
    source_guid,
    write_qdc,
    write_qdpx,
)
from pipeline.refi.safety import read_capped

from .conftest import SCHEMAS
from .conftest import refi_doc as _doc
from .conftest import refi_schema as _schema
from .conftest import span_of as _span

DATA = Path(__file__).resolve().parent / "data" / "refi"
NS = {"q": "urn:QDA-XML:project:1.0"}


T1 = "Interviewer: What is hard here?\nAna: Honestly \U0001F642 the caf\u00e9 is closed and the rota is empty.\n"
T2 = "Bo: Training helped \u2014 a lot. Se\u00f1ora D\u00edaz ran it \U0001F44D.\nAna: Agreed.\n"
CB = Codebook(
    name="tiny",
    categories=(Category("Barriers", "What is in the way", ("What are the greatest barriers?",)), Category("Facilitators")),
    codes=(
        Code("Role confusion", "Barriers", "nobody knows the peer role", "unclear duties", "pay disputes",
             ("the role was never defined", "what do peers even do"), "often with Space"),
        Code("Space", "Barriers", "no room for meetings"),
        Code("Training", "Facilitators", "courses for staff"),
    ),
)
ROLE, SPACE, TRAINING = (c.guid("tiny") for c in CB.codes)


@pytest.fixture
def project() -> RefiProject:
    d1, d2 = _doc("interview 1", T1), _doc("focus group", T2)
    return RefiProject(
        name="Riverbend study",
        documents=[d1, d2],
        codebooks=[CB],
        codings=[
            RefiCoding("interview 1", *_span(T1, "the caf\u00e9 is closed"), SPACE, "alice", "2024-05-01T10:30:00+02:00", "caf\u00e9!"),
            RefiCoding("interview 1", *_span(T1, "the rota is empty"), ROLE, "bo"),
            RefiCoding("focus group", *_span(T2, "Training helped \u2014 a lot"), TRAINING, "alice"),
            RefiCoding("focus group", *_span(T2, "Se\u00f1ora D\u00edaz ran it \U0001F44D"), TRAINING, "bo", "2024-05-02 09:00"),
        ],
        users=["alice", "bo"],
    )


def _qde(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read("project.qde")


def _key(c: RefiCoding) -> tuple:
    return (c.document_id, c.start, c.end, c.code_guid, c.coder, c.memo)


# ---------------------------------------------------------------- writing

def test_write_qdpx_is_valid_refi_and_byte_identical(project, tmp_path):
    a, b = tmp_path / "a.qdpx", tmp_path / "b.qdpx"
    assert write_qdpx(project, a) == []
    write_qdpx(project, b)
    assert a.read_bytes() == b.read_bytes()
    with zipfile.ZipFile(a) as zf:
        names = zf.namelist()
        assert names == ["project.qde"] + sorted(f"sources/{source_guid(d.id)}.txt" for d in project.documents)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert zf.read(f"sources/{source_guid('interview 1')}.txt").decode("utf-8") == T1
    _schema("Project-mrt2019.xsd").validate(io.BytesIO(_qde(a)))
    root = ET.fromstring(_qde(a))
    assert [u.get("name") for u in root.iterfind("q:Users/q:User", NS)] == ["alice", "bo"]
    cats = root.findall("q:CodeBook/q:Codes/q:Code", NS)
    assert [(c.get("name"), c.get("isCodable"), c.get("guid")) for c in cats] == [
        ("Barriers", "false", CB.categories[0].guid("tiny")), ("Facilitators", "false", CB.categories[1].guid("tiny"))]
    role = cats[0].find("q:Code", NS)
    assert role.get("guid") == ROLE and role.get("isCodable") == "true"
    assert role.findtext("q:Description", namespaces=NS).splitlines() == [
        "nobody knows the peer role", "Include: unclear duties", "Exclude: pay disputes",
        "Example: the role was never defined", "Example: what do peers even do", "Note: often with Space"]
    dates = [s.get("creationDateTime") for s in root.iter("{urn:QDA-XML:project:1.0}PlainTextSelection")]
    assert sorted(d for d in dates if d) == ["2024-05-01T08:30:00Z", "2024-05-02T09:00:00"]
    assert dates.count(None) == 2  # no date given, none invented


def test_positions_are_unicode_code_points(project, tmp_path):
    write_qdpx(project, tmp_path / "p.qdpx")
    root = ET.fromstring(_qde(tmp_path / "p.qdpx"))
    src = next(s for s in root.iterfind("q:Sources/q:TextSource", NS) if s.get("name") == "interview 1")
    spans = {(int(s.get("startPosition")), int(s.get("endPosition"))) for s in src.iterfind("q:PlainTextSelection", NS)}
    start, end = _span(T1, "the rota is empty")
    assert (start, end) in spans
    # the emoji before it is one position here; UTF-16 (two units) or UTF-8 bytes would give other numbers
    assert len(T1[:start].encode("utf-16-le")) // 2 == start + 1
    assert len(T1[:start].encode("utf-8")) > start


def test_round_trip_keeps_text_codes_and_codings(project, tmp_path):
    write_qdpx(project, tmp_path / "p.qdpx")
    back = read_qdpx(tmp_path / "p.qdpx", codebook_name="tiny")
    assert back.warnings == [] and back.unknown == []
    assert back.name == "Riverbend study" and back.origin == "precode"
    assert [(d.id, d.text) for d in back.documents] == [(d.id, d.text) for d in project.documents]
    assert all(d.turns for d in back.documents)
    (cb,) = back.codebooks
    assert cb.name == "tiny"
    assert cb.categories == CB.categories
    assert [(c.path, c.description, c.inclusion, c.exclusion, c.examples, c.note) for c in cb.codes] == [
        (c.path, c.description, c.inclusion, c.exclusion, c.examples, c.note) for c in CB.codes]
    assert sorted(map(_key, back.codings)) == sorted(map(_key, project.codings))
    texts = {d.id: d.text for d in back.documents}
    for c in back.codings:
        orig = next(o for o in project.codings if _key(o) == _key(c))
        assert texts[c.document_id][c.start:c.end] == {d.id: d.text for d in project.documents}[orig.document_id][orig.start:orig.end]
    assert {c.created for c in back.codings} == {None, "2024-05-01T08:30:00Z", "2024-05-02T09:00:00"}
    assert back.users == ["alice", "bo"]
    assert back.guid_map[SPACE] == SPACE  # the file's GUIDs are precode's own


def test_reexport_is_byte_identical(project, tmp_path):
    write_qdpx(project, tmp_path / "a.qdpx")
    write_qdpx(read_qdpx(tmp_path / "a.qdpx", codebook_name="tiny"), tmp_path / "b.qdpx")
    assert (tmp_path / "a.qdpx").read_bytes() == (tmp_path / "b.qdpx").read_bytes()


def test_machine_proposals_left_out_unless_asked(project, tmp_path):
    project.codings.append(RefiCoding("focus group", 0, 2, TRAINING, MACHINE_USER))
    notes = write_qdpx(project, tmp_path / "h.qdpx")
    assert len(notes) == 1 and "left out 1 coding(s) by 'precode'" in notes[0]
    assert len(read_qdpx(tmp_path / "h.qdpx").codings) == 4
    assert write_qdpx(project, tmp_path / "m.qdpx", include_machine_user=True) == []
    back = read_qdpx(tmp_path / "m.qdpx")
    assert MACHINE_USER in back.users and len(back.codings) == 5


@pytest.mark.parametrize("coding,message", [
    (RefiCoding("interview 1", 5, 999, SPACE, "alice"), "span outside the document text"),
    (RefiCoding("nope", 0, 3, SPACE, "alice"), "no document with that id"),
    (RefiCoding("interview 1", 0, 3, "00000000-0000-0000-0000-000000000000", "alice"), "is not a code"),
    (RefiCoding("interview 1", 0, 3, SPACE, "alice", created="yesterday"), "not an ISO date-time"),
])
def test_write_refuses_inconsistent_records(project, tmp_path, coding, message):
    project.codings.append(coding)
    with pytest.raises(InputError, match=message) as e:
        write_qdpx(project, tmp_path / "p.qdpx")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "p.qdpx").exists()


def test_write_qdc_is_valid_and_reads_back(tmp_path):
    write_qdc(CB, tmp_path / "tiny.qdc")
    _schema("Codebook.xsd").validate(str(tmp_path / "tiny.qdc"))
    cb = read_qdc(tmp_path / "tiny.qdc")
    assert cb.name == "tiny" and cb.categories == CB.categories
    assert [(c.path, c.examples) for c in cb.codes] == [(c.path, c.examples) for c in CB.codes]
    assert [c.guid(cb.name) for c in cb.codes] == [ROLE, SPACE, TRAINING]


def test_codebook_xsd_defect_is_real(tmp_path):
    """Documents why _schema() mends Codebook.xsd: as shipped it rejects every well-formed GUID."""
    xmlschema = pytest.importorskip("xmlschema", reason="xmlschema is needed")
    raw = SCHEMAS / "Codebook.xsd"
    if not raw.exists() or "\u2010" not in raw.read_text(encoding="utf-8"):
        pytest.skip("Codebook.xsd absent or already mended")
    write_qdc(CB, tmp_path / "tiny.qdc")
    assert not xmlschema.XMLSchema(str(raw)).is_valid(str(tmp_path / "tiny.qdc"))


def test_several_codebooks_and_nested_codes_round_trip(tmp_path):
    other = Codebook("themes", codes=(Code("Staffing"), Code("Staffing > Turnover"), Code("Staffing > Turnover > Burnout"),
                                      Code("Loose > End")))
    doc = _doc("d", "Ana: staff burn out.\n")
    p = RefiProject("two", [doc], [CB, other], [RefiCoding("d", 5, 20, Code("Staffing > Turnover > Burnout").guid("themes"), "ann")])
    write_qdpx(p, tmp_path / "two.qdpx")
    _schema("Project-mrt2019.xsd").validate(io.BytesIO(_qde(tmp_path / "two.qdpx")))
    root = ET.fromstring(_qde(tmp_path / "two.qdpx"))
    tops = root.findall("q:CodeBook/q:Codes/q:Code", NS)
    assert [(t.get("name"), t.get("isCodable")) for t in tops] == [("tiny", "false"), ("themes", "false")]
    nested = [c.get("name") for c in tops[1].iter("{urn:QDA-XML:project:1.0}Code")]
    assert nested == ["themes", "Staffing", "Turnover", "Burnout", "Loose > End"]
    back = read_qdpx(tmp_path / "two.qdpx")
    assert [cb.name for cb in back.codebooks] == ["tiny", "themes"]
    assert back.codebooks[1].codes == other.codes
    assert [c.code_guid for c in back.codings] == [p.codings[0].code_guid]
    write_qdc([CB, other], tmp_path / "two.qdc")
    _schema("Codebook.xsd").validate(str(tmp_path / "two.qdc"))


# ---------------------------------------------------------------- importing other tools' files

def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _zip_dir(folder: Path, path: Path) -> Path:
    return _zip(path, {f.relative_to(folder).as_posix(): f.read_bytes() for f in sorted(folder.rglob("*")) if f.is_file()})


def test_import_maxqda_style_project_with_unknown_parts(tmp_path):
    folder = DATA / "maxqda_style"
    txt = next((folder / "sources").glob("*.txt")).read_bytes()
    assert b"\r\n" in txt, "the fixture lost its CRLF line endings (git autocrlf?); positions depend on them"
    _schema("Project-mrt2019.xsd").validate(str(folder / "project.qde"))
    p = read_qdpx(_zip_dir(folder, tmp_path / "m.qdpx"))
    assert p.name == "Peer support pilot" and p.origin.startswith("MAXQDA")
    assert [d.id for d in p.documents] == ["Interview 1.docx", "Field notes"]
    assert "\r" not in p.documents[0].text and p.documents[0].metadata["description"] == "First interview, clinic A."
    (cb,) = p.codebooks
    assert [c.name for c in cb.categories] == ["Barriers", "Facilitators"]
    assert [c.path for c in cb.codes] == [
        "Barriers/Staffing", "Barriers/Staffing > Turnover", "Barriers/Staffing > Turnover > Burnout", "Barriers/Space",
        "Emotions", "Emotions > Frustration", "Facilitators/Leadership > Champion"]
    staffing = cb.codes[0]
    assert (staffing.description, staffing.inclusion) == ("Who is (not) there to do the work.", "vacancies, rota gaps")
    path_of = {c.guid(cb.name): c.path for c in cb.codes}
    texts = {d.id: d.text for d in p.documents}
    got = sorted((path_of[c.code_guid], texts[c.document_id][c.start:c.end], c.coder, c.memo, c.created) for c in p.codings)
    assert got == [
        ("Barriers/Staffing > Turnover", "staff keep leaving", "Ana Souza", "classic turnover", "2024-03-02T10:00:00Z"),
        ("Barriers/Staffing > Turnover > Burnout", "I'm burnt out, and it's frustrating", "Ben Okafor", "", None),
        ("Emotions > Frustration", "I'm burnt out, and it's frustrating", "Ana Souza", "", None),
        ("Facilitators/Leadership > Champion", "The peer champion, Rosa, argued for a quiet room", "Ben Okafor", "",
         "2024-03-03T08:15:00Z"),
    ]
    assert p.users == ["Ana Souza", "Ben Okafor"]
    assert p.guid_map["1b0e6f3a-0c4d-4e5f-8a9b-0c1d2e3f4a53"] == cb.codes[2].guid(cb.name)
    assert p.unknown == ["AudioSource (1)", "Cases (1)", "Graphs (1)", "PictureSource (1)", "TextSource/VariableValue (1)",
                         "Variables (1)"]  # Notes, Sets, the description and NoteRefs are carried (see below)
    text = " | ".join(p.warnings)
    for piece in ("not imported: AudioSource (1)", "skipped 1 coding(s) on PictureSource",
                  "1 codings on a category (not codable); skipped", "1 codings referring to no code",
                  "1 memos without an author (imported as by 'Ana Souza')"):
        assert piece in text
    # a selection with a Description and no coding is a comment on the span: a memo, not a coding
    assert [(m.document_id, texts[m.document_id][m.start:m.end], m.coder, m.text) for m in p.memos] == [
        ("Interview 1.docx", "Honestly", "Ana Souza", "an annotation, not a coding")]


def test_import_qualcoder_style_codebook():
    warnings: list[str] = []
    cb = read_qdc(DATA / "qualcoder_style.qdc", warnings=warnings)
    assert cb.name == "qualcoder_style"
    assert cb.categories == (Category("Barriers", "Things in the way.", ("What are the greatest barriers?",)),)
    assert [c.path for c in cb.codes] == ["unsorted", "Barriers/Role confusion", "Barriers/Space",
                                          "Barriers/Space > No office", "Barriers/Space (2)"]
    role = cb.codes[1]
    assert (role.inclusion, role.examples) == ("unclear job duties", ("the role of the peer was never defined",))
    assert warnings == ["code 'Space' appears twice in 'Barriers'; the second was renamed 'Space (2)'"]


def _project_xml(text_source: str, origin: str = "Tool", codes: str | None = None) -> bytes:
    codes = codes or '<Code guid="aaaaaaaa-0000-0000-0000-000000000001" name="C" isCodable="true"/>'
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="urn:QDA-XML:project:1.0" name="x" origin="{origin}">'
            '<Users><User guid="bbbbbbbb-0000-0000-0000-000000000001" name="u"/></Users>'
            f'<CodeBook><Codes>{codes}</Codes></CodeBook><Sources>{text_source}</Sources></Project>').encode()


def _sel(start: int, end: int) -> str:
    return (f'<PlainTextSelection guid="cccccccc-0000-0000-0000-000000000001" startPosition="{start}" endPosition="{end}" '
            'creatingUser="bbbbbbbb-0000-0000-0000-000000000001"><Coding guid="cccccccc-0000-0000-0000-000000000002">'
            '<CodeRef targetGUID="AAAAAAAA-0000-0000-0000-000000000001"/></Coding></PlainTextSelection>')


@pytest.mark.parametrize("origin,crlf_as", [("ATLAS.ti 23", 1), ("MAXQDA 2022", 2)])
def test_crlf_positions_follow_the_tool(tmp_path, origin, crlf_as):
    raw = "A: one\r\nB: two\r\nC: three\r\n"
    start = raw.index("three") - (2 if crlf_as == 1 else 0)  # ATLAS.ti counts each CRLF as one character
    src = f'<TextSource guid="dddddddd-0000-0000-0000-000000000001" name="t" plainTextPath="internal://t.txt">{_sel(start, start + 5)}</TextSource>'
    p = read_qdpx(_zip(tmp_path / "c.qdpx", {"project.qde": _project_xml(src, origin), "sources/t.txt": b"\xef\xbb\xbf" + raw.encode()}))
    (c,) = p.codings
    assert p.documents[0].text == "A: one\nB: two\nC: three\n"
    assert p.documents[0].text[c.start:c.end] == "three" and c.coder == "u"


@pytest.mark.parametrize("origin", ["NVivo 12.6", "SomeTool"])
def test_crlf_counted_as_one_is_detected_by_where_spans_fall(tmp_path, origin):
    raw = "Ana: Senkit nem lehet hibáztatni.\r\nBo: A csapat jól dolgozik.\r\nCy: Köszönöm szépen.\r\n"
    flat = raw.replace("\r\n", "\n")
    words = ["jól dolgozik", "Köszönöm szépen", "Senkit"]
    sels = "".join(_sel(*_span(flat, w)).replace("000000000001\" startPosition", f"00000000010{i}\" startPosition")
                   for i, w in enumerate(words))
    src = f'<TextSource guid="dddddddd-0000-0000-0000-000000000001" name="t" plainTextPath="internal://t.txt">{sels}</TextSource>'
    p = read_qdpx(_zip(tmp_path / "n.qdpx", {"project.qde": _project_xml(src, origin), "sources/t.txt": raw.encode()}))
    assert [p.documents[0].text[c.start:c.end] for c in p.codings] == words
    assert "counted as 1 position" in p.offset_reason


def test_utf16_offsets_detected_or_forced(tmp_path):
    text = "A: \U0001F600\U0001F600 ok \U0001F600 end"
    s16 = len(text[:text.index("end")].encode("utf-16-le")) // 2
    src = f'<TextSource guid="dddddddd-0000-0000-0000-000000000001" name="t"><PlainTextContent>{text}</PlainTextContent>{_sel(s16, s16 + 3)}</TextSource>'
    path = _zip(tmp_path / "u.qdpx", {"project.qde": _project_xml(src)})
    for unit in ("auto", "utf16"):
        p = read_qdpx(path, offset_unit=unit)
        assert p.documents[0].text[p.codings[0].start:p.codings[0].end] == "end" and p.offset_unit == "utf16"
    p = read_qdpx(path, offset_unit="codepoint")
    assert p.codings == [] and any("--offsets utf16" in w for w in p.warnings)
    with pytest.raises(InputError, match="offsets must be one of"):
        read_qdpx(path, offset_unit="bytes")


# Spans that start on a word under UTF-16 units but mid-word as code points (the NVivo failure of issue 16).
EMOJI_TEXT = ("Ana: Senkit nem lehet \U0001F642 hibáztatni.\nBo: A csapat \U0001F44D jól dolgozik, "
              "\U0001F600 mindenki segít.\nCy: Köszönöm \U0001F64F szépen.\n")
EMOJI_WORDS = ["hibáztatni", "jól dolgozik", "mindenki segít", "szépen"]


def _emoji_project(tmp_path: Path, origin: str, unit: str) -> Path:
    sels = []
    for i, piece in enumerate(EMOJI_WORDS):
        start, end = _span(EMOJI_TEXT, piece)
        if unit == "utf16":
            start, end = (len(EMOJI_TEXT[:p].encode("utf-16-le")) // 2 for p in (start, end))
        sels.append(_sel(start, end).replace("000000000001\" startPosition", f"00000000010{i}\" startPosition"))
    src = (f'<TextSource guid="dddddddd-0000-0000-0000-000000000001" name="t" plainTextPath="internal://t.txt">'
           f'{"".join(sels)}</TextSource>')
    return _zip(tmp_path / f"{unit}.qdpx", {"project.qde": _project_xml(src, origin),
                                            "sources/t.txt": EMOJI_TEXT.encode()})


@pytest.mark.parametrize("origin,unit,why", [
    ("NVivo 12.6", "utf16", "written by NVivo"),  # origin decides
    ("SomeTool", "utf16", "fall mid-word"),  # no origin hint: where the spans fall decides
    ("QualCoder 3.5", "codepoint", "fall mid-word"),
])
def test_offset_unit_is_detected(tmp_path, origin, unit, why):
    p = read_qdpx(_emoji_project(tmp_path, origin, unit))
    assert p.offset_unit == unit and why in p.offset_reason
    assert [EMOJI_TEXT[c.start:c.end] for c in p.codings] == EMOJI_WORDS
    # read with the wrong unit, spans land on other text (or outside it): the check above can fail
    wrong = read_qdpx(_emoji_project(tmp_path, origin, unit), offset_unit="codepoint" if unit == "utf16" else "utf16")
    assert [EMOJI_TEXT[c.start:c.end] for c in wrong.codings] != EMOJI_WORDS


def test_precode_export_with_emoji_reads_back_as_code_points(project, tmp_path):
    write_qdpx(project, tmp_path / "p.qdpx")
    back = read_qdpx(tmp_path / "p.qdpx", codebook_name="tiny")
    assert back.offset_unit == "codepoint"
    assert sorted(map(_key, back.codings)) == sorted(map(_key, project.codings))


def test_training_files_and_import_command_use_the_unit(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.learn import load_training_files

    path = _emoji_project(tmp_path, "NVivo 14", "utf16")
    assert [e.text for e in load_training_files([path])] == EMOJI_WORDS
    assert [e.text for e in load_training_files([path], offsets="codepoint")] != EMOJI_WORDS
    r = CliRunner().invoke(app, ["import", str(path), "-p", str(tmp_path / "proj"), "--offsets", "auto"])
    assert r.exit_code == 0, r.output
    assert "UTF-16 code units (the file was written by NVivo 14)" in " ".join(r.output.split())
    r = CliRunner().invoke(app, ["import", str(path), "-p", str(tmp_path / "proj2"), "--offsets", "bytes"])
    assert r.exit_code == 2 and "offsets must be one of" in r.output


@pytest.mark.parametrize("plain", ["absolute:///etc/passwd", "relative:///../../etc/passwd", "internal://../../etc/passwd",
                                   "internal://missing.txt"])
def test_text_outside_the_archive_is_never_read(tmp_path, plain):
    src = f'<TextSource guid="dddddddd-0000-0000-0000-000000000001" name="t" plainTextPath="{plain}">{_sel(0, 3)}</TextSource>'
    p = read_qdpx(_zip(tmp_path / "o.qdpx", {"project.qde": _project_xml(src)}))
    assert p.documents == [] and p.codings == []
    assert any("'t'" in w for w in p.warnings)


# ---------------------------------------------------------------- hostile input

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE Project [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol9;"/>
"""


def _hostile_xml(tmp_path: Path) -> dict[str, bytes]:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    (tmp_path / "evil.dtd").write_text('<!ENTITY leak SYSTEM "file://%s">' % secret)
    return {
        "billion laughs": BILLION_LAUGHS,
        "external entity": (f'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY xxe SYSTEM "file://{secret}">]>'
                            '<Project xmlns="urn:QDA-XML:project:1.0" name="&xxe;"/>').encode(),
        "external DTD": (f'<?xml version="1.0"?><!DOCTYPE Project SYSTEM "file://{tmp_path / "evil.dtd"}">'
                         '<Project xmlns="urn:QDA-XML:project:1.0" name="&leak;"/>').encode(),
        "parameter entity": (f'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY % p SYSTEM "file://{tmp_path / "evil.dtd"}"> %p;]>'
                             '<Project xmlns="urn:QDA-XML:project:1.0" name="&leak;"/>').encode(),
    }


@pytest.mark.parametrize("case", ["billion laughs", "external entity", "external DTD", "parameter entity"])
def test_entity_attacks_are_refused(tmp_path, case):
    data = _hostile_xml(tmp_path)[case]
    with pytest.raises(InputError, match="DTD or entities") as e:
        read_qdpx(_zip(tmp_path / "x.qdpx", {"project.qde": data}))
    assert "SECRET" not in str(e.value)
    qdc = tmp_path / "x.qdc"
    qdc.write_bytes(data.replace(b"Project", b"CodeBook"))
    with pytest.raises(InputError, match="DTD or entities"):
        read_qdc(qdc)


@pytest.fixture
def no_decompression(monkeypatch):
    """Fail the test if anything opens an archive member for reading."""
    real_open = zipfile.ZipFile.open

    def refuse(self, name, mode="r", *a, **k):
        if mode == "r":
            raise AssertionError(f"member {name} was opened for reading")
        return real_open(self, name, mode, *a, **k)
    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)


def test_zip_bomb_refused_from_header(tmp_path, no_decompression):
    path = _zip(tmp_path / "bomb.qdpx", {"project.qde": b" " * (5 * 1024 * 1024)})
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("project.qde")
        assert info.file_size / info.compress_size > 100
    with pytest.raises(InputError, match="zip bomb"):
        read_qdpx(path)


def test_member_over_the_size_limit_refused(tmp_path, no_decompression):
    path = _zip(tmp_path / "big.qdpx", {"project.qde": os.urandom(2 * 1024 * 1024)})
    with pytest.raises(InputError, match="over the limit of 1 MB"):
        read_qdpx(path, max_member_mb=1)


def test_total_over_the_limit_refused(tmp_path):
    src = "".join(f'<TextSource guid="dddddddd-0000-0000-0000-00000000000{i}" name="t{i}" plainTextPath="internal://t{i}.txt"/>'
                  for i in (1, 2))
    blob = os.urandom(700 * 1024).hex().encode()[: 700 * 1024]  # incompressible enough, valid UTF-8
    path = _zip(tmp_path / "t.qdpx", {"project.qde": _project_xml(src), "sources/t1.txt": blob, "sources/t2.txt": blob})
    with pytest.raises(InputError, match="exceed 1 MB in total"):
        read_qdpx(path, max_member_mb=1, max_total_mb=1)


def _set_declared_size(data: bytes, size: int) -> bytes:
    """Rewrite the uncompressed size in every local and central header of a zip (in place, no real data)."""
    buf = bytearray(data)
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = buf.find(sig)
        while at != -1:
            struct.pack_into("<I", buf, at + offset, size)
            at = buf.find(sig, at + 4)
    return bytes(buf)


def test_declared_2gb_member_refused_without_reading(tmp_path, no_decompression):
    small = _zip(tmp_path / "s.qdpx", {"project.qde": _project_xml("")}).read_bytes()
    path = tmp_path / "huge.qdpx"
    path.write_bytes(_set_declared_size(small, 2**31))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("project.qde").file_size == 2**31
    with pytest.raises(InputError, match=r"declares 2,048 MB uncompressed.*refused without reading"):
        read_qdpx(path)


def test_header_that_understates_the_size_is_caught_while_decompressing(tmp_path):
    real = _project_xml("") + b"<!--" + b"x" * (3 * 1024 * 1024) + b"-->"
    path = tmp_path / "liar.qdpx"
    path.write_bytes(_set_declared_size(_zip(tmp_path / "l.qdpx", {"project.qde": real}).read_bytes(), 1000))
    with pytest.raises(InputError, match="project.qde") as e:
        read_qdpx(path)
    assert "corrupt" in str(e.value) or "header lies" in str(e.value)
    with pytest.raises(InputError, match="expands beyond its declared size"):
        read_capped(io.BytesIO(b"x" * 5000), 1000, "liar.qdpx", "project.qde")
    assert read_capped(io.BytesIO(b"x" * 1000), 1000, "ok.qdpx", "project.qde") == b"x" * 1000


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "C:/evil.txt", "sources/../../evil.txt", "..\\evil.txt",
                                  "c:\\windows\\evil.txt"])
def test_member_paths_that_climb_out_are_refused(tmp_path, name):
    work = tmp_path / "work"
    work.mkdir()
    path = _zip(work / "p.qdpx", {"project.qde": _project_xml(""), name: b"pwned"})
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(InputError, match="points outside the project folder"):
        read_qdpx(path)
    assert sorted(tmp_path.rglob("*")) == before  # nothing extracted anywhere


@pytest.mark.parametrize("members,message", [
    (None, "a .qdpx is a zip archive"),
    ({"readme.txt": b"hi"}, "no project.qde"),
    ({"project.qde": b"<Project name='x'"}, "not well-formed XML"),
    ({"project.qde": b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"/>'}, "holds a codebook"),
])
def test_not_a_project(tmp_path, members, message):
    path = tmp_path / "p.qdpx"
    if members is None:
        path.write_bytes(b"%PDF-1.4 not a zip")
    else:
        _zip(path, members)
    with pytest.raises(InputError, match=message) as e:
        read_qdpx(path)
    assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)


def test_missing_file_and_codebook_problems(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_qdpx(tmp_path / "nope.qdpx")
    (tmp_path / "p.qdc").write_bytes(_project_xml(""))
    with pytest.raises(InputError, match="holds a project"):
        read_qdc(tmp_path / "p.qdc")
    (tmp_path / "e.qdc").write_bytes(b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes/></CodeBook>')
    with pytest.raises(InputError, match="has no codes"):
        read_qdc(tmp_path / "e.qdc")


# ---------------------------------------------------------------- unique names (issue 16)

SHEPARDSON = Path(__file__).resolve().parents[1] / "configs" / "codebooks" / "shepardson2019.yaml"


def _by_unique_name(qde: bytes) -> tuple[dict[str, str], int]:
    """Read codes as a name-keyed reader does (QualCoder's code table has a unique name): the first code of
    a name wins, later ones are dropped. Returns ({code GUID: name} kept, codings whose code was dropped)."""
    root = ET.fromstring(qde)
    kept: dict[str, str] = {}
    names: set[str] = set()
    for el in root.iter("{urn:QDA-XML:project:1.0}Code"):
        if el.get("name").casefold() not in names:
            names.add(el.get("name").casefold())
            kept[el.get("guid")] = el.get("name")
    lost = sum(1 for ref in root.iter("{urn:QDA-XML:project:1.0}CodeRef") if ref.get("targetGUID") not in kept)
    return kept, lost


def test_repeated_code_names_are_made_unique_and_read_back(tmp_path):
    from pipeline.codebook import load_codebook

    book = load_codebook(SHEPARDSON)
    assert len({c.name for c in book.codes}) < len(book.codes)  # the shipped codebook repeats names
    text = " ".join(f"word{i} here." for i in range(len(book.codes)))
    doc = _doc("d", text)
    codings = [RefiCoding("d", *_span(text, f"word{i} here"), c.guid(book.name), "ana") for i, c in enumerate(book.codes)]
    notes = write_qdpx(RefiProject("p", [doc], [book], codings, ["ana"]), tmp_path / "s.qdpx")
    kept, lost = _by_unique_name(_qde(tmp_path / "s.qdpx"))
    assert lost == 0 and len(kept) == len(book.codes) + len(book.categories)
    assert "Initial facilitators: Administrative support" in kept.values()
    assert any("Maintenance facilitators: Administrative support" in n and "QualCoder" in n for n in notes)
    back = read_qdpx(tmp_path / "s.qdpx", codebook_name=book.name)
    assert [(c.name, c.category) for c in back.codebooks[0].codes] == [(c.name, c.category) for c in book.codes]
    assert sorted(map(_key, back.codings)) == sorted(map(_key, codings))
    # the codebook alone too
    qdc_notes: list[str] = []
    from pipeline.refi.write import codebook_xml

    root = ET.fromstring(codebook_xml(book, "x.qdc", qdc_notes))
    names = [el.get("name").casefold() for el in root.iter("{urn:QDA-XML:codebook:1.0}Code")]
    assert len(names) == len(set(names)) and qdc_notes


def test_unique_names_go_up_the_tree_and_foreign_prefixes_stay(tmp_path):
    book = Codebook("b", categories=(Category("A"), Category("B")),
                    codes=(Code("X", "A"), Code("X > Y", "A"), Code("Z", "B"), Code("Z > Y", "B"), Code("A: Y", "B")))
    xml = ET.fromstring(project_xml_of(book))
    names = sorted(el.get("name") for el in xml.iter("{urn:QDA-XML:project:1.0}Code"))
    assert len(names) == len({n.casefold() for n in names})
    assert "X: Y" in names and "Z: Y" in names and "A: Y" in names
    # a file not written by precode keeps "Parent: Name" as it is
    codes = ('<Code guid="aaaaaaaa-0000-0000-0000-000000000009" name="P" isCodable="false">'
             '<Code guid="aaaaaaaa-0000-0000-0000-000000000001" name="P: C" isCodable="true"/></Code>')
    p = read_qdpx(_zip(tmp_path / "f.qdpx", {"project.qde": _project_xml("", codes=codes)}))
    assert [c.name for c in p.codebooks[0].codes] == ["P: C"]


def project_xml_of(book: Codebook) -> bytes:
    from pipeline.refi.write import project_xml

    return project_xml(RefiProject("p", [], [book]))[0]


# ---------------------------------------------------------------- what comes in goes out (issue 16)

def _guids(qde: bytes) -> dict[str, set[str]]:
    """Every GUID of the file by element kind (lower case), references left out."""
    out: dict[str, set[str]] = {}
    for el in ET.fromstring(qde).iter():
        if isinstance(el.tag, str) and el.get("guid"):
            out.setdefault(el.tag.split("}")[-1], set()).add(el.get("guid").lower())
    return out


def _by_guid(qde: bytes, tag: str) -> dict[str, ET.Element]:
    return {el.get("guid").lower(): el for el in ET.fromstring(qde).iter(f"{{urn:QDA-XML:project:1.0}}{tag}")}


def test_maxqda_project_round_trips_element_by_element(tmp_path):
    folder = DATA / "maxqda_style"
    original = (folder / "project.qde").read_bytes()
    p = read_qdpx(_zip_dir(folder, tmp_path / "m.qdpx"))
    assert write_qdpx(p, tmp_path / "out.qdpx") == []
    out = _qde(tmp_path / "out.qdpx")
    _schema("Project-mrt2019.xsd").validate(io.BytesIO(out))
    before, after = _guids(original), _guids(out)
    lost = {k: sorted(v - after.get(k, set())) for k, v in before.items() if v - after.get(k, set())}
    assert lost == {  # exactly what precode cannot carry (each listed by the import)
        "Case": ["4a463c0d-9263-494a-81d6-e9d5a229f227"], "Variable": ["51dc3bcd-5454-47ff-a4d6-ea699144410d"],
        "PictureSource": ["361bcdb8-7d11-4343-a4cd-4130693eff76"], "PictureSelection": ["361bcdb8-7d11-4343-a4cd-4130693eff77"],
        "AudioSource": ["df370983-f009-4d47-8615-711633fa9de6"],
        "Graph": ["7a0c1e2d-3f4b-4c5d-8e6f-7a8b9c0d1e2f"], "Vertex": ["7a0c1e2d-3f4b-4c5d-8e6f-7a8b9c0d1e30"],
        "PlainTextSelection": ["95916796-d0a0-4b49-80b0-5a5c8b94ae14",
                               "95916796-d0a0-4b49-80b0-5a5c8b94ae16"],  # on a category, on an unknown code
        "Coding": ["361bcdb8-7d11-4343-a4cd-4130693eff78", "5c931701-6cd4-4a2b-a553-f1dde2eac46f",
                   "5c931701-6cd4-4a2b-a553-f1dde2eac470"],
    }
    memo_notes = {g for g, n in _by_guid(out, "Note").items() if n.get("name", "").startswith("Memo by ")}
    assert len(memo_notes) == 2  # the memos that came as <Description>s (on a coding, on a span) are Notes too now
    assert not set().union(*after.values()) - set().union(*before.values()) - memo_notes - {
        g for g in after["PlainTextSelection"]}  # nothing new but the second selection of a span with two codings
    # element by element: names, tree, colours, descriptions, users, notes, sets, references
    b, a = _by_guid(original, "Code"), _by_guid(out, "Code")
    for guid in set(a) & set(b):
        assert a[guid].get("name") == b[guid].get("name") or a[guid].get("name").endswith(b[guid].get("name"))
        assert a[guid].get("color") == b[guid].get("color")
        assert a[guid].findtext("q:Description", namespaces=NS) == b[guid].findtext("q:Description", namespaces=NS)
        def kids(el):
            return sorted(c.get("guid").lower() for c in el.findall("q:Code", NS))

        assert kids(a[guid]) == kids(b[guid])  # the tree, level by level (Leadership is a non-codable level)
        assert a[guid].get("isCodable") == b[guid].get("isCodable")
    assert {g: (u.get("name")) for g, u in _by_guid(out, "User").items()} == {
        g: u.get("name") for g, u in _by_guid(original, "User").items()}
    (note,) = (n for g, n in _by_guid(out, "Note").items() if g not in memo_notes)
    assert note.get("name") == "Memo on clinic A" and note.findtext("q:PlainTextContent", namespaces=NS) == "Follow up on the café closure."
    (st,) = _by_guid(out, "Set").values()
    assert [m.get("targetGUID").lower() for m in st.findall("q:MemberSource", NS)] == ["8e7fddfe-db36-48dc-b464-80c3a4decd90"]
    src = _by_guid(out, "TextSource")["8e7fddfe-db36-48dc-b464-80c3a4decd90"]
    assert [r.get("targetGUID").lower() for r in src.findall("q:NoteRef", NS)] == ["0f758eeb-d61d-4e91-b250-79861c3869a6"]
    assert ET.fromstring(out).findtext("q:Description", namespaces=NS) == "Pilot of peer support in two clinics."
    # positions and codings: the same text under the same code GUIDs and users
    again = read_qdpx(tmp_path / "out.qdpx")
    assert sorted(map(_key, again.codings)) == sorted(map(_key, p.codings))
    # a second export of the same project is byte-identical
    write_qdpx(again, tmp_path / "out2.qdpx")
    assert _qde(tmp_path / "out2.qdpx") == out


def test_multiline_descriptions_and_unsafe_source_names(tmp_path):
    codes = ('<Code guid="aaaaaaaa-0000-0000-0000-000000000001" name="C" isCodable="true" color="#00ff00">'
             '<Description>First line.\nSecond line.</Description></Code>')
    src = (f'<TextSource guid="dddddddd-0000-0000-0000-000000000001" name="../../etc/x">'
           f'<PlainTextContent>A: hello there</PlainTextContent>{_sel(3, 8)}</TextSource>')
    p = read_qdpx(_zip(tmp_path / "d.qdpx", {"project.qde": _project_xml(src, codes=codes)}))
    assert p.codebooks[0].codes[0].description == "First line.\nSecond line."
    notes = write_qdpx(p, tmp_path / "o.qdpx")
    root = ET.fromstring(_qde(tmp_path / "o.qdpx"))
    (code,) = root.iter("{urn:QDA-XML:project:1.0}Code")
    assert code.findtext("q:Description", namespaces=NS) == "First line.\nSecond line." and code.get("color") == "#00FF00"
    (ts,) = root.iter("{urn:QDA-XML:project:1.0}TextSource")
    assert ts.get("name") == "etc - x" and ts.get("guid") == "dddddddd-0000-0000-0000-000000000001"
    assert any("'../../etc/x' -> 'etc - x'" in n for n in notes)


def test_own_guids_stable_and_reimport_keeps_them_without_the_codebook_name(project, tmp_path):
    write_qdpx(project, tmp_path / "a.qdpx")
    back = read_qdpx(tmp_path / "a.qdpx")  # imported under another codebook name ("Riverbend study")
    assert back.codebooks[0].name != "tiny"
    assert sorted(c.code_guid for c in back.codings) == sorted(c.code_guid for c in project.codings)
    write_qdpx(back, tmp_path / "b.qdpx")
    assert _guids(_qde(tmp_path / "a.qdpx")) == _guids(_qde(tmp_path / "b.qdpx"))


def test_guids_notes_and_sets_survive_a_project_store(tmp_path):
    from pipeline.export.refi_project import export_qdpx, import_qdpx
    from pipeline.project import load_project

    folder = DATA / "maxqda_style"
    original = (folder / "project.qde").read_bytes()
    store = tmp_path / "proj" / "project.sqlite"
    store.parent.mkdir()
    import_qdpx(_zip_dir(folder, tmp_path / "m.qdpx"), store)
    export_qdpx(load_project(store), tmp_path / "e.qdpx", store_path=store)
    out = _qde(tmp_path / "e.qdpx")
    _schema("Project-mrt2019.xsd").validate(io.BytesIO(out))
    before, after = _guids(original), _guids(out)
    for kind in ("User", "TextSource", "Note", "Set"):
        assert before[kind] <= after[kind], kind
    assert before["Code"] <= after["Code"]
    kept_codings = {"76414714-63c4-4a25-a47e-66fef80bd52e", "5c931701-6cd4-4a2b-a553-f1dde2eac46d",
                    "5c931701-6cd4-4a2b-a553-f1dde2eac46e", "c1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7fa"}
    assert kept_codings <= after["Coding"]
    root = ET.fromstring(out)
    assert root.get("name") == "Peer support pilot"
    assert root.findtext("q:Description", namespaces=NS) == "Pilot of peer support in two clinics."
