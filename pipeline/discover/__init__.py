"""Discovery: BERTopic over a project's segments, to find what the codebook does not cover.

``discover(store)`` reads the coded segments of a project store and their vectors from the store's
embedding cache (nothing is re-encoded when ``precode run`` has already embedded them; the count
is reported). The codebook codes are BERTopic *zero-shot topics*: a segment whose similarity to a
code's ``name: description`` reaches ``zeroshot_min_similarity`` is labelled with that code
(*covered*); the others are clustered (UMAP + HDBSCAN), outliers are re-assigned to their nearest
topic when similar enough, and every clustered topic becomes a :class:`CandidateCode`: a proposed
name, c-TF-IDF keywords (stop words, fillers and speaker names removed, uni- and bigrams),
five representative quotes, its size and how many documents and speaker roles it spans.

Candidates are proposals like any other: ``status = proposed`` until a person accepts
(:func:`accept_candidate`: the code is added to the project codebook, category ``Emergent``, its
quotes as exemplars, under its proposed name or another; :func:`merge_candidates`: several topics as
one code) or rejects (:func:`reject_candidate`) them. Reviews are append-only rows of the
project store (table ``discovery_reviews``), and a later discovery shows a topic reviewed before
(same segments, or at least ``REVIEW_MATCH`` of them) with its verdict instead of proposing it again.

Deterministic: fixed seeds (UMAP ``random_state``, which also makes UMAP single-threaded), sorted
inputs and outputs, rounded floats; two runs over the same project write byte-identical
``candidates.json`` and ``candidates.csv``.

Modules: :mod:`.model` (candidates, results, words and names), :mod:`.topics` (the discovery),
:mod:`.outputs` (candidates.json / .csv), :mod:`.reviews` (accept / reject).
"""

from .model import (
    EMERGENT_CATEGORY, FILLERS, FORMAT, KEEP_WORDS, MIN_SEGMENTS, N_KEYWORDS, N_QUOTES, REVIEW_MATCH, CandidateCode,
    CoveredCode, DiscoveryResult, PhraseAnalyzer, Quote, candidate_id, content_words, discovery_dir,
    project_model, propose_name, scaled_min_topic_size, stop_words,
)
from ..project import latest_manifest
from .outputs import candidates_csv, dumps, load_candidates
from .reviews import accept_candidate, load_reviews, merge_candidates, reject_candidate, review_status, status_text
from .topics import discover, enable_numba_cache

__all__ = [
    "discover", "enable_numba_cache", "accept_candidate", "merge_candidates", "reject_candidate", "review_status",
    "status_text", "load_reviews", "load_candidates",
    "dumps", "candidates_csv", "CandidateCode", "CoveredCode", "DiscoveryResult", "Quote", "PhraseAnalyzer",
    "candidate_id", "content_words", "discovery_dir", "latest_manifest", "project_model", "propose_name",
    "scaled_min_topic_size", "stop_words", "EMERGENT_CATEGORY", "FILLERS", "FORMAT", "KEEP_WORDS", "MIN_SEGMENTS",
    "N_KEYWORDS", "N_QUOTES", "REVIEW_MATCH",
]
