#!/usr/bin/env python
"""Learning from review decisions: a simulated reviewer on ESConv and AnnoMI (therapist).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/learning.py            # writes bench/results/learning.{md,json,png}
    HF_HUB_OFFLINE=1 .venv/bin/python bench/learning.py --quick    # fewer checkpoints/draws, prints only
    HF_HUB_OFFLINE=1 .venv/bin/python bench/learning.py --setfit --tasks esconv   # adds `precode tune`: supcon 10 steps and cosine 100 steps, 5 draws (~30 min)

Tasks: ESConv supporter turns (8 strategies, data labels mapped with ``label_aliases``) and AnnoMI
therapist utterances (``main_therapist_behaviour``, 4 codes). Conversations are split 50/50 with
seed 0 (``bench/_data.split_conversations``, the split of ``bench/agreement.py``); everything that
uses labels sees only the training half, every metric is on the held-out half.

Simulated reviewer: the training half is the material under review. At each step one segment is
picked (``uncertainty``: the smallest margin between precode's two best codes; ``document``: the
next turn in transcript order; ``random``: a seeded shuffle, a control), precode proposes its
rank-1 code, and the "reviewer" (the human label) accepts it or rejects it and applies the right
code (a recode: one negative and one positive example). That is one decision. precode's
default learner (``precode.fewshot.v4``: embedding + layer view + form features, and self-training
on the undecided turns of the training half) is refitted after every decision in the uncertainty run
(the order needs the new scores) and at the checkpoints otherwise; at 0, 20, 50, 100, 200 and 400
decisions it scores the held-out half: accuracy, macro-F1 over all codes, Cohen's kappa.

Baselines in the same run and on the same split: the README's (scikit-learn logistic regression on
MiniLM vectors with 20 labelled turns per code and with every training turn) and the few-shot
proposer on the same 20-per-code draws. The head comparison (``--heads``, on by default) fits the
candidate heads on the same draws. The data are read in place (``PRECODE_BENCH_DATA`` overrides the
folder); vectors come from precode's SQLite embedding cache, so a rerun embeds nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

from _setup import HERE, ROOT  # noqa: E402,F401  (offline models; the repository on sys.path)

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, cohen_kappa_score, f1_score  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from _data import WordVectors, Task, data_dir, load_annomi, load_esconv, split_conversations  # noqa: E402
from pipeline.embed import DEFAULT_CACHE, EmbedStats, Embedder, embed_texts, encode_views, resolve_layer, resolve_model  # noqa: E402
from pipeline.form import FormVectorizer, form_strings, load_tagger, tagger_id  # noqa: E402
from pipeline.learn import (FORM_WEIGHT, LAYER_WEIGHT, SELF_TRAIN, UNCERTAINTY_TEMPERATURE, CodedExample,  # noqa: E402
                            FewShotProposer, SegmentViews, review_order)
from pipeline.features import learner_views  # noqa: E402
from pipeline.propose import label_texts  # noqa: E402
from pipeline.records import Code, Codebook  # noqa: E402
from pipeline.store import Store  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
CHECKPOINTS = (0, 20, 50, 100, 200, 400)
ORDERS = ("uncertainty", "document", "uncertainty-greedy", "random")  # the last two are controls
SEEDS = 3  # runs of the stochastic orders (sampled uncertainty, random)
MIN_EXAMPLES_SWEEP = (1, 3, 5, 8)
DRAWS = 5  # draws of "k examples per code"
RESULTS = HERE / "results"
SETFIT_DRAWS = 5
README_BASELINES = {  # ../shared/benchmarks/README.md (ESConv)
    "zero-shot": (0.18, 0.16, 0.06), "LR 20/code": (0.37, 0.32, 0.27),
    "LR 50/code": (0.41, 0.36, 0.32), "LR all ~3,000": (0.50, 0.41, 0.40),
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def norm(s: str) -> str:
    return " ".join(s.split())


# -- data --------------------------------------------------------------------------------------------

class Data:
    """The labelled turns of one task in transcript order, with vectors and the split."""

    def __init__(self, task: Task, seed: int = 0):
        self.task = task
        self.codes = list(task.codes)
        self.codebook = Codebook(task.name, tuple(Code(k, description=v) for k, v in task.codes.items()))
        self.labels = label_texts(self.codebook)
        train_ids, test_ids = split_conversations(task.conversations, seed)
        self.texts, self.prev, self.y, self.conv = [], [], [], []
        for c in task.conversations:  # the data's own order = document order
            prev = None
            for t in c.turns:
                text = norm(t.text)
                if not text:
                    continue
                if t.speaker == task.code_speaker and t.label:
                    self.texts.append(text)
                    self.prev.append(prev or text)
                    self.y.append(self.codes.index(t.label))
                    self.conv.append(c.id)
                prev = text
        self.y = np.array(self.y)
        self.train = np.array([i for i, c in enumerate(self.conv) if c in train_ids])
        self.test = np.array([i for i, c in enumerate(self.conv) if c in test_ids])
        self.n_conv = (len(train_ids), len(test_ids))

    def all_texts(self) -> list[str]:
        return self.texts + [lt.text for lt in self.labels]

    def attach(self, lookup: dict[str, np.ndarray], layers: dict[str, np.ndarray]) -> None:
        self.lookup, self.layer_lookup = lookup, layers
        self.X = np.stack([lookup[t] for t in self.texts])
        self.label_vecs = np.stack([lookup[lt.text] for lt in self.labels])
        self.Lv = np.stack([layers[t] for t in self.texts])  # the layer view (fewshot.v3)
        self.label_layers = np.stack([layers[lt.text] for lt in self.labels])



def embed_all(datas: list[Data], cache: Path | None) -> dict:
    texts = sorted({t for d in datas for t in d.all_texts()})
    model = resolve_model(MODEL)
    stats = EmbedStats()
    store = Store(cache).open() if cache else None
    t = time.perf_counter()
    embedder = Embedder(model, 64, layer=resolve_layer(model))  # both views in one pass, as `precode code`
    try:
        vecs = embed_texts(texts, embedder, store, stats=stats)
        layer_vecs = embed_texts(texts, embedder, store, view="layer")
    finally:
        if store is not None:
            store.close()
    lookup, layers = dict(zip(texts, vecs)), dict(zip(texts, layer_vecs))
    for d in datas:
        d.attach(lookup, layers)
    seconds = round(time.perf_counter() - t, 1)
    # form features (pipeline.form): tagged once, cached in the same store; the vectorizer is fitted
    # without labels on each task's coded turns, train and test (as `precode code` fits it on a
    # project's segments)
    t = time.perf_counter()
    nlp = load_tagger()
    store = Store(cache).open() if cache else None
    try:
        for d in datas:
            forms = form_strings(d.texts, nlp, store)
            d.F = FormVectorizer().fit(forms).transform(forms)
    finally:
        if store is not None:
            store.close()
    return {"model": model.model_id, "texts": len(texts), "computed": stats.computed, "cached": stats.cached,
            "seconds": seconds, "layer": embedder.layer, "form": {"tagger": tagger_id(nlp), "features": {d.task.name: d.F.shape[1] for d in datas},
                                         "seconds": round(time.perf_counter() - t, 1)}}


def metrics(y: np.ndarray, pred: np.ndarray, n_codes: int) -> dict:
    return {"accuracy": round(float(accuracy_score(y, pred)), 4),
            "macro_f1": round(float(f1_score(y, pred, labels=list(range(n_codes)), average="macro", zero_division=0)), 4),
            "kappa": round(float(cohen_kappa_score(y, pred)), 4)}


def mean_metrics(ms: list[dict]) -> dict:
    out = {k: round(float(np.mean([m[k] for m in ms])), 4) for k in ms[0]}
    if len(ms) > 1:
        out["kappa_sd"] = round(float(np.std([m["kappa"] for m in ms])), 4)
    return out


def per_code(d: Data, k: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for c in range(len(d.codes)):
        cand = d.train[d.y[d.train] == c]
        out.extend(rng.choice(cand, min(k, len(cand)), replace=False))
    return np.array(sorted(out))


# -- the proposer --------------------------------------------------------------------------------------

# the learner `precode run` uses by default (precode.fewshot.v8 over precode.similarity.v4); ``params`` override
DEFAULTS = {"name_match": True, "similar_names": True, "knn": 5, "implicit_weight": None, "zero_shot": "precode.similarity.v4"}


WORDS = WordVectors(DEFAULT_CACHE, MODEL)


def fit_fewshot(d: Data, examples: list[CodedExample], rows, **params) -> FewShotProposer:
    """The proposer fitted on ``examples``; ``rows[i]`` is the data row of ``examples[i]`` (its
    vector and form vector). The training half is the undecided material (fewshot.v4 self-trains on it)."""
    rows = np.asarray(rows, dtype=np.int64)
    learner = FewShotProposer(**{**DEFAULTS, **params})
    # the texts' form rows: an example's is the row of its turn; a segment's its own
    form_row = {d.texts[i]: i for i in np.concatenate([d.train, rows])}
    views = learner_views(learner, [lt.text for lt in d.labels], [e.text for e in examples],
                          [d.texts[i] for i in d.train], lambda texts: d.lookup, lambda texts: d.layer_lookup,
                          lambda groups: [d.F[[form_row[t] for t in g]] for g in groups], WORDS)
    return learner.fit_views(d.codebook, d.labels, views, examples)


def scores_of(p: FewShotProposer, d: Data, rows) -> np.ndarray:
    return p.score(d.X[rows], seg_forms=d.F[rows], seg_layers=d.Lv[rows], seg_texts=[d.texts[i] for i in rows])[0]


def predict(p: FewShotProposer, d: Data, rows) -> np.ndarray:
    return scores_of(p, d, rows).argmax(axis=1)


def examples_of(d: Data, idx: np.ndarray) -> tuple[list[CodedExample], np.ndarray]:
    return [CodedExample(int(d.y[i]), d.texts[i]) for i in idx], idx


def simulate(d: Data, order: str, checkpoints: tuple[int, ...], seed: int = 0, params: dict | None = None) -> dict:
    """A reviewer working through the training half; metrics on the held-out half at checkpoints."""
    params = params or {}
    pool = list(d.train)  # document order
    if order == "random":
        random.Random(seed).shuffle(pool)
    remaining = np.array(pool)
    examples: list[CodedExample] = []
    rows: list[int] = []
    curve, refit_ms, pick_ms = [], [], []
    accepted = 0
    t = time.perf_counter()
    prop = fit_fewshot(d, [], [], **params)
    n_max = min(max(checkpoints), len(pool))
    for n in range(n_max + 1):
        if n in checkpoints:
            m = metrics(d.y[d.test], predict(prop, d, d.test), len(d.codes))
            m.update(decisions=n, learned=len(prop.learned_codes_), zero_shot=len(prop.zero_shot_codes_),
                     accepted=accepted)
            curve.append(m)
        if n == n_max:
            break
        t0 = time.perf_counter()
        scores = scores_of(prop, d, remaining)
        if order == "uncertainty":
            pos = int(review_order(scores, "uncertainty", seed=seed * 100003 + n)[0])
        elif order == "uncertainty-greedy":
            pos = int(review_order(scores, "uncertainty", temperature=0.0)[0])
        else:
            pos = 0
        pick_ms.append((time.perf_counter() - t0) * 1000)
        i = int(remaining[pos])
        remaining = np.delete(remaining, pos)
        proposed = int(scores[pos].argmax())
        truth = int(d.y[i])
        if proposed == truth:  # accept
            accepted += 1
            examples.append(CodedExample(truth, d.texts[i], True))
            rows.append(i)
        else:  # reject the proposal, apply the right code
            examples += [CodedExample(proposed, d.texts[i], False), CodedExample(truth, d.texts[i], True)]
            rows += [i, i]
        if order.startswith("uncertainty") or (n + 1) in checkpoints:
            t0 = time.perf_counter()
            prop = fit_fewshot(d, examples, rows, **params)
            refit_ms.append((time.perf_counter() - t0) * 1000)
    return {"order": order, "seed": seed, "curve": curve, "refit_ms": refit_ms, "pick_ms": pick_ms,
            "seconds": round(time.perf_counter() - t, 1), "zero_shot_codes_at_end": prop.zero_shot_codes_,
            "examples_at_end": prop.n_examples_}


def combine(runs: list[dict]) -> dict:
    """Mean curve over seeded runs (sd of kappa per checkpoint), refit times pooled."""
    out = dict(runs[0])
    if len(runs) > 1:
        curve = []
        for j, c in enumerate(runs[0]["curve"]):
            cs = [r["curve"][j] for r in runs]
            m = {k: round(float(np.mean([x[k] for x in cs])), 4 if k not in ("learned", "zero_shot") else 1) for k in c}
            m["kappa_sd"] = round(float(np.std([x["kappa"] for x in cs])), 4)
            m["decisions"] = c["decisions"]
            curve.append(m)
        out["curve"] = curve
        out["refit_ms"] = [x for r in runs for x in r["refit_ms"]]
        out["pick_ms"] = [x for r in runs for x in r["pick_ms"]]
        out["seconds"] = round(sum(r["seconds"] for r in runs), 1)
        out["runs"] = [{"seed": r["seed"], "kappa": [c["kappa"] for c in r["curve"]]} for r in runs]
    out["seeds"] = len(runs)
    return out


# -- heads compared (same draws) -------------------------------------------------------------------------

def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def head_lr_multinomial(d, idx, C=1.0):
    return LogisticRegression(C=C, max_iter=2000).fit(d.X[idx], d.y[idx]).predict(d.X[d.test])


def head_lr_multinomial_balanced(d, idx):
    return LogisticRegression(max_iter=2000, class_weight="balanced").fit(d.X[idx], d.y[idx]).predict(d.X[d.test])


def head_centroid(d, idx, prior=1.0):
    lc = np.array([lt.code for lt in d.labels])
    cents = np.stack([d.X[idx][d.y[idx] == c].sum(0) + prior * d.label_vecs[lc == c].mean(0)
                      for c in range(len(d.codes))])
    return (d.X[d.test] @ _unit(cents).T).argmax(1)


def head_knn(d, idx, k=10, temp=0.05):
    S = d.X[d.test] @ d.X[idx].T
    top = np.argsort(-S, axis=1)[:, :k]
    votes = np.zeros((len(d.test), len(d.codes)))
    rows = np.arange(len(d.test))
    for j in range(top.shape[1]):
        np.add.at(votes, (rows, d.y[idx][top[:, j]]), np.exp(S[rows, top[:, j]] / temp))
    return votes.argmax(1)


def head_fewshot(d, idx, **params):
    ex, v = examples_of(d, idx)
    return predict(fit_fewshot(d, ex, v, **params), d, d.test)


def head_lr_form(d, idx, w=1.5):
    from scipy.sparse import csr_matrix, hstack

    Z = hstack([csr_matrix(d.X), w * d.F]).tocsr()
    return LogisticRegression(max_iter=3000).fit(Z[idx], d.y[idx]).predict(Z[d.test])


V3 = {"self_train": 0.0}
HEADS = {
    f"fewshot.v4 (chosen): fewshot.v3 + self-training (undecided turns scoring >= {SELF_TRAIN} for a learned code "
    "become its examples in a second fit)": head_fewshot,
    "fewshot.v4, self_train 0.55": lambda d, idx: head_fewshot(d, idx, self_train=0.55),
    "fewshot.v4, self_train 0.65": lambda d, idx: head_fewshot(d, idx, self_train=0.65),
    "fewshot.v4, pseudo_weight 0.5": lambda d, idx: head_fewshot(d, idx, pseudo_weight=0.5),
    "fewshot.v4, max_pseudo 500": lambda d, idx: head_fewshot(d, idx, max_pseudo=500),
    "fewshot.v3: fewshot.v2 + layer view (layer 3 of 6, mean-pooled), layer_weight 2": lambda d, idx: head_fewshot(d, idx, **V3),
    "fewshot.v3, layer_weight 1": lambda d, idx: head_fewshot(d, idx, layer_weight=1.0, **V3),
    "fewshot.v3, layer_weight 3": lambda d, idx: head_fewshot(d, idx, layer_weight=3.0, **V3),
    "fewshot.v3, C=0.5": lambda d, idx: head_fewshot(d, idx, C=0.5, **V3),
    "fewshot.v3 without form features (form_weight=0)": lambda d, idx: head_fewshot(d, idx, form_weight=0, **V3),
    "fewshot.v2: fewshot.v1 + form features, form_weight 1.5": lambda d, idx: head_fewshot(d, idx, layer_weight=0, **V3),
    "fewshot.v1: one-vs-rest balanced logistic + label-text prior, embeddings only":
        lambda d, idx: head_fewshot(d, idx, form_weight=0, layer_weight=0, **V3),
    "fewshot.v1 without the label-text prior (prior_weight=0)":
        lambda d, idx: head_fewshot(d, idx, prior_weight=0, form_weight=0, layer_weight=0, **V3),
    "multinomial logistic regression on embedding + 1.5 x form": head_lr_form,
    "multinomial logistic regression (README baseline, sklearn defaults)": head_lr_multinomial,
    "multinomial logistic regression, class-balanced": head_lr_multinomial_balanced,
    "nearest centroid (prototype) + label-text prior": head_centroid,
    "kNN (k=10, softmax-weighted)": head_knn,
}


def compare_heads(d: Data, budgets: tuple, draws: int) -> list[dict]:
    out = []
    for name, head in HEADS.items():
        row = {"head": name}
        for k in budgets:
            ms, times = [], []
            for s in (range(draws) if k else [0]):
                idx = per_code(d, k, s) if k else d.train
                t = time.perf_counter()
                pred = head(d, idx)
                times.append((time.perf_counter() - t) * 1000)
                ms.append(metrics(d.y[d.test], pred, len(d.codes)))
            key = f"{k}/code" if k else "all"
            row[key] = mean_metrics(ms)
            row[key]["fit_predict_ms"] = round(float(np.median(times)), 1)
        out.append(row)
    return out


# -- contrastive fine-tuning of the encoder (precode tune) ----------------------------------------------

def setfit_run(d: Data, k: int = 20, seed: int = 0, steps: int | None = None, loss: str = "supcon") -> dict:
    """`precode tune`'s recipe (pipeline.tune.fine_tune, ``loss`` with its default batch size and
    learning rate) on the k-per-code training draw, then the proposer's head on the fine-tuned vectors."""
    from pipeline.tune import fine_tune, recipe

    steps, batch, lr = recipe(loss, steps)
    idx = per_code(d, k, seed)
    tx, ty = [d.texts[i] for i in idx], d.y[idx]
    t = time.perf_counter()
    st, losses = fine_tune(resolve_model(MODEL).location, tx, [int(c) for c in ty], steps, batch, lr, seed, loss=loss)
    train_s = time.perf_counter() - t
    t = time.perf_counter()
    layer = resolve_layer(resolve_model(MODEL))
    enc = lambda texts: encode_views(st, texts, layer)  # noqa: E731  (both views of the tuned encoder, one pass)
    train_texts = [d.texts[i] for i in d.train]  # the whole training half: v4 self-trains on it
    (Xall, Hall), (Xte, Hte), (L, LH) = enc(train_texts), enc([d.texts[i] for i in d.test]), enc([lt.text for lt in d.labels])
    encode_s = time.perf_counter() - t
    at = {int(i): j for j, i in enumerate(d.train)}
    Xtr, Htr = Xall[[at[int(i)] for i in idx]], Hall[[at[int(i)] for i in idx]]
    undecided = SegmentViews(Xall, d.F[d.train], Hall, train_texts)
    exs = [CodedExample(int(c), s) for c, s in zip(ty, tx)]
    out = {"k_per_code": k, "draw": seed, "loss": loss, "layer": layer, "batch_size": batch, "lr": lr, "steps": steps, "losses": losses,
           "train_seconds": round(train_s, 1), "encode_seconds": round(encode_s, 1),
           "encoded_texts": len(train_texts) + len(d.test) + len(d.labels)}
    for suffix, fw, lw, st_ in (("", 0.0, 0.0, 0.0), ("_form", FORM_WEIGHT, 0.0, 0.0),  # v1, v2, v3, v4
                                ("_layer", FORM_WEIGHT, LAYER_WEIGHT, 0.0), ("_self", FORM_WEIGHT, LAYER_WEIGHT, SELF_TRAIN)):
        params = dict(form_weight=fw, layer_weight=lw, self_train=st_)
        p = FewShotProposer(**params).fit(d.codebook, d.labels, L, examples=exs, example_vecs=Xtr, example_forms=d.F[idx],
                                          label_layers=LH, example_layers=Htr, unlabelled=undecided)
        pred = p.score(Xte, seg_forms=d.F[d.test], seg_layers=Hte)[0].argmax(1)
        out["fine_tuned" + suffix] = metrics(d.y[d.test], pred, len(d.codes))
        out["frozen_same_draw" + suffix] = metrics(d.y[d.test], head_fewshot(d, idx, **params), len(d.codes))
    return out


