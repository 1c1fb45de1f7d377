"""The known-names recognizer: the project's list of people, sites, places and organisations, matched in
any case, by first name or surname alone, and with small misspellings."""

from __future__ import annotations

import re

from .analysis import Analysis, Candidate, Words, accept_name
from .lexicon import ABBREVIATIONS, _WORD
from .names import KnownNames, edit_distance, fuzzy_limit, name_variants, norm

# variant -> [(listed name or None for a shared first name, type, role, kind 'any' | 'cap')]
Variants = dict[str, list[tuple[str | None, str, str | None, str]]]


class KnownRecognizer:
    """Finds the spellings of a :class:`KnownNames` list; ``variants`` maps each spelling to its owners."""

    source = "known"

    def __init__(self, known: KnownNames | None, words: Words):
        self.words = words
        self.variants: Variants = {}
        self.regex: re.Pattern | None = None
        self.fuzzy_targets: list[str] = []  # the variants long enough to match with misspellings
        self._fuzzy_cache: dict[tuple[str, bool], str | None] = {}
        if known:
            self._build(known)

    def _build(self, known: KnownNames) -> None:
        aliases = {norm(a) for a in known.aliases}
        full = {norm(n) for n, _, _ in known.entries()} | aliases
        listed: dict[str, list[tuple[str, str, str | None, str]]] = {}  # Variants before shared names are pooled
        for name, typ, role in known.entries():
            for v, kind in name_variants(name, typ, self.words.is_word):
                listed.setdefault(v, []).append((name, typ, role, kind))
        for alias, target in known.aliases.items():
            for name, typ, role in known.entries():
                if norm(name) == norm(target):
                    listed.setdefault(norm(alias), []).append((name, typ, role, "any"))
        for v, owners in listed.items():
            names = {norm(o[0]) for o in owners}
            if len(names) > 1:
                if v in full:  # a full name wins over another person's first name
                    owners[:] = [o for o in owners if norm(o[0]) == v or v in aliases]
                    names = {norm(o[0]) for o in owners}
                if len(names) > 1:  # shared first name: still redacted, as an unlisted person/place
                    kinds = {o[3] for o in owners}
                    self.variants[v] = [(None, owners[0][1], None, "any" if "any" in kinds else "cap")]
                    continue
            self.variants[v] = list(owners)
        alts = []
        for v in sorted(self.variants, key=len, reverse=True):
            words = [re.escape(w).replace("'", "['’]") for w in v.split()]
            alts.append(r"[ \t]*[-–]?[ \t]*".join(words))
        if alts:
            self.regex = re.compile(r"(?i)(?<![\w'’-])(?:" + "|".join(alts) + r")(?![\w-])")
        self.fuzzy_targets = [v for v in self.variants if fuzzy_limit(v)]

    def find(self, an: Analysis) -> list[Candidate]:
        out: list[Candidate] = []
        if not self.variants:
            return out
        taken: list[tuple[int, int]] = []
        if self.regex is not None:
            for m in self.regex.finditer(an.text):
                owners = self.variants.get(norm(m.group(0)))
                if not owners:
                    continue
                name, typ, role, kind = owners[0]
                if not accept_name(an, m.start(), m.end(), kind):
                    continue
                out.append(Candidate(m.start(), m.end(), typ, self.source, 100, name, role))
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
                if n == 1 and (len(surface) < 5 or self.words.is_word(surface) or t.is_stop):
                    continue
                if n > 1 and all(w.is_stop for w in win):
                    continue
                all_words = n > 1 and all(self.words.is_word(w.lower) for w in win)
                best = self._fuzzy(surface, all_words)
                if best is None:
                    continue
                name, typ, role, kind = self.variants[best][0]
                if kind == "cap" and not win[0].capitalised:
                    continue
                out.append(Candidate(win[0].start, win[-1].end, typ, self.source, 99, name, role))
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
                if cand in self.variants and fuzzy_limit(cand):
                    best = (0, cand)
                continue
            for v in self.fuzzy_targets:
                if abs(len(v) - len(cand)) > lim or (v[0] != cand[0] and v[-2:] != cand[-2:]):
                    continue
                d = edit_distance(cand, v, lim)
                if d == 2 and v[0] != cand[0]:
                    continue
                if d <= min(lim, fuzzy_limit(v)) and (best is None or d < best[0]):
                    best = (d, v)
        self._fuzzy_cache[ck] = best[1] if best else None
        return self._fuzzy_cache[ck]

    def leftover(self, text: str) -> int:
        """How many listed-name forms are in ``text``."""
        return 0 if self.regex is None else sum(1 for _ in self.regex.finditer(text))
