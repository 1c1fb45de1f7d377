"""precode tune: SetFit-style fine-tuning of the encoder on a project's coded examples."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_config
from pipeline.embed import Embedder, resolve_model
from pipeline.errors import PrecodeError
from pipeline.review.core import ReviewSession
from pipeline.run import run_batch
from pipeline.tune import recipe, sample_batches, sample_pairs, supcon_loss, tune_project

TRANSCRIPT = ("Interviewer: What would be the greatest barriers?\n"
              "Dana: Nobody knows what the peer role is.\n"
              "Pat: The job of the peer was never written down.\n"
              "Interviewer: What supports would help?\n"
              "Dana: Training for staff and a room to meet.\n"
              "Pat: We need an office room for meetings.\n")


def test_pairs_alternate_same_and_different_codes_and_are_seeded():
    labels = [0, 0, 0, 1, 1, 2]
    pairs = sample_pairs(labels, 40, seed=3)
    assert pairs == sample_pairs(labels, 40, seed=3) and pairs != sample_pairs(labels, 40, seed=4)
    for k, (i, j, t) in enumerate(pairs):
        assert t == (1.0 if k % 2 == 0 else 0.0)
        assert (labels[i] == labels[j]) is (t == 1.0) and i != j
    with pytest.raises(PrecodeError, match="two codes"):
        sample_pairs([0, 0, 0], 4)
    with pytest.raises(PrecodeError, match="two or more"):
        sample_pairs([0, 1, 2], 4)


def test_batches_take_a_few_examples_of_several_codes_in_turn():
    labels = [0] * 6 + [1] * 6 + [2] * 3 + [3] * 6 + [4]
    batches = sample_batches(labels, 20, batch_size=8, per_code=2, seed=1)
    assert batches == sample_batches(labels, 20, batch_size=8, per_code=2, seed=1)
    assert batches != sample_batches(labels, 20, batch_size=8, per_code=2, seed=2)
    seen = set()
    for b in batches:
        codes = [labels[i] for i in b]
        assert len(set(codes)) == 4 and len(set(b)) == len(b)  # 8 // 2 codes, no example twice
        assert all(codes.count(c) == (1 if c == 4 else 2) for c in set(codes))  # code 4 has one example
        assert any(codes.count(c) >= 2 for c in codes)  # something to pull together
        seen |= set(codes)
    assert seen == {0, 1, 2, 3, 4}  # every code comes round
    # with only singletons but one, every batch still holds the one pairable code
    single = [0, 1, 2, 3, 4, 5, 6, 6]
    assert all(sum(single[i] == 6 for i in b) == 2 for b in sample_batches(single, 10, batch_size=4, per_code=2))
    with pytest.raises(PrecodeError, match="two or more"):
        sample_batches([0, 1, 2], 4)
    with pytest.raises(PrecodeError, match="per_code"):
        sample_batches(labels, 4, batch_size=8, per_code=1)


def test_each_loss_has_its_own_defaults_and_bad_settings_are_refused():
    assert recipe() == (10, 32, 1e-4) and recipe("cosine") == (100, 16, 2e-5)
    assert recipe("supcon", steps=3, lr=1e-5) == (3, 32, 1e-5)
    with pytest.raises(PrecodeError, match="unknown tuning loss 'triplet'"):
        recipe("triplet")
    with pytest.raises(PrecodeError, match="at least 1"):
        recipe(steps=0)


def test_supcon_loss_is_low_when_codes_cluster_and_high_when_they_mix():
    import torch

    labels = torch.tensor([0, 0, 1, 1])
    e = torch.nn.functional.normalize
    clustered = e(torch.tensor([[1.0, 0.05], [1.0, -0.05], [0.05, 1.0], [-0.05, 1.0]]), dim=-1)
    mixed = e(torch.tensor([[1.0, 0.05], [0.05, 1.0], [1.0, -0.05], [-0.05, 1.0]]), dim=-1)
    low, high = supcon_loss(clustered, labels), supcon_loss(mixed, labels)
    assert float(low) < 0.01 and float(high) > 5.0
    # by hand, anchor 0 of the mixed batch: -log(exp(s01/t) / sum_j!=0 exp(s0j/t))
    s = mixed @ mixed.T / 0.1
    manual = -(s[0, 1] - torch.logsumexp(s[0, 1:], dim=0))
    per = [-(s[i, j] - torch.logsumexp(torch.cat([s[i, :i], s[i, i + 1:]]), dim=0))
           for i, j in ((0, 1), (1, 0), (2, 3), (3, 2))]
    assert torch.isclose(per[0], manual) and torch.isclose(high, torch.stack(per).mean())
    # an example alone with its code is a negative only; no pair at all: zero, with a gradient
    s3 = s[:3, :3]
    alone = [-(s3[0, 2] - torch.logsumexp(s3[0, 1:], dim=0)), -(s3[2, 0] - torch.logsumexp(s3[2, :2], dim=0))]
    assert torch.isclose(supcon_loss(mixed[:3], torch.tensor([0, 1, 0])), torch.stack(alone).mean())
    x = mixed.clone().requires_grad_(True)
    z = supcon_loss(x, torch.tensor([0, 1, 2, 3]))
    z.backward()
    assert float(z.detach()) == 0.0 and x.grad is not None


@pytest.fixture
def project(write, tiny_codebook):
    write("data/one.txt", TRANSCRIPT)
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\nstudies: [{{name: s, inputs: [data/], "
                                          f"codebook: {tiny_codebook}}}]\n"))
    run_batch(cfg)  # the packaged MiniLM: tuning needs a real encoder
    return cfg.store_path


def test_tune_writes_a_model_that_precode_can_use(project, tmp_path):
    with pytest.raises(PrecodeError, match="no coded examples"):
        tune_project(project, tmp_path / "none", steps=1)
    s = ReviewSession(project, "ann", learn=False)
    code = {c.name: c.guid for c in s.codes.values()}
    for item, name in zip(s.items, ["Role confusion", "Role confusion", "Training", "Space"]):
        s.add(item, code[name])
    s.close()
    out = tmp_path / "tuned"
    ticks = []
    res = tune_project(project, out, steps=3, batch_size=4, progress=ticks.append)
    assert (res.examples, res.codes, res.steps, len(ticks)) == (4, 3, 3, 3)
    info = json.loads((out / "precode_tune.json").read_text())
    assert info["base_model"]["name"] == "all-MiniLM-L6-v2" and info["examples"] == 4 and len(info["losses"]) == 3
    assert info["loss"] == "supcon" and info["lr"] == 1e-4
    assert res.thin_codes == {"tiny/Barriers/Role confusion": 2, "tiny/Barriers/Space": 1, "tiny/Facilitators/Training": 1}
    assert info["examples_per_code"] == res.thin_codes  # every code is below the run's min_examples (5)
    r = CliRunner().invoke(app, ["tune", str(project), "--out", str(tmp_path / "cli"), "--steps", "1"])
    assert r.exit_code == 0 and "tuned all-MiniLM-L6-v2 on 4 examples of 3 codes, 1 step," in r.output
    assert "warning: 3 of 3 codes have fewer than a handful of examples" in " ".join(r.output.split())
    assert "tiny/Barriers/Role confusion (2)" in r.output
    old = tune_project(project, tmp_path / "pairs", steps=2, batch_size=4, loss="cosine")  # SetFit's pairs
    assert json.loads((tmp_path / "pairs" / "precode_tune.json").read_text())["loss"] == "cosine" and len(old.losses) == 2
    tuned, base = resolve_model(str(out)), resolve_model("all-MiniLM-L6-v2")
    assert tuned.source == "directory" and tuned.model_id != base.model_id  # its own cache entries
    a = Embedder(tuned).encode(["Nobody knows what the peer role is."])
    b = Embedder(base).encode(["Nobody knows what the peer role is."])
    assert a.shape == b.shape == (1, 384) and not np.allclose(a, b)  # the weights moved
    with pytest.raises(PrecodeError, match="not empty"):
        tune_project(project, out, steps=1)


def test_tune_command_reports_one_line_errors(project, tmp_path):
    r = CliRunner().invoke(app, ["tune", str(project), "--out", str(tmp_path / "t"), "--steps", "1"])
    assert r.exit_code == 2 and "no coded examples" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["tune", str(project), "--out", str(tmp_path / "t"), "--loss", "hinge"])
    assert r.exit_code == 2 and "unknown tuning loss 'hinge'" in r.output and "Traceback" not in r.output


def test_tune_learns_only_from_the_coders_the_run_learns_from(project, tmp_path):
    s = ReviewSession(project, "ann", learn=False)
    code = {c.name: c.guid for c in s.codes.values()}
    for item, name in zip(s.items, ["Role confusion", "Role confusion", "Training", "Space"]):
        s.add(item, code[name])
    s.close()
    base = project.parent.parent
    text = (base / "study.yaml").read_text() + "propose: {learn_from_decisions: [bob]}\n"
    (base / "bob.yaml").write_text(text)
    run_batch(load_config(base / "bob.yaml"))
    with pytest.raises(PrecodeError, match="no coded examples"):  # ann's decisions are not bob's
        tune_project(project, tmp_path / "t", steps=1)
