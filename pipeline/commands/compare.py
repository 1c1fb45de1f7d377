"""`precode compare`: codes across studies and participant groups; crosswalk; co-occurrence."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

from collections import Counter

import typer
from rich.console import Console
from rich.table import Table

from ..cli import app, fail, out
from ..errors import PrecodeError
from ..export.table import SafeWriter


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


def heatmap(rows, groups: list[str], title: str, png: Path) -> Path:
    """Codes x groups heatmap sized to its content: a column per group, a line per code, room for the full
    (wrapped) code names; saved with a tight bounding box, so no label is cut."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [textwrap.fill(r.code.split(":", 1)[-1], 40) for r in rows]
    lines = [lab.count("\n") + 1 for lab in labels]
    label_in = 0.075 * max(len(line) for lab in labels for line in lab.split("\n"))
    glabels = [textwrap.fill(g, 16) for g in groups]
    width = label_in + 0.9 * max(len(groups), 2) + 1.2
    height = 1.2 + 0.16 * max(g.count("\n") + 1 for g in glabels) + 0.22 * sum(max(n, 1.5) for n in lines)
    m = np.array([[c.share if c.applied else np.nan for c in r.groups] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(width, height))
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="#e5e7eb")
    top = np.nanmax(m) if np.isfinite(m).any() and np.nanmax(m) > 0 else 1.0
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=0, vmax=top, aspect="auto")
    ax.set_xticks(range(len(groups)), glabels, rotation=0, fontsize=8)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    for i, j in np.ndindex(m.shape):
        ax.text(j, i, "n/a" if np.isnan(m[i, j]) else rows[i].groups[j].segments, ha="center", va="center",
                fontsize=7, color="white" if not np.isnan(m[i, j]) and m[i, j] > top / 2 else "black")
    ax.set_title(textwrap.fill(title, 60), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="share of segments")
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110, bbox_inches="tight", pad_inches=0.15, metadata={"Software": None})
    plt.close(fig)
    return png


def write_outputs(result, walk, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    path = out_dir / f"compare_by_{result.by}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = SafeWriter(fh, lineterminator="\n")
        w.writerow(["code", "source", "group", "applied", "segments", "documents", "participants", "coded_segments",
                    "share", "test", "statistic", "p_value", "p_holm", "cramers_v", "note"])
        for row in result.rows:
            for c in row.groups:
                w.writerow([row.code, row.source, c.group, "yes" if c.applied else "no", c.segments, c.documents,
                            c.participants, c.coded_segments, f"{c.share:.4f}" if c.applied else "", row.test,
                            "" if row.statistic is None else f"{row.statistic:.4f}",
                            "" if row.p_value is None else f"{row.p_value:.4g}",
                            "" if row.p_adjusted is None else f"{row.p_adjusted:.4g}",
                            "" if row.effect is None else f"{row.effect:.4f}", row.note])
    written.append(path)
    for source in ("confirmed", "proposed"):
        rows = [r for r in result.rows if r.source == source]
        if rows:
            png = out_dir / f"compare_by_{result.by}_{source}.png"
            written.append(heatmap(rows, result.groups, f"Share of segments with each code, by {result.by}"
                                   + (" (machine proposals, not confirmed)" if source == "proposed" else ""), png))
    if walk is not None:
        path = out_dir / f"crosswalk_{walk.a.name}_{walk.b.name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            w = SafeWriter(fh, lineterminator="\n")
            w.writerow(["code_a", "code_b", "description_cosine", "segments_co_coded", "examples"])
            for i, a in enumerate(walk.a.codes):
                for j, b in enumerate(walk.b.codes):
                    w.writerow([a.path, b.path, f"{walk.description_similarity[i, j]:.4f}", int(walk.co_coded[i, j]),
                                " | ".join(walk.examples.get((i, j), []))])
        written.append(path)
    return written
