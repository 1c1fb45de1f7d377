"""CSV/XLSX exports: cells are data, never formulas; Excel's cell limit; control characters in names."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest

from pipeline.errors import InputError, printable
from pipeline.export.table import COLUMNS, EXCEL_CELL_LIMIT, neutralise, write_csv, write_xlsx

from .conftest import TINY_CODEBOOK, BagOfWordsEmbedder

HOSTILE = ['=HYPERLINK("http://evil.example/x","click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
           "\t=1+1", "\r=1+1"]


def _row(**kw):
    base = {c: "" for c in COLUMNS}
    base.update(segment_id="s1", document="doc.txt", start="0", end="5", score="0.5000", rank="1", text="hello")
    base.update(kw)
    return base


def test_csv_cells_that_start_a_formula_get_a_leading_quote(tmp_path):
    rows = [_row(segment_id=f"s{i}", text=t, document=t, memo=t) for i, t in enumerate(HOSTILE)]
    rows.append(_row(segment_id="plain", text="- a dash in speech is text too", evidence="-0.25"))
    rows.append(_row(segment_id="ok", text="nothing to see", memo="-0.25"))
    path = write_csv(rows, tmp_path / "out.csv")
    got = list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    for i, t in enumerate(HOSTILE):
        for col in ("text", "document", "memo"):
            assert got[i][col] == "'" + t.replace("\r", "\n")  # a lone CR would end the row for a reader
    assert got[-2]["text"] == "'- a dash in speech is text too"
    assert got[-1]["memo"] == "-0.25" and got[-1]["start"] == "0"  # a number cannot be a formula
    assert not any(v[:1] in "=+-@\t\r" and not re.fullmatch(r"-?[\d.]+", v) for r in got for v in r.values() if v)


def test_neutralise_leaves_ordinary_text_alone():
    assert neutralise("Ann said = is fine") == "Ann said = is fine"
    assert neutralise("") == "" and neutralise("'quoted") == "'quoted"


def _sheet_xml(path) -> str:
    with zipfile.ZipFile(path) as zf:
        return "".join(zf.read(n).decode("utf-8") for n in zf.namelist() if n.startswith("xl/worksheets/"))


def test_xlsx_cells_are_strings_never_formulas(tmp_path):
    from openpyxl import load_workbook

    rows = [_row(segment_id=f"s{i}", text=t, document=t, code=t) for i, t in enumerate(HOSTILE)]
    path = write_xlsx(rows, tmp_path / "out.xlsx")
    xml = _sheet_xml(path)
    assert len(re.findall(r"<f[ >]", xml)) == 0
    ws = load_workbook(path).worksheets[0]
    header = [c.value for c in ws[1]]
    texts = [r[header.index("text")] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert texts == HOSTILE  # the text itself, as data
    assert all(c.data_type == "s" for r in ws.iter_rows(min_row=2) for c in r if isinstance(c.value, str))


def test_xlsx_cells_over_excels_limit_are_cut_and_flagged(tmp_path):
    from openpyxl import load_workbook

    long = "word " * 10_000
    rows = [_row(text=long, flags="low_confidence"), _row(segment_id="s2", text="short")]
    path = write_xlsx(rows, tmp_path / "out.xlsx")
    ws = load_workbook(path).worksheets[0]
    header = [c.value for c in ws[1]]
    first, second = list(ws.iter_rows(min_row=2, values_only=True))
    assert len(first[header.index("text")]) == EXCEL_CELL_LIMIT
    assert first[header.index("text")].endswith("store keep all of it]")
    assert first[header.index("flags")] == "low_confidence;excel_truncated"
    assert (second[header.index("flags")] or "") == ""
    assert len(write_csv(rows, tmp_path / "out.csv").read_text()) > len(long)  # the CSV keeps the whole text


def test_control_characters_in_names_are_escaped():
    assert printable("a\nskipped: b\x1b[31m\u202ex") == "a\\nskipped: b\\x1b[31m\\u202ex"
    err = InputError("notes\nskipped: forged.txt", "file is empty")
    assert "\n" not in str(err) and str(err) == "notes\\nskipped: forged.txt: file is empty"


def test_a_run_exports_a_formula_in_a_transcript_and_a_file_name_as_data(tmp_path):
    from pipeline.config import config_from_dict
    from pipeline.run import run_batch

    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "=HYPERLINK(1).txt").write_text('Interviewer: Barriers?\nAnn: =HYPERLINK("http://evil.example","role training")\n')
    (inp / "bad\nskipped: forged.txt").write_bytes(b"")
    (tmp_path / "tiny.yaml").write_text(TINY_CODEBOOK)
    cfg = config_from_dict({"project": {"output_dir": str(tmp_path / "out")},
                            "studies": [{"name": "s", "inputs": [str(inp)], "codebook": str(tmp_path / "tiny.yaml")}],
                            "propose": {"target_precision": None}}, base_dir=tmp_path)
    res = run_batch(cfg, embedder=BagOfWordsEmbedder())
    assert len(res.errors) == 1 and "\n" not in res.errors[0] and "bad\\nskipped: forged.txt" in res.errors[0]
    got = list(csv.DictReader(io.StringIO(res.outputs["csv"].read_text(encoding="utf-8"))))
    ann = [r for r in got if r["speaker"] == "Ann"]
    assert ann and all(r["text"].startswith("'=HYPERLINK") and r["document"] == "'=HYPERLINK(1).txt" for r in ann)
    assert len(re.findall(r"<f[ >]", _sheet_xml(res.outputs["xlsx"]))) == 0
    manifest = res.outputs["manifest"].read_text()
    assert "bad\\\\nskipped: forged.txt" in manifest  # escaped in the stored manifest too


@pytest.mark.parametrize("value", ["=1", "+A1", "@x", "-x"])
def test_matrix_and_discovery_csvs_neutralise_too(value):
    from pipeline.discover.outputs import candidates_csv

    class Cand:
        id, status, name, size, n_documents, n_speakers, roles, keywords, cohesion = "e1", "candidate", value, 3, 1, 1, {}, [], -0.5
        quotes = ()

    text = candidates_csv([Cand()])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["name"] == "'" + value and row["cohesion"] == "-0.5000"


# -- the XLSX: same bytes every time, laid out for reading, with its codebook ----------------------

def _codebook():
    from pipeline.records import Code, Codebook

    return Codebook("tiny", (Code("Space", "Barriers", "no office room", examples=("no room", "=no desk")),
                             Code("Training", "Facilitators", "courses for staff")))


def test_xlsx_is_byte_identical_across_runs(tmp_path):
    import time

    rows = [_row(segment_id=f"s{i}", text=f"text {i}", code="Space", code_guid=_codebook().codes[0].guid("tiny"),
                 status="accepted") for i in range(5)]
    a = write_xlsx(rows, tmp_path / "a.xlsx", [_codebook()]).read_bytes()
    time.sleep(1.1)  # openpyxl stamps the clock (seconds) into the workbook; precode must not
    b = write_xlsx(rows, tmp_path / "b.xlsx", [_codebook()]).read_bytes()
    assert a == b
    with zipfile.ZipFile(tmp_path / "a.xlsx") as zf:
        assert {i.date_time for i in zf.infolist()} == {(2020, 1, 1, 0, 0, 0)}


def test_xlsx_layout_text_early_wrapped_filtered_frozen_and_a_codebook_sheet(tmp_path):
    from openpyxl import load_workbook

    from pipeline.export.table import XLSX_COLUMNS

    assert sorted(XLSX_COLUMNS) == sorted(COLUMNS)  # the same columns as the CSV
    guid = _codebook().codes[0].guid("tiny")
    rows = [_row(segment_id="s1", text="a long answer", code="Space", code_guid=guid, status="accepted", coder="ann"),
            _row(segment_id="s1", text="a long answer", code="Space", code_guid=guid, status="proposed", coder="precode")]
    wb = load_workbook(write_xlsx(rows, tmp_path / "out.xlsx", [_codebook(), _codebook()]))
    ws = wb["coded segments"]
    header = [c.value for c in ws[1]]
    assert header.index("text") <= 4 and header.index("text") < header.index("start")
    assert ws.freeze_panes == "F2" and ws.auto_filter.ref == f"A1:V{ws.max_row}"
    text_cell = ws.cell(2, header.index("text") + 1)
    assert text_cell.alignment.wrap_text and text_cell.value == "a long answer"
    assert not ws.cell(2, header.index("score") + 1).alignment.wrap_text
    assert all(c.font.bold for c in ws[1])
    cb = wb["codebook"]
    cb_header = [c.value for c in cb[1]]
    got = [dict(zip(cb_header, r)) for r in cb.iter_rows(min_row=2, values_only=True)]
    assert [g["code"] for g in got] == ["Space", "Training"]  # each code once
    assert got[0]["examples"] == "no room\n=no desk" and got[0]["accepted"] == "1" and got[0]["proposed"] == "1"
    assert got[1]["accepted"] == "0" and cb.freeze_panes == "D2" and cb.auto_filter.ref
    assert len(re.findall(r"<f[ >]", _sheet_xml(tmp_path / "out.xlsx"))) == 0


def test_a_runs_xlsx_has_the_codebook_sheet(tmp_path):
    from openpyxl import load_workbook

    from pipeline.config import config_from_dict
    from pipeline.run import run_batch

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_text("Interviewer: Barriers?\nAnn: Nobody knows the peer role.\n")
    (tmp_path / "tiny.yaml").write_text(TINY_CODEBOOK)
    cfg = config_from_dict({"project": {"output_dir": str(tmp_path / "out")},
                            "studies": [{"name": "s", "inputs": [str(tmp_path / "in")], "codebook": str(tmp_path / "tiny.yaml")}]},
                           base_dir=tmp_path)
    res = run_batch(cfg, embedder=BagOfWordsEmbedder())
    wb = load_workbook(res.outputs["xlsx"])
    assert wb.sheetnames == ["coded segments", "codebook"]
    assert [r[2] for r in wb["codebook"].iter_rows(min_row=2, values_only=True)] == ["Role confusion", "Space", "Training"]


def test_an_exported_csv_reads_back_as_it_was(tmp_path):
    """Training and evaluation read precode's CSV exports: the quote that disarms a formula is undone."""
    from pipeline.ingest.table import rows_from_csv

    values = [*HOSTILE[:5], "- a dash", "'kept as typed", "plain"]
    rows = [_row(segment_id=f"=s{i}", text=t) for i, t in enumerate(values)]
    raw = write_csv(rows, tmp_path / "out.csv").read_bytes().decode("utf-8")
    back = rows_from_csv(raw, tmp_path / "out.csv")
    assert [r["text"] for r in back] == [v.strip() for v in values]
    assert [r["segment_id"] for r in back] == [f"=s{i}" for i in range(len(values))]


