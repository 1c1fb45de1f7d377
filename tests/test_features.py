"""The learner's inputs come from one builder (pipeline.features.learner_views)."""

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from pipeline.features import learner_views
from pipeline.learn import CodedExample, FewShotProposer, SegmentViews
from pipeline.propose import label_texts
from pipeline.records import Code, Codebook

BOOK = Codebook("f", (Code("Alpha", description="first"), Code("Beta", description="second")))


def _world(seed=0, n=60, dim=8):
    rng = np.random.default_rng(seed)
    labels = label_texts(BOOK)
    texts = [f"segment {i} alpha" if i % 2 else f"segment {i}" for i in range(n)]
    all_texts = [lt.text for lt in labels] + texts
    vec = {t: v / np.linalg.norm(v) for t, v in zip(all_texts, rng.normal(size=(len(all_texts), dim)).astype(np.float32))}
    lay = {t: v for t, v in zip(all_texts, rng.normal(size=(len(all_texts), dim)).astype(np.float32))}
    form = {t: rng.random(5) for t in texts}
    examples = [CodedExample(i % 2, t) for i, t in enumerate(texts[:40])]
    return labels, texts, vec, lay, form, examples


def test_views_match_the_hand_assembled_arrays_and_give_the_same_fit():
    labels, texts, vec, lay, form, examples = _world()
    asked = []

    def forms(groups):
        asked.append([len(g) for g in groups])
        return [csr_matrix(np.stack([form[t] for t in g])) for g in groups]

    learner = FewShotProposer(min_examples=3, name_match=True)
    views = learner_views(learner, [lt.text for lt in labels], [e.text for e in examples], texts,
                          lambda ts: vec, lambda ts: lay, forms)
    assert asked == [[len(texts), len(examples)]]
    assert views.examples.vecs.shape == (len(examples), 8) and views.labels.forms is None
    assert np.array_equal(views.segments.layers[3], lay[texts[3]])
    learner.fit_views(BOOK, labels, views, examples)

    by_hand = FewShotProposer(min_examples=3, name_match=True).fit(
        BOOK, labels, np.stack([vec[lt.text] for lt in labels]), examples=examples,
        example_vecs=np.stack([vec[e.text] for e in examples]),
        example_forms=csr_matrix(np.stack([form[e.text] for e in examples])),
        label_layers=np.stack([lay[lt.text] for lt in labels]),
        example_layers=np.stack([lay[e.text] for e in examples]),
        unlabelled=SegmentViews(np.stack([vec[t] for t in texts]), csr_matrix(np.stack([form[t] for t in texts])),
                                np.stack([lay[t] for t in texts]), texts))
    seg = views.segments
    a = learner.score(seg.vecs, seg_forms=seg.forms, seg_layers=seg.layers, seg_texts=seg.texts)[0]
    b = by_hand.score(seg.vecs, seg_forms=seg.forms, seg_layers=seg.layers, seg_texts=seg.texts)[0]
    assert np.allclose(a, b) and learner.learned_.all()


def test_views_the_learner_does_not_read_are_not_asked_for():
    labels, texts, vec, lay, form, examples = _world()

    def never(*_):
        raise AssertionError("asked for a view the learner does not read")

    v1 = FewShotProposer(form_weight=0, layer_weight=0, self_train=0)
    views = learner_views(v1, [lt.text for lt in labels], [e.text for e in examples], texts, lambda ts: vec, never, never)
    assert views.segments.layers is None and views.segments.forms is None
    v1.fit_views(BOOK, labels, views, examples)
    with pytest.raises(ValueError, match="one row per"):
        v1.fit_views(BOOK, labels, views, examples[:-1])


def test_parameters_are_checked_in_fit_not_in_init():
    bad = FewShotProposer(self_train=1.5)  # stored as given (scikit-learn's contract)
    assert bad.self_train == 1.5
    labels, texts, vec, lay, form, examples = _world()
    views = learner_views(bad, [lt.text for lt in labels], [e.text for e in examples], texts, lambda ts: vec)
    with pytest.raises(ValueError, match="self_train"):
        bad.fit_views(BOOK, labels, views, examples)
