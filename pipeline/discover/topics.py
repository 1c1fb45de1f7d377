"""The discovery itself: BERTopic over the project's cached embeddings, codebook codes as zero-shot topics."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from ..embed import EmbedStats, Embedder, embed_texts
from ..errors import PrecodeError
from ..private import write_private
from ..records import Code, Codebook
from ..store import Store
from .model import (ANNOTATION, MIN_SEGMENTS, N_KEYWORDS, N_QUOTES, CandidateCode, CoveredCode, DiscoveryResult,
                    PhraseAnalyzer, Quote, _backend_class, _round, candidate_id, content_words,
                    discovery_dir, project_model, scaled_min_topic_size, stop_words)
from ..project import latest_manifest
from .outputs import candidates_csv, dumps
from .reviews import _match_review, load_reviews


# -- discovery --------------------------------------------------------------------------------------

def discover(
    store_path: str | Path,
    *,
    embedder=None,
    min_topic_size: int | None = None,
    seed: int = 0,
    codebook_zero_shot: bool = True,
    zeroshot_min_similarity: float = 0.5,
    nr_topics: int | str | None = None,
    outlier_threshold: float = 0.3,
    min_words: int = 2,
    codebooks: Sequence[str] | None = None,
    write: bool = True,
    out_dir: str | Path | None = None,
) -> DiscoveryResult:
    """Emergent topics of a project as candidate codes (see the module docstring).

    ``embedder``: defaults to the model of the latest run (from its manifest), loaded only if a
    vector is missing from the cache. ``min_topic_size``: HDBSCAN ``min_cluster_size`` (default
    :func:`scaled_min_topic_size`). ``outlier_threshold``: minimum cosine of an outlier to a topic
    centroid for it to join the topic. ``min_words``: segments with fewer content words (after stop
    words and fillers) are not clustered (counted as ``too_short``). ``codebooks``: the codebooks whose
    codes are zero-shot topics (default: every codebook the project's studies use). ``write``: candidates.json and
    candidates.csv in ``out_dir`` (default ``discovery/`` beside the store).
    """
    import importlib.util

    from ..project import load_project
    from ..propose import label_texts

    missing = [m for m in ("bertopic", "umap", "hdbscan") if importlib.util.find_spec(m) is None]
    if missing:
        raise PrecodeError(f"discovery needs {', '.join(missing)}: pip install -c constraints.txt -e . "
                           "(bertopic brings umap-learn and hdbscan)")
    store_path = Path(store_path)
    if not store_path.exists():
        raise PrecodeError(f"{store_path}: no such project store")
    data = load_project(store_path)
    res = DiscoveryResult()
    with Store(store_path) as st:
        manifest = latest_manifest(st)
        if embedder is None:
            embedder = Embedder(project_model(manifest), batch_size=64)
        res.model_id = embedder.model.model_id

        # -- segments and their cached vectors ------------------------------------------------------
        segs = [s for s in data.segments if s.coded and s.text.strip()]
        stops = stop_words([s.speaker for s in data.segments], [s.role for s in data.segments])
        stop_set = set(stops)
        content = [content_words(s.text, stop_set) for s in segs]
        seg_stats = EmbedStats()
        all_vecs = embed_texts([s.text for s in segs], embedder, st, stats=seg_stats)
        res.reencoded = seg_stats.computed
        keep = [i for i, c in enumerate(content) if c >= min_words]
        segs = [segs[i] for i in keep]
        X = all_vecs[keep] if len(keep) else np.zeros((0, all_vecs.shape[1] if all_vecs.ndim == 2 else 0), np.float32)
        # for c-TF-IDF keywords only; the final "." keeps BERTopic's joining of a topic's segments
        # from making bigrams across two segments
        docs = [" ".join(ANNOTATION.sub(" ", s.text).split()) + " ." for s in segs]
        n = len(segs)

        # -- codebook labels (zero-shot topics) -----------------------------------------------------
        books = sorted({b.name: b for b in data.codebooks.values()}.values(), key=lambda b: b.name)
        if not books:
            from ..project import load_codebooks

            books = sorted(load_codebooks(st).values(), key=lambda b: b.name)
        if codebooks is not None:
            from ..project import load_codebooks

            every = load_codebooks(st)
            unknown = [c for c in codebooks if c not in every]
            if unknown:
                raise PrecodeError(f"no codebook {', '.join(map(repr, unknown))} in this project "
                                   f"(known: {', '.join(sorted(every))})")
            books = [every[c] for c in sorted(set(codebooks))]
        zs_labels: list[str] = []
        zs_codes: list[list[tuple[Codebook, Code]]] = []  # codes sharing a label text share a topic
        if codebook_zero_shot:
            for book in books:
                for lt in label_texts(book):
                    if lt.kind != "description":
                        continue
                    if lt.text in zs_labels:
                        zs_codes[zs_labels.index(lt.text)].append((book, book.codes[lt.code]))
                    else:
                        zs_labels.append(lt.text)
                        zs_codes.append([(book, book.codes[lt.code])])
        label_stats = EmbedStats()
        backend = _backend_class()(embedder, st, label_stats)

        m_size = int(min_topic_size or scaled_min_topic_size(n))
        res.params = {
            "seed": seed, "min_topic_size": m_size, "min_topic_size_scaled": min_topic_size is None,
            "codebook_zero_shot": codebook_zero_shot, "zeroshot_min_similarity": zeroshot_min_similarity,
            "nr_topics": nr_topics, "outlier_threshold": outlier_threshold, "min_words": min_words,
            "umap": {"n_neighbors": 15, "n_components": 5, "min_dist": 0.0, "metric": "cosine"},
            "vectorizer": {"analyzer": "phrases", "ngram_range": [1, 2], "min_df": 1, "stop_words": len(stops)},
            "codebooks": [b.name for b in books], "zero_shot_topics": len(zs_labels),
            "bertopic": _version("bertopic"),
        }
        res.counts = {"segments": len(all_vecs) if len(all_vecs) else 0, "too_short": len(content) - n,
                      "clustered_input": n}
        fitted, topics, tm = _fit(docs, X, zs_labels, backend, res, m_size, seed, stops, nr_topics, outlier_threshold)
        res.topic_model = tm

        # -- covered (zero-shot) and emergent topics -----------------------------------------------
        zs_topic = _zero_shot_topics(fitted, X, backend.embed(zs_labels) if zs_labels else None,
                                     zeroshot_min_similarity)
        res.label_texts_encoded = label_stats.computed
        by_topic: dict[int, list[int]] = {}
        for i, t in enumerate(topics):
            by_topic.setdefault(int(t), []).append(i)
        covered: dict[tuple[str, str], CoveredCode] = {}
        for t, idx in by_topic.items():
            if t in zs_topic:
                for book, code in zs_codes[zs_topic[t]]:
                    key = (book.name, code.path)
                    cc = covered.setdefault(key, CoveredCode(book.name, code.path, code.guid(book.name), []))
                    cc.segments.extend(segs[i].id for i in idx)
        for cc in covered.values():
            cc.segments.sort()
        res.covered = [covered[k] for k in sorted(covered)]
        reviews = load_reviews(store_path)
        taken = {c.name.casefold() for b in books for c in b.codes}
        built = [_candidate(t, idx, segs, X, tm) for t, idx in sorted(by_topic.items())
                 if t != -1 and t not in zs_topic]
        built.sort(key=lambda c: (-c.size, c.id))
        from .names import DIVERSITY, noun_phrases, phrase_names, phrase_vectors, readable_names

        row = {s.id: i for i, s in enumerate(segs)}
        members = [[row[m] for m in c.members] for c in built]
        nlp = _tagger() if built else None
        names: list[str | None] = [None] * len(built)
        if nlp is not None:
            phrases = noun_phrases([" ".join(ANNOTATION.sub(" ", s.text).split()) for s in segs], nlp, stop_set)
            names = phrase_names(members, phrases, X, taken)
        unnamed = [k for k, name in enumerate(names) if name is None]
        if unnamed:
            for k, name in zip(unnamed, readable_names([built[k].keywords for k in unnamed],
                                                       [X[members[k]].mean(axis=0) for k in unnamed],
                                                       phrase_vectors(docs, X), taken)):
                names[k] = name
        res.params["names"] = (
            (f"noun phrases (spaCy {nlp.meta.get('name', '')} {nlp.meta.get('version', '')}) scored by the share of "
             "the topic using them x the share of their use in the topic x cosine to the topic centroid; else "
             if nlp is not None else "")
            + f"keywords ranked by maximal marginal relevance (diversity {DIVERSITY}) to the topic centroid; a phrase's "
            "vector is the mean of the cached vectors of the segments using it")
        for c, topic_name in zip(built, names):
            assert topic_name is not None, "every topic is named: by a noun phrase, else by its keywords"
            c.name = topic_name
            match = _match_review(c.members, reviews)
            if match is not None:
                c.status = "accepted" if match[1]["verdict"] == "accept" else "rejected"
                c.review = match[1]
        res.candidates = built
        res.counts.update({
            "covered": sum(len(c.segments) for c in res.covered),
            "emergent": sum(c.size for c in built),
            "outliers": len(by_topic.get(-1, [])) if n else 0,
            "candidates": len(built),
            "zero_shot_codes_used": len(res.covered),
        })
        if not built and not res.notes:
            res.notes.append("no emergent topic: every clustered segment was covered by the codebook or left as an outlier")
    if write:
        out = Path(out_dir) if out_dir else discovery_dir(store_path)
        res.outputs["json"] = write_private(out / "candidates.json", dumps(res))
        res.outputs["csv"] = write_private(out / "candidates.csv", candidates_csv(res.candidates))
    return res


def _tagger():
    """spaCy's part-of-speech tagger for topic names, or None (names from keywords) when it is not installed."""
    from ..errors import ModelError
    from ..form import load_tagger

    try:
        return load_tagger()
    except ModelError:
        return None


def _version(pkg: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


_NUMBA_CACHED = False


def enable_numba_cache() -> int:
    """Let numba cache UMAP's compiled kernels on disk (UMAP does not ask for it).

    Without this every process re-compiles them: 20-40 s of CPU before the first fit, more than
    the fit itself on a few thousand segments. The cache (numba's ``__pycache__`` files beside
    UMAP's sources, or numba's user cache folder) is keyed by the source files, so a different
    UMAP version recompiles. The compiled code, hence the result, is the same. Returns how many
    functions were switched to caching.
    """
    global _NUMBA_CACHED
    if _NUMBA_CACHED:
        return 0
    _NUMBA_CACHED = True
    import sys

    import umap  # noqa: F401  (imports its numba modules)

    try:  # numba internals: if they move, compile as before
        from numba.core.caching import NullCache
        from numba.core.dispatcher import Dispatcher
    except ImportError:
        return 0

    n = 0
    for name, mod in list(sys.modules.items()):
        if name == "umap" or name.startswith("umap."):
            for v in list(vars(mod).values()):
                if isinstance(v, Dispatcher) and isinstance(getattr(v, "_cache", None), NullCache):
                    try:
                        v.enable_caching()
                        n += 1
                    except Exception:  # no writable cache location: compile as before
                        pass
    return n


def _fit(docs, X, zs_labels, backend, res: DiscoveryResult, m_size: int, seed: int, stops: list[str],
         nr_topics, outlier_threshold: float):
    """Fit BERTopic: (topics as fitted, topics after outlier reduction, model), or all -1 and no
    model (with a note) when there are too few segments to cluster."""
    n = len(docs)
    if n < max(MIN_SEGMENTS, m_size + 1):
        res.notes.append(f"too few segments to cluster ({n} with at least {res.params['min_words']} content words; "
                         f"need {max(MIN_SEGMENTS, m_size + 1)}): no candidates")
        return [-1] * n, [-1] * n, None
    from bertopic import BERTopic
    from bertopic.vectorizers import ClassTfidfTransformer
    from hdbscan import HDBSCAN
    from sklearn.feature_extraction.text import CountVectorizer
    from umap import UMAP

    enable_numba_cache()
    umap = UMAP(n_neighbors=min(15, n - 1), n_components=5, min_dist=0.0, metric="cosine",
                random_state=seed, low_memory=True)
    hdb = HDBSCAN(min_cluster_size=m_size, min_samples=max(2, m_size // 2), metric="euclidean",
                  cluster_selection_method="eom", prediction_data=False)
    vec = CountVectorizer(analyzer=PhraseAnalyzer(stops), min_df=1)
    tm = BERTopic(
        embedding_model=backend if zs_labels else None,
        umap_model=umap, hdbscan_model=hdb, vectorizer_model=vec,
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        zeroshot_topic_list=zs_labels or None, zeroshot_min_similarity=res.params["zeroshot_min_similarity"],
        nr_topics=nr_topics, top_n_words=N_KEYWORDS, calculate_probabilities=False, verbose=False,
        language=None,  # "english" would strip punctuation (and non-ASCII letters) before the analyzer
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            topics, _ = tm.fit_transform(docs, embeddings=X)
        except ValueError as err:  # e.g. nr_topics not above the zero-shot topics matched
            raise PrecodeError(f"discovery failed: {err}") from None
        topics = fitted = [int(t) for t in topics]
        zs = set(_zero_shot_topics(fitted, X, backend.embed(zs_labels) if zs_labels else None,
                                   res.params["zeroshot_min_similarity"]))
        emergent = {t for t in topics if t != -1 and t not in zs}
        if not emergent and any(t not in zs for t in topics):
            res.notes.append("HDBSCAN found no cluster among the segments the codebook does not cover "
                             f"(min_topic_size={m_size}); try a smaller --min-topic-size")
        if -1 in topics and (emergent or zs):
            new = tm.reduce_outliers(docs, topics, strategy="embeddings", embeddings=X, threshold=outlier_threshold)
            new = [int(t) for t in new]
            if new != topics:
                # c-TF-IDF again with the re-assigned outliers. Without an embedding model BERTopic keeps
                # its topic vectors (with one it would embed keywords: nothing is encoded here).
                model, tm.embedding_model = tm.embedding_model, None
                log = logging.getLogger("BERTopic")
                level = log.level
                log.setLevel(logging.ERROR)  # its warning about a custom list of topics
                tm.update_topics(docs, topics=new, vectorizer_model=vec,
                                 ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
                                 top_n_words=N_KEYWORDS)
                tm.embedding_model = model
                log.setLevel(level)
                topics = new
    return fitted, topics, tm


def _zero_shot_topics(fitted: list[int], X: np.ndarray, label_vecs: np.ndarray | None, threshold: float) -> dict[int, int]:
    """Topic id -> index of its zero-shot label, for the topics BERTopic made from codebook labels.

    Derived from BERTopic's own rule (a segment goes to its most similar label when the cosine
    reaches the threshold; those segments are not clustered), so it holds whether some, all or no
    segments matched a label (BERTopic's private map is empty when all did), and after ``nr_topics``
    merged topics (a topic is the label's when most of its segments matched it).
    """
    if label_vecs is None or not len(fitted) or not len(label_vecs):
        return {}
    a = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
    b = label_vecs / np.maximum(np.linalg.norm(label_vecs, axis=1, keepdims=True), 1e-12)
    sims = a @ b.T
    best, hit = sims.argmax(axis=1), sims.max(axis=1) >= threshold
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(fitted):
        groups.setdefault(t, []).append(i)
    out: dict[int, int] = {}
    for t in sorted(set(groups) - {-1}):
        idx = groups[t]
        matched = [int(best[i]) for i in idx if hit[i]]
        if len(matched) * 2 > len(idx):
            out[t] = max(sorted(set(matched)), key=matched.count)
    return out


def _candidate(topic: int, idx: list[int], segs, X: np.ndarray, tm) -> CandidateCode:
    members = sorted(segs[i].id for i in idx)
    vecs = X[idx]
    centroid = vecs.mean(axis=0)
    norm = float(np.linalg.norm(centroid)) or 1.0
    sims = (vecs @ centroid) / (np.linalg.norm(vecs, axis=1) * norm + 1e-12)
    # the most central members, preferring distinct documents and texts among the top candidates
    order = sorted(range(len(idx)), key=lambda j: (-round(float(sims[j]), 6), segs[idx[j]].id))
    pool = order[: max(4 * N_QUOTES, 20)]
    chosen: list[int] = []
    seen_docs: set[str] = set()
    seen_text: set[str] = set()
    for strict in (True, False):
        for j in pool:
            s = segs[idx[j]]
            key = " ".join(s.text.lower().split())
            if len(chosen) == N_QUOTES:
                break
            if j in chosen or key in seen_text or (strict and s.document_id in seen_docs):
                continue
            chosen.append(j)
            seen_docs.add(s.document_id)
            seen_text.add(key)
    chosen.sort(key=lambda j: (-round(float(sims[j]), 6), segs[idx[j]].id))
    quotes = [Quote(segs[idx[j]].id, segs[idx[j]].document_id, segs[idx[j]].speaker, segs[idx[j]].role,
                    " ".join(segs[idx[j]].text.split())) for j in chosen]
    words = [w for w, score in (tm.get_topic(topic) or []) if w and score > 0][:N_KEYWORDS] if tm is not None else []
    roles: dict[str, int] = {}
    for i in idx:
        r = segs[i].role or "unknown"
        roles[r] = roles.get(r, 0) + 1
    return CandidateCode(
        id=candidate_id(members), name="", keywords=words, quotes=quotes, size=len(idx),
        n_documents=len({segs[i].document_id for i in idx}), roles=dict(sorted(roles.items())), members=members,
        n_speakers=len({(segs[i].document_id, segs[i].speaker) for i in idx}), cohesion=_round(sims.mean()),
    )


