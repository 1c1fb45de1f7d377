"""Coded segments as CSV and XLSX: one row per (segment, proposed code), best first.

Rows are written in document order, then rank; numbers are formatted with fixed precision so the
same run gives byte-identical files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import Iterable

from ..records import Codebook, Segment, Suggestion

COLUMNS = [
    "segment_id", "study", "document", "speaker", "role", "start", "end", "start_time", "end_time",
    "question", "text", "codebook", "category", "code", "code_guid", "score", "rank", "flags", "evidence",
    "status", "coder", "memo",
]


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
    by_guid: dict[str, tuple[str, object]] = {}
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
            if guid in shown or guid not in by_guid:
                continue
            book_name, code = by_guid[guid]
            for st in sts:
                rows.append({**base, "codebook": book_name, "category": code.category or "", "code": code.name, "code_guid": guid,
                             "score": "", "rank": "", "flags": f"orphaned:{code.retired}" if code.retired else "",
                             "evidence": "", "status": st.status,
                             "coder": st.coder, "memo": st.memo})
    return rows


def write_csv(rows: list[dict[str, str]], path: Path) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore", restval="")
    w.writeheader()
    w.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(path)
    return path


FIXED_TIME = dt.datetime(2020, 1, 1)


def write_xlsx(rows: list[dict[str, str]], path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "coded segments"
    ws.append(COLUMNS)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    numeric = {"start", "end", "rank"}
    floats = {"score", "start_time", "end_time"}
    for r in rows:
        ws.append([
            int(v) if c in numeric and v else float(v) if c in floats and v else v
            for c, v in ((c, r.get(c, "")) for c in COLUMNS)
        ])
    ws.freeze_panes = "A2"
    widths = {"text": 80, "question": 40, "evidence": 50, "code": 28, "category": 22, "segment_id": 26}
    for i, c in enumerate(COLUMNS, start=1):
        ws.column_dimensions[ws.cell(1, i).column_letter].width = widths.get(c, 14)
    return save_workbook(wb, path)


def save_workbook(wb, path: Path) -> Path:
    """Save an openpyxl workbook so that the same content gives the same bytes: fixed document
    times (openpyxl stamps 'modified' with the clock on save) and fixed zip entry times. Written to
    a temporary file first, so a crash never leaves half a workbook."""
    import re
    import zipfile

    wb.properties.created = FIXED_TIME
    wb.properties.creator = "precode"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    wb.save(tmp)
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(tmp) as zin:
        entries = [(i.filename, zin.read(i.filename)) for i in zin.infolist()]
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            zout.writestr(info, data)
    tmp.replace(path)
    return path
