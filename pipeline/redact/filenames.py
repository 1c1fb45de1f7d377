"""File names and loose strings (ids, messages, manifests) redacted with the project's key.

A file name is pseudonymised only from what is known about it: the names the known-names file lists
and the identifiers found in the file's own text (``interview_Okonkwo.txt`` whose text names Okonkwo
becomes ``interview_PARTICIPANT_3.txt``, the pseudonym Okonkwo has in the text). Nothing is guessed
from the words of a file name alone, so ``int01_pss.txt`` stays as it is; capitalised words that are
kept are returned for a person to check.

A :class:`Scrubber` replaces every spelling the key holds (listed and found names, with the originals of
fixed-type findings such as phone numbers) in strings that are not transcripts: segment ids from a
table's ``id`` column, warnings, skipped-file lines, manifests.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from .lexicon import GENERIC_LABEL_WORDS, GENERIC_WORDS, NAME_WORDS
from .names import edit_distance, fuzzy_limit, norm

if TYPE_CHECKING:  # pragma: no cover
    from .detect import Redactor
    from .key import PseudonymKey

_SEP = r"[\s_.\-'’/]+"
_SPLIT = re.compile(rf"({_SEP})")
_LETTERS = "0-9A-Za-zÀ-ÖØ-öø-ÿ"


def canon(text: str) -> str:
    """A spelling with case and separators (space, underscore, dot, hyphen, apostrophe) folded."""
    return " ".join(re.split(_SEP, text.casefold())).strip()


def _needs_capital(redactor: "Redactor", form: str) -> bool:
    """An ordinary English word ('hope', 'maple') counts as a name only when capitalised."""
    return form in NAME_WORDS or all(redactor.is_word(w) for w in form.split())


def _split_ext(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and re.fullmatch(r"[A-Za-z0-9]{1,5}", ext) and "/" not in ext:
        return stem, dot + ext
    return name, ""


def pseudonymise_name(name: str, redactor: "Redactor", key: "PseudonymKey",
                      entries: Iterable[dict]) -> tuple[str, list[str]]:
    """``name`` with listed names and the names of ``entries`` (the key entries of the identifiers the
    file's own text contains) replaced by their pseudonyms (without brackets).

    Listed names also match with a small misspelling; found names only as spelled. Returns the new name
    and the capitalised non-English words it keeps (for the review table). The extension stays."""
    redactor.load()
    entries = list(entries)
    stem, ext = _split_ext(name)
    parts = _SPLIT.split(stem)
    words = [(i, p) for i, p in enumerate(parts) if p and not re.fullmatch(_SEP, p)]
    out: list[str | None] = list(parts)
    for n in (3, 2, 1):
        for k in range(len(words) - n + 1):
            win = words[k:k + n]
            if any(out[i] is None or out[i] != p for i, p in win):
                continue  # part of a replacement already
            surface = " ".join(p for _, p in win)
            if not re.search(r"[A-Za-z]{2}", surface):
                continue
            raw = "".join(parts[win[0][0]:win[-1][0] + 1])  # 'Fenwick-Sayre' as written
            entry = _entry_for(raw, redactor, key, entries) if raw != surface else None
            entry = entry or _entry_for(surface, redactor, key, entries)
            if entry is None:
                continue
            out[win[0][0]] = entry["pseudonym"].strip("[]")
            for i in range(win[0][0] + 1, win[-1][0] + 1):
                out[i] = None
    new = "".join(p for p in out if p is not None) + ext
    kept = [p for i, p in words if out[i] == p and _worth_checking(p, redactor)]
    return new, kept


def _entry_for(surface: str, redactor: "Redactor", key: "PseudonymKey", entries: list[dict]) -> dict | None:
    v = norm(surface.replace("_", " "))
    if not v:
        return None
    for e in entries:  # found in this file's own text: any case ('fg2_granite' with Granite Hills in it)
        if v in e.get("variants", ()) or norm(e.get("name", "")) == v:
            return e
    if _needs_capital(redactor, v) and not surface[:1].isupper():
        return None  # a listed name that is also a word ('maple'), not found in the text: capitalised only
    owners = redactor.known_variants.get(v)
    if owners and owners[0][0] is not None:
        name, typ, _, kind = owners[0]
        if kind != "cap" or surface[:1].isupper():
            return key.lookup_name(typ, name)
    # a listed name misspelled in the file name (Okonkow): same rule as in texts, at most the limit
    lim = fuzzy_limit(v)
    if lim and " " not in v and not redactor.is_word(v):
        best = None
        for target in redactor.known_names.fuzzy_targets:
            owners = redactor.known_variants.get(target)
            if not owners or owners[0][0] is None or target[0] != v[0]:
                continue
            limit = min(lim, fuzzy_limit(target))
            d = edit_distance(v, target, limit)
            if d <= limit and (best is None or d < best[0]):
                best = (d, owners[0])
        if best is not None:
            return key.lookup_name(best[1][1], best[1][0])
    return None


def _worth_checking(word: str, redactor: "Redactor") -> bool:
    low = word.lower()
    return (len(word) >= 3 and word.isalpha() and word[:1].isupper() and not word.isupper()
            and not redactor.is_word(low) and not redactor.kept(word)
            and low not in GENERIC_WORDS and low not in GENERIC_LABEL_WORDS)


class Scrubber:
    """Replaces every spelling the key holds, and given originals, in a loose string.

    Spellings that are ordinary English words ('Hope', 'Maple') are replaced only when capitalised;
    the others in any case. Separators inside a name may be spaces, underscores, dots or hyphens
    (``notes_Eleanor_Briggs.txt`` -> ``notes_PERSON_4.txt``)."""

    def __init__(self, redactor: "Redactor", key: "PseudonymKey", originals: dict[str, str] | None = None):
        self.table: dict[str, tuple[str, bool]] = {}
        for e in key.entries:
            repl = e["pseudonym"].strip("[]")
            for form in [e.get("name", "")] + list(e.get("variants", [])):
                c = canon(form)
                if len(c.replace(" ", "")) >= 2:
                    self.table.setdefault(c, (repl, _needs_capital(redactor, c)))
        for original, repl in (originals or {}).items():
            c = canon(original)
            if len(c.replace(" ", "")) >= 3:
                self.table.setdefault(c, (repl.strip("[]"), False))
        alts = [_SEP.join(re.escape(w) for w in c.split()) for c in sorted(self.table, key=len, reverse=True)]
        self._rx = re.compile(rf"(?i)(?<![{_LETTERS}])(?:{'|'.join(alts)})(?![{_LETTERS}])") if alts else None

    def __call__(self, text: str) -> str:
        if self._rx is None or not text:
            return text

        def sub(m: re.Match) -> str:
            hit = self.table.get(canon(m.group(0)))
            if hit is None or (hit[1] and not m.group(0)[:1].isupper()):
                return m.group(0)
            return hit[0]

        return self._rx.sub(sub, text)

    def value(self, value):
        """Every string inside a JSON-like value (dict keys stay)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value)
        return value
