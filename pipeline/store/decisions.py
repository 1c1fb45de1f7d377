"""The human verdicts, append-only (the schema's triggers refuse UPDATE and DELETE): decisions on
segments and reviews of discovered candidates."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from .base import Connected, inserted


@dataclass(frozen=True)
class DiscoveryReviewRow:
    candidate_id: str
    verdict: str
    coder: str
    time: str
    memo: str
    record: dict


class Decisions(Connected):
    """Decisions and discovery reviews (both append-only)."""

    # -- decisions (append-only) ------------------------------------------------------------------
    _DECISION_COLUMNS = "segment_id, text_sha, code_guid, verdict, coder, time, memo, replaces, undoes, id"

    @staticmethod
    def _decision(r: sqlite3.Row | tuple):
        from ..records import Decision

        return Decision(segment_id=r[0], text_sha=r[1], code_guid=r[2], verdict=r[3], coder=r[4], time=r[5],
                        memo=r[6], replaces=r[7], undoes=r[8], id=r[9])

    def decision_rows(self, coder: str | None = None) -> list:
        """Stored decisions as they were written (codes not followed), oldest first."""
        q = f"SELECT {self._DECISION_COLUMNS} FROM decisions"
        args: tuple[str, ...] = ()
        if coder is not None:
            q, args = q + " WHERE coder=?", (coder,)
        return [self._decision(r) for r in self.conn.execute(q + " ORDER BY id", args)]

    def decisions_on_changed_text(self) -> list:
        """Decisions whose segment is gone or whose text changed since."""
        cols = ", ".join(f"d.{c.strip()}" for c in self._DECISION_COLUMNS.split(","))
        return [self._decision(r) for r in self.conn.execute(
            f"SELECT {cols} FROM decisions d LEFT JOIN segments s ON s.id = d.segment_id "
            "WHERE s.id IS NULL OR s.text_sha != d.text_sha ORDER BY d.id")]

    def append_decision(self, d) -> int:
        """Append one decision (and its coder) in one transaction; returns its id."""
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO coders VALUES (?, 'human')", (d.coder,))
            return inserted(c.execute(
                "INSERT INTO decisions (segment_id, text_sha, code_guid, verdict, coder, time, memo, replaces, undoes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (d.segment_id, d.text_sha, d.code_guid, d.verdict, d.coder, d.time, d.memo, d.replaces, d.undoes),
            ))

    def append_decisions(self, decisions) -> int:
        """Append decisions in one transaction (all or none); returns how many."""
        with self.transaction():
            for d in decisions:
                self.append_decision(d)
        return len(decisions)

    def decision_keys(self) -> set[tuple[str, str, str]]:
        """(segment, code guid, coder) of every stored decision."""
        return set(self.conn.execute("SELECT segment_id, code_guid, coder FROM decisions"))

    def decision_owner(self, decision_id: int | None) -> tuple[str, str] | None:
        """(coder, segment) of a decision, or None."""
        row = self.conn.execute("SELECT coder, segment_id FROM decisions WHERE id=?", (decision_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    # -- discovery reviews (append-only) -------------------------------------------------------------
    def append_discovery_review(self, candidate_id: str, verdict: str, coder: str, time: str, memo: str,
                                record: dict) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO discovery_reviews (candidate_id, verdict, coder, time, memo, record) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      (candidate_id, verdict, coder, time, memo, json.dumps(record, sort_keys=True, ensure_ascii=False)))

    def discovery_reviews(self) -> list[DiscoveryReviewRow]:
        return [DiscoveryReviewRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in self.conn.execute(
            "SELECT candidate_id, verdict, coder, time, memo, record FROM discovery_reviews ORDER BY id")]
