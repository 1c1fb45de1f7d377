from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from pipeline.codebook import load_codebook
from pipeline.embed import embed_texts
from pipeline.errors import InputError
from pipeline.learn import (LEARNED_PROPOSERS, CodedExample, FewShotProposer, SegmentViews, TrainingExample,
                            document_order, examples_from_decisions, load_training, resolve_examples, review_order,
                            uncertainty_order)
from pipeline.propose import PROPOSERS, category_questions, label_texts, select
from pipeline.records import Segment

from .conftest import MISLEADING  # descriptions that point the wrong way: "Cost" is described with training words

COST = ["the budget ran out of money", "funding was cut and money is short", "it is too expensive for the clinic",
        "salary money and the budget", "nobody would pay the funding", "the money for the position was gone",
        "we lacked funding and budget"]
TRAINING = ["staff never got training courses", "the education workshops were missing", "we need courses for staff",
            "training sessions for new staff", "more workshops and education", "courses taught us the role",
            "staff education was thin"]
TEST_COST = ["the budget and funding were the problem", "money was always short, too expensive"]
TEST_TRAINING = ["staff needed training and workshops", "education courses would help staff"]


def _fit(cb, bow, examples=(), **params):
    """fewshot.v4's head (class-balanced scores over similarity.v2) unless the test asks for more."""
    params = {"calibrate": False, "zero_shot": "precode.similarity.v2", **params}
    labels = label_texts(cb)
    qs = category_questions(cb)
    lv = embed_texts([lt.text for lt in labels], bow)
    qv = embed_texts([q for _, q in qs], bow) if qs else None
    ev = embed_texts([e.text for e in examples], bow) if examples else None
    return FewShotProposer(**params).fit(cb, labels, lv, qs, qv, examples=list(examples), example_vecs=ev)


def _examples(cb, pairs):
    return resolve_examples([TrainingExample(t, c) for t, c in pairs], cb)[0]


@pytest.fixture
def misleading(write):
    return load_codebook(write("misleading.yaml", MISLEADING))


def _pred(prop, bow, texts):
    return prop.score(embed_texts(texts, bow))[0].argmax(axis=1)


def test_registered_under_a_versioned_name():
    assert LEARNED_PROPOSERS["precode.fewshot.v5"] is FewShotProposer
    assert LEARNED_PROPOSERS["precode.fewshot.v4"]().calibrate is False
    p = FewShotProposer(min_examples=3, C=2.0)
    assert (p.min_examples, p.C) == (3, 2.0) and not any(k.endswith("_") for k in vars(p))  # __init__ only stores


def test_head_beats_zero_shot_when_descriptions_mislead(misleading, bow):
    test = TEST_COST + TEST_TRAINING
    truth = [0, 0, 1, 1]
    zero = _fit(misleading, bow)
    assert (_pred(zero, bow, test) != truth).all()  # the descriptions send every segment to the other code
    ex = _examples(misleading, [(t, "Cost") for t in COST] + [(t, "Training") for t in TRAINING])
    learned = _fit(misleading, bow, ex)
    assert list(_pred(learned, bow, test)) == truth
    assert learned.learned_codes_ == ["Barriers/Cost", "Barriers/Training"]
    assert learned.n_examples_["Barriers/Cost"] == (7, 7)


def test_without_examples_the_scores_are_the_zero_shot_ones(misleading, bow):
    p = _fit(misleading, bow)
    labels = label_texts(misleading)
    lv = embed_texts([lt.text for lt in labels], bow)
    zs = PROPOSERS["precode.similarity.v2"]().fit(misleading, labels, lv)
    x = embed_texts(TEST_COST + TEST_TRAINING, bow)
    assert np.array_equal(p.score(x)[0], zs.score(x)[0])
    assert p.zero_shot_codes_ == [c.path for c in misleading.codes] and p.learned_codes_ == []


