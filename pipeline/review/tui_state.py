"""The terminal review's state and keys: :func:`handle_key` applies one key to a :class:`TuiState`
(decisions go through its :class:`~pipeline.review.core.ReviewSession`, which writes them to the store
at once). Pure: tested without a terminal."""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import decisions as dec
from ..errors import PrecodeError
from .core import CodeInfo, Proposal, ReviewItem, ReviewSession
from .terminal import Paste

MARKS = {"accepted": ("✓", "bold green"), "rejected": ("✗", "bold red"), "added": ("+", "bold cyan"),
         "proposed": ("·", "dim")}
DONE_WORDS = {"accept": "accepted", "reject": "rejected", "recode": "recoded", "add": "added"}


@dataclass
class TuiState:
    session: ReviewSession
    index: int = 0
    selected: int = 0  # proposal index on the current segment
    mode: str = "browse"  # browse | pick | memo | help | code (edit a code: menu) | rename | retire (confirm)
    pick_action: str = ""  # recode | add | edit (which code to edit) | merge (into which code)
    query: str = ""
    pick_index: int = 0
    memo_text: str = ""  # memo being edited
    edit_guid: str = ""  # the code being edited (mode code / rename / retire, pick merge)
    name_text: str = ""  # the new name being typed (mode rename)
    memos: dict[str, str] = field(default_factory=dict)  # segment id -> memo waiting for a decision there
    message: str = ""
    message_style: str = ""
    quit_armed: bool = False
    done: bool = False
    first_id: int = -1  # the coder's latest decision id before this session

    def __post_init__(self) -> None:
        if self.first_id < 0:
            self.first_id = max((d.id or 0 for d in dec.load(self.session.store, self.session.coder)), default=0)

    @property
    def item(self) -> ReviewItem | None:
        items = self.session.items
        return items[self.index] if 0 <= self.index < len(items) else None

    @property
    def proposal(self) -> Proposal | None:
        item = self.item
        if item is None or not item.proposals:
            return None
        return item.proposals[min(self.selected, len(item.proposals) - 1)]

    @property
    def edited(self) -> CodeInfo | None:
        return self.session.codes.get(self.edit_guid) if self.edit_guid else None

    def say(self, message: str, style: str = "") -> None:
        self.message, self.message_style = message, style


def candidates(state: TuiState) -> list[CodeInfo]:
    """Codes offered by the recode / add list for the current query."""
    item = state.item
    if item is None:
        return []
    if state.pick_action == "recode":
        old = state.proposal
        skip = {old.code.guid} if old else set()
    elif state.pick_action == "merge":
        skip = {state.edit_guid}
    elif state.pick_action == "edit":
        skip = set()
    else:
        skip = {p.code.guid for p in item.proposals if p.status in ("accepted", "added")}
    found = [c for c in state.session.search_codes(state.query, item.study) if c.guid not in skip]
    q = state.query.casefold().strip()
    if q:  # names starting with the query, then names containing it, then descriptions
        found.sort(key=lambda c: (not c.name.casefold().startswith(q), q not in c.name.casefold()))
    elif state.pick_action == "edit" and (shown := state.proposal) is not None:  # the selected proposal's code first
        first = shown.code.guid
        found.sort(key=lambda c: c.guid != first)
    return found


def _text_input(value: str, key: str) -> str | None:
    """Edit a one-line field; None when ``key`` is not an editing key."""
    if isinstance(key, Paste):
        return value + " ".join(key.split())
    if len(key) == 1 and key.isprintable():
        return value + key
    if key == "backspace":
        return value[:-1]
    if key == "ctrl-u":
        return ""
    if key == "ctrl-w":  # delete the last word
        head = value.rstrip()
        return head[: head.rfind(" ") + 1]
    return None


def _code_name(session: ReviewSession, guid: str | None) -> str:
    code = session.codes.get(guid or "")
    return code.name if code else str(guid)


def _go(state: TuiState, index: int) -> None:
    if index != state.index:
        state.index, state.selected = index, 0
        state.say("")


