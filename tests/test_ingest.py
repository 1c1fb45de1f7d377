from __future__ import annotations

import codecs
import csv
import io
import zipfile

import pytest

from pipeline.errors import InputError
from pipeline.ingest import read_document

from .conftest import CORPORA


def _check_offsets(doc):
    for t in doc.turns:
        assert doc.text[t.start : t.end] == t.text
        for s, e in t.paragraphs:
            assert t.start <= s < e <= t.end


def test_ingest_text_name_labels_continuations_and_preamble(write):
    p = write("a.txt", "# INVENTED\n# Site: Riverbend\nFocus group 1\n\nModerator: What is hard?\n\n"
                       "Dana: The role. Here is the thing: it is vague.\nStill Dana.\n\nNew paragraph.\n"
                       "Marcus: Agreed.\n")
    doc = read_document(p)
    assert [t.speaker for t in doc.turns] == ["Moderator", "Dana", "Marcus"]
    assert doc.turns[1].text == "The role. Here is the thing: it is vague.\nStill Dana.\n\nNew paragraph."
    assert len(doc.turns[1].paragraphs) == 2
    assert doc.metadata["site"] == "Riverbend"
    _check_offsets(doc)


def test_ingest_text_timestamped_labels(write):
    p = write("b.txt", "[00:00:05] Interviewer: Barriers?\n[00:01:02] Speaker 2: Funding, mostly.\n")
    doc = read_document(p)
    assert [(t.speaker, t.start_time) for t in doc.turns] == [("Interviewer", 5.0), ("Speaker 2", 62.0)]
    assert doc.turns[0].end_time == 62.0
    _check_offsets(doc)


def test_ingest_text_otter_style(write):
    p = write("o.txt", "Ann Lee  0:03\nHello there.\n\nBo  1:10\nHi.\nMore.\n")
    doc = read_document(p)
    assert [(t.speaker, t.start_time, t.text) for t in doc.turns] == [("Ann Lee", 3.0, "Hello there."), ("Bo", 70.0, "Hi.\nMore.")]


def test_ingest_text_without_labels_is_field_notes(write):
    doc = read_document(write("notes.txt", "# notes\nFirst observation here.\nsame para\n\nSecond one.\n"))
    assert [t.speaker for t in doc.turns] == [None, None]
    assert doc.turns[0].text == "First observation here.\nsame para"


def test_ingest_one_off_sentence_colon_is_not_a_speaker(write):
    doc = read_document(write("c.txt", "Ann: I said this.\nHere is the thing: more.\nBo: ok\nAnn: yes\nBo: no\n"))
    assert [t.speaker for t in doc.turns] == ["Ann", "Bo", "Ann", "Bo"]


@pytest.mark.parametrize("encoding,bom", [("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                          ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-le", b""), ("cp1252", b"")])
def test_ingest_encodings(write, encoding, bom):
    text = "Interviewer: What\u2019s hard?\r\nAna: The caf\u00e9 \u2014 no room.\r\n"
    doc = read_document(write(f"e_{encoding}.txt", bom + text.encode(encoding)))
    assert doc.turns[1].text == "The caf\u00e9 \u2014 no room."
    assert "\r" not in doc.text


@pytest.mark.parametrize("data,encoding", [("Ana: caf\u00e9".encode("cp1252"), "cp1252"),
                                           ("Ana: caf\u00e9 \u2014 s\u00ed.\n".encode("utf-16-be"), "utf-16"),
                                           (codecs.BOM_UTF16_LE + "Ana: caf\u00e9.\n".encode("utf-16-le"), "utf-16")])
def test_ingest_short_legacy_and_utf16_text(write, data, encoding):
    """A short Windows-1252 line (where encoding detectors guess cp1006) and UTF-16 without/with a BOM."""
    doc = read_document(write("short.txt", data))
    assert doc.turns[0].text.startswith("caf\u00e9") and doc.metadata["encoding"] == encoding


@pytest.mark.parametrize("name,content,message", [
    ("empty.txt", b"", "file is empty"),
    ("blank.txt", b"   \n\n", "no text"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10, "binary"),
    ("bad.txt", b"Ann: caf\x81\x8d\x8f\x90\x9d", "cannot decode"),
    ("notes.pdf", b"%PDF-1.4", "not supported"),
    ("x.weird", b"hello", "unsupported file type '.weird'"),
    ("trunc.docx", b"PK\x03\x04\x14\x00\x00\x00garbage", "not a readable .docx"),
    ("trunc.xlsx", b"PK\x03\x04\x14\x00", "not a readable .xlsx"),
    ("bad.vtt", b"Hello\n\n00:00:01.000 --> 00:00:02.000\nA: hi\n", "not a WebVTT file"),
    ("nocue.vtt", b"WEBVTT\n\n00:00:01 -> 00:00:02\nA: hi\n", "no valid caption cue"),
    ("notext.csv", b"speaker,words\nA,hi\n", "no 'text' column"),
])
def test_ingest_bad_input_is_one_line_error(write, name, content, message):
    p = write(name, content)
    with pytest.raises(InputError) as e:
        read_document(p)
    line = str(e.value)
    assert "\n" not in line and line.startswith(str(p)) and message in line