def test_codes_under_min_examples_stay_zero_shot_and_are_reported(misleading, bow):
    pairs = [(t, "Cost") for t in COST] + [(t, "Training") for t in TRAINING] + [("a small office room", "Space"),
                                                                                 ("no desk in the building", "Space")]
    p = _fit(misleading, bow, _examples(misleading, pairs), min_examples=5)
    assert p.zero_shot_codes_ == ["Other/Space"] and p.learned_codes_ == ["Barriers/Cost", "Barriers/Training"]
    # Space keeps its zero-shot ranking (a monotone map of the similarity score)
    texts = ["an office room", "building space and a desk", "the budget", "room", "workshops"]
    x = embed_texts(texts, bow)
    zs_col = p.zero_shot_.score(x)[0][:, 2]
    col = p.score(x)[0][:, 2]
    lower = zs_col[:, None] < zs_col[None, :]
    assert lower.any() and (col[:, None] < col[None, :])[lower].all()
    # with a lower threshold the code is learned
    q = _fit(misleading, bow, _examples(misleading, pairs), min_examples=2)
    assert q.zero_shot_codes_ == []


def test_negatives_lower_a_codes_score(misleading, bow):
    pos = [(t, "Cost") for t in COST] + [(t, "Training") for t in TRAINING]
    ex = _examples(misleading, pos)
    target = "the budget for training workshops"
    before = _fit(misleading, bow, ex).score(embed_texts([target], bow))[0][0, 0]
    rejected = ex + [CodedExample(0, "the budget for training workshops", positive=False),
                     CodedExample(0, "budget for the training courses", positive=False)]
    after = _fit(misleading, bow, rejected).score(embed_texts([target], bow))[0][0, 0]
    assert after < before - 0.05
    heavier = _fit(misleading, bow, rejected, negative_weight=5.0).score(embed_texts([target], bow))[0][0, 0]
    assert heavier < after


def test_same_data_same_scores(misleading, bow):
    ex = _examples(misleading, [(t, "Cost") for t in COST] + [(t, "Training") for t in TRAINING])
    x = embed_texts(TEST_COST + TEST_TRAINING + ["zebra"], bow)
    a = _fit(misleading, bow, ex).score(x)
    b = _fit(misleading, bow, list(ex)).score(x)
    for u, v in zip(a, b):
        assert np.array_equal(u, v)


def test_scores_in_range_and_select_quotes_the_nearest_training_example(misleading, bow):
    ex = _examples(misleading, [(t, "Cost") for t in COST] + [(t, "Training") for t in TRAINING])
    p = _fit(misleading, bow, ex)
    segs = [Segment(f"s{i}", "d", "turn", i, 0, len(t), t, "P", None, True) for i, t in enumerate(TEST_COST)]
    scores, evidence, cat, _ = p.score(embed_texts([s.text for s in segs], bow))
    assert scores.shape == (2, 3) and ((scores >= 0) & (scores <= 1)).all()
    sugg = select(segs, scores, evidence, p, cat, top_k=1, threshold=0.0)
    assert [s.code.name for s in sugg] == ["Cost", "Cost"]
    assert sugg[0].evidence.startswith('coded example (training data): "') and any(t in sugg[0].evidence for t in COST)


def test_question_bonus_applies_to_learned_codes(write, bow):
    cb = load_codebook(write("q.yaml", """
name: q
categories:
  - {name: Barriers, questions: ["what barriers stop peer support"], codes: [{name: Money, description: funding}]}
  - {name: Facilitators, questions: ["what helps peer support succeed"], codes: [{name: Money, description: funding}]}
"""))
    ex = [CodedExample(c, t) for c in (0, 1) for t in COST]
    p = _fit(cb, bow, ex, min_examples=3, question_weight=0.1, question_min=0.3)
    x = embed_texts(["funding money budget"] * 2, bow)
    qv = embed_texts(["what barriers stop peer support?", "what helps it succeed?"], bow)
    s, _, cat, _ = p.score(x, qv, np.array([True, True]))
    assert list(cat) == [0, 1] and s[0, 0] > s[0, 1] and s[1, 1] > s[1, 0]


def test_fit_checks_example_vectors(misleading, bow):
    with pytest.raises(ValueError, match="one vector per example"):
        FewShotProposer().fit(misleading, label_texts(misleading), np.zeros((3, 8)), examples=[CodedExample(0, "x")])


# -- training files -------------------------------------------------------------------------------------------

def test_load_training_csv_with_category_and_verdict(write):
    p = write("coded.csv", "Text,Code,Category,Verdict\n"
                           "\"the budget ran out, again\",Cost,Barriers,\n"
                           "the budget ran out,Cost,Barriers,accept\n"
                           "the budget ran out,Cost,Barriers,accept\n"
                           "workshops,Cost,Barriers,rejected\n"
                           ",Cost,Barriers,\n"
                           "uncoded line,,,\n")
    ex = load_training(p)
    assert ex == [TrainingExample("the budget ran out, again", "Cost", "Barriers", True),
                  TrainingExample("the budget ran out", "Cost", "Barriers", True),
                  TrainingExample("workshops", "Cost", "Barriers", False)]


