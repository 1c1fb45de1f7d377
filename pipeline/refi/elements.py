"""Reading QDA-XML elements: local tag names (any ``urn:QDA-XML`` namespace), children by name, GUIDs as
precode compares them, and whitespace-folded attribute values."""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element

GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def local_name(el: Element) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return local if ns.startswith("urn:QDA-XML") else tag
    return tag


def kids(el: Element, name: str) -> list[Element]:
    return [c for c in el if local_name(c) == name]


def first(el: Element, name: str) -> Element | None:
    return next((c for c in el if local_name(c) == name), None)


def norm_guid(guid: str | None) -> str:
    """GUIDs compare case-, brace- and hyphen-insensitively (the REFI spec's own examples use U+2010)."""
    return (guid or "").strip().strip("{}").replace("\u2010", "-").lower()


def clean(s: str | None) -> str:
    return " ".join((s or "").split())


def text_of(el: Element | None) -> str:
    return (el.text or "") if el is not None else ""


def position(value: str | None) -> int | None:
    """A ``startPosition``/``endPosition`` value as a number (None: not a whole number)."""
    try:
        return int((value or "").strip())
    except ValueError:
        return None