def test_ingest_truncated_real_docx(write):
    data = (CORPORA / "int02_supervisor.docx").read_bytes()
    with pytest.raises(InputError, match="not a readable .docx"):
        read_document(write("cut.docx", data[: len(data) // 2]))


def test_ingest_vtt_zoom_merges_cues_and_warns_on_malformed(write):
    vtt = ("WEBVTT\n\nNOTE invented\n\n1\n00:00:01.000 --> 00:00:02.500\nAnn: Hello there\n\n"
           "2\n00:00:02.500 --> 00:00:04.000\nAnn: and more\n\n3\n00:00:04.000 -> 00:00:05\nBo: lost\n\n"
           "4\n00:00:05.000 --> 00:00:06.000\nBo: Hi &amp; bye\n")
    doc = read_document(write("z.vtt", vtt))
    assert [(t.speaker, t.text, t.start_time, t.end_time) for t in doc.turns] == [
        ("Ann", "Hello there and more", 1.0, 4.0), ("Bo", "Hi & bye", 5.0, 6.0)]
    assert len(doc.warnings) == 1 and "line 14" in doc.warnings[0] and "malformed cue" in doc.warnings[0]
    assert doc.metadata["notes"] == "invented"
    _check_offsets(doc)


def test_ingest_vtt_teams_voice_tags(write):
    vtt = "WEBVTT\n\nab12/1-0\n00:00:03.210 --> 00:00:07.890\n<v Dr. Kim Lee>We need a room.</v>\n"
    doc = read_document(write("t.vtt", vtt))
    assert (doc.turns[0].speaker, doc.turns[0].text) == ("Dr. Kim Lee", "We need a room.")


def test_ingest_srt(write):
    srt = "1\n00:00:01,000 --> 00:00:04,000\nMod: Hi all.\n\n2\n00:01:00,500 --> 00:01:02,000\nJo: Hi.\n"
    doc = read_document(write("s.srt", srt))
    assert [(t.speaker, t.start_time) for t in doc.turns] == [("Mod", 1.0), ("Jo", 60.5)]


def test_ingest_csv_rows_keep_metadata_and_ids(write):
    p = write("t.csv", "id,speaker,role,start,text,site\nr1,Int,interviewer,00:00:10,Why?,A\nr2,Pat,PCP,00:00:20,Because.,A\nr1,Pat,PCP,,Dup id.,B\n,,,,,\n")
    doc = read_document(p)
    assert [t.turn_id for t in doc.turns] == ["r1", "r2", "r1~4"]
    assert doc.turns[1].role == "PCP" and doc.turns[1].start_time == 20.0
    assert doc.turns[0].metadata["site"] == "A"
    assert any("duplicate id" in w for w in doc.warnings)
    _check_offsets(doc)


def test_ingest_xlsx_survey(write):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["ID", "Role", "Question", "Text"])
    ws.append(["R1", "PSS", "Biggest barrier?", "No office."])
    ws.append(["R2", "PCP", "Biggest barrier?", None])
    buf = io.BytesIO()
    wb.save(buf)
    doc = read_document(write("s.xlsx", buf.getvalue()))
    assert len(doc.turns) == 1 and doc.turns[0].turn_id == "R1" and doc.turns[0].metadata["question"] == "Biggest barrier?"


@pytest.mark.parametrize("path", sorted(p for p in CORPORA.glob("*") if p.is_file() and p.suffix in
                                        {".txt", ".docx", ".vtt", ".srt", ".csv", ".xlsx"}), ids=lambda p: p.name)
def test_ingest_every_demo_transcript(path):
    doc = read_document(path)
    assert len(doc.turns) >= 10
    speakers = {t.speaker for t in doc.turns}
    assert None not in speakers or path.suffix == ".xlsx"
    _check_offsets(doc)


def test_demo_corpus_has_required_formats():
    exts = {p.suffix for p in CORPORA.iterdir() if p.is_file()}
    assert {".txt", ".docx", ".vtt", ".csv"} <= exts
    assert len([p for p in CORPORA.iterdir() if p.suffix in {".txt", ".docx", ".vtt", ".srt", ".csv", ".xlsx"}]) >= 8
    assert zipfile.is_zipfile(CORPORA / "int02_supervisor.docx")


@pytest.mark.parametrize("quoting", [csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
def test_ingest_csv_doubled_quotes_are_kept_whole(write, quoting):
    rows = [["id", "speaker", "text"]] + [[f"r{i}", "A", f"turn {i}, plain"] for i in range(40)]
    rows.append(["q", "B", 'I would say "look, I mean it" and leave.'])
    buf = io.StringIO()
    csv.writer(buf, quoting=quoting).writerows(rows)
    doc = read_document(write("q.csv", buf.getvalue()))
    assert doc.turns[-1].text == 'I would say "look, I mean it" and leave.'


def test_ingest_csv_row_with_extra_cells_is_an_error(write):
    with pytest.raises(InputError, match="row 3 has more cells than the header"):
        read_document(write("x.csv", "id,text\n1,fine\n2,broken, unquoted, commas\n"))
