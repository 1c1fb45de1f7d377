"""Proposals a researcher can trust: calibrated scores, sets that abstain, category back-off, several codes a passage."""

import numpy as np
import pytest

from pipeline.codebook import codebook_warnings, load_codebook
from pipeline.evaluate import expected_calibration_error
from pipeline.export.table import suggestion_rows
from pipeline.learn import CodedExample, FewShotProposer, load_training, resolve_examples
from pipeline.propose import PROPOSERS, label_texts, precision_cutoff, select
from pipeline.records import Category, Code, Codebook, Segment

CODES = Codebook("syn", (Code("Alpha", description="alpha things"), Code("Beta", description="beta things"),
                         Code("Gamma", description="gamma things")))


def _world(seed=0, dim=16):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(3, dim))
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    return mu


def _draw(mu, n, seed, prevalence=(0.6, 0.3, 0.1), noise=0.5):
    """``n`` items: a code drawn with ``prevalence``, a vector around its mean (overlapping classes)."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=prevalence)
    x = mu[y] + rng.normal(scale=noise, size=(n, mu.shape[1]))
    return x / np.linalg.norm(x, axis=1, keepdims=True), y


def _fit(mu, x, y, **params):
    labels = label_texts(CODES)
    examples = [CodedExample(int(c), f"item {i}", group=f"doc {i // 10}") for i, c in enumerate(y)]
    params = {"min_examples": 3, "form_weight": 0, "layer_weight": 0, "self_train": 0, **params}
    return FewShotProposer(**params).fit(CODES, labels, mu.astype(np.float32), examples=examples, example_vecs=x)


def test_learned_scores_are_the_chance_of_acceptance_and_the_class_balanced_ones_are_not():
    """On a synthetic set with a known answer (held-out items drawn like the training ones, 60/30/10 %
    of three overlapping codes) the share of right codes among items scored p is p: ECE under 0.04.
    The class-balanced head of fewshot.v4 inflates the rare codes: its ECE is several times larger."""
    mu = _world()
    x, y = _draw(mu, 300, seed=1)
    xt, yt = _draw(mu, 4000, seed=2)
    truth = np.eye(3, dtype=bool)[yt]
    v5 = _fit(mu, x, y)
    v4 = _fit(mu, x, y, calibrate=False, zero_shot="precode.similarity.v2")
    ece5 = expected_calibration_error(v5.score(xt)[0].ravel(), truth.ravel())
    ece4 = expected_calibration_error(v4.score(xt)[0].ravel(), truth.ravel())
    assert v5.calibrated and v5.head_calibration_fitted_ and not v4.calibrated
    assert ece5 < 0.04 and ece4 > 3 * ece5, (ece5, ece4)


def test_expected_calibration_error_of_known_scores():
    assert expected_calibration_error([0.25] * 4, [1, 0, 0, 0]) == pytest.approx(0.0)
    assert expected_calibration_error([0.95] * 10, [1] * 5 + [0] * 5) == pytest.approx(0.45)
    assert expected_calibration_error([], []) is None


def test_coverage_sets_hold_a_right_code_as_often_as_stated():
    mu = _world()
    x, y = _draw(mu, 400, seed=3)
    xt, yt = _draw(mu, 3000, seed=4)
    p = _fit(mu, x, y)
    cutoff, n = p.coverage_threshold(0.9)
    assert n == 400
    scores = p.score(xt)[0]
    sets = scores >= cutoff
    covered = sets[np.arange(len(yt)), yt].mean()
    assert 0.87 <= covered <= 0.95 and sets.sum(axis=1).mean() < 2.5, (covered, sets.sum(axis=1).mean())
    assert FewShotProposer().coverage_threshold(0.9) is None  # not fitted: nothing measured


def _segments(n):
    return [Segment(f"s{i}", "d", "turn", i, 0, 1, f"text {i}", None, None, True) for i in range(n)]


class _Fitted:
    """A fitted proposer as select() reads it: codebook, label texts; scores come from the test."""

    calibrated = True

    def __init__(self, cb):
        self.codebook_ = cb
        self.labels_ = label_texts(cb)


def test_precision_cutoff_keeps_the_expected_precision_at_the_target():
    assert precision_cutoff([0.9, 0.8, 0.5, 0.4, 0.1], 0.6) == 0.4  # running means .9 .85 .73 .65 .54
    assert precision_cutoff([0.9, 0.8, 0.5, 0.4, 0.1], 0.6, floor=0.45) == 0.45
    assert precision_cutoff([0.3, 0.2], 0.6) == 0.6  # nothing can meet it


def test_a_segment_nothing_fits_is_uncoded_and_no_code_is_named_in_the_export():
    prop = _Fitted(CODES)
    scores = np.array([[0.9, 0.2, 0.1], [0.3, 0.25, 0.2]])
    evidence = np.zeros((2, 3), dtype=int)
    evidence[:, 1], evidence[:, 2] = 1, 2
    sugg = select(_segments(2), scores, evidence, prop, np.full(2, -1), top_k=3, threshold=0.35, target_precision=0.6)
    by = {s.segment_id: s for s in sugg}
    assert [s.code.name for s in sugg if s.names_code] == ["Alpha"] and by["s0"].flags == ()
    assert by["s1"].flags == ("uncoded",) and not by["s1"].names_code and "nearest" in by["s1"].evidence
    rows = suggestion_rows(_segments(2), sugg, {"": CODES})
    assert [(r["segment_id"], r["code"]) for r in rows] == [("s0", "Alpha"), ("s1", "")]
    # the legacy rule (uncalibrated scores) still shows a best code, as before
    legacy = select(_segments(2), scores, evidence, prop, np.full(2, -1), top_k=3, threshold=0.2)
    assert {s.code.name for s in legacy if s.segment_id == "s1" and s.names_code} == {"Alpha", "Beta", "Gamma"}


def test_category_back_off_when_the_category_is_clear_and_the_code_is_not():
    cb = Codebook("cats", (Code("Cost", "Barriers", "money"), Code("Space", "Barriers", "rooms"),
                           Code("Leader", "Support", "leaders")),
                  (Category("Barriers"), Category("Support")))
    prop = _Fitted(cb)
    scores = np.array([[0.45, 0.40, 0.05],   # Barriers clearly (1 - .55 * .6 = .67), neither code
                       [0.05, 0.05, 0.45]])  # Support has one code only: no back-off, uncoded
    ev = np.tile(np.arange(3), (2, 1))
    sugg = select(_segments(2), scores, ev, prop, np.full(2, -1), target_precision=0.6, threshold=0.35)
    assert sugg[0].flags == ("category_only",) and sugg[0].code.category == "Barriers"
    assert sugg[0].score == pytest.approx(0.67) and "'Cost' 0.45" in sugg[0].evidence
    assert sugg[1].flags == ("uncoded",)
    rows = suggestion_rows(_segments(2), sugg, {"": cb})
    assert [(r["category"], r["code"]) for r in rows] == [("Barriers", ""), ("", "")]
    off = select(_segments(2), scores, ev, prop, np.full(2, -1), target_precision=0.6, category_backoff=False)
    assert [s.flags for s in off] == [("uncoded",), ("uncoded",)]


def test_several_codes_on_one_passage_are_one_example_with_several_labels(write):
    """Two rows with the same text and different codes (how a table or a .qdpx holds a passage with two
    codes) are one example positive for both, never a positive and a (closed-world) negative."""
    cb = load_codebook(write("cb.yaml", "name: cb\ncodes:\n  - {name: Alpha, description: a}\n"
                                        "  - {name: Beta, description: b}\n  - {name: Gamma, description: c}\n"))
    rows = ["text,code"] + [f"both {i},{c}" for i in range(6) for c in ("Alpha", "Beta")]
    rows += [f"gamma {i},Gamma" for i in range(6)]
    examples, _ = resolve_examples(load_training(write("train.csv", "\n".join(rows) + "\n")), cb)
    rng = np.random.default_rng(0)
    m = rng.normal(size=(2, 32))  # the two-code passages around one point, the Gamma ones around another
    vec = {t: m[int(t.startswith("gamma"))] + rng.normal(scale=0.3, size=32) for t in sorted({e.text for e in examples})}
    vec = {t: v / np.linalg.norm(v) for t, v in vec.items()}
    p = FewShotProposer(min_examples=3, form_weight=0, layer_weight=0, self_train=0).fit(
        cb, label_texts(cb), rng.normal(size=(3, 32)), examples=examples,
        example_vecs=np.stack([vec[e.text] for e in examples]))
    # 6 positives each, 6 negatives each: for Alpha and Beta the Gamma passages only (not the other code's copies)
    assert p.n_examples_ == {"Alpha": (6, 6), "Beta": (6, 6), "Gamma": (6, 6)}
    s = p.score(np.stack([vec["both 0"]]))[0][0]
    assert min(s[0], s[1]) > 0.6 and s[2] < 0.4


def test_a_bare_name_zero_shot_code_does_not_outrank_a_learned_code(bow):
    from pipeline.embed import embed_texts

    cb = Codebook("mixed", (Code("Cost", description="money budget funding"), Code("Data-issues")))
    texts = [f"the budget and the money ran out {i}" for i in range(6)]
    examples = [CodedExample(0, t) for t in texts]
    labels = label_texts(cb)
    p = FewShotProposer(min_examples=3, form_weight=0, layer_weight=0, self_train=0).fit(
        cb, labels, embed_texts([lt.text for lt in labels], bow), examples=examples,
        example_vecs=embed_texts(texts, bow))
    s = p.score(embed_texts(["the data and the budget money were issues"], bow))[0][0]
    assert p.zero_shot_codes_ == ["Data-issues"] and s[0] > s[1]
    zs = PROPOSERS["precode.similarity.v3"]().fit(cb, labels, embed_texts([lt.text for lt in labels], bow))
    assert zs.bare_.tolist() == [False, True]


def test_codebook_validate_warns_about_bare_names_and_near_duplicate_definitions(write):
    cb = load_codebook(write("cb.yaml", "name: cb\ncodes:\n"
                                        "  - {name: Cost, description: money and funding for the peer programme}\n"
                                        "  - {name: Funding, description: funding and money for the peer programme}\n"
                                        "  - {name: Data-issues}\n  - {name: Space, description: rooms to meet}\n"))
    lines = codebook_warnings(cb)
    assert any("1 of 4 codes have no description (Data-issues)" in w for w in lines)
    assert any("'Cost' and 'Funding' have near-duplicate definitions" in w for w in lines)
    assert not any("Space" in w and "near-duplicate" in w for w in lines)


def test_no_code_applies_is_a_rejection_of_every_code_and_teaches_abstaining(bow):
    """A "no code applies" decision (the reserved NO_CODE guid) is an example negative for every code,
    and the proposer's scores for a similar segment go down."""
    from types import SimpleNamespace

    from pipeline.decisions import NO_CODE
    from pipeline.embed import embed_texts
    from pipeline.learn import examples_from_decisions

    cb = Codebook("cb", (Code("Cost", description="money budget funding"), Code("Space", description="room office")))
    g = {c.name: c.guid(cb.name) for c in cb.codes}
    texts = {f"c{i}": f"the budget money is short {i}" for i in range(6)}
    texts |= {f"s{i}": f"we have no office room {i}" for i in range(6)}
    texts |= {f"n{i}": f"yes okay go ahead thanks {i}" for i in range(6)}
    states = [SimpleNamespace(segment_id=k, code_guid=g["Cost" if k[0] == "c" else "Space"], status="accepted", coder="ann")
              for k in texts if k[0] in "cs"]
    without = examples_from_decisions(states, texts, cb)
    states += [SimpleNamespace(segment_id=k, code_guid=NO_CODE, status="accepted", coder="ann") for k in texts if k[0] == "n"]
    examples = examples_from_decisions(states, texts, cb)
    none = [e for e in examples if e.text.startswith("yes okay")]
    assert len(none) == 12 and not any(e.positive for e in none) and {e.code for e in none} == {0, 1}

    def fit(exs):
        labels = label_texts(cb)
        return FewShotProposer(min_examples=3, form_weight=0, layer_weight=0, self_train=0).fit(
            cb, labels, embed_texts([lt.text for lt in labels], bow), examples=exs,
            example_vecs=embed_texts([e.text for e in exs], bow))

    probe = embed_texts(["yes okay thanks, go ahead"], bow)
    assert fit(examples).score(probe)[0].max() < fit(without).score(probe)[0].max()


