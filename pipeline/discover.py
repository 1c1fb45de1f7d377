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
quotes as exemplars) or rejects (:func:`reject_candidate`) them. Reviews are append-only rows of the
project store (table ``discovery_reviews``), and a later discovery shows a topic reviewed before
(same segments, or at least ``REVIEW_MATCH`` of them) with its verdict instead of proposing it again.

Deterministic: fixed seeds (UMAP ``random_state``, which also makes UMAP single-threaded), sorted
inputs and outputs, rounded floats; two runs over the same project write byte-identical
``candidates.json`` and ``candidates.csv``.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import math
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from .embed import EmbedStats, Embedder, ResolvedModel, _fingerprint, _is_model_dir, embed_texts, resolve_model
from .errors import PrecodeError
from .records import Code, Codebook
from .store import Store

FORMAT = "precode.discovery.v1"
EMERGENT_CATEGORY = "Emergent"
N_QUOTES = 5
N_KEYWORDS = 10
REVIEW_MATCH = 0.8  # Jaccard overlap of members for a topic to count as one reviewed before
MIN_SEGMENTS = 20  # fewer clusterable segments than this: no clustering, a note instead

# Conversational fillers, back-channels and contraction fragments (the token pattern splits "don't"
# into "don"). Single words only: stop words go before bigrams are formed, so "you know", "kind of"
# and "i mean" disappear with their words.
FILLERS = frozenset("""
    um umm uh uhh uhm er erm ah ahh eh hm hmm hmmm mm mmm mmh mhm mhmm huh oh ooh ok okay yeah yeh yep yup yes
    nope nah right like know mean kind sort sorta kinda just really actually basically literally
    totally pretty stuff thing things lot lots gonna wanna gotta gotten got get gets getting going
    say said says saying think thought guess tell told bit little maybe probably definitely
    absolutely obviously sure well anyway anyways alright whatever way come came goes went
    don doesn didn isn wasn aren weren haven hasn hadn couldn wouldn shouldn won ain ll ve re
    im ive youre theyre thats theres dont didnt doesnt cant wont
""".split())
# Words of scikit-learn's English stop list that carry topics in interviews ("side effects",
# "back pain", "the fire", "a bill", "the system", "a phone call"): kept.
KEEP_WORDS = frozenset("""
    side back front top bottom full empty fire bill system call find found interest detail describe cry
    move part show serious name alone thick thin fill amount
""".split())
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"  # words of two letters or more, no digits
# transcription annotations ([laughs], (inaudible), [crosstalk 00:12]) are not topic words
ANNOTATION = re.compile(r"\[[^\]]{0,40}\]|\((?:laugh|inaudible|crosstalk|pause|unintelligible|sigh|cough)[^)]{0,30}\)", re.I)


class Quote(NamedTuple):
    segment_id: str
    document: str
    speaker: str | None
    role: str | None
    text: str


@dataclass
class CandidateCode:
    """An emergent topic proposed as a new code. ``id`` depends only on the member segments."""

    id: str
    name: str
    keywords: list[str]
    quotes: list[Quote]
    size: int
    n_documents: int
    roles: dict[str, int]  # speaker role -> members
    members: list[str]  # segment ids, sorted
    n_speakers: int = 0
    cohesion: float = 0.0  # mean cosine of members to the topic centroid
    status: str = "proposed"  # proposed | accepted | rejected (from the store's discovery_reviews)
    flags: tuple[str, ...] = ("emergent",)
    review: dict | None = None  # the earlier review this topic matches

    def to_json(self) -> dict:
        d = asdict(self)
        d["quotes"] = [q._asdict() for q in self.quotes]
        d["flags"] = list(self.flags)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "CandidateCode":
        d = dict(d)
        d["quotes"] = [Quote(**q) for q in d.get("quotes", [])]
        d["flags"] = tuple(d.get("flags", ()))
        return cls(**d)


