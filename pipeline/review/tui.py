"""The terminal review: one segment at a time, a decision recorded the moment its key is pressed.

A rich-rendered full screen with single-key input through termios (no widget framework): it works in any
xterm-like terminal and in tmux, 80x24 and up. The screen logic is pure and tested without a terminal:

* :func:`handle_key` (:mod:`.tui_state`) applies one key to a :class:`TuiState` (decisions go through its
  :class:`~pipeline.review.core.ReviewSession`, which writes them to the store at once);
* :func:`render` (:mod:`.tui_render`) returns exactly ``height`` rich ``Text`` lines for a ``width`` x
  ``height`` screen;
* :mod:`.terminal` reads keys (escape sequences, bracketed paste) and owns the tty.

:func:`run_review` owns the terminal while it runs (alternate screen, no echo, hidden cursor) and gives it
back on every exit: ``q``, Ctrl-C, SIGTERM/SIGHUP, or an error.

Memos: ``m`` writes a memo on the segment on screen, saved at once as the segment's memo
(:mod:`pipeline.memos`), never copied onto a decision.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .. import decisions as dec
from .core import Filters, ReviewSession
from .terminal import KeyReader, Paste, Terminal, TerminalError
from .tui_render import HELP, progress_line, render, render_text
from .tui_state import TuiState, candidates, handle_key

__all__ = ["HELP", "KeyReader", "Paste", "Terminal", "TerminalError", "TuiState", "candidates", "handle_key",
           "progress_line", "render", "render_text", "run_review", "summary"]


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
