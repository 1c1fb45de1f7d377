"""Whether a segment uses the words of a code's name.

Researchers name codes with the words participants use ("nostalgia", "curiosity", "reflection of
feelings"), and a passage that says the word is much more likely to carry the code than one that
does not (games_as_art: 22% of coded (passage, code) pairs use a word of the code's name, 2% of the
others). The sentence embedding blurs this; :func:`name_matches` gives it to the learner as one
feature per (segment, code), whose weight is fitted on the project's own decisions
(``precode.fewshot.v6``).

Words are matched by a crude stem (the first ``max(4, len - 3)`` letters: "curiosity" matches
"curious", "emotional" matches "emotions"); English stop words and words under three letters in a
code's name are ignored.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from .records import Codebook

_WORD = re.compile(r"[^\W\d_]+")


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def stem(word: str) -> str:
    """The prefix a word is matched by."""
    return word[: max(4, len(word) - 3)]


def name_terms(codebook: Codebook) -> list[tuple[str, ...]]:
    """Per code, the stems of the content words of its name (empty: nothing to match)."""
    stop = _stop_words()
    out = []
    for code in codebook.codes:
        words = [w for w in _WORD.findall(code.name.lower()) if len(w) >= 3 and w not in stop]
        out.append(tuple(dict.fromkeys(stem(w) for w in words)))
    return out


def name_matches(texts: Sequence[str], terms: Sequence[tuple[str, ...]]) -> np.ndarray:
    """[len(texts), len(terms)]: the share of each code's name stems that begin a word of the text."""
    out = np.zeros((len(texts), len(terms)), dtype=np.float32)
    if not any(terms):
        return out
    for i, text in enumerate(texts):
        words = set(_WORD.findall(text.lower()))
        if not words:
            continue
        for j, stems in enumerate(terms):
            if stems:
                out[i, j] = sum(any(w.startswith(s) for w in words) for s in stems) / len(stems)
    return out
