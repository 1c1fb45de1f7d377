"""The typer ``app`` every command registers on, and what commands share: consoles, errors, progress.

Nothing here imports a command module (they import this); :mod:`pipeline.commands` imports them all.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Iterator, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import __version__
from ..errors import PrecodeError
from ..run import Reporter

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="precode: first-pass coding of qualitative transcripts, always confirmed by a person.")
codebook_app = typer.Typer(no_args_is_help=True, help="Check, show and edit codebooks (YAML, CSV or XLSX).")
app.add_typer(codebook_app, name="codebook")

err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
PROJECT_HELP = "Project: a batch config (.yaml), a project folder or project.sqlite."


def _print_version(value: bool) -> None:
    if value:
        out.print(f"precode {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the precode version and exit.")) -> None:
    # everything a command writes (stores, exports, caches, reports) is its owner's only: 0600 files, 0700 folders
    os.umask(0o077)


def fail(error: PrecodeError, code: int = 2) -> NoReturn:
    """One line on stderr naming the problem, and exit ``code`` (2: the user's input is wrong)."""
    err.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
    raise typer.Exit(code)


def parse_sets(sets: list[str]) -> dict:
    """``--set section.key=value`` options as config overrides."""
    from ..config import parse_override

    return dict(parse_override(s) for s in sets)


class RichReporter(Reporter):
    """Rich progress bars on stderr (never on stdout, where data may go); silent with ``quiet``.

    ``stage(name, None)`` is a stage of unknown length (loading a model, fitting): a pulsing bar with the time.
    """

    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.quiet = quiet
        self.console = console or err
        self.progress: Progress | None = None

    def stage(self, name: str, total: int | None) -> Callable[[int], None]:
        if self.quiet or total == 0:
            return lambda n: None
        self.done(name)
        progress = self.progress = Progress(TextColumn(f"{name:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                            console=self.console, transient=True)
        progress.start()
        task = progress.add_task(name, total=total)
        return lambda n: progress.advance(task, n) if self.progress is not None else None

    def done(self, name: str) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def message(self, line: str) -> None:
        pass


@contextmanager
def working(name: str, quiet: bool = False, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A progress bar (or, without a total, a pulsing one with the time) on stderr for a slow step."""
    rep = RichReporter(quiet)
    tick = rep.stage(name, total)
    try:
        yield tick
    finally:
        rep.done(name)