def _decide(state: TuiState, verdict: str, proposal: Proposal | None = None, code: CodeInfo | None = None) -> None:
    """One decision on the current segment: ``proposal`` for accept, reject and recode, ``code`` for recode and add."""
    session, item = state.session, state.item
    old = proposal.code if proposal is not None else None
    target = code or old
    assert item is not None and target is not None, "a decision is taken on a segment, about a code"
    memo = state.memos.get(item.segment_id, "")
    try:
        if verdict == "accept" and old is not None:
            session.accept(item, old.guid, memo)
        elif verdict == "reject" and old is not None:
            session.reject(item, old.guid, memo)
        elif verdict == "recode" and old is not None and code is not None:
            session.recode(item, old.guid, code.guid, memo)
        elif verdict == "add" and code is not None:
            session.add(item, code.guid, memo)
        else:
            raise ValueError(f"{verdict}: needs the proposal (accept, reject, recode) and a code (recode, add)")
    except PrecodeError as e:
        state.say(f"not saved: {e}", "bold red")
        return
    state.memos.pop(item.segment_id, None)
    mark, style = MARKS["rejected" if verdict == "reject" else "added" if verdict in ("add", "recode") else "accepted"]
    what = f"{old.name} → {target.name}" if verdict == "recode" and old is not None else target.name
    state.say(f"{mark} {DONE_WORDS[verdict]} {what}" + (" (with memo)" if memo else ""), style)
    # keep the selection on the code just decided
    state.selected = next((i for i, p in enumerate(item.proposals) if p.code.guid == target.guid), state.selected)


def _create_in_vivo(state: TuiState) -> None:
    """A new code named by the query, with the segment's text as its first example, applied to it."""
    item = state.item
    assert item is not None, "the code list is opened on a segment"
    memo = state.memos.get(item.segment_id, "")
    state.mode = "browse"
    try:
        code = state.session.create_code(item, state.query.strip(), memo=memo or "in vivo")
    except PrecodeError as e:
        state.say(f"not created: {e}", "bold red")
        return
    state.memos.pop(item.segment_id, None)
    state.say(f"+ created {code.path} (in vivo) and added it", MARKS["added"][1])
    proposals = state.item.proposals if state.item else []  # the items were read again
    state.selected = next((i for i, p in enumerate(proposals) if p.code.guid == code.guid), state.selected)


# -- codebook edits: rename, merge, retire (append-only events with the coder and the time) -----------
EDIT_WORDS = {"rename": "renamed", "merge": "merged", "retire": "retired"}


def _edit_codebook(state: TuiState, action: str, target: CodeInfo | None = None) -> None:
    """Apply a codebook edit to the code being edited; the screen shows the codebook as it is now."""
    session, old = state.session, state.edited
    seg = state.item.segment_id if state.item else None
    state.mode = "browse"
    if old is None or (action == "merge" and target is None):
        state.say("no code to edit", "yellow")
        return
    try:
        if action == "rename":
            new = session.rename_code(old.guid, state.name_text)
            what = f"{old.path} → {new.name} (decisions follow)"
        elif action == "merge" and target is not None:
            new = session.merge_code(old.guid, target.guid)
            what = f"{old.path} into {new.path} (its decisions follow)"
        else:
            session.retire_code(old.guid)
            what = f"{old.path} (no longer offered; its decisions are kept as orphaned)"
    except PrecodeError as e:
        state.say(f"not {EDIT_WORDS[action]}: {e}", "bold red")
        return
    # the items are read again: stay on the same segment
    state.index = next((k for k, i in enumerate(session.items) if i.segment_id == seg), min(state.index, len(session.items) - 1))
    state.selected = 0
    state.say(f"✎ {EDIT_WORDS[action]} {what}", "magenta")


