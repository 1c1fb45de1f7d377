"""Human decisions: append-only rows, and the state derived from them.

Nothing here updates or deletes a decision (the store's triggers would refuse it anyway). Undo is a
new row that cancels an earlier one. Several coders decide independently; their states are kept
apart. A decision whose segment text has changed since (re-ingested, edited transcript) is
*orphaned*: it is listed, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .records import VERDICTS, Decision, utc_now
from .store import Store, StoreError

# status of (segment, code) for one coder after replaying the decisions
ACCEPTED, REJECTED, ADDED = "accepted", "rejected", "added"
# "No code applies": an accepted decision on this reserved guid says that no code of the codebook fits the
# segment. It is a decision like any other (append-only, undoable); the learner takes it as a rejection of
# every code (pipeline.learn.examples_from_decisions), so the proposer learns to abstain on such segments.
NO_CODE = "precode:no-code"
NO_CODE_NAME = "no code applies"


def record(store: Store, segment_id: str, code_guid: str, verdict: str, coder: str, memo: str = "",
           replaces: str | None = None, undoes: int | None = None, time: str | None = None) -> Decision:
    """Append one decision (in its own transaction) and return it with its id."""
    if verdict not in VERDICTS:
        raise StoreError(f"unknown verdict '{verdict}' (one of {', '.join(VERDICTS)})")
    if not coder.strip():
        raise StoreError("a decision needs a coder name")
    sha = store.segment_text_sha(segment_id)
    if sha is None:
        raise StoreError(f"no segment '{segment_id}' in {store.path}")
    if code_guid == NO_CODE and verdict not in ("accept", "undo"):
        raise StoreError("'no code applies' is only accepted (or undone)")
    if verdict != "undo" and code_guid != NO_CODE and not store.has_code(code_guid):
        raise StoreError(f"no code with guid '{code_guid}' in {store.path}")
    if verdict == "recode" and not replaces:
        raise StoreError("a recode names the code it replaces")
    if verdict == "undo":
        target = store.decision_owner(undoes)
        if target is None:
            raise StoreError(f"no decision {undoes} to undo")
        if target[0] != coder:
            raise StoreError(f"decision {undoes} belongs to {target[0]}, not {coder}")
    d = Decision(segment_id=segment_id, text_sha=sha, code_guid=code_guid, verdict=verdict, coder=coder,
                 time=time or utc_now(), memo=memo, replaces=replaces, undoes=undoes)
    return replace(d, id=store.append_decision(d))


def load(store: Store, coder: str | None = None, pending=()) -> list[Decision]:
    """Decisions, oldest first, with their codes followed through recorded renames and merges (a
    decision on a code renamed or merged since names the code it now belongs to; the stored row is
    unchanged). ``pending``: codebook changes not stored yet, as (kind, old guid, new guid)."""
    follow = {g: to for g, (to, _kind) in store.code_resolution(pending).items() if to is not None}
    out = []
    for d in store.decision_rows(coder):
        if d.code_guid in follow or d.replaces in follow:
            d = replace(d, code_guid=follow.get(d.code_guid, d.code_guid),
                        replaces=follow.get(d.replaces, d.replaces) if d.replaces else d.replaces)
        out.append(d)
    return out


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
    decision_id: int | None  # None for a decision not stored yet
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
            if d.replaces is not None:
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
    """Decisions whose segment is gone or whose text changed since the decision, or whose code was
    retired or split (see :func:`orphans` for the reason of each)."""
    return [d for d, _why in orphans(store)]


def orphan_lines(store: Store) -> list[str]:
    """One line per orphaned decision: id, coder, segment, code, verdict and why."""
    names = {r.guid: (f"{r.category}/{r.name}" if r.category else r.name) for r in store.code_rows()}
    return [f"decision {d.id} by {d.coder} on {d.segment_id}: {d.verdict} {names.get(d.code_guid, d.code_guid)} ({why})"
            for d, why in orphans(store)]


def orphans(store: Store) -> list[tuple[Decision, str]]:
    """(decision, why) for every orphaned decision, oldest first. Undo rows are not listed."""
    changed = {d.id for d in store.decisions_on_changed_text()}
    gone = {g: kind for g, (to, kind) in store.code_resolution().items() if to is None}
    out = []
    for d in load(store):
        if d.verdict == "undo":
            continue
        if d.id in changed:
            out.append((d, "segment text changed or segment gone"))
        elif d.code_guid in gone:
            out.append((d, f"code {gone[d.code_guid]}" + (": review again" if gone[d.code_guid] == "split" else "")))
    return out
