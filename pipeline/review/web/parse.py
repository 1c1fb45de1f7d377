"""Reading what the page sends: the JSON body of a POST (size and nesting bounded, never a traceback) and
the text fields in it (type and length checked, whitespace folded)."""

from __future__ import annotations

import json
from typing import Any, Mapping, TypeVar

from starlette.requests import Request

from .errors import WebError

MAX_FIELD = 4000  # longest memo or filter accepted from the page
MAX_BODY = 64 * 1024  # largest request body accepted (a memo is at most MAX_FIELD characters)
MAX_DEPTH = 16  # deepest JSON nesting accepted (the page sends flat objects)

T = TypeVar("T")


def clean(value: Any, what: str, limit: int = MAX_FIELD) -> str:
    """``value`` as one line of text (runs of whitespace folded); WebError when it is not text or too long."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise WebError(f"{what} must be text")
    if len(value) > limit:
        raise WebError(f"{what} is too long (at most {limit} characters)")
    return " ".join(value.split())


def lookup(mapping: Mapping[str, T], body: dict, key: str) -> T | None:
    """What ``mapping`` holds for the text under ``key`` (a code guid), None when it is missing or not text."""
    value = body.get(key)
    return mapping.get(value) if isinstance(value, str) else None


def json_depth(raw: bytes) -> int:
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


async def read_body(request: Request) -> dict:
    """The request's JSON object: at most MAX_BODY bytes (413), MAX_DEPTH levels deep (400), never a traceback."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise WebError(f"request body over {MAX_BODY // 1024} KB", 413)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if json_depth(raw) > MAX_DEPTH:
        raise WebError(f"JSON nested deeper than {MAX_DEPTH} levels", 400)
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise WebError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise WebError("the request body must be a JSON object")
    return body
