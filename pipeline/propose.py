"""Scoring segments against a codebook: every proposal with a score, its evidence and flags.

Proposers are registered under versioned names (``precode.similarity.v1``) so that an old config
keeps meaning what it meant. They follow the estimator contract: ``__init__`` stores parameters,
``fit`` learns from the codebook's label texts and returns ``self``, learned state ends in ``_``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .lexical import NameMatcher
from .records import Codebook, Segment, Suggestion
from .segment import one_line


@dataclass(frozen=True)
class LabelText:
    code: int  # index into codebook.codes
    kind: str  # description | inclusion | example | learned (a coded example)
    text: str
    source: str = ""  # for a coded example: who coded it (a coder, or the training file it came from)


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
    return 1.0 / (1.0 + np.exp(-np.clip(x, -500.0, 500.0)))


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
            questions: Sequence[tuple[int, str]] = (), question_vecs: np.ndarray | None = None) -> "SimilarityProposer":
        self.codebook_ = codebook
        self.labels_ = labels
        self.label_vecs_ = label_vecs
        self.label_code_ = np.array([lt.code for lt in labels])
        self.questions_ = list(questions)
        self.question_vecs_ = question_vecs
        # a code without a category (None) is in none of them: -1
        cat_index: dict[str | None, int] = {cat.name: i for i, cat in enumerate(codebook.categories)}
        self.code_category_ = np.array([cat_index.get(c.category, -1) for c in codebook.codes])
        protos = np.zeros((len(codebook.codes), label_vecs.shape[1]), dtype=np.float32)
        np.add.at(protos, self.label_code_, label_vecs)
        self.prototypes_ = protos / np.maximum(np.linalg.norm(protos, axis=1, keepdims=True), 1e-12)
        # v4: the segments' use of the code names' words (exact, by stem), which the evidence also names
        self.name_matcher_ = NameMatcher(codebook) if self.name_match else None
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
              prev_vecs: np.ndarray | None = None,
              seg_texts: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return (scores [n, codes] in [0,1], evidence label index [n, codes], matched category [n], its sim [n]).

        ``seg_texts``: the segments' texts, read by a proposer that matches code names (v4) only."""
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
        single = best
        if self.match == "prototype":
            best = v @ self.prototypes_.T  # the evidence stays the closest single label text
        if q_vecs is not None and has_q is not None:
            cat, cat_sim = self._category_match(q_vecs, has_q)
        else:
            cat, cat_sim = np.full(n, -1), np.zeros(n)
        bonus = np.where((cat[:, None] >= 0) & (self.code_category_[None, :] == cat[:, None]), self.question_weight, 0.0)
        if self.name_match:
            return self._to_score(best + bonus, single + bonus, self.name_matches(seg_texts, n)), evidence, cat, cat_sim
        return self._to_score(best + bonus, single + bonus), evidence, cat, cat_sim

    name_match = False  # v4: whether the segment uses the words of the code's name is part of the score

    def name_weight(self, code: int) -> float:
        """The weight, in log-odds, that saying the code's name has in its score (0: none)."""
        return 0.0

    def name_matches(self, texts: Sequence[str] | None, n: int) -> np.ndarray:
        """[n, codes]: the share of each code's name words the segment uses (:mod:`pipeline.lexical`)."""
        if texts is None or len(texts) != n:
            raise ValueError(f"{self.name} matches code names: pass seg_texts, one text per segment ({n})")
        assert self.name_matcher_ is not None  # made in fit for a proposer that matches names
        return self.name_matcher_(texts)

    def _to_score(self, sim: np.ndarray, single: np.ndarray | None = None, names: np.ndarray | None = None) -> np.ndarray:
        """Similarity (plus the question bonus) -> score in [0, 1]: a fixed logistic squash. ``single``:
        the closest single label text's cosine (the same as ``sim`` unless the match is a prototype);
        ``names``: the name matches, passed only when ``name_match`` is on (v4; not read by this squash)."""
        return _sigmoid((sim - self.center) / self.scale)

    @property
    def question_shift(self) -> float:
        """The question bonus as a shift of the score's logit (what a learned head adds for it)."""
        return self.question_weight / self.scale

    calibrated = False  # whether scores estimate the chance that a person accepts the code


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