def test_load_training_xlsx(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["text", "code"])
    ws.append(["staff   need\ncourses", "Training"])
    ws.append(["money", "Barriers/Cost"])
    wb.save(tmp_path / "coded.xlsx")
    assert load_training(tmp_path / "coded.xlsx") == [TrainingExample("staff need courses", "Training"),
                                                        TrainingExample("money", "Barriers/Cost")]


@pytest.mark.parametrize("name,content,problem", [
    ("a.csv", "text,label\nx,y\n", "no 'code' column (columns are: text, label)"),
    ("b.csv", "segment_text,code\nx,y\n", "no 'text' column"),
    ("c.txt", "text,code\nx,y\n", "unsupported training file type '.txt'"),
    ("d.csv", "", "file is empty"),
    ("e.csv", "text,code,verdict\nx,y,maybe\n", "row 2: unknown verdict 'maybe'"),
    ("f.csv", "text,code\nx,\n,y\n", "no row has both a text and a code"),
    ("g.xlsx", "not a zip", "not a readable .xlsx file"),
])
def test_load_training_errors_are_one_line(write, name, content, problem):
    p = write(name, content)
    with pytest.raises(InputError) as e:
        load_training(p)
    assert problem in str(e.value) and "\n" not in str(e.value) and str(p) in str(e.value)


def test_load_training_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_training(tmp_path / "nope.csv")


def test_resolve_examples_by_name_path_and_category(misleading):
    ex = [TrainingExample("a", "cost"), TrainingExample("b", "Barriers/Training"),
          TrainingExample("c", "Space", "other"), TrainingExample("d", " training ", None, False)]
    out, warnings = resolve_examples(ex, misleading)
    assert out == [CodedExample(0, "a"), CodedExample(1, "b"), CodedExample(2, "c"), CodedExample(1, "d", False)]
    assert warnings == []


def test_resolve_examples_unknown_codes_error_or_warn(misleading, write):
    ex = [TrainingExample("a", "Costs"), TrainingExample("b", "Costs"), TrainingExample("c", "Space", "Barriers"),
          TrainingExample("d", "Cost")]
    with pytest.raises(InputError) as e:
        resolve_examples(ex, misleading, source="coded.csv")
    msg = str(e.value)
    assert msg.startswith("coded.csv: codes not in codebook 'misleading'") and "\n" not in msg
    assert "'Costs' is unknown (did you mean 'Cost'?) (2 rows)" in msg and "'Barriers/Space' is unknown" in msg
    out, warnings = resolve_examples(ex, misleading, unknown="warn", source="coded.csv")
    assert out == [CodedExample(0, "d")] and len(warnings) == 1 and "skipped 3 row(s)" in warnings[0]


def test_resolve_examples_ambiguous_name(write):
    cb = load_codebook(write("amb.yaml", """
name: amb
categories:
  - {name: Barriers, codes: [{name: Support}]}
  - {name: Facilitators, codes: [{name: Support}]}
"""))
    with pytest.raises(InputError, match="'Support' is ambiguous .*'Barriers/Support' or 'Facilitators/Support'"):
        resolve_examples([TrainingExample("x", "Support")], cb)
    out, _ = resolve_examples([TrainingExample("x", "Support", "Facilitators")], cb)
    assert out == [CodedExample(1, "x")]


def test_examples_from_decisions(misleading):
    g = [c.guid(misleading.name) for c in misleading.codes]
    states = [SimpleNamespace(segment_id="s1", code_guid=g[0], status="accepted"),
              SimpleNamespace(segment_id="s1", code_guid=g[1], status="rejected"),
              SimpleNamespace(segment_id="s2", code_guid=g[2], status="added"),
              SimpleNamespace(segment_id="s3", code_guid="other-codebook", status="accepted"),
              SimpleNamespace(segment_id="gone", code_guid=g[0], status="accepted")]
    out = examples_from_decisions(states, {"s1": "the  budget", "s2": "a room", "s3": "x"}, misleading)
    assert out == [CodedExample(0, "the budget"), CodedExample(1, "the budget", False), CodedExample(2, "a room")]


# -- review order -----------------------------------------------------------------------------------------------

