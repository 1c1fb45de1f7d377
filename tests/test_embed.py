from __future__ import annotations

import numpy as np
import pytest

from pipeline.embed import EmbedStats, _RESOLVED, embed_texts, resolve_model
from pipeline.errors import ModelError
from pipeline.store import Store


def test_embed_resolves_the_packaged_model_and_a_local_folder(monkeypatch):
    _RESOLVED.clear()
    pkg = resolve_model("all-MiniLM-L6-v2")
    assert pkg.source == "package" and len(pkg.fingerprint) == 64
    local = resolve_model(pkg.location)
    assert local.source == "directory" and local.fingerprint == pkg.fingerprint
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not a local model folder"):
        resolve_model("someone/not-installed-model")
    _RESOLVED.clear()


def test_embed_cache_dedupes_and_never_encodes_twice(tmp_path, bow):
    texts = ["peer support helps", "a room for meetings", "peer support helps"]
    with Store(tmp_path / "c.sqlite") as st:
        s1 = EmbedStats()
        v1 = embed_texts(texts, bow, st, stats=s1)
        assert (s1.unique, s1.computed, s1.cached) == (2, 2, 0)
        calls = bow.calls
        s2 = EmbedStats()
        v2 = embed_texts(texts, bow, st, stats=s2)
        assert (s2.computed, s2.cached) == (0, 2) and bow.calls == calls
        assert np.array_equal(v1, v2) and np.array_equal(v1[0], v1[2])
