"""Redacted tables: a .csv/.tsv/.xlsx input is written back in its own format, same columns, same rows.

The ``text`` and ``speaker`` cells of a row come from the redacted document (so a table and a
transcript are redacted by the same rules, with the whole table as context); the ``id`` cell goes
through the key's :class:`~.filenames.Scrubber`; every other non-empty cell (role, question, site,
free comments) is redacted as a short text with the same key. Numbers and dates that hold no
identifier keep their type; other sheets of a workbook are redacted cell by cell too.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Callable

from ..ingest.decode import decode_text, read_bytes
from ..ingest.table import ALIASES, _cell, _delimiter
from .batch import Redacted

TABLE_EXTS = (".csv", ".tsv", ".xlsx")


def is_table(path: str | Path) -> bool:
    return Path(path).suffix.lower() in TABLE_EXTS


def _columns(header: list[str]) -> dict[str, str | None]:
    return {k: next((h for h in names if h in header), None) for k, names in ALIASES.items()}


class _RowRedactor:
    """Cell values of one sheet: rows with a turn take the redacted turn's values."""

    def __init__(self, header: list[str], res: Redacted, redact_cell: Callable[[str], str], scrub: Callable[[str], str]):
        self.keys = [h.strip().lower() for h in header]
        self.cols = _columns(self.keys)
        self.turns = {t.metadata.get("row"): t for t in res.doc.turns}
        self.redact_cell, self.scrub = redact_cell, scrub

    def row(self, row_no: int, cells: list[Any]) -> list[Any]:
        t = self.turns.get(row_no)
        out = []
        for j, value in enumerate(cells):
            k = self.keys[j] if j < len(self.keys) else ""
            out.append(self.cell(t, k, value))
        return out

    def cell(self, t, k: str, value: Any) -> Any:
        text = _cell(value)
        if not text:
            return value
        new = self._new(t, k, text)
        return value if new == text else new  # unchanged: the original value, its type too (numbers, dates)

    def _new(self, t, k: str, text: str) -> str:
        c = self.cols
        if k and k == c["id"]:
            return self.scrub(text)
        if t is not None and k:
            if k == c["text"]:
                return t.text
            if k == c["speaker"]:
                return t.speaker or ""
            if k == c["question"] and "question" in t.metadata:
                return str(t.metadata["question"])
            if k in (c["start"], c["end"], c["role"]):
                return self.scrub(text)
            if k in t.metadata and k != "row":
                return str(t.metadata[k])
        return self.redact_cell(text)


def write_table(source: Path, res: Redacted, out_path: Path, redact_cell: Callable[[str], str],
                scrub: Callable[[str], str], max_mb: float = 50.0) -> Path:
    """Write the redacted copy of table ``source`` (already read and redacted as ``res``) to ``out_path``."""
    if source.suffix.lower() == ".xlsx":
        return _write_xlsx(source, res, out_path, redact_cell, scrub)
    text, _ = decode_text(read_bytes(source, max_mb), source)
    delim = _delimiter(text, source)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim, quotechar='"', doublequote=True, strict=False))
    header = rows[0] if rows else []
    rr = _RowRedactor(header, res, redact_cell, scrub)
    out = [[scrub(h) for h in header]]
    row_no = 1
    for r in rows[1:]:
        if any(c.strip() for c in r):
            row_no += 1  # numbered as the reader numbers them: blank rows do not count
            out.append(rr.row(row_no, r))
        else:
            out.append(r)
    buf = io.StringIO()
    csv.writer(buf, delimiter=delim, lineterminator="\r\n").writerows(out)
    out_path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    return out_path


def _write_xlsx(source: Path, res: Redacted, out_path: Path, redact_cell, scrub) -> Path:
    import openpyxl

    wb = openpyxl.load_workbook(source, data_only=True)
    new = openpyxl.Workbook()
    new.remove(new.active)
    for n, ws in enumerate(wb.worksheets):
        target = new.create_sheet(title=scrub(ws.title)[:31] or f"Sheet{n + 1}")
        rows = list(ws.iter_rows(values_only=True))
        if n == 0 and rows:
            header = [_cell(h) for h in rows[0]]
            rr = _RowRedactor(header, res, redact_cell, scrub)
            target.append([scrub(h) if isinstance(h, str) else h for h in rows[0]])
            row_no = 1
            for r in rows[1:]:
                if any(_cell(v) for v in r):
                    row_no += 1
                    target.append(rr.row(row_no, list(r)))
                else:
                    target.append(list(r))
        else:  # other sheets: every cell on its own
            for r in rows:
                target.append([_loose(v, redact_cell) for v in r])
    wb.close()
    new.save(out_path)
    return out_path


def _loose(value: Any, redact_cell: Callable[[str], str]) -> Any:
    text = _cell(value)
    if not text:
        return value
    red = redact_cell(text)
    return value if red == text else red
