"""fewshot.v8: the share of a segment's nearest coded example texts that carry each code
(pipeline.learn.neighbours), weighed in the calibration maps."""

import numpy as np
import pytest

from pipeline.evaluate import expected_calibration_error
from pipeline.learn import CodedExample, FewShotProposer
from pipeline.learn.head import LEARNED_PROPOSERS
from pipeline.learn.neighbours import neighbour_share
from pipeline.propose import label_texts
from pipeline.records import Code, Codebook

CODES = Codebook("syn", (Code("Alpha", description="a"), Code("Beta", description="b"), Code("Gamma", description="c")))


def test_neighbour_share_counts_the_k_nearest_weighted_or_not():
    ref = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
    codes = np.array([[1, 0], [1, 1], [0, 1], [1, 0]], dtype=float)
    q = np.array([[2.0, 0.0]])  # cosines 1, 0.8, 0, -1
    plain = neighbour_share(q, ref, codes, k=2, weighted=False)
    assert plain == pytest.approx(np.array([[1.0, 0.5]]))
    weighted = neighbour_share(q, ref, codes, k=3, weighted=True)  # the third neighbour has cosine 0: no weight
    assert weighted == pytest.approx(np.array([[1.0, 0.8 / 1.8]]))
    assert neighbour_share(q, ref, codes, k=3, weighted=False) == pytest.approx(np.array([[2 / 3, 2 / 3]]))
    # the nearest one not allowed (the query itself, or a text of its own fold): the next ones count
    allowed = np.array([[False, True, True, True]])
    assert neighbour_share(q, ref, codes, k=2, weighted=False, allowed=allowed) == pytest.approx(np.array([[0.5, 1.0]]))
    assert neighbour_share(q, ref, codes, k=10, weighted=False) == pytest.approx(np.array([[0.75, 0.5]]))  # k > refs
    assert neighbour_share(q, ref[:0], codes[:0], k=3).shape == (1, 2)


def _data(n, seed, dim=16):
    """Three codes, each in two clusters at opposite ends (+centre, -centre): a linear head cannot tell them
    apart by a direction, nearest neighbours can."""
    rng = np.random.default_rng(seed)
    mu = np.random.default_rng(0).normal(size=(3, dim))
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    y = rng.choice(3, size=n, p=(0.5, 0.3, 0.2))
    side = rng.choice([-1.0, 1.0], size=n)
    x = side[:, None] * mu[y] + rng.normal(scale=0.12, size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return mu.astype(np.float32), x.astype(np.float32), y, [f"item {seed} {i}" for i in range(n)]


def _fit(mu, x, y, texts, **params):
    examples = [CodedExample(int(c), t, group=f"doc {i // 10}") for i, (c, t) in enumerate(zip(y, texts))]
    params = {"min_examples": 3, "form_weight": 0, "layer_weight": 0, "self_train": 0, **params}
    return FewShotProposer(**params).fit(CODES, label_texts(CODES), mu, examples=examples, example_vecs=x)


def test_v8_weighs_the_neighbours_where_they_tell_what_the_head_cannot():
    mu, x, y, texts = _data(300, 1)
    _, xt, yt, tt = _data(3000, 2)
    v8 = _fit(mu, x, y, texts, knn=5)
    v5 = _fit(mu, x, y, texts)
    assert v8.name.endswith("+neighbours") and len(v5.head_calibration_) == 2
    assert len(v8.head_calibration_) == 3 and len(v8.calibration_) == 3  # both maps weigh the share
    assert v8.head_calibration_[2] > 1.0, v8.head_calibration_
    p8, p5 = v8.score(xt, seg_texts=tt)[0], v5.score(xt)[0]
    acc8, acc5 = (p8.argmax(1) == yt).mean(), (p5.argmax(1) == yt).mean()
    assert acc8 > acc5 + 0.1, (acc8, acc5)
    assert expected_calibration_error(p8.ravel(), np.eye(3, dtype=bool)[yt].ravel()) < 0.05
    learned_only = _fit(mu, x, y, texts, knn=5, knn_maps="learned")
    assert len(learned_only.head_calibration_) == 3 and len(learned_only.calibration_) == 2


def test_v8_an_example_text_is_not_its_own_neighbour():
    mu, x, y, texts = _data(60, 3)
    x[1] = 0.9 * x[0] + 0.1 * x[1]  # the second example lies next to the first, with another code
    x[1] /= np.linalg.norm(x[1])
    y[:2] = (0, 1)
    v8 = _fit(mu, x, y, texts, knn=1)
    assert v8._neighbours(x[:2], texts[:2]) == pytest.approx(np.eye(3)[[1, 0]])  # each other's codes
    assert v8._neighbours(x[:2], ["a new text", "  " + texts[1]]) == pytest.approx(np.eye(3)[[0, 0]])
    # the example texts' own shares in the fit come from the other calibration folds only
    fold = v8._folds([f"doc {i // 10}" for i in range(60)])
    own = v8._fit_neighbours(x, np.where(np.eye(3)[y] > 0, 1.0, -1.0), np.ones(60, bool), texts,
                             [f"doc {i // 10}" for i in range(60)])
    assert fold is not None and own is not None
    expected = neighbour_share(x, x, np.eye(3)[y], 1, True, fold[:, None] != fold[None, :])
    assert own == pytest.approx(expected)
    assert not np.allclose(own, np.eye(3)[y])  # not its own (or its document's) codes


def test_v8_is_registered_over_v7():
    v8 = LEARNED_PROPOSERS["precode.fewshot.v8"]()
    assert (v8.knn, v8.knn_weighted, v8.knn_maps, v8.similar_names) == (5, True, "both", True)
    assert v8.name == "precode.fewshot.v8" and LEARNED_PROPOSERS["precode.fewshot.v7"]().knn == 0
    with pytest.raises(ValueError, match="knn"):
        _fit(*_data(30, 4), knn=5, knn_maps="zero-shot")
