"""Reading a gold table and precode's proposals, and matching gold rows to the predicted segments.

Labels are ``(category key, code key)``; keys are case- and whitespace-insensitive. Each step is a
function over plain rows (dicts of strings) that returns a small typed result; :func:`.scores.evaluate`
runs them in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import InputError

NO_CATEGORY = "(no category)"
PRED_REQUIRED = ("segment_id", "code", "score", "rank")

Label = tuple[str, str]  # (category key, code key)


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


def clean_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Rows with lower-cased, stripped column names and string cells; empty rows dropped."""
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


class Labels:
    """The codes and categories seen in both files: their display spellings, the categories each code
    has on each side, and the codes matched by name alone (a category in one file only)."""

    def __init__(self) -> None:
        self.code_display: dict[str, str] = {}
        self.cat_display: dict[str, str] = {"": ""}
        self.pred_cats: dict[str, set[str]] = {}  # code key -> category keys it has in the predictions
        self.gold_cats: dict[str, set[str]] = {}  # code key -> category keys it has in gold
        self.by_name: set[str] = set()

    def see(self, cat: str, code: str, gold: bool) -> Label:
        ck, k = _key(cat), _key(code)
        self.code_display.setdefault(k, code)
        self.cat_display.setdefault(ck, cat)
        (self.gold_cats if gold else self.pred_cats).setdefault(k, set()).add(ck)
        return ck, k

    def resolve_by_name(self) -> list[str]:
        """Find the codes that have a category on one side only; a warning naming them (or none)."""
        self.by_name = {k for k, gc in self.gold_cats.items()
                        if ("" in gc and self.pred_cats.get(k, set()) - {""}) or (gc - {""} and self.pred_cats.get(k) == {""})}
        if not self.by_name:
            return []
        names = ", ".join(sorted(self.code_display[k] for k in self.by_name))
        return [f"{len(self.by_name)} code(s) have a category in only one of the files and are "
                f"matched by name alone: {names}"]

    def label_of(self, ck: str, k: str) -> Label:
        if k not in self.by_name:
            return ck, k
        cats = (self.pred_cats.get(k, set()) | self.gold_cats.get(k, set())) - {""}
        return (next(iter(cats)) if len(cats) == 1 else "", k)

    def display(self, lab: Label) -> str:
        code = self.code_display.get(lab[1], lab[1])
        return f"{self.cat_display.get(lab[0], lab[0])}/{code}" if lab[0] else code

    def category(self, key: str) -> str:
        return self.cat_display.get(key, key)

    def category_name(self, key: str) -> str:
        return self.cat_display.get(key, key) or NO_CATEGORY


@dataclass
class Proposal:
    segment: str
    label: Label
    score: float
    rank: int


@dataclass
class Predictions:
    text: dict[str, str]  # segment id -> normalised text, in file order
    raw: list[tuple[str, str, str, float, int]]  # segment, category key, code key, score, rank


def read_predictions(pred: list[dict[str, str]], labels: Labels, top_k: int | None, threshold: float | None,
                     source: str | Path) -> Predictions:
    """Segments and proposals of precode's coded-segments rows (rows a person added, without a score,
    and rows flagged ``uncoded`` / ``category_only`` are not proposals); ``top_k`` / ``threshold`` filter."""
    cols = _columns(pred)
    missing = [c for c in PRED_REQUIRED if c not in cols]
    if missing:
        raise InputError(source, f"missing column(s) {', '.join(repr(c) for c in missing)} "
                                 f"(columns are: {', '.join(cols)})")
    text: dict[str, str] = {}
    raw: list[tuple[str, str, str, float, int]] = []
    for row_no, r in enumerate(pred, start=2):
        seg = r.get("segment_id", "")
        if not seg:
            raise InputError(source, f"row {row_no}: empty segment_id")
        text.setdefault(seg, _norm(r.get("text", "")))
        code = _norm(r.get("code", ""))
        if not code:
            continue
        ck, k = labels.see(_norm(r.get("category", "")), code, gold=False)
        if not r.get("score", ""):
            continue  # a code a person added: not a proposal
        if {"uncoded", "category_only"} & {f.strip() for f in r.get("flags", "").split(";")}:
            continue
        try:
            score = float(r["score"])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise InputError(source, f"row {row_no}: score {r['score']!r} is not a number")
        try:
            rank = int(float(r.get("rank", "") or "1"))
        except ValueError:
            raise InputError(source, f"row {row_no}: rank {r['rank']!r} is not a number") from None
        if top_k is not None and rank > top_k:
            continue
        if threshold is not None and score < threshold:
            continue
        raw.append((seg, ck, k, score, rank))
    return Predictions(text, raw)


@dataclass
class Gold:
    rows: list[dict[str, str]]
    id_col: str | None  # "segment_id", "id" or None (matched by text)
    has_text: bool
    status_col: bool
    labels: dict[int, Label]  # row number -> (category key, code key), before resolving by-name codes
    kept: list[tuple[int, dict[str, str]]]  # rows someone decided (status not 'proposed')
    skipped: int


