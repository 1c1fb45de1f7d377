"""Agreement statistics: between human coders, and between precode and a human gold standard.

Two reports, both plain dataclasses holding full-precision numbers (rendering rounds to 3 decimals):

* :func:`agreement` -> :class:`AgreementReport`: inter-coder agreement (Cohen's kappa for exactly two
  coders, Fleiss' kappa and Krippendorff's alpha for two or more, percent agreement) per code, per
  category and overall.
* :func:`evaluate` / :func:`evaluate_files` -> :class:`EvaluationReport`: precode's proposals against
  human codes: precision / recall / F1 per code with micro and macro averages, Cohen's kappa per
  category (top proposal vs gold code) and a calibration table of scores.

:func:`report_table` renders either report as rich tables, :func:`write_report_csv` as one CSV.

Undefined statistics (a code nobody applied, no variance at all) are ``None``, never NaN, and the row
says why.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Hashable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from .errors import InputError

NONE_LABEL = "none"
NO_CATEGORY = "(no category)"

# --------------------------------------------------------------------------------------------------
# statistics on plain sequences
# --------------------------------------------------------------------------------------------------

_EPS = 1e-12


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable]) -> float | None:
    """Cohen's kappa of two coders' nominal labels over the same units.

    ``(p_o - p_e) / (1 - p_e)`` with ``p_e`` from each coder's own marginals. ``None`` when undefined
    (``p_e == 1``: both coders used one and the same label for every unit).
    """
    if len(a) != len(b):
        raise ValueError(f"cohen_kappa: the two coders rated {len(a)} and {len(b)} units")
    n = len(a)
    if n == 0:
        raise ValueError("cohen_kappa: no units")
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    if 1.0 - p_e <= _EPS:
        return None
    return (p_o - p_e) / (1.0 - p_e)


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


def pairwise_agreement(ratings: np.ndarray) -> float:
    """Mean over units of the share of coder pairs that agree (coders x units, nominal ints).

    For two coders this is the share of units both coded alike; for more it is Fleiss' P-bar.
    """
    m, n = ratings.shape
    if n == 0:
        raise ValueError("pairwise_agreement: no units")
    pairs = m * (m - 1) / 2
    total = 0.0
    for v in np.unique(ratings):
        k = (ratings == v).sum(axis=0).astype(float)
        total += float(np.sum(k * (k - 1) / 2))
    return total / (pairs * n)


# --------------------------------------------------------------------------------------------------
# inter-coder agreement
# --------------------------------------------------------------------------------------------------

AGREEMENT_NOTE = (
    "Each code is a present/absent variable per unit. A unit a coder reviewed but did not apply a code "
    "to counts as 'absent' for that code, so uncoded text counts as 'absent' for every code. A category "
    "is present on a unit when any of its codes is. 'overall' pools every (unit, code) pair of the codes "
    "applied at least once. Agreement is the mean share of coder pairs that agree per unit. Units are the "
    "segments two or more coders reviewed: Krippendorff's alpha counts a segment a coder did not review as "
    "missing, Fleiss' kappa uses the segments every coder reviewed, Cohen's kappa (per pair) those both "
    "reviewed. Kappa and alpha are left empty when undefined (every rating the same)."
)


class Coding(NamedTuple):
    """One code applied by one coder to one segment. Plain ``(coder, segment_id, code_path)`` tuples
    are accepted wherever a Coding is."""

    coder: str
    segment_id: str
    code_path: str  # "Category/Code" or "Code"


@dataclass
class AgreementRow:
    level: str  # "code" | "category" | "overall"
    name: str  # code path, category name or "overall"
    category: str  # the code's category ("" for codes without one, categories and overall)
    n_units: int
    n_items: int  # rated binary decisions: n_units, or n_units x codes for "overall"
    applied: dict[str, int]  # coder -> units (items for "overall") where the coder applied it
    percent_agreement: float
    cohen_kappa: float | None  # exactly two coders only
    fleiss_kappa: float | None
    krippendorff_alpha: float | None
    reason: str = ""  # why a statistic is None ("" when all are defined)


@dataclass
class AgreementReport:
    coders: list[str]
    n_units: int
    rows: list[AgreementRow]
    note: str = AGREEMENT_NOTE
    warnings: list[str] = field(default_factory=list)
    by: str | None = None  # None (codes and categories), "code" or "category"
    pairs: list = field(default_factory=list)  # PairAgreement for every pair of coders
    n_common: int | None = None  # units every coder reviewed (Fleiss' kappa); None: all of them

    def row(self, level: str, name: str) -> AgreementRow:
        for r in self.rows:
            if r.level == level and r.name == name:
                return r
        raise KeyError(f"no {level} row named {name!r}")

    @property
    def overall(self) -> AgreementRow:
        return self.row("overall", "overall")


def _category_of(code_path: str, categories: Mapping[str, str | None] | None) -> str:
    if categories is not None and code_path in categories:
        return categories[code_path] or ""
    head, sep, _ = code_path.partition("/")
    return head if sep else ""


def _masked_agreement(data: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean over items rated by two or more coders of the share of their coder pairs that agree."""
    rated = mask.sum(axis=0)
    ones = (data * mask).sum(axis=0)
    zeros = rated - ones
    ok = rated >= 2
    if not ok.any():
        return None
    pairs = rated[ok] * (rated[ok] - 1) / 2
    agree = (ones[ok] * (ones[ok] - 1) + zeros[ok] * (zeros[ok] - 1)) / 2
    return float(np.mean(agree / pairs))


