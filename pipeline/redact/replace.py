"""The operator: spans -> pseudonyms from the key, the text rewritten, and the offsets of turns and
paragraphs carried over to the new text."""

from __future__ import annotations

import bisect
from dataclasses import replace
from typing import Callable

from ..records import Document, text_sha
from .key import PseudonymKey
from .names import Redaction, Span


def pseudonyms(spans: list[Span], key: PseudonymKey) -> tuple[dict[tuple[int, int], str], list[Span]]:
    """(start, end) -> replacement for every span, and the spans with the type the key settled on.
    Longer names first, so "Jamal Brooks" is registered before a lone "Jamal"."""
    repl: dict[tuple[int, int], str] = {}
    spans = list(spans)
    for sp in sorted(spans, key=lambda s: (-len(s.text.split()), s.start)):
        r, typ = key.resolve(sp)
        repl[(sp.start, sp.end)] = r
        if typ != sp.type:
            spans[spans.index(sp)] = replace(sp, type=typ)
    return repl, spans


def rewrite(text: str, spans: list[Span], repl: dict[tuple[int, int], str], doc_id: str,
            bare: set[tuple[int, int]]) -> tuple[str, list[tuple[int, int, int, int]], list[Redaction]]:
    """The new text, the (old start, old end, new start, new end) of each replacement, and the
    replacements; spans in ``bare`` (speaker labels) lose the brackets."""
    pieces, mapping, reds = [], [], []
    pos = newpos = 0
    for sp in spans:
        r = repl[(sp.start, sp.end)]
        if (sp.start, sp.end) in bare:
            r = r.strip("[]")
        pieces.append(text[pos:sp.start])
        newpos += sp.start - pos
        mapping.append((sp.start, sp.end, newpos, newpos + len(r)))
        reds.append(Redaction(doc_id, sp.start, sp.end, sp.type, sp.text, r, newpos, newpos + len(r), sp.source))
        pieces.append(r)
        newpos += len(r)
        pos = sp.end
    pieces.append(text[pos:])
    return "".join(pieces), mapping, reds


def mapper(spans: list[tuple[int, int, int, int]]) -> Callable[..., int]:
    """Old offset -> new offset, given the replacements' (old start, old end, new start, new end);
    inside a replacement an offset goes to its start (or its end with ``end=True``)."""
    starts = [s for s, _, _, _ in spans]

    def m(p: int, end: bool = False) -> int:
        i = bisect.bisect_right(starts, p) - 1
        if i < 0:
            return p
        s, e, ns, ne = spans[i]
        if p >= e:
            return ne + (p - e)
        if p == s:
            return ns
        return ne if end else ns

    return m


def rebuild(doc: Document, new_id: str, new_text: str, mapping: list[tuple[int, int, int, int]],
            speaker: Callable[[str | None], str | None], redact_value: Callable) -> Document:
    """``doc`` with the new text: turns, paragraphs and speakers moved over, metadata and warnings
    redacted by ``redact_value``."""
    mp = mapper(mapping)
    turns = []
    for t in doc.turns:
        ns, ne = mp(t.start), mp(t.end, True)
        turns.append(replace(
            t, start=ns, end=ne, text=new_text[ns:ne], speaker=speaker(t.speaker),
            paragraphs=tuple((mp(a), mp(b, True)) for a, b in t.paragraphs),
            metadata=redact_value(t.metadata)))
    new = Document(
        id=new_id, path=new_id, format=doc.format, sha256=text_sha(new_text), text=new_text, turns=turns,
        metadata=redact_value(doc.metadata), warnings=redact_value(list(doc.warnings)))
    for t in new.turns:
        assert new.text[t.start:t.end] == t.text
    return new


def replace_loose(text: str, spans: list[Span], key: PseudonymKey) -> str:
    """A loose string (a metadata value) with its spans replaced by their pseudonyms."""
    out, pos = [], 0
    for sp in spans:
        out.append(text[pos:sp.start])
        out.append(key.pseudonym(sp))
        pos = sp.end
    out.append(text[pos:])
    return "".join(out)
