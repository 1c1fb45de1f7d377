"""Fine-tune the sentence encoder on coded examples (SetFit-style contrastive learning).

The learner that runs after every decision (:mod:`pipeline.learn`) keeps the encoder frozen: it
refits in a fraction of a second. With few examples per code, adapting the encoder itself helps
more (``bench/results/learning.md``: on ESConv, 20 examples per code, kappa about +0.06 over the
frozen encoder with the same head), but it takes minutes on two CPU cores and every cached vector
must be computed again. So it is a separate, explicit step:

    precode tune outputs/demo --out models/demo-tuned
    precode run configs/demo.yaml --set embedding.model=models/demo-tuned

Recipe (Tunstall et al. 2022, "Efficient Few-Shot Learning Without Prompts"): pairs of examples with
the same code (target cosine 1) and with different codes (target 0), half and half, drawn with a
fixed seed; mean squared error between the pair's cosine and its target; AdamW. The tuned model is
saved as a plain sentence-transformers folder with ``precode_tune.json`` beside it (base model,
examples, steps, seed), and its weights get a new fingerprint, so the embedding cache never mixes
its vectors with the base model's.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .errors import PrecodeError


@dataclass
class TuneResult:
    out_dir: Path
    base_model: str
    examples: int
    codes: int
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)  # mean loss per tenth of the steps


def sample_pairs(labels: Sequence[int], n_pairs: int, seed: int = 0) -> list[tuple[int, int, float]]:
    """``n_pairs`` (i, j, target) index pairs, alternating same-code (1.0) and different-code (0.0).

    Needs at least one code with two examples and at least two codes."""
    rng = random.Random(seed)
    by_code: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        by_code.setdefault(c, []).append(i)
    pairable = [c for c, idx in by_code.items() if len(idx) >= 2]
    if not pairable or len(by_code) < 2:
        raise PrecodeError("tuning needs at least two codes, one of them with two or more examples")
    codes = sorted(by_code)
    out = []
    for k in range(n_pairs):
        if k % 2 == 0:
            c = rng.choice(sorted(pairable))
            i, j = rng.sample(by_code[c], 2)
            out.append((i, j, 1.0))
        else:
            c, d = rng.sample(codes, 2)
            out.append((rng.choice(by_code[c]), rng.choice(by_code[d]), 0.0))
    return out


def fine_tune(model_location: str, texts: Sequence[str], labels: Sequence[int], steps: int = 100, batch_size: int = 16,
              lr: float = 2e-5, seed: int = 0, progress: Callable[[int], None] | None = None):
    """Contrastively fine-tune a sentence-transformers model on (text, code) examples; returns
    ``(model, losses)`` (the model in eval mode, on CPU)."""
    import torch
    from sentence_transformers import SentenceTransformer

    if steps < 1 or batch_size < 1:
        raise PrecodeError("steps and batch size must be at least 1")
    torch.manual_seed(seed)
    pairs = sample_pairs(labels, steps * batch_size, seed)
    model = SentenceTransformer(model_location, device="cpu")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)

    def embed(batch: list[str]):
        features = model.tokenize(batch) if not hasattr(model, "preprocess") else model.preprocess(batch)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    losses, window = [], []
    for step in range(steps):
        part = pairs[step * batch_size:(step + 1) * batch_size]
        a = embed([texts[i] for i, _, _ in part])
        b = embed([texts[j] for _, j, _ in part])
        target = torch.tensor([t for *_, t in part])
        loss = (((a * b).sum(-1) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        window.append(float(loss.detach()))
        if len(window) >= max(1, steps // 10) or step == steps - 1:
            losses.append(round(sum(window) / len(window), 4))
            window = []
        if progress is not None:
            progress(1)
    model.eval()
    return model, losses


def tune_project(store_path: str | Path, out_dir: str | Path, steps: int = 100, batch_size: int = 16, lr: float = 2e-5,
                 seed: int = 0, progress: Callable[[int], None] | None = None) -> TuneResult:
    """Fine-tune the project's embedding model on its coded examples (the latest run's training files
    and the accepted / added codes of the coders its ``propose.learn_from_decisions`` names, by default
    every coder) and save it to ``out_dir``."""
    from .decisions import of_coders
    from .embed import resolve_model
    from .learn import examples_from_decisions, load_training_files, resolve_examples, run_training_files
    from .project import latest_manifest, load_project
    from .store import Store

    store_path, out_dir = Path(store_path), Path(out_dir)
    with Store(store_path) as st:
        manifest = latest_manifest(st)
    data = load_project(store_path)
    train = load_training_files(run_training_files(manifest))
    texts = {s.id: s.text for s in data.segments}
    who = ((manifest.get("config") or {}).get("propose") or {}).get("learn_from_decisions", True)
    states = of_coders(data.states.values(), who)  # the coders the run learns from
    pairs: dict[tuple[str, str], None] = {}  # (text, code path), in a stable order
    for cb in {b.name: b for b in data.codebooks.values()}.values():
        examples = (resolve_examples(train, cb, unknown="warn")[0] if train else [])
        examples += examples_from_decisions(states, texts, cb)
        for e in examples:
            if e.positive:
                pairs[(e.text, f"{cb.name}/{cb.codes[e.code].path}")] = None
    if not pairs:
        raise PrecodeError(f"{store_path}: no coded examples to tune on (review some segments, or run with --train)")
    code_ids = {c: k for k, c in enumerate(sorted({c for _, c in pairs}))}
    ex_texts = [t for t, _ in pairs]
    ex_labels = [code_ids[c] for _, c in pairs]
    base = manifest["embedding_model"]
    model_dir = resolve_model(base.get("location") or base["name"])
    if out_dir.exists() and any(out_dir.iterdir()):
        raise PrecodeError(f"{out_dir}: exists and is not empty; choose a new folder for the tuned model")
    t = time.perf_counter()
    model, losses = fine_tune(model_dir.location, ex_texts, ex_labels, steps, batch_size, lr, seed, progress)
    seconds = time.perf_counter() - t
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    info = {"tool": "precode tune", "base_model": {"name": base["name"], "model_id": base.get("model_id")},
            "examples": len(ex_texts), "codes": len(code_ids), "steps": steps, "batch_size": batch_size, "lr": lr,
            "seed": seed, "losses": losses, "seconds": round(seconds, 1),
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "project": str(store_path)}
    (out_dir / "precode_tune.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return TuneResult(out_dir, base["name"], len(ex_texts), len(code_ids), steps, round(seconds, 1), losses)


__all__ = ["TuneResult", "sample_pairs", "fine_tune", "tune_project"]