def _binary_row(level: str, name: str, category: str, data: np.ndarray, coders: list[str],
                n_units: int, mask: np.ndarray | None = None) -> AgreementRow:
    """Statistics for one binary variable; ``data`` is coders x items of 0/1, ``mask`` which coder rated
    which item (default: all). Fleiss' kappa uses the items every coder rated, Krippendorff's alpha all of
    them (missing ratings are missing), Cohen's kappa (two coders) the items both rated."""
    m, n = data.shape
    mask = np.ones_like(data, dtype=bool) if mask is None else mask.astype(bool)
    applied = {c: int((data[i] * mask[i]).sum()) for i, c in enumerate(coders)}
    agree = _masked_agreement(data, mask)
    complete = mask.all(axis=0)
    rated = data[mask]
    reason = ""
    cohen = fleiss = alpha = None
    if rated.sum() == 0:
        reason = "no coder applied it: kappa and alpha are undefined (no variance)"
    elif rated.sum() == rated.size:
        reason = "every coder applied it to every unit: kappa and alpha are undefined (no variance)"
    else:
        full = data[:, complete]
        if full.shape[1] and 0 < full.sum() < full.size:
            if m == 2:
                cohen = cohen_kappa(full[0].tolist(), full[1].tolist())
            present = full.sum(axis=0)
            fleiss = fleiss_kappa(np.stack([m - present, present], axis=1))
        elif not full.shape[1]:
            reason = "no unit was reviewed by every coder: Fleiss' kappa needs one; alpha uses every rating"
        alpha = krippendorff_alpha([[int(v) if ok else None for v, ok in zip(data[i], mask[i])] for i in range(m)])
    return AgreementRow(level, name, category, n_units, n, applied, 1.0 if agree is None else agree,
                        cohen, fleiss, alpha, reason)


@dataclass
class PairAgreement:
    """Two coders on the segments both reviewed: every (segment, code) pair of the applied codes pooled."""

    a: str
    b: str
    n_units: int
    n_items: int
    percent_agreement: float | None
    cohen_kappa: float | None


