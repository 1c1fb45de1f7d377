"""Code names' words in a segment (pipeline.lexical) and the learner that weighs them (fewshot.v6)."""

import numpy as np
import pytest

from pipeline.evaluate import expected_calibration_error
from pipeline.learn import CodedExample, FewShotProposer
from pipeline.lexical import name_matches, name_terms
from pipeline.propose import label_texts
from pipeline.records import Code, Codebook, Segment

BOOK = Codebook("lex", (Code("Nostalgia"), Code("Emotional response"), Code("Comparison to conventional art forms"),
                        Code("Q&A")))


def test_name_terms_drop_stop_words_and_match_by_stem():
    terms = name_terms(BOOK)
    assert terms[0] == ("nostal",)
    assert terms[1] == ("emotio", "respo")
    assert "to" not in "".join(terms[2]) and len(terms[2]) == 4  # comparison, conventional, art, forms
    assert terms[3] == ()  # nothing to match in "Q&A"
    m = name_matches(["Pure nostalgic joy.", "My emotions ran high", "", "Art, like a painting."], terms)
    assert m.shape == (4, 4)
    assert m[0, 0] == 1.0 and m[0, 1] == 0.0
    assert m[1, 1] == pytest.approx(0.5)  # "emotions" yes, "response" no
    assert m[2].sum() == 0.0
    assert m[3, 2] == pytest.approx(0.25) and m[3, 3] == 0.0


CODES = Codebook("syn", (Code("Alpha", description="a"), Code("Beta", description="b"), Code("Gamma", description="c")))
WORDS = ("alpha", "beta", "gamma")


