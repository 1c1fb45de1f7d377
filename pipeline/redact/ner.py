"""The spaCy NER recognizer: PERSON, GPE/LOC (places), FAC/ORG (organisations) and DATE entities,
filtered: kept words and acronyms, generic words, shouted ordinary words, titles left readable, and
dates only when as specific as precode's date patterns."""

from __future__ import annotations

import re

from .analysis import Analysis, Candidate, Words
from .lexicon import GENERIC_LABEL_WORDS, GENERIC_WORDS, SPECIFIC_DATES, TITLE_RE
from .names import norm

LABELS = {"PERSON": "PERSON", "GPE": "PLACE", "LOC": "PLACE", "FAC": "ORG", "ORG": "ORG", "DATE": "DATE"}


class NerRecognizer:
    source = "ner"

    def __init__(self, words: Words):
        self.words = words

    def find(self, an: Analysis) -> list[Candidate]:
        out = []
        kept = self.words.kept
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
            if not key or kept(surface) or all(kept(w) or w.lower() in GENERIC_WORDS for w in surface.split()):
                continue
            if label != "DATE" and surface.isupper() and " " not in key and self.words.is_word(key):
                continue  # a shouted ordinary word ("INVENTED", "NOTE")
            m = TITLE_RE.match(surface) if label != "DATE" else None
            if m and m.end() < len(surface):  # "Nurse Grace", "Dr. Okafor": the title stays readable
                s += m.end()
                surface = an.text[s:e]
                key = norm(surface)
            if label == "PERSON":
                if all(w in GENERIC_LABEL_WORDS or w in GENERIC_WORDS for w in key.split()) or not re.search(r"[A-Za-z]", surface):
                    continue
                out.append(Candidate(s, e, "PERSON", self.source, 50))
            elif label in ("GPE", "LOC", "FAC", "ORG"):
                # a short upper-case ORG is still redacted unless kept (a site may be known by its initials)
                if all(w in GENERIC_WORDS for w in key.split()) or not re.search(r"[A-Za-z]", surface):
                    continue
                out.append(Candidate(s, e, LABELS[label], self.source, 50))
            elif label == "DATE":
                if any(rx.search(surface) for rx in SPECIFIC_DATES):
                    out.append(Candidate(s, e, "DATE", self.source, 50))
        return out
