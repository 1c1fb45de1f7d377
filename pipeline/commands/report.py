"""`precode report`: one self-contained HTML file (and PNG figures) for co-authors."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._app import PROJECT_HELP, app, fail, out, working
from ..errors import PrecodeError


@app.command()
def report(
    project: Path = typer.Argument(..., help=PROJECT_HELP),
    out_path: Path = typer.Option(Path("report.html"), "--out", "-o", help="HTML file to write."),
    title: Optional[str] = typer.Option(None, help="Report title."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Corpus, review progress, codes with quotes, agreement, emergent themes, comparisons: one HTML file."""
    from ..export.report import build_report
    from ..project import find_store, load_project

    try:
        store = find_store(project)
        with working("report", quiet):
            path, figures = build_report(load_project(store), store, out_path, title or f"precode report: {store.parent.name}")
    except PrecodeError as e:
        fail(e)
    out.print(f"report: {path} ({len(figures)} figures also as PNG in {path.parent / (path.stem + '_figures')})")
