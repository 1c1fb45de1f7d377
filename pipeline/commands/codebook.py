"""`precode codebook add-code / rename-code / merge-codes / retire-code / write`: edit a project's
codebook (append-only events with coder and time) and write it back out as YAML or .qdc."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..cli import codebook_app, fail, out
from ..errors import PrecodeError

PROJECT = typer.Argument(..., help="Project: a batch config (.yaml), a project folder or project.sqlite.")
CODER = typer.Option(..., "--coder", help="Who makes the change.")
BOOK = typer.Option(None, "--codebook", help="Codebook name (needed when the project has several).")


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