def test_every_flag_a_proposal_can_carry_is_in_the_legend():
    import ast
    import inspect

    from pipeline import propose
    from pipeline.flags import FLAG_LEGEND

    # the flags select() and _abstain() write: string literals passed to flags.append(...) and the one-flag
    # tuples given to Suggestion(...)
    tree = ast.parse(inspect.getsource(propose.select) + inspect.getsource(propose._abstain))
    emitted = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "append" \
                and isinstance(n.func.value, ast.Name) and n.func.value.id == "flags":
            emitted |= {a.value for a in n.args if isinstance(a, ast.Constant)}
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "Suggestion":
            emitted |= {e.value for a in n.args if isinstance(a, ast.Tuple) for e in a.elts if isinstance(e, ast.Constant)}
    assert emitted == {"uncoded", "category_only", "low_confidence", "ambiguous"}
    assert emitted <= set(FLAG_LEGEND)
    # and the flags added after proposing: segments longer than the encoder reads, cells Excel cuts
    import re
    from pathlib import Path

    root = Path(propose.__file__).parent
    later = set(re.findall(r'"(truncated|excel_truncated)"', (root / "run.py").read_text() + (root / "export" / "table.py").read_text()))
    assert later == {"truncated", "excel_truncated"} and later <= set(FLAG_LEGEND)