def test_uncertainty_order_smallest_margin_first():
    s = np.array([[0.9, 0.1, 0.0], [0.5, 0.45, 0.1], [0.3, 0.3, 0.2], [0.6, 0.2, 0.55], [0.3, 0.3, 0.1]])
    assert list(uncertainty_order(s)) == [2, 4, 1, 3, 0]  # ties keep document order
    assert list(review_order(s, "uncertainty", temperature=0)) == [2, 4, 1, 3, 0]
    assert list(review_order(s, "document")) == list(document_order(s)) == [0, 1, 2, 3, 4]
    assert list(uncertainty_order(np.array([[0.9], [0.45], [0.2]]))) == [1, 2, 0]
    assert uncertainty_order(np.zeros((0, 3))).shape == (0,)
    with pytest.raises(ValueError, match="unknown review order 'random'"):
        review_order(s, "random")


def test_sampled_uncertainty_order_is_seeded_and_prefers_small_margins():
    rng = np.random.default_rng(1)
    s = rng.random((200, 4))
    a = uncertainty_order(s, temperature=0.05, seed=3)
    assert np.array_equal(a, uncertainty_order(s, temperature=0.05, seed=3)) and sorted(a) == list(range(200))
    assert not np.array_equal(a, uncertainty_order(s, temperature=0.05, seed=4))
    top2 = -np.sort(-s, axis=1)[:, :2]
    margin = top2[:, 0] - top2[:, 1]
    firsts = [uncertainty_order(s, 0.05, seed)[0] for seed in range(50)]
    assert np.mean(margin[firsts]) < np.percentile(margin, 20)
    assert np.array_equal(uncertainty_order(s, temperature=1e-9, seed=0), uncertainty_order(s))


def test_the_layer_view_tells_apart_what_the_sentence_embedding_cannot():
    """fewshot.v3 reads the layer view beside the embedding: with every sentence vector the same, the
    layer views alone must separate the codes; v2 (no layer view) cannot, and scoring without the
    views a head was fitted with is an error, not a silent fallback."""
    from pipeline.propose import label_texts
    from pipeline.records import Code, Codebook

    rng = np.random.default_rng(0)
    cb = Codebook("acts", (Code("Asking", description="a question"), Code("Telling", description="a statement")))
    labels = label_texts(cb)
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
    lv, lab_layers = unit(rng.normal(size=(len(labels), 16))), unit(rng.normal(size=(len(labels), 16)))
    same = unit(rng.normal(size=16))
    axis = np.eye(16)[:2] * 3

    def views(codes):
        return unit(axis[codes] + rng.normal(scale=0.5, size=(len(codes), 16)))

    train = np.array([0, 1] * 6)
    test = np.array([0, 1, 1, 0, 0, 1, 0, 1])
    examples = [CodedExample(int(c), f"example {i}") for i, c in enumerate(train)]
    ex_vecs, seg_vecs = np.tile(same, (len(train), 1)), np.tile(same, (len(test), 1))
    ex_layers, seg_layers = views(train), views(test)
    v3 = FewShotProposer(min_examples=3, form_weight=0, self_train=0, calibrate=False).fit(cb, labels, lv, examples=examples, example_vecs=ex_vecs,
                                                             label_layers=lab_layers, example_layers=ex_layers)
    assert v3.name == "precode.fewshot.v3" and v3.layer_dim_ == 16
    assert list(v3.score(seg_vecs, seg_layers=seg_layers)[0].argmax(axis=1)) == list(test)
    with pytest.raises(ValueError, match="layer view"):
        v3.score(seg_vecs)
    v2 = FewShotProposer(min_examples=3, form_weight=0, layer_weight=0, self_train=0, calibrate=False).fit(
        cb, labels, lv, examples=examples, example_vecs=ex_vecs, label_layers=lab_layers, example_layers=ex_layers)
    assert v2.layer_dim_ == 0
    s2 = v2.score(seg_vecs, seg_layers=seg_layers)[0]
    assert np.allclose(s2, s2[0])  # the embedding alone: every segment scores the same