def read_gold(gold: list[dict[str, str]], labels: Labels, source: str | Path) -> Gold:
    """The gold rows' columns and labels; rows with status ``proposed`` are skipped."""
    cols = _columns(gold)
    if "code" not in cols:
        raise InputError(source, f"no 'code' column (columns are: {', '.join(cols)})")
    id_col = "segment_id" if "segment_id" in cols else "id" if "id" in cols else None
    has_text = "text" in cols
    if id_col is None and not has_text:
        raise InputError(source, f"needs a 'segment_id' (or 'id') or a 'text' column "
                                 f"(columns are: {', '.join(cols)})")
    row_labels: dict[int, Label] = {}
    for row_no, r in enumerate(gold, start=2):
        code = _norm(r.get("code", ""))
        if not code:
            continue
        cat = _norm(r.get("category", ""))
        if not cat and "/" in code and _key(code) not in labels.pred_cats:  # "Category/Code" in the code column
            cat, code = (_norm(x) for x in code.split("/", 1))
        row_labels[row_no] = labels.see(cat, code, gold=True)
    status_col = "status" in cols
    kept = [(row_no, r) for row_no, r in enumerate(gold, start=2)
            if not (status_col and r.get("status", "").lower() == "proposed")]
    if not kept:
        raise InputError(source, "every gold row has status 'proposed' (nobody reviewed them)")
    return Gold(gold, id_col, has_text, status_col, row_labels, kept, len(gold) - len(kept))


def best_proposals(pred: Predictions, labels: Labels) -> dict[tuple[str, Label], Proposal]:
    """One proposal per (segment, label): the best-ranked (then highest-scored)."""
    proposals: dict[tuple[str, Label], Proposal] = {}
    for seg, ck, k, score, rank in pred.raw:
        lab = labels.label_of(ck, k)
        old = proposals.get((seg, lab))
        if old is None or (rank, -score) < (old.rank, -old.score):
            proposals[(seg, lab)] = Proposal(seg, lab, score, rank)
    return proposals


@dataclass
class Matched:
    mode: str  # "id" or "text"
    found: dict[int, str]  # gold row number -> segment id
    unmatched: list[int]
    ambiguous: list[int]
    warnings: list[str]


def _match(gold: Gold, pred_text: dict[str, str], mode: str) -> tuple[dict[int, str], list[int], list[int]]:
    text_index: dict[str, list[str]] = {}
    for seg, t in pred_text.items():
        if t:
            text_index.setdefault(t, []).append(seg)
    found: dict[int, str] = {}
    unmatched: list[int] = []
    ambiguous: list[int] = []
    for row_no, r in gold.kept:
        if mode == "id":
            seg = r.get(gold.id_col or "", "")
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


def match_gold(gold: Gold, pred: Predictions, gold_source: str | Path, pred_source: str | Path) -> Matched:
    """Gold rows to predicted segments: by segment id when gold has ids (falling back to text when no id
    matches at all), otherwise by whitespace-normalised text. InputError when nothing matches."""
    warnings: list[str] = []
    mode = "id" if gold.id_col is not None and any(r.get(gold.id_col) for _, r in gold.kept) else "text"
    found, unmatched, ambiguous = _match(gold, pred.text, mode)
    if mode == "id" and not found and gold.has_text and any(pred.text.values()):
        warnings.append("no gold id matched a segment id of the predictions: matched by text instead")
        mode = "text"
        found, unmatched, ambiguous = _match(gold, pred.text, mode)
    if not found:
        how = f"by {gold.id_col!r}" if mode == "id" else "by text"
        raise InputError(gold_source, f"none of the {len(gold.kept)} gold rows matched a segment of "
                                      f"{pred_source} ({how})")
    return Matched(mode, found, unmatched, ambiguous, warnings)


def gold_codes(gold: Gold, matched: Matched, labels: Labels) -> dict[str, list[Label]]:
    """Matched segment -> its gold labels, in file order (a ``rejected`` row marks the segment reviewed
    without that code; a row without a code marks it reviewed and uncoded)."""
    out: dict[str, list[Label]] = {}
    for row_no, r in gold.kept:
        seg = matched.found.get(row_no)
        if seg is None:
            continue
        labs = out.setdefault(seg, [])
        if gold.status_col and r.get("status", "").lower() == "rejected":
            continue
        lab = labels.label_of(*gold.labels[row_no]) if row_no in gold.labels else None
        if lab is not None and lab not in labs:
            labs.append(lab)
    return out


def matching_summary(gold: Gold, matched: Matched, pred: Predictions, units: list[str]) -> Matching:
    by_row = dict(gold.kept)

    def example(row_no: int) -> str:
        r = by_row[row_no]
        what = r.get(gold.id_col or "", "") if matched.mode == "id" else _norm(r.get("text", ""))[:60]
        return f"row {row_no}: {what or '(empty)'}"

    return Matching(
        mode=matched.mode, gold_rows=len(gold.rows), matched_rows=len(matched.found),
        unmatched_rows=len(matched.unmatched) + len(matched.ambiguous), ambiguous_rows=len(matched.ambiguous),
        skipped_rows=gold.skipped,
        unmatched_examples=[example(i) for i in sorted(matched.unmatched + matched.ambiguous)[:5]],
        gold_segments=len(units), pred_segments=len(pred.text), pred_segments_without_gold=len(pred.text) - len(units),
    )
