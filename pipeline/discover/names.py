"""Readable names for emergent topics: phrases the participants used, ranked against the topic itself.

:func:`phrase_names` (the default): BERTopic's ``PartOfSpeech`` idea on the topic's own segments. spaCy's
tagger finds noun phrases ("bus passes", "private room on clinic days", "peer salary"; adjectives and
nouns, optionally joined by a preposition); a phrase is scored by how much of the topic uses it, how much of
its use is in this topic (c-TF-IDF's two factors) and, KeyBERTInspired's idea, by the cosine of its vector
to the topic's centroid. The name is the best phrase, and a second one sharing no word with it when that
scores at least half as well ("Money and peer salary"). A topic without such a phrase keeps the keyword
name of :func:`readable_names`.

:func:`readable_names` (the fallback, and the only one without a spaCy tagger):
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

from .model import propose_name, unique_name

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


# Nouns of talk that name no topic ("for years", "people say", "the ones"): never a name on their own.
GENERIC = frozenset("people person ones one time times year years day days week weeks month months guys folks".split())
MAX_PHRASE_WORDS = 5
MIN_SHARE = 0.05  # a phrase names a topic only if at least this share of its segments (and two) use it
SECOND = 0.5  # a second phrase joins the name when it scores at least this share of the first's score


def noun_phrases(texts: Sequence[str], nlp, stops: set[str]) -> list[set[str]]:
    """Per text, the distinct noun phrases it uses, lower-cased as written: adjectives and nouns ("peer
    salary"), or two of those joined by a preposition ("room on clinic days"); none starting or ending
    with a stop word, filler or speaker name (``stops``), none of only :data:`GENERIC` words."""
    from spacy.matcher import Matcher

    matcher = Matcher(nlp.vocab)
    noun, adj = {"POS": {"IN": ["NOUN", "PROPN"]}, "OP": "+"}, {"POS": "ADJ", "OP": "*"}
    matcher.add("NP", [[adj, noun], [adj, noun, {"POS": "ADP"}, {"POS": "DET", "OP": "?"}, adj, noun]],
                greedy="LONGEST")
    out = []
    for doc in nlp.pipe(texts, batch_size=256):
        found = set()
        for _, a, b in matcher(doc):
            span = doc[a:b]
            words = [t.lower_ for t in span]
            if (len(words) > MAX_PHRASE_WORDS or words[0] in stops or words[-1] in stops
                    or all(w in GENERIC for w in words) or not all(t.is_alpha or t.text == "-" for t in span)):
                continue
            found.add(" ".join(span.text.lower().split()))
        out.append(found)
    return out


def phrase_names(members: Sequence[Sequence[int]], phrases: Sequence[set[str]], X: np.ndarray,
                 taken: set[str]) -> list[str | None]:
    """One name per topic (``members``: row numbers into ``phrases`` and ``X``, the clustered segments'
    phrases and cached vectors), unique against ``taken`` (updated); None where no phrase qualifies."""
    import math
    from collections import Counter

    norms = np.linalg.norm(X, axis=1, keepdims=True)
    unit = X / np.maximum(norms, 1e-12)
    used_by: dict[str, list[int]] = {}
    for i, found in enumerate(phrases):
        for p in found:
            used_by.setdefault(p, []).append(i)
    names: list[str | None] = []
    for rows in members:
        n = len(rows)
        if not n:
            names.append(None)
            continue
        centroid = unit[list(rows)].mean(axis=0)
        centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
        counts = Counter(p for i in rows for p in phrases[i])
        scored = []
        for p, k in counts.items():
            if k < max(2, math.ceil(MIN_SHARE * n)):
                continue
            v = unit[used_by[p]].mean(axis=0)
            relevance = float(v @ centroid) / max(float(np.linalg.norm(v)), 1e-12)
            scored.append((round((k / n) * (k / len(used_by[p])) * max(relevance, 0.0), 6), p))
        scored.sort(key=lambda t: (-t[0], t[1]))
        if not scored or scored[0][0] <= 0:
            names.append(None)
            continue
        best_score, best = scored[0]
        words = set(best.split())
        second = next((p for sc, p in scored[1:] if sc >= SECOND * best_score and not words & set(p.split())), None)
        names.append(unique_name(best + (f" and {second}" if second else ""), taken))
    return names