def test_the_head_fits_sparse_features_beside_dense_ones_as_one_matrix():
    """Form features stay sparse beside the dense views (for speed); the fit must be the same
    problem as with one dense matrix."""
    from scipy.sparse import random as sparse_random

    from pipeline.learn import _fit_ovr_logistic

    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 12))
    F = sparse_random(60, 40, density=0.1, random_state=2, format="csr")
    S = np.where(rng.random((60, 3)) < 0.3, 1.0, -1.0)
    S[rng.random((60, 3)) < 0.1] = 0.0  # no information
    W = rng.uniform(0.5, 2.0, size=(60, 3))
    coef, b = _fit_ovr_logistic(X, S, W, 1.0, F=F)
    coef_dense, b_dense = _fit_ovr_logistic(np.hstack([X, F.toarray()]), S, W, 1.0)
    assert coef.shape == (52, 3)
    assert np.allclose(coef, coef_dense, atol=1e-4) and np.allclose(b, b_dense, atol=1e-4)
    assert np.abs(coef[12:]).sum() > 0  # the sparse block was learned, not ignored


def _self_training_case(**params):
    """Three codes on a 16-d toy space: 6 examples each of Asking and Telling, 2 of Thanking (stays
    zero-shot); 90 undecided segments (around Asking, around Telling, and in between), 3 of which
    repeat an example's text."""
    from pipeline.propose import label_texts
    from pipeline.records import Code, Codebook

    rng = np.random.default_rng(1)
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
    cb = Codebook("acts", (Code("Asking", description="a question"), Code("Telling", description="a statement"),
                           Code("Thanking", description="gratitude")))
    labels = label_texts(cb)
    lv = unit(rng.normal(size=(len(labels), 16)))

    def around(axes, n):
        base = np.zeros((n, 16))
        for a in axes:
            base[:, a] = 1.0
        return unit(base + rng.normal(scale=0.35, size=(n, 16)))

    codes = [0] * 6 + [1] * 6 + [2] * 2
    ex_vecs = np.vstack([around([0], 6), around([1], 6), around([3], 2)])
    examples = [CodedExample(c, f"example {i}") for i, c in enumerate(codes)]
    u_vecs = np.vstack([around([0], 30), around([1], 30), around([0, 1], 30), ex_vecs[:3]])
    u_texts = [f"undecided {i}" for i in range(90)] + [" example  0", "example 1", "example 2"]
    fit = dict(examples=examples, example_vecs=ex_vecs)
    views = SegmentViews(u_vecs, texts=u_texts)
    base = dict(min_examples=3, form_weight=0, layer_weight=0, calibrate=False, zero_shot="precode.similarity.v2")
    v3 = FewShotProposer(**base, self_train=0).fit(cb, labels, lv, **fit, unlabelled=views)
    v4 = FewShotProposer(**{**base, "self_train": 0.6, **params}).fit(cb, labels, lv, **fit, unlabelled=views)
    return cb, v3, v4, u_vecs


def test_self_training_uses_exactly_the_undecided_segments_it_is_sure_of():
    """fewshot.v4: after the fit on the examples, every undecided segment whose rank-1 code is a
    learned one scoring at least ``self_train`` becomes an example of that code in a second fit; a segment whose
    text is already an example is not used again; which codes are learned, and the evidence shown,
    come from the examples alone."""
    cb, v3, v4, u_vecs = _self_training_case()
    assert v3.pseudo_ == {} and v3.name == "precode.fewshot.v1"
    learned = np.where(v3.learned_)[0]
    assert [cb.codes[i].path for i in learned] == ["Asking", "Telling"]  # Thanking: 2 examples < 3
    full = v3.score(u_vecs[:90])[0]  # v4's first fit is v3's fit
    first = full[:, learned]
    sure = np.isin(full.argmax(axis=1), learned) & (first.max(axis=1) >= 0.6)  # rank 1 is learned, and sure
    assert 0 < sure.sum() < 90  # the case has segments on both sides of the threshold
    expected = {cb.codes[learned[c]].path: int(n) for c, n in enumerate(np.bincount(first[sure].argmax(axis=1)))
                if n}
    assert v4.pseudo_ == expected
    assert list(v4.pseudo_rows_) == list(np.where(sure)[0])  # never rows 90-92, whose texts are examples
    assert list(v4.pseudo_codes_) == list(learned[first[sure].argmax(axis=1)])
    assert v4.learned_codes_ == v3.learned_codes_ and v4.zero_shot_codes_ == ["Thanking"]
    assert [lt.text for lt in v4.labels_] == [lt.text for lt in v3.labels_]  # evidence: examples and label texts
    # the second fit moved the head: it is surer of the segments it learned from
    after = v4.score(u_vecs[:90])[0][:, learned]
    pick = (np.where(sure)[0], first[sure].argmax(axis=1))
    assert after[pick].mean() > first[pick].mean()


