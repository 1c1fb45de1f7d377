"""Segment memos: a coder's note on a segment, not on any code decision.

Append-only rows (a new row replaces the coder's memo on that segment; an empty one removes it), kept with
the segment text's sha like decisions. A memo attached to a decision stays in the decision's ``memo``.

The table is the store's (migration ``0010_segment_memos``); its SQL lives in :mod:`pipeline.store.memos`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .store import Store, StoreError



@dataclass(frozen=True)
class SegmentMemo:
    segment_id: str
    coder: str
    time: str
    memo: str


def set_memo(store: Store, segment_id: str, coder: str, memo: str) -> SegmentMemo:
    """Write ``coder``'s memo on a segment (``""`` removes it); returns it."""
    if not coder.strip():
        raise StoreError("a memo needs a coder name")
    sha = store.segment_text_sha(segment_id)
    if sha is None:
        raise StoreError(f"no segment '{segment_id}' in {store.path}")
    m = SegmentMemo(segment_id, coder, dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    " ".join(memo.split()))
    store.append_segment_memo(m.segment_id, sha, m.coder, m.time, m.memo)
    return m


def current_memos(store: Store, coder: str | None = None) -> dict[tuple[str, str], SegmentMemo]:
    """(segment, coder) -> the standing memo (removed ones left out)."""
    out: dict[tuple[str, str], SegmentMemo] = {}
    for r in store.segment_memo_rows(coder):
        out[(r[0], r[1])] = SegmentMemo(*r)
    return {k: m for k, m in out.items() if m.memo}


SEGMENT_FIELDS = ("segment_id", "study", "document", "speaker", "role", "start", "end", "start_time", "end_time",
                  "question", "text", "codebook")


def with_memo_rows(rows: list[dict[str, str]], memos: dict[tuple[str, str], SegmentMemo]) -> list[dict[str, str]]:
    """Coded-segment rows plus one row per segment memo (status ``memo``, no code), right after the segment's
    other rows: each memo exported once, apart from any decision."""
    by_seg: dict[str, list[SegmentMemo]] = {}
    for (seg, _coder), m in sorted(memos.items()):
        by_seg.setdefault(seg, []).append(m)
    out: list[dict[str, str]] = []
    for k, row in enumerate(rows):
        out.append(row)
        seg = row["segment_id"]
        last = k + 1 == len(rows) or rows[k + 1]["segment_id"] != seg
        if last and seg in by_seg:
            out.extend({**{f: row.get(f, "") for f in SEGMENT_FIELDS}, "status": "memo", "coder": m.coder,
                        "memo": m.memo} for m in by_seg.pop(seg))
    return out
