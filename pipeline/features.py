"""The learner's inputs, built in one place: texts -> the views a learned head reads.

A learned head (:class:`pipeline.learn.FewShotProposer`) reads up to three views of a text: its
sentence vector, a middle hidden layer of the encoder (``layer_weight > 0``) and form features
(``form_weight > 0``, spaCy tags and words; label texts carry none). The batch run, the live learner
of the review and the benchmarks each know how to get vectors, layer views and form vectors for
texts (from a cache, a dict, precomputed arrays); :func:`learner_views` asks them only for what the
learner reads and lines the rows up with the label texts, the examples and the segments, so the
three callers cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from .learn import SegmentViews

# texts -> {text: vector}; the batch run looks them up in its cache, the review in its memo
Lookup = Callable[[list[str]], Mapping[str, np.ndarray]]
# [texts of the segments, texts of the examples] -> [their form matrices] (rows in the order given)
FormBuilder = Callable[[list[list[str]]], Sequence[object]]


@dataclass(frozen=True)
class LearnerViews:
    """The label texts, the examples (one row per :class:`pipeline.learn.CodedExample`) and the segments
    to score and self-train on, as the learner sees them."""

    labels: SegmentViews
    examples: SegmentViews
    segments: SegmentViews
    # word vectors by word, for a learner that compares words with the code names' words (fewshot.v7)
    words: Lookup | None = None


def _unique(*groups: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t for g in groups for t in g))


def _rows(m: Mapping[str, np.ndarray], texts: Sequence[str], dim: int) -> np.ndarray:
    return np.stack([m[t] for t in texts]) if len(texts) else np.zeros((0, dim), dtype=np.float32)


def learner_views(learner, labels: Sequence[str], examples: Sequence[str], segments: Sequence[str],
                  vectors: Lookup, layers: Lookup | None = None, forms: FormBuilder | None = None,
                  words: Lookup | None = None) -> LearnerViews:
    """The views ``learner`` reads of the label texts, the example texts and the segment texts.

    ``vectors`` gives sentence vectors; ``layers`` the layer view (None: not available, e.g. the run
    did not compute it: the learner then goes without); ``forms`` the form matrices of the segments
    and the examples (None: none); ``words`` the vectors of single words (None: ``vectors``, which must
    then embed texts it has not seen). A view the learner does not read (its weight is 0) is not asked for.
    """
    labels, examples, segments = list(labels), list(examples), list(segments)
    vec = vectors(_unique(labels, examples, segments))
    dim = len(next(iter(vec.values()))) if vec else 0
    lay = None
    if getattr(learner, "layer_weight", 0) > 0 and layers is not None:
        lay = layers(_unique(labels, examples, segments))
    seg_forms = ex_forms = None
    if getattr(learner, "form_weight", 0) > 0 and forms is not None and examples:
        seg_forms, ex_forms = forms([segments, examples])

    def views(texts: list[str], f) -> SegmentViews:
        return SegmentViews(_rows(vec, texts, dim), f, _rows(lay, texts, dim) if lay is not None else None, texts)

    word_vectors = (words or vectors) if getattr(learner, "similar_names", False) else None
    return LearnerViews(views(labels, None), views(examples, ex_forms), views(segments, seg_forms), word_vectors)
