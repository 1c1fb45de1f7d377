"""Between a precode project store and REFI-QDA files (.qdpx projects, .qdc codebooks)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..codebook import codebook_to_dict
from ..decisions import load as load_decisions
from ..errors import PrecodeError
from ..project import ProjectData
from ..records import Codebook, Decision, Segment, text_sha
from ..memos import SegmentMemo, current_memos
from ..refi import MACHINE_USER, RefiCoding, RefiMemo, RefiProject, read_qdpx, write_qdc, write_qdpx
from ..segment import segment_document
from ..store import Store

CONFIRMED = ("accepted", "added")


def _codebooks(data: ProjectData) -> list[Codebook]:
    seen: dict[str, Codebook] = {}
    for book, _code in data.code_index().values():
        seen.setdefault(book.name, book)
    return [seen[k] for k in sorted(seen)]


def project_to_refi(data: ProjectData, decision_times: dict[int, str] | None = None, coder: str | None = None,
                    include_proposals: bool = False, name: str = "precode project") -> RefiProject:
    """Confirmed codings (accepted/added) of every coder, and precode's open proposals if asked."""
    segs = {s.id: s for s in data.segments}
    times = decision_times or {}
    codings: list[RefiCoding] = []
    decided = set()
    for (seg_id, guid, who), st in sorted(data.states.items()):
        decided.add((seg_id, guid))
        if st.status not in CONFIRMED or seg_id not in segs or (coder and who != coder):
            continue
        seg = segs[seg_id]
        codings.append(RefiCoding(seg.document_id, seg.start, seg.end, guid, who, times.get(st.decision_id or 0), st.memo))
    if include_proposals:
        for s in data.suggestions:
            proposed = segs.get(s.segment_id)
            book = data.codebooks.get(proposed.study) if proposed is not None and proposed.study is not None else None
            if proposed is None or book is None or not s.names_code or (proposed.id, s.code.guid(book.name)) in decided:
                continue
            codings.append(RefiCoding(proposed.document_id, proposed.start, proposed.end, s.code.guid(book.name), MACHINE_USER))
    users = sorted({c.coder for c in codings})
    return RefiProject(name, data.documents, _codebooks(data), codings, users)


def export_qdpx(data: ProjectData, target: Path, coder: str | None = None, include_proposals: bool = False,
                store_path: Path | None = None, notes: list[str] | None = None) -> Path:
    """Write the project as a .qdpx; problems the user should know of (renamed codes, ...) go to ``notes``."""
    times: dict[int, str] = {}
    kept: list[dict] = []
    memos: dict[tuple[str, str], SegmentMemo] = {}
    if store_path is not None:
        with Store(store_path) as st:
            times = {d.id: d.time for d in load_decisions(st) if d.id is not None}
            kept = [m["refi"] for _, m in sorted(st.study_metadata().items()) if isinstance(m.get("refi"), dict)]
            memos = current_memos(st, coder)
    names = {str(k["name"]) for k in kept if k.get("name")}
    project = project_to_refi(data, times, coder, include_proposals, name=names.pop() if len(names) == 1 else target.stem)
    segs = {s.id: s for s in data.segments}
    project.memos = [RefiMemo(segs[m.segment_id].document_id, segs[m.segment_id].start, segs[m.segment_id].end,
                              m.coder, m.memo, m.time) for m in memos.values() if m.segment_id in segs]
    project.extras, project.description = _merge_kept(kept), "\n\n".join(k["description"] for k in kept if k.get("description"))
    said = write_qdpx(project, target, include_machine_user=include_proposals)
    if notes is not None:
        notes += said
    return target


def _merge_kept(kept: list[dict]) -> dict:
    """The REFI parts kept by each import (``RefiProject.extras``), as one."""
    out: dict = {}
    for k in kept:
        for key, value in (k.get("extras") or {}).items():
            if isinstance(value, dict):
                out.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                out.setdefault(key, []).extend(v for v in value if v not in out.get(key, []))
    return out


