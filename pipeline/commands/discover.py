"""`precode discover`: emergent themes the codebook does not cover, proposed as candidate codes."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ._app import PROJECT_HELP, app, err, fail, out, working
from ..errors import PrecodeError


@app.command()
def discover(
    project: Path = typer.Argument(..., help=PROJECT_HELP),
    min_topic_size: Optional[int] = typer.Option(None, help="Smallest topic (default: scales with the corpus)."),
    seed: int = typer.Option(0, help="Random seed (UMAP); the same seed gives the same topics."),
    accept: Optional[str] = typer.Option(None, help="Accept a candidate (its number in the list, or its id): it becomes a code (category Emergent)."),
    reject: Optional[str] = typer.Option(None, help="Reject a candidate (number or id; remembered in later discoveries)."),
    coder: Optional[str] = typer.Option(None, "--coder", help="Who accepts or rejects."),
    name: Optional[str] = typer.Option(None, help="Name for an accepted candidate (default: its proposed name)."),
    memo: str = typer.Option("", help="Why (kept with the acceptance or rejection)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """BERTopic over the project's cached embeddings, with the codebook as zero-shot topics."""
    from .. import discover as disc
    from ..project import find_store

    try:
        store = find_store(project)
        if accept or reject:
            if not coder:
                raise PrecodeError("--coder NAME is needed to accept or reject a candidate")
            if accept:
                code = disc.accept_candidate(store, accept, coder, name=name, memo=memo)
                out.print(f"accepted: '{code.path}' is now a code of the project codebook (with its quotes as examples)")
            else:
                disc.reject_candidate(store, reject, coder, memo=memo)
                out.print(f"rejected: {reject} (remembered)")
            return
        with working("discover", quiet):
            result = disc.discover(store, min_topic_size=min_topic_size, seed=seed)
    except PrecodeError as e:
        fail(e)
    for note in result.notes:
        err.print(f"[dim]note:[/] {escape(note)}", soft_wrap=True)
    table = Table(title="emergent topics: candidate codes (proposed, awaiting review)", title_justify="left")
    for col in ("#", "name", "keywords", "segments", "documents", "roles", "status", "id"):
        table.add_column(col, overflow="fold")
    for k, c in enumerate(result.candidates, 1):
        table.add_row(str(k), escape(c.name), escape(", ".join(c.keywords[:6])), str(c.size), str(c.n_documents),
                      escape(", ".join(f"{r} {n}" for r, n in sorted(c.roles.items()))), escape(disc.status_text(c.review)), c.id)
    out.print(table)
    out.print(f"{len(result.covered)} codebook codes matched as zero-shot topics; "
              f"{result.reencoded} segment texts had to be encoded (0 when `precode run` embedded them)")
    for kind, path in result.outputs.items():
        out.print(f"{kind}: {path}")
    if result.candidates:
        out.print("accept or reject by number (or id): precode discover PROJECT --accept 1 --coder NAME "
                  "[--name 'Readable name'] (or --reject 1)")