def _code_key(state: TuiState, key: str) -> None:
    """Keys while a code is edited: the menu (r rename, m merge, d retire), the new name, the retire confirmation."""
    code = state.edited
    if key == "ctrl-c":
        state.done = True
        return
    if key == "esc" or code is None:
        state.mode = "browse"
        state.say("codebook unchanged", "dim")
        return
    if state.mode == "code":
        if key == "r":
            state.mode, state.name_text = "rename", code.name
        elif key == "m":
            state.mode, state.pick_action, state.query, state.pick_index = "pick", "merge", "", 0
        elif key == "d":
            state.mode = "retire"
            state.say(f"retire {code.path}? y retires it (its decisions are kept, as orphaned); any other key cancels",
                      "bold yellow")
            return
        else:
            state.say("r renames · m merges into another code · d retires · Esc cancels", "yellow")
            return
        state.say("")
    elif state.mode == "retire":
        if key == "y":
            _edit_codebook(state, "retire")
        else:
            state.mode = "browse"
            state.say("codebook unchanged", "dim")
    elif key == "enter":
        if " ".join(state.name_text.split()) == code.name:
            state.mode = "browse"
            state.say("name unchanged", "dim")
        else:
            _edit_codebook(state, "rename")
    else:
        edited = _text_input(state.name_text, key)
        if edited is not None:
            state.name_text = edited


def _browse_key(state: TuiState, key: str) -> None:
    session, item = state.session, state.item
    n = len(session.items)
    if key != "q":
        state.quit_armed = False
    if key == "q":
        if state.memos and not state.quit_armed:
            state.quit_armed = True
            state.say(f"{len(state.memos)} memo(s) not saved yet (they go with a decision) — q again to quit",
                      "bold yellow")
        else:
            state.done = True
        return
    if key == "ctrl-c":
        state.done = True
        return
    if key == "?":
        state.mode = "help"
        return
    if key in ("s", "n", "right", "pgdn"):
        if state.index < n - 1:
            _go(state, state.index + 1)
        else:
            state.say("this is the last segment" + (" — q to quit" if n else ""), "yellow")
        return
    if key in ("p", "left", "pgup"):
        if state.index > 0:
            _go(state, state.index - 1)
        else:
            state.say("this is the first segment", "yellow")
        return
    if key == "home":
        _go(state, 0)
        return
    if key == "end":
        _go(state, max(n - 1, 0))
        return
    if key == "tab":
        nxt = next((j for j in list(range(state.index + 1, n)) + list(range(0, state.index))
                    if not session.items[j].reviewed), None)
        if nxt is None:
            state.say("every segment here is reviewed", "green")
        else:
            _go(state, nxt)
        return
    if key == "u":
        try:
            target = dec.last_undoable(session.store, session.coder)  # read only: what the undo will cancel
            d = session.undo()
        except PrecodeError as e:
            state.say(f"undo failed: {e}", "bold red")
            return
        if d is None:
            state.say("nothing to undo", "yellow")
            return
        name = _code_name(session, d.code_guid)
        what = name
        if target is not None and target.id == d.undoes:
            what = f"{target.verdict} " + (f"{_code_name(session, target.replaces)} → {name}"
                                           if target.verdict == "recode" else name)
        where = next((j for j, i in enumerate(session.items) if i.segment_id == d.segment_id), None)
        if where is None:
            state.say(f"↶ undone: {what} on {d.segment_id} (not in this list)", "magenta")
        else:
            _go(state, where)
            state.selected = next((i for i, p in enumerate(session.items[where].proposals)
                                   if p.code.guid in (d.code_guid, getattr(target, "replaces", None))), 0)
            state.say(f"↶ undone: {what}", "magenta")
        return
    if item is None:
        state.say("nothing to review with these filters — q to quit", "yellow")
        return
    if len(key) == 1 and key.isdigit() and key != "0":
        k = int(key) - 1
        if k < len(item.proposals):
            state.selected = k
            state.say("")
        else:
            state.say(f"there is no proposal {key}", "yellow")
        return
    if key in ("up", "down"):
        if item.proposals:
            state.selected = (state.selected + (1 if key == "down" else -1)) % len(item.proposals)
        return
    if key in ("a", "r"):
        p = state.proposal
        if p is None:
            state.say("no proposal here — + adds a code", "yellow")
            return
        status = "accepted" if key == "a" else "rejected"
        if p.status == status or (key == "a" and p.status == "added"):
            state.say(f"{p.code.name} is already {p.status}", "yellow")
            return
        _decide(state, "accept" if key == "a" else "reject", proposal=p)
        return
    if key == "x":
        if any(p.code.guid == dec.NO_CODE and p.status != "proposed" for p in item.proposals):
            state.say("already marked: no code applies", "yellow")
            return
        memo = state.memos.get(item.segment_id, "")
        try:
            session.no_code(item, memo)
        except PrecodeError as e:
            state.say(f"not saved: {e}", "bold red")
            return
        state.memos.pop(item.segment_id, None)
        state.say("✓ no code applies" + (" (with memo)" if memo else "") + " · u undoes", "green")
        return
    if key in ("c", "+", "="):
        if key == "c" and state.proposal is None:
            state.say("nothing to recode — + adds a code", "yellow")
            return
        state.mode, state.pick_action, state.query, state.pick_index = "pick", "recode" if key == "c" else "add", "", 0
        state.say("")
        return
    if key == "m":
        state.mode, state.memo_text = "memo", session.segment_memo(item)
        state.say("")
        return
    if key == "e":
        state.mode, state.pick_action, state.query, state.pick_index = "pick", "edit", "", 0
        state.say("")
        return
    if key in ("esc", "enter"):
        state.say("")
        return
    state.say(f"unknown key {key!r} — ? for help", "yellow")


