"""`precode run` (a batch from its config) and `precode code` (one-shot, no project), and `precode version`."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from .. import __version__
from ..errors import CodebookError, ConfigError, ModelError, PrecodeError, printable
from ..embed import DEFAULT_CACHE
from ._app import RichReporter, app, err, fail, out, parse_sets


def report_run(result, quiet: bool) -> None:
    """What a run did: skipped files and warnings on stderr, then counts, proposals per code and outputs."""
    for line in result.errors:
        err.print(f"[yellow]skipped:[/] {escape(printable(line))}", soft_wrap=True)
    for line in result.warnings:
        err.print(f"[dim]warning:[/] {escape(printable(line))}", soft_wrap=True)
    for study, changes in getattr(result, "codebook_changes", {}).items():
        if changes:
            err.print(f"codebook of study '{escape(study)}' changed since the last run:")
            for ch in changes:
                err.print(f"  {escape(ch.line())}", soft_wrap=True)
    orphans = getattr(result, "orphans", [])
    if orphans:
        err.print(f"{len(orphans)} decision(s) orphaned (segment text changed, or code retired or split): kept and "
                  "marked in exports; `precode codebook orphans PROJECT` lists them")
    if quiet:
        return
    c = result.manifest["counts"]
    out.print(
        f"{c['documents']} documents, {c['segments']} segments ({c['coded_segments']} to code), "
        f"{c['proposals']} proposals, {c['uncoded_segments']} segments uncoded (no code clears the bar)"
        + (f", {c['category_only_segments']} with a category only" if c.get("category_only_segments") else "")
    )
    abstained = c["uncoded_segments"] + c.get("category_only_segments", 0)
    if c["coded_segments"] and abstained > c["coded_segments"] / 2 and not (result.manifest.get("learning") or {}).get("studies"):
        out.print("[dim]hint: with no coded examples precode proposes only what it is fairly sure of. Code a few dozen "
                  "segments (precode review / serve) or pass coded material (--train, propose.train), and it "
                  "proposes more.[/]", soft_wrap=True)
    for study, info in (result.manifest.get("learning") or {}).get("studies", {}).items():
        if (info or {}).get("coverage"):
            out.print(f"study '{study}': {info['coverage']['note']}", soft_wrap=True)
    out.print(f"embeddings: {c['texts_embedded']} computed, {c['texts_cached']} from cache")
    per_code = result.proposals_per_code()
    if per_code:
        table = Table(title="proposals per code (all awaiting human confirmation)", title_justify="left")
        table.add_column("code")
        table.add_column("proposals", justify="right")
        for code, n in per_code.items():
            table.add_row(escape(code), str(n))
        out.print(table)
    for kind, path in result.outputs.items():
        out.print(f"{kind}: {path}")
    if result.errors:
        err.print(f"[yellow]{len(result.errors)} file(s) could not be read; see above[/]")


@app.command()
def run(
    config: Path = typer.Argument(..., help="Batch config (YAML)."),
    set_: List[str] = typer.Option([], "--set", help="Override a config value: section.key=value (repeatable)."),
    unit: Optional[str] = typer.Option(None, help="Segment unit: turn, sentence or paragraph."),
    code_speakers: Optional[str] = typer.Option(
        None, "--code-speakers", help="Comma-separated speakers or roles to code; the others stay context."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
) -> None:
    """Run a batch: ingest, segment, embed, propose; write coded segments and a run manifest."""
    from ..config import load_config
    from ..run import run_batch

    try:
        overrides = parse_sets(set_)
        if unit:
            overrides["segment.unit"] = unit
        if code_speakers is not None:
            overrides["segment.code_speakers"] = [s.strip() for s in code_speakers.split(",") if s.strip()]
        cfg = load_config(config, overrides)
        reporter = RichReporter(quiet)
        try:
            result = run_batch(cfg, reporter)
        finally:
            reporter.done("")
    except (ConfigError, CodebookError, ModelError, PrecodeError) as e:
        fail(e)
    report_run(result, quiet)


@app.command()
def code(
    inputs: List[Path] = typer.Argument(..., help="Transcripts, or .csv/.xlsx tables with a 'text' column."),
    codebook: Path = typer.Option(..., "--codebook", "-c", help="Codebook (YAML, CSV or XLSX)."),
    out_path: Path = typer.Option(..., "--out", "-o", help="Output CSV (or .xlsx)."),
    top_k: int = typer.Option(3, "--top-k", min=1, help="Proposals per segment at most."),
    unit: str = typer.Option("turn", help="Segment unit: turn, sentence or paragraph."),
    code_speakers: Optional[str] = typer.Option(None, "--code-speakers", help="Comma-separated speakers or roles to code."),
    model: str = typer.Option("all-MiniLM-L6-v2", help="Embedding model: package name, local folder or hub id."),
    threshold: Optional[float] = typer.Option(None, help="Score a code needs to be proposed (0-1; default 0.35)."),
    target_precision: Optional[float] = typer.Option(
        None, "--target-precision", help="Expected precision of the proposals (default 0.6); fewer codes for a higher one."),
    coverage: Optional[float] = typer.Option(
        None, "--coverage", help="Instead: sets holding a right code this often (e.g. 0.9), measured on --train data."),
    context_weight: Optional[float] = typer.Option(None, help="Weight of the previous turn in a segment's vector (0-1)."),
    train: List[Path] = typer.Option([], "--train", help="Coded material to learn from: .csv/.xlsx (text, code[, category]) or .qdpx."),
    offsets: str = typer.Option("auto", "--offsets", help="How a .qdpx given to --train counts positions: auto, codepoint or utf16 (NVivo)."),
    cache: Path = typer.Option(DEFAULT_CACHE, help="Embedding cache (SQLite)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the embedding cache."),
    set_: List[str] = typer.Option([], "--set", help="Override a config value: section.key=value."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only errors."),
) -> None:
    """One-shot coding without a project: INPUT... against a codebook, one CSV out."""
    from ..config import apply_overrides, config_from_dict
    from ..run import run_batch

    data: dict = {
        "project": {"name": "oneshot", "output_dir": str(out_path.parent.resolve())},
        "studies": [{"name": "input", "inputs": [str(p.resolve()) for p in inputs], "codebook": str(codebook.resolve())}],
        "segment": {"unit": unit},
        "embedding": {"model": model, "cache": not no_cache},
        "propose": {"top_k": top_k},
    }
    if code_speakers is not None:
        data["segment"]["code_speakers"] = [s.strip() for s in code_speakers.split(",") if s.strip()]
    if threshold is not None:
        data["propose"]["threshold"] = threshold
    if target_precision is not None:
        data["propose"]["target_precision"] = target_precision
    if coverage is not None:
        data["propose"]["coverage"] = coverage
    if context_weight is not None:
        data["propose"]["context_weight"] = context_weight
    if train:
        data["propose"]["train"] = [str(p.resolve()) for p in train]
        data["propose"]["train_offsets"] = offsets
    try:
        data = apply_overrides(data, parse_sets(set_))
        cfg = config_from_dict(data, "command line", Path.cwd())
        reporter = RichReporter(quiet)
        try:
            result = run_batch(cfg, reporter, persist=False, cache_store=None if no_cache else cache, out_csv=out_path)
        finally:
            reporter.done("")
    except PrecodeError as e:
        fail(e)
    report_run(result, quiet)
    if not result.documents:  # only unreadable inputs (a PDF, an empty file): an empty CSV is not a result
        err.print(f"[bold red]error:[/] none of the {len(inputs)} input(s) could be read; {out_path} has no segments",
                  soft_wrap=True)
        raise typer.Exit(2)


@app.command()
def version() -> None:
    """Print the precode version."""
    out.print(f"precode {__version__}")
