"""The review web page: access control (token, cookie, Host, same-origin POSTs), the JSON actions, and a
real browser (Debian's chromium driven by Playwright) against the server started by ``serve``."""

from __future__ import annotations

import re

import pytest

from pipeline.decisions import NO_CODE, load
from pipeline.review.core import ReviewSession
from pipeline.review.web import make_app
from pipeline.store import Store, StoreError

from .conftest import ROOT, SAME_ORIGIN, chromium_page, client, playwright_or_skip, served, signed_in


@pytest.fixture
def store_path(web_store):
    return web_store


def test_token_cookie_host_and_headers(store_path):
    app = make_app(store_path, coder="ann", token="secret-token")
    with client(app) as c:
        assert c.get("/").status_code == 403
        assert c.get("/api/state").status_code == 403
        assert c.get("/static/review.js").status_code == 403
        assert c.get("/?token=wrong").status_code == 403
        bad = c.get("/?token=secret-token", headers={"host": "evil.example:8765"})
        assert bad.status_code == 400 and "default-src 'none'" in bad.headers["content-security-policy"]  # not spent
        for host in ("127.0.0.1.evil.example:8765", "localhost.:8765", "127.0.0.1:80x"):
            assert c.get("/", headers={"host": host}).status_code == 400, host
        r = c.get("/?token=secret-token&x=1")
        assert r.status_code == 303 and r.headers["location"] == "/?x=1"
        cookie = r.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        page = c.get("/")
        assert page.status_code == 200 and "precode" in page.text and "text/html" in page.headers["content-type"]
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff" and page.headers["referrer-policy"] == "no-referrer"
        assert "http" not in re.sub(r"http-equiv", "", page.text)  # no external asset
        assert c.get("/static/review.css").status_code == 200
        assert c.get("/static/../app.py").status_code in (403, 404)
        # with the cookie, a foreign Host header is still refused (DNS rebinding)
        assert c.get("/api/state", headers={"host": "rebind.example"}).status_code == 400
        assert c.get("/api/state", headers={"host": "localhost:8765"}).status_code == 200
        # a second visit with the cookie drops the token from the URL
        assert c.get("/?token=secret-token").status_code == 303
    with client(app) as other:  # the token works once
        r = other.get("/?token=secret-token")
        assert r.status_code == 403 and "used already" in r.text


def test_serve_hosts_are_exact(store_path):
    app = make_app(store_path, coder="ann", token="t", allowed_hosts={"127.0.0.1:8765", "localhost:8765"})
    with client(app) as c:
        assert c.get("/?token=t", headers={"host": "127.0.0.1:9999"}).status_code == 400
        signed_in(c, "t")
        assert c.get("/api/state").status_code == 200
        assert c.get("/api/state", headers={"host": "localhost"}).status_code == 400