@dataclass
class CoveredCode:
    """A codebook code used as a zero-shot topic, and the segments labelled with it."""

    codebook: str
    code: str  # category/name
    guid: str
    segments: list[str]


@dataclass
class DiscoveryResult:
    candidates: list[CandidateCode] = field(default_factory=list)
    covered: list[CoveredCode] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    model_id: str = ""
    reencoded: int = 0  # segment texts encoded because the cache lacked them (0 after `precode run`)
    label_texts_encoded: int = 0  # codebook label texts encoded (0 after `precode run`)
    outputs: dict[str, Path] = field(default_factory=dict)
    topic_model: object | None = None  # the fitted BERTopic (not serialised)

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "model_id": self.model_id,
            "params": self.params,
            "counts": self.counts,
            "reencoded": self.reencoded,
            "label_texts_encoded": self.label_texts_encoded,
            "notes": self.notes,
            "candidates": [c.to_json() for c in self.candidates],
            "covered": [asdict(c) for c in self.covered],
        }


# -- helpers ----------------------------------------------------------------------------------------

def scaled_min_topic_size(n: int) -> int:
    """HDBSCAN ``min_cluster_size`` for ``n`` segments: sqrt(n)/3, at least 5.

    350 segments -> 6, 1,000 -> 11, 10,000 -> 33, 50,000 -> 75: small projects still show
    topics of a handful of segments; large ones are not fragmented into hundreds of tiny topics.
    """
    return max(5, round(math.sqrt(max(n, 0)) / 3))


def _words(text: str | None) -> list[str]:
    return [w.lower() for w in re.findall(TOKEN_PATTERN, text or "")]


def stop_words(speakers: Sequence[str | None] = (), roles: Sequence[str | None] = ()) -> list[str]:
    """English stop words (less :data:`KEEP_WORDS`) + fillers + the words of speaker names, except
    those also in a role name ("PSS" as a speaker label stays a keyword if "PSS supervisor" is a role)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    role_words = {w for r in roles for w in _words(r)}
    names = {w for s in speakers for w in _words(s)} - role_words
    return sorted((set(ENGLISH_STOP_WORDS) - KEEP_WORDS) | FILLERS | names)


# Phrase boundaries: a bigram never spans punctuation ("the bus again, the bus driver" has no "bus bus").
BOUNDARY = re.compile(r"[.,;:!?()\[\]{}\"“”…—–/]+|\s-+\s")


class PhraseAnalyzer:
    """CountVectorizer analyzer: lower-cased words (no digits), stop words out, then unigrams and
    the bigrams of adjacent kept words inside one phrase (no bigram of a word with itself)."""

    def __init__(self, stops: Sequence[str]):
        self.stops = frozenset(stops)

    def __call__(self, doc: str) -> list[str]:
        out: list[str] = []
        for phrase in BOUNDARY.split(doc.lower()):
            words = [w for w in re.findall(TOKEN_PATTERN, phrase) if w not in self.stops]
            out.extend(words)
            out.extend(f"{a} {b}" for a, b in zip(words, words[1:]) if a != b)
        return out


def content_words(text: str | None, stops: set[str]) -> int:
    """Words of ``text`` that can be topic words (annotations, stop words and fillers left out)."""
    return sum(1 for w in _words(ANNOTATION.sub(" ", text or "")) if w not in stops)


def _round(x: float, nd: int = 4) -> float:
    return float(round(float(x), nd))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def candidate_id(members: Sequence[str]) -> str:
    return "emergent-" + _sha("\n".join(sorted(members)))[:12]


def propose_name(keywords: Sequence[str], taken: set[str]) -> str:
    """The top keyword plus the next one sharing no word with it: "Bus / appointments"."""
    if not keywords:
        base = "Emergent topic"
    else:
        parts = [keywords[0]]
        used = set(keywords[0].split())
        for k in keywords[1:]:
            if not used & set(k.split()):
                parts.append(k)
                break
        base = " / ".join(parts)
        base = base[:1].upper() + base[1:]
    name, i = base, 2
    while name.casefold() in taken:
        name, i = f"{base} ({i})", i + 1
    taken.add(name.casefold())
    return name


def discovery_dir(store_path: str | Path) -> Path:
    return Path(store_path).parent / "discovery"


def latest_manifest(store: Store) -> dict:
    row = store.conn.execute(
        "SELECT manifest FROM runs WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1").fetchone()
    if row is None:
        raise PrecodeError(f"{store.path}: no finished run in this project (run `precode run CONFIG` first)")
    return json.loads(row[0])


def project_model(manifest: dict) -> ResolvedModel:
    """The embedding model of the project's latest run (so the cached vectors are found)."""
    m = manifest.get("embedding_model") or {}
    name = m.get("name")
    if not name:
        raise PrecodeError("the latest run's manifest names no embedding model")
    loc = Path(m.get("location") or "")
    if m.get("source") in ("directory", "package") and _is_model_dir(loc):
        return ResolvedModel(name, str(loc), m["source"], _fingerprint(loc))
    return resolve_model(name)


