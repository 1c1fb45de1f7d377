"""The order in which the review shows segments: most uncertain first (sampled), or document order."""

from __future__ import annotations

import numpy as np

# -- review order ------------------------------------------------------------------------------------

ORDERS = ("uncertainty", "document")
UNCERTAINTY_TEMPERATURE = 0.05  # measured in bench/results/learning.md (pure margin: 0)


def _margin(scores: np.ndarray) -> np.ndarray:
    if scores.shape[1] == 1:
        return np.abs(scores[:, 0] - 0.5)
    top2 = -np.partition(-scores, 1, axis=1)[:, :2]
    return top2[:, 0] - top2[:, 1]


def uncertainty_order(scores: np.ndarray, temperature: float = 0.0, seed: int = 0) -> np.ndarray:
    """Row indices, the most informative first: smallest margin between the two best codes.

    ``temperature=0``: strictly by margin, ties in document order. ``temperature>0``: a seeded
    random order in which a segment comes first with probability proportional to
    ``exp(-margin / temperature)`` (Gumbel top-k), so a run of near-identical, equally uncertain
    segments does not fill the queue. With a single code the margin is the distance to 0.5.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        return np.arange(scores.shape[0] if scores.ndim else 0)
    key = np.round(_margin(scores), 9)
    if temperature > 0:
        gumbel = np.random.default_rng(seed).gumbel(size=key.shape[0])
        key = key / temperature - gumbel
    return np.argsort(key, kind="stable")


def document_order(scores: np.ndarray) -> np.ndarray:
    """Row indices in document order (the order the segments were given in)."""
    return np.arange(np.asarray(scores).shape[0])


def review_order(scores: np.ndarray, order: str = "uncertainty", temperature: float = UNCERTAINTY_TEMPERATURE,
                 seed: int = 0) -> np.ndarray:
    """What to review next: ``uncertainty`` (what teaches the proposer most, sampled with
    ``temperature``; pass e.g. the number of decisions so far as ``seed``) or ``document`` order."""
    if order == "uncertainty":
        return uncertainty_order(scores, temperature, seed)
    if order == "document":
        return document_order(scores)
    raise ValueError(f"unknown review order '{order}' (one of: {', '.join(ORDERS)})")
