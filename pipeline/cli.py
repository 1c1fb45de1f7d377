"""The typer command line: a thin layer over :mod:`pipeline.run` and :mod:`pipeline.codebook`."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .errors import CodebookError, ConfigError, ModelError, PrecodeError, printable

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="precode: first-pass coding of qualitative transcripts, always confirmed by a person.")
codebook_app = typer.Typer(no_args_is_help=True, help="Check and show codebooks (YAML, CSV or XLSX).")
app.add_typer(codebook_app, name="codebook")


@app.callback()
def _private_files() -> None:
    # everything a command writes (stores, exports, caches, reports) is its owner's only: 0600 files, 0700 folders
    os.umask(0o077)


err = Console(stderr=True, highlight=False)
out = Console(highlight=False)
DEFAULT_CACHE = Path(os.environ.get("PRECODE_CACHE_DIR", Path.home() / ".cache" / "precode")) / "embeddings.sqlite"


def fail(error: PrecodeError, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(str(error))}", soft_wrap=True)
    raise typer.Exit(code)


class RichReporter:
    """Rich progress bars on stderr (never on stdout, where data may go); silent with ``quiet``.

    ``stage(name, None)`` is a stage of unknown length (loading a model, fitting): a pulsing bar with the time.
    """

    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.quiet = quiet
        self.console = console or err
        self.progress: Progress | None = None

    def stage(self, name, total):
        if self.quiet or total == 0:
            return lambda n: None
        self.done(name)
        self.progress = Progress(TextColumn(f"{name:>10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=self.console, transient=True)
        self.progress.start()
        task = self.progress.add_task(name, total=total)
        return lambda n: self.progress.advance(task, n) if self.progress is not None else None

    def done(self, name):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def message(self, line):
        pass


@contextmanager
def working(name: str, quiet: bool = False, total: int | None = None):
    """A progress bar (or, without a total, a pulsing one with the time) on stderr for a slow step."""
    rep = RichReporter(quiet)
    tick = rep.stage(name, total)
    try:
        yield tick
    finally:
        rep.done(name)


def _report(result, quiet: bool) -> None:
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


def _parse_sets(sets: list[str]) -> dict:
    from .config import parse_override

    return dict(parse_override(s) for s in sets)


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
    from .config import load_config
    from .run import run_batch

    try:
        overrides = _parse_sets(set_)
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
    _report(result, quiet)


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
    from .config import apply_overrides, config_from_dict
    from .run import run_batch

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
        data = apply_overrides(data, _parse_sets(set_))
        cfg = config_from_dict(data, "command line", Path.cwd())
        reporter = RichReporter(quiet)
        try:
            result = run_batch(cfg, reporter, persist=False, cache_store=None if no_cache else cache, out_csv=out_path)
        finally:
            reporter.done("")
    except PrecodeError as e:
        fail(e)
    _report(result, quiet)
    if not result.documents:  # only unreadable inputs (a PDF, an empty file): an empty CSV is not a result
        err.print(f"[bold red]error:[/] none of the {len(inputs)} input(s) could be read; {out_path} has no segments",
                  soft_wrap=True)
        raise typer.Exit(2)


@codebook_app.command("validate")
def codebook_validate(files: List[Path] = typer.Argument(..., help="Codebook files.")) -> None:
    """Check codebooks; print every problem found, exit 2 if any; warn about codes without a
    description or examples and about near-duplicate definitions."""
    from .codebook import codebook_warnings, load_codebook

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
    from .codebook import diff_codebooks, load_codebook

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
def codebook_orphans(project: Path = typer.Argument(..., help="Project: a batch config, a project folder or project.sqlite.")) -> None:
    """List orphaned decisions: on a segment whose text changed, or on a code retired or split."""
    from .decisions import orphan_lines
    from .project import find_store
    from .store import Store

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

    from .codebook import codebook_to_dict, load_codebook
    from .segment import one_line

    try:
        cb = load_codebook(file)
    except CodebookError as e:
        fail(e)
    if fmt == "yaml":
        out.print(yaml.safe_dump(codebook_to_dict(cb), sort_keys=False, allow_unicode=True, width=100), end="")
        return
    if fmt == "csv":
        from .export.table import SafeWriter

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


@app.command()
def version() -> None:
    """Print the precode version."""
    out.print(f"precode {__version__}")



# Commands that live in their own modules register themselves on `app` when imported.
from .commands import agreement as _agreement_commands  # noqa: E402,F401
from .commands import codebook as _codebook_commands  # noqa: E402,F401
from .commands import compare as _compare_commands  # noqa: E402,F401
from .commands import discover as _discover_commands  # noqa: E402,F401
from .commands import export as _export_commands  # noqa: E402,F401
from .commands import redact as _redact_commands  # noqa: E402,F401
from .commands import report as _report_commands  # noqa: E402,F401
from .commands import review as _review_commands  # noqa: E402,F401
from .commands import tune as _tune_commands  # noqa: E402,F401


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