def _backend_class():
    from bertopic.backend import BaseEmbedder

    class CachedBackend(BaseEmbedder):
        """BERTopic embedding backend reading (and filling) the project store's vector cache."""

        def __init__(self, embedder, store: Store, stats: EmbedStats):
            super().__init__()
            self.embedder, self.store, self.stats = embedder, store, stats

        def embed(self, documents, verbose: bool = False) -> np.ndarray:
            return embed_texts(list(documents), self.embedder, self.store, stats=self.stats)

    return CachedBackend


# -- reviews: append-only rows of the store --------------------------------------------------------

def _legacy_reviews_path(store_path: str | Path) -> Path:
    return discovery_dir(store_path) / "reviews.json"


def _import_legacy_reviews(st: Store, store_path: str | Path) -> None:
    """Projects made before the store kept discovery reviews wrote them to discovery/reviews.json:
    copy them into the table once (the file is left as it is)."""
    p = _legacy_reviews_path(store_path)
    if not p.exists() or st.conn.execute("SELECT 1 FROM discovery_reviews LIMIT 1").fetchone():
        return
    old = json.loads(p.read_text(encoding="utf-8"))
    for cid in sorted(old, key=lambda k: (old[k].get("time", ""), k)):
        _append_review(st, cid, old[cid])


def _append_review(st: Store, candidate_id: str, review: dict) -> None:
    record = {k: v for k, v in review.items() if k not in ("verdict", "coder", "time", "memo")}
    with st.transaction() as c:
        c.execute("INSERT INTO discovery_reviews (candidate_id, verdict, coder, time, memo, record) VALUES (?, ?, ?, ?, ?, ?)",
                  (candidate_id, review["verdict"], review["coder"], review["time"], review.get("memo", ""),
                   json.dumps(record, sort_keys=True, ensure_ascii=False)))


def load_reviews(store_path: str | Path) -> dict[str, dict]:
    """Candidate id -> its review (verdict, coder, time, memo, name, keywords, members, code)."""
    out: dict[str, dict] = {}
    with Store(store_path) as st:
        _import_legacy_reviews(st, store_path)
        for cid, verdict, coder, time_, memo, record in st.conn.execute(
                "SELECT candidate_id, verdict, coder, time, memo, record FROM discovery_reviews ORDER BY id"):
            out.setdefault(cid, {"verdict": verdict, "coder": coder, "time": time_, "memo": memo, **json.loads(record)})
    return out


def _write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    tmp.replace(path)
    return path


