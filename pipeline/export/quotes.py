"""Exports for writing up: quotes grouped by theme (Markdown) and a wide segment x code matrix.

Memos in the Markdown, each once: a memo on a decision under the quotation of that coding; a memo on a
segment under the segment's first quotation (later quotations of it point there); memos on segments
quoted nowhere and on decisions that are not codings (a rejection, "no code applies") in a last section,
"Other memos", with their segment.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..project import ProjectData
from ..private import write_private
from ..records import Code, Codebook, Segment
from ..segment import one_line

CONFIRMED = ("accepted", "added")


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def coded_pairs(data: ProjectData, include_proposals: bool = False, coder: str | None = None
                ) -> list[tuple[Segment, Code, str, str]]:
    """(segment, code, status, coder) for confirmed codings, and unconfirmed proposals if asked."""
    segs = {s.id: s for s in data.segments}
    out = []
    code_by_guid = {guid: code for guid, (_book, code) in data.code_index().items()}
    decided = set()
    for (seg_id, guid, who), st in sorted(data.states.items()):
        decided.add((seg_id, guid))
        if coder and who != coder:
            continue
        if st.status in CONFIRMED and seg_id in segs and guid in code_by_guid:
            out.append((segs[seg_id], code_by_guid[guid], st.status, who))
    if include_proposals:
        for s in data.suggestions:
            study = segs[s.segment_id].study if s.segment_id in segs else None
            book = data.codebooks.get(study) if study is not None else None
            if book is None or not s.names_code or (s.segment_id, s.code.guid(book.name)) in decided:
                continue
            out.append((segs[s.segment_id], s.code, "proposed", "precode"))
    order = {s.id: i for i, s in enumerate(data.segments)}
    return sorted(out, key=lambda t: (order[t[0].id], t[1].path, t[3]))


def _books_in_use(data: ProjectData) -> list[tuple[str, Codebook]]:
    """(study, codebook) pairs to report on: each study's codebook, plus codebooks only decisions use."""
    pairs = sorted(data.codebooks.items())
    used = {book.name for _, book in pairs}
    index = data.code_index()
    study_of = {s.id: s.study for s in data.segments}
    for (seg_id, guid, _), _st in sorted(data.states.items()):
        book = index[guid][0] if guid in index else None
        if book is not None and book.name not in used:
            used.add(book.name)
            pairs.append((study_of.get(seg_id) or "", book))
    return pairs


def _who(seg: Segment) -> str:
    speaker = seg.speaker or "participant"
    return f"{speaker}, {seg.role}" if seg.role else speaker


def _memo_lines(memos: list[tuple[str, str, str]]) -> str:
    """Blockquote lines for (coder, what it is on, memo) triples."""
    return "".join(f">\n> *Memo ({who}, {on}):* {one_line(text)}\n" for who, on, text in memos)


