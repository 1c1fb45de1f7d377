"""Learning from coded material and from review decisions: a few-shot head on the sentence vectors.

Training examples come from a table of already coded segments (``precode code ... --train CODED``:
``.csv``/``.xlsx`` with ``text`` and ``code`` columns, one row per code, optional ``category`` and
``verdict``) or from a project's decisions (accepted / added -> positive, rejected -> negative).

:class:`FewShotProposer` (``precode.fewshot.v5``: v4 with calibrated scores, see
:meth:`FewShotProposer._fit_calibration`; v4, v3, v2 and v1 stay registered, for the runs that used
them) keeps the zero-shot proposer's contract and ``score`` signature, so
:func:`pipeline.propose.select` works unchanged. Per code it fits a class-balanced,
L2-regularised one-vs-rest logistic regression on three views of each text, side by side: the
frozen sentence embedding; the *layer view*, a middle hidden layer of the same encoder,
mean-pooled (:mod:`pipeline.embed`, weight ``layer_weight``); and the form features
(:mod:`pipeline.form`, weight ``form_weight``). The code's own label texts (definition, inclusion
note, exemplars) enter as extra positive rows and the other codes' label texts as negative rows
(``prior_weight``), which is the zero-shot prior. A code with fewer than ``min_examples``
distinct positive examples is not learned: it is scored by the underlying similarity proposer
(``zero_shot``, default ``precode.similarity.v3``) alone and is listed in ``zero_shot_codes_``.

Why this head (measured in ``bench/results/learning.md``): the one-vs-rest logistic form is about as
good as multinomial logistic regression on ESConv and AnnoMI and better than nearest-centroid and
kNN; unlike a softmax it can take a rejection of one code and segments with several codes, and it
refits in well under a second on two cores. The views: the sentence embedding says what a turn is
about, while many codes of talk are acts of speech (a question, a reflection, a suggestion); the
form features and the middle layer, which still carries how a thing is said, recover that.
Contrastive fine-tuning of
the encoder (:mod:`pipeline.tune`, ``precode tune``) takes half a minute or more and invalidates
every cached vector, so it is an explicit step, not what runs after each decision.

Self-training (v4; ``self_train``, the only difference from v3): once ``MIN_LEARNED`` codes are
learned, the project's undecided segments (``fit(..., unlabelled=SegmentViews(...))``) whose
rank-1 code is a learned one scoring at least ``self_train`` (0.6) become examples of that code,
and the head is fitted once more, from the first solution. This is the head's own guess used as training data, so it is
bounded: only codes already learned from people's examples take part (a zero-shot code stays
zero-shot), the evidence shown for a proposal is never such a segment, at most ``max_pseudo``
segments are used (a seeded sample), and nothing is recorded as a decision; the review screens and
the run manifest say how many segments were used. What it gains and costs (kappa, how often the
segments it used carry the human label, refit time) is in ``bench/results/learning.md``.

Codes left zero-shot keep their zero-shot ranking; once any code is learned, their scores are put
on the learned codes' scale by a monotone map (two numbers fitted on all examples), so that the
rank-1 code is not decided by two unrelated scales. With v5 that scale is the chance of acceptance
(``bench/results/proposals.md`` measures how well it holds).

Closed-world assumption: a training segment coded only with A counts as a negative example for
every other code (as in a fully coded transcript). Explicit rejections add weight to that.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .errors import InputError
from .lexical import name_matches, name_terms
from .propose import PROPOSERS, LabelText, _sigmoid
from .records import Codebook

FORM_WEIGHT = 1.5  # weight of the form vector beside the embedding (bench/results/learning.md)
LAYER_WEIGHT = 2.0  # weight of the layer view (pipeline.embed: a middle layer, mean-pooled) beside them
SELF_TRAIN = 0.6  # fewshot.v4: the score its rank-1 learned code needs for an undecided segment to become its example
# the second fit starts from the first and stops after this many L-BFGS iterations (~100 to converge;
# 30, 60, 100 or 200 gave the same kappa on ESConv, 20 per code: 0.408-0.409), which halves its time
SELF_TRAIN_ITER = 50
# self-training needs at least this many learned codes: with one, its guesses only say "more of the same"
# (ESConv, 20 decisions in document order, one code learned: kappa 0.142 without, 0.084 with)
MIN_LEARNED = 2
# select_form drops the form features only when the out-of-fold log-loss without them is lower by this share
# (out-of-fold losses of 20 examples a code differ by ~1% between draws: bench/results/proposals.md)
FORM_MARGIN = 0.01
CALIBRATION_FOLDS = 5  # fewshot.v5: out-of-fold logits of the head, from this many folds, calibrate its scores
# fewshot.v5 before a project has enough examples for folds: the head's logit (plus the code's prior log-odds)
# is scaled by this slope, the median of the slopes fitted out of fold on the benchmarks
# (bench/results/proposals.md); the out-of-fold fit replaces it as soon as there are MIN_CALIBRATION texts
DEFAULT_SLOPE = 0.5
MIN_CALIBRATION = 20
MAX_PSEUDO = 1000  # at most this many undecided segments per refit (a seeded sample): bounds the refit time

# -- training data ---------------------------------------------------------------------------------

POSITIVE = {"", "accept", "accepted", "add", "added", "recode", "yes", "y", "true", "1", "positive", "+", "confirmed"}
NEGATIVE = {"reject", "rejected", "no", "n", "false", "0", "negative", "-"}
TEXT_COLUMNS = ("text", "utterance", "utterance_text", "answer", "response", "segment", "quote", "quotation")
VERDICT_COLUMNS = ("verdict", "decision", "positive")


@dataclass(frozen=True)
class SegmentViews:
    """Segments as the head sees them (for self-training): sentence vectors ``vecs`` [n, d], form
    vectors ``forms`` [n, f] (sparse or dense; needed when the head uses form features), layer
    views ``layers`` [n, l] (needed when it uses the layer view) and, optionally, their ``texts``
    (a segment whose text is a training example is not used again)."""

    vecs: np.ndarray
    forms: object = None
    layers: np.ndarray | None = None
    texts: Sequence[str] | None = None


@dataclass(frozen=True)
class TrainingExample:
    """One coded segment as read from a table: ``code`` is a name or a ``Category/Code`` path."""

    text: str
    code: str
    category: str | None = None
    positive: bool = True
    group: str = field(default="", compare=False)  # the document it comes from (``document`` column), if known


@dataclass(frozen=True)
class CodedExample:
    """A training example resolved against a codebook: ``code`` indexes ``codebook.codes``.

    ``source`` (who coded it: a coder, or the training file) is shown as evidence; ``group`` (its
    document) keeps one document's segments in one fold when the scores are calibrated. Neither
    takes part in equality: the same text and code from two places is one example."""

    code: int
    text: str
    positive: bool = True
    source: str = field(default="", compare=False)
    group: str = field(default="", compare=False)


def _norm(s: str) -> str:
    return " ".join(str(s).split())


def _key(s: str) -> str:
    return _norm(s).casefold()


def load_training(path: str | Path, max_mb: float = 50.0) -> list[TrainingExample]:
    """Read already coded segments from ``.csv``/``.tsv``/``.xlsx``.

    Columns (case-insensitive): ``text`` (or utterance / answer / response / quote), ``code``,
    optional ``category`` and ``verdict`` (accept / reject; empty = accept). One row per code: a
    segment with two codes is two rows. Rows without text or without code are skipped (a coded
    export also lists uncoded segments); identical rows count once. Raises :class:`InputError`
    with one line for an unreadable file, missing columns, an unknown verdict or no usable row.
    """
    from .ingest.table import read_table

    path = Path(path)
    rows = read_table(path, max_mb, what="training")
    header = [h for h in rows[0] if h]
    text_col = next((c for c in TEXT_COLUMNS if c in header), None)
    if text_col is None or "code" not in header:
        missing = " and ".join(f"'{c}'" for c, ok in (("text", text_col), ("code", "code" in header)) if not ok)
        raise InputError(path, f"no {missing} column (columns are: {', '.join(header) or 'none'})")
    cat_col = "category" if "category" in header else None
    verdict_col = next((c for c in VERDICT_COLUMNS if c in header), None)
    doc_col = next((c for c in ("document", "document_id", "file") if c in header), None)
    out: list[TrainingExample] = []
    seen: set[TrainingExample] = set()
    for row_no, row in enumerate(rows, start=2):
        text, code = _norm(row.get(text_col, "")), _norm(row.get("code", ""))
        if not text or not code:
            continue
        positive = True
        if verdict_col:
            v = _key(row.get(verdict_col, ""))
            if v in NEGATIVE:
                positive = False
            elif v not in POSITIVE:
                raise InputError(path, f"row {row_no}: unknown {verdict_col} '{row.get(verdict_col)}' "
                                       "(use accept or reject; empty means accept)")
        ex = TrainingExample(text, code, _norm(row.get(cat_col, "")) or None if cat_col else None, positive,
                             group=_norm(row.get(doc_col, "")) if doc_col else "")
        if ex not in seen:
            seen.add(ex)
            out.append(ex)
    if not out:
        raise InputError(path, "no row has both a text and a code")
    return out


def load_training_files(paths: Sequence[str | Path], max_mb: float = 50.0, offsets: str = "auto") -> list[TrainingExample]:
    """Coded examples from several files: tables (:func:`load_training`) and REFI-QDA projects
    (``.qdpx``: every coded span with its code's path; ``offsets`` as in ``read_qdpx``'s ``offset_unit``)."""
    out: list[TrainingExample] = []
    for path in map(Path, paths):
        if path.suffix.lower() == ".qdpx":
            from .refi import read_qdpx

            project = read_qdpx(path, offset_unit=offsets)
            texts = {d.id: d.text for d in project.documents}
            codes = {c.guid(b.name): c.path for b in project.codebooks for c in b.codes}
            out += [TrainingExample(texts[c.document_id][c.start:c.end], codes[c.code_guid], group=c.document_id)
                    for c in project.codings if c.code_guid in codes]
        else:
            out += load_training(path, max_mb)
    return out


def _close(name: str, options: Iterable[str]) -> str:
    import difflib

    hit = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{hit[0]}'?)" if hit else ""


def _source_name(source) -> str:
    """How a training file is named in evidence: its file name (or names)."""
    return ", ".join(Path(p.strip()).name for p in str(source).split(","))


def resolve_examples(examples: Sequence[TrainingExample], codebook: Codebook, unknown: str = "error",
                     source: str | Path = "training data") -> tuple[list[CodedExample], list[str]]:
    """Map example codes to codebook codes; return (resolved examples, warnings).

    A code is found by its path (``category`` column + ``code``, or ``Category/Code`` in the code
    column) or by its name alone when the name is unique in the codebook; matching ignores case and
    repeated spaces. ``unknown="error"`` (the default) raises :class:`InputError` listing every
    unknown or ambiguous name, because a misspelt code would otherwise silently stay zero-shot;
    ``unknown="warn"`` skips those rows and reports them in the warnings.
    """
    if unknown not in ("error", "warn"):
        raise ValueError("unknown must be 'error' or 'warn'")
    by_path: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(codebook.codes):
        by_path[_key(c.path)] = i
        by_name.setdefault(_key(c.name), []).append(i)
    options = [c.path for c in codebook.codes] + [c.name for c in codebook.codes]
    problems: dict[str, int] = {}  # one-line description -> rows
    out: list[CodedExample] = []
    for ex in examples:
        code = _norm(ex.code)
        label = f"{_norm(ex.category)}/{code}" if ex.category else code
        hit = by_path.get(_key(label)) if (ex.category or "/" in code) else None
        problem = None
        if hit is None and not ex.category:
            names = by_name.get(_key(code), [])
            if len(names) == 1:
                hit = names[0]
            elif names:
                paths = " or ".join(f"'{codebook.codes[i].path}'" for i in names)
                problem = f"'{code}' is ambiguous (add a category column: {paths})"
        if hit is None:
            problem = problem or f"'{label}' is unknown{_close(label, options)}"
            problems[problem] = problems.get(problem, 0) + 1
        else:
            out.append(CodedExample(hit, _norm(ex.text), ex.positive, source=_source_name(source), group=ex.group))
    warnings: list[str] = []
    if problems:
        listed = "; ".join(f"{p} ({n} row{'s' if n > 1 else ''})" for p, n in sorted(problems.items()))
        msg = f"codes not in codebook '{codebook.name}': {listed}"
        if unknown == "error":
            raise InputError(source, msg)
        warnings.append(f"{source}: skipped {sum(problems.values())} row(s); {msg}")
    return out, warnings


def examples_from_decisions(states: Iterable, segment_texts: dict[str, str], codebook: Codebook,
                            segment_documents: dict[str, str] | None = None) -> list[CodedExample]:
    """Training examples from a project's current decision states.

    ``states``: objects with ``segment_id``, ``code_guid`` and ``status`` (``accepted`` / ``added``
    -> positive, ``rejected`` -> negative), e.g. the values of
    ``pipeline.decisions.current_state(...)``; ``segment_texts``: segment id -> text;
    ``segment_documents``: segment id -> document id (the example's ``group``). States of other
    codebooks or of segments without a text are ignored. Several accepted codes on one segment are
    one example with several labels (the head groups examples by text). "No code applies"
    (:data:`pipeline.decisions.NO_CODE`) is a rejection of every code.
    """
    from .decisions import NO_CODE

    guid_index = {c.guid(codebook.name): i for i, c in enumerate(codebook.codes)}
    out: list[CodedExample] = []
    seen: set[CodedExample] = set()
    for s in states:
        text = segment_texts.get(s.segment_id)
        if s.code_guid == NO_CODE and text and s.status in ("accepted", "added"):
            # "no code applies": a rejection of every code of the codebook
            for i in range(len(codebook.codes)):
                ex = CodedExample(i, _norm(text), False, source=getattr(s, "coder", "") or "",
                                  group=(segment_documents or {}).get(s.segment_id, ""))
                if ex not in seen:
                    seen.add(ex)
                    out.append(ex)
            continue
        i = guid_index.get(s.code_guid)
        if i is None or not text or s.status not in ("accepted", "added", "rejected"):
            continue
        ex = CodedExample(i, _norm(text), s.status != "rejected", source=getattr(s, "coder", "") or "",
                          group=(segment_documents or {}).get(s.segment_id, ""))
        if ex not in seen:
            seen.add(ex)
            out.append(ex)
    return out


# -- the head --------------------------------------------------------------------------------------


def _single_thread():
    """BLAS on one thread: these matrices are small, and on a busy two-core machine threaded BLAS
    made a refit ~20x slower (3.2 s instead of 0.18 s for 400 decisions, measured)."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn (sentence-transformers)
    except ImportError:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _balanced(W: np.ndarray, S: np.ndarray) -> np.ndarray:
    """Class balance per code: positives (S > 0) and negatives (S < 0) weigh the same in total."""
    pos_w = (W * (S > 0)).sum(axis=0)
    neg_w = (W * (S < 0)).sum(axis=0)
    tot = pos_w + neg_w
    return W * np.where(S > 0, tot / (2 * np.maximum(pos_w, 1e-12)), tot / (2 * np.maximum(neg_w, 1e-12)))


def _fit_ovr_logistic(X: np.ndarray, S: np.ndarray, W: np.ndarray, C: float, max_iter: int = 200,
                      F=None, init: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One-vs-rest L2 logistic regression, all codes in one L-BFGS run.

    X [n, d] dense features, F [n, f] optional sparse ones beside them (kept sparse: a dense block
    inside a sparse matrix multiplies several times slower); S [n, k] targets +1 / -1 / 0 (no
    information); W [n, k] sample weights. Minimises 0.5 * |coef|^2 + C * sum W * log(1 + exp(-S *
    ([X F] coef + b))); the bias is not penalised (scikit-learn's convention). ``init``: a
    (coef, bias) to start from (a previous solution), zeros otherwise. Returns (coef [d + f, k],
    bias [k]).
    """
    from scipy.optimize import minimize

    X = np.asarray(X, dtype=np.float64)
    F = F.tocsr().astype(np.float64) if F is not None else None
    FT = F.T.tocsr() if F is not None else None
    d = X.shape[1] + (F.shape[1] if F is not None else 0)
    dx = X.shape[1]
    k = S.shape[1]
    CW = C * W * (S != 0)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        coef = theta[: d * k].reshape(d, k)
        b = theta[d * k:]
        z = X @ coef[:dx] + b
        if F is not None:
            z = z + F @ coef[dx:]
        m = S * z
        loss = 0.5 * float((coef * coef).sum()) + float((CW * np.logaddexp(0.0, -m)).sum())
        g = -CW * S * _sigmoid(-m)  # d loss / d z
        xg = X.T @ g
        if F is not None:
            xg = np.vstack([xg, FT @ g])
        grad = np.concatenate([(xg + coef).ravel(), g.sum(axis=0)])
        return loss, grad

    x0 = np.concatenate([init[0].ravel(), init[1]]) if init is not None else np.zeros(d * k + k)
    res = minimize(f, x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": max_iter, "gtol": 1e-6})
    return res.x[: d * k].reshape(d, k), res.x[d * k:]


MIN_SLOPE = 0.05


def _fit_platt(logit: np.ndarray, target: np.ndarray, weight: np.ndarray, strength: float = 1.0,
               center: tuple[float, float] = (1.0, 0.0), extra: np.ndarray | None = None) -> tuple[float, ...]:
    """score = sigmoid(a * logit + b [+ beta . extra]) by weighted logistic regression, shrunk toward
    ``center`` (default the identity map, a=1, b=0; beta toward 0) with ``strength`` pseudo-weight.
    ``a >= MIN_SLOPE`` keeps the map strictly increasing: a zero-shot code keeps its ranking even when
    the decisions say that similarity to the descriptions is little evidence (it is compressed, never
    flattened or reversed). ``extra`` [n, m]: features shared by every code (fewshot.v6: the name
    match), with weights ``beta >= 0``. ``target`` is 1 / 0. Returns (a, b) or (a, b, *beta)."""
    from scipy.optimize import minimize

    s = 2.0 * target - 1.0
    E = np.zeros((len(logit), 0)) if extra is None else np.asarray(extra, dtype=np.float64).reshape(len(logit), -1)
    m_extra = E.shape[1]
    a0, b0 = center
    c0 = np.array([a0, b0] + [0.0] * m_extra)

    def f(theta: np.ndarray) -> tuple[float, np.ndarray]:
        a, b, beta = theta[0], theta[1], theta[2:]
        m = s * (a * logit + b + E @ beta)
        r = -weight * s * _sigmoid(-m)
        loss = float((weight * np.logaddexp(0.0, -m)).sum()) + 0.5 * strength * float(((theta - c0) ** 2).sum())
        grad = np.concatenate([[(r * logit).sum(), r.sum()], E.T @ r]) + strength * (theta - c0)
        return loss, grad

    res = minimize(f, c0, jac=True, method="L-BFGS-B", bounds=[(MIN_SLOPE, None), (None, None)] + [(0.0, None)] * m_extra)
    return tuple(float(x) for x in res.x)


class FewShotProposer:
    """Learns per-code scores from coded examples on top of a zero-shot similarity proposer.

    Parameters: ``min_examples`` distinct positive examples a code needs to be learned (fewer:
    zero-shot); ``C`` inverse L2 strength of the logistic head; ``prior_weight`` weight of each
    codebook label text as a training row (relative to one example); ``negative_weight`` weight of
    an explicit rejection; ``zero_shot`` the registered proposer used as prior and for the codes
    that are not learned; the remaining parameters are passed to it (``center``/``scale`` only
    when given, so the zero-shot proposer keeps its own calibration).

    With ``calibrate`` (v5) every score estimates the chance that a person accepts the code: a
    learned code's class-balanced logit is shifted by the code's prior log-odds and mapped by
    ``head_calibration_`` (fitted out of fold), a zero-shot code's score (a chance already, from
    ``precode.similarity.v3``) is recalibrated on the examples (``calibration_``). Without it (v1-v4)
    a learned code's score is the head's class-balanced probability (0.5 = as likely as not given
    balanced classes) and a zero-shot code's is mapped onto that scale; neither is a chance. A question that fits a code's category shifts a
    learned code's logit by ``question_weight / scale``, the same shift as in the zero-shot score.
    """

    def __init__(self, min_examples: int = 5, C: float = 1.0, prior_weight: float = 3.0, negative_weight: float = 1.0,
                 zero_shot: str = "precode.similarity.v3", center: float | None = None, scale: float | None = None,
                 question_weight: float = 0.05, use_question: bool = True, context_weight: float = 0.0,
                 question_min: float = 0.45, form_weight: float = FORM_WEIGHT, layer_weight: float = LAYER_WEIGHT,
                 self_train: float = SELF_TRAIN, pseudo_weight: float = 1.0, max_pseudo: int = MAX_PSEUDO,
                 calibrate: bool = True, calibration_folds: int = CALIBRATION_FOLDS, select_form: bool = False,
                 name_match: bool = False):
        # scikit-learn's contract: __init__ stores the parameters; fit() checks them and works
        self.form_weight = form_weight
        self.layer_weight = layer_weight
        self.self_train = self_train
        self.pseudo_weight = pseudo_weight
        self.max_pseudo = max_pseudo
        self.name_match = name_match
        self.calibrate = calibrate
        self.calibration_folds = calibration_folds
        self.select_form = select_form
        self.min_examples = min_examples
        self.C = C
        self.prior_weight = prior_weight
        self.negative_weight = negative_weight
        self.zero_shot = zero_shot
        self.center = center
        self.scale = scale
        self.question_weight = question_weight
        self.use_question = use_question
        self.context_weight = context_weight
        self.question_min = question_min

    @property
    def name(self) -> str:
        """The registered learner these parameters amount to (v1-v6), or the closest one with what differs."""
        name = ("precode.fewshot.v3" if self.layer_weight > 0 else
                "precode.fewshot.v2" if self.form_weight > 0 else "precode.fewshot.v1")
        if self.self_train > 0:  # v4 = v3 + self-training; the earlier heads with it say so in their name
            name = "precode.fewshot.v4" if self.layer_weight > 0 else name + "+self-training"
        if self.calibrate:  # v5 = v4 + calibrated scores (the chance that a person accepts the code)
            name = "precode.fewshot.v5" if name == "precode.fewshot.v4" else name + "+calibrated"
        if self.name_match:  # v6 = v5 + the code's name words in the segment (pipeline.lexical)
            name = "precode.fewshot.v6" if name == "precode.fewshot.v5" else name + "+name-match"
        return name

    def _check_params(self) -> None:
        if self.form_weight < 0 or self.layer_weight < 0:
            raise ValueError("form_weight and layer_weight must be >= 0")
        if not 0 <= self.self_train < 1 or self.pseudo_weight < 0 or self.max_pseudo < 0:
            raise ValueError("self_train must be in [0, 1) (0: off); pseudo_weight and max_pseudo >= 0")

    @property
    def calibrated(self) -> bool:
        """Whether the scores estimate the chance that a person accepts the code (v5 over a calibrated
        zero-shot proposer): then proposals are chosen for a precision target."""
        return self.calibrate and bool(getattr(PROPOSERS.get(self.zero_shot), "calibrated", False))

    def _zero_shot(self):
        if self.zero_shot not in PROPOSERS or self.zero_shot == self.name:
            raise ValueError(f"unknown zero-shot proposer '{self.zero_shot}' (known: {', '.join(sorted(PROPOSERS))})")
        params = dict(question_weight=self.question_weight, use_question=self.use_question,
                      context_weight=self.context_weight, question_min=self.question_min)
        params.update({k: v for k, v in (("center", self.center), ("scale", self.scale)) if v is not None})
        return PROPOSERS[self.zero_shot](**params)

    def fit(self, codebook: Codebook, labels: list[LabelText], label_vecs: np.ndarray,
            questions: Sequence[tuple[int, str]] = (), question_vecs: np.ndarray | None = None,
            examples: Sequence[CodedExample] = (), example_vecs: np.ndarray | None = None,
            example_forms=None, label_layers: np.ndarray | None = None,
            example_layers: np.ndarray | None = None, unlabelled: "SegmentViews | None" = None) -> "FewShotProposer":
        """Fit the zero-shot prior on the label texts, then a head per code with enough examples.

        ``examples[i]`` is embedded as ``example_vecs[i]`` (same model as the label texts) and,
        when ``form_weight > 0``, has the form vector ``example_forms[i]`` (a row of a
        :class:`pipeline.form.FormVectorizer` matrix; ``None``: no form features, as v1). When
        ``layer_weight > 0``, ``label_layers`` and ``example_layers`` are the layer views of the
        label texts and the examples (:func:`pipeline.embed.embed_texts` with ``view="layer"``;
        ``None``: no layer view, as v2). ``unlabelled``: the project's segments, as the head sees
        them, for self-training (``self_train > 0``; those whose text is an example are left out);
        ``None``: none.
        """
        self._check_params()
        with _single_thread():
            return self._fit(codebook, labels, label_vecs, questions, question_vecs, examples, example_vecs,
                             example_forms, label_layers, example_layers, unlabelled)

    def fit_views(self, codebook: Codebook, labels: list[LabelText], views, examples: Sequence[CodedExample] = (),
                  questions: Sequence[tuple[int, str]] = (), question_vecs: np.ndarray | None = None) -> "FewShotProposer":
        """:meth:`fit` on the views :func:`pipeline.features.learner_views` built (label texts, examples,
        and the segments it self-trains on)."""
        if len(views.labels.vecs) != len(labels) or len(views.examples.vecs) != len(examples):
            raise ValueError("the views must hold one row per label text and per example")
        ex = views.examples
        return self.fit(codebook, labels, views.labels.vecs, questions, question_vecs, examples,
                        ex.vecs if len(examples) else None, ex.forms, views.labels.layers, ex.layers,
                        views.segments if self.self_train > 0 else None)

    def _fit(self, codebook, labels, label_vecs, questions, question_vecs, examples, example_vecs,
             example_forms=None, label_layers=None, example_layers=None, unlabelled=None) -> "FewShotProposer":
        examples = list(examples)
        self.pseudo_: dict[str, int] = {}  # code path -> undecided segments used as its examples (self-training)
        # which of them (rows of ``unlabelled``) and the code each was used for
        self.pseudo_rows_, self.pseudo_codes_ = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        if examples and (example_vecs is None or len(example_vecs) != len(examples)):
            raise ValueError("example_vecs must hold one vector per example")
        use_form = self.form_weight > 0 and example_forms is not None and example_forms.shape[1] > 0
        if use_form and example_forms.shape[0] != len(examples):
            raise ValueError("example_forms must hold one row per example")
        self.form_dim_ = int(example_forms.shape[1]) if use_form else 0
        use_layer = self.layer_weight > 0 and example_layers is not None and label_layers is not None
        if use_layer and (len(example_layers) != len(examples) or len(label_layers) != len(labels)):
            raise ValueError("example_layers / label_layers must hold one vector per example / label text")
        self.layer_dim_ = int(np.shape(example_layers)[1]) if use_layer and len(examples) else 0
        n_codes = len(codebook.codes)
        zs = self._zero_shot().fit(codebook, list(labels), label_vecs, list(questions), question_vecs)
        self.zero_shot_ = zs
        self.codebook_ = codebook
        self.scale_ = zs.scale

        # distinct example texts; per (text, code): +1 positive, -1 explicit rejection
        text_index: dict[str, int] = {}
        rows: list[int] = []
        for ex in examples:
            rows.append(text_index.setdefault(ex.text, len(text_index)))
        n_text = len(text_index)
        S = np.zeros((n_text, n_codes))
        W = np.ones((n_text, n_codes))
        rejected = np.zeros((n_text, n_codes), dtype=bool)
        dim = label_vecs.shape[1]
        Xt = np.zeros((n_text, dim), dtype=np.float32)
        first_row = np.zeros(n_text, dtype=np.int64)  # an example row per distinct text (its form vector)
        for i, (ex, r, v) in reversed(list(enumerate(zip(examples, rows, example_vecs if examples else [])))):
            first_row[r] = i
            Xt[r] = v
            if ex.positive:
                S[r, ex.code] = 1.0
            else:
                rejected[r, ex.code] = True
        coded = (S > 0).any(axis=1)
        # closed world: a segment coded with some code is a negative for the codes it was not given
        S = np.where((S == 0) & coded[:, None], -1.0, S)
        # an explicit rejection: a negative of weight negative_weight, on top of a closed-world one
        rejected &= S <= 0
        W = np.where(rejected, self.negative_weight + (S < 0), W)
        S = np.where(rejected, -1.0, S)

        # fewshot.v6: which codes' name words each example text uses (a feature with one weight for all codes)
        self.name_terms_ = name_terms(codebook) if self.name_match else None
        Mt = name_matches(list(text_index), self.name_terms_) if self.name_terms_ is not None else None
        n_pos = (S > 0).sum(axis=0)
        n_neg = (S < 0).sum(axis=0)
        self.n_examples_ = {c.path: (int(n_pos[i]), int(n_neg[i])) for i, c in enumerate(codebook.codes)}
        # learned: enough positives, and something to tell them from (examples or other codes' labels)
        learned = (n_pos >= max(self.min_examples, 1)) & ((n_neg > 0) | (n_codes > 1))
        self.learned_ = learned
        self.zero_shot_codes_ = [c.path for i, c in enumerate(codebook.codes) if not learned[i]]
        self.learned_codes_ = [c.path for i, c in enumerate(codebook.codes) if learned[i]]

        # evidence: the label texts, then each code's positive examples (kind "learned")
        self.labels_ = list(labels)
        ev_vecs = [label_vecs]
        seen: set[tuple[int, str]] = set()
        extra = []
        for ex, r in zip(examples, rows):
            if ex.positive and learned[ex.code] and (ex.code, ex.text) not in seen:
                seen.add((ex.code, ex.text))
                self.labels_.append(LabelText(ex.code, "learned", ex.text, ex.source))
                extra.append(Xt[r])
        if extra:
            ev_vecs.append(np.stack(extra))
        self.evidence_vecs_ = np.vstack(ev_vecs).astype(np.float32)
        self.evidence_code_ = np.array([lt.code for lt in self.labels_])

        self.coef_ = np.zeros((dim + self.layer_dim_ + self.form_dim_, n_codes))
        self.intercept_ = np.zeros(n_codes)
        if learned.any():
            # the zero-shot prior: each code's label texts as positive rows, other codes' as negative
            lc = np.array([lt.code for lt in labels])
            Sp = np.where(lc[:, None] == np.arange(n_codes)[None, :], 1.0, -1.0)
            Wp = np.full(Sp.shape, float(self.prior_weight))
            X = np.vstack([Xt, label_vecs]) if n_text else np.asarray(label_vecs)
            if self.layer_dim_:
                # the layer view beside the embedding (label texts have one too: they are texts)
                Lt = np.asarray(example_layers, dtype=np.float32)[first_row]
                X = np.hstack([X, self.layer_weight * np.vstack([Lt, np.asarray(label_layers, dtype=np.float32)])])
            F = None
            if self.form_dim_:
                # form view beside the embedding; label texts carry no form (they are definitions)
                from scipy.sparse import csr_matrix, vstack

                F = csr_matrix(example_forms)[first_row] * self.form_weight
                F = vstack([F, csr_matrix((len(label_vecs), self.form_dim_))])
            S_all = np.vstack([S, Sp])
            W_all = np.vstack([W, Wp])
            cols = np.where(learned)[0]
            coef, b = _fit_ovr_logistic(X, S_all[:, cols], _balanced(W_all, S_all)[:, cols], self.C, F=F)
            self.coef_[:, cols] = coef
            self.intercept_[cols] = b
            # codes left zero-shot: their similarity score, mapped monotonically onto the scale of the
            # learned codes (class-balanced, like the head) by two numbers fitted on every decision
            zs_scores = np.clip(zs.score(Xt, seg_texts=list(text_index))[0], 1e-9, 1 - 1e-9)
            known = S != 0
            logit = np.log(zs_scores / (1 - zs_scores))[known]
            target = (S[known] > 0).astype(float)
            if self.calibrate:  # the chance of acceptance itself: no class balance
                w = np.ones_like(target)
            else:
                w = _balanced(W[known][:, None], (2 * target - 1)[:, None])[:, 0]
            self.calibration_ = _fit_platt(logit, target, w, extra=Mt[known] if Mt is not None else None)
            if self.calibrate:
                groups = [""] * n_text
                for ex, r in zip(examples, rows):
                    groups[r] = groups[r] or ex.group
                X, F = self._fit_calibration(X, F, S_all, W_all, cols, S, zs_scores, groups, Mt)
            if self.self_train > 0 and unlabelled is not None and len(unlabelled.vecs) and len(cols) >= MIN_LEARNED:
                self._self_train(unlabelled, {_norm(t) for t in text_index}, X, F, S_all, W_all, cols)
        else:
            self.calibration_ = (1.0, 0.0)
            if self.calibrate:
                self._fit_calibration(None, None, None, None, np.zeros(0, dtype=np.int64), S, None, [])
        return self

    def _folds(self, groups: Sequence[str]) -> np.ndarray | None:
        """A fold number per distinct example text: texts of one document (``group``) share a fold;
        a text without a group is a group of its own. None when there are too few for folds."""
        keys = [g or f"\0{i}" for i, g in enumerate(groups)]
        uniq = sorted(set(keys))
        k = min(self.calibration_folds, len(uniq))
        if len(keys) < MIN_CALIBRATION or k < 2:
            return None
        order = np.random.default_rng(0).permutation(len(uniq))
        fold_of = {uniq[j]: i % k for i, j in enumerate(order)}
        return np.array([fold_of[g] for g in keys])

    def _fit_calibration(self, X, F, S_all, W_all, cols: np.ndarray, S: np.ndarray, zs_scores,
                         groups: Sequence[str], M: np.ndarray | None = None) -> tuple:
        """fewshot.v5: make a learned code's score the chance that a person accepts it.

        The head is class-balanced, so its logit is shifted by the code's prior log-odds among the
        examples, ``log((positives + 1) / (negatives + 1))``, and scaled: ``score = sigmoid(a * (logit
        + prior) + b)``, with (a, b) fitted on out-of-fold logits (``calibration_folds`` folds by
        document; before :data:`MIN_CALIBRATION` example texts, ``a`` = :data:`DEFAULT_SLOPE`, ``b`` = 0).
        The out-of-fold scores of every code (``oof_``) also give the conformal scores
        (``conformal_``: 1 - the best score of a right code, per coded text) behind coverage sets, and
        the reliability of the scores on this project's own examples. With ``select_form``, the head is
        also fitted out of fold without the form features, and they are dropped (the head refitted
        without them) when that lowers the out-of-fold log-loss; ``form_selected_`` says which.
        With ``name_match`` (v6), ``M`` holds the example texts' name matches and the map gains a third
        number, the weight of the name match (``sigmoid(a * (logit + prior) + b + beta * match)``).
        Returns the (X, F) the rest of the fit uses."""
        n_pos = (S > 0).sum(axis=0)
        n_neg = (S < 0).sum(axis=0)
        self.prior_logit_ = np.log((n_pos + 1.0) / (n_neg + 1.0))
        self.head_calibration_ = (DEFAULT_SLOPE, 0.0)
        self.head_calibration_fitted_ = False
        self.conformal_ = np.zeros(0)
        self.oof_ = None
        self.form_selected_ = self.form_weight if self.form_dim_ else 0.0
        fold = self._folds(groups) if len(cols) else None
        if fold is None:
            return X, F
        z, ab, loss = self._out_of_fold(X, F, S_all, W_all, cols, S, fold, M=M)
        if self.select_form and F is not None:
            # learn the mix: keep the form features only if they lower the out-of-fold log-loss (they help
            # codes that are acts of speech, and add noise where codes are topics)
            dx = X.shape[1]
            z0, ab0, loss0 = self._out_of_fold(X, None, S_all, W_all, cols, S, fold, init=self.coef_[:dx], M=M)
            if loss0 < loss * (1 - FORM_MARGIN):
                coef, bias = _fit_ovr_logistic(X, S_all[:, cols], _balanced(W_all, S_all)[:, cols], self.C,
                                               init=(self.coef_[:dx, cols], self.intercept_[cols]))
                self.coef_ = self.coef_[:dx]
                self.coef_[:, cols], self.intercept_[cols] = coef, bias
                self.form_dim_, self.form_selected_, F = 0, 0.0, None
                z, ab, loss = z0, ab0, loss0
        self.oof_loss_ = loss
        if ab is not None:
            self.head_calibration_, self.head_calibration_fitted_ = ab, True
        P = self._calibrated(zs_scores, M)
        P[:, cols] = self._head_map(z, cols, M)
        pos = S > 0
        has = pos.any(axis=1)
        self.oof_ = (P, S)
        self.conformal_ = np.sort(1.0 - np.where(pos, P, -np.inf).max(axis=1)[has])
        return X, F

    def _out_of_fold(self, X, F, S_all, W_all, cols: np.ndarray, S: np.ndarray, fold: np.ndarray,
                     init: np.ndarray | None = None, M: np.ndarray | None = None) -> tuple[np.ndarray, tuple | None, float]:
        """Out-of-fold logits of the learned codes ``cols`` for the example texts (the label-text rows
        always train), the calibration map (a, b) fitted on them (None when they hold one class only),
        and the calibrated scores' mean log-loss."""
        n_text = S.shape[0]
        dx = X.shape[1]
        z = np.zeros((n_text, len(cols)))
        label_rows = np.arange(n_text, X.shape[0])
        start = self.coef_ if init is None else init
        for k in range(int(fold.max()) + 1):
            test = np.where(fold == k)[0]
            train = np.concatenate([np.where(fold != k)[0], label_rows])
            Ft = F[train] if F is not None else None
            coef, b = _fit_ovr_logistic(X[train], S_all[train][:, cols], _balanced(W_all[train], S_all[train])[:, cols],
                                        self.C, F=Ft, init=(start[:, cols], self.intercept_[cols]),
                                        max_iter=2 * SELF_TRAIN_ITER)
            zt = np.asarray(X[test], dtype=np.float64) @ coef[:dx] + b
            if F is not None:
                zt = zt + np.asarray(F[test] @ coef[dx:])
            z[test] = zt
        known = S[:, cols] != 0
        x = (z + self.prior_logit_[cols])[known]
        t = (S[:, cols] > 0)[known].astype(float)
        e = M[:, cols][known] if M is not None else None
        ab = (_fit_platt(x, t, np.ones_like(x), center=(DEFAULT_SLOPE, 0.0), extra=e)
              if t.any() and not t.all() else None)
        a, b, *beta = ab or (DEFAULT_SLOPE, 0.0)
        p = np.clip(_sigmoid(a * x + b + (beta[0] * e if beta and e is not None else 0.0)), 1e-9, 1 - 1e-9)
        loss = float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()) if len(x) else 0.0
        return z, ab, loss

    def coverage_threshold(self, coverage: float) -> tuple[float, int] | None:
        """The score a code needs to be in a set that holds a right code with probability ``coverage``
        (split conformal on the out-of-fold scores of the coded examples), and how many examples
        that rests on; None without out-of-fold scores (fewer than :data:`MIN_CALIBRATION` texts)."""
        s = getattr(self, "conformal_", np.zeros(0))
        if not 0 < coverage < 1:
            raise ValueError("coverage must be between 0 and 1")
        n = len(s)
        if n == 0:
            return None
        rank = int(np.ceil((n + 1) * coverage)) - 1
        q = s[min(rank, n - 1)] if rank < n else 1.0
        return float(max(1.0 - q, 0.0)), n

    def _calibrated(self, zero_shot_scores: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
        """Zero-shot scores on the learned codes' scale (the monotone map ``calibration_``; in v6 plus
        the weight of the name match ``M`` [n, codes])."""
        a, b, *beta = self.calibration_
        zs = np.clip(zero_shot_scores, 1e-9, 1 - 1e-9)
        x = a * np.log(zs / (1 - zs)) + b
        return _sigmoid(x + beta[0] * M if beta and M is not None else x)

    def _head_map(self, z: np.ndarray, cols: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
        """v5+: the learned codes' calibrated scores from the head's logits ``z`` [n, len(cols)]."""
        a, b, *beta = self.head_calibration_
        x = a * (z + self.prior_logit_[cols]) + b
        return _sigmoid(x + beta[0] * M[:, cols] if beta and M is not None else x)

    def _name_matches(self, texts: Sequence[str] | None, n: int) -> np.ndarray | None:
        """v6: the segments' name matches (None for a learner without them)."""
        if getattr(self, "name_terms_", None) is None:
            return None
        if texts is None or len(texts) != n:
            raise ValueError(f"this learner matches code names: pass seg_texts, one text per segment ({n})")
        return name_matches(texts, self.name_terms_)

    def _logits(self, vecs: np.ndarray, forms, layers, cols: np.ndarray) -> np.ndarray:
        """The head's logits of codes ``cols`` (no question shift)."""
        dim = vecs.shape[1]
        z = np.asarray(vecs, dtype=np.float64) @ self.coef_[:dim, cols] + self.intercept_[cols]
        if self.layer_dim_:
            z = z + self.layer_weight * (np.asarray(layers, dtype=np.float64) @ self.coef_[dim:dim + self.layer_dim_, cols])
        if self.form_dim_:
            z = z + self.form_weight * np.asarray(forms @ self.coef_[dim + self.layer_dim_:, cols])
        return z

    def _self_train(self, u: "SegmentViews", example_texts: set[str], X: np.ndarray, F, S_all: np.ndarray,
                    W_all: np.ndarray, cols: np.ndarray) -> None:
        """Refit once with the undecided segments the head is sure of as examples of their code
        (weight ``pseudo_weight``): their rank-1 code is a learned one (not a zero-shot code on the
        calibrated scale) and scores at least ``self_train``."""
        from scipy.sparse import csr_matrix, vstack

        if self.form_dim_ and (u.forms is None or u.forms.shape != (len(u.vecs), self.form_dim_)):
            raise ValueError(f"self-training: the undecided segments need form vectors of shape "
                             f"({len(u.vecs)}, {self.form_dim_})")
        if self.layer_dim_ and (u.layers is None or np.shape(u.layers) != (len(u.vecs), self.layer_dim_)):
            raise ValueError(f"self-training: the undecided segments need layer views of shape "
                             f"({len(u.vecs)}, {self.layer_dim_})")
        rows = np.arange(len(u.vecs))
        if u.texts is not None:  # a segment with a decision (or a training example) teaches by that
            rows = np.array([i for i, t in enumerate(u.texts) if _norm(t) not in example_texts], dtype=np.int64)
        if not len(rows):
            return
        forms = csr_matrix(u.forms)[rows] if self.form_dim_ else None
        layers = np.asarray(u.layers)[rows] if self.layer_dim_ else None
        vecs = np.asarray(u.vecs)[rows]
        z = self._logits(vecs, forms, layers, cols)
        best = z.argmax(axis=1)
        top = _sigmoid(z.max(axis=1))
        if len(cols) < S_all.shape[1]:  # the rank-1 code over all codes must be a learned one
            texts = [u.texts[i] for i in rows] if u.texts is not None else None
            M = self._name_matches(texts, len(rows)) if texts is not None else None
            others = np.delete(self._calibrated(self.zero_shot_.score(vecs, seg_texts=texts)[0], M), cols, axis=1)
            top = np.where(top > others.max(axis=1), top, 0.0)
        sure = np.where(top >= self.self_train)[0]
        if self.max_pseudo and len(sure) > self.max_pseudo:  # a seeded sample keeps the mix of codes
            sure = np.sort(np.random.default_rng(0).choice(sure, self.max_pseudo, replace=False))
        if not len(sure):
            return
        n_codes = S_all.shape[1]
        Su = -np.ones((len(sure), n_codes))
        Su[np.arange(len(sure)), cols[best[sure]]] = 1.0
        Xu = vecs[sure].astype(np.float32)
        if self.layer_dim_:
            Xu = np.hstack([Xu, self.layer_weight * layers[sure].astype(np.float32)])
        S2 = np.vstack([S_all, Su])
        W2 = np.vstack([W_all, np.full(Su.shape, float(self.pseudo_weight))])
        F2 = vstack([F, forms[sure] * self.form_weight]) if F is not None else None
        coef, b = _fit_ovr_logistic(np.vstack([X, Xu]), S2[:, cols], _balanced(W2, S2)[:, cols], self.C, F=F2,
                                    init=(self.coef_[:, cols], self.intercept_[cols]), max_iter=SELF_TRAIN_ITER)
        self.coef_[:, cols] = coef
        self.intercept_[cols] = b
        counts = np.bincount(cols[best[sure]], minlength=n_codes)
        self.pseudo_ = {self.codebook_.codes[i].path: int(counts[i]) for i in cols if counts[i]}
        self.pseudo_rows_, self.pseudo_codes_ = rows[sure], cols[best[sure]]

    def score(self, seg_vecs: np.ndarray, q_vecs: np.ndarray | None = None, has_q: np.ndarray | None = None,
              prev_vecs: np.ndarray | None = None, seg_forms=None,
              seg_layers: np.ndarray | None = None,
              seg_texts: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return (scores [n, codes] in [0,1], evidence label index [n, codes], matched category [n], its sim [n]).

        ``seg_forms`` / ``seg_layers``: the segments' form vectors (same vectorizer as in ``fit``)
        and layer views; required when the head was fitted with them. ``seg_texts``: the segments'
        texts, required by a learner that matches code names (v6) once it has learned a code.
        """
        scores, evidence, cat, cat_sim = self.zero_shot_.score(seg_vecs, q_vecs, has_q, prev_vecs, seg_texts=seg_texts)
        if not self.learned_.any() or len(seg_vecs) == 0:
            return scores, evidence, cat, cat_sim
        if self.form_dim_ and (seg_forms is None or seg_forms.shape != (len(seg_vecs), self.form_dim_)):
            raise ValueError(f"this head was fitted with {self.form_dim_} form features: pass seg_forms "
                             f"of shape ({len(seg_vecs)}, {self.form_dim_})")
        if self.layer_dim_ and (seg_layers is None or np.shape(seg_layers) != (len(seg_vecs), self.layer_dim_)):
            raise ValueError(f"this head was fitted with a layer view of {self.layer_dim_} dimensions: pass "
                             f"seg_layers of shape ({len(seg_vecs)}, {self.layer_dim_})")
        v = seg_vecs
        if prev_vecs is not None and self.context_weight > 0:
            v = (1 - self.context_weight) * seg_vecs + self.context_weight * prev_vecs
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        cols = np.where(self.learned_)[0]
        z = self._logits(v, seg_forms, seg_layers, cols)
        fits = (cat[:, None] >= 0) & (self.zero_shot_.code_category_[None, cols] == cat[:, None])
        z = z + np.where(fits, self.zero_shot_.question_shift, 0.0)
        M = self._name_matches(seg_texts, len(seg_vecs))
        scores = self._calibrated(scores, M)
        if self.calibrate:
            scores[:, cols] = self._head_map(z, cols, M)
        else:
            scores[:, cols] = _sigmoid(z)
        # evidence of a learned code: its closest label text or training example
        sims = v @ self.evidence_vecs_.T
        evidence = evidence.copy()
        for c in cols:
            idx = np.where(self.evidence_code_ == c)[0]
            evidence[:, c] = idx[np.argmax(sims[:, idx], axis=1)]
        return scores, evidence, cat, cat_sim


def _fewshot_v2(**params) -> FewShotProposer:
    """The head on embeddings and form features (before the layer view)."""
    return FewShotProposer(**{**params, "layer_weight": 0.0, "self_train": 0.0, "calibrate": False})


def _fewshot_v1(**params) -> FewShotProposer:
    """The head on embeddings alone (before form features)."""
    return FewShotProposer(**{**params, "form_weight": 0.0, "layer_weight": 0.0, "self_train": 0.0, "calibrate": False})


def _fewshot_v3(**params) -> FewShotProposer:
    """The head on embeddings, layer view and form features (before self-training)."""
    return FewShotProposer(**{**params, "self_train": 0.0, "calibrate": False})


def _fewshot_v6(**params) -> FewShotProposer:
    """v5 + whether the segment uses the words of the code's name (one weight for every code, fitted
    with the calibration on the project's examples: :mod:`pipeline.lexical`)."""
    return FewShotProposer(**{"zero_shot": "precode.similarity.v4", **params, "name_match": True})


def _fewshot_v4(**params) -> FewShotProposer:
    """v3 + self-training (before calibrated scores: a learned code's score is class-balanced)."""
    return FewShotProposer(**{**params, "calibrate": False})


LEARNED_PROPOSERS = {"precode.fewshot.v6": _fewshot_v6, "precode.fewshot.v5": FewShotProposer,
                     "precode.fewshot.v4": _fewshot_v4, "precode.fewshot.v3": _fewshot_v3,
                     "precode.fewshot.v2": _fewshot_v2, "precode.fewshot.v1": _fewshot_v1}


def make_learner(p) -> FewShotProposer:
    """The learner a ``propose`` config section (:class:`pipeline.config.ProposeConfig`) asks for."""
    calibration = {k: v for k, v in (("center", p.sim_center), ("scale", p.sim_scale)) if v is not None}
    extra = {"select_form": p.select_form} if p.learner in ("precode.fewshot.v5", "precode.fewshot.v6") else {}
    return LEARNED_PROPOSERS[p.learner](
        min_examples=p.min_examples, zero_shot=p.proposer, question_weight=p.question_weight,
        use_question=p.use_question, context_weight=p.context_weight, form_weight=p.form_weight,
        layer_weight=p.layer_weight, self_train=p.self_train, **calibration, **extra)


def run_training_files(manifest: dict) -> list[Path]:
    """The training files a run learned from, from its manifest (resolved paths; older manifests
    recorded them only as written in the config)."""
    return [Path(f.get("resolved") or f["path"]) for f in (manifest.get("learning") or {}).get("train_files", [])]


# -- review order ------------------------------------------------------------------------------------

ORDERS = ("uncertainty", "document")
UNCERTAINTY_TEMPERATURE = 0.05  # measured in bench/results/learning.md (pure margin: 0)


def _margin(scores: np.ndarray) -> np.ndarray:
    if scores.shape[1] == 1:
        return np.abs(scores[:, 0] - 0.5)
    top2 = -np.partition(-scores, 1, axis=1)[:, :2]
    return top2[:, 0] - top2[:, 1]


def uncertainty_order(scores: np.ndarray, temperature: float = 0.0, seed: int = 0) -> np.ndarray:
    """Row indices, the most informative first: smallest margin between the two best codes.

    ``temperature=0``: strictly by margin, ties in document order. ``temperature>0``: a seeded
    random order in which a segment comes first with probability proportional to
    ``exp(-margin / temperature)`` (Gumbel top-k), so a run of near-identical, equally uncertain
    segments does not fill the queue. With a single code the margin is the distance to 0.5.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        return np.arange(scores.shape[0] if scores.ndim else 0)
    key = np.round(_margin(scores), 9)
    if temperature > 0:
        gumbel = np.random.default_rng(seed).gumbel(size=key.shape[0])
        key = key / temperature - gumbel
    return np.argsort(key, kind="stable")


def document_order(scores: np.ndarray) -> np.ndarray:
    """Row indices in document order (the order the segments were given in)."""
    return np.arange(np.asarray(scores).shape[0])


def review_order(scores: np.ndarray, order: str = "uncertainty", temperature: float = UNCERTAINTY_TEMPERATURE,
                 seed: int = 0) -> np.ndarray:
    """What to review next: ``uncertainty`` (what teaches the proposer most, sampled with
    ``temperature``; pass e.g. the number of decisions so far as ``seed``) or ``document`` order."""
    if order == "uncertainty":
        return uncertainty_order(scores, temperature, seed)
    if order == "document":
        return document_order(scores)
    raise ValueError(f"unknown review order '{order}' (one of: {', '.join(ORDERS)})")


__all__ = [
    "TrainingExample", "CodedExample", "load_training", "load_training_files", "resolve_examples", "examples_from_decisions",
    "FewShotProposer", "SegmentViews", "LEARNED_PROPOSERS", "LAYER_WEIGHT", "SELF_TRAIN", "make_learner",
    "run_training_files", "uncertainty_order", "document_order", "review_order", "ORDERS",
    "UNCERTAINTY_TEMPERATURE",
]