# The prior of similarity.v3: P(a person accepts code j for a segment) = sigmoid(w_sim * cos_j + w_single *
# single_j + w_gap * gap_j + w_lead * lead_j + bias), cos_j the cosine of the segment to code j's prototype
# and single_j to its closest single label text (definition or exemplar), both plus the question bonus;
# gap_j = cos_j - the best code's cosine, lead_j = how far code j, when it is the best, is ahead of the second
# (prior_features). One set of weights for codes with a definition, one for codes that also have exemplars,
# one for bare names (weaker evidence: the prototype is the name alone). Fitted by `python
# bench/proposals.py --fit-prior` on the shared benchmarks (games_as_art, ESConv, AnnoMI therapist and client,
# each with its definitions, with names only, and with 3 exemplars a code drawn from the data; every data set
# weighing the same), never on a project; bench/results/proposals.md records the fit. A project's decisions
# and training files recalibrate it (pipeline.learn). In that fit the gap and the lead carry the information
# (a code is likely when it is the closest one, by a margin), the absolute cosine none; with definitions only
# the prototype and the single text are one and the same, hence equal weights.
PRIOR_DESCRIBED = {"sim": -0.683, "single": -0.683, "gap": 9.355, "lead": 10.167, "bias": -0.74}
PRIOR_EXEMPLARS = {"sim": -0.112, "single": -1.091, "gap": 8.019, "lead": 9.196, "bias": -0.545}
PRIOR_BARE = {"sim": -0.251, "single": -0.251, "gap": 8.2, "lead": 5.235, "bias": -0.723}


def prior_features(sim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gap, lead) of each code in each row of similarities: gap = its similarity minus the row's best
    (0 for the best code), lead = how far the best code is ahead of the second (0 for the others)."""
    if sim.shape[1] == 0:
        return sim, sim
    top = sim.max(axis=1, keepdims=True)
    second = np.sort(sim, axis=1)[:, -2:-1] if sim.shape[1] > 1 else top
    return sim - top, np.where(sim >= top, top - second, 0.0)


def is_bare(code) -> bool:
    """A code with a name only: no description, inclusion note or exemplar."""
    return not (code.description.strip() or code.inclusion.strip() or code.examples)


class CalibratedPrototypeProposer(PrototypeProposer):
    """Zero-shot, v3: v2's prototype cosine, turned into the estimated chance that a person accepts
    the code (:data:`PRIOR_DESCRIBED` / :data:`PRIOR_EXEMPLARS` / :data:`PRIOR_BARE`, fitted on the
    benchmarks), on the same scale
    as a learned code's calibrated score. The gap to the segment's best code is part of the estimate:
    a code is likely when it is both close and the closest."""

    name = "precode.similarity.v3"
    calibrated = True

    def __init__(self, center: float = 0.25, scale: float = 0.06, question_weight: float = 0.05,
                 use_question: bool = True, context_weight: float = 0.0, question_min: float = 0.45,
                 prior: dict | None = None, bare_prior: dict | None = None):
        super().__init__(center, scale, question_weight, use_question, context_weight, question_min)
        self.prior = prior
        self.bare_prior = bare_prior

    def fit(self, codebook: Codebook, *args, **kwargs) -> "CalibratedPrototypeProposer":
        super().fit(codebook, *args, **kwargs)
        self.bare_ = np.array([is_bare(c) for c in codebook.codes], dtype=bool)
        self.exemplars_ = np.array([bool(c.examples) for c in codebook.codes], dtype=bool)
        return self

    priors = (PRIOR_DESCRIBED, PRIOR_EXEMPLARS, PRIOR_BARE)  # (described, with exemplars, bare name)

    def logits(self, sim: np.ndarray, single: np.ndarray, names: np.ndarray | None = None) -> np.ndarray:
        described, exemplars, bare = self.priors
        d, b, e = self.prior or described, self.bare_prior or bare, exemplars
        w = {k: np.where(self.bare_, b[k], np.where(self.exemplars_, e[k], d[k])) for k in d}
        gap, lead = prior_features(sim)
        z = w["sim"] * sim + w["single"] * single + w["gap"] * gap + w["lead"] * lead + w["bias"]
        return z + w["name"] * names if names is not None and "name" in w else z

    def _to_score(self, sim: np.ndarray, single: np.ndarray | None = None, names: np.ndarray | None = None) -> np.ndarray:
        return _sigmoid(self.logits(sim, sim if single is None else single, names))

    def name_weight(self, code: int) -> float:
        if not self.name_match:
            return 0.0
        described, exemplars, bare = self.priors
        w = (self.bare_prior or bare) if self.bare_[code] else exemplars if self.exemplars_[code] else (self.prior or described)
        return float(w.get("name", 0.0))

    @property
    def question_shift(self) -> float:
        d = self.prior or self.priors[0]
        return self.question_weight * float(d["sim"] + d["single"])


# similarity.v4's prior: v3's features and ``name`` (the share of the code's name words the segment uses,
# pipeline.lexical), fitted the same way (`python bench/proposals.py --fit-prior`, bench/results/proposals.md).
PRIOR4_DESCRIBED = {"sim": -0.857, "single": -0.857, "gap": 9.278, "lead": 9.842, "name": 1.368, "bias": -0.717}
PRIOR4_EXEMPLARS = {"sim": -0.297, "single": -1.17, "gap": 7.974, "lead": 9.526, "name": 1.282, "bias": -0.504}
PRIOR4_BARE = {"sim": -0.376, "single": -0.376, "gap": 8.198, "lead": 5.074, "name": 0.914, "bias": -0.701}


class NamedPrototypeProposer(CalibratedPrototypeProposer):
    """Zero-shot, v4: v3 and whether the segment uses the words of the code's name (a passage that says
    "nostalgic" is likelier to be coded *Nostalgia*); scoring needs the segments' texts."""

    name = "precode.similarity.v4"
    name_match = True
    priors = (PRIOR4_DESCRIBED, PRIOR4_EXEMPLARS, PRIOR4_BARE)