def handle_key(state: TuiState, key: str) -> None:
    """Apply one key (a character, a name such as 'enter', 'esc', 'left', or a :class:`Paste`)."""
    if state.mode == "help":  # any key closes the help
        state.mode = "browse"
        state.done = key == "ctrl-c"
        return
    if state.mode == "pick":
        if key == "ctrl-c":
            state.done = True
        elif key == "esc":
            state.mode = "browse"
            state.say("cancelled", "dim")
        elif key in ("up", "down", "pgup", "pgdn"):
            n = len(candidates(state))
            step = {"up": -1, "down": 1, "pgup": -8, "pgdn": 8}[key]
            state.pick_index = max(0, min(n - 1, state.pick_index + step)) if n else 0
        elif key == "enter":
            found = candidates(state)
            if not found and state.pick_action == "add" and state.query.strip():
                _create_in_vivo(state)
                return
            if not found:
                state.say("no code matches", "yellow")
                return
            code = found[min(state.pick_index, len(found) - 1)]
            state.mode = "browse"
            if state.pick_action == "edit":
                state.mode, state.edit_guid = "code", code.guid
                state.say("")
            elif state.pick_action == "merge":
                _edit_codebook(state, "merge", code)
            elif state.pick_action == "recode":
                _decide(state, "recode", proposal=state.proposal, code=code)
            else:
                _decide(state, "add", code=code)
        else:
            edited = _text_input(state.query, key)
            if edited is not None:
                state.query, state.pick_index = edited, 0
        return
    if state.mode in ("code", "rename", "retire"):
        _code_key(state, key)
        return
    if state.mode == "memo":
        item = state.item
        if key == "ctrl-c":
            state.done = True
        elif key == "esc":
            state.mode = "browse"
            state.say("memo unchanged", "dim")
        elif key == "enter":
            assert item is not None, "the memo is opened on a segment"
            state.mode = "browse"
            memo = " ".join(state.memo_text.split())
            try:
                if memo != state.session.segment_memo(item):
                    state.session.set_memo(item, memo)
                    state.say("✎ memo saved on this segment" if memo else "memo removed", "yellow" if memo else "dim")
                else:
                    state.say("memo unchanged", "dim")
            except PrecodeError as e:
                state.say(f"memo not saved: {e}", "bold red")
        else:
            edited = _text_input(state.memo_text, key)
            if edited is not None:
                state.memo_text = edited
        return
    _browse_key(state, key)