def test_actions_go_to_the_store_with_the_coder(store_path):
    app = make_app(store_path, coder="ann", token="t")
    with signed_in(client(app), "t") as c:
        s = c.get("/api/state").json()
        assert s["coder"] == "ann" and s["coder_fixed"] and s["position"] == {"index": 0, "total": 3}
        it = s["item"]
        assert it["segment_id"] == "one.txt#t2" and it["speaker"] == "Dana"
        assert it["question"] == "🎙 What would be the greatest barriers?" and it["next"] == "What supports would help?"
        top = it["proposals"][0]
        assert top["path"] == "Barriers/Role confusion" and top["score"] > 0.9 and top["status"] == "proposed"
        doc = c.get("/api/document", params={"id": it["document_id"]}).json()["text"]
        assert doc[it["start"]:it["end"]] == it["text"]
        assert {sp["id"] for sp in s["spans"]} == {"one.txt#t2", "one.txt#t4", "one.txt#t5"}

        # cross-origin and non-JSON POSTs are refused, and record nothing
        body = {"segment_id": it["segment_id"], "action": "accept", "code_guid": top["guid"]}
        assert c.post("/api/decide", json=body, headers={"origin": "http://evil.example"}).status_code == 403
        assert c.post("/api/decide", json=body).status_code == 403  # no Origin at all
        assert c.post("/api/decide", content=b"{}", headers={**SAME_ORIGIN, "content-type": "text/plain"}).status_code == 415
        with Store(store_path) as st:
            assert load(st) == []

        c.post("/api/memo", json={"segment_id": it["segment_id"], "memo": "  clear   case "}, headers=SAME_ORIGIN)
        r = c.post("/api/decide", json=body, headers=SAME_ORIGIN)
        assert r.status_code == 200
        s = r.json()
        assert s["item"]["proposals"][0]["status"] == "accepted" and s["item"]["proposals"][0]["memo"] == ""
        assert s["pending_memo"] == "clear case"  # the memo is the segment's, not copied onto the decision
        assert s["progress"]["reviewed"] == 1 and s["progress"]["left"] == 2 and s["tone"] == "ok"
        assert s["recent"][0]["verdict"] == "accept" and s["recent"][0]["code"] == "Barriers/Role confusion"
        again = c.post("/api/decide", json=body, headers=SAME_ORIGIN).json()
        assert "already accepted" in again["message"]

        s = c.post("/api/goto", json={"step": 1}, headers=SAME_ORIGIN).json()
        second = s["item"]
        assert second["segment_id"] == "one.txt#t4"
        old = second["proposals"][0]
        codes = c.get("/api/codes", params={"segment_id": second["segment_id"], "action": "recode",
                                            "code_guid": old["guid"]}).json()["codes"]
        assert old["guid"] not in {x["guid"] for x in codes}
        new = next(x for x in codes if x["name"] == "Role confusion")
        s = c.post("/api/decide", json={"segment_id": second["segment_id"], "action": "recode", "code_guid": old["guid"],
                                        "new_guid": new["guid"]}, headers=SAME_ORIGIN).json()
        assert {(p["name"], p["status"]) for p in s["item"]["proposals"]} >= {("Training", "rejected"),
                                                                             ("Role confusion", "added")}
        s = c.post("/api/undo", json={}, headers=SAME_ORIGIN).json()
        assert s["message"].startswith("↶ Undone: recode Training → Role confusion")
        assert s["item"]["segment_id"] == "one.txt#t4" and not s["item"]["reviewed"]
        bad = c.post("/api/decide", json={"segment_id": "nope", "action": "accept", "code_guid": old["guid"]},
                     headers=SAME_ORIGIN)
        assert bad.status_code == 404 and "nope" in bad.json()["error"]

    with Store(store_path) as st:
        ds = load(st)
    assert [(d.verdict, d.coder, d.segment_id) for d in ds] == [
        ("accept", "ann", "one.txt#t2"), ("recode", "ann", "one.txt#t4"), ("undo", "ann", "one.txt#t4")]
    assert ds[0].memo == ""
    from pipeline.memos import current_memos

    with Store(store_path) as st:
        assert {k: m.memo for k, m in current_memos(st).items()} == {("one.txt#t2", "ann"): "clear case"}

    # state is derived from the store: a new server (and session) shows the decision, and a decision
    # recorded meanwhile by another program (the terminal review) shows on the next request
    app2 = make_app(store_path, coder="ann", token="t2")
    with signed_in(client(app2), "t2") as c:
        s = c.get("/api/state").json()  # reopens at the first segment ann has not reviewed
        assert s["item"]["segment_id"] == "one.txt#t4" and s["progress"]["reviewed"] == 1
        s = c.post("/api/goto", json={"step": -1}, headers=SAME_ORIGIN).json()
        assert s["item"]["proposals"][0]["status"] == "accepted"
        terminal = ReviewSession(store_path, "ann")
        last = terminal.items[-1]
        terminal.reject(last, last.proposals[0].code.guid)
        terminal.close()
        s = c.get("/api/state").json()
        assert s["progress"]["reviewed"] == 2 and s["recent"][0]["verdict"] == "reject"


def test_coder_asked_on_the_page_and_filters(store_path):
    app = make_app(store_path, token="t", order="uncertainty")
    with signed_in(client(app), "t") as c:
        s = c.get("/api/state").json()
        assert s["need_coder"] and s["coder"] is None
        r = c.post("/api/decide", json={"segment_id": "one.txt#t2", "action": "accept", "code_guid": "x"},
                   headers=SAME_ORIGIN)
        assert r.status_code == 409
        assert c.post("/api/coder", json={"coder": "   "}, headers=SAME_ORIGIN).status_code == 400
        s = c.post("/api/coder", json={"coder": " Bea  Smith "}, headers=SAME_ORIGIN).json()
        assert s["coder"] == "Bea Smith" and not s["need_coder"] and s["view"]["order"] == "uncertainty"
        it = s["item"]
        c.post("/api/decide", json={"segment_id": it["segment_id"], "action": "reject",
                                    "code_guid": it["proposals"][0]["guid"]}, headers=SAME_ORIGIN)
        s = c.post("/api/view", json={"status": "reviewed", "order": "document"}, headers=SAME_ORIGIN).json()
        assert s["position"]["total"] == 1 and s["item"]["segment_id"] == it["segment_id"]
        s = c.post("/api/view", json={"code": "space", "role": ""}, headers=SAME_ORIGIN).json()
        assert s["position"]["total"] == 3
        assert c.post("/api/view", json={"status": "maybe"}, headers=SAME_ORIGIN).status_code == 400
        assert c.post("/api/view", json={"order": "random"}, headers=SAME_ORIGIN).status_code == 400
        assert c.post("/api/view", json=["not", "an", "object"], headers=SAME_ORIGIN).status_code == 400
    with Store(store_path) as st:
        assert [(d.verdict, d.coder) for d in load(st)] == [("reject", "Bea Smith")]