def test_every_csv_writer_for_people_neutralises_formulas(tmp_path):
    """The other CSVs precode writes (agreement, evaluation, comparisons, codebooks, redaction review) go
    through SafeWriter / SafeDictWriter: a formula-looking cell is written as text."""
    import csv as _csv
    import io

    from pipeline.export.table import SafeDictWriter, SafeWriter

    buf = io.StringIO()
    SafeWriter(buf, lineterminator="\n").writerows([["=HYPERLINK(\"http://x\")", "-0.25", "@SUM(A1)", 3]])
    SafeDictWriter(buf, fieldnames=["a", "b"], lineterminator="\n").writerow({"a": "+cmd|' /C calc'!A0", "b": "ok"})
    rows = list(_csv.reader(io.StringIO(buf.getvalue())))
    assert rows == [["'=HYPERLINK(\"http://x\")", "-0.25", "'@SUM(A1)", "3"], ["'+cmd|' /C calc'!A0", "ok"]]
    # and the modules that write such files use them, not the bare csv writers
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "pipeline"
    for rel in ("cli.py", "evaluate/render.py", "commands/compare.py", "export/quotes.py", "discover/outputs.py"):
        text = (root / rel).read_text(encoding="utf-8")
        assert "csv.writer(" not in text and "csv.DictWriter(" not in text, rel