@pytest.mark.parametrize("signal_in", ["vectors", "forms"])
def test_select_form_keeps_the_form_features_only_where_they_help(signal_in):
    """fewshot.v5 with ``select_form``: out-of-fold log-loss decides whether the form features stay. Where
    they are noise and the sentence vectors carry the codes, they go; where only they carry it, they stay."""
    from scipy.sparse import csr_matrix

    mu = _world()
    x, y = _draw(mu, 120, seed=5, prevalence=(0.4, 0.3, 0.3), noise=0.6)
    rng = np.random.default_rng(6)
    forms = rng.random((120, 40)) * (rng.random((120, 40)) < 0.2)  # noise
    if signal_in == "forms":
        x = np.tile(mu[0], (120, 1))  # the sentence vectors say nothing
        forms[np.arange(120), y] += 3.0  # a form feature per code
    labels = label_texts(CODES)
    examples = [CodedExample(int(c), f"item {i}", group=f"doc {i // 10}") for i, c in enumerate(y)]
    p = FewShotProposer(min_examples=3, layer_weight=0, self_train=0, select_form=True).fit(
        CODES, labels, mu.astype(np.float32), examples=examples, example_vecs=x, example_forms=csr_matrix(forms))
    if signal_in == "vectors":
        assert p.form_selected_ == 0.0 and p.form_dim_ == 0
        assert p.score(x[:5])[0].shape == (5, 3)  # scores without form vectors now
    else:
        assert p.form_selected_ == 1.5 and p.form_dim_ == 40
