"""The terminal review: one segment at a time, a decision recorded the moment its key is pressed.

A rich-rendered full screen with single-key input through termios (no widget framework): it works in any
xterm-like terminal and in tmux, 80x24 and up. The screen logic is pure and tested without a terminal:

* :func:`handle_key` applies one key to a :class:`TuiState` (decisions go through its
  :class:`~pipeline.review.core.ReviewSession`, which writes them to the store at once);
* :func:`render` returns exactly ``height`` rich ``Text`` lines for a ``width`` x ``height`` screen.

:func:`run_review` owns the terminal while it runs (alternate screen, no echo, hidden cursor) and gives it
back on every exit: ``q``, Ctrl-C, SIGTERM/SIGHUP, or an error.

Memos: ``m`` writes a memo on the segment on screen, saved at once as the segment's memo
(:mod:`pipeline.memos`), never copied onto a decision.
"""

from __future__ import annotations

import codecs
import io
import os
import select
import signal
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from .. import decisions as dec
from ..errors import PrecodeError
from ..flags import legend_lines
from .core import CodeInfo, Filters, Proposal, ReviewItem, ReviewSession

MIN_WIDTH, MIN_HEIGHT = 40, 12
MARKS = {"accepted": ("✓", "bold green"), "rejected": ("✗", "bold red"), "added": ("+", "bold cyan"),
         "proposed": ("·", "dim")}
DONE_WORDS = {"accept": "accepted", "reject": "rejected", "recode": "recoded", "add": "added"}

HELP = [
    ("a", "accept the selected proposal (the top one unless you pick another)"),
    ("r", "reject the selected proposal"),
    ("1-9  ↑ ↓", "select a proposal"),
    ("c", "recode: replace the selected proposal (searchable list)"),
    ("+  =", "add another code to this segment (same list; a new name + Enter creates it, in vivo)"),
    ("x", "no code applies to this segment (a decision: precode learns to propose nothing for such text)"),
    ("m", "memo on this segment (saved at once; empty removes it)"),
    ("s  n  →", "skip to the next segment"),
    ("p  ←", "previous segment"),
    ("Tab", "next segment you have not reviewed"),
    ("u", "undo your last decision (goes back to its segment)"),
    ("q", "quit (every decision is already saved)"),
    ("lists", "type to filter, ↑ ↓ choose, Enter picks, Esc cancels"),
    ("marks", "✓ accepted  ✗ rejected  + added by you  · not decided"),
    *((f"flag {flag}", meaning) for flag, meaning in legend_lines()),
]


class TerminalError(PrecodeError):
    """The review needs an interactive terminal."""


class Paste(str):
    """Text pasted in one go (bracketed paste): typed into a field, never read as commands."""


# -- state and keys ---------------------------------------------------------------------------------
@dataclass
class TuiState:
    session: ReviewSession
    index: int = 0
    selected: int = 0  # proposal index on the current segment
    mode: str = "browse"  # browse | pick | memo | help
    pick_action: str = ""  # recode | add
    query: str = ""
    pick_index: int = 0
    memo_text: str = ""  # memo being edited
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
    else:
        skip = {p.code.guid for p in item.proposals if p.status in ("accepted", "added")}
    found = [c for c in state.session.search_codes(state.query, item.study) if c.guid not in skip]
    q = state.query.casefold().strip()
    if q:  # names starting with the query, then names containing it, then descriptions
        found.sort(key=lambda c: (not c.name.casefold().startswith(q), q not in c.name.casefold()))
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
    session, item = state.session, state.item
    memo = state.memos.get(item.segment_id, "")
    try:
        if verdict == "accept":
            session.accept(item, proposal.code.guid, memo)
        elif verdict == "reject":
            session.reject(item, proposal.code.guid, memo)
        elif verdict == "recode":
            session.recode(item, proposal.code.guid, code.guid, memo)
        else:
            session.add(item, code.guid, memo)
    except PrecodeError as e:
        state.say(f"not saved: {e}", "bold red")
        return
    state.memos.pop(item.segment_id, None)
    target = code or proposal.code
    mark, style = MARKS["rejected" if verdict == "reject" else "added" if verdict in ("add", "recode") else "accepted"]
    what = f"{proposal.code.name} → {code.name}" if verdict == "recode" else target.name
    state.say(f"{mark} {DONE_WORDS[verdict]} {what}" + (" (with memo)" if memo else ""), style)
    # keep the selection on the code just decided
    state.selected = next((i for i, p in enumerate(item.proposals) if p.code.guid == target.guid), state.selected)


