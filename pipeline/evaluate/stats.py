"""Agreement statistics on plain sequences and tables.

Cohen's kappa and precision / recall / F1 come from scikit-learn; Fleiss' kappa (no scikit-learn
version) is the textbook formula; Krippendorff's alpha comes from the ``krippendorff`` package.
Undefined values are ``None``, never NaN.
"""

from __future__ import annotations

import math
import warnings
from typing import Hashable, Sequence

import numpy as np

_EPS = 1e-12


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two coders' nominal labels over the same units (scikit-learn's
    ``cohen_kappa_score``).

    ``(p_o - p_e) / (1 - p_e)`` with ``p_e`` from each coder's own marginals. ``None`` when undefined
    (``p_e == 1``: both coders used one and the same label for every unit).
    """
    from sklearn.metrics import cohen_kappa_score

    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: the two coders rated {len(a)} and {len(b)} units")
    if len(a) == 0:
        raise ValueError("cohen_kappa: no units")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kappa = float(cohen_kappa_score(list(a), list(b), replace_undefined_by=np.nan))
    return None if math.isnan(kappa) else kappa


def precision_recall_f1(gold: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray | tuple]:
    """Per-label and averaged precision, recall and F1 of two units x labels 0/1 indicator matrices
    (scikit-learn's ``precision_recall_fscore_support`` and ``multilabel_confusion_matrix``).

    Returns ``tp``, ``fp``, ``fn`` (per label), ``precision`` and ``recall`` per label (NaN where
    undefined: never predicted / not in gold), ``f1`` per label (``2tp / (2tp + fp + fn)``), ``micro``
    (precision, recall, F1; NaN where undefined) and ``macro`` (undefined values count as 0).
    """
    from sklearn.metrics import multilabel_confusion_matrix, precision_recall_fscore_support

    # an empty extra column keeps a single label multi-label (scikit-learn reads one column as binary)
    labels = list(range(gold.shape[1]))
    gold, pred = (np.hstack([y, np.zeros((y.shape[0], 1), dtype=y.dtype)]) for y in (gold, pred))
    cm = multilabel_confusion_matrix(gold, pred, labels=labels)
    p, r, f1, _ = precision_recall_fscore_support(gold, pred, labels=labels, average=None, zero_division=np.nan)
    micro = precision_recall_fscore_support(gold, pred, labels=labels, average="micro", zero_division=np.nan)[:3]
    macro = precision_recall_fscore_support(gold, pred, labels=labels, average="macro", zero_division=0.0)[:3]
    return {"tp": cm[:, 1, 1], "fp": cm[:, 0, 1], "fn": cm[:, 1, 0], "precision": p, "recall": r, "f1": f1,
            "micro": micro, "macro": macro}


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float | None:
    """Fleiss' kappa from a units x categories table of how many raters chose each category.

    Every unit must be rated by the same number (>= 2) of raters. ``None`` when undefined (every
    rating in one category).
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ValueError("fleiss_kappa: expected a non-empty units x categories table")
    m = table.sum(axis=1)
    if not np.all(m == m[0]):
        raise ValueError("fleiss_kappa: every unit must be rated by the same number of raters")
    m = float(m[0])
    if m < 2:
        raise ValueError("fleiss_kappa: needs at least two raters per unit")
    n_units = table.shape[0]
    p_j = table.sum(axis=0) / (n_units * m)
    p_i = (np.sum(table * table, axis=1) - m) / (m * (m - 1))
    p_bar = float(p_i.mean())
    p_e = float(np.sum(p_j * p_j))
    if 1.0 - p_e <= _EPS:
        return None
    return (p_bar - p_e) / (1.0 - p_e)


def krippendorff_alpha(ratings: Sequence[Sequence[Hashable | None]]) -> float | None:
    """Krippendorff's alpha, nominal, via the ``krippendorff`` package.

    ``ratings`` is coders x units; ``None`` marks a missing rating. ``None`` is returned when alpha is
    undefined (fewer than two distinct values, or no unit rated by two coders).
    """
    import krippendorff

    values = sorted({v for row in ratings for v in row if v is not None}, key=repr)
    if len(values) < 2:
        return None
    index = {v: i for i, v in enumerate(values)}
    data = np.array([[np.nan if v is None else index[v] for v in row] for row in ratings], dtype=float)
    if data.ndim != 2 or data.shape[0] < 2:
        raise ValueError("krippendorff_alpha: needs ratings from at least two coders")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            alpha = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal",
                                       value_domain=list(range(len(values))))
        except (ValueError, ZeroDivisionError):
            return None
    alpha = float(alpha)
    return None if math.isnan(alpha) else alpha


def expected_calibration_error(scores: Sequence[float], outcomes: Sequence[bool | int], bins: int = 10) -> float | None:
    """Expected calibration error: over ``bins`` equal-width score bins, the share of items in the
    bin times the gap between the bin's mean score and the share of its items that were right
    (Naeini et al. 2015). 0 is perfectly calibrated; None without items."""
    p = np.asarray(list(scores), dtype=float)
    y = np.asarray(list(outcomes), dtype=float)
    if not len(p):
        return None
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum((idx == k).sum() * abs(p[idx == k].mean() - y[idx == k].mean())
                     for k in range(bins) if (idx == k).any()) / len(p))
