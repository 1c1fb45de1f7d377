"""Discovery: BERTopic over a project's cached vectors, the codebook as zero-shot topics.

A synthetic project (8 transcripts, 200 participant turns from four clearly distinct themes, one
of which the codebook covers) is coded once with the bag-of-words stand-in encoder; discovery
must then label the covered theme with the codebook, propose the other three as candidates with
sensible keywords and five quotes, keep fillers and speaker names out of the keywords, encode
nothing, and write byte-identical outputs twice.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys

import pytest

pytest.importorskip("bertopic")

from pipeline.config import load_config  # noqa: E402
from pipeline.discover import (  # noqa: E402
    FILLERS, accept_candidate, discover, load_candidates, load_reviews, reject_candidate, scaled_min_topic_size,
    stop_words,
)
from pipeline.errors import PrecodeError  # noqa: E402
from pipeline.project import load_project  # noqa: E402
from pipeline.run import run_batch  # noqa: E402
from pipeline.store import Store  # noqa: E402
from tests.conftest import DISCOVERY_CODEBOOK as CODEBOOK  # noqa: E402
from tests.conftest import DISCOVERY_PEOPLE as PEOPLE  # noqa: E402
from tests.conftest import DISCOVERY_THEMES as THEMES  # noqa: E402
from tests.conftest import ROOT, BagOfWordsEmbedder  # noqa: E402
from tests.conftest import discovery_corpus as _corpus  # noqa: E402

COVERED = "training"
def _theme_of(text: str) -> str:
    return max(THEMES, key=lambda th: sum(p in text.lower() for p in THEMES[th]))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    base = tmp_path_factory.mktemp("discover")
    (base / "data").mkdir()
    _corpus(base / "data")
    (base / "mini.yaml").write_text(CODEBOOK, encoding="utf-8")
    roles = json.dumps({"*": PEOPLE})
    (base / "study.yaml").write_text(
        f"project: {{name: disc, output_dir: out}}\n"
        f"studies: [{{name: s, inputs: [data/], codebook: mini.yaml, roles: {roles}}}]\n", encoding="utf-8")
    bow = BagOfWordsEmbedder()
    cfg = load_config(base / "study.yaml")
    run_batch(cfg, embedder=bow)
    return cfg.store_path, bow


@pytest.fixture
def fresh(project, tmp_path):
    """A copy of the project (accept/reject change it)."""
    store, bow = project
    shutil.copytree(store.parent, tmp_path / "out")
    return tmp_path / "out" / store.name, bow


@pytest.fixture(scope="module")
def result(project):
    store, bow = project
    calls = bow.calls
    res = discover(store, embedder=bow, zeroshot_min_similarity=0.45)
    return res, bow.calls - calls


def test_defaults_scale_and_filter():
    assert scaled_min_topic_size(200) == 5 and scaled_min_topic_size(10_000) == 33
    assert scaled_min_topic_size(50_000) == 75 and scaled_min_topic_size(1_000) > scaled_min_topic_size(350)
    sw = set(stop_words(["Dana Whitfield", "P03", "PSS", None], ["PSS supervisor", "peer support specialist"]))
    assert {"um", "uh", "yeah", "know", "mean", "dana", "whitfield", "the"} <= sw
    assert "pss" not in sw  # a speaker label that is also a role word stays


def test_uncovered_themes_become_candidates(result, project):
    res, encoded = result
    store, _ = project
    assert encoded == 0 and res.reencoded == 0 and res.label_texts_encoded == 0  # all from the cache
    data = load_project(store)
    text = {s.id: s.text for s in data.segments}
    # every candidate is one theme, and each uncovered theme is (mostly) one candidate
    themes_of = []
    for c in res.candidates:
        counts = {}
        for m in c.members:
            counts[_theme_of(text[m])] = counts.get(_theme_of(text[m]), 0) + 1
        theme, k = max(counts.items(), key=lambda kv: kv[1])
        assert k / c.size >= 0.9, (c.name, counts)
        themes_of.append(theme)
        words = " ".join(c.keywords)
        assert any(w in words for w in {"transport": ["bus", "ride", "car", "train"], "pay": ["pay", "salary", "wage"],
                                        "food": ["food", "lunch", "cafeteria"]}[theme]), (theme, c.keywords)
    assert set(themes_of) == {"transport", "pay", "food"}
    for theme in ("transport", "pay", "food"):
        got = sum(c.size for c, th in zip(res.candidates, themes_of) if th == theme)
        assert got >= 0.8 * 50, (theme, got)
    # the covered theme is labelled by the codebook, not proposed
    assert [c.code for c in res.covered] == ["Facilitators/Training"]
    assert all(_theme_of(text[s]) == COVERED for s in res.covered[0].segments)
    assert len(res.covered[0].segments) >= 40


def test_candidate_contents(result):
    res, _ = result
    names = {"dana", "whitfield", "pat", "alex", "samir"}
    for c in res.candidates:
        assert c.id.startswith("emergent-") and c.status == "proposed" and "emergent" in c.flags
        assert c.name and len(c.keywords) >= 3 and c.size == len(c.members) == len(set(c.members))
        assert len(c.quotes) == 5 and all(q.segment_id in c.members for q in c.quotes)
        assert all(q.document.startswith("group") and q.speaker in PEOPLE and q.role for q in c.quotes)
        assert len({q.document for q in c.quotes}) == 5  # quotes from different transcripts when possible
        assert c.n_documents == 8 and sum(c.roles.values()) == c.size and len(c.roles) >= 2
        words = {w for k in c.keywords for w in k.split()}
        assert not words & (FILLERS | names), c.keywords
    assert [c.size for c in res.candidates] == sorted((c.size for c in res.candidates), reverse=True)


def test_outputs_byte_identical_and_nothing_encoded(project, result, tmp_path):
    store, bow = project
    res, _ = result
    first = {k: p.read_bytes() for k, p in res.outputs.items()}
    calls = bow.calls
    again = discover(store, embedder=bow, zeroshot_min_similarity=0.45, out_dir=tmp_path)
    assert bow.calls == calls
    assert {k: p.read_bytes() for k, p in again.outputs.items()} == first
    doc = json.loads(first["json"])
    assert doc["format"] == "precode.discovery.v1" and doc["counts"]["candidates"] == len(res.candidates)
    header = first["csv"].decode().splitlines()[0]
    assert header.startswith("id,status,name,size,n_documents") and header.endswith("quote_5")


def test_accept_adds_code_reject_is_remembered(fresh):
    store, bow = fresh
    res = discover(store, embedder=bow, zeroshot_min_similarity=0.45)
    first, second = res.candidates[0], res.candidates[1]
    code = accept_candidate(store, first.id, "ann", name="Getting there")
    assert code.category == "Emergent" and code.examples == tuple(q.text for q in first.quotes)
    assert code.description == ", ".join(first.keywords)
    book = load_project(store).codebooks["s"]
    assert any(c.name == "Getting there" and c.category == "Emergent" for c in book.codes)
    with pytest.raises(PrecodeError, match="already accept"):
        accept_candidate(store, first.id, "bob")
    with pytest.raises(PrecodeError, match="already has a code"):
        accept_candidate(store, second, "ann", name="training")
    reject_candidate(store, second, "ann", memo="not a theme")
    reviews = load_reviews(store)
    assert {r["verdict"] for r in reviews.values()} == {"accept", "reject"}
    assert reviews[first.id]["code"]["guid"] == code.guid("mini")
    assert reviews[second.id]["memo"] == "not a theme" and reviews[second.id]["members"] == second.members
    with Store(store) as st:  # the reviews are rows of the store, and no one rewrites them
        assert st.count("discovery_reviews") == 2
        for sql in ("UPDATE discovery_reviews SET verdict='reject'", "DELETE FROM discovery_reviews"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                st.conn.execute(sql)
    # next discovery: the accepted code is now part of the codebook; the rejected topic stays rejected
    later = discover(store, embedder=bow, zeroshot_min_similarity=0.45)
    assert later.reencoded == 0
    assert not any(c.id == second.id and c.status == "proposed" for c in later.candidates)
    assert any(c.status == "rejected" and c.review["id"] == second.id for c in later.candidates)
    assert [c.id for c in load_candidates(store)] == [c.id for c in later.candidates]


def test_tiny_project_and_no_clusters(write, tiny_codebook, bow, tmp_path):
    write("data/one.txt", "Interviewer: What would help?\nDana: Training for staff and a room to meet.\n"
                          "Pat: We need an office room.\n")
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\nstudies: [{{name: s, inputs: [data/], "
                                          f"codebook: {tiny_codebook}}}]\n"))
    run_batch(cfg, embedder=bow)
    res = discover(cfg.store_path, embedder=bow)
    assert res.candidates == [] and "too few segments" in res.notes[0]
    assert json.loads(res.outputs["json"].read_text())["candidates"] == []


def test_no_cluster_found_is_a_note(project, tmp_path):
    store, bow = project
    res = discover(store, embedder=bow, zeroshot_min_similarity=0.45, min_topic_size=190, out_dir=tmp_path)
    assert res.candidates == [] and any("no cluster" in n for n in res.notes)


@pytest.mark.slow
def test_two_processes_write_identical_files(project, tmp_path):
    store, _ = project
    code = ("import sys; sys.path.insert(0, {root!r}); from tests.conftest import BagOfWordsEmbedder;"
            "from pipeline.discover import discover;"
            "discover({store!r}, embedder=BagOfWordsEmbedder(), zeroshot_min_similarity=0.45, out_dir={out!r})")
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}"
        subprocess.run([sys.executable, "-c", code.format(root=str(ROOT), store=str(store), out=str(out))],
                       check=True, cwd=ROOT)
        outs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outs[0] == outs[1] and set(outs[0]) == {"candidates.json", "candidates.csv"}


def test_all_covered_and_zero_shot_off(project, tmp_path):
    store, bow = project
    everything = discover(store, embedder=bow, zeroshot_min_similarity=-1.0, out_dir=tmp_path / "a")
    assert everything.candidates == [] and everything.counts["covered"] == 200
    assert sum(len(c.segments) for c in everything.covered) == 200
    plain = discover(store, embedder=bow, codebook_zero_shot=False, out_dir=tmp_path / "b")
    assert plain.covered == [] and plain.params["zero_shot_topics"] == 0
    assert len(plain.candidates) >= 4 and sum(c.size for c in plain.candidates) >= 190  # training is a topic now
    with pytest.raises(PrecodeError, match="no codebook 'nope'"):
        discover(store, embedder=bow, codebooks=["nope"], write=False)


def test_reviews_of_older_projects_are_read_from_reviews_json_once(fresh):
    store, _ = fresh
    legacy = store.parent / "discovery" / "reviews.json"
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_text(json.dumps({"t-abc": {"verdict": "reject", "coder": "ann", "time": "2026-01-01T00:00:00+00:00",
                                            "memo": "", "name": "x", "keywords": ["x"], "members": ["a#t1"]}}))
    assert load_reviews(store)["t-abc"]["coder"] == "ann"
    assert load_reviews(store)["t-abc"]["members"] == ["a#t1"]
    with Store(store) as st:
        assert st.count("discovery_reviews") == 1  # imported once, not on every read


def test_topic_names_rank_phrases_against_the_topic(result, project):
    import numpy as np

    from pipeline.discover.names import phrase_vectors, ranked_phrases, readable_names

    # a phrase close to the topic comes first; the next is the closest one unlike it (MMR)
    centroid = np.array([1.0, 0.2, 0.0])
    vecs = np.array([[0.2, 1.0, 0.0], [1.0, 0.25, 0.0], [0.98, 0.3, 0.0], [0.6, 0.0, 0.8]])
    assert ranked_phrases(centroid, ["ones", "bus route", "bus routes", "missed appointments"], vecs)[:2] == [
        "bus route", "missed appointments"]
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    embed = phrase_vectors(["The bus came late .", "Low pay .", "pay and the bus ."], X)
    assert embed(["bus", "pay", "nowhere"]).tolist() == [[0.5, 0.5], [0.0, 1.0], [0.0, 0.0]]
    taken = {"training"}
    assert readable_names([["training"], []], [np.ones(2), np.ones(2)], embed, taken) == ["Training (2)", "Emergent topic"]
    res, _ = result
    assert "noun phrases" in res.params["names"] and "marginal relevance" in res.params["names"]
    data = load_project(project[0])
    text = {s.id: s.text.casefold() for s in data.segments}
    for c in res.candidates:  # a name is words the participants used, in a good share of the topic's segments
        assert " / " not in c.name, c.name  # a phrase, not a keyword pair
        first = c.name.split(" and ")[0].casefold()
        assert sum(first in text[m] for m in c.members) >= c.size / 4, (c.name, c.keywords)
        assert sum(first in t for t in text.values()) <= 1.25 * sum(first in text[m] for m in c.members), c.name


def test_noun_phrases_and_phrase_names():
    import numpy as np

    from pipeline.discover.names import noun_phrases, phrase_names
    from pipeline.form import load_tagger

    texts = ["Um, the bus passes ran out again.", "We need bus passes and a private room on clinic days.",
             "My peer salary is low, Dana.", "The peer salary barely covers rent.", "People say things."]
    found = noun_phrases(texts, load_tagger(), {"um", "dana", "say", "things"})
    assert found[0] == {"bus passes"} and found[1] == {"bus passes", "private room on clinic days"}
    assert found[2] == {"peer salary"} and "people" not in found[4]  # generic words and speaker names are no names
    X = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0], [0.5, 0.5]])
    taken = {"bus passes"}
    assert phrase_names([[0, 1], [2, 3], [4]], found, X, taken) == ["Bus passes (2)", "Peer salary", None]


def test_accept_by_the_number_in_the_list(fresh):
    from typer.testing import CliRunner

    from pipeline.cli import app

    store, bow = fresh
    res = discover(store, embedder=bow, zeroshot_min_similarity=0.45)
    r = CliRunner().invoke(app, ["discover", str(store), "--accept", "2", "--coder", "ann", "--name", "Getting paid"])
    assert r.exit_code == 0, r.output
    assert load_reviews(store)[res.candidates[1].id]["verdict"] == "accept"
    r = CliRunner().invoke(app, ["discover", str(store), "--reject", "9", "--coder", "ann"])
    assert r.exit_code == 2 and "give its number, 1-3" in r.output
