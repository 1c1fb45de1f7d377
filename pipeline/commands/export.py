"""`precode export`: coded segments of a project as CSV/XLSX, a code matrix, quotes, or REFI-QDA."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..cli import app, fail, out
from ..errors import PrecodeError

FORMATS = ("csv", "xlsx", "matrix", "md", "qdpx", "qdc")


@app.command()
def export(
    project: Path = typer.Argument(..., help="Project: a batch config (.yaml), a project folder or project.sqlite."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, xlsx, matrix (wide segment x code CSV), md (quotes by theme), qdpx, qdc."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (default: beside the store)."),
    coder: Optional[str] = typer.Option(None, help="Only this coder's decisions (matrix, md, qdpx)."),
    proposals: bool = typer.Option(False, "--proposals", help="Include unconfirmed machine proposals (marked as such)."),
) -> None:
    """Export a project's coded segments, with each proposal's status and coder."""
    from ..project import find_store, load_project

    if fmt not in FORMATS:
        fail(PrecodeError(f"unknown format '{fmt}' (one of {', '.join(FORMATS)})"))
    try:
        store = find_store(project)
        data = load_project(store)
        suffix = {"matrix": ".matrix.csv", "md": ".md"}.get(fmt, f".{fmt}")
        target = out_path or store.parent / f"export{suffix}"
        written = _export(data, fmt, target, coder, proposals)
    except PrecodeError as e:
        fail(e)
    out.print(f"{fmt}: {written}")


def _export(data, fmt: str, target: Path, coder: str | None, proposals: bool) -> Path:
    if fmt in ("csv", "xlsx"):
        from ..export.table import suggestion_rows, write_csv, write_xlsx

        rows = suggestion_rows(data.segments, data.suggestions, data.codebooks, data.states)
        if coder:
            rows = [r for r in rows if r["coder"] in (coder, "precode")]
        return (write_csv if fmt == "csv" else write_xlsx)(rows, target)
    if fmt == "md":
        from ..export.quotes import write_markdown

        return write_markdown(data, target, proposals, coder)
    if fmt == "matrix":
        from ..export.quotes import write_matrix

        return write_matrix(data, target, proposals, coder)
    from ..export.refi_project import export_qdc, export_qdpx

    if fmt == "qdc":
        return export_qdc(data, target)
    return export_qdpx(data, target, coder=coder, include_proposals=proposals)
