"""The discovery page of `precode serve`: topics from `precode discover`, accepted (renamed), merged or
rejected in a real browser; every action an append-only row of the store, seen by `precode discover`."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from starlette.testclient import TestClient

pytest.importorskip("bertopic")

from pipeline.config import load_config  # noqa: E402
from pipeline.discover import discover, load_candidates, load_reviews, status_text  # noqa: E402
from pipeline.project import load_project  # noqa: E402
from pipeline.review.web import make_app  # noqa: E402
from pipeline.run import run_batch  # noqa: E402
from pipeline.store import Store  # noqa: E402
from tests.conftest import ROOT, BagOfWordsEmbedder, chromium_page, playwright_or_skip, served  # noqa: E402
from tests.conftest import DISCOVERY_CODEBOOK as CODEBOOK  # noqa: E402
from tests.conftest import DISCOVERY_PEOPLE as PEOPLE  # noqa: E402
from tests.conftest import discovery_corpus as _corpus  # noqa: E402

BASE = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def discovered(tmp_path_factory):
    """A project with three themes the codebook misses, discovered once (copied by each test)."""
    base = tmp_path_factory.mktemp("webdisc")
    (base / "data").mkdir()
    _corpus(base / "data")
    (base / "mini.yaml").write_text(CODEBOOK, encoding="utf-8")
    (base / "study.yaml").write_text(
        f"project: {{name: disc, output_dir: out}}\n"
        f"studies: [{{name: s, inputs: [data/], codebook: mini.yaml, roles: {json.dumps({'*': PEOPLE})}}}]\n",
        encoding="utf-8")
    bow = BagOfWordsEmbedder()
    cfg = load_config(base / "study.yaml")
    run_batch(cfg, embedder=bow)
    undiscovered = base / "undiscovered"
    shutil.copytree(cfg.store_path.parent, undiscovered)
    res = discover(cfg.store_path, embedder=bow, zeroshot_min_similarity=0.45)
    assert len(res.candidates) >= 3
    return cfg.store_path, undiscovered / cfg.store_path.name


@pytest.fixture
def store_path(discovered, tmp_path):
    shutil.copytree(discovered[0].parent, tmp_path / "out")
    return tmp_path / "out" / discovered[0].name


def _client(store, coder="ann"):
    web = make_app(store, coder=coder, token="t0k3n", learn=False)
    c = TestClient(web, base_url=BASE, follow_redirects=False)
    return c


def test_page_before_discovery_and_the_guard(discovered):
    _, undiscovered = discovered
    with _client(undiscovered) as c:
        assert c.get("/discovery").status_code == 403  # no session yet
        assert c.get("/?token=t0k3n").status_code == 303
        r = c.get("/discovery")
        assert r.status_code == 200 and "No discovery yet" in r.text and "precode discover PROJECT" in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert c.get("/discovery/static/discovery.js").status_code == 200
        assert c.get("/discovery/static/..%2Fapp.py").status_code == 404
        # actions are same-origin JSON POSTs, like the review's
        assert c.post("/api/discovery/reject", json={"id": "emergent-x"}).status_code == 403
        r = c.post("/api/discovery/reject", json={"id": "emergent-x"}, headers={"origin": BASE})
        assert r.status_code == 400 and "precode discover" in r.json()["error"]
        found = undiscovered.parent / "discovery" / "candidates.json"
        found.parent.mkdir(exist_ok=True)
        found.write_text('{"candidates": [{"id": 1}]}')  # not what `precode discover` writes
        r = c.get("/discovery")
        assert r.status_code == 500 and "not readable as discovery results" in r.text and "Traceback" not in r.text
        found.unlink()


def test_reject_and_errors_through_the_api(store_path):
    cands = load_candidates(store_path)
    with _client(store_path, coder=None) as c:
        c.get("/?token=t0k3n")
        page = c.get("/discovery").text
        assert "Who is reviewing?" in page and cands[0].id not in page
        post = lambda path, body: c.post(path, json=body, headers={"origin": BASE})  # noqa: E731
        assert post("/api/discovery/reject", {"id": cands[0].id}).status_code == 409  # no coder yet
        assert post("/api/coder", {"coder": "bo"}).status_code == 200
        page = c.get("/discovery").text
        assert all(cand.id in page for cand in cands) and cands[0].quotes[0].text.split()[0] in page
        r = post("/api/discovery/reject", {"id": cands[0].id, "memo": "small talk"})
        assert r.status_code == 200, r.text
        again = post("/api/discovery/reject", {"id": cands[0].id})
        assert again.status_code == 400 and "already rejected by bo" in again.json()["error"]
        assert post("/api/discovery/merge", {"ids": [cands[1].id]}).status_code == 400
        assert post("/api/discovery/accept", {"id": 7}).status_code == 400
        taken = post("/api/discovery/accept", {"id": cands[1].id, "name": "training"})  # a codebook code's name
        assert taken.status_code == 400 and "already has a code" in taken.json()["error"]
        assert 'class="badge b-rejected topic-status">rejected' in c.get("/discovery").text
    reviews = load_reviews(store_path)
    assert list(reviews) == [cands[0].id] and reviews[cands[0].id]["memo"] == "small talk"
    with Store(store_path) as st:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            st.conn.execute("UPDATE discovery_reviews SET verdict='accept'")


def test_accept_rename_and_merge_in_a_real_browser(store_path):
    sync_api = playwright_or_skip()
    expect = sync_api.expect
    cands = load_candidates(store_path)
    with served(store_path, learn=False) as url:
        with chromium_page(sync_api, viewport={"width": 1280, "height": 1000}) as (page, errors):
            page.goto(url)
            page.goto(url.split("/?")[0] + "/discovery")
            topics = page.locator("section.topic")
            expect(topics).to_have_count(len(cands))
            first = topics.nth(0)
            expect(first.locator("h2")).to_have_text(f"1. {cands[0].name}")
            expect(first.locator(".quotes li")).to_have_count(len(cands[0].quotes))

            # rename, then accept
            first.locator("input.rename").fill("Getting to the clinic")
            first.locator("button.accept").click()
            expect(page.locator("#status")).to_contain_text("Accepted: 'Emergent/Getting to the clinic'")
            expect(topics.nth(0).locator(".topic-status")).to_have_text("accepted as 'Getting to the clinic'")
            expect(topics.nth(0).locator("button")).to_have_count(0)

            # merge the next two under one name
            merge = page.locator("#merge")
            expect(merge).to_be_disabled()
            topics.nth(1).locator("input.pick").check()
            expect(page.locator("#merge-name")).to_have_value(cands[1].name)
            topics.nth(2).locator("input.pick").check()
            expect(merge).to_be_enabled()
            page.locator("#merge-name").fill("Daily working conditions")
            merge.click()
            expect(page.locator("#status")).to_contain_text("Merged 2 topics into 'Emergent/Daily working conditions'")
            for k in (1, 2):
                expect(topics.nth(k).locator(".topic-status")).to_have_text("merged into 'Daily working conditions'")
            out = ROOT / "test-artifacts"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / "review_discovery.png"), full_page=True)
            assert not errors, errors

    # the store: one append-only acceptance per topic, and the codes with the topics' quotes as examples
    reviews = load_reviews(store_path)
    assert set(reviews) == {c.id for c in cands[:3]} and {r["coder"] for r in reviews.values()} == {"ann"}
    assert reviews[cands[0].id]["renamed_to"] == "Getting to the clinic" and reviews[cands[0].id]["name"] == cands[0].name
    assert reviews[cands[1].id]["merged_with"] == [cands[2].id] and reviews[cands[2].id]["merged_with"] == [cands[1].id]
    book = load_project(store_path).codebooks["s"]
    codes = {c.name: c for c in book.codes if c.category == "Emergent"}
    assert set(codes) == {"Getting to the clinic", "Daily working conditions"}
    assert codes["Getting to the clinic"].examples == tuple(q.text for q in cands[0].quotes)
    assert set(codes["Daily working conditions"].examples) == {q.text for c in cands[1:3] for q in c.quotes}
    with Store(store_path) as st:
        assert [e.kind for e in st.code_events()][-2:] == ["create", "create"]

    # the report's emergent themes say what became of each topic
    from pipeline.export.report import build_report

    html = build_report(load_project(store_path), store_path, store_path.parent / "r.html", "t")[0].read_text()
    assert "accepted as &#39;Getting to the clinic&#39;" in html and "merged into &#39;Daily working conditions&#39;" in html

    # the next discovery (what `precode discover` lists) shows the decisions: an accepted topic is a code
    # of the codebook now (a zero-shot topic) or listed with its status, never proposed again
    later = discover(store_path, embedder=BagOfWordsEmbedder(), zeroshot_min_similarity=0.45)
    assert later.reencoded == 0
    covered = {c.code for c in later.covered}
    for c in later.candidates:
        assert c.id not in reviews or c.status == "accepted"
        if c.review:
            assert status_text(c.review) in ("accepted as 'Getting to the clinic'", "merged into 'Daily working conditions'")
    assert "Emergent/Getting to the clinic" in covered or any(c.review for c in later.candidates)