def test_make_app_refuses_bad_arguments(store_path, tmp_path):
    with pytest.raises(StoreError, match="no project store"):
        make_app(tmp_path / "nope.sqlite")
    with pytest.raises(StoreError, match="coder name"):
        make_app(store_path, coder="  ")
    with pytest.raises(StoreError, match="unknown order"):
        make_app(store_path, order="random")


def test_review_in_a_real_browser(store_path):
    sync_api = playwright_or_skip()
    expect = sync_api.expect
    with served(store_path) as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]+", url)
        with chromium_page(sync_api, viewport={"width": 1366, "height": 1000}) as (page, errors):
            page.goto(url)
            assert "token" not in page.url
            expect(page.locator("#seg-title")).to_contain_text("Dana")
            mark = page.locator("#transcript mark.current")
            expect(mark).to_have_text("Nobody knows what the peer role is.")
            expect(page.locator("#progress-text")).to_have_text("0 reviewed / 3 left")

            page.keyboard.press("a")  # accept the top proposal
            first = page.locator("#proposals li").first
            expect(first).to_have_class(re.compile(r"\bst-accepted\b"))
            expect(page.locator("#status")).to_contain_text("Accepted Role confusion")
            expect(page.locator("#progress-text")).to_have_text("1 reviewed / 2 left")

            page.keyboard.press("s")  # next segment
            expect(mark).to_have_text("Training for staff and a room to meet.")
            page.keyboard.press("c")  # recode the selected (top) proposal
            expect(page.locator("#picker")).to_be_visible()
            page.keyboard.type("conf")
            expect(page.locator("#picker-list li")).to_have_count(1)
            page.keyboard.press("Enter")
            expect(page.locator("#picker")).to_be_hidden()
            expect(page.locator("#status")).to_contain_text("Recoded Training → Role confusion")

            page.reload()
            expect(mark).to_have_text("Training for staff and a room to meet.")  # the same segment
            rows = page.locator("#proposals li")
            expect(rows.filter(has_text="Training")).to_have_class(re.compile(r"\bst-rejected\b"))
            expect(rows.filter(has_text="Role confusion")).to_have_class(re.compile(r"\bst-added\b"))
            recent = page.locator("#recent li")
            expect(recent).to_have_count(2)
            expect(recent.nth(0)).to_contain_text("Facilitators/Training → Barriers/Role confusion")
            expect(recent.nth(1)).to_contain_text("accepted")
            expect(page.locator("#progress-text")).to_have_text("2 reviewed / 1 left")

            page.keyboard.press("ArrowRight")  # the transcript is escaped text, never markup
            expect(mark).to_have_text("We need an office <b>room</b> & a key.")
            assert page.locator("#transcript b").count() == 0
            page.keyboard.press("x")  # no code applies: a decision on the segment, undoable like any other
            expect(page.locator("#status")).to_contain_text("No code applies")
            expect(page.locator("#progress-text")).to_have_text("3 reviewed / 0 left")
            expect(page.locator("#flag-legend")).to_contain_text("category only")
            page.keyboard.press("ArrowLeft")
            expect(mark).to_have_text("Training for staff and a room to meet.")
            out = ROOT / "test-artifacts"
            out.mkdir(exist_ok=True)
            page.screenshot(path=str(out / "review_web.png"), full_page=True)
            assert not errors, errors
    with Store(store_path) as st:
        assert [(d.verdict, d.coder, d.segment_id) for d in load(st)] == [
            ("accept", "ann", "one.txt#t2"), ("recode", "ann", "one.txt#t4"), ("accept", "ann", "one.txt#t5")]
        assert load(st)[-1].code_guid == NO_CODE
