"""Form features (pipeline.form) and the head that reads them (precode.fewshot.v2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline.codebook import load_codebook
from pipeline.embed import embed_texts
from pipeline.errors import ModelError
from pipeline.form import (FormVectorizer, LazyTagger, form_matrices, form_string, form_strings, load_tagger,
                           tagger_id)
from pipeline.learn import LEARNED_PROPOSERS, CodedExample, FewShotProposer
from pipeline.propose import category_questions, label_texts
from pipeline.records import Code, Codebook
from pipeline.store import Store

CB_TWO = Codebook("two", (Code("A", description="a"), Code("B", description="b")))

ASKING = ["Do you think the clinic staff would help?", "Would the nurses find it useful?",
          "How did the manager feel about the budget?", "Could you tell me about the training?",
          "What did the doctors say about the room?", "Is the peer role clear to the team?"]
TELLING = ["The clinic staff would help.", "The nurses found it useful.", "The manager felt fine about the budget.",
           "I told them about the training.", "The doctors said the room was small.", "The peer role is clear to the team."]
TEST = [("Did the staff like the new office?", 0), ("The staff liked the new office.", 1),
        ("Were the supervisors happy with the schedule?", 0), ("The supervisors were happy with the schedule.", 1)]

SAME_WORDS = """
name: acts
categories:
  - name: Acts
    codes:
      - name: Asking
        description: talk about the clinic
      - name: Telling
        description: talk about the clinic
