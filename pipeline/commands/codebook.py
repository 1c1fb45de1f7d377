"""`precode codebook ...`: check, show and compare codebook files (validate, show, diff), list orphaned
decisions (orphans), and edit a project's codebook (add-code, rename-code, merge-codes, retire-code:
append-only events with coder and time) and write it back out as YAML or .qdc (write)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..errors import CodebookError, PrecodeError
from ._app import PROJECT_HELP, codebook_app, err, fail, out

PROJECT = typer.Argument(..., help=PROJECT_HELP)
CODER = typer.Option(..., "--coder", help="Who makes the change.")
BOOK = typer.Option(None, "--codebook", help="Codebook name (needed when the project has several).")


@codebook_app.command("validate")
def codebook_validate(files: List[Path] = typer.Argument(..., help="Codebook files.")) -> None:
    """Check codebooks; print every problem found, exit 2 if any; warn about codes without a
    description or examples and about near-duplicate definitions."""
    from ..codebook import codebook_warnings, load_codebook

    bad = 0
    for f in files:
        try:
            cb = load_codebook(f)
        except CodebookError as e:
            bad += 1
            for problem in e.problems:
                err.print(f"[bold red]error:[/] {escape(e.path)}: {escape(problem)}", soft_wrap=True)
            continue
        out.print(f"{f}: ok ({len(cb.categories)} categories, {len(cb.codes)} codes, "
                  f"{sum(len(c.examples) for c in cb.codes)} examples)")
        for line in codebook_warnings(cb):
            err.print(f"[yellow]warning:[/] {escape(str(f))}: {escape(line)}", soft_wrap=True)
    if bad:
        raise typer.Exit(2)


@codebook_app.command("diff")
def codebook_diff(
    old: Path = typer.Argument(..., help="The earlier codebook file."),
    new: Path = typer.Argument(..., help="The later codebook file."),
) -> None:
    """What changed between two codebook versions: renamed, moved, merged, split, retired, added and
    redefined codes (what decisions on each will do on the next run)."""
    from ..codebook import diff_codebooks, load_codebook

    try:
        a, b = load_codebook(old), load_codebook(new)
    except CodebookError as e:
        fail(e)
    changes = diff_codebooks(a, b)
    if not changes:
        out.print("no changes to codes")
    for ch in changes:
        out.print(escape(ch.line()), soft_wrap=True)


@codebook_app.command("orphans")
def codebook_orphans(project: Path = PROJECT) -> None:
    """List orphaned decisions: on a segment whose text changed, or on a code retired or split."""
    from ..decisions import orphan_lines
    from ..project import find_store
    from ..store import Store

    try:
        with Store(find_store(project)) as st:
            lines = orphan_lines(st)
    except PrecodeError as e:
        fail(e)
    out.print(f"{len(lines)} orphaned decision(s)")
    for line in lines:
        out.print(escape(line), soft_wrap=True)


@codebook_app.command("show")
def codebook_show(
    file: Path = typer.Argument(..., help="Codebook file."),
    fmt: str = typer.Option("table", "--format", help="table, yaml or csv."),
) -> None:
    """Show a codebook as a table (or as YAML / CSV, e.g. to convert a spreadsheet codebook)."""

    import yaml

    from ..codebook import codebook_to_dict, load_codebook
    from ..segment import one_line

    try:
        cb = load_codebook(file)
    except CodebookError as e:
        fail(e)
    if fmt == "yaml":
        out.print(yaml.safe_dump(codebook_to_dict(cb), sort_keys=False, allow_unicode=True, width=100), end="")
        return
    if fmt == "csv":
        from ..export.table import SafeWriter

        w = SafeWriter(sys.stdout, lineterminator="\n")
        w.writerow(["category", "code", "description", "inclusion", "exclusion", "examples"])
        for c in cb.codes:
            w.writerow([c.category or "", c.name, c.description, c.inclusion, c.exclusion, " | ".join(c.examples)])
        return
    out.print(f"[bold]{cb.title or cb.name}[/]")
    if cb.source:
        out.print(f"[dim]{cb.source}[/]")
    table = Table(show_lines=True)
    for col in ("category", "code", "description", "examples"):
        table.add_column(col, overflow="fold")
    for c in cb.codes:
        table.add_row(c.category or "", c.name, one_line(c.description, 160), str(len(c.examples)))
    out.print(table)
    for cat in cb.categories:
        if cat.questions:
            out.print(f"[bold]{cat.name}[/] is tied to {len(cat.questions)} interview question(s), "
                      f"e.g. \"{one_line(cat.questions[0], 100)}\"")


def _edit(project: Path, fn, *args, **kw):
    from ..project import find_store
    from ..store import Store

    try:
        with Store(find_store(project)) as st:
            return fn(st, *args, **kw)
    except PrecodeError as e:
        fail(e)


@codebook_app.command("add-code")
def add_code(project: Path = PROJECT, name: str = typer.Argument(..., help="The new code's name."),
             coder: str = CODER, codebook: Optional[str] = BOOK,
             category: Optional[str] = typer.Option(None, help="Its category (created if new)."),
             description: str = typer.Option("", help="Its definition."),
             segment: Optional[str] = typer.Option(None, help="In vivo: this segment's text is the first example, "
                                                              "and the code is applied to it."),
             example: Optional[str] = typer.Option(None, help="The selected text (default: the whole segment).")) -> None:
    """Create a code in the project's codebook (in vivo with --segment)."""
    from ..code_edit import create_code

    code = _edit(project, create_code, name, coder, codebook=codebook, category=category, description=description,
                 segment_id=segment, example=example)
    out.print(f"created {code.path}" + (f" and applied it to {segment}" if segment else ""))


@codebook_app.command("rename-code")
def rename(project: Path = PROJECT, code: str = typer.Argument(..., help="Code (Name or Category/Name)."),
           new_name: str = typer.Argument(..., help="Its new name."), coder: str = CODER,
           codebook: Optional[str] = BOOK) -> None:
    """Rename a code; its decisions follow."""
    from ..code_edit import rename_code

    new = _edit(project, rename_code, code, new_name, coder, codebook=codebook)
    out.print(f"renamed {code} -> {new.path}")


@codebook_app.command("merge-codes")
def merge(project: Path = PROJECT, source: str = typer.Argument(..., help="Code merged away."),
          target: str = typer.Argument(..., help="Code it is merged into."), coder: str = CODER,
          codebook: Optional[str] = BOOK) -> None:
    """Merge one code into another; decisions on the first now belong to the second."""
    from ..code_edit import merge_codes

    dst = _edit(project, merge_codes, source, target, coder, codebook=codebook)
    out.print(f"merged {source} into {dst.path}")


@codebook_app.command("retire-code")
def retire(project: Path = PROJECT, code: str = typer.Argument(..., help="Code (Name or Category/Name)."),
           coder: str = CODER, codebook: Optional[str] = BOOK) -> None:
    """Retire a code: no longer proposed; its decisions are kept as orphaned."""
    from ..code_edit import retire_code

    old = _edit(project, retire_code, code, coder, codebook=codebook)
    out.print(f"retired {old.path}")


@codebook_app.command("write")
def write(project: Path = PROJECT, out_path: Path = typer.Option(..., "--out", "-o", help=".yaml or .qdc"),
          codebook: Optional[str] = BOOK) -> None:
    """Write the project's codebook, with its edits, as YAML or .qdc (point the config at it before re-running)."""
    from ..code_edit import write_codebook

    out.print(f"wrote {_edit(project, write_codebook, out_path, codebook)}")
