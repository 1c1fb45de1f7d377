"""Which positions a file counts: Unicode code points or UTF-16 code units, and a ``\\r\\n`` as one
position or two; and the maps from the file's positions to precode's (code points of ``\\n``-only text)."""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Callable, Iterator
from xml.etree.ElementTree import Element

from .elements import kids, position

RawText = Callable[[Element], str | None]  # a TextSource -> its raw text (None: not readable)


def fold_newlines(raw: str, crlf_counts_two: bool) -> tuple[str, Callable[[int], int]]:
    """``\\r\\n``/``\\r`` -> ``\\n``, and a map from positions in ``raw`` to positions in the result."""
    if "\r" not in raw:
        return raw, lambda p: p
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if not crlf_counts_two:
        return text, lambda p: p
    removed = [m.start() for m in re.finditer("\r\n", raw)]
    return text, lambda p: p - bisect_left(removed, p)


def utf16_to_codepoints(raw: str) -> Callable[[int], int]:
    if all(ord(ch) < 0x10000 for ch in raw):
        return lambda p: p
    table: list[int] = []
    for i, ch in enumerate(raw):
        table.extend((i, i) if ord(ch) > 0xFFFF else (i,))
    table.append(len(raw))
    return lambda p: table[p] if 0 <= p < len(table) else -1


def _misplaced(text: str, start: int, end: int) -> int:
    """0 when ``text[start:end]`` starts and ends on word boundaries, else the number of ends that do not
    (2 when the span is outside the text)."""
    if not 0 <= start < end <= len(text):
        return 2
    cut_start = start > 0 and text[start - 1].isalnum() and text[start].isalnum()
    cut_end = end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    return int(cut_start) + int(cut_end)


def _texts(root: Element, raw_text: RawText) -> Iterator[tuple[str, list[Element]]]:
    """(raw text, its PlainTextSelections) of every text source whose text could be read, in file order."""
    for sources in kids(root, "Sources"):
        for src in kids(sources, "TextSource"):
            raw = raw_text(src)
            if raw:
                yield raw, kids(src, "PlainTextSelection")


def detect_offsets(root: Element, raw_text: RawText, origin: str, offset_unit: str) -> tuple[str, str]:
    """The unit positions count (and why): ``offset_unit`` unless it is ``auto``; then NVivo (by ``origin``)
    counts UTF-16 code units; otherwise the unit under which fewer coded spans start or end mid-word (or fall
    outside their text) wins."""
    if offset_unit != "auto":
        return offset_unit, "as asked"
    if "NVIVO" in origin.upper():
        return "utf16", f"the file was written by {origin}"
    bad = {"codepoint": 0, "utf16": 0}
    spans = 0
    for raw, selections in _texts(root, raw_text):
        if all(ord(ch) < 0x10000 for ch in raw):
            continue  # without characters beyond U+FFFF both units give the same positions
        to16 = utf16_to_codepoints(raw)
        for sel in selections:
            start, end = position(sel.get("startPosition")), position(sel.get("endPosition"))
            if start is None or end is None or to16(start) == start and to16(end) == end:
                continue
            spans += 1
            bad["codepoint"] += _misplaced(raw, start, end)
            bad["utf16"] += _misplaced(raw, to16(start), to16(end))
    if spans and bad["utf16"] < bad["codepoint"]:
        return "utf16", (f"of {spans} span(s) after characters beyond U+FFFF (e.g. emoji), {bad['codepoint']} "
                         f"fall mid-word or outside the text as code points, {bad['utf16']} as UTF-16 units")
    return "codepoint", (f"of {spans} span(s) after characters beyond U+FFFF, {bad['codepoint']} fall mid-word "
                         f"as code points, {bad['utf16']} as UTF-16 units" if spans else
                         "no text has characters beyond U+FFFF, so both units agree")


def detect_line_endings(root: Element, raw_text: RawText, origin: str, offset_unit: str) -> tuple[bool, str]:
    """Does a ``\\r\\n`` count as two positions? ATLAS.ti (by ``origin``) counts one, most tools two; where the
    spans of the file fall mid-word under that rule but not under the other, the other wins. Returns the answer
    and, when the spans turned it, why (to add to the offset reason; else "")."""
    crlf_two = "ATLAS" not in origin.upper()
    bad = {True: 0, False: 0}
    spans = 0
    for raw, selections in _texts(root, raw_text):
        if "\r\n" not in raw:
            continue
        to_cp = utf16_to_codepoints(raw) if offset_unit == "utf16" else _same
        folded = {two: fold_newlines(raw, two) for two in (True, False)}
        for sel in selections:
            start, end = position(sel.get("startPosition")), position(sel.get("endPosition"))
            if start is None or end is None or to_cp(start) < 0 or to_cp(end) < 0:
                continue
            at = {two: (f(to_cp(start)), f(to_cp(end))) for two, (_, f) in folded.items()}
            if at[True] == at[False]:
                continue
            spans += 1
            for two, (text, _) in folded.items():
                bad[two] += _misplaced(text, *at[two])
    if spans and bad[not crlf_two] < bad[crlf_two]:
        crlf_two = not crlf_two
        return crlf_two, (f"; line breaks (CR LF) counted as {2 if crlf_two else 1} position(s): of "
                          f"{spans} span(s) after one, {bad[not crlf_two]} fall mid-word the other way, "
                          f"{bad[crlf_two]} this way")
    return crlf_two, ""


def _same(p: int) -> int:
    return p
