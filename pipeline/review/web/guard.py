"""The review server's HTTP layers (the security model is in :mod:`.app`'s docstring).

:class:`Secured` is the outermost: HTTP only, the security headers on every response. :class:`Guard` sits
inside it and Starlette's ``TrustedHostMiddleware`` (which refuses other host names): the Host header's port,
the one-time token exchanged for a session cookie, the session check, and same-origin JSON POSTs.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .parse import MAX_BODY
from .session import Review

LOOPBACK_NAMES = ("127.0.0.1", "localhost")

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


def deny(message: str, status: int = 403) -> Response:
    return PlainTextResponse(message, status)


class Secured:
    """The outermost layer: HTTP only (a websocket is closed), the security headers on every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return await self.app(scope, receive, send)
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for k, v in SECURITY_HEADERS.items():
                    if k not in headers:
                        headers[k] = v
            await send(message)

        await self.app(scope, receive, secured)


class Guard:
    """Host port check, token -> cookie exchange, session check, same-origin POSTs (inside :class:`Secured`
    and Starlette's ``TrustedHostMiddleware``, which refuses other host names)."""

    def __init__(self, app: ASGIApp, review: Review):
        self.app = app
        self.review = review

    async def __call__(self, scope: Scope, receive: Receive, secured: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, secured)
        review, headers = self.review, Headers(scope=scope)
        host = headers.get("host", "")
        if not review.host_ok(host):
            return await deny("Bad Host header: this page answers only as 127.0.0.1 or localhost.", 400)(
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
                    return await deny(
                        "This link has been used already (it works once). Restart `precode serve` for a new one."
                        if used else "Wrong token: open the link printed by `precode serve`.")(scope, receive, secured)
                sid = review.new_browser()
            response = RedirectResponse(clean, 303)
            response.set_cookie(review.cookie_name, sid, httponly=True, samesite="strict", path="/")
            return await response(scope, receive, secured)
        if browser is None:
            return await deny("Open the link printed by `precode serve` (it carries a one-time token).")(
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