def agreement(
    codings: Iterable[Coding | tuple[str, str, str]],
    units: Iterable[str],
    coders: Sequence[str] | None = None,
    categories: Mapping[str, str | None] | None = None,
    by: str | None = None,
    reviewed: Mapping[str, Iterable[str]] | None = None,
) -> AgreementReport:
    """Inter-coder agreement per code, per category and overall.

    ``reviewed`` (coder -> segments that coder reviewed) allows any number of coders who reviewed
    different segments: ``units`` are then the segments at least two of them reviewed, Krippendorff's
    alpha uses every rating (the rest is missing data), Fleiss' kappa the units every coder reviewed,
    and ``report.pairs`` holds Cohen's kappa for every pair of coders on the units both reviewed.
    Without it every coder is taken to have reviewed every unit.

    ``codings``: ``(coder, segment_id, code_path)``; a coder may apply several codes to a segment.
    ``units``: the segment ids reviewed by *every* selected coder; codings on other segments are left
    out (counted in ``warnings``). ``coders``: the coders to compare (default: every coder in
    ``codings``, sorted). ``categories``: code_path -> category; without it (or for paths it lacks)
    the category is the part of ``"Category/Code"`` before the first ``/``, and a bare ``"Code"`` has
    none. Codes listed in ``categories`` that nobody applied get a row with undefined statistics.
    ``by``: ``"code"`` keeps the code rows, ``"category"`` the category rows, ``None`` both; the
    overall row is always there.

    Multi-label coding is treated as one binary (present/absent) variable per code: a unit a coder
    reviewed but did not apply the code to counts as *absent*, so uncoded text counts as absent for
    every code. A category is present on a unit when any of its codes is applied. ``overall`` pools
    all (unit, code) pairs of the codes applied at least once. Percent agreement is the mean share of
    agreeing coder pairs per unit. Cohen's kappa is given for exactly two coders; Fleiss' kappa and
    Krippendorff's alpha (nominal) for two or more. Without variance (a code nobody applied, or that
    everyone applied everywhere) kappa and alpha are ``None`` and ``reason`` says why; percent
    agreement is then 1.0.

    Raises ValueError for fewer than two coders, no units or an unknown ``by``.
    """
    if by not in (None, "code", "category"):
        raise ValueError(f"by must be 'code' or 'category', not {by!r}")
    codings = [Coding(*c) for c in codings]
    unit_list = list(dict.fromkeys(units))
    if coders is None:
        coder_list = sorted({c.coder for c in codings})
    else:
        coder_list = list(dict.fromkeys(coders))
    if len(coder_list) < 2:
        found = ", ".join(coder_list) or "none"
        raise ValueError(f"agreement needs at least two coders; got {len(coder_list)} ({found})")
    if reviewed is not None:
        seen_by = {c: set(reviewed.get(c, ())) for c in coder_list}
        unit_list = [u for u in unit_list if sum(u in seen_by[c] for c in coder_list) >= 2]
    if not unit_list:
        raise ValueError("agreement needs at least one unit reviewed by two of the selected coders; got none"
                         if reviewed is not None else
                         "agreement needs at least one unit reviewed by every selected coder; got none")

    unit_index = {u: i for i, u in enumerate(unit_list)}
    coder_index = {c: i for i, c in enumerate(coder_list)}
    report_warnings: list[str] = []
    outside = 0
    seen: set[tuple[int, int, str]] = set()
    for c in codings:
        if c.coder not in coder_index:
            continue
        if c.segment_id not in unit_index:
            outside += 1
            continue
        seen.add((coder_index[c.coder], unit_index[c.segment_id], c.code_path))
    if outside:
        report_warnings.append(f"{outside} coding(s) on segments not among the {len(unit_list)} units "
                               "reviewed by every selected coder were left out")

    applied_codes = {code for _, _, code in seen}
    all_codes = set(applied_codes) | set(categories or {})
    code_list = sorted(all_codes, key=lambda p: (_category_of(p, categories).casefold(), p.casefold()))
    code_col = {p: j for j, p in enumerate(code_list)}
    for c in coder_list:
        if not any(ci == coder_index[c] for ci, _, _ in seen):
            report_warnings.append(f"coder {c!r} applied no code to any of the {len(unit_list)} units")

    m, n, k = len(coder_list), len(unit_list), len(code_list)
    data = np.zeros((m, n, k), dtype=np.int8)
    for ci, ui, code in seen:
        data[ci, ui, code_col[code]] = 1

    mask = np.ones((m, n), dtype=bool)
    if reviewed is not None:
        mask = np.array([[u in seen_by[c] for u in unit_list] for c in coder_list], dtype=bool)
        report_warnings.extend(f"coder {c!r} reviewed none of these units" for c, row in zip(coder_list, mask)
                               if not row.any())
    rows: list[AgreementRow] = []
    if by in (None, "code"):
        for p in code_list:
            rows.append(_binary_row("code", p, _category_of(p, categories), data[:, :, code_col[p]],
                                    coder_list, n, mask))
    if by in (None, "category"):
        cats: dict[str, list[int]] = {}
        for p in code_list:
            cat = _category_of(p, categories)
            if cat:
                cats.setdefault(cat, []).append(code_col[p])
        for cat in sorted(cats, key=str.casefold):
            present = data[:, :, cats[cat]].max(axis=2)
            rows.append(_binary_row("category", cat, "", present, coder_list, n, mask))
    used = [code_col[p] for p in code_list if p in applied_codes]
    pooled = data[:, :, used].reshape(m, n * len(used)) if used else np.zeros((m, n), dtype=np.int8)
    pooled_mask = np.repeat(mask, max(len(used), 1), axis=1)
    overall = _binary_row("overall", "overall", "", pooled, coder_list, n, pooled_mask)
    if not used:
        overall.reason = "no coder applied any code: kappa and alpha are undefined (no variance)"
    rows.append(overall)
    pairs = []
    for i in range(m):
        for j in range(i + 1, m):
            both = pooled_mask[i] & pooled_mask[j]
            a, b = pooled[i, both], pooled[j, both]
            kappa = cohen_kappa(a.tolist(), b.tolist()) if used and both.any() else None
            pairs.append(PairAgreement(coder_list[i], coder_list[j], int((mask[i] & mask[j]).sum()), int(both.sum()),
                                       float(np.mean(a == b)) if both.any() else None, kappa))
    report = AgreementReport(coder_list, n, rows, AGREEMENT_NOTE, report_warnings, by)
    report.pairs = pairs
    report.n_common = int(mask.all(axis=0).sum())
    return report


