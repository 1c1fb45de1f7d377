"""The review page's codebook routes (POST, JSON): a new code made in vivo from a segment (``/api/code``),
and a rename, merge or retirement of a code (``/api/codebook``), each an append-only event effective for
every coder. Each answers the page's new state.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from starlette.routing import Route

from .errors import WebError
from .parse import clean, lookup
from .session import Browser, Review, follow_order


def create_code(review: Review, b: Browser, body: dict) -> dict:
    """In vivo: a new code named ``name``, the segment's text its first example, added to the segment."""
    s = review.session(b)
    item = review.item(b, s, body.get("segment_id"))
    name = clean(body.get("name"), "the code name", 200)
    if not name:
        raise WebError("the new code needs a name")
    memo = b.memos.get(item.segment_id, "")
    code = s.create_code(item, name, memo=memo or "in vivo")  # a PrecodeError answers 400
    b.memos.pop(item.segment_id, None)
    follow_order(b, s)
    return review.state(b, f"created {code.path} (in vivo) and added it · u undoes the coding", "ok", code.guid)


def edit_code(review: Review, b: Browser, body: dict) -> dict:
    """Edit the codebook: ``action`` rename (``name``), merge (into ``into_guid``) or retire the code
    ``code_guid``; an append-only event with this coder and the time, effective for every coder."""
    s = review.session(b)
    action, code = body.get("action"), lookup(s.codes, body, "code_guid")
    if action not in ("rename", "merge", "retire"):
        raise WebError("action must be rename, merge or retire")
    if code is None:
        raise WebError("unknown code")
    if action == "rename":
        new = s.rename_code(code.guid, clean(body.get("name"), "the new name", 200))
        message, focus = f"✎ Renamed {code.path} → {new.name}: its decisions follow", new.guid
    elif action == "merge":
        into = lookup(s.codes, body, "into_guid")
        if into is None:
            raise WebError("unknown code to merge into")
        new = s.merge_code(code.guid, into.guid)
        message, focus = f"✎ Merged {code.path} into {new.path}: its decisions follow", new.guid
    else:
        s.retire_code(code.guid)
        message, focus = f"✎ Retired {code.path}: no longer offered; its decisions are kept as orphaned", None
    follow_order(b, s)
    return review.state(b, message, "ok", focus)


def routes(review: Review, post: Callable[[Callable[..., dict]], Any]) -> list[Route]:
    """The two codebook actions (``post`` turns an action ``fn(browser, body)`` into an endpoint)."""
    return [
        Route("/api/code", post(partial(create_code, review)), methods=["POST"]),
        Route("/api/codebook", post(partial(edit_code, review)), methods=["POST"]),
    ]
