"""A review session over a project store: what to show, in which order, and recording decisions.

Both front ends (terminal and web page) are thin layers over :class:`ReviewSession`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import decisions as dec
from ..store import Store, StoreError


@dataclass(frozen=True)
class CodeInfo:
    guid: str
    codebook: str
    category: str | None
    name: str
    description: str
    retired: str = ""  # "" in use; else the codebook change that took it out of use (renamed, merged, retired, ...)

    @property
    def path(self) -> str:
        return f"{self.category}/{self.name}" if self.category else self.name


@dataclass
class Proposal:
    code: CodeInfo
    score: float | None  # None for a code the coder added
    rank: int | None
    flags: list[str]
    evidence: str
    status: str  # proposed | accepted | rejected | added (for this coder)
    learned: bool | None = None  # live proposal: True = learned head, False = zero-shot; None = the run's proposal


@dataclass
class ReviewItem:
    segment_id: str
    document_id: str
    study: str | None
    speaker: str | None
    role: str | None
    text: str
    start: int
    end: int
    start_time: float | None
    question: str | None
    previous: str | None  # previous turn's text (any speaker)
    next: str | None
    proposals: list[Proposal] = field(default_factory=list)

    @property
    def reviewed(self) -> bool:
        return any(p.status != "proposed" for p in self.proposals)

    @property
    def margin(self) -> float:
        """Gap between the two best proposal scores: small = uncertain = teaches most."""
        s = sorted((p.score for p in self.proposals if p.score is not None), reverse=True)
        if not s:
            return 1.0
        return s[0] - (s[1] if len(s) > 1 else 0.0)


@dataclass(frozen=True)
class Filters:
    code: str | None = None  # substring of a proposed code's path
    document: str | None = None
    role: str | None = None
    flag: str | None = None
    status: str | None = None  # proposed | accepted | rejected | added | reviewed | unreviewed

    def keep(self, item: ReviewItem) -> bool:
        if self.document and self.document.casefold() not in item.document_id.casefold():
            return False
        if self.role and (item.role or "").casefold() != self.role.casefold():
            return False
        if self.code and not any(self.code.casefold() in p.code.path.casefold() for p in item.proposals):
            return False
        if self.flag and not any(self.flag in p.flags for p in item.proposals):
            return False
        if self.status == "reviewed":
            return item.reviewed
        if self.status == "unreviewed":
            return not item.reviewed
        if self.status and not any(p.status == self.status for p in item.proposals):
            return False
        return True


class ReviewSession:
    """Items of the latest run of a project, the coder's decisions applied, and actions on them."""

    def __init__(self, store_path: str | Path, coder: str, filters: Filters | None = None, order: str = "document",
                 learn: bool = True, embedder=None):
        """``learn``: refit the proposer after every decision of this coder and re-propose for the
        segments not reviewed yet (:mod:`pipeline.review.live`); ``embedder`` is used only when a
        vector is missing from the project's cache."""
        if not coder.strip():
            raise StoreError("a coder name is needed (--coder NAME)")
        if order not in ("document", "uncertainty"):
            raise StoreError(f"unknown order '{order}' (document or uncertainty)")
        self.store_path = Path(store_path)
        if not self.store_path.exists():
            raise StoreError(f"{self.store_path}: no project store here (run `precode run CONFIG` first)")
        self.coder = coder
        self.filters = filters or Filters()
        self.order = order
        self.store = Store(self.store_path).open()
        self.codes = self._codes()
        self.learner = None
        self._embedder = embedder
        if learn:
            from .live import LiveLearner

            self.learner = LiveLearner(self.store_path, coder, embedder, store=self.store)
        self.reload()

    def close(self) -> None:
        self.store.close()

    # -- loading ---------------------------------------------------------------------------------
    def _codes(self) -> dict[str, CodeInfo]:
        # code guid -> (where its decisions now belong, or None when orphaned; the change), for codes out of use
        self.resolution = self.store.code_resolution()
        codes = {r.guid: CodeInfo(r.guid, r.codebook, r.category, r.name, r.description,
                                  self.resolution.get(r.guid, (None, ""))[1]) for r in self.store.code_rows()}
        # the "no code applies" decision shows on the screens like a code (never in the lists of codes)
        codes[dec.NO_CODE] = CodeInfo(dec.NO_CODE, "", None, dec.NO_CODE_NAME, "no code of the codebook fits this segment")
        return codes

    def codes_for(self, study: str | None) -> list[CodeInfo]:
        """The codes in use in the codebook used for ``study`` (all codes in use if unknown)."""
        name = self.store.codebook_of_study(study)
        return [c for c in self.codes.values() if not c.retired and c.guid != dec.NO_CODE
                and (name is None or c.codebook == name)]

    def _follow(self, guid: str) -> str | None:
        """The code a proposal on ``guid`` now names (through renames and merges); None when retired or split."""
        return self.resolution[guid][0] if guid in self.resolution else guid

    def reload(self) -> None:
        segs = self.store.segment_rows()
        turn_text: dict[tuple[str, int], str] = {}
        for r in segs:
            key = (r.document_id, r.turn_index)
            turn_text[key] = turn_text.get(key, "") + (" " if turn_text.get(key) else "") + r.text
        props: dict[str, list[Proposal]] = {}
        for row in self.store.latest_suggestion_rows():
            guid = self._follow(row.code_guid)  # a code renamed or merged since the run: proposed under its new code
            plist = props.setdefault(row.segment_id, [])
            if guid in self.codes and all(p.code.guid != guid for p in plist):
                plist.append(Proposal(self.codes[guid], row.score, row.rank, row.flag_list, row.evidence, "proposed"))
        state = dec.current_state(dec.load(self.store, self.coder))
        # a decision on a code split since is kept (an orphan) but the segment is to be reviewed again
        split = {g for g, (to, kind) in self.store.code_resolution().items() if to is None and kind == "split"}
        by_seg: dict[str, dict[str, str]] = {}
        for (seg_id, guid, _), st in state.items():
            if guid not in split:
                by_seg.setdefault(seg_id, {})[guid] = st.status
        items = []
        for r in segs:
            if not r.coded:
                continue
            seg_id = r.id
            plist = props.get(seg_id, [])
            decided = by_seg.get(seg_id, {})
            for p in plist:
                p.status = decided.get(p.code.guid, "proposed")
            shown = {p.code.guid for p in plist}
            for guid, status in decided.items():
                if guid not in shown and guid in self.codes:
                    plist.append(Proposal(self.codes[guid], None, None, [], "", status))
            items.append(ReviewItem(
                seg_id, r.document_id, r.study, r.speaker, r.role, r.text, r.start, r.end, r.start_time, r.question,
                turn_text.get((r.document_id, r.turn_index - 1)), turn_text.get((r.document_id, r.turn_index + 1)), plist))
        self._run_proposals = {i.segment_id: list(i.proposals) for i in items}
        self.items = items
        if self.learner is not None:
            self.learner.refit(state.values())
            self._apply_live()
        items = [i for i in self.items if self.filters.keep(i)]
        if self.order == "uncertainty":
            items.sort(key=lambda i: (i.reviewed, i.margin))  # stable: document order breaks ties
        self.items = items

    # -- learning while reviewing ----------------------------------------------------------------
    def _apply_live(self) -> None:
        """Unreviewed items show the live learner's proposals (or the run's, while nothing is learned)."""
        learner = self.learner if self.learner is not None and self.learner.active else None
        for item in self.items:
            if item.reviewed:
                continue
            live = learner.proposals(item.segment_id) if learner is not None else None
            if live is None:
                item.proposals = [Proposal(p.code, p.score, p.rank, list(p.flags), p.evidence, "proposed")
                                  for p in self._run_proposals.get(item.segment_id, []) if p.score is not None]
            else:
                item.proposals = [Proposal(self.codes[lp.code_guid], lp.score, lp.rank, list(lp.flags), lp.evidence,
                                           "proposed", lp.learned) for lp in live
                                  if lp.code_guid in self.codes and not self.codes[lp.code_guid].retired]

    def _relearn(self, after: ReviewItem | None) -> None:
        """Refit after a decision; in uncertainty order the segments after ``after`` are re-ordered."""
        if self.learner is None:
            return
        state = dec.current_state(dec.load(self.store, self.coder))
        if not self.learner.refit(state.values()):
            return
        self._apply_live()
        if self.order == "uncertainty":
            pos = next((k for k, i in enumerate(self.items) if i is after), -1)
            tail = sorted(self.items[pos + 1:], key=lambda i: (i.reviewed, i.margin))
            self.items[pos + 1:] = tail

    def learning_status(self):
        """:class:`pipeline.review.live.LearningStatus` of this session (``enabled=False`` when off)."""
        from .live import LearningStatus

        if self.learner is None:
            return LearningStatus(enabled=False, reason="switched off for this review (--no-learn)")
        return self.learner.status

    # -- actions -------------------------------------------------------------------------------
    def _record(self, item: ReviewItem, guid: str, verdict: str, memo: str = "", replaces: str | None = None):
        d = dec.record(self.store, item.segment_id, guid, verdict, self.coder, memo=memo, replaces=replaces)
        self._refresh(item)
        self._relearn(item)
        return d

    def accept(self, item: ReviewItem, guid: str, memo: str = ""):
        return self._record(item, guid, "accept", memo)

    def reject(self, item: ReviewItem, guid: str, memo: str = ""):
        return self._record(item, guid, "reject", memo)

    def recode(self, item: ReviewItem, old_guid: str, new_guid: str, memo: str = ""):
        return self._record(item, new_guid, "recode", memo, replaces=old_guid)

    def add(self, item: ReviewItem, guid: str, memo: str = ""):
        return self._record(item, guid, "add", memo)

    def no_code(self, item: ReviewItem, memo: str = ""):
        """Record that no code applies to the segment (a decision the proposer learns to abstain from)."""
        return self._record(item, dec.NO_CODE, "accept", memo)

    def create_code(self, item: ReviewItem, name: str, category: str | None = None, example: str | None = None,
                    memo: str = "in vivo") -> CodeInfo:
        """In vivo: a new code in the codebook of this segment's study, with the selected text
        (``example``; default the whole segment) as its first example, applied to the segment by this
        coder. An append-only codebook event (:mod:`pipeline.code_edit`)."""
        from ..code_edit import create_code

        book = self.store.codebook_of_study(item.study)
        code = create_code(self.store, name, self.coder, codebook=book,
                           category=category, segment_id=item.segment_id, example=example, memo=memo)
        self._codebook_changed()
        return self._shown(code, book)

    # -- codebook edits (append-only events with this coder and the time: pipeline.code_edit) ----------
    def _in_use(self, guid: str) -> CodeInfo:
        code = self.codes.get(guid)
        if code is None or code.guid == dec.NO_CODE:
            raise StoreError(f"no code with guid '{guid}'")
        if code.retired:
            raise StoreError(f"'{code.path}' is no longer in the codebook ({code.retired})")
        return code

    def rename_code(self, guid: str, new_name: str) -> CodeInfo:
        """Rename a code; its decisions (every coder's) and proposals follow to the new name."""
        from ..code_edit import rename_code

        old = self._in_use(guid)
        new = rename_code(self.store, old.path, new_name, self.coder, codebook=old.codebook)
        self._codebook_changed()
        return self._shown(new, old.codebook)

    def merge_code(self, guid: str, into: str) -> CodeInfo:
        """Merge a code into another: its decisions and proposals now belong to ``into``."""
        from ..code_edit import merge_codes

        src, dst = self._in_use(guid), self._in_use(into)
        if src.codebook != dst.codebook:
            raise StoreError(f"'{src.path}' and '{dst.path}' are in different codebooks")
        merge_codes(self.store, src.path, dst.path, self.coder, codebook=src.codebook)
        self._codebook_changed()
        return self.codes[dst.guid]

    def retire_code(self, guid: str) -> CodeInfo:
        """Retire a code: no longer offered or proposed; its decisions are kept (orphaned, marked)."""
        from ..code_edit import retire_code

        old = self._in_use(guid)
        retire_code(self.store, old.path, self.coder, codebook=old.codebook)
        self._codebook_changed()
        return self.codes[guid]

    def _codebook_changed(self) -> None:
        """Read the codes again, restart the live learner on the edited codebook, and reload the items."""
        self.codes = self._codes()
        if self.learner is not None:
            from .live import LiveLearner

            embedder = getattr(self.learner, "_embedder", None) or self._embedder  # a model loaded already is kept
            self.learner = LiveLearner(self.store_path, self.coder, embedder, store=self.store)
        keep, filters = [i.segment_id for i in self.items], self.filters
        self.filters = Filters()  # the same segments in the same order: nothing jumps away under the coder
        try:
            self.reload()
        finally:
            self.filters = filters
        by_id = {i.segment_id: i for i in self.items}
        self.items = [by_id[x] for x in keep if x in by_id]

    def _shown(self, code, book: str | None) -> CodeInfo:
        """``code`` (a :class:`~pipeline.records.Code` of codebook ``book``, None: the only one) as shown here."""
        book = book or next(c.codebook for c in self.codes.values() if c.name == code.name)
        return self.codes[code.guid(book)]

    def undo(self):
        """Cancel the coder's latest decision (a new 'undo' row). Returns it, or None."""
        last = dec.last_undoable(self.store, self.coder)
        if last is None:
            return None
        d = dec.record(self.store, last.segment_id, last.code_guid, "undo", self.coder, undoes=last.id)
        item = next((i for i in self.items if i.segment_id == last.segment_id), None)
        if item is not None:
            self._refresh(item)
        self._relearn(item)
        return d

    def _refresh(self, item: ReviewItem) -> None:
        state = dec.current_state(dec.load(self.store, self.coder))
        decided = {guid: st.status for (seg, guid, _), st in state.items() if seg == item.segment_id}
        item.proposals = [p for p in item.proposals if p.score is not None]
        for p in item.proposals:
            p.status = decided.get(p.code.guid, "proposed")
        shown = {p.code.guid for p in item.proposals}
        for guid, status in decided.items():
            if guid not in shown and guid in self.codes:
                item.proposals.append(Proposal(self.codes[guid], None, None, [], "", status))

    def code_span(self, item: ReviewItem, start: int, end: int, guid: str, memo: str = "") -> str:
        """Code part of a segment: ``start``/``end`` are character offsets into the document's text, inside
        the segment. The part becomes a segment of its own (id ``SEGMENT@START-END``, exact offsets, the
        turn's speaker, role and question) with an 'add' decision, so exports and .qdpx carry its span; a
        re-run keeps it (segments with decisions are never removed). Returns its id."""
        from ..records import text_sha

        doc = self.document_text(item.document_id)
        if not (item.start <= start < end <= item.end):
            raise StoreError(f"the selection {start}-{end} is not inside segment {item.segment_id} "
                             f"({item.start}-{item.end})")
        while start < end and doc[start].isspace():
            start += 1
        while end > start and doc[end - 1].isspace():
            end -= 1
        if start == end:
            raise StoreError("the selection holds no text")
        if guid not in self.codes:
            raise StoreError(f"no code with guid '{guid}'")
        if (start, end) == (item.start, item.end):
            self.add(item, guid, memo)
            return item.segment_id
        span_id = f"{item.segment_id}@{start}-{end}"
        text = doc[start:end]
        self.store.add_span_segment(span_id, item.segment_id, start, end, text, text_sha(text))
        dec.record(self.store, span_id, guid, "add", self.coder, memo=memo)
        self.reload()
        return span_id

    def set_memo(self, item: ReviewItem, memo: str) -> str:
        """Save this coder's memo on the segment (not on a decision); ``""`` removes it. Returns it."""
        from ..memos import set_memo

        return set_memo(self.store, item.segment_id, self.coder, memo).memo

    def segment_memo(self, item: ReviewItem) -> str:
        from ..memos import current_memos

        m = current_memos(self.store, self.coder).get((item.segment_id, self.coder))
        return m.memo if m else ""

    # -- helpers for the screens ----------------------------------------------------------------
    def resume_index(self) -> int:
        """Where a review (re)opens: the first segment this coder has not reviewed (0 when all are)."""
        return next((k for k, i in enumerate(self.items) if not i.reviewed), 0)

    def search_codes(self, query: str, study: str | None = None) -> list[CodeInfo]:
        q = query.casefold().strip()
        pool = self.codes_for(study)
        return [c for c in pool if not q or q in c.path.casefold() or q in c.description.casefold()]

    def progress(self) -> dict:
        """Reviewed / left overall and per proposed code (top-ranked proposal)."""
        per_code: dict[str, list[int]] = {}
        for i in self.items:
            top = next((p for p in i.proposals if p.rank == 1), None)
            key = top.code.path if top else "(none)"
            per_code.setdefault(key, [0, 0])[0 if i.reviewed else 1] += 1
        reviewed = sum(i.reviewed for i in self.items)
        return {"reviewed": reviewed, "left": len(self.items) - reviewed,
                "per_code": {k: {"reviewed": v[0], "left": v[1]} for k, v in sorted(per_code.items())}}

    def document_text(self, document_id: str) -> str:
        return self.store.document_text(document_id) or ""
