from __future__ import annotations

import numpy as np
import pytest

from pipeline.embed import EmbedStats, _RESOLVED, embed_texts, resolve_model
from pipeline.records import text_sha
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


def test_an_embedder_with_a_layer_caches_both_views_from_one_pass(tmp_path, layered_bow):
    from pipeline.embed import MemoryVectors, layer_id

    texts = ["So you feel lonely?", "Have you tried a walk?", "So you feel lonely?"]
    sent_truth, layer_truth = layered_bow.encode_views(texts)
    layered_bow.view_calls = 0
    for cache in (Store(tmp_path / "c.sqlite").open(), MemoryVectors()):
        s1 = EmbedStats()
        sent = embed_texts(texts, layered_bow, cache, stats=s1)
        assert s1.computed == 2 and layered_bow.view_calls == 1
        lay = embed_texts(texts, layered_bow, cache, view="layer")  # cached by the first pass: nothing computed
        assert layered_bow.view_calls == 1
        assert np.allclose(sent, sent_truth) and np.allclose(lay, layer_truth) and not np.allclose(sent, lay)
        layered_bow.view_calls = 0
    with Store(tmp_path / "c.sqlite") as st:
        model_id = layered_bow.model.model_id
        assert len(st.get_vectors(layer_id(model_id, 1), [text_sha(t) for t in texts])) == 2
        # a layer view missing from an older cache is computed (with its sentence vector) on demand
        st.conn.execute("DELETE FROM embeddings WHERE model_id=?", (layer_id(model_id, 1),))
        st.conn.commit()
        assert np.allclose(embed_texts(texts[:1], layered_bow, st, view="layer"), layer_truth[:1])
        assert layered_bow.view_calls == 1
    with pytest.raises(ValueError, match="layer"):
        embed_texts(texts, _plain(), None, view="layer")


def _plain():
    from .conftest import BagOfWordsEmbedder

    return BagOfWordsEmbedder()


def test_the_layer_view_of_the_packaged_model():
    """One forward pass gives the sentence embedding and a hidden layer, mean-pooled: all-MiniLM-L6-v2
    pools its last layer (6) by the mean, so the view of layer 6 must be the sentence embedding itself."""
    from pipeline.embed import Embedder, resolve_layer

    model = resolve_model("all-MiniLM-L6-v2")
    assert resolve_layer(model) == 3 and resolve_layer(model, 6) == 6  # the middle of 6 layers, or as asked
    with pytest.raises(ModelError, match="layers 1 to 6"):
        resolve_layer(model, 7)
    texts = ["So you feel really lonely?", "Have you tried talking to your sister?", "ok", "I was there last year."]
    plain = Embedder(model).encode(texts)
    sent3, view3 = Embedder(model, layer=3).encode_views(texts)
    sent6, view6 = Embedder(model, layer=6).encode_views(texts)
    assert np.allclose(sent3, plain, atol=1e-5) and np.allclose(sent6, plain, atol=1e-5)
    assert np.allclose(view6, plain, atol=1e-5)
    assert np.allclose(np.linalg.norm(view3, axis=1), 1.0, atol=1e-5)
    assert float(np.min(np.sum(view3 * plain, axis=1))) < 0.9  # layer 3 is another view, not the same vector


def test_a_run_on_a_hub_model_goes_on_without_the_layer_view(write, tiny_codebook, bow, monkeypatch):
    """A hub id's layer count is not on disk before the model loads: the run warns and learns without
    the layer view instead of failing; an explicit propose.layer is taken as given."""
    import pipeline.run as run_module
    from pipeline.config import load_config
    from pipeline.embed import ResolvedModel

    hub = ResolvedModel("someone/model", "someone/model", "hub", "")
    made = []

    class FakeEmbedder(type(bow)):
        def __init__(self, model, batch_size=64, device="cpu", layer=None):
            super().__init__()
            made.append(layer)

    monkeypatch.setattr(run_module, "resolve_model", lambda *a, **k: hub)
    monkeypatch.setattr(run_module, "Embedder", FakeEmbedder)
    write("data/a.txt", "Dana: Nobody knows what the peer role is.\n")
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\n"
                                          f"studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n"))
    res = run_module.run_batch(cfg)
    assert made == [None] and any("without the layer view" in w for w in res.warnings)
    cfg.propose.layer = 3
    res = run_module.run_batch(cfg)
    assert made[-1] == 3 and not any("without the layer view" in w for w in res.warnings)
