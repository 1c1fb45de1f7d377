"""The terminal review's screen: :func:`render` returns exactly ``height`` rich ``Text`` lines for a
``width`` x ``height`` screen, from a :class:`~pipeline.review.tui_state.TuiState` (pure, no terminal)."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console
from rich.text import Text

from .. import decisions as dec
from ..flags import legend_lines
from .core import ReviewItem
from .tui_state import MARKS, TuiState, candidates

MIN_WIDTH, MIN_HEIGHT = 40, 12

HELP = [
    ("a", "accept the selected proposal (the top one unless you pick another)"),
    ("r", "reject the selected proposal"),
    ("1-9  ↑ ↓", "select a proposal"),
    ("c", "recode: replace the selected proposal (searchable list)"),
    ("+  =", "add another code to this segment (same list; a new name + Enter creates it, in vivo)"),
    ("x", "no code applies to this segment (a decision: precode learns to propose nothing for such text)"),
    ("m", "memo on this segment (saved at once; empty removes it)"),
    ("e", "edit a code of the codebook: r rename, m merge into another, d retire (for every coder, at once)"),
    ("s  n  →", "skip to the next segment"),
    ("p  ←", "previous segment"),
    ("Tab", "next segment you have not reviewed"),
    ("u", "undo your last decision (goes back to its segment)"),
    ("q", "quit (every decision is already saved)"),
    ("lists", "type to filter, ↑ ↓ choose, Enter picks, Esc cancels"),
    ("marks", "✓ accepted  ✗ rejected  + added by you  · not decided"),
    *((f"flag {flag}", meaning) for flag, meaning in legend_lines()),
]



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
               ("e", "edit code"), ("n", "next"), ("p", "prev"), ("u", "undo"), ("?", "help"), ("q", "quit")]
DROP = [("e", "edit code"), ("1-9", "select"), ("p", "prev"), ("m", "memo"), ("+", "add"), ("u", "undo"), ("n", "next")]


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
        if p.code.retired:  # a decision kept on a code retired or split since (an orphan)
            head.append(f"  {p.code.retired}: orphaned", "magenta")
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

    if state.mode in ("code", "rename", "retire"):
        return _code_screen(state, item, width, height, console, top, msg)

    if state.mode in ("pick", "memo"):
        if state.mode == "pick":
            found = candidates(state)
            if state.pick_action == "recode":
                title = Text.assemble(("recode ", "bold"), (state.proposal.code.name if state.proposal else "", "bold strike"),
                                      (" → pick a code", "bold"))
            elif state.pick_action == "edit":
                title = Text("edit which code of the codebook?", "bold")
            elif state.pick_action == "merge":
                title = Text.assemble(("merge ", "bold"), (state.edited.path if state.edited else "", "bold magenta"),
                                      (" into which code? (its decisions follow)", "bold"))
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


def _code_screen(state: TuiState, item: ReviewItem, width: int, height: int, console: Console, top: list[Text],
                 msg: Text) -> list[Text]:
    """Editing one code of the codebook: what it is and how many decisions it carries, then the menu, the
    new name being typed, or the retire confirmation."""
    code = state.edited
    s = state.session
    n = sum(1 for d in dec.load(s.store) if d.code_guid == state.edit_guid and d.verdict != "undo")
    body = [_line(("edit code ", "bold"), (code.path if code else "?", "bold magenta"), width=width)]
    if code and code.description:
        body += _wrap(Text(code.description, "dim"), width, console, indent=2, max_lines=3)
    body.append(_line((f"  {n} decision(s) by all coders on this code; an edit is recorded with your name and the time",
                       "dim"), width=width))
    body.append(Text(""))
    if state.mode == "rename":
        body += _text_field(state.name_text, width, console, "new name: ", 2)
        foot = _footer([("Enter", "rename"), ("Esc", "cancel"), ("Ctrl-U", "clear")], width)
    elif state.mode == "retire":
        foot = _footer([("y", "retire"), ("any other key", "cancel")], width)
    else:
        for key, what in (("r", "rename it (decisions follow the new name)"),
                          ("m", "merge it into another code (its decisions follow that code)"),
                          ("d", "retire it (no longer offered; its decisions are kept and marked orphaned)")):
            body.append(_line((f"  {key}  ", "bold cyan"), (what, ""), width=width))
        foot = _footer([("r", "rename"), ("m", "merge"), ("d", "retire"), ("Esc", "cancel")], width)
    room = height - len(top) - 2
    return top + (body + [Text("")] * room)[:room] + [msg, foot]


def render_text(state: TuiState, width: int = 80, height: int = 24) -> str:
    """The screen as plain text (for tests and debugging)."""
    return "\n".join(line.plain.rstrip() for line in render(state, width, height))
