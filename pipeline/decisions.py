"""Human decisions: append-only rows, and the state derived from them.

Nothing here updates or deletes a decision (the store's triggers would refuse it anyway). Undo is a
new row that cancels an earlier one. Several coders decide independently; their states are kept
apart. A decision whose segment text has changed since (re-ingested, edited transcript) is
*orphaned*: it is listed, never dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .records import VERDICTS, Decision
from .store import Store, StoreError

# status of (segment, code) for one coder after replaying the decisions
ACCEPTED, REJECTED, ADDED = "accepted", "rejected", "added"
# "No code applies": an accepted decision on this reserved guid says that no code of the codebook fits the
# segment. It is a decision like any other (append-only, undoable); the learner takes it as a rejection of
# every code (pipeline.learn.examples_from_decisions), so the proposer learns to abstain on such segments.
NO_CODE = "precode:no-code"
NO_CODE_NAME = "no code applies"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def record(store: Store, segment_id: str, code_guid: str, verdict: str, coder: str, memo: str = "",
           replaces: str | None = None, undoes: int | None = None, time: str | None = None) -> Decision:
    """Append one decision (in its own transaction) and return it with its id."""
    if verdict not in VERDICTS:
        raise StoreError(f"unknown verdict '{verdict}' (one of {', '.join(VERDICTS)})")
    if not coder.strip():
        raise StoreError("a decision needs a coder name")
    row = store.conn.execute("SELECT text_sha FROM segments WHERE id=?", (segment_id,)).fetchone()
    if row is None:
        raise StoreError(f"no segment '{segment_id}' in {store.path}")
    if code_guid == NO_CODE and verdict != "accept" and verdict != "undo":
        raise StoreError("'no code applies' is only accepted (or undone)")
    if (verdict != "undo" and code_guid != NO_CODE
            and store.conn.execute("SELECT 1 FROM codes WHERE guid=?", (code_guid,)).fetchone() is None):
        raise StoreError(f"no code with guid '{code_guid}' in {store.path}")
    if verdict == "recode" and not replaces:
        raise StoreError("a recode names the code it replaces")
    if verdict == "undo":
        target = store.conn.execute("SELECT coder, segment_id FROM decisions WHERE id=?", (undoes,)).fetchone()
        if target is None:
            raise StoreError(f"no decision {undoes} to undo")
        if target[0] != coder:
            raise StoreError(f"decision {undoes} belongs to {target[0]}, not {coder}")
    d = Decision(segment_id, row[0], code_guid, verdict, coder, time or _now(), memo, replaces, undoes)
    with store.transaction() as c:
        c.execute("INSERT OR IGNORE INTO coders VALUES (?, 'human')", (coder,))
        cur = c.execute(
            "INSERT INTO decisions (segment_id, text_sha, code_guid, verdict, coder, time, memo, replaces, undoes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (d.segment_id, d.text_sha, d.code_guid, d.verdict, d.coder, d.time, d.memo, d.replaces, d.undoes),
        )
        return Decision(**{**d.__dict__, "id": int(cur.lastrowid)})


def load(store: Store, coder: str | None = None) -> list[Decision]:
    q = "SELECT segment_id, text_sha, code_guid, verdict, coder, time, memo, replaces, undoes, id FROM decisions"
    args: tuple = ()
    if coder is not None:
        q += " WHERE coder=?"
        args = (coder,)
    return [Decision(*r) for r in store.conn.execute(q + " ORDER BY id", args)]


def last_undoable(store: Store, coder: str) -> Decision | None:
    """The coder's latest decision that is not an undo and not already undone."""
    ds = load(store, coder)
    undone = {d.undoes for d in ds if d.verdict == "undo"}
    return next((d for d in reversed(ds) if d.verdict != "undo" and d.id not in undone), None)


@dataclass(frozen=True)
class CodeState:
    segment_id: str
    code_guid: str
    coder: str
    status: str  # accepted | rejected | added
    decision_id: int
    memo: str


def current_state(decisions: list[Decision]) -> dict[tuple[str, str, str], CodeState]:
    """(segment, code, coder) -> state, replaying decisions in order and skipping undone ones.

    Undo of an undo is not offered: an undo is itself not undoable (decide again instead).
    """
    undone = {d.undoes for d in decisions if d.verdict == "undo"}
    state: dict[tuple[str, str, str], CodeState] = {}
    for d in sorted(decisions, key=lambda d: d.id or 0):
        if d.verdict == "undo" or d.id in undone:
            continue
        key = (d.segment_id, d.code_guid, d.coder)
        if d.verdict == "accept":
            state[key] = CodeState(d.segment_id, d.code_guid, d.coder, ACCEPTED, d.id, d.memo)
        elif d.verdict == "reject":
            state[key] = CodeState(d.segment_id, d.code_guid, d.coder, REJECTED, d.id, d.memo)
        elif d.verdict == "add":
            state[key] = CodeState(d.segment_id, d.code_guid, d.coder, ADDED, d.id, d.memo)
        elif d.verdict == "recode":
            old = (d.segment_id, d.replaces, d.coder)
            state[old] = CodeState(d.segment_id, d.replaces, d.coder, REJECTED, d.id, "")  # the memo: once, on the new code
            state[key] = CodeState(d.segment_id, d.code_guid, d.coder, ADDED, d.id, d.memo)
    return state


def of_coders(states, who: bool | list[str]) -> list[CodeState]:
    """The code states a learner may use under ``propose.learn_from_decisions``: every coder's
    (``True``), none (``False``) or those of the coders named (case-insensitive)."""
    if not who:
        return []
    if who is True:
        return list(states)
    names = {w.strip().casefold() for w in who}
    return [st for st in states if st.coder.casefold() in names]


def orphaned(store: Store) -> list[Decision]:
    """Decisions whose segment is gone or whose text changed since the decision."""
    rows = store.conn.execute(
        """SELECT d.segment_id, d.text_sha, d.code_guid, d.verdict, d.coder, d.time, d.memo, d.replaces, d.undoes, d.id
           FROM decisions d LEFT JOIN segments s ON s.id = d.segment_id
           WHERE s.id IS NULL OR s.text_sha != d.text_sha ORDER BY d.id"""
    )
    return [Decision(*r) for r in rows]
