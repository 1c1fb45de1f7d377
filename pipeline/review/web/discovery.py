"""The discovery page of ``precode serve`` (``/discovery``): the latest ``precode discover`` topics, with their
representative segments, for a researcher to accept as new codes (under the proposed name or another), merge,
or reject.

The page is rendered on the server from a Jinja2 template (``templates/discovery.html.j2``, autoescaping on)
and reads the store on every request; its script (``static/discovery.js``, no inline script under the
page's Content-Security-Policy) posts each action as JSON and reloads. Every action goes through
:mod:`pipeline.discover` (:func:`~pipeline.discover.accept_candidate`,
:func:`~pipeline.discover.merge_candidates`, :func:`~pipeline.discover.reject_candidate`): an append-only
row of ``discovery_reviews`` and, for an accepted topic, a codebook edit (a new code of category Emergent
with the topic's quotes as examples), so ``precode discover``, the exports and the review's code lists see
it at once. The server's guard (host, session cookie, same-origin JSON POSTs) covers these routes as the
review's; :func:`routes` is all the server adds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from ...errors import PrecodeError
from .errors import WebError

STATIC = Path(__file__).with_name("static")
ASSETS = {"discovery.js": "text/javascript; charset=utf-8", "discovery.css": "text/css; charset=utf-8"}
MAX_MERGE = 20  # topics merged at once


def environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("pipeline.review.web", "templates"), autoescape=True,
                       undefined=StrictUndefined)


def page_state(store_path: Path, coder: str | None, fixed_coder: bool) -> dict:
    """What the page shows: the latest discovery's topics with how each stands now (reviews since included)."""
    from ...discover import discovery_dir, load_reviews, review_status
    from ...discover.outputs import load_candidates

    found = discovery_dir(store_path) / "candidates.json"
    state: dict[str, Any] = {"project": store_path.parent.name or store_path.name, "coder": coder,
                             "fixed_coder": fixed_coder, "discovered": found.exists(), "topics": [], "notes": []}
    if not found.exists():
        return state
    import json

    try:
        state["notes"] = list(json.loads(found.read_text(encoding="utf-8")).get("notes", []))
        cands = load_candidates(store_path)
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        raise PrecodeError(f"{found}: not readable as discovery results ({type(e).__name__}); run `precode discover` "
                           "again") from None
    reviews = load_reviews(store_path)
    for k, c in enumerate(cands, 1):
        status = review_status(c.id, c.members, reviews)
        state["topics"].append({
            "number": k, "id": c.id, "name": c.name, "keywords": ", ".join(c.keywords[:8]), "size": c.size,
            "n_documents": c.n_documents, "roles": ", ".join(f"{r} {n}" for r, n in sorted(c.roles.items())),
            "status": status, "open": status == "proposed",
            "quotes": [{"text": q.text, "who": ", ".join(x for x in (q.speaker, q.role) if x) or "participant",
                        "document": q.document} for q in c.quotes],
        })
    state["n_open"] = sum(t["open"] for t in state["topics"])
    return state


def _text(body: dict, key: str, limit: int = 200) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise PrecodeError(f"{key} must be text of at most {limit} characters")
    return " ".join(value.split())


def _id(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("emergent-") or len(value) > 40:
        raise PrecodeError("name a topic by its id")
    return value


def routes(review, browser: Callable[[Request], Any], post: Callable) -> list[Route]:
    """The page, its script and its three actions, for the review server (``review``: its :class:`.session.Review`)."""
    def coder(b) -> str:
        if not b.coder:
            raise WebError("who is reviewing? Give your name first", 409)
        return b.coder

    def accept(b, body: dict) -> dict:
        from ...discover import accept_candidate

        code = accept_candidate(review.store_path, _id(body.get("id")), coder(b), name=_text(body, "name") or None,
                                memo=_text(body, "memo", 4000))
        return {"message": f"Accepted: '{code.path}' is a code now"}

    def merge(b, body: dict) -> dict:
        from ...discover import merge_candidates

        ids = body.get("ids")
        if not isinstance(ids, list) or not 2 <= len(ids) <= MAX_MERGE:
            raise WebError(f"choose 2 to {MAX_MERGE} topics to merge")
        code = merge_candidates(review.store_path, [_id(i) for i in ids], coder(b), name=_text(body, "name") or None,
                                memo=_text(body, "memo", 4000))
        return {"message": f"Merged {len(ids)} topics into '{code.path}'"}

    def reject(b, body: dict) -> dict:
        from ...discover import reject_candidate

        reject_candidate(review.store_path, _id(body.get("id")), coder(b), memo=_text(body, "memo", 4000))
        return {"message": "Rejected (a later discovery remembers it)"}

    async def page(request: Request) -> Response:
        b = browser(request)
        try:
            state = await asyncio.to_thread(page_state, review.store_path, b.coder, review.fixed_coder is not None)
        except PrecodeError as e:
            return HTMLResponse(environment().get_template("discovery.html.j2").render(error=str(e), state=None), 500)
        return HTMLResponse(environment().get_template("discovery.html.j2").render(error="", state=state))

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return Response("not found", 404)
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    return [
        Route("/discovery", page, methods=["GET"]),
        Route("/discovery/static/{name}", asset, methods=["GET"]),
        Route("/api/discovery/accept", post(accept), methods=["POST"]),
        Route("/api/discovery/merge", post(merge), methods=["POST"]),
        Route("/api/discovery/reject", post(reject), methods=["POST"]),
    ]
