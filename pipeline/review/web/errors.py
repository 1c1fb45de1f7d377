"""The error of a request the review page cannot honour (shared by the server's modules)."""

from __future__ import annotations

from ...errors import PrecodeError


class WebError(PrecodeError):
    """A request the page cannot honour; its message is shown on the page."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status