def _data(n, seed, says_name: float, dim=16):
    """Items of three overlapping codes; an item of code c says the code's name with probability
    ``says_name`` (another code's name with probability 0.02)."""
    rng = np.random.default_rng(seed)
    mu = np.random.default_rng(0).normal(size=(3, dim))
    y = rng.choice(3, size=n, p=(0.5, 0.3, 0.2))
    x = mu[y] + rng.normal(scale=2.5, size=(n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    texts = []
    for i, c in enumerate(y):
        words = [f"w{i}"]
        if rng.random() < says_name:
            words.append(WORDS[c])
        if rng.random() < 0.02:
            words.append(WORDS[(c + 1) % 3])
        texts.append(" ".join(words))
    m = mu / np.linalg.norm(mu, axis=1, keepdims=True)
    return m.astype(np.float32), x.astype(np.float32), y, texts


def _fit(mu, x, y, texts, **params):
    examples = [CodedExample(int(c), t, group=f"doc {i // 10}") for i, (c, t) in enumerate(zip(y, texts))]
    params = {"min_examples": 3, "form_weight": 0, "layer_weight": 0, "self_train": 0, **params}
    return FewShotProposer(**params).fit(CODES, label_texts(CODES), mu, examples=examples, example_vecs=x)


def test_v6_learns_the_weight_of_the_name_and_gains_where_names_are_said():
    mu, x, y, texts = _data(300, 1, says_name=0.4)
    _, xt, yt, tt = _data(3000, 2, says_name=0.4)
    v6 = _fit(mu, x, y, texts, name_match=True)
    v5 = _fit(mu, x, y, texts)
    assert v6.name.endswith("+name-match") and v6.name_match and not v5.name_match
    assert FewShotProposer(name_match=True).name == "precode.fewshot.v6"
    assert v6.head_calibration_[2] > 1.0  # the name is strong evidence here
    p6, p5 = v6.score(xt, seg_texts=tt)[0], v5.score(xt)[0]
    acc6, acc5 = (p6.argmax(1) == yt).mean(), (p5.argmax(1) == yt).mean()
    truth = np.eye(3, dtype=bool)[yt]
    assert acc6 > acc5 + 0.05, (acc6, acc5)
    assert expected_calibration_error(p6.ravel(), truth.ravel()) < 0.05
    with pytest.raises(ValueError, match="seg_texts"):
        v6.score(xt)


def test_v6_gives_the_name_no_weight_where_it_tells_nothing():
    mu, x, y, texts = _data(300, 3, says_name=0.0)
    rng = np.random.default_rng(5)
    texts = [t + (" " + WORDS[rng.integers(3)] if rng.random() < 0.3 else "") for t in texts]  # names at random
    v6 = _fit(mu, x, y, texts, name_match=True)
    assert v6.head_calibration_[2] < 0.3, v6.head_calibration_


def test_similarity_v4_raises_a_code_whose_name_is_said_and_needs_the_texts():
    from pipeline.propose import PROPOSERS

    book = Codebook("z", (Code("Nostalgia", description="longing for the past"), Code("Humor", description="jokes")))
    labels = label_texts(book)
    rng = np.random.default_rng(0)
    lv = rng.normal(size=(len(labels), 8)).astype(np.float32)
    lv /= np.linalg.norm(lv, axis=1, keepdims=True)
    seg = np.repeat(lv[:1] + lv[1:2], 2, axis=0)  # halfway between the two codes
    seg /= np.linalg.norm(seg, axis=1, keepdims=True)
    v3 = PROPOSERS["precode.similarity.v3"]().fit(book, labels, lv)
    v4 = PROPOSERS["precode.similarity.v4"]().fit(book, labels, lv)
    p4 = v4.score(seg, seg_texts=["so nostalgic", "it was fine"])[0]
    p3 = v3.score(seg)[0]
    assert p4[0, 0] > p4[1, 0] + 0.1 and p4[0, 1] == pytest.approx(p4[1, 1])
    assert np.allclose(v3.score(seg, seg_texts=["so nostalgic", "x"])[0], p3)  # v3 ignores the texts
    with pytest.raises(ValueError, match="seg_texts"):
        v4.score(seg)


# -- fewshot.v7: words close to the name's words (word vectors) ------------------------------------------

def _word_vectors(groups: dict[str, int], dim: int = 64, seed: int = 0):
    """A word-vector lookup where the words of a group are near each other (cosine ~0.9) and unrelated
    words are orthogonal-ish; it records what it was asked."""
    rng = np.random.default_rng(seed)
    base = {g: rng.normal(size=dim) for g in set(groups.values())}
    asked: list[list[str]] = []

    def lookup(words):
        asked.append(list(words))
        out = {}
        for w in words:
            v = base[groups[w]] + 0.3 * rng.normal(size=dim) if w in groups else rng.normal(size=dim) * 3
            out[w] = v / np.linalg.norm(v)
        return out
    return lookup, asked


def test_name_matcher_counts_close_words_and_keeps_the_exact_match():
    from pipeline.lexical import NameMatcher

    book = Codebook("n", (Code("Nostalgia"), Code("Humor"), Code("Q&A")))
    lookup, asked = _word_vectors({"nostalgia": 0, "memories": 0, "childhood": 0, "humor": 1, "funny": 1})
    exact = NameMatcher(book)
    soft = NameMatcher(book, lookup)
    texts = ["Memories of my childhood", "so funny", "pure nostalgia, nostalgic", "the weather today"]
    m0, m1 = exact(texts), soft(texts)
    assert not exact.soft and soft.soft
    assert m0[0, 0] == 0.0 and m1[0, 0] > 0.6 and m1[0, 1] < 0.3  # close to nostalgia, not to humor
    assert m1[1, 1] > 0.6 and m1[1, 0] < 0.3
    assert m1[2, 0] == 1.0  # the exact match stands
    assert m1[3].max() < 0.3 and (m1[:, 2] == 0).all()  # unrelated words; a name with no words
    assert ((m1 >= 0) & (m1 <= 1)).all() and (m1 >= m0).all()
    n = sum(len(a) for a in asked)
    soft(texts)
    assert sum(len(a) for a in asked) == n  # every word asked for once


def test_name_matcher_says_which_word_has_no_vector():
    from pipeline.lexical import NameMatcher

    matcher = NameMatcher(Codebook("n", (Code("Nostalgia"),)), lambda words: {})
    with pytest.raises(ValueError, match="no word vector"):
        matcher(["hello there"])
    with pytest.raises(ValueError, match="floor"):
        NameMatcher(Codebook("n", (Code("Nostalgia"),)), floor=1.0)


SYNONYMS = {"alpha": 0, "aleph": 0, "beta": 1, "beth": 1, "gamma": 2, "gimel": 2}


def test_v7_learns_from_words_close_to_the_name_where_v6_cannot():
    # the items say a synonym of their code's name, never the name itself: v6 sees nothing, v7 does
    def said(texts):
        return [t.replace("alpha", "aleph").replace("beta", "beth").replace("gamma", "gimel") for t in texts]

    mu, x, y, texts = _data(300, 1, says_name=0.4)
    _, xt, yt, tt = _data(3000, 2, says_name=0.4)
    texts, tt = said(texts), said(tt)
    lookup, _ = _word_vectors(SYNONYMS)
    v6 = _fit(mu, x, y, texts, name_match=True)
    with pytest.raises(ValueError, match="words="):
        _fit(mu, x, y, texts, name_match=True, similar_names=True)
    examples = [CodedExample(int(c), t, group=f"doc {i // 10}") for i, (c, t) in enumerate(zip(y, texts))]
    v7 = FewShotProposer(min_examples=3, form_weight=0, layer_weight=0, self_train=0, name_match=True,
                         similar_names=True).fit(CODES, label_texts(CODES), mu, examples=examples, example_vecs=x,
                                                 words=lookup)
    assert v7.name.endswith("+similar-names")  # self-training off: not the registered v7
    assert FewShotProposer(name_match=True, similar_names=True).name == "precode.fewshot.v7"
    assert v7.head_calibration_[2] > 1.0 and v6.head_calibration_[2] < 0.5
    assert v7.name_weight(0) == pytest.approx(v7.head_calibration_[2]) and v6.name_weight(0) < 0.5
    assert v7.name_matcher_.explain("w1 aleph", 0)[0][:2] == ("aleph", "alpha")
    from pipeline.propose import name_evidence

    assert name_evidence(v7.name_matcher_.explain("w1 aleph", 0)) == 'says "aleph" (close to "alpha" in the code\'s name)'
    assert name_evidence([("work", "work", 1.0), ("supposed", "support", 1.0)]) == \
        'says "work", "supposed" (words of the code\'s name)'
    p7, p6 = v7.score(xt, seg_texts=tt)[0], v6.score(xt, seg_texts=tt)[0]
    assert (p7.argmax(1) == yt).mean() > (p6.argmax(1) == yt).mean() + 0.05
    assert expected_calibration_error(p7.ravel(), np.eye(3, dtype=bool)[yt].ravel()) < 0.05
    with pytest.raises(ValueError, match="name_match"):
        FewShotProposer(similar_names=True).fit(CODES, label_texts(CODES), mu, words=lookup)


def test_the_evidence_names_the_words_of_the_code_name_the_segment_says():
    from pipeline.lexical import NameMatcher
    from pipeline.propose import PROPOSERS, select

    lookup, _ = _word_vectors({"nostalgia": 0, "memories": 0, "humor": 1, "funny": 1})
    book = Codebook("n", (Code("Nostalgia"), Code("Humor")))
    soft = NameMatcher(book, lookup)
    assert soft.explain("Memories, so many memories", 0)[0][:2] == ("memories", "nostalgia")
    assert soft.explain("Pure nostalgic joy", 0) == [("nostalgic", "nostalgia", 1.0)]
    assert soft.explain("the weather today", 0) == [] and NameMatcher(book).explain("Memories", 0) == []

    book = Codebook("z", (Code("Nostalgia", description="longing for the past"), Code("Humor", description="jokes")))
    labels = label_texts(book)
    rng = np.random.default_rng(0)
    lv = rng.normal(size=(len(labels), 8)).astype(np.float32)
    lv /= np.linalg.norm(lv, axis=1, keepdims=True)
    segs = [Segment(f"s{i}", "d", "turn", i, 0, len(t), t, None, None, True)
            for i, t in enumerate(["so nostalgic about it", "it was fine"])]
    seg_v = np.repeat(lv[:1], 2, axis=0)  # both right on Nostalgia's definition
    for name, says in (("precode.similarity.v4", True), ("precode.similarity.v3", False)):
        prop = PROPOSERS[name]().fit(book, labels, lv)
        scores, ev, _, _ = prop.score(seg_v, seg_texts=[s.text for s in segs])
        out = select(segs, scores, ev, prop, np.full(2, -1), threshold=0.0, target_precision=None)
        first = {s.segment_id: s.evidence for s in out if s.code.name == "Nostalgia"}
        assert ('says "nostalgic" (a word of the code\'s name)' in first["s0"]) is says, (name, first)
        assert "says" not in first["s1"]
