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
from pipeline.tune import sample_pairs, tune_project

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
