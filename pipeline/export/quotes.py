"""Exports for writing up: quotes grouped by theme (Markdown) and a wide segment x code matrix."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from ..project import ProjectData
from ..records import Code, Segment
from ..segment import one_line

CONFIRMED = ("accepted", "added")


def coded_pairs(data: ProjectData, include_proposals: bool = False, coder: str | None = None
                ) -> list[tuple[Segment, Code, str, str]]:
    """(segment, code, status, coder) for confirmed codings, and unconfirmed proposals if asked."""
    segs = {s.id: s for s in data.segments}
    out = []
    code_by_guid = {}
    for study, book in data.codebooks.items():
        for c in book.codes:
            code_by_guid[c.guid(book.name)] = c
    decided = set()
    for (seg_id, guid, who), st in sorted(data.states.items()):
        decided.add((seg_id, guid))
        if coder and who != coder:
            continue
        if st.status in CONFIRMED and seg_id in segs and guid in code_by_guid:
            out.append((segs[seg_id], code_by_guid[guid], st.status, who))
    if include_proposals:
        for s in data.suggestions:
            book = data.codebooks.get(segs[s.segment_id].study) if s.segment_id in segs else None
            if book is None or "uncoded" in s.flags or (s.segment_id, s.code.guid(book.name)) in decided:
                continue
            out.append((segs[s.segment_id], s.code, "proposed", "precode"))
    order = {s.id: i for i, s in enumerate(data.segments)}
    return sorted(out, key=lambda t: (order[t[0].id], t[1].path, t[3]))


def write_markdown(data: ProjectData, path: Path, include_proposals: bool = False, coder: str | None = None) -> Path:
    pairs = coded_pairs(data, include_proposals, coder)
    buf = io.StringIO()
    buf.write("# Coded quotations\n\n")
    n_conf = sum(1 for p in pairs if p[2] in CONFIRMED)
    buf.write(f"{n_conf} confirmed codings" + (f" by {coder}" if coder else "") + ".")
    if include_proposals:
        buf.write(f" Also {len(pairs) - n_conf} machine proposals **not confirmed by a person**, marked *(proposed)*.")
    buf.write("\n")
    for study, book in sorted(data.codebooks.items()):
        buf.write(f"\n## {study} — {book.title or book.name}\n")
        cats = [c.name for c in book.categories] + [None]
        for cat in cats:
            codes = [c for c in book.codes if c.category == cat]
            if cat:
                buf.write(f"\n### {cat}\n")
            for code in codes:
                quotes = [p for p in pairs if p[1] == code and p[0].study == study]
                if not quotes:
                    continue
                buf.write(f"\n{'####' if cat else '###'} {code.name} ({len({q[0].id for q in quotes})} segments)\n\n")
                if code.description:
                    buf.write(f"*{one_line(code.description)}*\n\n")
                seen = set()
                for seg, _, status, who in quotes:
                    if seg.id in seen:
                        continue
                    seen.add(seg.id)
                    speaker = seg.speaker or "participant"
                    who_txt = f"{speaker}, {seg.role}" if seg.role else speaker
                    mark = " *(proposed)*" if status == "proposed" else ""
                    buf.write(f"> \"{one_line(seg.text)}\" — {who_txt} ({seg.document_id}){mark}\n\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def write_matrix(data: ProjectData, path: Path, include_proposals: bool = False, coder: str | None = None) -> Path:
    """One row per coded segment, one 0/1 column per code (confirmed codings; proposals if asked)."""
    pairs = coded_pairs(data, include_proposals, coder)
    columns: list[str] = []
    for study, book in sorted(data.codebooks.items()):
        for c in book.codes:
            key = f"{book.name}:{c.path}"
            if key not in columns:
                columns.append(key)
    book_of = {study: book.name for study, book in data.codebooks.items()}
    marks: dict[str, set[str]] = {}
    for seg, code, _, _ in pairs:
        marks.setdefault(seg.id, set()).add(f"{book_of.get(seg.study, '')}:{code.path}")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["segment_id", "study", "document", "speaker", "role", "text", *columns])
    for seg in data.segments:
        if not seg.coded:
            continue
        m = marks.get(seg.id, set())
        w.writerow([seg.id, seg.study or "", seg.document_id, seg.speaker or "", seg.role or "", seg.text,
                    *("1" if c in m else "0" for c in columns)])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path
