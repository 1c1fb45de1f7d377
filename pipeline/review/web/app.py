"""The review as a local web page, a thin layer over :class:`~pipeline.review.core.ReviewSession`.

Security model (the page shows participants' words, so it must not leak to other sites or hosts):

* :func:`serve` listens on 127.0.0.1 only, on a port of its choosing unless told;
* a random one-time token in the printed URL is exchanged, on first visit, for an HttpOnly,
  SameSite=Strict session cookie, and the browser is sent on to the URL without the token; a request
  without a valid session gets 403, and the token does not work a second time;
* a request whose Host header is not ``127.0.0.1:PORT`` or ``localhost:PORT`` gets 400 (DNS rebinding):
  the name through Starlette's ``TrustedHostMiddleware``, the port (once :func:`serve` knows it) here;
* a POST must come from the page itself (its ``Origin`` is the page's origin) with a JSON body and the
  session cookie; anything else gets 403 / 415;
* strict Content-Security-Policy: the page loads its own script and stylesheet, nothing else.

State lives in the store: every action goes through a ReviewSession (decisions are written at once), and
the page asks for the state after each action, so a reload shows exactly what the store holds. The only
things kept in memory are, per browser session, the coder's name (when not given with ``--coder``), the
filters and order, the list of segments being reviewed (fixed when the filters change, so a segment does not
jump away when it is decided), the current position and memos waiting for a decision (as in the terminal).

SQLite connections belong to the thread that opened them, so every ReviewSession is opened and used in one
worker thread; a session is reopened when another connection (the terminal review, a new run) changed the
store (``PRAGMA data_version``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import secrets
import socket
import threading
import webbrowser
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from ... import decisions as dec
from ...errors import PrecodeError
from ...flags import FLAG_LEGEND
from ...store import StoreError
from ..core import Filters, ReviewItem, ReviewSession
from .discovery import routes as discovery_routes
from .errors import WebError

STATIC = Path(__file__).with_name("static")
ASSETS = {"review.css": "text/css; charset=utf-8", "review.js": "text/javascript; charset=utf-8"}
ORDERS = ("document", "uncertainty")
STATUSES = ("unreviewed", "reviewed", "proposed", "accepted", "rejected", "added")
KNOWN_FLAGS = tuple(FLAG_LEGEND)
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
MAX_FIELD = 4000  # longest memo or filter accepted from the page
MAX_NAME = 80  # longest coder name
RECENT = 8  # decisions listed on the page
MAX_BODY = 64 * 1024  # largest request body accepted (a memo is at most MAX_FIELD characters)
MAX_DEPTH = 16  # deepest JSON nesting accepted (the page sends flat objects)

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
}

DONE = {"accept": "✓ Accepted", "reject": "✗ Rejected", "recode": "Recoded", "add": "+ Added",
        "none": "✓ No code applies to"}


@dataclass
class _Browser:
    """What one browser session holds besides the store."""

    coder: str | None
    filters: Filters
    order: str
    ids: list[str] | None = None  # segment ids under review, fixed when the filters change
    current: str | None = None
    memos: dict[str, str] = field(default_factory=dict)  # segment id -> memo waiting for a decision there


def _fmt_time(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _clean(value: Any, what: str, limit: int = MAX_FIELD) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WebError(f"{what} must be text")
    if len(value) > limit:
        raise WebError(f"{what} is too long (at most {limit} characters)")
    return " ".join(value.split())


def _guid(body: dict, key: str) -> str | None:
    value = body.get(key)
    return value if isinstance(value, str) else None


class _Review:
    def __init__(self, store_path: Path, coder: str | None, token: str, order: str, learn: bool = True):
        self.store_path = store_path
        self.learn = learn
        self.fixed_coder = coder
        self.order = order
        self.token = token
        self.token_used = False
        self.cookie_name = f"precode_review_{secrets.token_hex(4)}"  # cookies ignore ports: one name per server
        self.allowed_hosts: set[str] | None = None  # exact "host:port" values; None = loopback names, any port
        self.browsers: dict[str, _Browser] = {}
        self.project = store_path.parent.name or store_path.name
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._sessions: dict[tuple[str, str], tuple[ReviewSession, int]] = {}  # worker thread only

    # -- access (event loop thread) ---------------------------------------------------------------
    def host_ok(self, host: str) -> bool:
        """The Host header's port (its name is checked before, by TrustedHostMiddleware)."""
        host = host.strip().lower()
        if self.allowed_hosts is not None:
            return host in self.allowed_hosts
        _name, sep, port = host.partition(":")
        return not sep or port.isdigit()

    def redeem(self, token: str) -> bool:
        """True once: for the first request carrying the right token."""
        with self._lock:
            if self.token_used or not secrets.compare_digest(token.encode(), self.token.encode()):
                return False
            self.token_used = True
            return True

    def new_browser(self) -> str:
        sid = secrets.token_urlsafe(32)
        self.browsers[sid] = _Browser(self.fixed_coder, Filters(), self.order)
        return sid

    # -- the store worker -------------------------------------------------------------------------
    async def call(self, fn: Callable, *args) -> Response:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="precode-review-store")
        loop = asyncio.get_running_loop()
        try:
            data = await loop.run_in_executor(self._pool, functools.partial(fn, *args))
        except WebError as e:
            return JSONResponse({"error": str(e)}, e.status)
        except PrecodeError as e:
            return JSONResponse({"error": str(e)}, 400)
        return JSONResponse(data)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.get_running_loop().run_in_executor(pool, self._close_sessions)
            pool.shutdown(wait=True)

    def _close_sessions(self) -> None:
        for s, _ in self._sessions.values():
            s.close()
        self._sessions.clear()

    def _session(self, b: _Browser) -> ReviewSession:
        if b.coder is None:
            raise WebError("who is reviewing? Give your name first", 409)
        key = (b.coder, b.order)
        cached = self._sessions.get(key)
        if cached is not None:
            s, version = cached
            if s.store.data_version() == version:
                return s
            s.close()  # another connection changed the store: read it again
        s = ReviewSession(self.store_path, b.coder, Filters(), b.order, learn=self.learn)
        self._sessions[key] = (s, s.store.data_version())
        return s

    def _view(self, b: _Browser, s: ReviewSession) -> tuple[dict[str, ReviewItem], list[str]]:
        by_id = {i.segment_id: i for i in s.items}
        if b.ids is None:
            b.ids = [i.segment_id for i in s.items if b.filters.keep(i)]
            if b.current not in b.ids:
                b.current = None
        ids = [x for x in b.ids if x in by_id]
        if b.current not in ids:  # (re)opening: the first segment this coder has not reviewed
            b.current = next((x for x in ids if not by_id[x].reviewed), ids[0]) if ids else None
        return by_id, ids

    def _item(self, b: _Browser, s: ReviewSession, segment_id: Any) -> ReviewItem:
        by_id, ids = self._view(b, s)
        if not isinstance(segment_id, str) or segment_id not in by_id:
            raise WebError(f"no segment '{segment_id}' to review here", 404)
        if segment_id in ids:
            b.current = segment_id
        return by_id[segment_id]

    # -- state ------------------------------------------------------------------------------------
    def state(self, b: _Browser, message: str = "", tone: str = "", focus: str | None = None) -> dict:
        base = {"project": self.project, "coder": b.coder, "coder_fixed": self.fixed_coder is not None,
                "message": message, "tone": tone, "focus": focus,
                "view": {"code": b.filters.code or "", "document": b.filters.document or "",
                         "role": b.filters.role or "", "flag": b.filters.flag or "",
                         "status": b.filters.status or "", "order": b.order}}
        if b.coder is None:
            return {**base, "need_coder": True}
        s = self._session(b)
        by_id, ids = self._view(b, s)
        view = [by_id[x] for x in ids]
        item = by_id.get(b.current) if b.current else None
        saved, s.items = s.items, view
        try:
            progress = s.progress()  # over the segments under review
        finally:
            s.items = saved
        decisions = dec.load(s.store, b.coder)
        memos = {}
        if item is not None:
            memos = {guid: st.memo for (seg, guid, _), st in dec.current_state(decisions).items()
                     if seg == item.segment_id}
        in_view = set(ids)
        spans = []
        if item is not None:
            spans = [{"id": i.segment_id, "start": i.start, "end": i.end, "reviewed": i.reviewed,
                      "in_view": i.segment_id in in_view}
                     for i in s.items if i.document_id == item.document_id]
        documents = list(dict.fromkeys(i.document_id for i in s.items))
        roles = sorted({i.role for i in s.items if i.role}, key=str.casefold)
        flags = sorted({f for i in s.items for p in i.proposals for f in p.flags} | set(KNOWN_FLAGS))
        return {
            **base,
            "need_coder": False,
            "position": {"index": ids.index(b.current) if item is not None else -1, "total": len(ids)},
            "item": self._item_json(item, memos) if item is not None else None,
            "pending_memo": s.segment_memo(item) if item is not None else "",  # the segment's memo
            "progress": progress,
            "learning": self._learning_json(s),
            "spans": spans,
            "recent": self._recent(s, decisions, in_view),
            "flag_legend": FLAG_LEGEND,
            "options": {"documents": documents, "roles": roles, "flags": flags, "statuses": list(STATUSES),
                        "orders": list(ORDERS), "codes": sorted({c.path for c in s.codes.values() if not c.retired},
                                                                key=str.casefold)},
        }

    @staticmethod
    def _learning_json(s: ReviewSession) -> dict:
        st = s.learning_status()
        return {"enabled": st.enabled, "summary": st.summary(), "learned": st.learned, "zero_shot": st.zero_shot,
                "min_examples": st.min_examples, "refit_ms": st.refit_ms, "self_trained": st.self_trained}

    @staticmethod
    def _item_json(item: ReviewItem, memos: dict[str, str]) -> dict:
        return {
            "segment_id": item.segment_id, "document_id": item.document_id, "study": item.study,
            "speaker": item.speaker, "role": item.role, "text": item.text, "start": item.start, "end": item.end,
            "time": _fmt_time(item.start_time), "question": item.question, "previous": item.previous,
            "next": item.next, "reviewed": item.reviewed,
            "proposals": [{"guid": p.code.guid, "path": p.code.path, "name": p.code.name, "category": p.code.category,
                           "description": p.code.description, "score": p.score, "rank": p.rank, "flags": p.flags,
                           "evidence": p.evidence, "status": p.status, "memo": memos.get(p.code.guid, ""),
                           "learned": p.learned, "retired": p.code.retired}
                          for p in item.proposals],
        }

    @staticmethod
    def _recent(s: ReviewSession, decisions: list, in_view: set[str]) -> list[dict]:
        undone = {d.undoes for d in decisions if d.verdict == "undo"}

        def name(guid):
            c = s.codes.get(guid)
            return c.path if c else guid

        out = []
        for d in reversed(decisions):
            if d.verdict == "undo":
                continue
            out.append({"id": d.id, "verdict": d.verdict, "code": name(d.code_guid),
                        "replaces": name(d.replaces) if d.replaces else None, "segment_id": d.segment_id,
                        "time": d.time, "memo": d.memo, "undone": d.id in undone, "in_view": d.segment_id in in_view})
            if len(out) == RECENT:
                break
        return out

    # -- actions (worker thread) -------------------------------------------------------------------
    def set_coder(self, b: _Browser, body: dict) -> dict:
        if self.fixed_coder is not None:
            raise WebError(f"the coder is set by the command line ({self.fixed_coder})")
        name = _clean(body.get("coder"), "the name", MAX_NAME)
        if not name or not name.isprintable():
            raise WebError("give a name (letters, digits, spaces)")
        b.coder, b.ids, b.current = name, None, None
        b.memos.clear()
        return self.state(b, f"Reviewing as {name}", "ok")

    def set_view(self, b: _Browser, body: dict) -> dict:
        values = {k: _clean(body.get(k), k) or None for k in ("code", "document", "role", "flag", "status")}
        if values["status"] and values["status"] not in STATUSES:
            raise WebError(f"unknown status '{values['status']}' ({', '.join(STATUSES)})")
        order = body.get("order") or b.order
        if order not in ORDERS:
            raise WebError(f"unknown order '{order}' (document or uncertainty)")
        b.filters, b.order, b.ids = Filters(**values), order, None
        return self.state(b)

    def goto(self, b: _Browser, body: dict) -> dict:
        s = self._session(b)
        by_id, ids = self._view(b, s)
        if not ids:
            return self.state(b, "Nothing to review with these filters", "warn")
        here = ids.index(b.current)
        if "segment_id" in body:
            target = body["segment_id"]
            if target not in ids:
                raise WebError(f"segment '{target}' is not in this list (change the filters)", 404)
            b.current = target
            return self.state(b)
        if body.get("unreviewed"):
            nxt = next((ids[j] for j in list(range(here + 1, len(ids))) + list(range(0, here))
                        if not by_id[ids[j]].reviewed), None)
            if nxt is None:
                return self.state(b, "Every segment here is reviewed", "ok")
            b.current = nxt
            return self.state(b)
        step = body.get("step", 1)
        if not isinstance(step, int) or isinstance(step, bool):
            raise WebError("step must be a whole number")
        target = here + step
        if target >= len(ids):
            return self.state(b, "This is the last segment", "warn")
        if target < 0:
            return self.state(b, "This is the first segment", "warn")
        b.current = ids[target]
        return self.state(b)

    def decide(self, b: _Browser, body: dict) -> dict:
        s = self._session(b)
        item = self._item(b, s, body.get("segment_id"))
        action = body.get("action")
        if action not in DONE:
            raise WebError("action must be accept, reject, recode, add or none")
        memo = b.memos.get(item.segment_id, "")
        by_guid = {p.code.guid: p for p in item.proposals}
        if action == "none":  # no code applies: a decision on the segment, not on a proposal
            if by_guid.get(dec.NO_CODE) is not None and by_guid[dec.NO_CODE].status == "accepted":
                return self.state(b, "already marked: no code applies", "warn", dec.NO_CODE)
            s.no_code(item, memo)
            b.memos.pop(item.segment_id, None)
            self._follow_order(b, s)
            return self.state(b, "✓ No code applies to this segment" + (" (with memo)" if memo else "") + " · u undoes",
                              "ok", dec.NO_CODE)
        old = by_guid.get(_guid(body, "code_guid")) if action != "add" else None
        if action != "add" and old is None:
            raise WebError("that code is not on this segment")
        new = s.codes.get(_guid(body, "new_guid")) if action in ("recode", "add") else None
        if action in ("recode", "add") and new is None:
            raise WebError("unknown code")
        if action in ("accept", "reject"):
            status = "accepted" if action == "accept" else "rejected"
            if old.status == status or (action == "accept" and old.status == "added"):
                return self.state(b, f"{old.code.name} is already {old.status}", "warn", old.code.guid)
            getattr(s, action)(item, old.code.guid, memo)
            what, focus = old.code.name, old.code.guid
        elif action == "recode":
            if new.guid == old.code.guid:
                raise WebError("pick a different code to recode to")
            s.recode(item, old.code.guid, new.guid, memo)
            what, focus = f"{old.code.name} → {new.name}", new.guid
        else:
            if by_guid.get(new.guid) is not None and by_guid[new.guid].status in ("accepted", "added"):
                return self.state(b, f"{new.name} is already {by_guid[new.guid].status}", "warn", new.guid)
            s.add(item, new.guid, memo)
            what, focus = new.name, new.guid
        b.memos.pop(item.segment_id, None)
        self._follow_order(b, s)
        return self.state(b, f"{DONE[action]} {what}" + (" (with memo)" if memo else "") + " · u undoes",
                          "ok", focus)

    @staticmethod
    def _follow_order(b: _Browser, s: ReviewSession) -> None:
        """Uncertainty order: after a decision (and the refit it causes) the segments after the current
        one follow the session's new order; those already passed stay where they are."""
        if b.order != "uncertainty" or b.ids is None or b.current not in b.ids:
            return
        pos = b.ids.index(b.current)
        rank = {i.segment_id: k for k, i in enumerate(s.items)}
        b.ids[pos + 1:] = sorted(b.ids[pos + 1:], key=lambda x: rank.get(x, len(rank)))

    def undo(self, b: _Browser, body: dict) -> dict:
        s = self._session(b)
        _, ids = self._view(b, s)
        target = dec.last_undoable(s.store, b.coder)  # read only: what the undo will cancel
        d = s.undo()
        if d is None:
            return self.state(b, "Nothing to undo", "warn")
        name = s.codes[d.code_guid].name if d.code_guid in s.codes else d.code_guid
        what = name
        if target is not None and target.id == d.undoes:
            if target.verdict == "recode":
                old = s.codes.get(target.replaces)
                what = f"recode {old.name if old else target.replaces} → {name}"
            else:
                what = f"{target.verdict} {name}"
        if d.segment_id in ids:
            b.current = d.segment_id
            self._follow_order(b, s)
            return self.state(b, f"↶ Undone: {what}", "undo", getattr(target, "replaces", None) or d.code_guid)
        return self.state(b, f"↶ Undone: {what} on {d.segment_id} (not in this list)", "undo")

    def create_code(self, b: _Browser, body: dict) -> dict:
        """In vivo: a new code named ``name``, the segment's text its first example, added to the segment."""
        s = self._session(b)
        item = self._item(b, s, body.get("segment_id"))
        name = _clean(body.get("name"), "the code name", 200)
        if not name:
            raise WebError("the new code needs a name")
        memo = b.memos.get(item.segment_id, "")
        code = s.create_code(item, name, memo=memo or "in vivo")  # a PrecodeError answers 400
        b.memos.pop(item.segment_id, None)
        self._follow_order(b, s)
        return self.state(b, f"created {code.path} (in vivo) and added it · u undoes the coding", "ok", code.guid)

    def edit_code(self, b: _Browser, body: dict) -> dict:
        """Edit the codebook: ``action`` rename (``name``), merge (into ``into_guid``) or retire the code
        ``code_guid``; an append-only event with this coder and the time, effective for every coder."""
        s = self._session(b)
        action, code = body.get("action"), s.codes.get(_guid(body, "code_guid"))
        if action not in ("rename", "merge", "retire"):
            raise WebError("action must be rename, merge or retire")
        if code is None:
            raise WebError("unknown code")
        if action == "rename":
            new = s.rename_code(code.guid, _clean(body.get("name"), "the new name", 200))
            message, focus = f"✎ Renamed {code.path} → {new.name}: its decisions follow", new.guid
        elif action == "merge":
            into = s.codes.get(_guid(body, "into_guid"))
            if into is None:
                raise WebError("unknown code to merge into")
            new = s.merge_code(code.guid, into.guid)
            message, focus = f"✎ Merged {code.path} into {new.path}: its decisions follow", new.guid
        else:
            s.retire_code(code.guid)
            message, focus = f"✎ Retired {code.path}: no longer offered; its decisions are kept as orphaned", None
        self._follow_order(b, s)
        return self.state(b, message, "ok", focus)

    def set_memo(self, b: _Browser, body: dict) -> dict:
        s = self._session(b)
        item = self._item(b, s, body.get("segment_id"))
        memo = " ".join(_clean(body.get("memo"), "the memo").split())
        if memo == s.segment_memo(item):
            return self.state(b)
        s.set_memo(item, memo)  # the segment's memo, saved at once; never copied onto a decision
        return self.state(b, "✎ Memo saved on this segment" if memo else "Memo removed", "ok")

    def code_span(self, b: _Browser, body: dict) -> dict:
        """Code a selected part of the current segment (offsets in code points into the document's text)."""
        s = self._session(b)
        item = self._item(b, s, body.get("segment_id"))
        start, end = body.get("start"), body.get("end")
        if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
            raise WebError("start and end must be whole numbers")
        code = s.codes.get(_guid(body, "code_guid"))
        if code is None:
            raise WebError("unknown code")
        try:
            span_id = s.code_span(item, start, end, code.guid)
        except StoreError as e:
            raise WebError(str(e)) from None
        b.ids = None  # the span is a segment of its own now; the current segment stays
        span = next((i for i in s.items if i.segment_id == span_id), item)
        return self.state(b, f"Coded the selection “{span.text[:60]}” as {code.name} · u undoes", "ok", code.guid)

    def codes(self, b: _Browser, segment_id: str, action: str, code_guid: str) -> dict:
        """The codes the recode / add list offers for a segment (the page filters them as you type)."""
        s = self._session(b)
        item = self._item(b, s, segment_id)
        if action == "recode":
            skip = {code_guid}
        elif action == "edit":  # a codebook edit: every code in use, the selected proposal's (code_guid) first
            skip = set()
        else:
            skip = {p.code.guid for p in item.proposals if p.status in ("accepted", "added")}
        found = sorted((c for c in s.search_codes("", item.study) if c.guid not in skip),
                       key=lambda c: action == "edit" and c.guid != code_guid)
        return {"codes": [{"guid": c.guid, "path": c.path, "name": c.name, "category": c.category,
                           "description": c.description} for c in found]}

    def document(self, b: _Browser, document_id: str) -> dict:
        s = self._session(b)
        if not any(i.document_id == document_id for i in s.items):
            raise WebError(f"no document '{document_id}' here", 404)
        return {"id": document_id, "text": s.document_text(document_id)}


