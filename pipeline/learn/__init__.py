"""Learning from coded material and from review decisions: a few-shot head on the sentence vectors.

Training examples come from a table of already coded segments (``precode code ... --train CODED``:
``.csv``/``.xlsx`` with ``text`` and ``code`` columns, one row per code, optional ``category`` and
``verdict``) or from a project's decisions (accepted / added -> positive, rejected -> negative).

:class:`FewShotProposer` (``precode.fewshot.v8``: v7, the codes of the nearest coded examples
(:mod:`pipeline.learn.neighbours`) and closed-world negatives weighed by the codes per example; v7: v6,
and words close to the name's words count; v6: v5 and the code name's words, :mod:`pipeline.lexical`;
v5: v4 with calibrated scores, see :meth:`FewShotProposer._fit_calibration`; v7-v1 stay registered, for
the runs that used them) keeps the zero-shot proposer's contract and ``score`` signature, so
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

The package: :mod:`.examples` (training tables, decisions -> examples), :mod:`.head` (the estimator and
its registry), :mod:`.fit` (the optimisation and the calibration map), :mod:`.order` (review order);
:mod:`pipeline.features` builds the learner's inputs.
"""

from __future__ import annotations

from .examples import (NEGATIVE, POSITIVE, TEXT_COLUMNS, VERDICT_COLUMNS, CodedExample, TrainingExample,
                       examples_from_decisions, load_training, load_training_files, resolve_examples,
                       run_training_files)
from .fit import _fit_ovr_logistic, _fit_platt
from .head import (CALIBRATION_FOLDS, DEFAULT_SLOPE, FORM_MARGIN, FORM_WEIGHT, LAYER_WEIGHT, LEARNED_PROPOSERS,
                   MAX_PSEUDO, MIN_CALIBRATION, MIN_LEARNED, SELF_TRAIN, SELF_TRAIN_ITER, FewShotProposer,
                   SegmentViews, make_learner)
from .order import ORDERS, UNCERTAINTY_TEMPERATURE, document_order, review_order, uncertainty_order

__all__ = ["NEGATIVE", "POSITIVE", "TEXT_COLUMNS", "VERDICT_COLUMNS", "CodedExample", "TrainingExample",
           "examples_from_decisions", "load_training", "load_training_files", "resolve_examples", "run_training_files",
           "_fit_ovr_logistic", "_fit_platt", "CALIBRATION_FOLDS", "DEFAULT_SLOPE", "FORM_MARGIN", "FORM_WEIGHT",
           "LAYER_WEIGHT", "LEARNED_PROPOSERS", "MAX_PSEUDO", "MIN_CALIBRATION", "MIN_LEARNED", "SELF_TRAIN",
           "SELF_TRAIN_ITER", "FewShotProposer", "SegmentViews", "make_learner", "ORDERS", "UNCERTAINTY_TEMPERATURE",
           "document_order", "review_order", "uncertainty_order"]