def test_self_training_weight_zero_changes_nothing_and_max_pseudo_caps_it():
    _, v3, v4, u_vecs = _self_training_case(pseudo_weight=0.0)
    assert sum(v4.pseudo_.values()) > 10
    assert np.allclose(v4.score(u_vecs)[0], v3.score(u_vecs)[0], atol=1e-4)
    _, _, capped, _ = _self_training_case(max_pseudo=10)
    assert sum(capped.pseudo_.values()) == 10
    _, _, again, _ = _self_training_case(max_pseudo=10)  # the sample is seeded: same fit twice
    assert again.pseudo_ == capped.pseudo_ and np.array_equal(again.coef_, capped.coef_)


def test_self_training_needs_the_views_the_head_reads():
    from pipeline.propose import label_texts
    from pipeline.records import Code, Codebook

    cb = Codebook("acts", (Code("A", description="a"), Code("B", description="b")))
    labels = label_texts(cb)
    rng = np.random.default_rng(0)
    lv, lab_layers = rng.normal(size=(len(labels), 8)), rng.normal(size=(len(labels), 8))
    examples = [CodedExample(i % 2, f"e{i}") for i in range(10)]
    ex = rng.normal(size=(10, 8))
    with pytest.raises(ValueError, match="layer views"):
        FewShotProposer(min_examples=3, form_weight=0).fit(
            cb, labels, lv, examples=examples, example_vecs=ex, label_layers=lab_layers, example_layers=ex,
            unlabelled=SegmentViews(rng.normal(size=(4, 8))))


def test_self_training_waits_for_two_learned_codes():
    """With a single learned code the head's guesses only say "more of the same": no self-training."""
    cb, v3, _, u_vecs = _self_training_case()
    from pipeline.propose import label_texts

    rng = np.random.default_rng(2)
    examples = [CodedExample(0, f"example {i}") for i in range(6)] + [CodedExample(1, "one telling")]
    ex_vecs = u_vecs[:7]
    lv = rng.normal(size=(len(label_texts(cb)), 16))
    one = FewShotProposer(min_examples=3, form_weight=0, layer_weight=0, calibrate=False).fit(
        cb, label_texts(cb), lv, examples=examples, example_vecs=ex_vecs, unlabelled=SegmentViews(u_vecs[7:]))
    assert one.learned_codes_ == ["Asking"] and one.pseudo_ == {}


def test_v8_weighs_closed_world_negatives_by_the_codes_per_coded_text(misleading, bow):
    single = _examples(misleading, [(t, "Cost") for t in COST] + [(t, "Training") for t in TRAINING])
    x = embed_texts(TEST_COST + TEST_TRAINING, bow)
    v8, v7 = _fit(misleading, bow, single, implicit_weight=None), _fit(misleading, bow, single)
    assert v8.implicit_weight_ == v7.implicit_weight_ == 1.0  # one code a text: v8 is v7
    assert np.array_equal(v8.score(x)[0], v7.score(x)[0])
    both = ["the training budget ran out of money", "funding for staff courses was cut"]
    multi = single + _examples(misleading, [(t, c) for t in both for c in ("Cost", "Training")])
    v8 = _fit(misleading, bow, multi, implicit_weight=None)
    assert v8.implicit_weight_ == pytest.approx(18 / 16)  # 14 texts with one code, 2 with two
    assert np.array_equal(v8.score(x)[0], _fit(misleading, bow, multi, implicit_weight=18 / 16).score(x)[0])
    assert not np.allclose(v8.score(x)[0], _fit(misleading, bow, multi).score(x)[0])
    # heavier closed-world negatives: Training scores lower on passages like Cost's examples (its negatives)
    light, heavy = (_fit(misleading, bow, single, implicit_weight=w).score(x)[0][:2, 1] for w in (1.0, 3.0))
    assert (heavy < light).all()
    assert LEARNED_PROPOSERS["precode.fewshot.v8"]().name == "precode.fewshot.v8"
    assert FewShotProposer(implicit_weight=2.0).name.endswith("+implicit-weight=2")
    with pytest.raises(ValueError, match="implicit_weight"):
        _fit(misleading, bow, single, implicit_weight=-1.0)
