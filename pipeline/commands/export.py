"""`precode export`: coded segments of a project as CSV/XLSX, a code matrix, quotes, or REFI-QDA."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ._app import PROJECT_HELP, app, err, fail, out
from ..errors import PrecodeError

FORMATS = ("csv", "xlsx", "matrix", "md", "qdpx", "qdc")


@app.command()
def export(
    project: Path = typer.Argument(..., help=PROJECT_HELP),
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
        notes: list[str] = []
        written = _export(data, fmt, target, coder, proposals, store, notes)
    except PrecodeError as e:
        fail(e)
    if notes:
        for note in notes:
            err.print(f"[dim]warning:[/] {escape(note)}", soft_wrap=True)
    out.print(f"{fmt}: {written}")
    if fmt in ("md", "matrix", "qdpx") and not proposals:
        from ..export.quotes import coded_pairs

        if not coded_pairs(data, False, coder):
            err.print(f"[yellow]note:[/] no confirmed codings{' by ' + coder if coder else ''} yet (nobody has "
                      "reviewed); review with `precode review` / `precode serve`, or add --proposals to export the "
                      "machine proposals, marked as unconfirmed", soft_wrap=True)


def _export(data, fmt: str, target: Path, coder: str | None, proposals: bool, store: Path, notes: list[str]) -> Path:
    if fmt in ("csv", "xlsx"):
        from ..export.table import suggestion_rows, write_csv, write_xlsx

        from ..memos import current_memos, with_memo_rows
        from ..store import Store

        rows = suggestion_rows(data.segments, data.suggestions, data.codebooks, data.states,
                               [*data.books.values(), *data.orphan_books.values()])
        with Store(store) as st:
            rows = with_memo_rows(rows, current_memos(st))  # segment memos: a row each, once
        if coder:
            rows = [r for r in rows if r["coder"] in (coder, "precode")]
        if fmt == "csv":
            return write_csv(rows, target)
        return write_xlsx(rows, target, [*data.codebooks.values(), *data.books.values()])
    if fmt == "md":
        from ..export.quotes import write_markdown

        return write_markdown(data, target, proposals, coder)
    if fmt == "matrix":
        from ..export.quotes import write_matrix

        return write_matrix(data, target, proposals, coder)
    from ..export.refi_project import export_qdc, export_qdpx

    if fmt == "qdc":
        return export_qdc(data, target, notes)
    return export_qdpx(data, target, coder=coder, include_proposals=proposals, store_path=store, notes=notes)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="A REFI-QDA project (.qdpx) or codebook (.qdc)."),
    project: Path = typer.Option(..., "--project", "-p", help="Project folder (created if needed) or project.sqlite."),
    study: Optional[str] = typer.Option(None, help="Study name for the imported documents (default: the project name in the file)."),
    codebook_name: Optional[str] = typer.Option(
        None, help="Name of the imported codebook (use the original name to keep GUIDs of a project precode exported)."),
    offsets: str = typer.Option(
        "auto", "--offsets",
        help="How the file counts positions: auto (NVivo by its origin, else by where spans fall), codepoint (QualCoder, "
             "precode) or utf16 (NVivo)."),
) -> None:
    """Bring a project from ATLAS.ti, NVivo, MAXQDA or QualCoder in; its codings count as human decisions."""
    from ..project import store_file

    try:
        store = store_file(project)
        if file.suffix.lower() == ".qdc":
            import yaml

            from ..codebook import codebook_to_dict, load_codebook
            from ..private import write_private
            from ..store import Store

            book = load_codebook(file)
            with Store(store) as st:
                st.save_codebook(book, codebook_to_dict(book))
            yaml_path = store.parent / f"{book.name}.yaml"
            write_private(yaml_path, yaml.safe_dump(codebook_to_dict(book), sort_keys=False, allow_unicode=True))
            out.print(f"codebook '{book.name}': {len(book.codes)} codes; saved in {store} and as {yaml_path}")
            return
        from ..export.refi_project import import_qdpx

        summary = import_qdpx(file, store, study, codebook_name, offsets)
    except PrecodeError as e:
        fail(e)
    for w in summary["warnings"]:
        err.print(f"[dim]warning:[/] {escape(w)}", soft_wrap=True)
    out.print(f"imported {summary['documents']} documents, {summary['codes']} codes, {summary['codings']} codings by "
              f"{', '.join(summary['users']) or 'nobody'} into {store} (study '{summary['study']}'); "
              f"{summary['decisions_added']} new human decisions, {summary['memos_added']} new memos")
    out.print(f"positions read as {'UTF-16 code units' if summary['offsets'] == 'utf16' else 'Unicode code points'} "
              f"({escape(summary['offsets_reason'])})")