# -- HTTP -----------------------------------------------------------------------------------------------
def _deny(message: str, status: int = 403) -> Response:
    return PlainTextResponse(message, status)


class _Secured:
    """The outermost layer: HTTP only (a websocket is closed), the security headers on every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return

        async def secured(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    if k not in headers:
                        headers[k] = v
            await send(message)

        await self.app(scope, receive, secured)


class _Guard:
    """Host port check, token -> cookie exchange, session check, same-origin POSTs (inside :class:`_Secured`
    and Starlette's ``TrustedHostMiddleware``, which refuses other host names)."""

    def __init__(self, app, review: _Review):
        self.app = app
        self.review = review

    async def __call__(self, scope, receive, secured):
        if scope["type"] != "http":
            return await self.app(scope, receive, secured)
        review, headers = self.review, Headers(scope=scope)
        host = headers.get("host", "")
        if not review.host_ok(host):
            return await _deny("Bad Host header: this page answers only as 127.0.0.1 or localhost.", 400)(
                scope, receive, secured)
        request = Request(scope)
        sid = request.cookies.get(review.cookie_name, "")
        browser = review.browsers.get(sid) if sid else None
        token = request.query_params.get("token")
        if token is not None and request.method == "HEAD" and browser is None:
            # a link checker or preview asks HEAD first: answer without spending the one-time token
            return await PlainTextResponse("", 200)(scope, receive, secured)
        if token is not None and request.method in ("GET", "HEAD"):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            clean = request.url.path + ("?" + urlencode(rest) if rest else "")
            if browser is None:
                if not review.redeem(token):
                    used = review.token_used and secrets.compare_digest(token.encode(), review.token.encode())
                    return await _deny(
                        "This link has been used already (it works once). Restart `precode serve` for a new one."
                        if used else "Wrong token: open the link printed by `precode serve`.")(scope, receive, secured)
                sid = review.new_browser()
            response = RedirectResponse(clean, 303)
            response.set_cookie(review.cookie_name, sid, httponly=True, samesite="strict", path="/")
            return await response(scope, receive, secured)
        if browser is None:
            return await _deny("Open the link printed by `precode serve` (it carries a one-time token).")(
                scope, receive, secured)
        if request.method not in ("GET", "HEAD"):
            if headers.get("origin", "").lower() != f"http://{host.strip().lower()}":
                return await JSONResponse({"error": "cross-origin request refused"}, 403)(scope, receive, secured)
            if headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
                return await JSONResponse({"error": "send JSON"}, 415)(scope, receive, secured)
            length = headers.get("content-length", "")
            if length and (not length.isdigit() or int(length) > MAX_BODY):
                return await JSONResponse({"error": f"request body over {MAX_BODY // 1024} KB"}, 413)(scope, receive, secured)
        scope["precode.browser"] = browser
        await self.app(scope, receive, secured)


def _json_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), read without parsing it."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in raw.decode("utf-8", errors="replace"):
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


