"""The review as a local web page: :func:`make_app` (a Starlette app) and :func:`serve` (127.0.0.1 only).

The page, its stylesheet and script live in ``static/`` (no CDN, nothing fetched from the internet).
"""

from .app import make_app, serve

__all__ = ["make_app", "serve"]
