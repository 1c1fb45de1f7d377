"""Coded segments as CSV and XLSX: one row per (segment, proposed code), best first.

Rows are written in document order, then rank; numbers are formatted with fixed precision so the
same run gives byte-identical files.

Cells are data, never formulas: in the CSV a cell starting with ``= + - @``, a tab or a carriage return
gets a leading ``'`` (OWASP's CSV-injection rule); in the XLSX every text cell is a string cell (no
``<f>`` element), and a cell over Excel's 32,767 characters is cut, its row flagged ``excel_truncated``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path
from typing import Iterable, Literal, Sequence

from ..decisions import NO_CODE
from ..private import write_private
from ..records import Code, Codebook, Segment, Suggestion

COLUMNS = [
    "segment_id", "study", "document", "speaker", "role", "start", "end", "start_time", "end_time",
    "question", "text", "codebook", "category", "code", "code_guid", "score", "rank", "flags", "evidence",
    "status", "coder", "memo",
]


NUMERIC = {"start", "end", "rank"}
FLOATS = {"score", "start_time", "end_time"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCEL_CELL_LIMIT = 32_767
CUT_MARK = " [… cut at Excel's cell limit; the CSV and the store keep all of it]"


_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def neutralise(value: str) -> str:
    """A CSV cell a spreadsheet will not run: a leading ``'`` before ``= + - @``, tab or carriage return
    (a plain number such as ``-0.25`` is left as it is: it cannot be a formula)."""
    if value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_safe(row: dict) -> dict:
    """``row`` with every text cell neutralised; a carriage return becomes a line break (the csv module
    would not quote a lone one, and readers take it for the end of the row)."""
    return {k: neutralise(v).replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) else v
            for k, v in row.items()}


class SafeWriter:
    """``csv.writer`` whose text cells are neutralised (:func:`neutralise`): every CSV precode writes
    for people to open (coded segments, matrix, agreement, evaluation, comparisons, codebooks, redaction
    review) goes through this or :class:`SafeDictWriter`."""

    def __init__(self, fh, **kwargs):
        self._w = csv.writer(fh, **kwargs)

    def writerow(self, row):
        return self._w.writerow([neutralise(v).replace("\r", "\n") if isinstance(v, str) else v for v in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


class SafeDictWriter(csv.DictWriter):
    """``csv.DictWriter`` whose text cells are neutralised (:func:`csv_safe`)."""

    def writerow(self, rowdict):
        return super().writerow(csv_safe(rowdict))

    def writerows(self, rowdicts):
        for row in rowdicts:
            self.writerow(row)


def _num(x: float | None, places: int = 3) -> str:
    return "" if x is None else f"{x:.{places}f}"


def suggestion_rows(
    segments: Iterable[Segment],
    suggestions: Iterable[Suggestion],
    codebooks: dict[str, Codebook],
    states: dict | None = None,
    all_books: Iterable[Codebook] = (),
) -> list[dict[str, str]]:
    """Join proposals and human decisions to their segments.

    ``codebooks`` maps study name -> codebook; ``states`` is
    :func:`pipeline.decisions.current_state` output. A proposal nobody decided on is one row
    (``status=proposed``, ``coder=precode``); a decided one gives a row per coder with their status
    (accepted / rejected); codes a coder added (or recoded to) are rows with ``status=added``.
    ``all_books`` are further codebooks whose codes decisions may name (imported projects).
    """
    by_segment: dict[str, list[Suggestion]] = {}
    for s in suggestions:
        by_segment.setdefault(s.segment_id, []).append(s)
    decided: dict[str, dict[str, list]] = {}
    for (seg_id, guid, _coder), st in sorted((states or {}).items()):
        decided.setdefault(seg_id, {}).setdefault(guid, []).append(st)
    by_guid: dict[str, tuple[str, Code]] = {}
    for book in [*codebooks.values(), *all_books]:
        for c in book.codes:
            by_guid.setdefault(c.guid(book.name), (book.name, c))
    rows = []
    for seg in segments:
        cb = codebooks.get(seg.study or "")
        cb_name = cb.name if cb else ""
        seg_states = decided.get(seg.id, {})
        base = {
            "segment_id": seg.id, "study": seg.study or "", "document": seg.document_id,
            "speaker": seg.speaker or "", "role": seg.role or "", "start": str(seg.start), "end": str(seg.end),
            "start_time": _num(seg.start_time), "end_time": _num(seg.end_time),
            "question": " ".join((seg.question or "").split()), "text": seg.text, "codebook": cb_name,
        }
        shown: set[str] = set()
        for s in sorted(by_segment.get(seg.id, []), key=lambda s: s.rank):
            guid = s.code.guid(cb_name)
            proposal = {**base, "category": s.code.category or "", "code": s.code.name, "code_guid": guid,
                        "score": f"{s.score:.4f}", "rank": str(s.rank), "flags": ";".join(s.flags),
                        "evidence": s.evidence}
            if not s.names_code:  # uncoded / category only: no code is proposed, so none is named; what
                # people decided on the segment are rows of their own (below)
                if not seg_states:
                    rows.append({**proposal, "code": "", "code_guid": "", "status": s.status, "coder": s.agent,
                                 "category": proposal["category"] if "category_only" in s.flags else ""})
                continue
            shown.add(guid)
            if guid not in seg_states:
                rows.append({**proposal, "status": s.status, "coder": s.agent})
            for st in seg_states.get(guid, []):
                rows.append({**proposal, "status": st.status, "coder": st.coder, "memo": st.memo})
        for guid, sts in seg_states.items():
            if guid == NO_CODE:  # a person said no code applies
                rows += [{**base, "category": "", "code": "", "code_guid": "", "score": "", "rank": "", "flags": "",
                          "evidence": "", "status": "no code applies", "coder": st.coder, "memo": st.memo}
                         for st in sts if st.status in ("accepted", "added")]
                continue
            if guid in shown or guid not in by_guid:
                continue
            book_name, code = by_guid[guid]
            for st in sts:
                rows.append({**base, "codebook": book_name, "category": code.category or "", "code": code.name, "code_guid": guid,
                             "score": "", "rank": "", "flags": f"orphaned:{code.retired}" if code.retired else "",
                             "evidence": "", "status": st.status,
                             "coder": st.coder, "memo": st.memo})
    return rows


def write_safe_csv(path: Path, fieldnames: Sequence[str], rows: Iterable[dict], lineterminator: str = "\n",
                   extrasaction: Literal["raise", "ignore"] = "raise") -> Path:
    """Write dict ``rows`` as a CSV for people to open (cells neutralised, :class:`SafeDictWriter`; missing
    cells empty), atomically and 0600 (:func:`~pipeline.private.write_private`). Returns the path."""
    buf = io.StringIO()
    w = SafeDictWriter(buf, fieldnames=list(fieldnames), lineterminator=lineterminator, restval="", extrasaction=extrasaction)
    w.writeheader()
    w.writerows(rows)
    return write_private(Path(path), buf.getvalue())


def write_csv(rows: list[dict[str, str]], path: Path) -> Path:
    """The coded segments (:data:`COLUMNS`) as CSV."""
    return write_safe_csv(path, COLUMNS, rows, extrasaction="ignore")


FIXED_TIME = dt.datetime(2020, 1, 1)


def _cut(value: str) -> tuple[str, bool]:
    if len(value) <= EXCEL_CELL_LIMIT:
        return value, False
    return value[: EXCEL_CELL_LIMIT - len(CUT_MARK)] + CUT_MARK, True


def xlsx_cells(row: dict[str, str], columns: list[str]) -> list:
    """One sheet row: numbers as numbers, text cut to Excel's cell limit (the row's flags then say
    ``excel_truncated``)."""
    out: list[int | float | str] = []
    cut_any = False
    for c in columns:
        v = row.get(c, "")
        if c in NUMERIC and v:
            out.append(int(v))
        elif c in FLOATS and v:
            out.append(float(v))
        else:
            v, cut = _cut(str(v))
            cut_any |= cut
            out.append(v)
    if cut_any and "flags" in columns:
        i = columns.index("flags")
        out[i] = ";".join(f for f in (str(out[i]), "excel_truncated") if f)
    return out


def append_strings(ws, values: list) -> None:
    """Append a row whose text cells are string cells, whatever they start with (openpyxl would make a
    text starting with '=' a live formula)."""
    ws.append(values)
    for cell in ws[ws.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"


# The sheet puts what a reader reads first (who said what, and the code) on the left; the CSV keeps COLUMNS.
XLSX_COLUMNS = [
    "segment_id", "document", "speaker", "role", "text", "category", "code", "score", "status", "coder", "memo",
    "flags", "evidence", "question", "study", "codebook", "code_guid", "rank", "start", "end", "start_time", "end_time",
]
XLSX_WIDTHS = {"text": 80, "question": 40, "evidence": 50, "memo": 30, "code": 28, "category": 22, "segment_id": 26,
               "document": 22, "description": 60, "inclusion": 40, "exclusion": 40, "examples": 60}
WRAPPED = {"text", "question", "evidence", "memo", "description", "inclusion", "exclusion", "examples"}
CODEBOOK_COLUMNS = ["codebook", "category", "code", "description", "inclusion", "exclusion", "examples", "code_guid",
                    "proposed", "accepted", "rejected", "added"]


def codebook_rows(codebooks: Iterable[Codebook], rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """One row per code of each codebook (once), with how many export rows have each status for it."""
    from collections import Counter

    counts = Counter((r.get("code_guid", ""), r.get("status", "")) for r in rows if r.get("code_guid"))
    out, seen = [], set()
    for book in codebooks:
        for c in book.codes:
            guid = c.guid(book.name)
            if guid in seen:
                continue
            seen.add(guid)
            out.append({"codebook": book.name, "category": c.category or "", "code": c.name,
                        "description": c.description, "inclusion": c.inclusion, "exclusion": c.exclusion,
                        "examples": "\n".join(c.examples), "code_guid": guid,
                        **{k: str(counts[(guid, k)]) for k in ("proposed", "accepted", "rejected", "added")}})
    return out


def _sheet(ws, columns: list[str], rows: list[dict[str, str]], freeze: str) -> None:
    """Header in bold, frozen, with an autofilter; text columns wrapped and aligned to the top."""
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    ws.append(columns)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    wrap, top = Alignment(wrap_text=True, vertical="top"), Alignment(vertical="top")
    wrapped = {i for i, c in enumerate(columns) if c in WRAPPED}
    for r in rows:
        append_strings(ws, xlsx_cells(r, columns))
        for i, cell in enumerate(ws[ws.max_row]):
            cell.alignment = wrap if i in wrapped else top
    ws.freeze_panes = freeze
    ws.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(ws.max_row, 1)}"
    for i, c in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = XLSX_WIDTHS.get(c, 12)


def write_xlsx(rows: list[dict[str, str]], path: Path, codebooks: Iterable[Codebook] = ()) -> Path:
    """The coded segments (sheet ``coded segments``, text early, wrapped, filterable, header frozen) and,
    when ``codebooks`` are given, their codes (sheet ``codebook``). Same rows, same bytes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "coded segments"
    _sheet(ws, XLSX_COLUMNS, rows, "F2")  # the header and the columns up to the text stay in view
    books = list(codebooks)
    if books:
        _sheet(wb.create_sheet("codebook"), CODEBOOK_COLUMNS, codebook_rows(books, rows), "D2")
    return save_workbook(wb, path)


def save_workbook(wb, path: Path) -> Path:
    """Save an openpyxl workbook so that the same content gives the same bytes: fixed document
    times (openpyxl stamps 'modified' with the clock on save) and fixed zip entry times. Built in
    memory and written atomically (:func:`~pipeline.private.write_private`), so a crash never leaves half
    a workbook."""
    import re
    import zipfile

    wb.properties.created = FIXED_TIME
    wb.properties.creator = "precode"
    saved, fixed = io.BytesIO(), io.BytesIO()
    wb.save(saved)
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(saved) as zin:
        entries = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zout.writestr(info, data)
    return write_private(Path(path), fixed.getvalue())
