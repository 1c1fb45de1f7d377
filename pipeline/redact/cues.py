"""The names recognizer: people and places found from the words around them and the word lists —
names after ``my name is`` / ``call me`` / titles (``Dr.``) / kin words (``my son``), lower-case speaker
labels, a place after a preposition that is not an English word, and capitalised proper nouns that are
not English words (``Tomasz``, ``Riverbnd``)."""

from __future__ import annotations

from .analysis import Analysis, Candidate, Words, generic_label
from .lexicon import (
    GENERIC_WORDS, INTRO_ANY, INTRO_CAP, KIN_RE, LINE_LABEL, MONTHS_FULL, NAME_WORDS, NOT_NAMES, PREP_LOWER,
    SELF_INTRO, STRICT_TITLES, TITLE_RE, WEEKDAYS, _WORD,
)

_MONTHS = {m.lower() for m in MONTHS_FULL}
_PLACE_PREPOSITIONS = ("in", "at", "from", "near", "to", "outside", "downtown")


class NameRecognizer:
    """Findings carry the source ``pattern`` (the word lists and cues are patterns too)."""

    source = "pattern"

    def __init__(self, words: Words, propn_fallback: bool = True):
        self.words = words
        self.propn_fallback = propn_fallback

    def find(self, an: Analysis) -> list[Candidate]:
        out = self._after_cues(an)
        if self.propn_fallback:
            out += self._proper_nouns(an)
        return out

    def _after_cues(self, an: Analysis) -> list[Candidate]:
        text, w = an.text, self.words
        out: list[Candidate] = []

        def add(s: int, e: int, typ: str, prio: int) -> None:
            out.append(Candidate(s, e, typ, self.source, prio))

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
            name = m.group("name")
            if name[:1].islower() and not generic_label(name) and name.lower() not in NOT_NAMES and not w.kept(name):
                add(m.start("name"), m.end("name"), "PERSON", 55)
        for m in SELF_INTRO.finditer(text):  # "will: will. nothing really" (going round the group)
            if m.group("a").lower() == m.group("b").lower() and not generic_label(m.group("a")):
                add(m.start("b"), m.end("b"), "PERSON", 55)
        for m in PREP_LOWER.finditer(text):  # "drove up from cincinatti": lower-case non-word after a preposition
            word = m.group(1)
            if not w.is_word(word) and word not in NOT_NAMES and not w.kept(word):
                tok = an.tok_at(m.start(1))
                if tok is None or not tok.is_stop:
                    add(m.start(1), m.end(1), "PLACE", 42)
        return out

    def _name_after(self, an: Analysis, pos: int, lower_first: bool, cap_any: bool = False,
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
            if k > 0 and (an.text[an.toks[i + k - 1].end:t.start] not in (" ", "-")):
                break
            if not _WORD.fullmatch(t.text) or len(t.text) < 2 and not t.text.isupper():
                break
            low = t.lower.strip("'’")
            if low in GENERIC_WORDS or low in WEEKDAYS or low in _MONTHS or self.words.kept(t.text):
                break
            if low in NOT_NAMES:
                break
            if t.capitalised:
                ok = cap_any or t.pos == "PROPN" or not self.words.is_word(low)
                if low in {"i", "im", "i'm"} or t.is_stop:
                    ok = False
                if not ok:
                    break
            else:
                if t.is_stop:
                    break
                if k == 0:
                    ok = lower_first or (lower_nonword and (not self.words.is_word(low) or (
                        low in NAME_WORDS and t.pos in ("NOUN", "PROPN", "ADJ"))))
                else:
                    ok = (lower_first or lower_rest or lower_nonword) and not self.words.is_word(low)
                if not ok:
                    break
            end = t.end
        return end

    def _proper_nouns(self, an: Analysis) -> list[Candidate]:
        """Capitalised proper nouns that are not English words (Tomasz, Okafor, Riverbnd)."""
        out = []
        for j, t in enumerate(an.toks):
            if not t.capitalised or t.text.isupper() or not _WORD.fullmatch(t.text) or len(t.text) < 3:
                continue
            low = t.lower.strip("'’")
            if t.pos != "PROPN" and not (t.pos in ("NOUN", "ADJ", "VERB", "X") and not self.words.is_word(low)):
                continue
            if self.words.is_word(low) or self.words.kept(t.text) or low in GENERIC_WORDS or low in WEEKDAYS or low in NOT_NAMES:
                continue
            prev = an.toks[j - 1].lower if j > 0 else ""
            typ = "PLACE" if prev in _PLACE_PREPOSITIONS else "PERSON"
            out.append(Candidate(t.start, t.end, typ, self.source, 40))
        return out
