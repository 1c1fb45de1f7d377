"""Segment memos (:mod:`pipeline.memos`): a coder's note on a segment, apart from any decision; append-only."""

from __future__ import annotations

from .base import Connected, inserted


class Memos(Connected):
    """Segment memos (append-only)."""

    def append_segment_memo(self, segment_id: str, text_sha: str, coder: str, time: str, memo: str) -> int:
        """Append a segment memo (pipeline.memos); returns its id."""
        with self.transaction() as c:
            cur = c.execute("INSERT INTO segment_memos (segment_id, text_sha, coder, time, memo) VALUES (?, ?, ?, ?, ?)",
                            (segment_id, text_sha, coder, time, memo))
            return inserted(cur)

    def segment_memo_rows(self, coder: str | None = None) -> list[tuple[str, str, str, str]]:
        """(segment_id, coder, time, memo) of every segment memo (of ``coder``), oldest first."""
        q = "SELECT segment_id, coder, time, memo FROM segment_memos"
        args: tuple[str, ...] = ()
        if coder is not None:
            q, args = q + " WHERE coder=?", (coder,)
        return [tuple(r) for r in self.conn.execute(q + " ORDER BY id", args)]
