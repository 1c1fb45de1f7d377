"""The learned head, :class:`FewShotProposer` (``precode.fewshot.v1``-``v8``), its registry and defaults.

Longer than ~500 lines for a reason: it is one estimator, whose fit steps (examples -> targets, the head,
out-of-fold calibration, self-training) share the fitted state; the optimisation lives in
:mod:`pipeline.learn.fit`, the examples in :mod:`pipeline.learn.examples`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ..lexical import NameMatcher, WordVectors
from ..propose import PROPOSERS, LabelText, _sigmoid
from ..records import Codebook
from .examples import CodedExample, _norm
from .fit import _balanced, _fit_ovr_logistic, _fit_platt, _single_thread
from .neighbours import neighbour_share

if TYPE_CHECKING:
    from scipy.sparse import spmatrix

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
# fewshot.v8: how many nearest coded example texts the neighbour share looks at (5 or 10, weighted by similarity
# or not, gave the same F1 within 0.004 on games_as_art)
NEIGHBOURS = 5
MAX_PSEUDO = 1000  # at most this many undecided segments per refit (a seeded sample): bounds the refit time

# -- training data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentViews:
    """Segments as the head sees them (for self-training): sentence vectors ``vecs`` [n, d], form
    vectors ``forms`` [n, f] (sparse or dense; needed when the head uses form features), layer
    views ``layers`` [n, l] (needed when it uses the layer view) and, optionally, their ``texts``
    (a segment whose text is a training example is not used again)."""

    vecs: np.ndarray
    forms: np.ndarray | spmatrix | None = None
    layers: np.ndarray | None = None
    texts: Sequence[str] | None = None


class FewShotProposer:
    """Learns per-code scores from coded examples on top of a zero-shot similarity proposer.

    Parameters: ``min_examples`` distinct positive examples a code needs to be learned (fewer:
    zero-shot); ``C`` inverse L2 strength of the logistic head; ``prior_weight`` weight of each
    codebook label text as a training row (relative to one example); ``negative_weight`` weight of
    an explicit rejection; ``implicit_weight`` weight of a closed-world negative (a code an example text
    was not given while it was given others; ``None``, v8: the mean number of codes of the coded example
    texts, so 1 when each text has one code); ``zero_shot`` the registered proposer used as prior and for the codes
    that are not learned; the remaining parameters are passed to it (``center``/``scale`` only
    when given, so the zero-shot proposer keeps its own calibration).

    With ``calibrate`` (v5) every score estimates the chance that a person accepts the code: a
    learned code's class-balanced logit is shifted by the code's prior log-odds and mapped by
    ``head_calibration_`` (fitted out of fold), a zero-shot code's score (a chance already, from
    ``precode.similarity.v3``) is recalibrated on the examples (``calibration_``). Without it (v1-v4)
    a learned code's score is the head's class-balanced probability (0.5 = as likely as not given
    balanced classes) and a zero-shot code's is mapped onto that scale; neither is a chance. With ``knn``
    (v8) both calibration maps also weigh the share of the segment's ``knn`` nearest coded example texts that
    carry the code (``knn_weighted``: each neighbour weighed by its cosine; ``knn_maps='learned'``: in the
    learned codes' map only). A question that fits a code's category shifts a
    learned code's logit by ``question_weight / scale``, the same shift as in the zero-shot score.
    """

    def __init__(self, min_examples: int = 5, C: float = 1.0, prior_weight: float = 3.0, negative_weight: float = 1.0,
                 zero_shot: str = "precode.similarity.v3", center: float | None = None, scale: float | None = None,
                 question_weight: float = 0.05, use_question: bool = True, context_weight: float = 0.0,
                 question_min: float = 0.45, form_weight: float = FORM_WEIGHT, layer_weight: float = LAYER_WEIGHT,
                 self_train: float = SELF_TRAIN, pseudo_weight: float = 1.0, max_pseudo: int = MAX_PSEUDO,
                 calibrate: bool = True, calibration_folds: int = CALIBRATION_FOLDS, select_form: bool = False,
                 name_match: bool = False, similar_names: bool = False, knn: int = 0, knn_weighted: bool = True,
                 knn_maps: str = "both", implicit_weight: float | None = 1.0):
        # scikit-learn's contract: __init__ stores the parameters; fit() checks them and works
        self.form_weight = form_weight
        self.layer_weight = layer_weight
        self.self_train = self_train
        self.pseudo_weight = pseudo_weight
        self.max_pseudo = max_pseudo
        self.name_match = name_match
        self.similar_names = similar_names
        self.knn = knn
        self.knn_weighted = knn_weighted
        self.knn_maps = knn_maps
        self.implicit_weight = implicit_weight
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
        """The registered learner these parameters amount to (v1-v8), or the closest one with what differs."""
        name = ("precode.fewshot.v3" if self.layer_weight > 0 else
                "precode.fewshot.v2" if self.form_weight > 0 else "precode.fewshot.v1")
        if self.self_train > 0:  # v4 = v3 + self-training; the earlier heads with it say so in their name
            name = "precode.fewshot.v4" if self.layer_weight > 0 else name + "+self-training"
        if self.calibrate:  # v5 = v4 + calibrated scores (the chance that a person accepts the code)
            name = "precode.fewshot.v5" if name == "precode.fewshot.v4" else name + "+calibrated"
        if self.name_match:  # v6 = v5 + the code's name words in the segment (pipeline.lexical)
            name = "precode.fewshot.v6" if name == "precode.fewshot.v5" else name + "+name-match"
        if self.similar_names:  # v7 = v6 + words close to the name's words count (word vectors)
            name = "precode.fewshot.v7" if name == "precode.fewshot.v6" else name + "+similar-names"
        # v8 = v7 + the share of the nearest coded examples that carry the code, and closed-world negatives
        # weighted by the codes per text
        if self.knn and self.implicit_weight is None:
            name = "precode.fewshot.v8" if name == "precode.fewshot.v7" else name + "+neighbours+codes-per-text-negatives"
        elif self.knn:
            name += "+neighbours"
        elif self.implicit_weight is None:
            name += "+codes-per-text-negatives"
        if self.implicit_weight is not None and self.implicit_weight != 1.0:
            name += f"+implicit-weight={self.implicit_weight:g}"
        return name

    def _check_params(self) -> None:
        if self.form_weight < 0 or self.layer_weight < 0:
            raise ValueError("form_weight and layer_weight must be >= 0")
        if not 0 <= self.self_train < 1 or self.pseudo_weight < 0 or self.max_pseudo < 0:
            raise ValueError("self_train must be in [0, 1) (0: off); pseudo_weight and max_pseudo >= 0")
        if self.implicit_weight is not None and self.implicit_weight < 0:
            raise ValueError("implicit_weight must be >= 0 (None: the mean number of codes per coded text)")
        if self.similar_names and not self.name_match:
            raise ValueError("similar_names weighs words close to the code's name: it needs name_match")
        if self.knn < 0 or self.knn_maps not in ("both", "learned"):
            raise ValueError("knn must be >= 0 (0: off); knn_maps 'both' or 'learned'")

    @property
    def calibrated(self) -> bool:
        """Whether the scores estimate the chance that a person accepts the code (v5 over a calibrated
        zero-shot proposer): then proposals are chosen for a precision target."""
        return self.calibrate and bool(getattr(PROPOSERS.get(self.zero_shot), "calibrated", False))

    def _implicit_weight(self, pos: np.ndarray) -> float:
        """The weight of a closed-world negative (a code an example text was not given while it was given
        others): ``implicit_weight``, or with ``None`` (v8) the mean number of codes of the coded texts
        ``pos`` [texts, codes] (1 when every text has one code, as before)."""
        if self.implicit_weight is not None:
            return float(self.implicit_weight)
        counts = pos.sum(axis=1)
        return float(counts[counts > 0].mean()) if counts.any() else 1.0

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
            example_layers: np.ndarray | None = None, unlabelled: "SegmentViews | None" = None,
            words: WordVectors | None = None) -> "FewShotProposer":
        """Fit the zero-shot prior on the label texts, then a head per code with enough examples.

        ``examples[i]`` is embedded as ``example_vecs[i]`` (same model as the label texts) and,
        when ``form_weight > 0``, has the form vector ``example_forms[i]`` (a row of a
        :class:`pipeline.form.FormVectorizer` matrix; ``None``: no form features, as v1). When
        ``layer_weight > 0``, ``label_layers`` and ``example_layers`` are the layer views of the
        label texts and the examples (:func:`pipeline.embed.embed_texts` with ``view="layer"``;
        ``None``: no layer view, as v2). ``unlabelled``: the project's segments, as the head sees
        them, for self-training (``self_train > 0``; those whose text is an example are left out);
        ``None``: none. ``words``: word vectors by word (the sentence encoder on single words), which
        ``similar_names`` (v7) needs, at fit and when scoring.
        """
        self._check_params()
        if self.similar_names and words is None:
            raise ValueError("this learner compares the segments' words with the code names' words: pass words= "
                             "(word vectors; pipeline.features.learner_views gives them)")
        self.words_ = words if self.similar_names else None
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
                        views.segments if self.self_train > 0 else None, words=views.words)

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
        assert isinstance(coded, np.ndarray)  # one flag per distinct text (S is 2-D)
        # closed world: a segment coded with some code is a negative for the codes it was not given
        implicit = (S == 0) & coded[:, None]
        self.implicit_weight_ = self._implicit_weight(S > 0)
        S = np.where(implicit, -1.0, S)
        W = np.where(implicit, self.implicit_weight_, W)
        # an explicit rejection: a negative of weight negative_weight, on top of a closed-world one
        rejected &= S <= 0
        W = np.where(rejected, self.negative_weight + np.where(implicit, self.implicit_weight_, 0.0), W)
        S = np.where(rejected, -1.0, S)

        # fewshot.v6: which codes' name words each example text uses (a feature with one weight for all codes);
        # v7: or words close to them
        self.name_matcher_ = NameMatcher(codebook, self.words_) if self.name_match else None
        Mt = self.name_matcher_(list(text_index)) if self.name_matcher_ is not None else None
        groups = [""] * n_text
        for ex, r in zip(examples, rows):
            groups[r] = groups[r] or ex.group
        Kt = self._fit_neighbours(Xt, S, coded, list(text_index), groups)
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
            E = self._extras(Mt, Kt, head=False)
            self.calibration_ = _fit_platt(logit, target, w, extra=E[known] if E is not None else None)
            if self.calibrate:
                X, F = self._fit_calibration(X, F, S_all, W_all, cols, S, zs_scores, groups, Mt, Kt)
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

    def _fit_neighbours(self, Xt: np.ndarray, S: np.ndarray, coded: np.ndarray, texts: list[str],
                        groups: Sequence[str]) -> np.ndarray | None:
        """v8: keep the coded example texts (the neighbours of later segments) and return the example
        texts' own neighbour shares [n_text, codes], as a segment the learner has not seen would get them:
        out of fold (neighbours from the other calibration folds) when there are folds, else leaving the
        text itself out. None without ``knn``."""
        if not self.knn:
            return None
        ref = np.where(coded)[0]
        self.knn_vecs_ = Xt[ref]
        self.knn_codes_ = (S[ref] > 0).astype(np.float64)
        self.knn_rows_ = {_norm(texts[int(r)]): j for j, r in enumerate(ref)}
        fold = self._folds(groups) if self.calibrate else None
        allowed = (fold[:, None] != fold[ref][None, :]) if fold is not None else \
            (np.arange(len(Xt))[:, None] != ref[None, :])
        return neighbour_share(Xt, self.knn_vecs_, self.knn_codes_, self.knn, self.knn_weighted, allowed)

    def _neighbours(self, vecs: np.ndarray, texts: Sequence[str] | None) -> np.ndarray | None:
        """v8: the segments' neighbour shares [n, codes] (a segment that is itself an example text is not
        its own neighbour); None for a learner without them."""
        if not self.knn or not hasattr(self, "knn_vecs_"):
            return None
        allowed = None
        if texts is not None and self.knn_rows_:
            allowed = np.ones((len(vecs), len(self.knn_vecs_)), dtype=bool)
            for i, t in enumerate(texts):
                j = self.knn_rows_.get(_norm(t))
                if j is not None:
                    allowed[i, j] = False
        return neighbour_share(vecs, self.knn_vecs_, self.knn_codes_, self.knn, self.knn_weighted, allowed)

    def _extras(self, M: np.ndarray | None, K: np.ndarray | None, head: bool) -> np.ndarray | None:
        """The shared extra features [n, codes, m] of a calibration map (``head``: the learned codes',
        else the zero-shot codes'): the name match (v6), then the neighbour share (v8; in the zero-shot
        codes' map only with ``knn_maps='both'``); None when it has none."""
        uses = [getattr(self, "name_matcher_", None) is not None,
                bool(self.knn) and (head or self.knn_maps == "both")]
        feats = [f for f, u in zip((M, K), uses) if u]
        shape = next((f.shape for f in feats if f is not None), None)
        if shape is None:
            return None
        # a feature not given (no texts to match names in) adds nothing: zeros keep the weights' order
        return np.stack([f if f is not None else np.zeros(shape) for f in feats], axis=-1)

    def _fit_calibration(self, X, F, S_all, W_all, cols: np.ndarray, S: np.ndarray, zs_scores,
                         groups: Sequence[str], M: np.ndarray | None = None, K: np.ndarray | None = None) -> tuple:
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
        number, the weight of the name match (``sigmoid(a * (logit + prior) + b + beta * match)``); with
        ``knn`` (v8), ``K`` the example texts' out-of-fold neighbour shares, and the map gains a weight for them.
        Returns the (X, F) the rest of the fit uses."""
        n_pos = (S > 0).sum(axis=0)
        n_neg = (S < 0).sum(axis=0)
        self.prior_logit_ = np.log((n_pos + 1.0) / (n_neg + 1.0))
        self.head_calibration_: tuple[float, ...] = (DEFAULT_SLOPE, 0.0)
        self.head_calibration_fitted_ = False
        self.conformal_ = np.zeros(0)
        self.oof_ = None
        self.form_selected_ = self.form_weight if self.form_dim_ else 0.0
        fold = self._folds(groups) if len(cols) else None
        if fold is None:
            return X, F
        E = self._extras(M, K, head=True)
        z, ab, loss = self._out_of_fold(X, F, S_all, W_all, cols, S, fold, E=E)
        if self.select_form and F is not None:
            # learn the mix: keep the form features only if they lower the out-of-fold log-loss (they help
            # codes that are acts of speech, and add noise where codes are topics)
            dx = X.shape[1]
            z0, ab0, loss0 = self._out_of_fold(X, None, S_all, W_all, cols, S, fold, init=self.coef_[:dx], E=E)
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
        P = self._calibrated(zs_scores, M, K)
        P[:, cols] = self._head_map(z, cols, M, K)
        pos = S > 0
        has = pos.any(axis=1)
        self.oof_ = (P, S)
        self.conformal_ = np.sort(1.0 - np.where(pos, P, -np.inf).max(axis=1)[has])
        return X, F

    def _out_of_fold(self, X, F, S_all, W_all, cols: np.ndarray, S: np.ndarray, fold: np.ndarray,
                     init: np.ndarray | None = None, E: np.ndarray | None = None) -> tuple[np.ndarray, tuple | None, float]:
        """Out-of-fold logits of the learned codes ``cols`` for the example texts (the label-text rows
        always train), the calibration map (a, b, *beta) fitted on them with the extra features ``E``
        [n_text, codes, m] (None when they hold one class only), and the calibrated scores' mean log-loss."""
        n_text = S.shape[0]
        dx = X.shape[1]
        z = np.zeros((n_text, len(cols)))
        label_rows = np.arange(n_text, X.shape[0])
        start = self.coef_ if init is None else init
        for k in range(int(fold.max()) + 1):
            test = np.where(fold == k)[0]
            train = np.concatenate([np.where(fold != k)[0], label_rows])
            Ft = F[train] if F is not None else None
            coef, bias = _fit_ovr_logistic(X[train], S_all[train][:, cols], _balanced(W_all[train], S_all[train])[:, cols],
                                           self.C, F=Ft, init=(start[:, cols], self.intercept_[cols]),
                                           max_iter=2 * SELF_TRAIN_ITER)
            zt = np.asarray(X[test], dtype=np.float64) @ coef[:dx] + bias
            if F is not None:
                zt = zt + np.asarray(F[test] @ coef[dx:])
            z[test] = zt
        known = S[:, cols] != 0
        x = (z + self.prior_logit_[cols])[known]
        t = (S[:, cols] > 0)[known].astype(float)
        e = E[:, cols][known] if E is not None else None
        ab = (_fit_platt(x, t, np.ones_like(x), center=(DEFAULT_SLOPE, 0.0), extra=e)
              if t.any() and not t.all() else None)
        a, b, *beta = ab or (DEFAULT_SLOPE, 0.0)
        p = np.clip(_sigmoid(a * x + b + (e @ np.asarray(beta) if beta and e is not None else 0.0)), 1e-9, 1 - 1e-9)
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

    def _calibrated(self, zero_shot_scores: np.ndarray, M: np.ndarray | None = None,
                    K: np.ndarray | None = None) -> np.ndarray:
        """Zero-shot scores on the learned codes' scale (the monotone map ``calibration_``; in v6 plus
        the weight of the name match ``M`` [n, codes], in v8 that of the neighbour share ``K``)."""
        a, b, *beta = self.calibration_
        zs = np.clip(zero_shot_scores, 1e-9, 1 - 1e-9)
        x = a * np.log(zs / (1 - zs)) + b
        E = self._extras(M, K, head=False)
        return _sigmoid(x + E @ np.asarray(beta) if beta and E is not None else x)

    def _head_map(self, z: np.ndarray, cols: np.ndarray, M: np.ndarray | None = None,
                  K: np.ndarray | None = None) -> np.ndarray:
        """v5+: the learned codes' calibrated scores from the head's logits ``z`` [n, len(cols)] (v6, v8:
        plus the weights of the extra features, ``M`` and ``K`` [n, codes])."""
        a, b, *beta = self.head_calibration_
        x = a * (z + self.prior_logit_[cols]) + b
        E = self._extras(M, K, head=True)
        return _sigmoid(x + E[:, cols] @ np.asarray(beta) if beta and E is not None else x)

    def name_weight(self, code: int) -> float:
        """The weight, in log-odds, that saying the code's name has in its score (about 0 where the
        project's coding shows that names tell nothing): for a learned code the head's, for a zero-shot
        code the prior's carried through its calibration map."""
        if getattr(self, "name_matcher_", None) is None:
            return 0.0
        if self.learned_[code]:
            cal = self.head_calibration_
            return float(cal[2]) if len(cal) > 2 else 0.0
        a, _, *beta = self.calibration_
        return a * self.zero_shot_.name_weight(code) + (float(beta[0]) if beta else 0.0)

    def _name_matches(self, texts: Sequence[str] | None, n: int) -> np.ndarray | None:
        """v6: the segments' name matches (None for a learner without them)."""
        matcher: NameMatcher | None = getattr(self, "name_matcher_", None)
        if matcher is None:
            return None
        if texts is None or len(texts) != n:
            raise ValueError(f"this learner matches code names: pass seg_texts, one text per segment ({n})")
        return matcher(texts)

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
            texts = [u.texts[int(i)] for i in rows] if u.texts is not None else None
            M = self._name_matches(texts, len(rows)) if texts is not None else None
            K = self._neighbours(vecs, texts)
            others = np.delete(self._calibrated(self.zero_shot_.score(vecs, seg_texts=texts)[0], M, K), cols, axis=1)
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
            assert layers is not None  # taken above whenever the head has a layer view
            Xu = np.hstack([Xu, self.layer_weight * layers[sure].astype(np.float32)])
        S2 = np.vstack([S_all, Su])
        W2 = np.vstack([W_all, np.full(Su.shape, float(self.pseudo_weight))])
        F2 = None
        if F is not None:
            assert forms is not None  # F holds form features only while the head uses them (form_dim_ > 0)
            F2 = vstack([F, forms[sure] * self.form_weight])
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
        K = self._neighbours(seg_vecs, seg_texts)
        scores = self._calibrated(scores, M, K)
        if self.calibrate:
            scores[:, cols] = self._head_map(z, cols, M, K)
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


def _fewshot_v7(**params) -> FewShotProposer:
    """v6 + words close to the name's words count as saying it (word vectors: :class:`pipeline.lexical.NameMatcher`)."""
    return _fewshot_v6(**{**params, "similar_names": True})


def _fewshot_v8(**params) -> FewShotProposer:
    """v7 + the similarity-weighted share of the segment's :data:`NEIGHBOURS` nearest coded example texts
    that carry the code (one weight for every code in each calibration map, fitted out of fold:
    :mod:`pipeline.learn.neighbours`), and a closed-world negative weighs the mean number of codes of the
    coded example texts (the same as v7 where each text has one code; more where passages carry several)."""
    return _fewshot_v7(**{"knn": NEIGHBOURS, "implicit_weight": None, **params})


def _fewshot_v4(**params) -> FewShotProposer:
    """v3 + self-training (before calibrated scores: a learned code's score is class-balanced)."""
    return FewShotProposer(**{**params, "calibrate": False})


LEARNED_PROPOSERS: dict[str, Callable[..., FewShotProposer]] = {
    "precode.fewshot.v8": _fewshot_v8, "precode.fewshot.v7": _fewshot_v7, "precode.fewshot.v6": _fewshot_v6,
    "precode.fewshot.v5": FewShotProposer,
    "precode.fewshot.v4": _fewshot_v4, "precode.fewshot.v3": _fewshot_v3,
    "precode.fewshot.v2": _fewshot_v2, "precode.fewshot.v1": _fewshot_v1}


def make_learner(p) -> FewShotProposer:
    """The learner a ``propose`` config section (:class:`pipeline.config.ProposeConfig`) asks for."""
    calibration = {k: v for k, v in (("center", p.sim_center), ("scale", p.sim_scale)) if v is not None}
    extra = {"select_form": p.select_form} if p.learner in ("precode.fewshot.v5", "precode.fewshot.v6",
                                                            "precode.fewshot.v7", "precode.fewshot.v8") else {}
    return LEARNED_PROPOSERS[p.learner](
        min_examples=p.min_examples, zero_shot=p.proposer, question_weight=p.question_weight,
        use_question=p.use_question, context_weight=p.context_weight, form_weight=p.form_weight,
        layer_weight=p.layer_weight, self_train=p.self_train, **calibration, **extra)
