"""Candidate codes and what a discovery returns; words, names, ids and paths (no BERTopic here)."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from ..embed import EmbedStats, ResolvedModel, _fingerprint, _is_model_dir, embed_texts, resolve_model
from ..errors import PrecodeError
from ..store import Store


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
    return unique_name(base, taken)


def unique_name(base: str, taken: set[str]) -> str:
    """``base`` capitalised, with " (2)", " (3)"... if its casefolded form is in ``taken`` (updated)."""
    base = base[:1].upper() + base[1:]
    name, i = base, 2
    while name.casefold() in taken:
        name, i = f"{base} ({i})", i + 1
    taken.add(name.casefold())
    return name


def discovery_dir(store_path: str | Path) -> Path:
    return Path(store_path).parent / "discovery"


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


