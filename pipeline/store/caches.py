"""Caches keyed by text: embedding vectors and form strings (:mod:`pipeline.form`), per model."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from .base import Connected


class Caches(Connected):
    """Embedding vectors and form strings by (model id, text sha); rewritten freely."""

    def get_vectors(self, model_id: str, shas: Iterable[str]) -> dict[str, np.ndarray]:
        shas = list(shas)
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(shas), 500):
            chunk = shas[i : i + 500]
            q = f"SELECT text_sha, dim, vector FROM embeddings WHERE model_id=? AND text_sha IN ({','.join('?' * len(chunk))})"
            for sha, dim, blob in self.conn.execute(q, (model_id, *chunk)):
                out[sha] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return out

    def put_vectors(self, model_id: str, items: dict[str, np.ndarray]) -> None:
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                ((model_id, sha, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for sha, v in items.items()),
            )

    def get_forms(self, model_id: str, shas: Iterable[str]) -> dict[str, str]:
        """Cached form strings (:mod:`pipeline.form`) by text sha."""
        shas = list(shas)
        out: dict[str, str] = {}
        for i in range(0, len(shas), 500):
            chunk = shas[i : i + 500]
            q = f"SELECT text_sha, form FROM forms WHERE model_id=? AND text_sha IN ({','.join('?' * len(chunk))})"
            out.update(self.conn.execute(q, (model_id, *chunk)).fetchall())
        return out

    def put_forms(self, model_id: str, items: dict[str, str]) -> None:
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO forms VALUES (?, ?, ?)",
                          ((model_id, sha, form) for sha, form in items.items()))