"""


@pytest.fixture(scope="module")
def nlp():
    return load_tagger()


def test_form_string_keeps_function_words_and_hides_content(nlp):
    f = form_string(nlp("So you feel really lonely?"))
    words = f.split()
    assert words[:2] == ["so", "you"] and "?" in words and words[-2:] == ["^so", "^you"]
    assert "lonely" not in words and "feel" not in words  # content words become tags
    assert "JJ" in words and "VBP" in words


def test_vectorizer_is_order_free_and_unit_length():
    forms = ["so you VBP ?", "i VBD NN .", "so you VBP .", "i VBD NN NN ."]
    a, b = FormVectorizer(min_df=2).fit(forms), FormVectorizer(min_df=2).fit(list(reversed(forms)))
    assert a.vocabulary_ == b.vocabulary_ and np.allclose(a.idf_, b.idf_)
    assert "so you" in a.vocabulary_ and "?" not in a.vocabulary_  # '?' occurs once: below min_df
    X = a.transform(forms).toarray()
    assert X.shape == (4, a.n_features)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0)
    assert a.transform(["xyz"]).nnz == 0  # unknown grams: an empty row, not an error


def test_vectorizer_max_features_keeps_the_grams_in_most_segments():
    # "NN" is said six times but in one segment; "so" and "you" in three segments each, "i" in two
    forms = ["so you NN NN NN NN NN NN", "so you", "so you i", "i ."]
    v = FormVectorizer(min_df=1, max_features=3).fit(forms)
    assert sorted(v.vocabulary_) == ["so", "so you", "you"]  # ties (3 segments each) broken by the gram
    assert FormVectorizer(min_df=1, max_features=4).fit(forms).vocabulary_.keys() == {"i", "so", "so you", "you"}
    assert FormVectorizer(min_df=5).fit(forms).transform(forms).shape == (4, 0)  # nothing in 5 segments


def test_form_strings_are_cached_in_the_store(tmp_path, nlp):
    texts = ["Is the room free?", "The room is free.", "Is the room free?"]
    with Store(tmp_path / "p.sqlite") as st:
        first = form_strings(texts, nlp, st)
        assert st.count("forms") == 2 and first[0] == first[2]

        class NoTagging:  # a second call must not tag again
            meta = nlp.meta

            def pipe(self, texts, **kw):
                texts = list(texts)
                assert not texts, f"tagged again: {texts}"
                return iter(())

        assert tagger_id(NoTagging()) == tagger_id(nlp)
        assert form_strings(texts, NoTagging(), st) == first


def test_a_lazy_tagger_reads_cached_forms_without_spacy_and_tags_new_texts_like_the_real_one(tmp_path, nlp):
    lazy = LazyTagger()
    assert tagger_id(lazy) == tagger_id(nlp) and not lazy.loaded  # the id from the package's meta.json
    texts = ["Is the room free?", "The room is free."]
    with Store(tmp_path / "p.sqlite") as st:
        form_strings(texts, nlp, st)
        assert form_strings(texts, lazy, st) == form_strings(texts, nlp) and not lazy.loaded  # all cached
        new = ["Could you say more about that?"]
        assert form_strings(new, lazy, st) == [form_string(d) for d in nlp.pipe(new)] and lazy.loaded
    # a pipeline given as a folder: its meta.json, the same id as the loaded folder's
    folder = Path(nlp.path)  # the installed package's data folder
    assert (folder / "meta.json").is_file()
    assert tagger_id(LazyTagger(str(folder))) == tagger_id(load_tagger(str(folder)))
    with pytest.raises(ModelError, match="not installed"):  # no meta to read: loading says what is wrong
        tagger_id(LazyTagger("xx_no_such_pipeline"))


def _fit(cb, nlp, bow, form_weight):
    labels = label_texts(cb)
    lv = embed_texts([lt.text for lt in labels], bow)
    texts = ASKING + TELLING
    examples = [CodedExample(0, t) for t in ASKING] + [CodedExample(1, t) for t in TELLING]
    # the embedding sees no difference at all: every example and test segment gets the same vector
    same = embed_texts(["clinic"], bow)[0]
    ex_forms, test_forms = form_matrices([texts, [t for t, _ in TEST]], nlp)
    p = FewShotProposer(min_examples=3, form_weight=form_weight, layer_weight=0.0, self_train=0.0, calibrate=False, zero_shot="precode.similarity.v2").fit(
        cb, labels, lv, category_questions(cb), None, examples, np.stack([same] * len(texts)), ex_forms)
    scores = p.score(np.stack([same] * len(TEST)), seg_forms=test_forms)[0]
    return p, scores


def test_form_features_tell_apart_what_the_embedding_cannot(write, nlp, bow):
    cb = load_codebook(write("acts.yaml", SAME_WORDS))
    truth = [y for _, y in TEST]
    v2, s2 = _fit(cb, nlp, bow, 1.5)
    assert v2.name == "precode.fewshot.v2" and v2.form_dim_ > 0
    assert list(s2.argmax(axis=1)) == truth
    v1, s1 = _fit(cb, nlp, bow, 0.0)
    assert v1.name == "precode.fewshot.v1" and v1.form_dim_ == 0
    assert np.allclose(s1, s1[0])  # embeddings alone: every segment scores the same


def test_a_head_fitted_with_forms_needs_them_to_score(write, nlp, bow):
    cb = load_codebook(write("acts.yaml", SAME_WORDS))
    p, _ = _fit(cb, nlp, bow, 1.5)
    with pytest.raises(ValueError, match="form features"):
        p.score(embed_texts(["Is it?"], bow))


def test_learners_registered_under_versioned_names():
    assert set(LEARNED_PROPOSERS) == {f"precode.fewshot.v{i}" for i in (1, 2, 3, 4, 5, 6, 7, 8)}
    v5 = LEARNED_PROPOSERS["precode.fewshot.v5"](C=2.0)
    assert (v5.self_train, v5.calibrate, v5.name_match, v5.name) == (0.6, True, False, "precode.fewshot.v5")
    v6 = LEARNED_PROPOSERS["precode.fewshot.v6"](C=2.0)
    assert (v6.calibrate, v6.name_match, v6.similar_names, v6.name) == (True, True, False, "precode.fewshot.v6")
    v7 = LEARNED_PROPOSERS["precode.fewshot.v7"](C=2.0)
    assert (v7.name_match, v7.similar_names, v7.name) == (True, True, "precode.fewshot.v7")
    v8 = LEARNED_PROPOSERS["precode.fewshot.v8"](C=2.0)
    assert (v8.similar_names, v8.implicit_weight, v8.name) == (True, None, "precode.fewshot.v8")
    v1, v2, v3, v4 = (LEARNED_PROPOSERS[f"precode.fewshot.v{i}"](C=2.0, self_train=0.7) for i in (1, 2, 3, 4))
    assert (v1.form_weight, v1.layer_weight, v1.self_train, v1.name) == (0.0, 0.0, 0.0, "precode.fewshot.v1")
    assert (v2.form_weight, v2.layer_weight, v2.self_train, v2.name) == (1.5, 0.0, 0.0, "precode.fewshot.v2")
    assert (v3.form_weight, v3.layer_weight, v3.self_train, v3.name) == (1.5, 2.0, 0.0, "precode.fewshot.v3")
    assert (v4.form_weight, v4.layer_weight, v4.self_train, v4.name) == (1.5, 2.0, 0.7, "precode.fewshot.v4")
    for bad in ({"form_weight": -1}, {"layer_weight": -0.5}, {"self_train": 1.0}, {"self_train": -0.1}):
        with pytest.raises(ValueError):  # checked when fitted (scikit-learn's contract: __init__ only stores)
            FewShotProposer(**bad).fit(CB_TWO, label_texts(CB_TWO), np.eye(2, 4, dtype=np.float32))


TRANSCRIPT = ("Interviewer: What would be the greatest barriers?\n"
              "Dana: Nobody knows what the peer role is.\n"
              "Interviewer: What supports would help?\n"
              "Dana: Training for staff and a room to meet.\n"
              "Pat: We need an office room for meetings.\n")
CODED = {"Barriers/Role confusion": ["the peer role is unclear", "nobody knows the peer job", "what does the peer do",
                                     "the role was never defined", "duties of the peer are vague"],
         "Barriers/Space": ["no office for the peer", "we have no room", "there is no space to meet",
                            "no desk or office", "the building has no room"],
         "Facilitators/Training": ["staff need training", "education courses help", "a workshop for staff",
                                   "training for the team", "courses on peer work"]}


@pytest.mark.parametrize("learner, form_rows", [("precode.fewshot.v4", True), ("precode.fewshot.v3", True),
                                                ("precode.fewshot.v2", True),
                                                ("precode.fewshot.v1", False)])
def test_run_with_training_file_fits_the_configured_learner(write, tiny_codebook, bow, learner, form_rows):
    from pipeline.config import load_config
    from pipeline.run import run_batch

    write("data/a.txt", TRANSCRIPT)
    rows = "".join(f"{t},{path.split('/')[1]},{path.split('/')[0]}\n" for path, ts in CODED.items() for t in ts)
    write("coded.csv", "text,code,category\n" + rows)
    cfg = load_config(write("study.yaml", f"""