# --------------------------------------------------------------------------------------------------
# machine against human
# --------------------------------------------------------------------------------------------------

EVALUATION_NOTE = (
    "A proposal is a row of the coded-segments file with a score that is not flagged 'uncoded' "
    "(rows a person added, without a score, are not proposals). Units are the segments found in both "
    "files; a gold segment's codes are compared with all its proposals. Precision/recall are empty "
    "when a code has no proposals/no gold rows; macro averages count those as 0. Category kappa "
    "compares, per segment, the top-ranked proposal within the category with the gold code in it "
    "('none' when absent). Calibration: share of proposals in each score bin that gold confirms."
)

PRED_REQUIRED = ("segment_id", "code", "score", "rank")


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


def reliability_plot(bins: Sequence["CalibrationBin"], path: str | Path, title: str = "") -> Path:
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


@dataclass
class CalibrationBin:
    low: float
    high: float
    proposals: int
    confirmed: int
    share: float | None  # confirmed / proposals; None for an empty bin
    mean_score: float | None


@dataclass
class Matching:
    mode: str  # "id" or "text"
    gold_rows: int  # gold rows read (one per code)
    matched_rows: int
    unmatched_rows: int  # includes ambiguous_rows
    ambiguous_rows: int = 0  # text matching several segments of the predictions
    skipped_rows: int = 0  # gold rows with status 'proposed' (nobody decided them)
    unmatched_examples: list[str] = field(default_factory=list)
    gold_segments: int = 0
    pred_segments: int = 0
    pred_segments_without_gold: int = 0


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


def _norm(s: Any) -> str:
    return " ".join(("" if s is None else str(s)).split())


def _key(s: str) -> str:
    return _norm(s).casefold()


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def _clean_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    out = []
    for r in rows:
        d = {str(k).strip().lower(): _cell(v) for k, v in r.items() if k is not None}
        if any(d.values()):
            out.append(d)
    return out


def _columns(rows: list[dict[str, str]]) -> list[str]:
    cols: dict[str, None] = {}
    for r in rows:
        cols.update(dict.fromkeys(r))
    return [c for c in cols if c]


@dataclass
class _Proposal:
    segment: str
    label: tuple[str, str]  # (category key, code key)
    score: float
    rank: int


