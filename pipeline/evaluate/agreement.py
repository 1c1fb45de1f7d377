"""Inter-coder agreement: Cohen's kappa (two coders, and every pair), Fleiss' kappa, Krippendorff's alpha
and percent agreement, per code, per category and overall."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np

from .stats import cohen_kappa, fleiss_kappa, krippendorff_alpha

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
            fleiss = fleiss_kappa(np.stack([m - present, present], axis=1).tolist())
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
    coding_list = [Coding(*c) for c in codings]
    unit_list = list(dict.fromkeys(units))
    if coders is None:
        coder_list = sorted({c.coder for c in coding_list})
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
    for cd in coding_list:
        if cd.coder not in coder_index:
            continue
        if cd.segment_id not in unit_index:
            outside += 1
            continue
        seen.add((coder_index[cd.coder], unit_index[cd.segment_id], cd.code_path))
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
