"""The review as a local web page, a thin layer over :class:`~pipeline.review.core.ReviewSession`.

Security model (the page shows participants' words, so it must not leak to other sites or hosts):

* :func:`serve` listens on 127.0.0.1 only, on a port of its choosing unless told;
* a random one-time token in the printed URL is exchanged, on first visit, for an HttpOnly,
  SameSite=Strict session cookie, and the browser is sent on to the URL without the token; a request
  without a valid session gets 403, and the token does not work a second time;
* a request whose Host header is not ``127.0.0.1:PORT`` or ``localhost:PORT`` gets 400 (DNS rebinding):
  the name through Starlette's ``TrustedHostMiddleware``, the port (once :func:`serve` knows it) by :mod:`.guard`;
* a POST must come from the page itself (its ``Origin`` is the page's origin) with a JSON body and the
  session cookie; anything else gets 403 / 415;
* strict Content-Security-Policy: the page loads its own script and stylesheet, nothing else.

The server is split along its seams: :mod:`.session` (what the server holds, the page's state),
:mod:`.segments` and :mod:`.codebook` (the page's actions), :mod:`.discovery` (the ``/discovery`` page),
:mod:`.guard` (the HTTP layers above) and :mod:`.parse` (reading request bodies). This module puts them
together: :func:`make_app` and :func:`serve`.
"""

from __future__ import annotations

import secrets
import socket
import threading
import webbrowser
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from ...store import StoreError
from ..core import ReviewSession
from . import codebook, segments
from .discovery import routes as discovery_routes
from .errors import WebError
from .guard import LOOPBACK_NAMES, Guard, Secured, deny
from .parse import read_body
from .session import ORDERS, Browser, Review

STATIC = Path(__file__).with_name("static")
ASSETS = {"review.css": "text/css; charset=utf-8", "review.js": "text/javascript; charset=utf-8"}


def _routes(review: Review) -> list[Route]:
    def browser(request: Request) -> Browser:
        return request.scope["precode.browser"]

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return deny("not found", 404)
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    def post(fn: Callable[..., dict]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = await read_body(request)
            except WebError as e:
                return JSONResponse({"error": str(e)}, e.status)
            return await review.call(fn, browser(request), body)

        return endpoint

    return [
        Route("/", index, methods=["GET"]),
        Route("/static/{name}", asset, methods=["GET"]),
        *segments.routes(review, browser, post),  # /api/state, /api/codes, /api/document and the segment actions
        *codebook.routes(review, post),  # /api/code (in vivo), /api/codebook (rename, merge, retire)
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
    review = Review(path, coder.strip() if coder else None, token or secrets.token_urlsafe(32), order, learn)
    if allowed_hosts is not None:
        review.allowed_hosts = {h.lower() for h in allowed_hosts}

    @asynccontextmanager
    async def lifespan(app):
        yield
        await review.close()

    names = sorted({*LOOPBACK_NAMES, *(h.rsplit(":", 1)[0] for h in review.allowed_hosts or ())})
    app = Starlette(routes=_routes(review), lifespan=lifespan, middleware=[
        Middleware(Secured), Middleware(TrustedHostMiddleware, allowed_hosts=names, www_redirect=False),
        Middleware(Guard, review=review)])
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
    review: Review = app.state.review
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