def _bin(score: float) -> int:
    return min(max(int(score * 10), 0), 9)  # 0.0-0.1 -> 0, ..., 0.9-1.0 -> 9 (1.0 included)


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
    gold = _clean_rows(gold_rows)
    pred = _clean_rows(pred_rows)
    if not gold:
        raise InputError(gold_source, "no gold rows")
    if not pred:
        raise InputError(pred_source, "no rows of proposals")
    report_warnings: list[str] = []

    # ---- predictions
    pcols = _columns(pred)
    missing = [c for c in PRED_REQUIRED if c not in pcols]
    if missing:
        raise InputError(pred_source, f"missing column(s) {', '.join(repr(c) for c in missing)} "
                                      f"(columns are: {', '.join(pcols)})")
    # labels are (category key, code key); keys are case- and whitespace-insensitive
    code_display: dict[str, str] = {}
    cat_display: dict[str, str] = {"": ""}
    pred_cats: dict[str, set[str]] = {}  # code key -> category keys it has in the predictions
    gold_cats: dict[str, set[str]] = {}  # code key -> category keys it has in gold
    pred_text: dict[str, str] = {}  # segment id -> normalised text, in file order
    raw_props: list[tuple[str, str, str, float, int]] = []  # segment, category key, code key, score, rank

    def see(cat: str, code: str, cats: dict[str, set[str]]) -> tuple[str, str]:
        ck, k = _key(cat), _key(code)
        code_display.setdefault(k, code)
        cat_display.setdefault(ck, cat)
        cats.setdefault(k, set()).add(ck)
        return ck, k

    for row_no, r in enumerate(pred, start=2):
        seg = r.get("segment_id", "")
        if not seg:
            raise InputError(pred_source, f"row {row_no}: empty segment_id")
        pred_text.setdefault(seg, _norm(r.get("text", "")))
        code = _norm(r.get("code", ""))
        if not code:
            continue
        ck, k = see(_norm(r.get("category", "")), code, pred_cats)
        if not r.get("score", ""):
            continue  # a code a person added: not a proposal
        if {"uncoded", "category_only"} & {f.strip() for f in r.get("flags", "").split(";")}:
            continue
        try:
            score = float(r["score"])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise InputError(pred_source, f"row {row_no}: score {r['score']!r} is not a number")
        try:
            rank = int(float(r.get("rank", "") or "1"))
        except ValueError:
            raise InputError(pred_source, f"row {row_no}: rank {r['rank']!r} is not a number") from None
        if top_k is not None and rank > top_k:
            continue
        if threshold is not None and score < threshold:
            continue
        raw_props.append((seg, ck, k, score, rank))

    # ---- gold
    gcols = _columns(gold)
    if "code" not in gcols:
        raise InputError(gold_source, f"no 'code' column (columns are: {', '.join(gcols)})")
    id_col = "segment_id" if "segment_id" in gcols else "id" if "id" in gcols else None
    has_text = "text" in gcols
    if id_col is None and not has_text:
        raise InputError(gold_source, f"needs a 'segment_id' (or 'id') or a 'text' column "
                                      f"(columns are: {', '.join(gcols)})")
    gold_cat_code: dict[int, tuple[str, str]] = {}  # row number -> (category key, code key)
    for row_no, r in enumerate(gold, start=2):
        code = _norm(r.get("code", ""))
        if not code:
            continue
        cat = _norm(r.get("category", ""))
        if not cat and "/" in code and _key(code) not in pred_cats:  # "Category/Code" in the code column
            cat, code = (_norm(x) for x in code.split("/", 1))
        gold_cat_code[row_no] = see(cat, code, gold_cats)
    # labels are (category, code); a code that has a category on one side only is matched by name
    by_name = {k for k, gc in gold_cats.items()
               if ("" in gc and pred_cats.get(k, set()) - {""}) or (gc - {""} and pred_cats.get(k) == {""})}
    if by_name:
        names = ", ".join(sorted(code_display[k] for k in by_name))
        report_warnings.append(f"{len(by_name)} code(s) have a category in only one of the files and are "
                               f"matched by name alone: {names}")

    def label_of(ck: str, k: str) -> tuple[str, str]:
        if k not in by_name:
            return ck, k
        cats = (pred_cats.get(k, set()) | gold_cats.get(k, set())) - {""}
        return (next(iter(cats)) if len(cats) == 1 else "", k)

    def display(lab: tuple[str, str]) -> str:
        code = code_display.get(lab[1], lab[1])
        return f"{cat_display.get(lab[0], lab[0])}/{code}" if lab[0] else code

    proposals: dict[tuple[str, tuple[str, str]], _Proposal] = {}
    for seg, ck, k, score, rank in raw_props:
        lab = label_of(ck, k)
        old = proposals.get((seg, lab))
        if old is None or (rank, -score) < (old.rank, -old.score):
            proposals[(seg, lab)] = _Proposal(seg, lab, score, rank)

    status_col = "status" in gcols
    kept: list[tuple[int, dict[str, str]]] = []
    skipped = 0
    for row_no, r in enumerate(gold, start=2):
        if status_col and r.get("status", "").lower() == "proposed":
            skipped += 1
            continue
        kept.append((row_no, r))
    if not kept:
        raise InputError(gold_source, "every gold row has status 'proposed' (nobody reviewed them)")

    text_index: dict[str, list[str]] = {}
    for seg, t in pred_text.items():
        if t:
            text_index.setdefault(t, []).append(seg)

    def match(mode: str) -> tuple[dict[int, str], list[int], list[int]]:
        found: dict[int, str] = {}
        unmatched: list[int] = []
        ambiguous: list[int] = []
        for row_no, r in kept:
            if mode == "id":
                seg = r.get(id_col or "", "")
                if seg and seg in pred_text:
                    found[row_no] = seg
                else:
                    unmatched.append(row_no)
            else:
                segs = text_index.get(_norm(r.get("text", "")), []) if _norm(r.get("text", "")) else []
                if len(segs) == 1:
                    found[row_no] = segs[0]
                elif segs:
                    ambiguous.append(row_no)
                else:
                    unmatched.append(row_no)
        return found, unmatched, ambiguous

    mode = "id" if id_col is not None and any(r.get(id_col) for _, r in kept) else "text"
    found, unmatched, ambiguous = match(mode)
    if mode == "id" and not found and has_text and any(pred_text.values()):
        report_warnings.append("no gold id matched a segment id of the predictions: matched by text instead")
        mode = "text"
        found, unmatched, ambiguous = match(mode)
    if not found:
        how = f"by {id_col!r}" if mode == "id" else "by text"
        raise InputError(gold_source, f"none of the {len(kept)} gold rows matched a segment of "
                                      f"{pred_source} ({how})")
    by_row = dict(kept)

    def example(row_no: int) -> str:
        r = by_row[row_no]
        what = r.get(id_col or "", "") if mode == "id" else _norm(r.get("text", ""))[:60]
        return f"row {row_no}: {what or '(empty)'}"

    gold_codes: dict[str, list[tuple[str, str]]] = {}
    for row_no, r in kept:
        seg = found.get(row_no)
        if seg is None:
            continue
        labels = gold_codes.setdefault(seg, [])
        if status_col and r.get("status", "").lower() == "rejected":
            continue
        lab = label_of(*gold_cat_code[row_no]) if row_no in gold_cat_code else None
        if lab is not None and lab not in labels:
            labels.append(lab)

    units = [s for s in pred_text if s in gold_codes]
    unit_set = set(units)
    matching = Matching(
        mode=mode, gold_rows=len(gold), matched_rows=len(found), unmatched_rows=len(unmatched) + len(ambiguous),
        ambiguous_rows=len(ambiguous), skipped_rows=skipped,
        unmatched_examples=[example(i) for i in sorted(unmatched + ambiguous)[:5]],
        gold_segments=len(units), pred_segments=len(pred_text),
        pred_segments_without_gold=len(pred_text) - len(units),
    )
    if matching.unmatched_rows:
        report_warnings.append(f"{matching.unmatched_rows} of {len(kept)} gold rows matched no segment"
                               + (f" ({len(ambiguous)} ambiguous: same text in several segments)" if ambiguous else ""))

    props = [p for p in proposals.values() if p.segment in unit_set]
    pred_sets: dict[str, set[tuple[str, str]]] = {u: set() for u in units}
    for p in props:
        pred_sets[p.segment].add(p.label)
    gold_sets = {u: set(gold_codes[u]) for u in units}

    # ---- per code
    labels = set().union(*gold_sets.values(), *pred_sets.values())

    def cat_name(key: str) -> str:
        return cat_display.get(key, key) or NO_CATEGORY

    ordered = sorted(labels, key=lambda lab: (lab[0], lab[1]))
    codes: list[CodeScore] = []
    tp_all = fp_all = fn_all = 0
    for lab in ordered:
        tp = sum(lab in gold_sets[u] and lab in pred_sets[u] for u in units)
        fp = sum(lab not in gold_sets[u] and lab in pred_sets[u] for u in units)
        fn = sum(lab in gold_sets[u] and lab not in pred_sets[u] for u in units)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        codes.append(CodeScore(
            code=display(lab), category=cat_display.get(lab[0], lab[0]),
            support=tp + fn, proposed=tp + fp, tp=tp, fp=fp, fn=fn,
            precision=tp / (tp + fp) if tp + fp else None, recall=tp / (tp + fn) if tp + fn else None,
            f1=2 * tp / (2 * tp + fp + fn),
        ))
    micro_p = tp_all / (tp_all + fp_all) if tp_all + fp_all else None
    micro_r = tp_all / (tp_all + fn_all) if tp_all + fn_all else None
    micro = Average("micro", micro_p, micro_r, 2 * tp_all / (2 * tp_all + fp_all + fn_all) if tp_all + fp_all + fn_all else None)
    if codes:
        macro = Average("macro", sum(c.precision or 0.0 for c in codes) / len(codes),
                        sum(c.recall or 0.0 for c in codes) / len(codes), sum(c.f1 for c in codes) / len(codes))
    else:
        macro = Average("macro", None, None, None)

    # ---- per category: top-ranked proposal vs gold code
    top: dict[tuple[str, str], _Proposal] = {}
    for p in props:
        k = (p.segment, p.label[0])
        if k not in top or (p.rank, -p.score) < (top[k].rank, -top[k].score):
            top[k] = p
    categories: list[CategoryKappa] = []
    for cat in sorted({lab[0] for lab in labels}):
        g_list, p_list, multi = [], [], 0
        for u in units:
            tp_ = top.get((u, cat))
            p_lab = tp_.label[1] if tp_ else NONE_LABEL
            in_cat = [lab[1] for lab in gold_codes[u] if lab[0] == cat]
            if len(in_cat) > 1:
                multi += 1
            g_lab = p_lab if p_lab in in_cat else (in_cat[0] if in_cat else NONE_LABEL)
            g_list.append(g_lab)
            p_list.append(p_lab)
        kappa = cohen_kappa(g_list, p_list)
        agree = sum(a == b for a, b in zip(g_list, p_list)) / len(units)
        reason = "" if kappa is not None else "gold and proposals use one and the same label on every segment"
        categories.append(CategoryKappa(cat_name(cat), len(units), agree, kappa, multi, reason))

    # ---- calibration
    bins = [[0, 0, 0.0] for _ in range(10)]
    for p in props:
        b = bins[_bin(p.score)]
        b[0] += 1
        b[1] += p.label in gold_sets[p.segment]
        b[2] += p.score
    calibration = [CalibrationBin(i / 10, (i + 1) / 10, n, ok, ok / n if n else None, s / n if n else None)
                   for i, (n, ok, s) in enumerate(bins)]

    return EvaluationReport(
        n_units=len(units), n_proposals=len(props), codes=codes, micro=micro, macro=macro,
        categories=categories, calibration=calibration, matching=matching, top_k=top_k,
        ece=expected_calibration_error([p.score for p in props], [p.label in gold_sets[p.segment] for p in props]),
        threshold=threshold, note=EVALUATION_NOTE, warnings=report_warnings,
    )


# --------------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------------

def read_table(path: str | Path) -> list[dict[str, str]]:
    """Rows of a .csv/.tsv/.xlsx file as dicts with lower-cased column names. InputError if unreadable."""
    from .ingest.table import read_table as _read

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


# --------------------------------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------------------------------

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
        cells = [r.level, Text(r.name), _fmt(r.percent_agreement)]
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
    for c in report.categories:
        cats.add_row(Text(c.category), str(c.n_units), _fmt(c.agreement), _fmt(c.kappa, "–"), str(c.multi_gold),
                     Text(c.reason))

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
    from .export.table import write_safe_csv

    cols, rows = _report_rows(report)
    return write_safe_csv(Path(path), cols, rows)