def _match_review(members: list[str], reviews: dict[str, dict]) -> tuple[str, dict] | None:
    best, best_j = None, 0.0
    m, own = set(members), candidate_id(members)
    for rid in sorted(reviews):
        r = reviews[rid]
        other = set(r.get("members", []))
        j = 1.0 if rid == own else (len(m & other) / len(m | other) if m | other else 0.0)
        if j > best_j:
            best, best_j = (rid, r), j
    if best is not None and best_j >= REVIEW_MATCH:
        rid, r = best
        return rid, {"id": rid, "verdict": r["verdict"], "coder": r["coder"], "time": r["time"],
                     "overlap": _round(best_j, 3), **({"code": r["code"]} if r.get("code") else {})}
    return None


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

    from .project import load_project
    from .propose import label_texts

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
            from .project import load_codebooks

            books = sorted(load_codebooks(st).values(), key=lambda b: b.name)
        if codebooks is not None:
            from .project import load_codebooks

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
        for c in built:
            c.name = propose_name(c.keywords, taken)
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
        res.outputs["json"] = _write_text(out / "candidates.json", dumps(res))
        res.outputs["csv"] = _write_text(out / "candidates.csv", candidates_csv(res.candidates))
    return res


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
    chosen, seen_docs, seen_text = [], set(), set()
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


# -- outputs ----------------------------------------------------------------------------------------

