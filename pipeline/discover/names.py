"""Readable names for emergent topics: BERTopic's keywords re-ranked against the topic itself.

KeyBERTInspired's idea on the vectors precode already has: a topic's candidate phrases (its c-TF-IDF
keywords and key phrases) are ranked by cosine to the topic's centroid (the mean of its segments' cached
vectors), then BERTopic's maximal marginal relevance keeps the phrases that are both close to the topic and
unlike each other. Nothing is encoded: a phrase's vector is the mean of the cached vectors of the segments
that contain it (:func:`phrase_vectors`), so a phrase used all over the corpus lands between topics and one
typical of a topic lands near it.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

import numpy as np

from .model import propose_name

DIVERSITY = 0.5


def ranked_phrases(centroid: np.ndarray, phrases: Sequence[str], vectors: np.ndarray,
                   diversity: float = DIVERSITY) -> list[str]:
    """``phrases`` ordered by maximal marginal relevance to ``centroid`` (most representative first)."""
    from bertopic.representation._mmr import mmr

    if len(phrases) < 2:
        return list(phrases)
    return list(mmr(centroid.reshape(1, -1), np.asarray(vectors), list(phrases), diversity=diversity,
                    top_n=len(phrases)))


def readable_names(keywords: Sequence[Sequence[str]], centroids: Sequence[np.ndarray],
                   embed: Callable[[list[str]], np.ndarray], taken: set[str],
                   diversity: float = DIVERSITY) -> list[str]:
    """One name per topic, unique against ``taken`` (codebook code names, casefolded; updated)."""
    vocab = sorted({k for kws in keywords for k in kws})
    vecs = dict(zip(vocab, embed(vocab))) if vocab else {}
    names = []
    for kws, centroid in zip(keywords, centroids):
        kws = list(dict.fromkeys(kws))
        order = ranked_phrases(centroid, kws, np.stack([vecs[k] for k in kws]), diversity) if kws else []
        names.append(propose_name(order, taken))
    return names


def phrase_vectors(texts: Sequence[str], X: np.ndarray) -> Callable[[list[str]], np.ndarray]:
    """``embed(phrases)`` from cached segment vectors: the mean vector of the segments containing each phrase."""
    lowered = [" ".join(t.casefold().split()) for t in texts]

    def embed(phrases: list[str]) -> np.ndarray:
        out = np.zeros((len(phrases), X.shape[1]), dtype=np.float32)
        for k, p in enumerate(phrases):
            pat = re.compile(r"(?<!\w)" + re.escape(" ".join(p.casefold().split())) + r"(?!\w)")
            rows = [i for i, t in enumerate(lowered) if pat.search(t)]
            if rows:
                out[k] = X[rows].mean(axis=0)
        return out

    return embed
