"""Fine-tune the sentence encoder on coded examples (SetFit-style contrastive learning).

The learner that runs after every decision (:mod:`pipeline.learn`) keeps the encoder frozen: it
refits in a fraction of a second. With few examples per code, adapting the encoder itself can help
more (``bench/results/learning.md``, 20 examples per code, 5 draws: on AnnoMI SetFit's pair recipe,
``--loss cosine``, lifts ``precode.fewshot.v3`` from 0.589 to 0.629 kappa, against 0.636 for logistic
regression on every training turn; the default 30-second recipe gives ESConv 0.387 -> 0.397), but every
cached vector must then be computed again. So it is a separate, explicit step:

    precode tune outputs/demo --out models/demo-tuned
    precode run configs/demo.yaml --set embedding.model=models/demo-tuned

Recipe (``loss="supcon"``, the default): contrastive fine-tuning in the spirit of SetFit (Tunstall et
al. 2022, "Efficient Few-Shot Learning Without Prompts"), with the supervised contrastive loss of
Khosla et al. 2020 over every pair in a batch instead of SetFit's one pair per two texts. Each step
takes a seeded batch of ``batch_size`` examples, ``per_code`` from each of several codes (codes
taken in a seeded rotation so every code comes round); each example is pulled toward the examples
of its own code in the batch and pushed from the others (softmax over cosine / ``temperature``).
A batch of 32 texts gives 496 pairs where the pair loss gets 16, so 10 steps (20-30 s on two
cores) come close to what 100 steps of pairs do in about 3 minutes (kappa 0.380 vs 0.388 with the
v2 head, 5 draws; the draws differ by 0.01-0.02). ``loss="cosine"`` (``precode tune --loss cosine``) is SetFit's
original pair recipe: same-code pairs target cosine 1, different-code pairs 0, mean squared error.

The tuned model is saved as a plain sentence-transformers folder with ``precode_tune.json`` beside
it (base model, examples, recipe, seed), and its weights get a new fingerprint, so the embedding
cache never mixes its vectors with the base model's.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

from .errors import PrecodeError
from .private import write_private
from .records import utc_now


@dataclass
class TuneResult:
    out_dir: Path
    base_model: str
    examples: int
    codes: int
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)  # mean loss per tenth of the steps
    thin_codes: dict[str, int] = field(default_factory=dict)  # "codebook/code path" -> examples, fewer than a handful


def sample_pairs(labels: Sequence[int], n_pairs: int, seed: int = 0) -> list[tuple[int, int, float]]:
    """``n_pairs`` (i, j, target) index pairs, alternating same-code (1.0) and different-code (0.0).

    Needs at least one code with two examples and at least two codes."""
    rng = random.Random(seed)
    by_code = _pairable(labels)
    pairable = [c for c, idx in by_code.items() if len(idx) >= 2]
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


LOSSES = ("supcon", "cosine")
class Recipe(NamedTuple):
    steps: int
    batch_size: int
    lr: float


DEFAULTS = {  # per loss (bench/results/learning.md)
    "supcon": Recipe(steps=10, batch_size=32, lr=1e-4),
    "cosine": Recipe(steps=100, batch_size=16, lr=2e-5),
}


def recipe(loss: str = "supcon", steps: int | None = None, batch_size: int | None = None,
           lr: float | None = None) -> tuple[int, int, float]:
    """(steps, batch_size, lr) for ``loss``, each ``None`` taken from :data:`DEFAULTS`."""
    if loss not in LOSSES:
        raise PrecodeError(f"unknown tuning loss '{loss}' (one of: {', '.join(LOSSES)})")
    d = DEFAULTS[loss]
    steps = d.steps if steps is None else steps
    batch_size = d.batch_size if batch_size is None else batch_size
    if steps < 1 or batch_size < 1:
        raise PrecodeError("steps and batch size must be at least 1")
    return steps, batch_size, (d.lr if lr is None else lr)


def _pairable(labels: Sequence[int]) -> dict[int, list[int]]:
    by_code: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        by_code.setdefault(c, []).append(i)
    if len(by_code) < 2 or not any(len(idx) >= 2 for idx in by_code.values()):
        raise PrecodeError("tuning needs at least two codes, one of them with two or more examples")
    return by_code


def sample_batches(labels: Sequence[int], steps: int, batch_size: int = 32, per_code: int = 4,
                   seed: int = 0) -> list[list[int]]:
    """``steps`` batches of example indices for the contrastive loss, seeded.

    A batch holds ``per_code`` examples (fewer if the code has fewer) of each of
    ``batch_size // per_code`` codes; codes are taken in turn from a seeded shuffle, reshuffled when
    all have come round, so a codebook with more codes than fit in a batch is covered evenly. Codes
    with one example take part too: their example is a negative for the others."""
    if per_code < 2 or batch_size < per_code:
        raise PrecodeError("per_code must be at least 2 and batch_size at least per_code")
    by_code = _pairable(labels)
    rng = random.Random(seed)
    codes = sorted(by_code)
    n_codes = max(2, min(len(codes), batch_size // per_code))
    queue: list[int] = []
    out = []
    for _ in range(steps):
        picked: list[int] = []
        while len(picked) < n_codes:
            if not queue:
                queue = codes[:]
                rng.shuffle(queue)
            c = queue.pop()
            if c not in picked:
                picked.append(c)
        if not any(len(by_code[c]) >= 2 for c in picked):  # a batch needs a same-code pair
            picked[-1] = rng.choice([c for c in codes if len(by_code[c]) >= 2 and c not in picked])
        batch = []
        for c in sorted(picked):
            idx = by_code[c]
            batch += rng.sample(idx, min(per_code, len(idx)))
        out.append(batch)
    return out


def supcon_loss(emb, labels, temperature: float = 0.1):
    """Supervised contrastive loss (Khosla et al. 2020) of unit-length embeddings ``emb`` [n, d]
    with integer ``labels`` [n] (torch tensors): the mean over examples that have a same-code
    partner in the batch of -log softmax(cos / temperature) over their same-code partners."""
    import torch

    n = emb.shape[0]
    eye = torch.eye(n, dtype=torch.bool)
    logits = (emb @ emb.T / temperature).masked_fill(eye, float("-inf"))
    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = (labels[:, None] == labels[None, :]) & ~eye
    has = pos.any(dim=1)
    if not bool(has.any()):
        return (emb * 0.0).sum()
    per_anchor = -(log_p.masked_fill(~pos, 0.0).sum(dim=1)[has] / pos.sum(dim=1)[has])
    return per_anchor.mean()


def fine_tune(model_location: str, texts: Sequence[str], labels: Sequence[int], steps: int | None = None,
              batch_size: int | None = None, lr: float | None = None, seed: int = 0,
              progress: Callable[[int], None] | None = None, loss: str = "supcon", per_code: int = 4,
              temperature: float = 0.1):
    """Contrastively fine-tune a sentence-transformers model on (text, code) examples; returns
    ``(model, losses)`` (the model in eval mode, on CPU). ``steps``, ``batch_size`` (texts a step
    for ``supcon``, pairs a step for ``cosine``) and ``lr`` default to :data:`DEFAULTS` of ``loss``."""
    import torch
    from sentence_transformers import SentenceTransformer

    steps, batch_size, lr = recipe(loss, steps, batch_size, lr)
    torch.manual_seed(seed)
    if loss == "supcon":  # at least two codes a batch
        batches = sample_batches(labels, steps, batch_size, max(2, min(per_code, batch_size // 2)), seed)
    else:
        pairs = sample_pairs(labels, steps * batch_size, seed)
    model = SentenceTransformer(model_location, device="cpu")
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)

    def embed(batch: list[str]):
        from .embed import clip_for_encoder

        batch = clip_for_encoder(batch, getattr(model, "max_seq_length", None))
        features = model.tokenize(batch) if not hasattr(model, "preprocess") else model.preprocess(batch)
        return torch.nn.functional.normalize(model(features)["sentence_embedding"], dim=-1)

    losses, window = [], []
    for step in range(steps):
        if loss == "supcon":
            batch = batches[step]
            value = supcon_loss(embed([texts[i] for i in batch]), torch.tensor([labels[i] for i in batch]), temperature)
        else:
            part = pairs[step * batch_size:(step + 1) * batch_size]
            a = embed([texts[i] for i, _, _ in part])
            b = embed([texts[j] for _, j, _ in part])
            target = torch.tensor([t for *_, t in part])
            value = (((a * b).sum(-1) - target) ** 2).mean()
        opt.zero_grad()
        value.backward()
        opt.step()
        window.append(float(value.detach()))
        if len(window) >= max(1, steps // 10) or step == steps - 1:
            losses.append(round(sum(window) / len(window), 4))
            window = []
        if progress is not None:
            progress(1)
    model.eval()
    return model, losses


def tune_project(store_path: str | Path, out_dir: str | Path, steps: int | None = None, batch_size: int | None = None,
                 lr: float | None = None, seed: int = 0, progress: Callable[[int], None] | None = None,
                 loss: str = "supcon") -> TuneResult:
    """Fine-tune the project's embedding model on its coded examples (the latest run's training files
    and the accepted / added codes of the coders its ``propose.learn_from_decisions`` names, by default
    every coder) and save it to ``out_dir``. ``steps`` / ``batch_size`` / ``lr``: ``None`` takes the
    loss's :data:`DEFAULTS`."""
    steps, batch_size, lr = recipe(loss, steps, batch_size, lr)
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
    propose = (manifest.get("config") or {}).get("propose") or {}  # the run's settings
    who = propose.get("learn_from_decisions", True)
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
    handful = int(propose.get("min_examples", 5))
    counts = Counter(c for _, c in pairs)
    thin = {c: n for c, n in sorted(counts.items()) if n < handful}
    base = manifest["embedding_model"]
    model_dir = resolve_model(base.get("location") or base["name"])
    if out_dir.exists() and any(out_dir.iterdir()):
        raise PrecodeError(f"{out_dir}: exists and is not empty; choose a new folder for the tuned model")
    t = time.perf_counter()
    model, losses = fine_tune(model_dir.location, ex_texts, ex_labels, steps, batch_size, lr, seed, progress, loss)
    seconds = time.perf_counter() - t
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    info = {"tool": "precode tune", "base_model": {"name": base["name"], "model_id": base.get("model_id")},
            "examples": len(ex_texts), "codes": len(code_ids), "loss": loss, "steps": steps, "batch_size": batch_size, "lr": lr,
            "seed": seed, "losses": losses, "seconds": round(seconds, 1), "examples_per_code": dict(sorted(counts.items())),
            "time": utc_now(), "project": str(store_path)}
    write_private(out_dir / "precode_tune.json", json.dumps(info, indent=2) + "\n")
    return TuneResult(out_dir, base["name"], len(ex_texts), len(code_ids), steps, round(seconds, 1), losses, thin)


__all__ = ["TuneResult", "LOSSES", "DEFAULTS", "recipe", "sample_pairs", "sample_batches", "supcon_loss", "fine_tune", "tune_project"]
