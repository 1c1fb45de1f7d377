"""Learning while reviewing: each decision refits the proposer and re-proposes what is left."""

from __future__ import annotations

import pytest

from pipeline.config import load_config
from pipeline.decisions import current_state, load
from pipeline.review.core import ReviewSession
from pipeline.run import run_batch
from pipeline.store import Store

from .conftest import MISLEADING

# the codebook whose descriptions point the wrong way (Cost is described with training words and vice
# versa; Space is a third code nobody uses here): zero-shot gets turns wrong, the decisions must fix the rest
MONEY = ["The budget ran out of money.", "Funding was cut and money is short.", "It is too expensive for the clinic.",
         "Salary money and the budget were the problem.", "Nobody would pay the funding.",
         "The money for the position was gone.", "We lacked funding and budget money.",
         "The budget and funding were the problem.", "Money was short and too expensive."]
TEACHING = ["Staff never got training courses.", "The education workshops were missing.", "We need courses for staff.",
            "Training sessions for new staff.", "More workshops and education.", "Courses taught staff the role.",
            "Staff education and training was thin.", "Staff needed training and workshops.",
            "Education courses would help staff."]


@pytest.fixture
def project(write, bow):
    turns = []
    for a, b in zip(MONEY, TEACHING):
        turns += ["Interviewer: Tell me more.", f"Dana: {a}", "Interviewer: And then?", f"Dana: {b}"]
    write("data/one.txt", "\n".join(turns) + "\n")
    cb = write("misleading.yaml", MISLEADING)
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\nstudies: [{{name: s, inputs: [data/], "
                                          f"codebook: {cb}}}]\npropose: {{threshold: 0.0, top_k: 2, "
                                          f"target_precision: null, proposer: precode.similarity.v2, learner: precode.fewshot.v4, min_examples: 5}}\n"))
    run_batch(cfg, embedder=bow)
    return cfg.store_path


def _top(item) -> str:
    return next(p.code.name for p in item.proposals if p.rank == 1)


def _truth(item) -> str:
    return "Cost" if item.text in MONEY else "Training"


def _code(s, name):
    return next(c for c in s.codes.values() if c.name == name)


def _teach(s, n_per_code=5):
    """Code the first n money turns and n training turns (recode wrong proposals, accept right ones)."""
    done = {"Cost": 0, "Training": 0}
    for item in list(s.items):
        want = _truth(item)
        if done[want] >= n_per_code or item.reviewed:
            continue
        top = next(p for p in item.proposals if p.rank == 1)
        if top.code.name == want:
            s.accept(item, top.code.guid)
        else:
            s.recode(item, top.code.guid, _code(s, want).guid)
        done[want] += 1


def test_decisions_teach_the_proposals_of_unreviewed_segments(project):
    s = ReviewSession(project, "ann")
    zero_shot_top = {i.segment_id: _top(i) for i in s.items}
    before = [_top(i) == _truth(i) for i in s.items]
    assert sum(before) <= len(before) // 2  # the misleading descriptions get most turns wrong
    status = s.learning_status()
    assert status.enabled and status.learned == [] and "zero-shot" in status.summary()
    _teach(s)
    status = s.learning_status()
    assert sorted(status.learned) == ["Barriers/Cost", "Barriers/Training"] and status.decisions >= 10
    assert status.zero_shot == ["Other/Space"]
    assert status.refit_ms is not None
    assert status.summary().startswith("zero-shot (< 5 examples): Other/Space · learned: Barriers/Cost, Barriers/Training")
    left = [i for i in s.items if not i.reviewed]
    assert len(left) == 8
    right_before = sum(zero_shot_top[i.segment_id] == _truth(i) for i in left)
    right_after = sum(_top(i) == _truth(i) for i in left)
    assert right_before <= 4 and right_after >= 7, (right_before, right_after)
    assert all(p.learned is (p.code.name != "Space") for i in left for p in i.proposals)
    assert any("coded example" in p.evidence for i in left for p in i.proposals)
    # the decisions persist: a new session of the same coder starts from the learned state
    again = ReviewSession(project, "ann")
    assert [_top(i) for i in again.items if not i.reviewed] == [_top(i) for i in left]


def test_codes_below_min_examples_stay_zero_shot_and_are_named(project):
    s = ReviewSession(project, "ann")
    _teach(s, n_per_code=5)
    # undo until Training has 4 examples: Cost stays learned, Training goes back to zero-shot
    while s.learning_status().learned == ["Barriers/Cost", "Barriers/Training"]:
        s.undo()
    status = s.learning_status()
    assert status.learned == ["Barriers/Cost"] and status.zero_shot == ["Barriers/Training", "Other/Space"]
    assert "zero-shot (< 5 examples): Barriers/Training, Other/Space · learned: Barriers/Cost (" in status.summary()
    left = [i for i in s.items if not i.reviewed]
    flags = {p.code.name: p.learned for i in left for p in i.proposals}
    assert flags["Cost"] is True and flags["Training"] is False and flags.get("Space") in (None, False)


def test_other_coders_decisions_do_not_steer_a_coders_proposals(project):
    ann = ReviewSession(project, "ann")
    _teach(ann)
    bob = ReviewSession(project, "bob")
    assert bob.learning_status().learned == []
    assert all(p.learned is None for i in bob.items for p in i.proposals)  # the run's proposals


def test_uncertainty_order_is_refreshed_after_each_decision(project):
    s = ReviewSession(project, "ann", order="uncertainty")
    checked = 0
    for k in range(len(s.items) - 1):
        item = s.items[k]
        top = next(p for p in item.proposals if p.rank == 1)
        if top.code.name == _truth(item):
            s.accept(item, top.code.guid)
        else:
            s.recode(item, top.code.guid, _code(s, _truth(item)).guid)
        # the segments after the one just decided: most uncertain first, under the refitted model
        tail = s.items[k + 1:]
        assert not any(i.reviewed for i in tail)
        margins = [i.margin for i in tail]
        assert margins == sorted(margins)
        checked += bool(s.learning_status().learned)
    assert checked >= 3


def test_learning_can_be_switched_off(project):
    s = ReviewSession(project, "ann", learn=False)
    _teach(s)
    assert not s.learning_status().enabled and "off" in s.learning_status().summary()
    assert all(p.learned is None for i in s.items for p in i.proposals)


def test_terminal_screen_says_what_is_learned_and_what_is_zero_shot(project):
    from pipeline.review.tui import TuiState, render_text

    s = ReviewSession(project, "ann")
    st = TuiState(s)
    assert "zero-shot: all 3 codes (none has 5 examples yet)" in render_text(st, 160, 30)
    _teach(s)
    st.index = next(k for k, i in enumerate(s.items) if not i.reviewed)
    screen = render_text(st, 160, 30)
    assert "zero-shot (< 5 examples): Other/Space · learned: Barriers/Cost, Barriers/Training" in screen
    assert "  learned" in screen  # the proposals of the current segment say where their score comes from


def test_web_page_state_carries_learning(project):
    from starlette.testclient import TestClient

    from pipeline.review.web import make_app

    app = make_app(project, coder="ann", token="t", order="uncertainty")
    with TestClient(app, base_url="http://127.0.0.1:8765", follow_redirects=False) as c:
        assert c.get("/?token=t").status_code == 303
        same = {"origin": "http://127.0.0.1:8765"}
        s = c.get("/api/state").json()
        assert s["learning"]["enabled"] and s["learning"]["learned"] == []
        session = next(iter(app.state.review._sessions.values()))[0]
        for _ in range(12):  # decide the current segment, with the right code, and go on
            it = s["item"]
            top = next(p for p in it["proposals"] if p["rank"] == 1)
            want = "Cost" if it["text"] in MONEY else "Training"
            if top["name"] == want:
                body = {"segment_id": it["segment_id"], "action": "accept", "code_guid": top["guid"]}
            else:
                new = next(c["guid"] for c in c.get("/api/codes", params={
                    "segment_id": it["segment_id"], "action": "recode", "code_guid": top["guid"]}).json()["codes"]
                           if c["name"] == want)
                body = {"segment_id": it["segment_id"], "action": "recode", "code_guid": top["guid"], "new_guid": new}
            assert c.post("/api/decide", json=body, headers=same).status_code == 200
            s = c.post("/api/goto", json={"step": 1}, headers=same).json()
        assert s["learning"]["learned"], s["learning"]
        assert "learned: " in s["learning"]["summary"]
        assert {p["learned"] for p in s["item"]["proposals"]} <= {True, False} and not s["item"]["reviewed"]
        # the learner writes its caches through the session's own connection: the session is not rebuilt
        assert next(iter(app.state.review._sessions.values()))[0] is session


@pytest.mark.parametrize("who, expected", [("true", {"ann", "bob"}), ("[ann]", {"ann"}), ("[Bob]", {"bob"}), ("false", set())])
def test_a_run_learns_from_the_coders_the_config_names(project, bow, who, expected):
    ann, bob = ReviewSession(project, "ann", learn=False), ReviewSession(project, "bob", learn=False)
    _teach(ann, 3)
    item = bob.items[-1]  # a segment ann has not decided
    assert not next(i for i in ann.items if i.segment_id == item.segment_id).reviewed
    bob.add(item, _code(bob, _truth(item)).guid)
    n = {"ann": sum(1 for i in ann.items if i.reviewed), "bob": 1}
    base = project.parent.parent
    text = (base / "study.yaml").read_text().replace("min_examples: 5}", f"min_examples: 5, learn_from_decisions: {who}}}")
    (base / "again.yaml").write_text(text)
    res = run_batch(load_config(base / "again.yaml"), embedder=bow)
    studies = res.manifest["learning"]["studies"]
    if not expected:
        assert studies == {}
        return
    # one example per standing code state of the named coders (a recode: a rejection and an addition)
    with Store(project) as st:
        states = [x for x in current_state(load(st)).values() if x.coder in expected]
    assert len(states) >= sum(n[c] for c in expected)
    assert studies["s"]["examples"] == len(states)


def test_a_review_after_a_learning_run_reads_cached_forms_without_loading_spacy(project, bow, monkeypatch):
    import pipeline.review.live as live
    from pipeline.form import missing_forms

    _teach(ReviewSession(project, "ann", learn=False))
    run_batch(load_config(project.parent.parent / "study.yaml"), embedder=bow)  # learns: tags every segment
    monkeypatch.setattr(live, "_TAGGERS", {})  # a fresh process
    preloads = []
    monkeypatch.setattr(live, "_preload_tagger", preloads.append)
    s = ReviewSession(project, "ann")
    status = s.learning_status()
    assert sorted(status.learned) == ["Barriers/Cost", "Barriers/Training"]  # refitted with form features
    tagger = next(iter(live._TAGGERS.values()))
    assert not tagger.loaded and preloads == []
    with Store(project) as st:
        assert missing_forms([i.text for i in s.items], tagger, st) == []
        assert missing_forms(["A text nobody tagged."], tagger, st) == ["A text nobody tagged."] and not tagger.loaded
    # a project whose run did not learn has untagged segments: the tagger is preloaded in the background
    monkeypatch.setattr(live, "_TAGGERS", {})
    with Store(project) as st:
        st.conn.execute("DELETE FROM forms")
        st.conn.commit()
    s2 = ReviewSession(project, "bob")
    s2.add(s2.items[0], _code(s2, "Cost").guid)
    assert preloads == ["en_core_web_sm"]


def test_a_run_and_the_review_after_it_read_the_layer_view(project, layered_bow):
    """fewshot.v3/v4: the run that learns computes each segment's layer view in the embedding pass and
    records the layer; a later review refits on the cached views without encoding anything."""
    _teach(ReviewSession(project, "ann", learn=False))
    res = run_batch(load_config(project.parent.parent / "study.yaml"), embedder=layered_bow)
    assert res.manifest["embedding_model"]["layer"] == 1
    study = res.manifest["learning"]["studies"]["s"]
    assert study["learner"] == "precode.fewshot.v4" and study["layer_view"] == 1
    layered_bow.encode_views = None  # a review must not encode: every view is in the cache
    s = ReviewSession(project, "ann")
    status = s.learning_status()
    assert status.enabled and sorted(status.learned) == ["Barriers/Cost", "Barriers/Training"], status.reason
    assert len(s.learner._layer_vec) >= len(s.items)  # the layer views were read, one per segment at least
    # fewshot.v4: the undecided segments it was sure of taught it too, and the screen says how many
    assert status.self_trained > 0 and f"+ {status.self_trained} undecided segments it is sure of" in status.summary()
    left = [i for i in s.items if not i.reviewed]
    # the descriptions mislead zero-shot (at most 4 of 8 right); the stand-in's trigram views are noisy
    assert sum(_top(i) == _truth(i) for i in left) >= 6
    assert all(p.learned is (p.code.name != "Space") for i in left for p in i.proposals)


def test_codebook_edits_while_learning_keep_what_was_learned(project):
    """A rename or a retire during the review restarts the live learner on the edited codebook: the
    decisions (now on the renamed code) still teach it, and a retired code is no longer proposed."""
    s = ReviewSession(project, "ann")
    _teach(s)
    left = {i.segment_id: _top(i) for i in s.items if not i.reviewed}
    s.rename_code(_code(s, "Cost").guid, "Money")
    s.retire_code(_code(s, "Space").guid)
    status = s.learning_status()
    assert sorted(status.learned) == ["Barriers/Money", "Barriers/Training"] and status.zero_shot == []
    after = {i.segment_id: _top(i) for i in s.items if not i.reviewed}
    assert after == {k: "Money" if v == "Cost" else v for k, v in left.items()}
    assert not any(p.code.name in ("Cost", "Space") for i in s.items for p in i.proposals)
    assert {c.name for c in s.search_codes("")} == {"Money", "Training"}