def _create_in_vivo(state: TuiState) -> None:
    """A new code named by the query, with the segment's text as its first example, applied to it."""
    item, memo = state.item, state.memos.get(state.item.segment_id, "")
    state.mode = "browse"
    try:
        code = state.session.create_code(item, state.query.strip(), memo=memo or "in vivo")
    except PrecodeError as e:
        state.say(f"not created: {e}", "bold red")
        return
    state.memos.pop(item.segment_id, None)
    state.say(f"+ created {code.path} (in vivo) and added it", MARKS["added"][1])
    state.selected = next((i for i, p in enumerate(item.proposals) if p.code.guid == code.guid), state.selected)


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
            state.selected = next((i for i, p in enumerate(state.item.proposals)
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
            if state.pick_action == "recode":
                _decide(state, "recode", proposal=state.proposal, code=code)
            else:
                _decide(state, "add", code=code)
        else:
            edited = _text_input(state.query, key)
            if edited is not None:
                state.query, state.pick_index = edited, 0
        return
    if state.mode == "memo":
        item = state.item
        if key == "ctrl-c":
            state.done = True
        elif key == "esc":
            state.mode = "browse"
            state.say("memo unchanged", "dim")
        elif key == "enter":
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


# -- rendering --------------------------------------------------------------------------------------
def _console(width: int, file=None) -> Console:
    return Console(file=file or io.StringIO(), width=width, force_terminal=file is not None, highlight=False,
                   markup=False, emoji=False, legacy_windows=False, no_color=None)


def _wrap(text: Text, width: int, console: Console, indent: int = 0, max_lines: int | None = None) -> list[Text]:
    """Wrap to ``width`` cells with a hanging indent; the last kept line ends in '…' if cut."""
    lines = list(text.wrap(console, max(width - indent, 8)))
    cut = max_lines is not None and len(lines) > max_lines
    if cut:
        lines = lines[:max_lines]
    out = []
    for i, line in enumerate(lines):
        line.rstrip()
        if cut and i == len(lines) - 1:
            line.truncate(max(width - indent - 1, 1))
            line.append("…", "dim")
        out.append(Text(" " * indent) + line if indent else line)
    return out


def _line(*parts, width: int, style: str = "") -> Text:
    t = Text.assemble(*parts, style=style)
    t.truncate(width, overflow="ellipsis", pad=bool(style))
    return t


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _short_codes(paths: list[str]) -> dict[str, str]:
    """Code paths to their names; a name found in several categories gets the category's initials."""
    names = Counter(p.rsplit("/", 1)[-1] for p in paths)
    out = {}
    for p in paths:
        cat, _, name = p.rpartition("/")
        initials = "".join(w[0] for w in cat.split() if w[:1].isalnum()).upper()
        out[p] = f"{name} ({initials})" if cat and names[name] > 1 else name
    return out


def _title(state: TuiState, width: int) -> Text:
    s, item = state.session, state.item
    parts = [(" precode review ", "bold"), (f" {s.coder} ", "bold black on bright_white"), ("  ", "")]
    if item is not None:
        parts.append((f"{item.document_id}  segment {state.index + 1} of {len(s.items)}", ""))
    else:
        parts.append(("no segments", ""))
    f = s.filters
    active = [f"{k}={v}" for k, v in (("code", f.code), ("document", f.document), ("role", f.role),
                                       ("flag", f.flag), ("status", f.status)) if v]
    if s.order != "document":
        active.append(f"order={s.order}")
    if active:
        parts.append(("  │ " + " ".join(active), ""))
    return _line(*parts, width=width, style="white on dark_blue")


def progress_line(state: TuiState, width: int) -> Text:
    """``reviewed N · left M │ per code: Name r/total · …`` (the current segment's top code first)."""
    pr = state.session.progress()
    t = Text.assemble(("reviewed ", "dim"), (str(pr["reviewed"]), "bold green"), (" · left ", "dim"),
                      (str(pr["left"]), "bold yellow"))
    per = pr["per_code"]
    if per:
        short = _short_codes(list(per))
        item = state.item
        top = next((p.code.path for p in item.proposals if p.rank == 1), None) if item else None
        order = sorted(per, key=lambda k: k != top)
        t.append("  │ per code: ", "dim")
        for k, path in enumerate(order):
            c = per[path]
            name = short[path] if len(short[path]) <= 30 else short[path][:29] + "…"
            chunk = Text.assemble((name, "underline" if path == top else ""), " ",
                                  (f"{c['reviewed']}/{c['reviewed'] + c['left']}",
                                   "green" if c["left"] == 0 else "yellow"))
            sep = Text(" · ", "dim") if k else Text("")
            more = Text(f" +{len(order) - k} more", "dim")
            after = 0 if k == len(order) - 1 else len(f" +{len(order) - k - 1} more")
            if t.cell_len + sep.cell_len + chunk.cell_len + after > width:
                t.append_text(more)
                break
            t.append_text(sep)
            t.append_text(chunk)
    t.truncate(width, overflow="ellipsis")
    return t


def learning_line(state: TuiState, width: int) -> Text:
    """What the proposer has learned from this coder's decisions, and which codes are still zero-shot."""
    st = state.session.learning_status()
    t = Text(st.summary(), "dim" if st.enabled else "dim italic")
    t.truncate(width, overflow="ellipsis")
    return t


def _footer(pairs: list[tuple[str, str]], width: int) -> Text:
    """Key hints that fit in one line: dropping the least important (first in DROP) until they do."""
    width -= 1  # never write the bottom-right cell (some terminals would scroll)
    pairs = list(pairs)
    while True:
        for sep in ("  ", " "):
            t = Text()
            for k, (key, what) in enumerate(pairs):
                if k:
                    t.append(sep)
                t.append(key, "bold cyan")
                t.append(" " + what)
            if t.cell_len <= width:
                return t
        droppable = [p for p in DROP if p in pairs]
        if not droppable:
            t.truncate(width, overflow="ellipsis")
            return t
        pairs.remove(droppable[0])


BROWSE_KEYS = [("a", "accept"), ("r", "reject"), ("1-9", "select"), ("c", "recode"), ("+", "add"), ("m", "memo"),
               ("n", "next"), ("p", "prev"), ("u", "undo"), ("?", "help"), ("q", "quit")]
DROP = [("1-9", "select"), ("p", "prev"), ("m", "memo"), ("+", "add"), ("u", "undo"), ("n", "next")]


def saved_memos(state: TuiState, item: ReviewItem) -> dict[str, str]:
    """code guid -> memo of the coder's standing decision on that code for this segment (read only)."""
    s = state.session
    return {guid: st.memo for (seg, guid, _), st in dec.current_state(dec.load(s.store, s.coder)).items()
            if seg == item.segment_id and st.memo}


def _proposal_lines(state: TuiState, item: ReviewItem, width: int, console: Console, evidence: int,
                    memos: dict[str, str]) -> list[list[Text]]:
    out = []
    for k, p in enumerate(item.proposals):
        sel = k == min(state.selected, len(item.proposals) - 1)
        mark, mstyle = MARKS[p.status]
        head = Text()
        head.append("▸ " if sel else "  ", "bold yellow")
        head.append(f"{k + 1} " if k < 9 else "  ", "bold cyan")
        head.append(mark + " ", mstyle)
        name_style = {"accepted": "green", "rejected": "strike dim", "added": "cyan"}.get(p.status, "")
        if "uncoded" in p.flags and p.status == "proposed":  # nothing proposed: no code named as if it were
            head.append("no code proposed", "italic")
            head.append(f"  nearest: {p.code.name}", "dim")
        elif "category_only" in p.flags and p.status == "proposed":
            head.append(f"{p.code.category}: which code is unclear", "italic")
        else:
            head.append(p.code.name, ("bold " if sel or p.status in ("accepted", "added") else "") + name_style)
            if p.code.category:
                head.append(f"  {p.code.category}", "dim")
        if p.score is not None:
            head.append(f"  {p.score:.2f}", "bold" if sel else "")
        else:
            head.append("  added by you", "cyan")
        if p.flags:
            head.append("  " + " ".join(p.flags), "yellow")
        if p.learned is not None:
            head.append("  learned" if p.learned else "  zero-shot", "green" if p.learned else "dim")
        head.truncate(width, overflow="ellipsis")
        block = [head]
        if memos.get(p.code.guid):
            block.append(_line((" " * 8 + "✎ ", "yellow"), (memos[p.code.guid], "yellow"), width=width))
        if evidence and p.evidence:
            block += _wrap(Text(p.evidence, "dim"), width, console, indent=8, max_lines=evidence)
        out.append(block)
    return out


def _segment_block(item: ReviewItem, width: int, console: Console, text_lines: int, ctx: dict[str, int]) -> list[Text]:
    """Question, previous turn, the segment (speaker, role, time) and next turn, within the line budget."""
    gutter = 10
    lines: list[Text] = []

    def labelled(label: str, body: Text, n: int) -> list[Text]:
        got = _wrap(body, width, console, indent=gutter, max_lines=n)
        if got:
            got[0] = Text(f"{label:<{gutter}}"[:gutter], "dim") + got[0][gutter:]
        return got

    if item.question and ctx.get("question"):
        lines += labelled("question", Text(item.question, "italic cyan"), ctx["question"])
    if item.previous and item.previous != item.question and ctx.get("previous"):
        lines += labelled("before", Text(item.previous, "dim"), ctx["previous"])
    head = Text()
    head.append(f"{'speaker':<{gutter}}", "dim")
    head.append(item.speaker or "(no speaker)", "bold magenta")
    if item.role:
        head.append(f"  {item.role}", "magenta")
    if item.start_time is not None:
        head.append(f"  {_fmt_time(item.start_time)}", "dim")
    head.append(f"  {item.segment_id}", "dim")
    head.truncate(width, overflow="ellipsis")
    lines.append(head)
    body = _wrap(Text(item.text, "bold bright_white"), width, console, indent=gutter, max_lines=max(text_lines, 1))
    for k, ln in enumerate(body):
        body[k] = Text(" " * (gutter - 2)) + Text("┃ ", "magenta") + ln[gutter:]
    lines += body
    if item.next and ctx.get("next"):
        lines += labelled("after", Text(item.next, "dim"), ctx["next"])
    return lines


def _text_field(value: str, width: int, console: Console, prompt: str, max_lines: int = 3) -> list[Text]:
    t = Text.assemble((prompt, "bold"), (value, ""), ("█", "blink"))
    lines = list(t.wrap(console, width))
    return lines[-max_lines:]


def render(state: TuiState, width: int, height: int) -> list[Text]:
    """The whole screen as exactly ``height`` lines of at most ``width`` cells."""
    console = _console(width)
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        lines = [Text(f"terminal too small ({width}x{height}); precode review needs 80x24", "bold yellow")]
        lines = _wrap(lines[0], width, console)
        return (lines + [Text("")] * height)[:height]
    top = [_title(state, width), progress_line(state, width), learning_line(state, width), Text("")]
    item = state.item
    msg = Text(state.message, state.message_style) if state.message else Text("")
    msg.truncate(width, overflow="ellipsis")

    if state.mode == "help":
        body = []
        for key, what in HELP:
            body.append(_line((f"  {key:<10}", "bold cyan"), (what, ""), width=width))
        pr = state.session.progress()
        if pr["per_code"]:
            short = {p: p for p in pr["per_code"]}
            label = "segments by top proposed code"
            w = min(max([len(label)] + [len(v) for v in short.values()]), width - 20)
            body.append(Text(""))
            body.append(_line((f"  {label[:w]:<{w}}" + "  reviewed  left", "bold"), width=width))
            for path, c in pr["per_code"].items():
                name = short[path] if len(short[path]) <= w else short[path][:w - 1] + "…"
                body.append(_line((f"  {name:<{w}}", ""), (f"{c['reviewed']:>10}", "green"),
                                  (f"{c['left']:>6}", "yellow"), width=width))
            room = height - len(top) - 1
            if len(body) > room:
                hidden = len(body) - room + 1
                body = body[:room - 1] + [_line((f"  … {hidden} more (a taller terminal shows them)", "dim"),
                                                width=width)]
        foot = _footer([("any key", "back")], width)
        room = height - len(top) - 1
        return top + (body + [Text("")] * room)[:room] + [foot]

    if item is None:
        body = [Text("Nothing to review with these filters.", "bold yellow")]
        room = height - len(top) - 2
        return top + (body + [Text("")] * room)[:room] + [msg, _footer([("?", "help"), ("q", "quit")], width)]

    if state.mode in ("pick", "memo"):
        if state.mode == "pick":
            found = candidates(state)
            if state.pick_action == "recode":
                title = Text.assemble(("recode ", "bold"), (state.proposal.code.name, "bold strike"),
                                      (" → pick a code", "bold"))
            else:
                title = Text("add a code to this segment", "bold")
            field_lines = _text_field(state.query, width, console, "filter: ", 1)
            foot = _footer([("type", "to filter"), ("↑↓", "choose"), ("Enter", "pick"), ("Esc", "cancel")], width)
            fixed = len(top) + 2 + 1 + len(field_lines) + 1 + 1 + 1  # speaker, rule, title, field, count, msg, foot
            room = height - fixed
            list_rows = max(min(len(found), room - 2), min(room, 3))
            text_rows = max(room - list_rows, 1)
            seg = _segment_block(item, width, console, text_rows, {})
            rule = Text("─" * width, "dim")
            start = max(0, min(state.pick_index - list_rows // 2, len(found) - list_rows))
            rows = []
            for k, c in enumerate(found[start:start + list_rows], start=start):
                sel = k == state.pick_index
                row = Text.assemble(("▸ " if sel else "  ", "bold yellow"),
                                    (c.name, "bold reverse" if sel else "bold"),
                                    (f"  {c.category}" if c.category else "", "cyan"),
                                    (f"  {c.description}", "dim"))
                row.truncate(width, overflow="ellipsis")
                rows.append(row)
            if not found:
                rows = [Text("  no code matches", "yellow")]
            count = Text(f"{len(found)} code(s)" + (f", {state.pick_index + 1} selected" if found else ""), "dim")
            body = seg + [rule, title] + field_lines + rows
            room = height - len(top) - 3
            return top + (body + [Text("")] * room)[:room] + [count, msg, foot]
        # memo
        field_lines = _text_field(state.memo_text, width, console, "memo: ", 4)
        hint = Text("Enter saves it on this segment (not on a code decision); empty removes it.", "dim")
        hint_lines = _wrap(hint, width, console, max_lines=2)
        foot = _footer([("Enter", "keep"), ("Esc", "cancel"), ("Ctrl-U", "clear")], width)
        room = height - len(top) - 2 - 1 - len(field_lines) - len(hint_lines) - 2
        seg = _segment_block(item, width, console, max(room, 1), {"question": 1})
        body = seg + [Text("─" * width, "dim")] + field_lines + hint_lines
        room = height - len(top) - 2
        return top + (body + [Text("")] * room)[:room] + [msg, foot]

    # browse: allocate lines by priority so the screen always fits
    memo = state.session.segment_memo(item)
    memo_lines = _wrap(Text.assemble(("✎ memo on this segment: ", "bold yellow"), (memo, "yellow")),
                       width, console, max_lines=2) if memo else []
    foot = _footer(BROWSE_KEYS, width)
    n_props = len(item.proposals) or 1
    decided = saved_memos(state, item) if item.reviewed else {}
    n_props += sum(1 for p in item.proposals if decided.get(p.code.guid))
    fixed = len(top) + 1 + 1 + n_props + len(memo_lines) + 1 + 1  # speaker, rule, proposals, memo, msg, footer
    room = height - fixed
    full_text = len(_wrap(Text(item.text), width, console, indent=10))
    has = {"question": bool(item.question), "previous": bool(item.previous and item.previous != item.question),
           "next": bool(item.next)}
    ctx = {k: 0 for k in has}
    text_rows, evidence = 0, 0
    context = ("question", "next", "previous")
    steps = [("text", min(3, full_text))] + [(k, 1) for k in context] + \
        [("evidence", 1), ("text", full_text), ("evidence", 2)] + [(k, 2) for k in context] + [(k, 4) for k in context]
    for what, upto in steps:
        if what == "text":
            add = max(0, min(upto, full_text) - text_rows)
            add = min(add, room)
            text_rows += add
            room -= add
        elif what == "evidence":  # one more line of evidence under every proposal, if all fit
            want = [min(len(_wrap(Text(p.evidence), width, console, indent=8)), upto) if p.evidence else 0
                    for p in item.proposals]
            more = sum(max(0, w - evidence) for w in want)
            if more and room >= more:
                evidence = upto
                room -= more
        elif has[what] and room > 0:
            need = len(_wrap(Text(getattr(item, what)), width, console, indent=10, max_lines=upto))
            add = max(0, min(need, upto) - ctx[what])
            add = min(add, room)
            ctx[what] += add
            room -= add
    seg = _segment_block(item, width, console, text_rows, ctx)
    rule = Text.assemble(("── proposals ", "dim"), ("(" + ("reviewed" if item.reviewed else "not reviewed yet") + ") ",
                                                    "green" if item.reviewed else "yellow"))
    rule.append("─" * max(0, width - rule.cell_len), "dim")
    props = [ln for block in _proposal_lines(state, item, width, console, evidence, decided) for ln in block]
    if not item.proposals:
        props = [Text("  no proposal for this segment — + adds a code", "yellow")]
    body = seg + [rule] + props + memo_lines
    room = height - len(top) - 2
    if len(body) > room:  # should not happen; never scroll the terminal
        body = body[:room]
    return top + body + [Text("")] * (room - len(body)) + [msg, foot]


def render_text(state: TuiState, width: int = 80, height: int = 24) -> str:
    """The screen as plain text (for tests and debugging)."""
    return "\n".join(line.plain.rstrip() for line in render(state, width, height))


# -- the terminal -----------------------------------------------------------------------------------
ESCAPES = {"[A": "up", "[B": "down", "[C": "right", "[D": "left", "OA": "up", "OB": "down", "OC": "right",
           "OD": "left", "[H": "home", "[F": "end", "OH": "home", "OF": "end", "[1~": "home", "[4~": "end",
           "[7~": "home", "[8~": "end", "[5~": "pgup", "[6~": "pgdn", "[3~": "delete", "[Z": "backtab"}
CONTROLS = {"\r": "enter", "\n": "enter", "\x7f": "backspace", "\x08": "backspace", "\t": "tab", "\x03": "ctrl-c",
            "\x15": "ctrl-u", "\x17": "ctrl-w", "\x04": "ctrl-d", "\x1b": "esc"}
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"


class KeyReader:
    """Keys from a terminal file descriptor: characters, named keys, and bracketed pastes."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buf = ""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def _fill(self, timeout: float | None) -> bool:
        r, _, _ = select.select([self.fd], [], [], timeout)
        if not r:
            return False
        data = os.read(self.fd, 4096)
        if not data:
            raise EOFError("terminal closed")
        self.buf += self.decoder.decode(data)
        return True

    def read(self, timeout: float | None = None) -> str | None:
        if not self.buf and not self._fill(timeout):
            return None
        while True:
            b = self.buf
            if not b:
                return None
            if b[0] != "\x1b":
                self.buf = b[1:]
                return CONTROLS.get(b[0], b[0] if b[0].isprintable() else f"ctrl-{ord(b[0]):02x}")
            if len(b) == 1:
                if not self._fill(0.05):
                    self.buf = ""
                    return "esc"
                continue
            if b.startswith(PASTE_START[: len(b)]) and len(b) < len(PASTE_START):
                if not self._fill(0.05):
                    self.buf = b[1:]
                    return "esc"
                continue
            if b.startswith(PASTE_START):
                end = b.find(PASTE_END)
                if end < 0:
                    if not self._fill(1.0):
                        self.buf = ""
                        return Paste(b[len(PASTE_START):])
                    continue
                self.buf = b[end + len(PASTE_END):]
                return Paste(b[len(PASTE_START):end])
            if b[1] in "[O":
                j = 2
                while j < len(b) and not (0x40 <= ord(b[j]) <= 0x7E and not (b[1] == "[" and b[j] == "[" and j == 2)):
                    j += 1
                if j >= len(b):
                    if not self._fill(0.05):
                        self.buf = ""
                        return "esc"
                    continue
                seq, self.buf = b[1:j + 1], b[j + 1:]
                return ESCAPES.get(seq, f"unknown-{seq}")
            self.buf = b[2:]  # Alt+key: ignored
            return f"alt-{b[1]}"


def _fileno(stream) -> int:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # replaced or captured streams (pytest, pipes in IDEs)
        return -1


class Terminal:
    """Raw-ish terminal for the session; everything is restored on exit, whatever the reason."""

    ENTER = "\x1b[?1049h\x1b[?25l\x1b[?2004h\x1b[H\x1b[2J"
    LEAVE = "\x1b[?2004l\x1b[0m\x1b[?25h\x1b[?1049l"

    def __init__(self, infd: int | None = None, outfd: int | None = None):
        self.infd = _fileno(sys.stdin) if infd is None else infd
        self.outfd = _fileno(sys.stdout) if outfd is None else outfd
        self.saved = None
        self.old_handlers: dict = {}
        self.color_system = "auto"

    def __enter__(self) -> "Terminal":
        try:
            import termios
        except ImportError:  # Windows
            raise TerminalError("the terminal review needs a Unix-like terminal (Linux, macOS, WSL)") from None

        if self.infd < 0 or self.outfd < 0 or not (os.isatty(self.infd) and os.isatty(self.outfd)):
            raise TerminalError("precode review needs an interactive terminal (stdin and stdout)")
        self.saved = termios.tcgetattr(self.infd)
        mode = termios.tcgetattr(self.infd)
        mode[0] &= ~(termios.IXON | termios.ICRNL | termios.INLCR | termios.IGNCR)
        mode[3] &= ~(termios.ECHO | termios.ICANON | termios.IEXTEN)  # keep ISIG: Ctrl-C still interrupts
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self.old_handlers[sig] = signal.signal(sig, self._exit_on_signal)
            except ValueError:  # not the main thread: the default handlers stay
                pass
        termios.tcsetattr(self.infd, termios.TCSANOW, mode)
        self.write(self.ENTER)
        return self

    @staticmethod
    def _exit_on_signal(signum, frame):
        raise SystemExit(128 + signum)

    def __exit__(self, *exc) -> None:
        import termios

        try:
            self.write(self.LEAVE)
        except OSError:
            pass
        try:
            termios.tcsetattr(self.infd, termios.TCSADRAIN, self.saved)
        except (OSError, termios.error):
            pass
        for sig, handler in self.old_handlers.items():
            signal.signal(sig, handler)

    def write(self, s: str) -> None:
        data = s.encode("utf-8", "replace")
        while data:
            n = os.write(self.outfd, data)
            data = data[n:]

    def size(self) -> tuple[int, int]:
        try:
            sz = os.get_terminal_size(self.outfd)
            if sz.columns > 0 and sz.lines > 0:
                return sz.columns, sz.lines
        except OSError:
            pass
        return 80, 24

    def draw(self, lines: list[Text], width: int) -> None:
        buf = io.StringIO()
        console = Console(file=buf, width=width, force_terminal=True, color_system=self.color_system,
                          highlight=False, markup=False, emoji=False, legacy_windows=False)
        out = ["\x1b[?2026h"]  # synchronised update where supported (ignored elsewhere)
        for k, line in enumerate(lines):
            buf.seek(0)
            buf.truncate()
            console.print(line, end="", no_wrap=True, overflow="crop", crop=True, soft_wrap=True)
            out.append(f"\x1b[{k + 1};1H\x1b[0m" + buf.getvalue() + "\x1b[0m")
            if line.cell_len < width:
                out.append("\x1b[K")
        out.append("\x1b[?2026l")
        self.write("".join(out))


def _loop(state: TuiState, term: Terminal) -> None:
    keys = KeyReader(term.infd)
    size = None
    dirty = True
    while not state.done:
        now = term.size()
        if dirty or now != size:
            size = now
            term.draw(render(state, *size), size[0])
            dirty = False
        key = keys.read(timeout=0.25)
        handled = 0
        while key is not None:  # every key already typed, then one redraw (fast typists, pastes, tmux)
            handle_key(state, key)
            dirty, handled = True, handled + 1
            if state.done or handled >= 256:
                break
            key = keys.read(timeout=0)


def summary(state: TuiState) -> dict:
    """What this session did, read back from the store (exact even if Ctrl-C cut an action short)."""
    s = state.session
    made = Counter(d.verdict for d in dec.load(s.store, s.coder) if (d.id or 0) > state.first_id)
    pr = s.progress()
    return {"coder": s.coder, "decisions": sum(v for k, v in made.items() if k != "undo"),
            "by_verdict": dict(sorted(made.items())), "reviewed": pr["reviewed"], "left": pr["left"],
            "unsaved_memos": len(state.memos)}


def run_review(store_path: Path, coder: str, filters: Filters | None = None, order: str = "document",
               learn: bool = True) -> dict:
    """Review the latest run's proposals in the terminal; every decision is in the store when its key is pressed.

    Returns ``{coder, decisions, by_verdict, reviewed, left, unsaved_memos}``. Raises StoreError (no store,
    no coder, bad order) before touching the terminal, TerminalError without an interactive terminal.
    """
    session = ReviewSession(store_path, coder, filters, order, learn=learn)
    state = TuiState(session, index=session.resume_index())  # reopens where this coder stopped
    try:
        with Terminal() as term:
            try:
                _loop(state, term)
            except KeyboardInterrupt:
                pass
            except EOFError:
                pass
        return summary(state)
    finally:
        session.close()
