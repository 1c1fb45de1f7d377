"""`precode redact`: de-identified copies of transcripts, with the pseudonym key kept apart."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ._app import app, err, fail, out
from ..errors import PrecodeError


@app.command()
def redact(
    inputs: List[Path] = typer.Argument(..., help="Transcripts (any supported format), folders or globs."),
    out_dir: Path = typer.Option(..., "--out", "-o", help="Folder for the redacted transcripts (safe to share)."),
    key: Path = typer.Option(..., "--key", help="Pseudonym key (JSON, kept private, never inside --out)."),
    known: Optional[Path] = typer.Option(
        None, "--known", help="YAML of known names: participants, staff, others, sites, places, orgs, aliases, keep "
                              "(format: README, 'De-identification')."),
    types: Optional[str] = typer.Option(None, help="Comma-separated types (default all): PERSON,SITE,PLACE,ORG,DATE,AGE,PHONE,EMAIL,ADDRESS,ID."),
    spacy_model: str = typer.Option("en_core_web_sm", help="spaCy pipeline for names, places and organisations."),
    allow_outside_symlinks: bool = typer.Option(
        False, "--allow-outside-symlinks", help="Read files in an input folder that link outside it (refused by default)."),
) -> None:
    """Replace names, places, dates, ages over 89, phones, e-mails, addresses and IDs by pseudonyms.

    Two passes: identifiers are collected from every input first, then texts, file names and messages are redacted with the same key. Tables come out as tables (same format, same columns); other transcripts as .txt."""  # noqa: E501
    from ..redact import TYPES, redact_files

    chosen = tuple(t.strip().upper() for t in types.split(",")) if types else TYPES
    bad = [t for t in chosen if t not in TYPES]
    if bad:
        fail(PrecodeError(f"unknown type(s) {', '.join(bad)} (one of {', '.join(TYPES)})"))
    try:
        summary = redact_files(inputs, out_dir, known, key, spacy_model=spacy_model, types=chosen,
                               allow_outside_symlinks=allow_outside_symlinks)
    except PrecodeError as e:
        fail(e)
    for line in summary["skipped"]:
        err.print(f"[yellow]skipped:[/] {escape(line)}", soft_wrap=True)
    for line in summary["warnings"]:
        err.print(f"[yellow]check:[/] {escape(line)}", soft_wrap=True)
    per_type = ", ".join(f"{t} {n}" for t, n in summary["redactions"].items() if n)
    out.print(f"{len(summary['documents'])} files, {summary['total']} redactions ({per_type or 'none'})")
    out.print(f"redacted transcripts and redaction_review.csv (to check for misses): {summary['out_dir']}")
    out.print(f"[bold]private[/], keep off shared drives: key {summary['key_path']}, originals {summary['originals_path']}")
