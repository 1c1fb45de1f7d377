"""precode's proposals against human codes: precision / recall / F1 per code (micro and macro), Cohen's
kappa per category (top proposal vs gold code) and a calibration table of the scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InputError
from .matching import (
    Label, Labels, Matching, Proposal, best_proposals, clean_rows, gold_codes, match_gold, matching_summary,
    read_gold, read_predictions,
)
from .stats import cohen_kappa, expected_calibration_error, precision_recall_f1

NONE_LABEL = "none"

EVALUATION_NOTE = (
    "A proposal is a row of the coded-segments file with a score that is not flagged 'uncoded' "
    "(rows a person added, without a score, are not proposals). Units are the segments found in both "
    "files; a gold segment's codes are compared with all its proposals. Precision/recall are empty "
    "when a code has no proposals/no gold rows; macro averages count those as 0. Category kappa "
    "compares, per segment, the top-ranked proposal within the category with the gold code in it "
    "('none' when absent). Calibration: share of proposals in each score bin that gold confirms."
)


@dataclass
class CodeScore:
    code: str  # "Category/Code" or "Code"
    category: str
    support: int  # units where gold has the code
    proposed: int  # units where precode proposed it
    tp: int
    fp: int
    fn: int
    precision: float | None  # None: never proposed
    recall: float | None  # None: not in gold
    f1: float  # 2tp / (2tp + fp + fn)


@dataclass
class Average:
    name: str  # "micro" | "macro"
    precision: float | None
    recall: float | None
    f1: float | None


@dataclass
class CategoryKappa:
    category: str
    n_units: int
    agreement: float  # share of units where top proposal and gold code agree (incl. both 'none')
    kappa: float | None
    multi_gold: int = 0  # units where gold has several codes of this category
    reason: str = ""


@dataclass
class CalibrationBin:
    low: float
    high: float
    proposals: int
    confirmed: int
    share: float | None  # confirmed / proposals; None for an empty bin
    mean_score: float | None


@dataclass
class EvaluationReport:
    n_units: int
    n_proposals: int
    codes: list[CodeScore]
    micro: Average
    macro: Average
    categories: list[CategoryKappa]
    calibration: list[CalibrationBin]
    matching: Matching
    ece: float | None = None  # expected calibration error of the proposals' scores (10 bins)
    top_k: int | None = None
    threshold: float | None = None
    note: str = EVALUATION_NOTE
    warnings: list[str] = field(default_factory=list)

    def code(self, name: str) -> CodeScore:
        for c in self.codes:
            if c.code == name:
                return c
        raise KeyError(f"no code named {name!r}")

    def category(self, name: str) -> CategoryKappa:
        for c in self.categories:
            if c.category == name:
                return c
        raise KeyError(f"no category named {name!r}")


def _none(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def score_codes(units: list[str], gold_sets: dict[str, set[Label]], pred_sets: dict[str, set[Label]],
                labels: Labels) -> tuple[list[CodeScore], Average, Average]:
    """Per code (every label in gold or proposals, sorted) and micro / macro averages."""
    ordered = sorted(set().union(*gold_sets.values(), *pred_sets.values()))
    if not ordered:
        return [], Average("micro", None, None, None), Average("macro", None, None, None)
    col = {lab: j for j, lab in enumerate(ordered)}
    y_gold = np.zeros((len(units), len(ordered)), dtype=int)
    y_pred = np.zeros_like(y_gold)
    for i, u in enumerate(units):
        y_gold[i, [col[lab] for lab in gold_sets[u]]] = 1
        y_pred[i, [col[lab] for lab in pred_sets[u]]] = 1
    s = precision_recall_f1(y_gold, y_pred)
    codes = [CodeScore(code=labels.display(lab), category=labels.category(lab[0]),
                       support=int(s["tp"][j] + s["fn"][j]), proposed=int(s["tp"][j] + s["fp"][j]),
                       tp=int(s["tp"][j]), fp=int(s["fp"][j]), fn=int(s["fn"][j]),
                       precision=_none(s["precision"][j]), recall=_none(s["recall"][j]), f1=float(s["f1"][j]))
             for j, lab in enumerate(ordered)]
    micro = Average("micro", *(_none(x) for x in s["micro"]))
    macro = Average("macro", *(float(x) for x in s["macro"]))
    return codes, micro, macro


def category_kappas(units: list[str], props: list[Proposal], gold: dict[str, list[Label]],
                    category_keys: set[str], labels: Labels) -> list[CategoryKappa]:
    """Per category, Cohen's kappa between the top-ranked proposal in it and the gold code in it
    ('none' when absent; a proposal that is one of several gold codes counts as agreement)."""
    top: dict[tuple[str, str], Proposal] = {}
    for p in props:
        k = (p.segment, p.label[0])
        if k not in top or (p.rank, -p.score) < (top[k].rank, -top[k].score):
            top[k] = p
    out: list[CategoryKappa] = []
    for cat in sorted(category_keys):
        g_list, p_list, multi = [], [], 0
        for u in units:
            best = top.get((u, cat))
            p_lab = best.label[1] if best else NONE_LABEL
            in_cat = [lab[1] for lab in gold[u] if lab[0] == cat]
            if len(in_cat) > 1:
                multi += 1
            g_list.append(p_lab if p_lab in in_cat else (in_cat[0] if in_cat else NONE_LABEL))
            p_list.append(p_lab)
        kappa = cohen_kappa(g_list, p_list)
        agree = sum(a == b for a, b in zip(g_list, p_list)) / len(units)
        reason = "" if kappa is not None else "gold and proposals use one and the same label on every segment"
        out.append(CategoryKappa(labels.category_name(cat), len(units), agree, kappa, multi, reason))
    return out


def _bin(score: float) -> int:
    return min(max(int(score * 10), 0), 9)  # 0.0-0.1 -> 0, ..., 0.9-1.0 -> 9 (1.0 included)


def calibration_bins(props: list[Proposal], gold_sets: dict[str, set[Label]]) -> list[CalibrationBin]:
    """Ten score bins: proposals in each, how many gold confirms, their share and mean score."""
    counts, confirmed, totals = [0] * 10, [0] * 10, [0.0] * 10
    for p in props:
        b = _bin(p.score)
        counts[b] += 1
        confirmed[b] += p.label in gold_sets[p.segment]
        totals[b] += p.score
    return [CalibrationBin(i / 10, (i + 1) / 10, n, ok, ok / n if n else None, s / n if n else None)
            for i, (n, ok, s) in enumerate(zip(counts, confirmed, totals))]


def evaluate(
    gold_rows: Sequence[Mapping[str, Any]],
    pred_rows: Sequence[Mapping[str, Any]],
    top_k: int | None = None,
    threshold: float | None = None,
    gold_source: str | Path = "gold",
    pred_source: str | Path = "predictions",
) -> EvaluationReport:
    """Compare precode's proposals (``pred_rows``) with human codes (``gold_rows``).

    ``gold_rows``: one dict per (segment, code) with ``code``, ``segment_id`` or ``id`` and/or
    ``text``, optional ``category`` (a code with a category in one file only is matched by name alone,
    with a warning) and optional ``status`` (precode's review export: ``proposed`` rows are skipped, ``rejected`` rows mark the
    segment as reviewed without that code). A row with an empty code marks a segment reviewed and left
    uncoded. ``pred_rows``: precode's coded-segments rows (``segment_id, text, category, code, score,
    rank, flags``). Gold is matched to predictions by segment id when gold has ids (falling back to text
    when no id matches at all), otherwise by whitespace-normalised text; unmatched and ambiguous rows
    are counted in ``matching``. ``top_k`` keeps proposals of rank <= top_k, ``threshold`` those with
    score >= threshold. Labels are compared case- and whitespace-insensitively.

    Raises InputError(source, problem) for missing columns, empty input, unparsable numbers or when
    no gold row matches a segment.
    """
    if top_k is not None and top_k < 1:
        raise ValueError(f"top_k must be at least 1, not {top_k}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], not {threshold}")
    gold_clean, pred_clean = clean_rows(gold_rows), clean_rows(pred_rows)
    if not gold_clean:
        raise InputError(gold_source, "no gold rows")
    if not pred_clean:
        raise InputError(pred_source, "no rows of proposals")

    labels = Labels()
    pred = read_predictions(pred_clean, labels, top_k, threshold, pred_source)
    gold = read_gold(gold_clean, labels, gold_source)
    report_warnings = labels.resolve_by_name()
    proposals = best_proposals(pred, labels)
    matched = match_gold(gold, pred, gold_source, pred_source)
    report_warnings += matched.warnings
    gold_labels = gold_codes(gold, matched, labels)
    units = [s for s in pred.text if s in gold_labels]
    matching = matching_summary(gold, matched, pred, units)
    if matching.unmatched_rows:
        report_warnings.append(f"{matching.unmatched_rows} of {len(gold.kept)} gold rows matched no segment"
                               + (f" ({matching.ambiguous_rows} ambiguous: same text in several segments)"
                                  if matching.ambiguous_rows else ""))

    unit_set = set(units)
    props = [p for p in proposals.values() if p.segment in unit_set]
    pred_sets: dict[str, set[Label]] = {u: set() for u in units}
    for p in props:
        pred_sets[p.segment].add(p.label)
    gold_sets = {u: set(gold_labels[u]) for u in units}

    codes, micro, macro = score_codes(units, gold_sets, pred_sets, labels)
    category_keys = {lab[0] for s in (*gold_sets.values(), *pred_sets.values()) for lab in s}
    categories = category_kappas(units, props, gold_labels, category_keys, labels)
    return EvaluationReport(
        n_units=len(units), n_proposals=len(props), codes=codes, micro=micro, macro=macro,
        categories=categories, calibration=calibration_bins(props, gold_sets), matching=matching, top_k=top_k,
        ece=expected_calibration_error([p.score for p in props], [p.label in gold_sets[p.segment] for p in props]),
        threshold=threshold, note=EVALUATION_NOTE, warnings=report_warnings,
    )


def read_table(path: str | Path) -> list[dict[str, str]]:
    """Rows of a .csv/.tsv/.xlsx file as dicts with lower-cased column names. InputError if unreadable."""
    from ..ingest.table import read_table as _read

    return _read(path)


def evaluate_files(
    gold_path: str | Path,
    pred_path: str | Path,
    top_k: int | None = None,
    threshold: float | None = None,
) -> EvaluationReport:
    """Read a gold table (.csv/.tsv/.xlsx) and precode's coded-segments file and :func:`evaluate` them."""
    gold = read_table(gold_path)
    pred = read_table(pred_path)
    return evaluate(gold, pred, top_k=top_k, threshold=threshold, gold_source=gold_path, pred_source=pred_path)
