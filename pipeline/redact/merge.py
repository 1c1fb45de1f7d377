"""Merging the recognizers' findings: every name found once is looked for in the whole document,
overlapping candidates become one span (their union) typed by the highest-priority candidate, and a
name grows over the words that end an organisation's name."""

from __future__ import annotations

import re
from typing import Iterable

from .analysis import Analysis, Candidate, Words, accept_name
from .lexicon import NAME_WORDS, NUMBERED, ORG_TAIL, ORG_TYPED, TITLES
from .names import Span, norm


def name_forms(text: str, found: Iterable, words: Words) -> dict[str, Candidate]:
    """Spellings worth looking for elsewhere, from findings (candidates or spans) in ``text``:
    unlisted names (a listed name is matched everywhere anyway) and a person's capitalised words."""
    forms: dict[str, Candidate] = {}
    for c in found:
        if c.type not in NUMBERED or c.source == "known":
            continue
        surface = text[c.start:c.end]
        if len(surface) >= 3 and not words.kept(surface):
            forms.setdefault(surface, c)
        if c.type == "PERSON":
            for w in surface.split():
                w = w.strip(",.;:'’")
                if len(w) >= 3 and w[0].isupper() and w.lower() not in TITLES and not words.kept(w):
                    forms.setdefault(w, c)
    return forms


def occurrences(an: Analysis, forms: dict, words: Words) -> list[Candidate]:
    """Every place in the text where one of ``forms`` stands (a form that is also a word only where it
    reads as a name)."""
    out = []
    for surface, c in forms.items():
        flags = re.I if c.type == "PERSON" and " " not in surface and not words.is_word(surface) else 0
        for m in re.finditer(r"(?<![\w'’-])" + re.escape(surface) + r"(?![\w-])", an.text, flags):
            if surface.lower() in NAME_WORDS or words.is_word(surface.lower()):
                if not accept_name(an, m.start(), m.end(), "any") or (tok := an.tok_at(m.start())) is not None and tok.sent_start:
                    continue
            out.append(Candidate(m.start(), m.end(), c.type, c.source, 45, c.name, c.role))
    return out


def merge(text: str, cands: list[Candidate]) -> list[Span]:
    """Overlapping candidates (on one line) -> one span, the union, with the type, source and name of
    the candidate of the highest priority (then the longest); punctuation trimmed from the ends."""
    cands = sorted(cands, key=lambda c: (c.start, -c.end))
    spans: list[Span] = []
    cluster: list[Candidate] = []
    end = -1

    def flush() -> None:
        if not cluster:
            return
        s = min(c.start for c in cluster)
        e = max(c.end for c in cluster)
        best = max(cluster, key=lambda c: (c.priority, c.end - c.start))
        while s < e and text[s] in " \t,.;:'\"-":
            s += 1
        while e > s and text[e - 1] in " \t,;:'\"-":
            e -= 1
        if e > s:
            spans.append(Span(s, e, best.type, text[s:e], best.source, best.name, best.role))

    for c in cands:
        if c.start < end and "\n" not in text[c.start:end]:
            cluster.append(c)
            end = max(end, c.end)
        else:
            flush()
            cluster = [c]
            end = c.end
    flush()
    return spans


def extend(text: str, spans: list[Span], known_variants: dict) -> list[Span]:
    """Extend names over the words that end an organisation's name ("Saint Brendan" + "'s Shelter")."""
    out: list[Span] = []
    for sp in spans:
        if sp.type in NUMBERED:
            e, typ, name, role = sp.end, sp.type, sp.name, sp.role
            lower_ok = sp.text.islower() and sp.type != "PERSON"
            last = sp.text.split()[-1].lower() if sp.text.split() else ""
            if last in ORG_TYPED and typ != "SITE" and len(sp.text.split()) > 1 and not (
                    sp.source == "known" and norm(sp.text) in known_variants):
                typ, name, role = "ORG", None, None
            while True:
                m = re.match(r"(?:['’]s)?[ \t]+([A-Za-z]+)\b", text[e:e + 40])
                if not m or m.group(1).lower() not in ORG_TAIL or not (m.group(1)[0].isupper() or lower_ok):
                    break
                e += m.end()
                if m.group(1).lower() in ORG_TYPED and typ != "SITE":
                    typ, name, role = "ORG", None, None  # "Grace" + "Fellowship": a church, not the person
            if typ == "PERSON":  # "dana w.", "Priya R." : the initial goes too
                m = re.match(r"[ \t]+[A-Za-z](?=\.)", text[e:e + 4])
                if m:
                    e += m.end()
            if e != sp.end or typ != sp.type:
                sp = Span(sp.start, e, typ, text[sp.start:e], sp.source, name, role)
        if out and sp.start < out[-1].end:  # grew into the next finding: one span
            last_sp = out.pop()
            sp = Span(last_sp.start, max(last_sp.end, sp.end), last_sp.type, text[last_sp.start:max(last_sp.end, sp.end)],
                      last_sp.source, last_sp.name, last_sp.role)
        out.append(sp)
    return out