# -- report ----------------------------------------------------------------------------------------------

def machine_info() -> dict:
    import torch

    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    commit, dirty = "", False
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--", "pipeline"], cwd=ROOT,
                                    capture_output=True, text=True).stdout.strip())
    except OSError:
        pass
    return {"cpu_count": os.cpu_count(), "cpu": cpu, "torch_threads": torch.get_num_threads(),
            "platform": platform.platform(), "python": platform.python_version(), "git_commit": commit,
            "pipeline_modified_since_commit": dirty}


def fmt(m: dict | None, key: str = "kappa") -> str:
    return "" if m is None else f"{m[key]:.3f}"


def write_plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = res["tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(6.2 * len(tasks), 4.4), squeeze=False)
    styles = {"uncertainty": ("tab:red", "o", "-"), "document": ("tab:blue", "s", "-"),
              "uncertainty-greedy": ("tab:orange", "v", ":"), "random": ("tab:gray", "^", ":")}
    names = {"uncertainty": f"uncertainty order (sampled, T={res.get('uncertainty_temperature')}; mean of {res.get('seeds')})",
             "document": "document order", "uncertainty-greedy": "control: greedy smallest margin",
             "random": f"control: random order (mean of {res.get('seeds')})"}
    for ax, (name, t) in zip(axes[0], tasks.items()):
        for order, sim in t["simulation"].items():
            xs = [c["decisions"] for c in sim["curve"]]
            ys = [c["kappa"] for c in sim["curve"]]
            col, mk, ls = styles[order]
            ax.plot(xs, ys, color=col, marker=mk, linestyle=ls,
                    label=f"{learner_name(res['fewshot_defaults']).split('.', 1)[1]}, {names[order]}")
        b = t["baselines"]
        ax.axhline(b["LR all"]["kappa"], color="black", linestyle="--", linewidth=1,
                   label=f"LR on all {t['n_train']} training turns ({b['LR all']['kappa']:.2f})")
        ax.axhline(b["LR 20/code"]["kappa"], color="tab:green", linestyle="--", linewidth=1,
                   label=f"LR, 20 per code ({b['LR 20/code']['kappa']:.2f})")
        n20 = b["fewshot 20/code"]["n_examples"]
        ax.plot([n20], [b["fewshot 20/code"]["kappa"]], marker="*", markersize=13, color="tab:purple", linestyle="none",
                label=f"{learner_name(res['fewshot_defaults'])}, 20 per code = {n20} ({b['fewshot 20/code']['kappa']:.2f})")
        if name == "esconv":
            ax.axhline(README_BASELINES["LR all ~3,000"][2], color="black", linestyle=":", linewidth=1,
                       label="README: LR on all ~3,000 (0.40)")
        ax.set_title(f"{t['title']}: held-out half, n = {t['n_test']}")
        ax.set_xlabel("review decisions (segments reviewed on the training half)")
        ax.set_ylabel("Cohen's kappa vs human label")
        ax.set_xticks(list(CHECKPOINTS))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def learner_name(defaults: dict) -> str:
    """The learner the recorded defaults amount to (see pipeline.learn.FewShotProposer)."""
    return defaults.get("name") or ("precode.fewshot.v2" if defaults.get("form_weight", 0) > 0 else "precode.fewshot.v1")


def write_md(res: dict, path: Path) -> None:
    m = res["machine"]
    L = ["# Learning from review decisions: ESConv and AnnoMI", "",
         "Generated by `bench/learning.py` — do not edit by hand; re-run to refresh.", "",
         f"- **command** (from the repository root): `{res['command']}`",
         f"- **date**: {res['date']}",
         f"- **machine**: {m['cpu_count']} CPU cores ({m['cpu']}), torch threads {m['torch_threads']}, no GPU; "
         f"{m['platform']}, Python {m['python']}; precode at commit {m['git_commit']}"
         + (" (pipeline/ modified since)" if m["pipeline_modified_since_commit"] else ""),
         f"- **runtime**: {res['seconds']} s wall; embeddings: {res['embedding']['computed']} texts computed, "
         f"{res['embedding']['cached']} from the cache ({res['embedding']['seconds']} s); load average at the end "
         f"{res['load_average_end']} (the machine is shared: wall times depend on other jobs)",
         f"- **model**: {res['embedding']['model']} (precode's packaged default)"
         + (f", layer view: hidden layer {res['embedding']['layer']}, mean-pooled" if res['embedding'].get('layer') else "")
         + f"; proposer `{learner_name(res['fewshot_defaults'])}` with its defaults {res['fewshot_defaults']}"
         + (f"; form features: {res['embedding']['form']}" if res['embedding'].get('form') else ""),
         "- **data**: read in place from `../shared/benchmarks/` (never copied); split: whole conversations, "
         "seed 0, 50/50 (the split of `bench/agreement.py`)", "",
         "## How it is measured", "",
         "- **Reviewer**: the training half is the material under review. One *decision* = one segment reviewed: "
         "precode's rank-1 code is accepted if it is the human label, otherwise rejected and replaced by the "
         "human label (a negative and a positive example). The proposer is refitted after every decision in the "
         "uncertainty run (the next pick needs the new scores); in the other orders the refit happens at the "
         "checkpoints, which gives the same model.",
         "- **Orders**: `uncertainty` — precode's default (`pipeline.learn.review_order`): the next segment is "
         "drawn with probability proportional to exp(-margin / T) over the unreviewed segments, margin = "
         f"difference between its two best scores, T = {res.get('uncertainty_temperature')} (mean of "
         f"{res.get('seeds')} seeded runs, ± sd); `document` — transcript order (conversations in file order). "
         "Controls: `greedy margin` — always the smallest margin (T = 0); `random` — a seeded shuffle "
         f"(mean of {res.get('seeds')}).",
         "- **Metrics** on the held-out half: accuracy, macro-F1 over all codes, Cohen's kappa (scikit-learn), "
         "human label vs rank-1 code. Rows with *k per code* are the mean of "
         f"{res['draws']} draws (sd of kappa given).",
         "- **Baselines** (same run, same split): the README's logistic regression on MiniLM vectors "
         "(scikit-learn defaults) with 20 per code and with every training-half turn; README's own numbers "
         "(ESConv, another split, all ~3,000 turns) are quoted beside them.", ""]
    for name, t in res["tasks"].items():
        b = t["baselines"]
        L += [f"## {t['title']}", "",
              f"{t['n_conv'][0]} + {t['n_conv'][1]} conversations; {t['n_train']} labelled turns to review, "
              f"**n = {t['n_test']}** held out. Codes: {', '.join(t['codes'])}.", "",
              "| decisions | uncertainty: acc | F1 | **kappa** | codes learned | document: acc | F1 | **kappa** | "
              "codes learned | control: greedy margin, kappa | control: random, kappa |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
        sims = t["simulation"]
        for j, n in enumerate([c["decisions"] for c in sims["uncertainty"]["curve"]]):
            u, dd = sims["uncertainty"]["curve"][j], sims["document"]["curve"][j]
            g, r = sims["uncertainty-greedy"]["curve"][j], sims["random"]["curve"][j]
            sd = lambda c: f" ± {c['kappa_sd']:.3f}" if "kappa_sd" in c else ""  # noqa: E731
            L.append(f"| {n} | {u['accuracy']:.3f} | {u['macro_f1']:.3f} | **{u['kappa']:.3f}**{sd(u)} | "
                     f"{u['learned']:g}/{len(t['codes'])} | {dd['accuracy']:.3f} | {dd['macro_f1']:.3f} | "
                     f"**{dd['kappa']:.3f}** | {dd['learned']}/{len(t['codes'])} | {g['kappa']:.3f} | "
                     f"{r['kappa']:.3f}{sd(r)} |")
        L += ["", "| baseline (same split) | examples | accuracy | macro-F1 | **kappa** |", "|---|---|---|---|---|"]
        for key, desc in [("zero-shot", "zero-shot (the learner with no decisions = `precode.similarity.v2`)"),
                          ("LR 20/code", "logistic regression, 20 per code (README baseline)"),
                          ("LR all", "logistic regression, all training-half turns (README baseline)"),
                          ("fewshot 20/code", f"**`{learner_name(res['fewshot_defaults'])}`, 20 per code (same draws)**"),
                          ("fewshot all", f"`{learner_name(res['fewshot_defaults'])}`, all training-half turns"),
                          ("fewshot.v3 20/code", "`precode.fewshot.v3` (v4 without self-training), 20 per code"),
                          ("fewshot.v3 all", "`precode.fewshot.v3` (v4 without self-training), all training-half turns"),
                          ("fewshot.v2 20/code", "`precode.fewshot.v2` (embedding + form, no layer view), 20 per code"),
                          ("fewshot.v2 all", "`precode.fewshot.v2` (embedding + form, no layer view), all training-half turns"),
                          ("fewshot.v1 20/code", "`precode.fewshot.v1` (embeddings only), 20 per code"),
                          ("fewshot.v1 all", "`precode.fewshot.v1` (embeddings only), all training-half turns")]:
            if key not in b:
                continue
            x = b[key]
            sd = f" (sd {x['kappa_sd']:.3f})" if "kappa_sd" in x else ""
            L.append(f"| {desc} | {x['n_examples']} | {x['accuracy']:.3f} | {x['macro_f1']:.3f} | **{x['kappa']:.3f}**{sd} |")
        st_ = b.get("fewshot 20/code", {}).get("self_training")
        if name == "esconv":
            for key, (a, f, k) in README_BASELINES.items():
                L.append(f"| README (other split): {key} | | {a:.2f} | {f:.2f} | {k:.2f} |")
        u = sims["uncertainty"]
        if st_:
            L += ["", f"Self-training in `{learner_name(res['fewshot_defaults'])}` with 20 per code: on average "
                      f"{st_['segments']:.0f} undecided training-half turns were used as examples of the code the head "
                      f"was sure of; that code was the human label for {100 * st_['agree_with_human']:.0f}% of them."]
        L += ["", f"Refit after a decision (uncertainty runs, {len(u['refit_ms'])} refits of up to "
                  f"{max(c['decisions'] for c in u['curve'])} decisions): median **{np.median(u['refit_ms']):.0f} ms**, "
                  f"90th percentile {np.percentile(u['refit_ms'], 90):.0f} ms, max {max(u['refit_ms']):.0f} ms; "
                  f"picking the next segment (scoring the {t['n_train']} unreviewed turns): median "
                  f"{np.median(u['pick_ms']):.0f} ms. Codes still zero-shot after "
                  f"{max(c['decisions'] for c in u['curve'])} uncertainty-ordered decisions: "
                  f"{', '.join(u['zero_shot_codes_at_end']) or 'none'}; after document order: "
                  f"{', '.join(sims['document']['zero_shot_codes_at_end']) or 'none'}.", ""]
        if t.get("min_examples_sweep"):
            cps = [c["decisions"] for c in sims["document"]["curve"]]
            L += ["### Codes kept zero-shot below `min_examples` (kappa; document order / random order, "
                  f"mean of {res.get('seeds')})", "",
                  "| min_examples | " + " | ".join(f"{c} decisions" for c in cps) + " |",
                  "|---|" + "---|" * len(cps)]
            for me, v in t["min_examples_sweep"].items():
                L.append(f"| {me}{' (default)' if int(me) == res['fewshot_defaults']['min_examples'] else ''} | "
                         + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in zip(v["document"], v["random"])) + " |")
            L.append("")
        if t.get("heads"):
            keys = [k for k in t["heads"][0] if k != "head"]
            L += ["### Heads compared (same draws; fit + predict time)", "",
                  "| head | " + " | ".join(f"{k}: F1 | {k}: **kappa** | ms" for k in keys) + " |",
                  "|---|" + "---|---|---|" * len(keys)]
            for h in t["heads"]:
                L.append(f"| {h['head']} | " + " | ".join(
                    f"{h[k]['macro_f1']:.3f} | **{h[k]['kappa']:.3f}** | {h[k]['fit_predict_ms']:.0f}" for k in keys) + " |")
            L.append("")
        if t.get("setfit") and "runs" in t["setfit"]:
            s = t["setfit"]
            r0 = s["runs"][0]
            L += [f"### Fine-tuning the encoder: `precode tune` ({r0['k_per_code']} per code)", "",
                  "`pipeline.tune.fine_tune`, then the proposer's head on the fine-tuned vectors: embedding only (v1), "
                  "with form features (v2), with form features and the tuned encoder's layer view (v3), and v3 with "
                  "self-training on the training half's tuned vectors (v4, the default). "
                  "`supcon` (the default): seeded batches of 4 examples of each of up to 8 codes, "
                  "supervised contrastive loss over every pair in the batch (temperature 0.1), lr 1e-4; `cosine`: "
                  "SetFit's original recipe, seeded same-code / different-code pairs, cosine target 1 / 0, batch 16 "
                  "pairs, lr 2e-5. A fine-tuned encoder invalidates every cached vector: re-encoding "
                  f"{r0['encoded_texts']} texts is part of the cost. Command: `{s.get('command', '')}`, "
                  f"{s.get('date', '')}; load average at the end {s.get('load_average_end')}. Runs measured by an "
                  "earlier command keep it in learning.json; those from before a head existed have no column for it (–).", "",
                  "| recipe | draw | training s | re-encoding s | frozen v1 | tuned v1 | frozen v2 | tuned v2 | "
                  "frozen v3 | tuned v3 | frozen v4 | **tuned v4** |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
            by_recipe: dict = {}
            for r in s["runs"]:
                by_recipe.setdefault(f"{r.get('loss', 'cosine')}, {r['steps']} steps", []).append(r)
            for recipe, runs in by_recipe.items():
                keys = ("frozen_same_draw", "fine_tuned", "frozen_same_draw_form", "fine_tuned_form",
                        "frozen_same_draw_layer", "fine_tuned_layer", "frozen_same_draw_self", "fine_tuned_self")
                cell = lambda r, k: f"{r[k]['kappa']:.3f}" if k in r else "–"  # noqa: E731
                for r in runs:
                    L.append(f"| {recipe} | {r['draw']} | {r['train_seconds']:.0f} | {r['encode_seconds']:.0f} | "
                             + " | ".join(cell(r, k) for k in keys[:-1]) + f" | **{cell(r, keys[-1])}** |")

                def mean(key: str, sd: bool = False) -> str:
                    v = [r[key]["kappa"] for r in runs if key in r]
                    if len(v) < len(runs):
                        return "–"
                    return f"{np.mean(v):.3f}" + (f" (sd {np.std(v):.3f})" if sd else "")

                L.append(f"| {recipe} | **mean** | {np.mean([r['train_seconds'] for r in runs]):.0f} | "
                         f"{np.mean([r['encode_seconds'] for r in runs]):.0f} | "
                         + " | ".join(mean(k, sd=k in ("fine_tuned_form", "fine_tuned_layer")) for k in keys[:-1])
                         + f" | **{mean(keys[-1], sd=True)}** |")
            L.append("")
        elif t.get("setfit"):
            s = t["setfit"]
            L += ["### SetFit-style contrastive fine-tuning (one run)", "",
                  f"{s['k_per_code']} per code (draw {s['draw']}), {s['pairs']} pairs, {s['steps']} steps of batch 16, "
                  f"cosine loss, lr 2e-5, then the same head on the fine-tuned vectors: training "
                  f"**{s['train_seconds']:.0f} s**, re-encoding {s['encoded_texts']} texts {s['encode_seconds']:.0f} s "
                  f"(a fine-tuned encoder invalidates every cached vector). kappa **{s['fine_tuned']['kappa']:.3f}** "
                  f"(macro-F1 {s['fine_tuned']['macro_f1']:.3f}) vs {s['frozen_same_draw']['kappa']:.3f} "
                  f"({s['frozen_same_draw']['macro_f1']:.3f}) for the frozen encoder on the same draw. Command: "
                  f"`{s.get('command', '')}`, {s.get('date', '')}.", ""]
    L += ["## Reading", ""] + res.get("reading", []) + [""]
    path.write_text("\n".join(L), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer draws and checkpoints up to 100; prints, writes nothing")
    ap.add_argument("--tasks", default="esconv,annomi", help="comma-separated: esconv, annomi")
    ap.add_argument("--no-heads", action="store_true", help="skip the head comparison")
    ap.add_argument("--setfit", action="store_true",
                    help="only run the encoder fine-tuning measurement (precode tune; ~30 min) and add it to an existing learning.json")
    ap.add_argument("--setfit-recipes", default="supcon:10,cosine:100",
                    help="with --setfit: comma-separated loss:steps (pipeline.tune.LOSSES)")
    ap.add_argument("--render", action="store_true", help="only re-write learning.md/.png from learning.json")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"embedding cache (default {DEFAULT_CACHE})")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    if args.render:
        res = json.loads((args.out / "learning.json").read_text(encoding="utf-8"))
        write_md(res, args.out / "learning.md")
        write_plot(res, args.out / "learning.png")
        return
    threadpool_limits(1)  # small dense problems: BLAS threads only fight over the two cores
    t_start, c_start = time.perf_counter(), time.process_time()
    command = " ".join(["HF_HUB_OFFLINE=1 .venv/bin/python bench/learning.py", *sys.argv[1:]])
    log(f"data: {data_dir()}")
    datas = {}
    wanted = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if "esconv" in wanted:
        datas["esconv"] = Data(load_esconv())
    if "annomi" in wanted:
        datas["annomi"] = Data(load_annomi()[0])
    emb = embed_all(list(datas.values()), args.cache)
    log(f"embeddings: {emb}")
    json_path = args.out / "learning.json"
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

    if args.setfit:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        measured = {}
        for name, d in datas.items():
            runs = []
            for recipe in args.setfit_recipes.split(","):
                loss, steps = recipe.split(":")
                for draw in range(SETFIT_DRAWS):
                    log(f"{name}: fine-tuning the encoder (precode tune), {loss} loss, {steps} steps, draw {draw}")
                    runs.append(setfit_run(d, seed=draw, steps=int(steps), loss=loss))
                    log(f"  {runs[-1]}")
            measured[name] = runs
        res = json.loads(json_path.read_text(encoding="utf-8"))  # read now: another run may have written it meanwhile
        for name, runs in measured.items():
            for r in runs:
                r["command"], r["date"] = command, now
            rerun = {(r["loss"], r["steps"]) for r in runs}
            kept = [r for r in res["tasks"][name].get("setfit", {}).get("runs", [])
                    if (r.get("loss", "cosine"), r["steps"]) not in rerun]  # recipes not measured this time
            res["tasks"][name]["setfit"] = {"runs": kept + runs, "command": command, "date": now,
                                            "load_average_end": [round(x, 2) for x in os.getloadavg()]}
        json_path.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
        write_md(res, args.out / "learning.md")
        return

    checkpoints = tuple(c for c in CHECKPOINTS if c <= 100) if args.quick else CHECKPOINTS
    draws = 2 if args.quick else DRAWS
    seeds = 1 if args.quick else SEEDS
    res = {"command": command, "date": now, "draws": draws, "seeds": seeds, "embedding": emb,
           "uncertainty_temperature": UNCERTAINTY_TEMPERATURE,
           "fewshot_defaults": {**vars(FewShotProposer(**DEFAULTS)), "name": FewShotProposer(**DEFAULTS).name}, "tasks": {}}
    titles = {"esconv": "ESConv supporter strategies", "annomi": "AnnoMI therapist behaviour"}
    for name, d in datas.items():
        t: dict = {"title": titles[name], "codes": d.codes, "n_train": len(d.train), "n_test": len(d.test),
                   "n_conv": d.n_conv}
        nc = len(d.codes)
        yt = d.y[d.test]
        log(f"{name}: baselines")
        b: dict = {}
        zs = fit_fewshot(d, [], [])
        b["zero-shot"] = {**metrics(yt, predict(zs, d, d.test), nc), "n_examples": 0}
        older = {"fewshot.v3": V3, "fewshot.v2": {"layer_weight": 0, **V3},
                 "fewshot.v1": {"form_weight": 0, "layer_weight": 0, **V3}}
        lr20, fs20, old20, pseudo = [], [], {k: [] for k in older}, []
        for s in range(draws):
            idx = per_code(d, 20, s)
            lr20.append(metrics(yt, head_lr_multinomial(d, idx), nc))
            ex, v = examples_of(d, idx)
            p20 = fit_fewshot(d, ex, v)
            fs20.append(metrics(yt, predict(p20, d, d.test), nc))
            if len(p20.pseudo_rows_):  # how often the self-training segments' code is the human label
                pseudo.append((len(p20.pseudo_rows_), float(np.mean(d.y[d.train][p20.pseudo_rows_] == p20.pseudo_codes_))))
            for k, params in older.items():
                old20[k].append(metrics(yt, head_fewshot(d, idx, **params), nc))
        n20 = len(per_code(d, 20, 0))
        b["LR 20/code"] = {**mean_metrics(lr20), "n_examples": n20}
        b["fewshot 20/code"] = {**mean_metrics(fs20), "n_examples": n20}
        if pseudo:
            b["fewshot 20/code"]["self_training"] = {"segments": round(float(np.mean([n for n, _ in pseudo])), 1),
                                                     "agree_with_human": round(float(np.mean([a for _, a in pseudo])), 3)}
        b["LR all"] = {**metrics(yt, head_lr_multinomial(d, d.train), nc), "n_examples": len(d.train)}
        b["fewshot all"] = {**metrics(yt, head_fewshot(d, d.train), nc), "n_examples": len(d.train)}
        for k, params in older.items():
            b[f"{k} 20/code"] = {**mean_metrics(old20[k]), "n_examples": n20}
            b[f"{k} all"] = {**metrics(yt, head_fewshot(d, d.train, **params), nc), "n_examples": len(d.train)}
        t["baselines"] = b
        log(f"  {json.dumps(b)}")
        t["simulation"] = {}
        for order in ORDERS:
            runs = []
            for seed in (range(seeds) if order in ("uncertainty", "random") else [0]):
                log(f"{name}: simulated reviewer, {order} order, seed {seed}")
                sim = simulate(d, order, checkpoints, seed)
                log("  " + "  ".join(f"{c['decisions']}: k={c['kappa']:.3f}" for c in sim["curve"])
                    + f"  ({sim['seconds']} s; refit median {np.median(sim['refit_ms']):.0f} ms)")
                runs.append(sim)
            t["simulation"][order] = combine(runs)
        log(f"{name}: min_examples sweep (document and random order)")
        t["min_examples_sweep"] = {}
        for me in MIN_EXAMPLES_SWEEP:
            doc = simulate(d, "document", checkpoints, 0, {"min_examples": me})
            rnd = combine([simulate(d, "random", checkpoints, s, {"min_examples": me}) for s in range(seeds)])
            t["min_examples_sweep"][me] = {"document": [c["kappa"] for c in doc["curve"]],
                                           "random": [c["kappa"] for c in rnd["curve"]]}
            log(f"  min_examples={me}: document {t['min_examples_sweep'][me]['document']} "
                f"random {t['min_examples_sweep'][me]['random']}")
        if not args.no_heads:
            log(f"{name}: heads compared")
            t["heads"] = compare_heads(d, (5, 20, 0), draws)
            for h in t["heads"]:
                log(f"  {h['head'][:60]:60} " + " ".join(f"{k}={h[k]['kappa']:.3f}" for k in h if k != "head"))
        res["tasks"][name] = t
    res["seconds"] = round(time.perf_counter() - t_start, 1)
    res["cpu_seconds"] = round(time.process_time() - c_start, 1)
    res["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    res["machine"] = machine_info()
    log(f"done in {res['seconds']} s wall, {res['cpu_seconds']} s CPU")
    if args.quick:
        return
    old = json.loads(json_path.read_text(encoding="utf-8")) if json_path.exists() else {}
    for name in res["tasks"]:  # keep an earlier SetFit measurement
        if old.get("tasks", {}).get(name, {}).get("setfit"):
            res["tasks"][name]["setfit"] = old["tasks"][name]["setfit"]
    res["reading"] = old.get("reading", [])
    args.out.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    write_md(res, args.out / "learning.md")
    write_plot(res, args.out / "learning.png")
    log(f"wrote {args.out / 'learning.md'}, learning.json, learning.png")


if __name__ == "__main__":
    main()
