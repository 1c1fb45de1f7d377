"""`precode compare`: codes across studies and participant groups; crosswalk; co-occurrence."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from collections import Counter

import typer
from rich.console import Console
from rich.table import Table

from ._app import app, fail, out
from ..compare import write_outputs
from ..errors import PrecodeError


@app.command()
def compare(
    projects: List[Path] = typer.Argument(..., help="Projects: batch configs (.yaml), project folders or project.sqlite files."),
    by: str = typer.Option("study", help="Group by: study, role, document, speaker, or any metadata column."),
    proposals: bool = typer.Option(
        False, "--proposals/--confirmed-only",
        help="Also count unconfirmed machine proposals (in rows of their own, labelled 'proposed'); default: confirmed codings only."),
    crosswalk_books: Optional[List[Path]] = typer.Option(None, "--crosswalk", help="Two codebooks to map onto each other (give twice)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder for CSV tables and PNG heatmaps."),
) -> None:
    """Compare code frequencies across groups (with a test of difference), and map codebooks."""
    from .. import compare as cmp
    from ..codebook import load_codebook
    from ..project import cached_embed, find_store, load_project

    try:
        stores = [find_store(p) for p in projects]
        data = [load_project(s) for s in stores]
        result = cmp.compare(data, by, proposals)
        walk = None
        if crosswalk_books:
            if len(crosswalk_books) != 2:
                raise PrecodeError("--crosswalk takes exactly two codebooks (give the option twice)")
            a, b = (load_codebook(p) for p in crosswalk_books)
            segs = [s for d in data for s in d.segments if s.coded]
            walk = cmp.crosswalk(a, b, segs, cached_embed(stores[0]))
    except PrecodeError as e:
        fail(e)
    table = Table(title=f"codes by {by} (segments with the code / segments coded with its codebook)",
                  title_justify="left")
    table.add_column("code", overflow="fold", min_width=24)
    table.add_column("source", min_width=9)
    for g in result.groups:
        table.add_column(g, justify="right", overflow="fold")
    for col in ("test", "p", "p (Holm)", "V"):
        table.add_column(col, justify="right" if col != "test" else "left")
    for row in result.rows:
        table.add_row(row.code, row.source,
                      *(f"{c.segments} ({c.share:.0%})" if c.applied else "n/a" for c in row.groups), row.test,
                      cmp.fmt_p(row.p_value), cmp.fmt_p(row.p_adjusted), "" if row.effect is None else f"{row.effect:.2f}")
    # piped (no terminal): wide enough that code names are never cut; a terminal folds them instead
    wide = out if out.is_terminal else Console(file=out.file, highlight=False, width=max(
        out.width, 70 + max((len(r.code) for r in result.rows), default=0) + sum(max(len(g), 9) + 3 for g in result.groups)))
    wide.print(table)
    out.print("[dim]'confirmed': segments a person accepted or added the code on (each segment once); 'proposed' "
              "(with --proposals): machine proposals nobody has confirmed. n/a: the code's codebook was not applied "
              "to that group, which is left out of the test. p (Holm): adjusted for the number of codes tested; "
              "V: Cramér's V (0.1 small, 0.3 medium, 0.5 large).[/]", soft_wrap=True)
    for level in ("segment", "document"):
        pairs: Counter = Counter()
        for d in data:
            pairs.update(cmp.cooccurrence(d, level, proposals))
        if pairs:
            t3 = Table(title=f"codes that occur together in the same {level} (top 10)", title_justify="left")
            for col in ("code", "code", f"{level}s"):
                t3.add_column(col)
            for (a, b), n in sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:10]:
                t3.add_row(a, b, str(n))
            out.print(t3)
    if walk is not None:
        t2 = Table(title=f"crosswalk {walk.a.name} -> {walk.b.name}: strongest pairs", title_justify="left")
        for col in ("code A", "code B", "description cosine", "segments co-coded"):
            t2.add_column(col)
        for a_code, b_code, sim, n in walk.strongest(12):
            t2.add_row(a_code, b_code, f"{sim:.2f}", str(n))
        out.print(t2)
    if out_dir:
        written = write_outputs(result, walk, out_dir)
        for p in written:
            out.print(f"wrote {p}")


