"""The review page's segment routes: the state, the code list and a document's text (GET), and the actions
on segments (POST, JSON): the coder's name, the filters and order, moving between segments, a decision on a
proposal (accept, reject, recode, add, no code applies), the segment's memo, coding a selected span, undo.

Each action runs in the server's worker thread (:meth:`.session.Review.call`) and answers the page's new state.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ... import decisions as dec
from ...store import StoreError
from ..core import CodeInfo, Filters, ReviewSession
from .errors import WebError
from .parse import clean, lookup
from .session import ORDERS, STATUSES, Browser, Review, follow_order

MAX_NAME = 80  # longest coder name

DONE = {"accept": "✓ Accepted", "reject": "✗ Rejected", "recode": "Recoded", "add": "+ Added",
        "none": "✓ No code applies to"}


def set_coder(review: Review, b: Browser, body: dict) -> dict:
    if review.fixed_coder is not None:
        raise WebError(f"the coder is set by the command line ({review.fixed_coder})")
    name = clean(body.get("coder"), "the name", MAX_NAME)
    if not name or not name.isprintable():
        raise WebError("give a name (letters, digits, spaces)")
    b.coder, b.ids, b.current = name, None, None
    b.memos.clear()
    return review.state(b, f"Reviewing as {name}", "ok")


def set_view(review: Review, b: Browser, body: dict) -> dict:
    values = {k: clean(body.get(k), k) or None for k in ("code", "document", "role", "flag", "status")}
    if values["status"] and values["status"] not in STATUSES:
        raise WebError(f"unknown status '{values['status']}' ({', '.join(STATUSES)})")
    order = body.get("order") or b.order
    if order not in ORDERS:
        raise WebError(f"unknown order '{order}' (document or uncertainty)")
    b.filters, b.order, b.ids = Filters(**values), order, None
    return review.state(b)


def goto(review: Review, b: Browser, body: dict) -> dict:
    s = review.session(b)
    by_id, ids = review.view(b, s)
    if not ids or b.current is None:  # view() makes one of the ids the current one
        return review.state(b, "Nothing to review with these filters", "warn")
    here = ids.index(b.current)
    if "segment_id" in body:
        target = body["segment_id"]
        if target not in ids:
            raise WebError(f"segment '{target}' is not in this list (change the filters)", 404)
        b.current = target
        return review.state(b)
    if body.get("unreviewed"):
        nxt = next((ids[j] for j in list(range(here + 1, len(ids))) + list(range(0, here))
                    if not by_id[ids[j]].reviewed), None)
        if nxt is None:
            return review.state(b, "Every segment here is reviewed", "ok")
        b.current = nxt
        return review.state(b)
    step = body.get("step", 1)
    if not isinstance(step, int) or isinstance(step, bool):
        raise WebError("step must be a whole number")
    target = here + step
    if target >= len(ids):
        return review.state(b, "This is the last segment", "warn")
    if target < 0:
        return review.state(b, "This is the first segment", "warn")
    b.current = ids[target]
    return review.state(b)


def decide(review: Review, b: Browser, body: dict) -> dict:
    s = review.session(b)
    item = review.item(b, s, body.get("segment_id"))
    action = body.get("action")
    if action not in DONE:
        raise WebError("action must be accept, reject, recode, add or none")
    memo = b.memos.get(item.segment_id, "")
    by_guid = {p.code.guid: p for p in item.proposals}
    if action == "none":  # no code applies: a decision on the segment, not on a proposal
        if by_guid.get(dec.NO_CODE) is not None and by_guid[dec.NO_CODE].status == "accepted":
            return review.state(b, "already marked: no code applies", "warn", dec.NO_CODE)
        s.no_code(item, memo)
        b.memos.pop(item.segment_id, None)
        follow_order(b, s)
        return review.state(b, "✓ No code applies to this segment" + (" (with memo)" if memo else "") + " · u undoes",
                            "ok", dec.NO_CODE)
    if action == "add":
        new = _new_code(s, body)
        if by_guid.get(new.guid) is not None and by_guid[new.guid].status in ("accepted", "added"):
            return review.state(b, f"{new.name} is already {by_guid[new.guid].status}", "warn", new.guid)
        s.add(item, new.guid, memo)
        what, focus = new.name, new.guid
    else:
        old = lookup(by_guid, body, "code_guid")
        if old is None:
            raise WebError("that code is not on this segment")
        if action == "recode":
            new = _new_code(s, body)
            if new.guid == old.code.guid:
                raise WebError("pick a different code to recode to")
            s.recode(item, old.code.guid, new.guid, memo)
            what, focus = f"{old.code.name} → {new.name}", new.guid
        else:  # accept or reject
            status = "accepted" if action == "accept" else "rejected"
            if old.status == status or (action == "accept" and old.status == "added"):
                return review.state(b, f"{old.code.name} is already {old.status}", "warn", old.code.guid)
            getattr(s, action)(item, old.code.guid, memo)
            what, focus = old.code.name, old.code.guid
    b.memos.pop(item.segment_id, None)
    follow_order(b, s)
    return review.state(b, f"{DONE[action]} {what}" + (" (with memo)" if memo else "") + " · u undoes",
                        "ok", focus)


def _new_code(s: ReviewSession, body: dict) -> CodeInfo:
    """The code a recode or an add names (``new_guid``)."""
    new = lookup(s.codes, body, "new_guid")
    if new is None:
        raise WebError("unknown code")
    return new


def undo(review: Review, b: Browser, body: dict) -> dict:
    s = review.session(b)
    _, ids = review.view(b, s)
    target = dec.last_undoable(s.store, s.coder)  # read only: what the undo will cancel
    d = s.undo()
    if d is None:
        return review.state(b, "Nothing to undo", "warn")
    name = s.codes[d.code_guid].name if d.code_guid in s.codes else d.code_guid
    what = name
    if target is not None and target.id == d.undoes:
        if target.verdict == "recode":
            old = s.codes.get(target.replaces) if target.replaces is not None else None
            what = f"recode {old.name if old else target.replaces} → {name}"
        else:
            what = f"{target.verdict} {name}"
    if d.segment_id in ids:
        b.current = d.segment_id
        follow_order(b, s)
        return review.state(b, f"↶ Undone: {what}", "undo", getattr(target, "replaces", None) or d.code_guid)
    return review.state(b, f"↶ Undone: {what} on {d.segment_id} (not in this list)", "undo")


def set_memo(review: Review, b: Browser, body: dict) -> dict:
    s = review.session(b)
    item = review.item(b, s, body.get("segment_id"))
    memo = " ".join(clean(body.get("memo"), "the memo").split())
    if memo == s.segment_memo(item):
        return review.state(b)
    s.set_memo(item, memo)  # the segment's memo, saved at once; never copied onto a decision
    return review.state(b, "✎ Memo saved on this segment" if memo else "Memo removed", "ok")


def code_span(review: Review, b: Browser, body: dict) -> dict:
    """Code a selected part of the current segment (offsets in code points into the document's text)."""
    s = review.session(b)
    item = review.item(b, s, body.get("segment_id"))
    start, end = body.get("start"), body.get("end")
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        raise WebError("start and end must be whole numbers")
    code = lookup(s.codes, body, "code_guid")
    if code is None:
        raise WebError("unknown code")
    try:
        span_id = s.code_span(item, start, end, code.guid)
    except StoreError as e:
        raise WebError(str(e)) from None
    b.ids = None  # the span is a segment of its own now; the current segment stays
    span = next((i for i in s.items if i.segment_id == span_id), item)
    return review.state(b, f"Coded the selection “{span.text[:60]}” as {code.name} · u undoes", "ok", code.guid)


def codes(review: Review, b: Browser, segment_id: str, action: str, code_guid: str) -> dict:
    """The codes the recode / add list offers for a segment (the page filters them as you type)."""
    s = review.session(b)
    item = review.item(b, s, segment_id)
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


def document(review: Review, b: Browser, document_id: str) -> dict:
    s = review.session(b)
    if not any(i.document_id == document_id for i in s.items):
        raise WebError(f"no document '{document_id}' here", 404)
    return {"id": document_id, "text": s.document_text(document_id)}


def routes(review: Review, browser: Callable[[Request], Browser], post: Callable[[Callable[..., dict]], Any]) -> list[Route]:
    """The page's state and segment actions (``post`` turns an action ``fn(browser, body)`` into an endpoint)."""
    async def get_state(request: Request) -> Response:
        return await review.call(review.state, browser(request))

    async def get_codes(request: Request) -> Response:
        q = request.query_params
        return await review.call(partial(codes, review), browser(request), q.get("segment_id", ""),
                                 q.get("action", "add"), q.get("code_guid", ""))

    async def get_document(request: Request) -> Response:
        return await review.call(partial(document, review), browser(request), request.query_params.get("id", ""))

    return [
        Route("/api/state", get_state, methods=["GET"]),
        Route("/api/codes", get_codes, methods=["GET"]),
        Route("/api/document", get_document, methods=["GET"]),
        *(Route(path, post(partial(fn, review)), methods=["POST"]) for path, fn in (
            ("/api/coder", set_coder), ("/api/view", set_view), ("/api/goto", goto), ("/api/decide", decide),
            ("/api/memo", set_memo), ("/api/span", code_span), ("/api/undo", undo))),
    ]
