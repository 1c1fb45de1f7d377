"""Scoring segments against a codebook: every proposal with a score, its evidence and flags.

Proposers are registered under versioned names (``precode.similarity.v1``) so that an old config
keeps meaning what it meant. They follow the estimator contract: ``__init__`` stores parameters,
``fit`` learns from the codebook's label texts and returns ``self``, learned state ends in ``_``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .records import Codebook, Segment, Suggestion
from .segment import one_line


@dataclass(frozen=True)
class LabelText:
    code: int  # index into codebook.codes
    kind: str  # description | inclusion | example
    text: str


def label_texts(codebook: Codebook) -> list[LabelText]:
    """What a segment can match for each code: its definition, inclusion note and exemplars."""
    out: list[LabelText] = []
    for i, code in enumerate(codebook.codes):
        out.append(LabelText(i, "description", f"{code.name}: {code.description}" if code.description else code.name))
        if code.inclusion:
            out.append(LabelText(i, "inclusion", f"{code.name}: {code.inclusion}"))
        out.extend(LabelText(i, "example", ex) for ex in code.examples)
    return out


def category_questions(codebook: Codebook) -> list[tuple[int, str]]:
    """(category index, question) pairs for categories tied to interview questions."""
    return [(ci, q) for ci, cat in enumerate(codebook.categories) for q in cat.questions]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class SimilarityProposer:
    """Zero-shot: cosine similarity of a segment to each code's label texts.

    score = sigmoid((cos + bonus - center) / scale), where cos is the best match over the code's
    label texts (the evidence), and bonus = ``question_weight`` for codes of the category whose
    interview questions best match the question the segment answers.
    """

    name = "precode.similarity.v1"

    match = "best"  # best single label text; v2: the code's prototype (mean of its label vectors)

    def __init__(self, center: float = 0.30, scale: float = 0.06, question_weight: float = 0.05,
                 use_question: bool = True, context_weight: float = 0.0, question_min: float = 0.45):
        self.center = center
        self.scale = scale
        self.question_weight = question_weight
        self.use_question = use_question
        self.context_weight = context_weight
        self.question_min = question_min

    def fit(self, codebook: Codebook, labels: list[LabelText], label_vecs: np.ndarray,
            questions: list[tuple[int, str]] = (), question_vecs: np.ndarray | None = None) -> "SimilarityProposer":
        self.codebook_ = codebook
        self.labels_ = labels
        self.label_vecs_ = label_vecs
        self.label_code_ = np.array([lt.code for lt in labels])
        self.questions_ = list(questions)
        self.question_vecs_ = question_vecs
        cat_index = {cat.name: i for i, cat in enumerate(codebook.categories)}
        self.code_category_ = np.array([cat_index.get(c.category, -1) for c in codebook.codes])
        protos = np.zeros((len(codebook.codes), label_vecs.shape[1]), dtype=np.float32)
        np.add.at(protos, self.label_code_, label_vecs)
        self.prototypes_ = protos / np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12)
        return self

    def _category_match(self, q_vecs: np.ndarray, has_q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best-matching category per segment (-1 if none) and its similarity."""
        n = q_vecs.shape[0]
        if not self.use_question or not self.questions_ or self.question_vecs_ is None or n == 0:
            return np.full(n, -1), np.zeros(n)
        sims = q_vecs @ self.question_vecs_.T  # [n, questions]
        cats = np.array([c for c, _ in self.questions_])
        n_cat = len(self.codebook_.categories)
        per_cat = np.full((n, n_cat), -1.0)
        for c in range(n_cat):
            cols = cats == c
            if cols.any():
                per_cat[:, c] = sims[:, cols].max(axis=1)
        best = per_cat.argmax(axis=1)
        best_sim = per_cat[np.arange(n), best]
        ok = has_q & (best_sim >= self.question_min)
        return np.where(ok, best, -1), best_sim

    def score(self, seg_vecs: np.ndarray, q_vecs: np.ndarray | None = None, has_q: np.ndarray | None = None,
              prev_vecs: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return (scores [n, codes] in [0,1], evidence label index [n, codes], matched category [n], its sim [n])."""
        v = seg_vecs
        if prev_vecs is not None and self.context_weight > 0:
            v = (1 - self.context_weight) * seg_vecs + self.context_weight * prev_vecs
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        sims = v @ self.label_vecs_.T  # [n, labels]
        n, n_codes = v.shape[0], len(self.codebook_.codes)
        best = np.full((n, n_codes), -np.inf)
        evidence = np.zeros((n, n_codes), dtype=int)
        for j in range(sims.shape[1]):
            c = self.label_code_[j]
            better = sims[:, j] > best[:, c]
            best[better, c] = sims[better, j]
            evidence[better, c] = j
        if self.match == "prototype":
            best = v @ self.prototypes_.T  # the evidence stays the closest single label text
        if q_vecs is not None and has_q is not None:
            cat, cat_sim = self._category_match(q_vecs, has_q)
        else:
            cat, cat_sim = np.full(n, -1), np.zeros(n)
        bonus = np.where((cat[:, None] >= 0) & (self.code_category_[None, :] == cat[:, None]), self.question_weight, 0.0)
        scores = _sigmoid((best + bonus - self.center) / self.scale)
        return scores, evidence, cat, cat_sim


class PrototypeProposer(SimilarityProposer):
    """Zero-shot, v2: cosine to each code's prototype, the normalised mean of its label texts'
    vectors (``name: description``, inclusion note, exemplars), instead of the best single one.

    Measured in ``bench/results/agreement.md``: better than v1 on ESConv and both AnnoMI tasks (with
    exemplars, Δκ +0.026 / +0.046 / +0.028). Default calibration: cosines of short transcript turns to
    code prototypes centre lower than to single texts, hence ``center=0.25``.
    """

    name = "precode.similarity.v2"
    match = "prototype"

    def __init__(self, center: float = 0.25, scale: float = 0.06, question_weight: float = 0.05,
                 use_question: bool = True, context_weight: float = 0.0, question_min: float = 0.45):
        super().__init__(center, scale, question_weight, use_question, context_weight, question_min)


PROPOSERS: dict[str, Callable[..., SimilarityProposer]] = {
    SimilarityProposer.name: SimilarityProposer,
    PrototypeProposer.name: PrototypeProposer,
}


def make_proposer(name: str, **params) -> SimilarityProposer:
    try:
        factory = PROPOSERS[name]
    except KeyError:
        raise ValueError(f"unknown proposer '{name}' (known: {', '.join(sorted(PROPOSERS))})") from None
    return factory(**params)


def select(
    segments: list[Segment],
    scores: np.ndarray,
    evidence: np.ndarray,
    proposer: SimilarityProposer,
    matched_category: np.ndarray,
    top_k: int = 3,
    threshold: float = 0.35,
    confident: float = 0.6,
    ambiguity_margin: float = 0.03,
    sims: np.ndarray | None = None,
) -> list[Suggestion]:
    """Top-k proposals per segment with flags.

    Codes scoring at least ``threshold`` are proposed (up to ``top_k``); if none does, the best
    code is still shown once, flagged ``uncoded``. ``low_confidence``: below ``confident``.
    ``ambiguous``: the best two are within ``ambiguity_margin``.
    """
    codes = proposer.codebook_.codes
    labels = proposer.labels_
    out: list[Suggestion] = []
    for i, seg in enumerate(segments):
        row = scores[i]
        # stable order: score desc, then codebook order
        order = sorted(range(len(codes)), key=lambda c: (-round(float(row[c]), 6), c))
        passing = [c for c in order[:top_k] if row[c] >= threshold]
        uncoded = not passing
        chosen = passing or order[:1]
        ambiguous = len(order) > 1 and (row[order[0]] - row[order[1]]) < ambiguity_margin
        for rank, c in enumerate(chosen, start=1):
            lt = labels[evidence[i, c]]
            flags = []
            if uncoded:
                flags.append("uncoded")
            elif row[c] < confident:
                flags.append("low_confidence")
            if ambiguous and rank <= 2:
                flags.append("ambiguous")
            ev = f'{lt.kind}: "{one_line(lt.text, 90)}"'
            cat = int(matched_category[i])
            if cat >= 0 and codes[c].category == proposer.codebook_.categories[cat].name:
                ev += f"; question fits '{codes[c].category}'"
            out.append(Suggestion(seg.id, codes[c], round(float(row[c]), 4), rank, ev, tuple(flags)))
    return out


def score_segments(proposer, segments: list[Segment], vectors: dict[str, np.ndarray], use_question: bool,
                   seg_forms=None, use_previous: bool = False,
                   seg_layers=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Score ``segments`` with a fitted proposer: their vectors (and those of their questions and
    previous turns, when used) looked up by text in ``vectors``; ``seg_forms`` / ``seg_layers`` for
    a learned head that reads form features / the layer view. Shared by the batch run and the live
    learner of the review."""
    seg_v = np.stack([vectors[s.text] for s in segments])
    zeros = np.zeros(seg_v.shape[1], dtype=np.float32)
    has_q = np.array([bool(s.question) and use_question for s in segments])
    q_v = np.stack([vectors[s.question] if h else zeros for s, h in zip(segments, has_q)])
    prev_v = (np.stack([vectors[s.previous] if s.previous else seg_v[i] for i, s in enumerate(segments)])
              if use_previous else None)
    extra = {k: v for k, v in (("seg_forms", seg_forms), ("seg_layers", seg_layers)) if v is not None}
    return proposer.score(seg_v, q_v, has_q, prev_v, **extra)
