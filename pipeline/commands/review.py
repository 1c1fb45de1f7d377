"""`precode review` (terminal) and `precode serve` (local web page): people decide on proposals."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ._app import PROJECT_HELP, app, err, fail, out
from ..errors import PrecodeError

ORDER_HELP = "document (transcript order) or uncertainty (what teaches most first)."
LEARN_HELP = ("Refit the proposer after each of your decisions and re-propose what is left (--no-learn keeps "
              "the run's proposals).")


@app.command()
def review(
    project: Path = typer.Argument(..., help=PROJECT_HELP),
    coder: str = typer.Option(..., "--coder", help="Your name: every decision is recorded with it."),
    code: Optional[str] = typer.Option(None, help="Only segments with a proposed code containing this text."),
    document: Optional[str] = typer.Option(None, help="Only documents whose name contains this text."),
    role: Optional[str] = typer.Option(None, help="Only this speaker role."),
    flag: Optional[str] = typer.Option(None, help="Only proposals with this flag (uncoded, low_confidence, ambiguous)."),
    status: Optional[str] = typer.Option(None, help="proposed, accepted, rejected, added, reviewed or unreviewed."),
    order: str = typer.Option("document", help=ORDER_HELP),
    learn: bool = typer.Option(True, "--learn/--no-learn", help=LEARN_HELP),
) -> None:
    """Review proposals in the terminal, one segment at a time (press ? for the keys)."""
    from ..project import find_store
    from ..review.core import Filters
    from ..review.tui import run_review

    try:
        store = find_store(project)
        err.print(f"[dim]loading {escape(str(store))}" + (" and refitting on your decisions" if learn else "") + "…[/]")
        summary = run_review(store, coder, Filters(code, document, role, flag, status), order, learn=learn)
    except PrecodeError as e:
        fail(e)
    by = ", ".join(f"{k} {v}" for k, v in sorted(summary["by_verdict"].items())) or "none"
    out.print(f"{escape(summary['coder'])}: {summary['decisions']} decision(s) this session ({by}); "
              f"reviewed {summary['reviewed']}, left {summary['left']}", soft_wrap=True)
    if summary.get("unsaved_memos"):
        err.print(f"[yellow]{summary['unsaved_memos']} memo(s) were not saved (no decision followed them)[/]")


@app.command()
def serve(
    project: Path = typer.Argument(..., help=PROJECT_HELP),
    coder: Optional[str] = typer.Option(None, "--coder", help="Your name (else the page asks once)."),
    port: int = typer.Option(0, help="Port on 127.0.0.1 (0: any free port)."),
    order: str = typer.Option("document", help=ORDER_HELP),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in the default browser."),
    learn: bool = typer.Option(True, "--learn/--no-learn", help=LEARN_HELP),
) -> None:
    """Review in the browser: a local page on 127.0.0.1 only, opened with a one-time token."""
    from ..project import find_store
    from ..review.web import serve as run_server

    def ready(url: str) -> None:
        out.print("review page (the link works once; Ctrl-C stops the server):")
        out.print(url, soft_wrap=True)

    try:
        store = find_store(project)
        run_server(store, port=port, coder=coder, open_browser=open_browser, order=order, learn=learn, on_ready=ready)
    except PrecodeError as e:
        fail(e)
