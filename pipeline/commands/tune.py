"""`precode tune`: fine-tune the sentence encoder on a project's coded examples (contrastive, SetFit-like)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ._app import PROJECT_HELP, app, err, fail, out, working
from ..errors import PrecodeError


@app.command()
def tune(
    project: Path = typer.Argument(..., help=PROJECT_HELP),
    out_dir: Path = typer.Option(..., "--out", help="New folder for the tuned model (e.g. models/my-study-tuned)."),
    steps: Optional[int] = typer.Option(None, help="Training steps; default 10 (supcon) or 100 (cosine). "
                                                   "About 2 s a step on 2 CPU cores."),
    batch_size: Optional[int] = typer.Option(None, help="Texts a step (supcon, default 32) or pairs a step (cosine, default 16)."),
    loss: str = typer.Option("supcon", help="supcon: every pair in a batch (fast, the default); cosine: SetFit's pairs."),
    seed: int = typer.Option(0, help="Seed for the batches and the weights' updates."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Fine-tune the encoder on the run's training files and the coders' accepted codes (about half a minute on
    2 cores; then point embedding.model at the new folder: every segment is encoded again once)."""
    from ..project import find_store
    from ..tune import recipe, tune_project

    try:
        store = find_store(project)
        with working("tuning", quiet, recipe(loss, steps, batch_size)[0]) as tick:
            res = tune_project(store, out_dir, steps=steps, batch_size=batch_size, seed=seed, loss=loss, progress=tick)
    except PrecodeError as e:
        fail(e)
    n_steps = f"{res.steps} step{'s' if res.steps != 1 else ''}"
    out.print(f"tuned {escape(res.base_model)} on {res.examples} examples of {res.codes} codes, {n_steps}, "
              f"{res.seconds:.0f} s; loss {res.losses[0]:.3f} -> {res.losses[-1]:.3f}", soft_wrap=True)
    if res.thin_codes:
        listed = ", ".join(f"{c} ({n})" for c, n in res.thin_codes.items())
        err.print(f"[yellow]warning:[/] {len(res.thin_codes)} of {res.codes} codes have fewer than a handful of examples, "
                  f"so the tuned encoder knows little of them and may have learned their few texts by heart: "
                  f"{escape(listed)}", soft_wrap=True)
    where = escape(str(res.out_dir.resolve()))
    out.print(f"wrote {where}; use it with: precode run CONFIG --set embedding.model={where}", soft_wrap=True)