PROPOSERS: dict[str, Callable[..., SimilarityProposer]] = {
    SimilarityProposer.name: SimilarityProposer,
    PrototypeProposer.name: PrototypeProposer,
    CalibratedPrototypeProposer.name: CalibratedPrototypeProposer,
    NamedPrototypeProposer.name: NamedPrototypeProposer,
}


def make_proposer(name: str, **params) -> SimilarityProposer:
    try:
        factory = PROPOSERS[name]
    except KeyError:
        raise ValueError(f"unknown proposer '{name}' (known: {', '.join(sorted(PROPOSERS))})") from None
    return factory(**params)


EVIDENCE_KIND = {"description": "definition", "inclusion": "inclusion note", "example": "codebook exemplar",
                 "learned": "coded example"}


# a proposal's evidence names the words of the code's name the segment says when saying them weighs at
# least this much (log-odds) in its score
NAME_EVIDENCE_WEIGHT = 0.5


def name_evidence(said: Sequence[tuple[str, str, float]]) -> str:
    """``says "nostalgic" (a word of the code's name)`` or ``says "memories" (close to "nostalgia" in the
    code's name)``, from :meth:`pipeline.lexical.NameMatcher.explain`."""
    exact = [f'"{w}"' for w, _, part in said if part >= 1.0][:3]
    close = [f'"{w}" (close to "{n}" in the code\'s name)' for w, n, part in said if part < 1.0][:2]
    parts = ([", ".join(exact) + (" (words of the code's name)" if len(exact) > 1 else " (a word of the code's name)")]
             if exact else []) + close
    return "says " + ", ".join(parts)


def evidence_text(lt: LabelText) -> str:
    """Why a code was proposed, in a reader's words: the label text or coded example that matched
    (with who coded it, when known)."""
    kind = EVIDENCE_KIND.get(lt.kind, lt.kind)
    if lt.kind == "learned" and lt.source:
        kind += f" ({lt.source})"
    return f'{kind}: "{one_line(lt.text, 90)}"'