project: {{output_dir: out}}
studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]
propose: {{threshold: 0.0, train: [coded.csv], min_examples: 3, learner: {learner}}}
"""))
    res = run_batch(cfg, embedder=bow)
    learned = res.manifest["learning"]["studies"]["s"]
    assert learned["learner"] == learner and learned["examples"] == 15
    if learner == "precode.fewshot.v4":  # self-training on the run's segments, recorded beside the examples
        assert learned["self_training"]["threshold"] == 0.6
        assert set(learned["self_training"]["segments"]) <= set(CODED)
    else:
        assert learned["self_training"] is None
    assert sorted(learned["learned_codes"]) == sorted(CODED) and learned["zero_shot_codes"] == []
    with Store(cfg.store_path) as st:
        assert (st.count("forms") > 0) is form_rows  # tagged only when the head reads forms
    assert res.suggestions and all(0.0 <= s.score <= 1.0 for s in res.suggestions)


def test_a_bad_training_file_fails_before_any_transcript_is_read(write, tiny_codebook, bow, monkeypatch):
    from pipeline import run as run_module
    from pipeline.config import load_config
    from pipeline.errors import InputError

    write("data/a.txt", TRANSCRIPT)
    write("coded.csv", "text,label\nsome text,Space\n")  # no 'code' column
    cfg = load_config(write("study.yaml", f"""
project: {{output_dir: out}}
studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]
propose: {{train: [coded.csv]}}
"""))
    monkeypatch.setattr(run_module, "expand_inputs", lambda *a, **k: pytest.fail("transcripts were read first"))
    with pytest.raises(InputError, match="coded.csv.*no 'code' column"):
        run_module.run_batch(cfg, embedder=bow)
