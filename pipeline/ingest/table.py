"""Spreadsheets (.csv, .tsv, .xlsx): one row per turn or per open-ended answer.

A ``text`` column is required. Recognised columns (case-insensitive): ``id`` (becomes the segment
id), ``speaker``, ``role``, ``start``/``timestamp``, ``end``, ``question``. Every other column is
kept as metadata of the row. The document text is rebuilt as one paragraph per row
(``speaker: text`` where there is a speaker) and offsets refer to it.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..records import Turn
from ..safety import ZipLimits, open_container
from .text import parse_timestamp

ALIASES = {
    "text": ("text", "utterance", "utterance_text", "answer", "response"),
    "id": ("id", "segment_id", "row_id"),
    "speaker": ("speaker", "interlocutor", "name"),
    "role": ("role", "speaker_role", "participant_role"),
    "start": ("start", "timestamp", "start_time", "time"),
    "end": ("end", "end_time"),
    "question": ("question", "prompt"),
}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _time(value: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return parse_timestamp(value)


def unquote_formula(cell: str) -> str:
    """Undo the ``'`` precode's CSV exports put before a cell starting ``= + - @`` (so that a spreadsheet
    does not run it): an export read back (training, evaluation) gives the text as it was."""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\n") and len(cell) > 1 else cell


def _delimiter(text: str, path: Path) -> str:
    """The delimiter, read off the header line (a transcript's text cells would mislead a sniffer).
    Quoting always follows RFC 4180 (doubled quotes inside quoted fields)."""
    if path.suffix.lower() == ".tsv":
        return "\t"
    first = text.split("\n", 1)[0]
    if "," not in first and ("\t" in first or ";" in first):
        return "\t" if first.count("\t") >= first.count(";") else ";"
    return ","


def rows_from_csv(text: str, path: Path) -> list[dict[str, str]]:
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, path), quotechar='"',
                            doublequote=True, strict=False)
        rows = list(reader)
    except csv.Error as err:
        raise InputError(path, f"malformed CSV: {err}") from None
    if not rows:
        raise InputError(path, "the table has no rows")
    header = [h.strip().lower() for h in rows[0]]
    extra = [n for n, r in enumerate(rows[1:], start=2) if len(r) > len(header) and any(c.strip() for c in r[len(header):])]
    if extra:
        raise InputError(path, f"row {extra[0]} has more cells than the header ({len(header)} columns)"
                               f"{f' and {len(extra) - 1} more rows too' if len(extra) > 1 else ''}; "
                               "is a field's text unquoted?")
    return [dict(zip(header, (unquote_formula(c.strip()).strip() for c in r))) for r in rows[1:] if any(c.strip() for c in r)]


def rows_from_xlsx(data: bytes, path: Path, limits: ZipLimits | None = None) -> list[dict[str, str]]:
    """The first sheet's rows as dicts (lower-cased header), the workbook read through the capped zip reader."""
    package = open_container(data, path, limits, ".xlsx")
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - a dependency
        raise InputError(path, "openpyxl is not installed (pip install openpyxl)") from None
    try:
        wb = openpyxl.load_workbook(package, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as err:
        raise InputError(path, f"not a readable .xlsx file (damaged or not a workbook: {err.__class__.__name__})") from None
    except Exception as err:  # openpyxl raises assorted errors on damaged packages
        raise InputError(path, f"not a readable .xlsx file ({err.__class__.__name__}: {err})") from None
    try:
        ws = wb.worksheets[0]
        it = ws.iter_rows(values_only=True)
        header_row = next(it, None)
        if header_row is None:
            raise InputError(path, "the first sheet is empty")
        header = [_cell(h).lower() for h in header_row]
        rows = []
        for r in it:
            cells = [_cell(v) for v in r]
            if any(cells):
                rows.append(dict(zip(header, cells)))
        return rows
    finally:
        wb.close()


def _column(header: list[str], key: str) -> str | None:
    return next((h for h in ALIASES[key] if h in header), None)


def rows_to_turns(rows: list[dict[str, str]], path: Path) -> tuple[str, list[Turn], list[str]]:
    if not rows:
        raise InputError(path, "the table has a header but no rows")
    header = list(rows[0].keys())
    cols = {k: _column(header, k) for k in ALIASES}
    if cols["text"] is None:
        raise InputError(path, f"no 'text' column (columns are: {', '.join(h for h in header if h) or 'none'})")
    known = {c for c in cols.values() if c}
    parts: list[str] = []
    turns: list[Turn] = []
    warnings: list[str] = []
    seen_ids: set[str] = set()
    pos = 0
    for row_no, row in enumerate(rows, start=2):
        body = " ".join(row.get(cols["text"], "").split())
        if not body:
            continue
        speaker = row.get(cols["speaker"], "") if cols["speaker"] else ""
        label = f"{speaker}: " if speaker else ""
        start = pos + len(label)
        end = start + len(body)
        parts.append(label + body)
        pos = end + 2
        row_id = row.get(cols["id"], "") if cols["id"] else ""
        if row_id and row_id in seen_ids:
            warnings.append(f"row {row_no}: duplicate id '{row_id}' (kept as '{row_id}~{row_no}')")
            row_id = f"{row_id}~{row_no}"
        if row_id:
            seen_ids.add(row_id)
        meta: dict[str, Any] = {k: v for k, v in row.items() if k and k not in known and v != ""}
        if cols["question"] and row.get(cols["question"]):
            meta["question"] = row[cols["question"]]
        meta["row"] = row_no
        turns.append(
            Turn(
                index=len(turns),
                speaker=speaker or None,
                role=(row.get(cols["role"]) or None) if cols["role"] else None,
                start=start,
                end=end,
                text=body,
                start_time=_time(row.get(cols["start"], "")) if cols["start"] else None,
                end_time=_time(row.get(cols["end"], "")) if cols["end"] else None,
                turn_id=row_id or None,
                paragraphs=((start, end),),
                metadata=meta,
            )
        )
    if not turns:
        raise InputError(path, "every row's 'text' is empty")
    return "\n\n".join(parts) + "\n", turns, warnings


def read_table(path: str | Path, max_mb: float = 50.0, what: str = "") -> list[dict[str, str]]:
    """Rows of a .csv/.tsv/.xlsx file as dicts with lower-cased column names. InputError if unreadable."""
    from .decode import decode_text, read_bytes

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".csv", ".tsv", ".xlsx"):
        raise InputError(path, f"unsupported {what + ' ' if what else ''}file type '{ext or '(none)'}' (use .csv, .tsv or .xlsx)")
    data = read_bytes(path, max_mb)
    if ext == ".xlsx":
        rows = rows_from_xlsx(data, path)
    else:
        rows = rows_from_csv(decode_text(data, path)[0], path)
    if not rows:
        raise InputError(path, "the table has a header but no rows")
    return rows
