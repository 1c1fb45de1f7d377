"""Rendering reports: rich tables, one CSV, and the reliability diagram (PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .agreement import AgreementReport
from .scores import CalibrationBin, EvaluationReport


def reliability_plot(bins: Sequence[CalibrationBin], path: str | Path, title: str = "") -> Path:
    """A reliability diagram (share right against mean score per bin, the dot's area its count) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    full = [b for b in bins if b.proposals]
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, label="calibrated")
    if full:
        n = max(b.proposals for b in full)
        ax.scatter([b.mean_score for b in full], [b.share for b in full], s=[20 + 280 * b.proposals / n for b in full],
                   alpha=0.7, label="proposals (area: count)")
        ax.plot([b.mean_score for b in full], [b.share for b in full], lw=1)
    ax.set_xlim(0, 1), ax.set_ylim(0, 1)
    ax.set_xlabel("score of the proposals")
    ax.set_ylabel("share a person gave")
    ax.set_title(title or "reliability", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _fmt(x: float | None, empty: str = "") -> str:
    return empty if x is None else f"{x:.3f}"


def _agreement_tables(report: AgreementReport) -> list:
    from rich.table import Table
    from rich.text import Text

    two = len(report.coders) == 2
    t = Table(title=f"agreement: {', '.join(report.coders)} on {report.n_units} units", title_justify="left")
    t.add_column("level")
    t.add_column("name")
    t.add_column("agreement", justify="right")
    if two:
        t.add_column("Cohen κ", justify="right")
    t.add_column("Fleiss κ", justify="right")
    t.add_column("Krippendorff α", justify="right")
    for c in report.coders:
        t.add_column(Text(f"n {c}"), justify="right")
    t.add_column("note")
    last = None
    for r in report.rows:
        if last is not None and r.level != last:
            t.add_section()
        last = r.level
        cells: list[str | Text] = [r.level, Text(r.name), _fmt(r.percent_agreement)]
        if two:
            cells.append(_fmt(r.cohen_kappa, "–"))
        cells += [_fmt(r.fleiss_kappa, "–"), _fmt(r.krippendorff_alpha, "–")]
        cells += [str(r.applied[c]) for c in report.coders]
        cells.append(Text(r.reason))
        t.add_row(*cells)
    tables = [t]
    if len(report.coders) > 2:  # two coders: the pair is the overall row
        p = Table(title="pairs of coders (Cohen's κ on the segments both reviewed, every applied code)",
                  title_justify="left")
        for col in ("coder", "coder", "units", "agreement", "Cohen κ"):
            p.add_column(col, justify="right" if col in ("units", "agreement", "Cohen κ") else "left")
        for pr in report.pairs:
            p.add_row(Text(pr.a), Text(pr.b), str(pr.n_units), _fmt(pr.percent_agreement, "–"), _fmt(pr.cohen_kappa, "–"))
        tables.append(p)
    return tables


def _evaluation_tables(report: EvaluationReport) -> list:
    from rich.table import Table
    from rich.text import Text

    m = report.matching
    how = "segment id" if m.mode == "id" else "text"
    summary = (f"{report.n_units} segments, {report.n_proposals} proposals; gold rows matched by {how}: "
               f"{m.matched_rows} of {m.gold_rows - m.skipped_rows}, unmatched {m.unmatched_rows}"
               + (f" (ambiguous {m.ambiguous_rows})" if m.ambiguous_rows else ""))
    filters = ", ".join(f for f in (f"top_k={report.top_k}" if report.top_k else "",
                                    f"threshold={report.threshold:g}" if report.threshold is not None else "") if f)
    codes = Table(title="precode vs gold, per code" + (f" ({filters})" if filters else ""), title_justify="left",
                  caption=summary, caption_justify="left")
    for name in ("code", "gold", "proposed", "tp", "fp", "fn", "precision", "recall", "F1"):
        codes.add_column(name, justify="left" if name == "code" else "right")
    for c in report.codes:
        codes.add_row(Text(c.code), str(c.support), str(c.proposed), str(c.tp), str(c.fp), str(c.fn),
                      _fmt(c.precision, "–"), _fmt(c.recall, "–"), _fmt(c.f1, "–"))
    codes.add_section()
    for a in (report.micro, report.macro):
        codes.add_row(a.name, "", "", "", "", "", _fmt(a.precision, "–"), _fmt(a.recall, "–"), _fmt(a.f1, "–"))

    cats = Table(title="per category: top proposal vs gold code (Cohen's kappa)", title_justify="left")
    for name in ("category", "segments", "agreement", "kappa", "several gold codes", "note"):
        cats.add_column(name, justify="left" if name in ("category", "note") else "right")
    for k in report.categories:
        cats.add_row(Text(k.category), str(k.n_units), _fmt(k.agreement), _fmt(k.kappa, "–"), str(k.multi_gold),
                     Text(k.reason))

    ece = "" if report.ece is None else f" (expected calibration error {report.ece:.3f})"
    cal = Table(title=f"calibration: proposals per score bin and share confirmed by gold{ece}", title_justify="left")
    for name in ("score", "proposals", "confirmed", "share", "mean score"):
        cal.add_column(name, justify="right")
    for b in report.calibration:
        cal.add_row(f"{b.low:.1f}–{b.high:.1f}", str(b.proposals), str(b.confirmed), _fmt(b.share, "–"),
                    _fmt(b.mean_score, "–"))
    return [codes, cats, cal]


def report_table(report: AgreementReport | EvaluationReport) -> list:
    """Rich tables for a report: one for agreement; per code, per category and calibration for an
    evaluation. Always a list of ``rich.table.Table``; numbers rounded to 3 decimals, '–' = undefined.
    ``report.note`` (how uncoded text and undefined values are counted) and ``report.warnings`` are not
    in the tables: print them after."""
    if isinstance(report, AgreementReport):
        return _agreement_tables(report)
    if isinstance(report, EvaluationReport):
        return _evaluation_tables(report)
    raise TypeError(f"not a report: {type(report).__name__}")


EVALUATION_CSV_COLUMNS = [
    "section", "name", "category", "units", "gold", "proposed", "tp", "fp", "fn", "precision", "recall", "f1",
    "agreement", "kappa", "several_gold_codes", "bin_low", "bin_high", "proposals", "confirmed", "share_confirmed",
    "mean_score", "note",
]


def _report_rows(report: AgreementReport | EvaluationReport) -> tuple[list[str], list[dict[str, str]]]:
    if isinstance(report, AgreementReport):
        cols = ["level", "name", "category", "units", "items", "agreement", "cohen_kappa", "fleiss_kappa",
                "krippendorff_alpha"] + [f"applied:{c}" for c in report.coders] + ["note"]
        rows = []
        for r in report.rows:
            row = {"level": r.level, "name": r.name, "category": r.category, "units": str(r.n_units),
                   "items": str(r.n_items), "agreement": _fmt(r.percent_agreement),
                   "cohen_kappa": _fmt(r.cohen_kappa), "fleiss_kappa": _fmt(r.fleiss_kappa),
                   "krippendorff_alpha": _fmt(r.krippendorff_alpha), "note": r.reason}
            row.update({f"applied:{c}": str(r.applied[c]) for c in report.coders})
            rows.append(row)
        for pr in report.pairs if len(report.coders) > 2 else []:
            rows.append({"level": "pair", "name": f"{pr.a} | {pr.b}", "units": str(pr.n_units), "items": str(pr.n_items),
                         "agreement": _fmt(pr.percent_agreement), "cohen_kappa": _fmt(pr.cohen_kappa)})
        return cols, rows
    if isinstance(report, EvaluationReport):
        rows = []
        for c in report.codes:
            rows.append({"section": "code", "name": c.code, "category": c.category, "units": str(report.n_units),
                         "gold": str(c.support), "proposed": str(c.proposed), "tp": str(c.tp), "fp": str(c.fp),
                         "fn": str(c.fn), "precision": _fmt(c.precision), "recall": _fmt(c.recall),
                         "f1": _fmt(c.f1)})
        for a in (report.micro, report.macro):
            rows.append({"section": a.name, "name": a.name, "units": str(report.n_units),
                         "precision": _fmt(a.precision), "recall": _fmt(a.recall), "f1": _fmt(a.f1)})
        for k in report.categories:
            rows.append({"section": "category", "name": k.category, "units": str(k.n_units),
                         "agreement": _fmt(k.agreement), "kappa": _fmt(k.kappa),
                         "several_gold_codes": str(k.multi_gold), "note": k.reason})
        for b in report.calibration:
            rows.append({"section": "calibration", "name": f"{b.low:.1f}-{b.high:.1f}", "bin_low": f"{b.low:.1f}",
                         "bin_high": f"{b.high:.1f}", "proposals": str(b.proposals), "confirmed": str(b.confirmed),
                         "share_confirmed": _fmt(b.share), "mean_score": _fmt(b.mean_score)})
        return EVALUATION_CSV_COLUMNS, rows
    raise TypeError(f"not a report: {type(report).__name__}")


def write_report_csv(report: AgreementReport | EvaluationReport, path: str | Path) -> Path:
    """Write a report as one CSV (numbers to 3 decimals, empty = undefined). Returns the path.

    Agreement: one row per code / category / overall. Evaluation: a ``section`` column (code, micro,
    macro, category, calibration) over the union of the sections' columns.
    """
    from ..export.table import write_safe_csv

    cols, rows = _report_rows(report)
    return write_safe_csv(Path(path), cols, rows)
