"""`precode agreement` (coder against coder) and `precode evaluate` (machine against human)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from ._app import PROJECT_HELP, app, err, fail, out
from ..errors import PrecodeError
from ..project import orphan_note, project_codings


def _print(report) -> None:
    from ..evaluate import report_table

    for table in report_table(report):
        out.print(table)
    if report.note:
        out.print(f"[dim]{escape(report.note)}[/]")
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}", soft_wrap=True)


@app.command()
def agreement(
    project: Path = typer.Argument(..., help=PROJECT_HELP),
    coders: Optional[List[str]] = typer.Option(None, "--coders", help="Coders to compare (repeat the option); default: all."),
    by: Optional[str] = typer.Option(None, help="Rows per 'category' or per 'code' (overall always shown)."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write the table as CSV."),
) -> None:
    """Inter-coder agreement for any number of coders: Krippendorff's alpha over every segment two or more
    reviewed (missing data allowed), Fleiss' kappa where all reviewed, Cohen's kappa for every pair."""
    from ..evaluate import agreement as compute, write_report_csv
    from ..project import find_store

    try:
        store = find_store(project)
        codings, units, chosen, categories, reviewed = project_codings(store, coders)
        report = compute(codings, units, chosen, categories, by, reviewed=reviewed)
        report.warnings += [note for note in [orphan_note(codings)] if note]
    except (PrecodeError, ValueError) as e:
        fail(PrecodeError(str(e)))
    out.print(f"{len(units)} segments reviewed by two or more of: {', '.join(chosen)} "
              f"({report.n_common} by all of them)")
    _print(report)
    if out_path:
        out.print(f"csv: {write_report_csv(report, out_path)}")


@app.command()
def evaluate(
    gold: Path = typer.Option(..., "--gold", help="Human coding: .csv/.xlsx with segment_id (or id) or text, and code."),
    pred: Path = typer.Option(..., "--pred", help="precode's output CSV (precode code / run / export)."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="Count only proposals ranked up to K."),
    threshold: Optional[float] = typer.Option(None, help="Count only proposals scoring at least this."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="Also write the tables as CSV."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the scores' reliability diagram (PNG)."),
) -> None:
    """Machine against human: precision, recall, F1 per code, kappa per category, calibration (ECE)."""
    from ..evaluate import evaluate_files, reliability_plot, write_report_csv

    try:
        report = evaluate_files(gold, pred, top_k=top_k, threshold=threshold)
    except (PrecodeError, ValueError) as e:
        fail(PrecodeError(str(e)))
    _print(report)
    if out_path:
        out.print(f"csv: {write_report_csv(report, out_path)}")
    if plot:
        ece = "" if report.ece is None else f", ECE {report.ece:.3f}"
        out.print(f"plot: {reliability_plot(report.calibration, plot, f'{pred.name} vs {gold.name}{ece}')}")