def export_qdc(data: ProjectData, target: Path, notes: list[str] | None = None) -> Path:
    books = _codebooks(data)
    if not books:
        raise PrecodeError("the project has no codebook")
    said = write_qdc(books if len(books) > 1 else books[0], target)
    if notes is not None:
        notes += said
    return target


def span_segment(doc, start: int, end: int, study: str) -> Segment:
    """A segment exactly on an imported coding's span, so the coding round-trips unchanged.

    Speaker and turn come from the turn the span starts in, where the text has speaker labels.
    """
    turn = next((t for t in doc.turns if t.start <= start < max(t.end, t.start + 1)), None)
    return Segment(id=f"{doc.id}#c{start}-{end}", document_id=doc.id, unit="span",
                   turn_index=turn.index if turn else -1, start=start, end=end, text=doc.text[start:end],
                   speaker=turn.speaker if turn else None, role=None, coded=True, study=study)


def import_qdpx(path: Path, store_path: Path, study: str | None = None, codebook_name: str | None = None,
                offsets: str = "auto") -> dict:
    """A REFI-QDA project becomes (or joins) a precode project; its codings become human decisions.

    Documents are segmented into turns (for proposing later), and every coding gets a segment on its
    exact span with an ``add`` decision by the REFI user who made it. Returns a summary.
    """
    project = read_qdpx(path, codebook_name=codebook_name, offset_unit=offsets)
    study = study or project.name
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    with Store(store_path) as st:
        st.save_study(study, {"imported_from": str(path), "origin": project.origin,
                              "refi": {"name": project.name, "description": project.description, "extras": project.extras}})
        for book in project.codebooks:
            st.save_codebook(book, codebook_to_dict(book))
        texts = {d.id: d.text for d in project.documents}
        docs = {d.id: d for d in project.documents}
        spans: dict[str, list[Segment]] = {}
        marked: list[RefiCoding | RefiMemo] = [*project.codings, *project.memos]
        for c in marked:  # a segment on each coded or memoed span
            seg = span_segment(docs[c.document_id], c.start, c.end, study)
            spans.setdefault(c.document_id, [])
            if seg.id not in {s.id for s in spans[c.document_id]}:
                spans[c.document_id].append(seg)
        for doc in project.documents:
            turns = segment_document(doc, "turn", study=study) if doc.turns else []
            st.save_document(doc, study, turns + spans.get(doc.id, []))
        existing = st.decision_keys()
        new = []
        for c in project.codings:
            seg_id = f"{c.document_id}#c{c.start}-{c.end}"
            if (seg_id, c.code_guid, c.coder) in existing:
                continue  # importing the same file twice adds nothing
            new.append(Decision(seg_id, text_sha(texts[c.document_id][c.start:c.end]), c.code_guid, "add", c.coder,
                                c.created or now, c.memo))
            existing.add((seg_id, c.code_guid, c.coder))
        added = st.append_decisions(new)
        standing = current_memos(st)
        memos_added = 0
        for m in project.memos:  # memos on spans (REFI Notes on selections): precode's segment memos
            seg = span_segment(docs[m.document_id], m.start, m.end, study)
            text = " ".join(m.text.split())
            if standing.get((seg.id, m.coder)) and standing[(seg.id, m.coder)].memo == text:
                continue  # importing the same file twice adds nothing
            st.append_segment_memo(seg.id, text_sha(seg.text), m.coder, m.created or now, text)
            memos_added += 1
    return {"study": study, "documents": len(project.documents), "codes": sum(len(b.codes) for b in project.codebooks),
            "codings": len(project.codings), "decisions_added": added, "memos": len(project.memos),
            "memos_added": memos_added, "users": project.users,
            "warnings": project.warnings, "unknown": project.unknown,
            "offsets": project.offset_unit, "offsets_reason": project.offset_reason}