async def _body(request: Request) -> dict:
    """The request's JSON object: at most MAX_BODY bytes (413), MAX_DEPTH levels deep (400), never a traceback."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise WebError(f"request body over {MAX_BODY // 1024} KB", 413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if _json_depth(raw) > MAX_DEPTH:
        raise WebError(f"JSON nested deeper than {MAX_DEPTH} levels", 400)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise WebError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise WebError("the request body must be a JSON object")
    return body


def _routes(review: _Review) -> list[Route]:
    def browser(request: Request) -> _Browser:
        return request.scope["precode.browser"]

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return _deny("not found", 404)
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    async def get_state(request: Request) -> Response:
        return await review.call(review.state, browser(request))

    async def get_codes(request: Request) -> Response:
        q = request.query_params
        return await review.call(review.codes, browser(request), q.get("segment_id", ""),
                                 q.get("action", "add"), q.get("code_guid", ""))

    async def get_document(request: Request) -> Response:
        return await review.call(review.document, browser(request), request.query_params.get("id", ""))

    def post(fn):
        async def endpoint(request: Request) -> Response:
            try:
                body = await _body(request)
            except WebError as e:
                return JSONResponse({"error": str(e)}, e.status)
            return await review.call(fn, browser(request), body)

        return endpoint

    return [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", asset, methods=["GET"]),
        Route("/api/state", get_state, methods=["GET"]),
        Route("/api/codes", get_codes, methods=["GET"]),
        Route("/api/document", get_document, methods=["GET"]),
        Route("/api/coder", post(review.set_coder), methods=["POST"]),
        Route("/api/view", post(review.set_view), methods=["POST"]),
        Route("/api/goto", post(review.goto), methods=["POST"]),
        Route("/api/decide", post(review.decide), methods=["POST"]),
        Route("/api/memo", post(review.set_memo), methods=["POST"]),
        Route("/api/span", post(review.code_span), methods=["POST"]),
        Route("/api/code", post(review.create_code), methods=["POST"]),
        Route("/api/codebook", post(review.edit_code), methods=["POST"]),
        Route("/api/undo", post(review.undo), methods=["POST"]),
        *discovery_routes(review, browser, post),  # /discovery: topics from `precode discover` (discovery.py)
    ]


def make_app(store_path: Path, coder: str | None = None, token: str | None = None, order: str = "document",
             *, allowed_hosts: set[str] | None = None, learn: bool = True) -> Starlette:
    """The review page for a project store, as a Starlette app.

    ``coder``: the name every decision carries; when None the page asks for it once per browser session.
    ``token``: the one-time access token (a random one when None; it is ``app.state.token``).
    ``allowed_hosts``: exact ``host:port`` values for the Host header; by default 127.0.0.1 and localhost
    on any port (:func:`serve` narrows this to its own port).
    ``learn``: refit the proposer after each decision (:mod:`pipeline.review.live`).
    Raises StoreError for a missing or unusable store, a blank coder or an unknown order.
    """
    from ...project import store_file

    path = store_file(store_path)
    if order not in ORDERS:
        raise StoreError(f"unknown order '{order}' (document or uncertainty)")
    if coder is not None and not coder.strip():
        raise StoreError("a coder name is needed (--coder NAME)")
    ReviewSession(path, coder.strip() if coder else "precode-check", learn=False).close()  # fails early on a bad store
    review = _Review(path, coder.strip() if coder else None, token or secrets.token_urlsafe(32), order, learn)
    if allowed_hosts is not None:
        review.allowed_hosts = {h.lower() for h in allowed_hosts}

    @asynccontextmanager
    async def lifespan(app):
        yield
        await review.close()

    names = sorted({*LOOPBACK_NAMES, *(h.rsplit(":", 1)[0] for h in review.allowed_hosts or ())})
    app = Starlette(routes=_routes(review), lifespan=lifespan, middleware=[
        Middleware(_Secured), Middleware(TrustedHostMiddleware, allowed_hosts=names, www_redirect=False),
        Middleware(_Guard, review=review)])
    app.state.review = review
    app.state.token = review.token
    app.state.cookie_name = review.cookie_name
    return app


def serve(store_path: Path, *, port: int = 0, coder: str | None = None, open_browser: bool = False,
          order: str = "document", on_ready: Callable[[str], None] | None = None,
          stop: threading.Event | None = None, learn: bool = True) -> None:
    """Serve the review page on 127.0.0.1 until Ctrl-C (or until ``stop`` is set).

    ``port`` 0 picks a free port. Once the server accepts connections, the URL with a fresh one-time token
    is passed to ``on_ready`` (printed on stdout when there is none) and, with ``open_browser``, opened in
    the default browser. Raises StoreError for a bad store / coder / order, WebError when the port is taken.
    """
    import uvicorn

    app = make_app(store_path, coder, secrets.token_urlsafe(32), order, learn=learn)
    review: _Review = app.state.review
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    except OSError as e:
        sock.close()
        raise WebError(f"cannot listen on 127.0.0.1:{port} ({e.strerror or e})") from None
    port = sock.getsockname()[1]
    review.allowed_hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    url = f"http://127.0.0.1:{port}/?token={review.token}"
    launcher = _Launcher()

    def ready() -> None:
        if on_ready is not None:
            on_ready(url)
        else:
            print(f"precode review of {review.store_path}:\n  {url}\n"
                  "Open this link (it works once) in a browser on this computer; Ctrl-C stops the server.", flush=True)
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(launcher.open(url),), daemon=True).start()

    class _Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets=sockets)
            if self.started and not self.should_exit:
                ready()

        async def on_tick(self, counter: int) -> bool:
            if stop is not None and stop.is_set():
                return True
            return await super().on_tick(counter)

    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            server_header=False, proxy_headers=False, ws="none", lifespan="on",
                            timeout_graceful_shutdown=3)
    try:
        _Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        launcher.remove()


class _Launcher:
    """Opening a browser runs a command (xdg-open URL) that any user sees in ``ps``: the browser is given a
    private page (0600, in a 0700 folder) that forwards to the link, so the token never is on a command line."""

    def __init__(self):
        self.folder: Path | None = None

    def open(self, url: str) -> str:
        import html
        import tempfile

        from ...private import write_private

        self.folder = Path(tempfile.mkdtemp(prefix="precode-open-"))  # 0700
        page = write_private(self.folder / "open.html", (
            '<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer">'
            f'<meta http-equiv="refresh" content="0;url={html.escape(url, quote=True)}"><title>precode</title>'))
        timer = threading.Timer(120, self.remove)  # the link works once anyway
        timer.daemon = True
        timer.start()
        return page.as_uri()

    def remove(self) -> None:
        import shutil

        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
