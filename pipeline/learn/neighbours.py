"""fewshot.v8's neighbour-label feature (in the spirit of ML-kNN): for each (segment, code), the share of the
segment's ``k`` nearest coded example texts (cosine of sentence vectors) that carry the code, each neighbour
weighed by its similarity (clipped at 0) or all alike."""

from __future__ import annotations

import numpy as np

from ..embed import unit_rows


def neighbour_share(query: np.ndarray, ref: np.ndarray, ref_codes: np.ndarray, k: int, weighted: bool = True,
                    allowed: np.ndarray | None = None) -> np.ndarray:
    """[n_query, codes]: the (similarity-weighted) share of each query's ``k`` nearest ``ref`` rows that carry
    each code. ``ref_codes`` [n_ref, codes] 1/0 (the codes each reference text was given); ``allowed``
    [n_query, n_ref] which references a query may take as neighbours (None: all). A query with no
    neighbour (or only ones at a cosine <= 0, when ``weighted``) gets 0 for every code."""
    n_codes = ref_codes.shape[1]
    out = np.zeros((len(query), n_codes))
    if len(query) == 0 or len(ref) == 0 or k < 1:
        return out
    sims = unit_rows(query, np.float64) @ unit_rows(ref, np.float64).T
    if allowed is not None:
        sims = np.where(allowed, sims, -np.inf)
    kk = min(k, sims.shape[1])
    idx = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
    s = np.take_along_axis(sims, idx, axis=1)
    ok = np.isfinite(s)
    w = np.where(ok, np.maximum(s, 0.0) if weighted else 1.0, 0.0)
    total = w.sum(axis=1, keepdims=True)
    share = np.einsum("qk,qkc->qc", w, np.asarray(ref_codes, dtype=np.float64)[idx])
    return np.where(total > 0, share / np.maximum(total, 1e-12), 0.0)
