"""Whether a segment uses the words of a code's name.

Researchers name codes with the words participants use ("nostalgia", "curiosity", "reflection of
feelings"), and a passage that says the word is much more likely to carry the code than one that
does not (games_as_art: 22% of coded (passage, code) pairs use a word of the code's name, 2% of the
others). The sentence embedding blurs this; :func:`name_matches` gives it to the learner as one
feature per (segment, code), whose weight is fitted on the project's own decisions
(``precode.fewshot.v6``).

A participant who says "memories of my childhood" uses none of the words of *Nostalgia*. With word
vectors (``precode.fewshot.v7``), :class:`NameMatcher` also counts a word of the segment that is close
to a word of the name: per name word, the closest word of the segment by cosine similarity of their
embeddings (each word embedded alone, by the run's sentence encoder, so the vectors come from the
same model and cache as everything else), rescaled from ``[floor, 1]`` to ``[0, 1]``; the exact match
stands where it is higher. It is still one feature with one weight for every code.

Words are matched by a crude stem (the first ``max(4, len - 3)`` letters: "curiosity" matches
"curious", "emotional" matches "emotions"); English stop words and words under three letters in a
code's name are ignored.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping, Sequence

import numpy as np

from .embed import unit_rows
from .records import Codebook

_WORD = re.compile(r"[^\W\d_]+")

# below this cosine similarity two words count as unrelated (MiniLM: unrelated single words score
# 0.1-0.4; "nostalgia" / "memories" 0.5; bench/results/proposals.md measures 0.3-0.5 alike)
SOFT_FLOOR = 0.4

# words -> {word: vector}: the run's sentence encoder (with its cache) applied to single words
WordVectors = Callable[[list[str]], Mapping[str, np.ndarray]]


def _stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS)


def stem(word: str) -> str:
    """The prefix a word is matched by."""
    return word[: max(4, len(word) - 3)]


def content_words(text: str, stop: frozenset[str] | None = None) -> list[str]:
    """The distinct words of ``text`` (lower case) of three letters or more that are not stop words."""
    stop = _stop_words() if stop is None else stop
    return list(dict.fromkeys(w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in stop))


def name_words(codebook: Codebook) -> list[tuple[str, ...]]:
    """Per code, the content words of its name (empty: nothing to match)."""
    stop = _stop_words()
    return [tuple(content_words(code.name, stop)) for code in codebook.codes]


def name_terms(codebook: Codebook) -> list[tuple[str, ...]]:
    """Per code, the stems of the content words of its name (empty: nothing to match)."""
    return [tuple(dict.fromkeys(stem(w) for w in words)) for words in name_words(codebook)]


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


class NameMatcher:
    """Per (segment, code): how much of the code's name the segment says.

    Without ``vectors``, :func:`name_matches` (the share of the name's stems the segment uses). With
    ``vectors``, also the words that come close: per word of the name, the best cosine similarity of a
    word of the segment, rescaled from ``[floor, 1]`` to ``[0, 1]``, averaged over the name's words; the
    larger of the two counts. ``vectors`` is asked only for words it has not given before.
    """

    def __init__(self, codebook: Codebook, vectors: WordVectors | None = None, floor: float = SOFT_FLOOR):
        if not 0 <= floor < 1:
            raise ValueError(f"floor must be in [0, 1), not {floor}")
        self.terms = name_terms(codebook)
        self.words = name_words(codebook)
        self.vectors = vectors
        self.floor = floor
        self._stop = _stop_words()
        self._vec: dict[str, np.ndarray] = {}

    @property
    def soft(self) -> bool:
        """Whether words close to the name's words count (word vectors were given)."""
        return self.vectors is not None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        exact = name_matches(texts, self.terms)
        if self.vectors is None or not any(self.words) or not len(texts):
            return exact
        return np.maximum(exact, self.similar(texts))

    def _lookup(self, words: list[str]) -> None:
        todo = [w for w in dict.fromkeys(words) if w not in self._vec]
        if todo:
            assert self.vectors is not None
            got = self.vectors(todo)
            missing = [w for w in todo if w not in got]
            if missing:
                raise ValueError(f"no word vector for {missing[:3]}")
            for w, v in zip(todo, unit_rows(np.stack([got[w] for w in todo]))):
                self._vec[w] = v

    def similar(self, texts: Sequence[str]) -> np.ndarray:
        """[len(texts), codes]: the rescaled similarity of the segments' words to each code's name words."""
        seg_words = [content_words(t, self._stop) for t in texts]
        vocab = list(dict.fromkeys(w for n in self.words for w in n))
        self._lookup(vocab + [w for ws in seg_words for w in ws])
        col = {w: i for i, w in enumerate(vocab)}
        # per code, the mean over its name words: a [name words, codes] averaging matrix
        avg = np.zeros((len(vocab), len(self.words)), dtype=np.float32)
        for j, n in enumerate(self.words):
            for w in n:
                avg[col[w], j] += 1.0 / len(n)
        out = np.zeros((len(texts), len(self.words)), dtype=np.float32)
        has = np.array([bool(ws) for ws in seg_words], dtype=bool)
        if not has.any():
            return out
        words = list(dict.fromkeys(w for ws in seg_words for w in ws))
        row = {w: i for i, w in enumerate(words)}
        sim = np.stack([self._vec[w] for w in words]) @ np.stack([self._vec[w] for w in vocab]).T
        flat = np.array([row[w] for ws in seg_words for w in ws], dtype=np.int64)
        starts = np.cumsum([0] + [len(ws) for ws in seg_words if ws])[:-1]
        best = np.maximum.reduceat(sim[flat], starts, axis=0)  # per segment and name word: its closest word
        best = np.clip((best - self.floor) / (1.0 - self.floor), 0.0, 1.0)
        out[has] = best @ avg
        return out

    def explain(self, text: str, code: int, min_part: float = 0.25) -> list[tuple[str, str, float]]:
        """Why segment ``text`` matches code ``code``'s name: (segment word, name word, part) per name
        word the segment says (part 1.0: the word itself, by stem) or comes close to (v7: the rescaled
        similarity, at least ``min_part``), best first."""
        words = content_words(text, self._stop)
        out: list[tuple[str, str, float]] = []
        for name_word, term in zip(self.words[code], (stem(w) for w in self.words[code])):
            said = next((w for w in words if w.startswith(term)), None)
            if said is not None:
                out.append((said, name_word, 1.0))
            elif self.vectors is not None and words:
                self._lookup([name_word, *words])
                sims = np.stack([self._vec[w] for w in words]) @ self._vec[name_word]
                k = int(sims.argmax())
                part = float(np.clip((sims[k] - self.floor) / (1.0 - self.floor), 0.0, 1.0))
                if part >= min_part:
                    out.append((words[k], name_word, round(part, 2)))
        return sorted(out, key=lambda t: -t[2])
