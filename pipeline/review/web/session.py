"""What the review server holds: :class:`Review` (the store, the access token, the browser sessions, the
worker thread) and, per browser, :class:`Browser`; :meth:`Review.state` is the JSON the page draws.

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
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from starlette.responses import JSONResponse, Response

from ... import decisions as dec
from ...errors import PrecodeError
from ...flags import FLAG_LEGEND
from ..core import Filters, ReviewItem, ReviewSession
from .errors import WebError

ORDERS = ("document", "uncertainty")
STATUSES = ("unreviewed", "reviewed", "proposed", "accepted", "rejected", "added")
KNOWN_FLAGS = tuple(FLAG_LEGEND)
RECENT = 8  # decisions listed on the page


@dataclass
class Browser:
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


class Review:
    """One review server: its store, access token and browser sessions, and the worker thread that owns
    the store's connections. The page's actions (:mod:`.segments`, :mod:`.codebook`) run through :meth:`call`."""

    def __init__(self, store_path: Path, coder: str | None, token: str, order: str, learn: bool = True):
        self.store_path = store_path
        self.learn = learn
        self.fixed_coder = coder
        self.order = order
        self.token = token
        self.token_used = False
        self.cookie_name = f"precode_review_{secrets.token_hex(4)}"  # cookies ignore ports: one name per server
        self.allowed_hosts: set[str] | None = None  # exact "host:port" values; None = loopback names, any port
        self.browsers: dict[str, Browser] = {}
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
        self.browsers[sid] = Browser(self.fixed_coder, Filters(), self.order)
        return sid

    # -- the store worker -------------------------------------------------------------------------
    async def call(self, fn: Callable[..., dict], *args: Any) -> Response:
        """``fn(*args)`` in the worker thread, as a JSON response (a WebError / PrecodeError as its error)."""
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

    def session(self, b: Browser) -> ReviewSession:
        """The browser's coder's ReviewSession (worker thread), read again when the store changed."""
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

    @staticmethod
    def view(b: Browser, s: ReviewSession) -> tuple[dict[str, ReviewItem], list[str]]:
        """Every item by segment id, and the ids under review (fixing the list and the current one)."""
        by_id = {i.segment_id: i for i in s.items}
        if b.ids is None:
            b.ids = [i.segment_id for i in s.items if b.filters.keep(i)]
            if b.current not in b.ids:
                b.current = None
        ids = [x for x in b.ids if x in by_id]
        if b.current not in ids:  # (re)opening: the first segment this coder has not reviewed
            b.current = next((x for x in ids if not by_id[x].reviewed), ids[0]) if ids else None
        return by_id, ids

    def item(self, b: Browser, s: ReviewSession, segment_id: Any) -> ReviewItem:
        """The segment an action names (404 when there is none), made the current one when under review."""
        by_id, ids = self.view(b, s)
        if not isinstance(segment_id, str) or segment_id not in by_id:
            raise WebError(f"no segment '{segment_id}' to review here", 404)
        if segment_id in ids:
            b.current = segment_id
        return by_id[segment_id]

    # -- state ------------------------------------------------------------------------------------
    def state(self, b: Browser, message: str = "", tone: str = "", focus: str | None = None) -> dict:
        base = {"project": self.project, "coder": b.coder, "coder_fixed": self.fixed_coder is not None,
                "message": message, "tone": tone, "focus": focus,
                "view": {"code": b.filters.code or "", "document": b.filters.document or "",
                         "role": b.filters.role or "", "flag": b.filters.flag or "",
                         "status": b.filters.status or "", "order": b.order}}
        if b.coder is None:
            return {**base, "need_coder": True}
        s = self.session(b)
        by_id, ids = self.view(b, s)
        view = [by_id[x] for x in ids]
        current = b.current
        item = by_id.get(current) if current else None
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
            "position": {"index": ids.index(current) if current and item is not None else -1, "total": len(ids)},
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


def follow_order(b: Browser, s: ReviewSession) -> None:
    """Uncertainty order: after a decision (and the refit it causes) the segments after the current
    one follow the session's new order; those already passed stay where they are."""
    if b.order != "uncertainty" or b.ids is None or b.current not in b.ids:
        return
    pos = b.ids.index(b.current)
    rank = {i.segment_id: k for k, i in enumerate(s.items)}
    b.ids[pos + 1:] = sorted(b.ids[pos + 1:], key=lambda x: rank.get(x, len(rank)))