def write_markdown(data: ProjectData, path: Path, include_proposals: bool = False, coder: str | None = None) -> Path:
    """Quotations grouped by codebook, category and code, with the memos of the module docstring."""
    pairs = coded_pairs(data, include_proposals, coder)
    seg_memos: dict[str, list] = {}
    for (seg_id, who), m in sorted(data.memos.items()):
        if coder is None or who == coder:
            seg_memos.setdefault(seg_id, []).append(m)
    memo_placed: dict[str, str] = {}  # segment -> the code its memo is shown under
    shown_decisions: set[tuple[str, str, str]] = set()
    index = data.code_index()
    buf = io.StringIO()
    buf.write("# Coded quotations\n\n")
    n_conf = sum(1 for p in pairs if p[2] in CONFIRMED)
    buf.write(f"{n_conf} confirmed codings" + (f" by {coder}" if coder else "") + ".")
    if include_proposals:
        buf.write(f" Also {len(pairs) - n_conf} machine proposals **not confirmed by a person**, marked *(proposed)*.")
    buf.write("\n")
    for study, book in _books_in_use(data):
        buf.write(f"\n## {study} — {book.title or book.name}\n")
        cats = [c.name for c in book.categories] + [None]
        for cat in cats:
            codes = [c for c in book.codes if c.category == cat]
            if cat:
                buf.write(f"\n### {cat}\n")
            for code in codes:
                quotes = [p for p in pairs if p[1] == code and (p[0].study == study or study not in data.codebooks)]
                if not quotes:
                    continue
                buf.write(f"\n{'####' if cat else '###'} {code.name} ({_n(len({q[0].id for q in quotes}), 'segment')})\n\n")
                if code.description:
                    buf.write(f"*{one_line(code.description)}*\n\n")
                guid = code.guid(book.name)
                by_seg: dict[str, list] = {}
                for q in quotes:
                    by_seg.setdefault(q[0].id, []).append(q)
                for rows in by_seg.values():
                    seg = rows[0][0]
                    mark = " *(proposed)*" if all(status == "proposed" for _, _, status, _ in rows) else ""
                    buf.write(f"> \"{one_line(seg.text)}\" — {_who(seg)} ({seg.document_id}){mark}\n")
                    memos = []
                    for _, _, status, who in rows:
                        st = data.states.get((seg.id, guid, who))
                        if status in CONFIRMED and st is not None and st.memo:
                            memos.append((who, "on this coding", st.memo))
                            shown_decisions.add((seg.id, guid, who))
                    if seg.id in seg_memos and seg.id not in memo_placed:
                        memo_placed[seg.id] = code.path
                        memos += [(m.coder, "on the segment", m.memo) for m in seg_memos[seg.id]]
                    elif seg.id in seg_memos and memo_placed[seg.id] != code.path:
                        buf.write(f">\n> *(a memo on this segment is under {memo_placed[seg.id]})*\n")
                    buf.write(_memo_lines(memos) + "\n")
    other = _other_memos(data, coder, seg_memos, memo_placed, shown_decisions, index)
    if other:
        buf.write("\n## Other memos\n\nOn segments not quoted above, and on decisions that are not codings.\n\n")
        buf.write("\n".join(other))
    return write_private(path, buf.getvalue())


def _other_memos(data: ProjectData, coder: str | None, seg_memos: dict, placed: dict, shown: set, index: dict) -> list[str]:
    """One blockquote per segment whose memos (segment memos, memos on rejections and "no code applies")
    no quotation above carries, in document order."""
    from ..decisions import NO_CODE, NO_CODE_NAME

    memos: dict[str, list[tuple[str, str, str]]] = {}
    for seg_id, ms in seg_memos.items():
        if seg_id not in placed:
            memos.setdefault(seg_id, []).extend((m.coder, "on the segment", m.memo) for m in ms)
    for (seg_id, guid, who), st in sorted(data.states.items()):
        if not st.memo or (seg_id, guid, who) in shown or (coder and who != coder):
            continue
        if guid == NO_CODE:
            on = NO_CODE_NAME
        else:
            code = index.get(guid, (None, None))[1]
            on = f"{st.status} {code.path if code is not None else guid}"
        memos.setdefault(seg_id, []).append((who, on, st.memo))
    out = []
    for seg in data.segments:
        if seg.id in memos:
            out.append(f"> \"{one_line(seg.text)}\" — {_who(seg)} ({seg.document_id})\n" + _memo_lines(memos[seg.id]))
    return out


def write_matrix(data: ProjectData, path: Path, include_proposals: bool = False, coder: str | None = None) -> Path:
    """One row per coded segment, one 0/1 column per code (confirmed codings; proposals if asked)."""
    pairs = coded_pairs(data, include_proposals, coder)
    columns: list[str] = []
    for _study, book in _books_in_use(data):
        for c in book.codes:
            key = f"{book.name}:{c.path}"
            if key not in columns:
                columns.append(key)
    book_of_code = {id(code): book.name for book, code in data.code_index().values()}
    marks: dict[str, set[str]] = {}
    for seg, code, _, _ in pairs:
        marks.setdefault(seg.id, set()).add(f"{book_of_code.get(id(code), '')}:{code.path}")
    buf = io.StringIO()
    from .table import SafeWriter, neutralise  # cells are data, never formulas

    w = SafeWriter(buf, lineterminator="\n")
    w.writerow(["segment_id", "study", "document", "speaker", "role", "text", *map(neutralise, columns)])
    for seg in data.segments:
        if not seg.coded:
            continue
        m = marks.get(seg.id, set())
        w.writerow([*map(neutralise, (seg.id, seg.study or "", seg.document_id, seg.speaker or "", seg.role or "", seg.text)),
                    *("1" if c in m else "0" for c in columns)])
    return write_private(path, buf.getvalue())