def dumps(res: DiscoveryResult) -> str:
    return json.dumps(res.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


CSV_COLUMNS = ["id", "status", "name", "size", "n_documents", "n_speakers", "roles", "keywords", "cohesion"] + \
              [f"quote_{i}" for i in range(1, N_QUOTES + 1)]


def candidates_csv(cands: Sequence[CandidateCode]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n", restval="")
    w.writeheader()
    for c in cands:
        row = {"id": c.id, "status": c.status, "name": c.name, "size": c.size, "n_documents": c.n_documents,
               "n_speakers": c.n_speakers, "roles": "; ".join(f"{r}: {k}" for r, k in c.roles.items()),
               "keywords": ", ".join(c.keywords), "cohesion": f"{c.cohesion:.4f}"}
        for i, q in enumerate(c.quotes, 1):
            who = ", ".join(x for x in (q.speaker, q.role) if x)
            row[f"quote_{i}"] = f"{q.text} [{q.document}{' | ' + who if who else ''} | {q.segment_id}]"
        w.writerow(row)
    return buf.getvalue()


def load_candidates(store_path: str | Path, path: str | Path | None = None) -> list[CandidateCode]:
    p = Path(path) if path else discovery_dir(store_path) / "candidates.json"
    if not p.exists():
        raise PrecodeError(f"{p}: no discovery results (run `precode discover PROJECT` first)")
    return [CandidateCode.from_json(c) for c in json.loads(p.read_text(encoding="utf-8"))["candidates"]]


# -- review: accept / reject ------------------------------------------------------------------------

def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _resolve_candidate(store_path, candidate) -> CandidateCode:
    if isinstance(candidate, CandidateCode):
        return candidate
    for c in load_candidates(store_path):
        if c.id == candidate:
            return c
    raise PrecodeError(f"no candidate '{candidate}' in the latest discovery of {store_path}")


def _check_unreviewed(reviews: dict, cand: CandidateCode) -> None:
    if cand.id in reviews:
        r = reviews[cand.id]
        raise PrecodeError(f"candidate {cand.id} was already {r['verdict']}ed by {r['coder']} on {r['time']}")


def accept_candidate(store_path: str | Path, candidate, coder: str, name: str | None = None,
                     codebook: str | None = None, memo: str = "") -> Code:
    """Add the candidate to the project codebook as a code of category ``Emergent``.

    Description: its keywords; exemplars: its quotes. ``codebook`` defaults to the codebook of the
    study most of its segments belong to. The acceptance is an append-only row of the store.
    Returns the new :class:`Code` (its guid: ``code.guid(codebook)``).
    """
    from .codebook import CodebookModel, _build
    from .project import load_codebooks

    if not coder or not coder.strip():
        raise PrecodeError("accepting a candidate needs a coder name")
    store_path = Path(store_path)
    cand = _resolve_candidate(store_path, candidate)
    reviews = load_reviews(store_path)
    _check_unreviewed(reviews, cand)
    code_name = " ".join((name or cand.name).split())
    if not code_name:
        raise PrecodeError("the new code needs a name")
    with Store(store_path) as st:
        books = load_codebooks(st)
        if codebook is None:
            codebook = _codebook_of_members(st, books, cand.members)
        if codebook not in books:
            raise PrecodeError(f"no codebook '{codebook}' in this project (known: {', '.join(sorted(books))})")
        (path, content) = st.conn.execute("SELECT path, content FROM codebooks WHERE name=?", (codebook,)).fetchone()
        content = json.loads(content)
        if any(c.name.casefold() == code_name.casefold() for c in books[codebook].codes):
            raise PrecodeError(f"codebook '{codebook}' already has a code named '{code_name}'; give another name")
        code = {
            "name": code_name,
            "description": ", ".join(cand.keywords),
            "examples": [q.text for q in cand.quotes],
            "note": f"emergent topic {cand.id} ({cand.size} segments, {cand.n_documents} documents), "
                    f"accepted by {coder.strip()}",
        }
        cats = content.setdefault("categories", [])
        cat = next((c for c in cats if c.get("name") == EMERGENT_CATEGORY), None)
        if cat is None:
            cat = {"name": EMERGENT_CATEGORY, "description": "Codes that emerged from discovery, accepted by a coder.",
                   "codes": []}
            cats.append(cat)
        cat.setdefault("codes", []).append(code)
        try:
            cb = _build(CodebookModel.model_validate(content), Path(path), books[codebook].sha256)
        except Exception as err:
            raise PrecodeError(f"cannot add '{code_name}' to codebook '{codebook}': {err}") from None
        st.save_codebook(cb, content)
        new = next(c for c in cb.codes if c.category == EMERGENT_CATEGORY and c.name == code_name)
        _append_review(st, cand.id, {"verdict": "accept", "coder": coder.strip(), "time": _now(), "memo": memo,
                                     "code": {"codebook": codebook, "name": new.name, "guid": new.guid(codebook)},
                                     "name": cand.name, "keywords": cand.keywords, "members": cand.members})
    return new


def reject_candidate(store_path: str | Path, candidate, coder: str, memo: str = "") -> dict:
    """Remember that ``coder`` rejected the candidate (an append-only row of the store); returns the record."""
    if not coder or not coder.strip():
        raise PrecodeError("rejecting a candidate needs a coder name")
    cand = _resolve_candidate(store_path, candidate)
    reviews = load_reviews(store_path)
    _check_unreviewed(reviews, cand)
    review = {"verdict": "reject", "coder": coder.strip(), "time": _now(), "memo": memo,
              "name": cand.name, "keywords": cand.keywords, "members": cand.members}
    with Store(store_path) as st:
        _append_review(st, cand.id, review)
    return review


def _codebook_of_members(st: Store, books: dict[str, Codebook], members: list[str]) -> str:
    """The codebook used by the study most members belong to (the latest run's suggestions tell)."""
    if len(books) == 1:
        return next(iter(books))
    counts: dict[str, int] = {}
    for i in range(0, len(members), 500):
        chunk = members[i: i + 500]
        q = (f"SELECT c.codebook, COUNT(DISTINCT s.segment_id) FROM suggestions s JOIN codes c ON c.guid = s.code_guid "
             f"WHERE s.run_id = (SELECT MAX(run_id) FROM suggestions) AND s.segment_id IN ({','.join('?' * len(chunk))}) "
             f"GROUP BY c.codebook")
        for name, k in st.conn.execute(q, chunk):
            counts[name] = counts.get(name, 0) + k
    if not counts:
        raise PrecodeError("cannot tell which codebook the candidate belongs to; name one")
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
