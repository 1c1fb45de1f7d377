"""`precode compare`: codes across studies and participant groups; crosswalk; co-occurrence."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import List, Optional

from collections import Counter

import typer
from rich.table import Table

from ..cli import app, fail, out
from ..errors import PrecodeError


@app.command()
def compare(
    projects: List[Path] = typer.Argument(..., help="Projects: batch configs (.yaml), project folders or project.sqlite files."),
    by: str = typer.Option("study", help="Group by: study, role, document, speaker, or any metadata column."),
    proposals: bool = typer.Option(True, "--proposals/--confirmed-only", help="Also count unconfirmed proposals (shown apart)."),
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
    table = Table(title=f"codes by {by} (segments with the code / coded segments)", title_justify="left")
    table.add_column("code")
    table.add_column("source")
    for g in result.groups:
        table.add_column(g, justify="right")
    table.add_column("test")
    table.add_column("p", justify="right")
    for row in result.rows:
        table.add_row(row.code, row.source, *(f"{c.segments} ({c.share:.0%})" for c in row.groups), row.test,
                      cmp.fmt_p(row.p_value))
    out.print(table)
    out.print("[dim]'proposed' rows count machine proposals nobody has confirmed; 'confirmed' rows count "
              "codes a person accepted or added.[/]")
    for level in ("segment", "document"):
        pairs = Counter()
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


def write_outputs(result, walk, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    path = out_dir / f"compare_by_{result.by}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["code", "source", "group", "segments", "documents", "participants", "coded_segments", "share",
                    "test", "statistic", "p_value", "note"])
        for row in result.rows:
            for c in row.groups:
                w.writerow([row.code, row.source, c.group, c.segments, c.documents, c.participants, c.coded_segments,
                            f"{c.share:.4f}", row.test, "" if row.statistic is None else f"{row.statistic:.4f}",
                            "" if row.p_value is None else f"{row.p_value:.4g}", row.note])
    written.append(path)
    for source in ("confirmed", "proposed"):
        rows = [r for r in result.rows if r.source == source]
        if not rows:
            continue
        m = np.array([[c.share for c in r.groups] for r in rows])
        fig, ax = plt.subplots(figsize=(2 + 1.2 * len(result.groups), 1 + 0.32 * len(rows)))
        im = ax.imshow(m, cmap="Blues", vmin=0, aspect="auto")
        ax.set_xticks(range(len(result.groups)), result.groups, rotation=30, ha="right")
        ax.set_yticks(range(len(rows)), [r.code.split(":", 1)[-1] for r in rows])
        for i, j in np.ndindex(m.shape):
            ax.text(j, i, rows[i].groups[j].segments, ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > m.max() / 2 else "black")
        ax.set_title(f"Share of coded segments per {result.by} ({source})")
        fig.colorbar(im, ax=ax, fraction=0.03)
        fig.tight_layout()
        png = out_dir / f"compare_by_{result.by}_{source}.png"
        fig.savefig(png, dpi=120, metadata={"Software": None})
        plt.close(fig)
        written.append(png)
    if walk is not None:
        path = out_dir / f"crosswalk_{walk.a.name}_{walk.b.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["code_a", "code_b", "description_cosine", "segments_co_coded", "examples"])
            for i, a in enumerate(walk.a.codes):
                for j, b in enumerate(walk.b.codes):
                    w.writerow([a.path, b.path, f"{walk.description_similarity[i, j]:.4f}", int(walk.co_coded[i, j]),
                                " | ".join(walk.examples.get((i, j), []))])
        written.append(path)
    return written