def precision_cutoff(scores: Sequence[float], target: float, floor: float = 0.0) -> float:
    """The lowest score a proposal may have so that the proposals' expected precision (the mean of
    their calibrated scores) is at least ``target``; never below ``floor``. Scores above the cutoff
    are kept best first: the set grows while its mean stays at or above the target."""
    s = np.sort(np.asarray(list(scores), dtype=float))[::-1]
    if not len(s) or s[0] < target:
        return max(target, floor)  # nothing can meet the target: only a score at it would
    running = np.cumsum(s) / np.arange(1, len(s) + 1)
    last = int(np.where(running >= target)[0].max())
    return max(float(s[last]), floor)


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
    target_precision: float | None = None,
    coverage: float | None = None,
    category_backoff: bool = True,
) -> list[Suggestion]:
    """Proposals per segment with flags.

    With ``target_precision`` (calibrated scores: the chance a person accepts the code), each
    segment gets the 0 to ``top_k`` codes whose score clears :func:`precision_cutoff` over the
    whole batch (the proposals' expected precision meets the target; no proposal below
    ``threshold``). With ``coverage`` (and a proposer with :meth:`coverage_threshold`), the set is
    every code scoring at least the conformal cutoff: it holds a right code with that probability.
    Without either (scores that are not probabilities), the legacy rule: the ``top_k`` best codes
    scoring at least ``threshold``.

    A segment where no code clears the cutoff gets one row flagged ``uncoded`` (its nearest code
    and score are kept for the screens, which show no code as proposed), or, with
    ``category_backoff``, a row flagged ``category_only`` when a category of two or more codes
    clears it (its score: the chance that some code of the category applies, 1 - prod(1 - p)).
    ``low_confidence``: below ``confident``. ``ambiguous``: the best two are within
    ``ambiguity_margin``.
    """
    codes = proposer.codebook_.codes
    labels = proposer.labels_
    n = len(segments)
    orders = [sorted(range(len(codes)), key=lambda c: (-round(float(scores[i, c]), 6), c)) for i in range(n)]
    cap = top_k
    if coverage is not None and hasattr(proposer, "coverage_threshold") and proposer.coverage_threshold(coverage):
        cutoff, cap = proposer.coverage_threshold(coverage)[0], len(codes)
    elif target_precision is not None:
        cands = [float(scores[i, c]) for i in range(n) for c in orders[i][:top_k] if scores[i, c] >= threshold]
        cutoff = precision_cutoff(cands, target_precision, threshold)
    else:
        cutoff, category_backoff = threshold, False
    by_category: dict[str, list[int]] = {}
    for c, code in enumerate(codes):
        if code.category:
            by_category.setdefault(code.category, []).append(c)
    matcher = getattr(proposer, "name_matcher_", None)  # None: the proposer does not read code names
    weight = getattr(proposer, "name_weight", None)
    out: list[Suggestion] = []
    for i, seg in enumerate(segments):
        row = scores[i]
        order = orders[i]
        passing = [c for c in order[:cap] if row[c] >= cutoff]
        ambiguous = len(order) > 1 and (row[order[0]] - row[order[1]]) < ambiguity_margin
        cat = int(matched_category[i])
        if not passing:
            out.append(_abstain(seg.id, row, order, codes, by_category, cutoff, category_backoff))
            continue
        for rank, c in enumerate(passing, start=1):
            flags = []
            if row[c] < confident:
                flags.append("low_confidence")
            if ambiguous and rank <= 2:
                flags.append("ambiguous")
            ev = evidence_text(labels[evidence[i, c]])
            if cat >= 0 and codes[c].category == proposer.codebook_.categories[cat].name:
                ev += f"; question fits '{codes[c].category}'"
            if matcher is not None and weight is not None and weight(c) >= NAME_EVIDENCE_WEIGHT:
                said = matcher.explain(seg.text, c)
                if said:
                    ev += "; " + name_evidence(said)
            out.append(Suggestion(seg.id, codes[c], round(float(row[c]), 4), rank, ev, tuple(flags)))
    return out


def _abstain(seg_id: str, row: np.ndarray, order: list[int], codes, by_category: dict[str, list[int]],
             cutoff: float, category_backoff: bool) -> Suggestion:
    """The one row of a segment no code clears the cutoff for: ``category_only`` or ``uncoded``."""
    near = ", ".join(f"'{codes[c].name}' {row[c]:.2f}" for c in order[:2])
    if category_backoff:
        best = None
        for name, cs in by_category.items():
            if len(cs) < 2:
                continue
            p = 1.0 - float(np.prod(1.0 - np.clip(row[cs], 0.0, 1.0)))
            if p >= cutoff and (best is None or p > best[1]):
                best = (name, p, max(cs, key=lambda c: (row[c], -c)))
        if best:
            name, p, c = best
            inside = sorted(by_category[name], key=lambda c: -row[c])[:3]
            listed = ", ".join(f"'{codes[k].name}' {row[k]:.2f}" for k in inside)
            return Suggestion(seg_id, codes[c], round(p, 4), 1,
                              f"category '{name}' fits ({p:.2f}), no single code does: {listed}", ("category_only",))
    c = order[0]
    return Suggestion(seg_id, codes[c], round(float(row[c]), 4), 1,
                      f"no code reaches {cutoff:.2f}; nearest: {near}", ("uncoded",))


def propose_sets(p, segments: list[Segment], scores: np.ndarray, evidence: np.ndarray, proposer,
                 matched_category: np.ndarray) -> list[Suggestion]:
    """:func:`select` as a ``propose`` config section (:class:`pipeline.config.ProposeConfig`) asks:
    sets for a precision target (or a coverage) when the proposer's scores are calibrated, the
    legacy top-k rule otherwise. The batch run and the live review both call this."""
    calibrated = bool(getattr(proposer, "calibrated", False))
    return select(segments, scores, evidence, proposer, matched_category, p.top_k, p.threshold, p.confident,
                  p.ambiguity_margin, target_precision=p.target_precision if calibrated else None,
                  coverage=p.coverage if calibrated else None, category_backoff=p.category_backoff)


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
    q_v = np.stack([vectors[s.question] if h and s.question else zeros for s, h in zip(segments, has_q)])
    prev_v = (np.stack([vectors[s.previous] if s.previous else seg_v[i] for i, s in enumerate(segments)])
              if use_previous else None)
    extra = {k: v for k, v in (("seg_forms", seg_forms), ("seg_layers", seg_layers)) if v is not None}
    return proposer.score(seg_v, q_v, has_q, prev_v, seg_texts=[s.text for s in segments], **extra)
