#!/usr/bin/env python
"""Proposals a researcher can trust: code sets that abstain, and scores that mean a chance of acceptance.

    .venv/bin/python bench/proposals.py               # writes bench/results/proposals.{md,json,png}
    .venv/bin/python bench/proposals.py --quick       # 2 draws on ESConv / AnnoMI, prints only
    .venv/bin/python bench/proposals.py --fit-prior   # fits similarity.v3's and v4's priors on the benchmarks and prints them

Tasks (the data are read in place from ``../shared/benchmarks``; ``PRECODE_BENCH_DATA`` overrides):
- games_as_art: 325 passages a coder highlighted in 90 survey answers, 31 codes with a one-sentence
  description, 1-6 codes a passage. Zero-shot (descriptions only, every passage) and cross-validated by
  answer (5 folds; the passages of 4/5 of the answers are the coded examples, the rest is coded).
- ESConv supporter turns (8 codes) and AnnoMI therapist utterances (4 codes): one code a turn; 20 coded
  turns per code drawn from the training half of the conversations (seeded draws), the held-out half is
  coded (the split of bench/learning.py, so kappas compare with bench/results/learning.md).

Methods, side by side on the same folds and draws, all on all-MiniLM-L6-v2 vectors:
- ``lr``: one-vs-rest logistic regression (scikit-learn, C=1, classes balanced) on the sentence embedding, a
  code proposed when its probability is at least 0.5 (the baseline of ../shared/benchmarks/README.md), the
  most likely code on the one-code tasks;
- ``knn1``: the codes of the nearest coded example (1-nearest-neighbour); zero-shot: the nearest description;
- ``before``: precode as it was before calibrated sets (similarity.v2 / fewshot.v4, the 3 best codes scoring
  at least 0.35, every segment shown its best code);
- ``v5``: the first calibrated version (similarity.v3 / fewshot.v5), without the code names' words;
- ``v6``: v5 and the words of the code's name in the segment (similarity.v4 / fewshot.v6);
- ``v7``: v6, and words close to the name's words count (similarity.v4 / fewshot.v7);
- ``precode``: precode now (similarity.v4 / fewshot.v8: v7; the share of the segment's 5 nearest coded
  examples that carry the code, weighed in both calibration maps; and a closed-world negative weighs the mean
  number of codes per coded example, the same as v7 where each example has one code: calibrated scores, sets
  chosen for ``propose.target_precision``, abstention).
Metrics: micro precision / recall / F1 of the proposed codes against the human codes, mean codes proposed a
segment, share of segments with no code proposed (abstained), expected calibration error (15 equal bins)
over every (segment, code) score (``ece``) and over the proposed ones (``ece_shown``), and for the one-code
tasks Cohen's kappa of the rank-1 code. A precision-recall plot sweeps the precision target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _setup import HERE, ROOT  # noqa: E402,F401  (offline models; the repository on sys.path)

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import cohen_kappa_score  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from _data import WordVectors, data_dir, load_annomi, load_esconv, split_conversations  # noqa: E402
from pipeline.embed import DEFAULT_CACHE, Embedder, embed_texts, resolve_layer, resolve_model  # noqa: E402
from pipeline.evaluate import expected_calibration_error  # noqa: E402
from pipeline.form import FormVectorizer, form_strings, load_tagger  # noqa: E402
from pipeline.features import learner_views  # noqa: E402
from pipeline.learn import CodedExample, FewShotProposer  # noqa: E402
from pipeline.lexical import name_matches, name_terms  # noqa: E402
from pipeline.propose import PROPOSERS, label_texts, prior_features, select  # noqa: E402
from pipeline.records import Code, Codebook, Segment  # noqa: E402
from pipeline.store import Store  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
# the learner and zero-shot proposer of each method (as `precode run` fits them): before this issue,
# the first calibrated version, and precode now
LEARNERS = {"before": {"zero_shot": "precode.similarity.v2", "calibrate": False},  # fewshot.v4 / similarity.v2
            "v5": {"select_form": True, "zero_shot": "precode.similarity.v3"},  # fewshot.v5 / similarity.v3
            "v6": {"select_form": True, "name_match": True, "zero_shot": "precode.similarity.v4"},  # fewshot.v6 / similarity.v4
            "v7": {"select_form": True, "name_match": True, "similar_names": True,
                   "zero_shot": "precode.similarity.v4"},  # fewshot.v7 / similarity.v4
            "precode": {"select_form": True, "name_match": True, "similar_names": True, "knn": 5, "implicit_weight": None,
                        "zero_shot": "precode.similarity.v4"}}  # fewshot.v8 / similarity.v4
LEARNED = tuple(LEARNERS)
TARGETS = (0.4, 0.5, 0.6, 0.7, 0.8)
COVERAGE = 0.9


def log(msg: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def norm(s: str) -> str:
    return " ".join(s.split())


# -- data ----------------------------------------------------------------------------------------------

@dataclass
class Bench:
    name: str
    codebook: Codebook
    texts: list[str]
    Y: np.ndarray  # [n, codes] bool: the human codes
    groups: list[str]  # document / answer / conversation of each item
    single: bool  # one code an item (kappa of the rank-1 code is reported)
    train: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # one-code tasks: the training half
    test: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    def bare(self) -> "Bench":
        """The same task with a codebook of bare code names (no descriptions)."""
        cb = Codebook(self.codebook.name + " (names only)", tuple(Code(c.name) for c in self.codebook.codes))
        return Bench(self.name + "/names", cb, self.texts, self.Y, self.groups, self.single, self.train, self.test)


def load_games(base: Path | None = None) -> Bench:
    path = (base or data_dir()) / "games_as_art" / "coded.json"
    if not path.is_file():
        raise SystemExit(f"benchmark data not found: {path}")
    d = json.loads(path.read_text(encoding="utf-8"))
    codes = list(d["codes"])
    texts, rows, groups = [], [], []
    for doc in d["documents"]:
        for sp in doc["spans"]:
            texts.append(norm(sp["text"]))
            rows.append([codes.index(c) for c in sp["codes"]])
            groups.append(doc["id"])
    Y = np.zeros((len(texts), len(codes)), dtype=bool)
    for i, r in enumerate(rows):
        Y[i, r] = True
    cb = Codebook("games_as_art", tuple(Code(c, description=d["codes"][c]) for c in codes))
    return Bench("games_as_art", cb, texts, Y, groups, single=False)


def from_task(task) -> Bench:
    codes = list(task.codes)
    train_ids, _ = split_conversations(task.conversations, 0)
    texts, y, groups = [], [], []
    for c in task.conversations:
        for t in c.turns:
            text = norm(t.text)
            if text and t.speaker == task.code_speaker and t.label:
                texts.append(text)
                y.append(codes.index(t.label))
                groups.append(c.id)
    Y = np.zeros((len(texts), len(codes)), dtype=bool)
    Y[np.arange(len(texts)), y] = True
    train = np.array([i for i, g in enumerate(groups) if g in train_ids])
    test = np.array([i for i, g in enumerate(groups) if g not in train_ids])
    cb = Codebook(task.name, tuple(Code(k, description=v) for k, v in task.codes.items()))
    return Bench(task.name, cb, texts, Y, groups, True, train, test)


@dataclass
class Views:
    S: np.ndarray  # sentence embeddings of the items
    L: np.ndarray  # layer views
    F: object  # form features (sparse)
    labels: list
    label_vecs: np.ndarray
    label_layers: np.ndarray


WORDS = WordVectors(DEFAULT_CACHE, MODEL)


def views(b: Bench, cache: Path | None) -> Views:
    labels = label_texts(b.codebook)
    texts = b.texts + [lt.text for lt in labels]
    model = resolve_model(MODEL)
    store = Store(cache).open() if cache else None
    try:
        emb = Embedder(model, 64, layer=resolve_layer(model))
        S = embed_texts(texts, emb, store)
        L = embed_texts(texts, emb, store, view="layer")
        forms = form_strings(b.texts, load_tagger(), store)
    finally:
        if store is not None:
            store.close()
    n = len(b.texts)
    F = FormVectorizer().fit(forms).transform(forms)
    return Views(S[:n], L[:n], F, labels, S[n:], L[n:])


# -- methods -------------------------------------------------------------------------------------------

def segments_of(b: Bench, rows: np.ndarray) -> list[Segment]:
    return [Segment(str(i), b.groups[i], "passage", 0, 0, len(b.texts[i]), b.texts[i], None, None, True) for i in rows]


def sets_of(sugg, rows: np.ndarray, cb: Codebook, legacy: bool = False) -> np.ndarray:
    """Proposed codes as a [rows, codes] matrix. Uncoded and category-only rows propose no code, except
    in the legacy rule (``legacy``), whose screens showed an uncoded segment's best code all the same."""
    pos = {str(i): j for j, i in enumerate(rows)}
    index = {c.path: j for j, c in enumerate(cb.codes)}
    pred = np.zeros((len(rows), len(cb.codes)), dtype=bool)
    for s in sugg:
        if legacy or ("uncoded" not in s.flags and "category_only" not in s.flags):
            pred[pos[s.segment_id], index[s.code.path]] = True
    return pred


def proposer_sets(b: Bench, prop, P: np.ndarray, ev: np.ndarray, rows: np.ndarray, mode: str,
                  target: float | None = None) -> np.ndarray:
    cat = np.full(len(rows), -1)
    now = mode != "before"
    if now:
        sugg = select(segments_of(b, rows), P, ev, prop, cat, top_k=3,
                      target_precision=target if target is not None else 0.6)
    else:
        sugg = select(segments_of(b, rows), P, ev, prop, cat, top_k=3, threshold=0.35, target_precision=None)
    return sets_of(sugg, rows, b.codebook, legacy=not now)


def zero_shot(b: Bench, v: Views, mode: str) -> tuple:
    prop = PROPOSERS[LEARNERS[mode]["zero_shot"]]().fit(b.codebook, v.labels, v.label_vecs)
    rows = np.arange(len(b.texts))
    P, ev, _, _ = prop.score(v.S, seg_texts=b.texts)
    return P, proposer_sets(b, prop, P, ev, rows, mode), prop, ev


def nearest_description(b: Bench, v: Views) -> tuple:
    prop = PROPOSERS["precode.similarity.v1"]().fit(b.codebook, v.labels, v.label_vecs)
    P, _, _, _ = prop.score(v.S)
    pred = np.zeros_like(P, dtype=bool)
    pred[np.arange(len(P)), P.argmax(axis=1)] = True
    return pred.astype(float), pred


def fit_precode(b: Bench, v: Views, train: np.ndarray, test: np.ndarray, mode: str, pool: np.ndarray) -> FewShotProposer:
    examples = [CodedExample(int(c), b.texts[i], group=b.groups[i]) for i in train for c in np.where(b.Y[i])[0]]
    learner = FewShotProposer(**LEARNERS[mode])
    row = {t: i for i, t in enumerate(b.texts)}
    lab = {lt.text: i for i, lt in enumerate(v.labels)}

    def lookup(items: np.ndarray, label_rows: np.ndarray):
        return lambda texts: {t: items[row[t]] if t in row else label_rows[lab[t]] for t in texts}

    views = learner_views(learner, [lt.text for lt in v.labels], [e.text for e in examples], [b.texts[i] for i in pool],
                          lookup(v.S, v.label_vecs), lookup(v.L, v.label_layers),
                          lambda groups: [v.F[[row[t] for t in g]] for g in groups], WORDS)
    return learner.fit_views(b.codebook, v.labels, views, examples)


def learned(b: Bench, v: Views, train: np.ndarray, test: np.ndarray, mode: str, pool: np.ndarray,
            targets=()) -> tuple:
    prop = fit_precode(b, v, train, test, mode, pool)
    P, ev, _, _ = prop.score(v.S[test], seg_forms=v.F[test], seg_layers=v.L[test],
                             seg_texts=[b.texts[i] for i in test])
    extra = {t: proposer_sets(b, prop, P, ev, test, True, t) for t in targets}
    if targets:  # the coverage sets (split conformal on the folds' out-of-fold scores)
        sugg = select(segments_of(b, test), P, ev, prop, np.full(len(test), -1), top_k=3, coverage=COVERAGE)
        extra["coverage"] = sets_of(sugg, test, b.codebook)
    return P, proposer_sets(b, prop, P, ev, test, mode), extra


def logistic(b: Bench, v: Views, train: np.ndarray, test: np.ndarray) -> tuple:
    P = np.zeros((len(test), b.Y.shape[1]))
    for c in range(b.Y.shape[1]):
        y = b.Y[train, c]
        if y.all() or not y.any():
            P[:, c] = float(y.all())
            continue
        P[:, c] = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit(v.S[train], y).predict_proba(v.S[test])[:, 1]
    pred = P >= 0.5
    if b.single:  # one code a turn: the most likely one (as the README's kappa baselines)
        pred = np.zeros_like(pred)
        pred[np.arange(len(test)), P.argmax(axis=1)] = True
    return P, pred


def knn1(b: Bench, v: Views, train: np.ndarray, test: np.ndarray) -> tuple:
    near = train[np.argmax(v.S[test] @ v.S[train].T, axis=1)]
    pred = b.Y[near].copy()
    return pred.astype(float), pred


# -- metrics -------------------------------------------------------------------------------------------

def ece(P: np.ndarray, Y: np.ndarray, bins: int = 15) -> float | None:
    return expected_calibration_error(np.asarray(P, dtype=float).ravel(), np.asarray(Y, dtype=float).ravel(), bins)


def reliability(P: np.ndarray, Y: np.ndarray, bins: int = 10) -> list[dict]:
    p, y = np.asarray(P, dtype=float).ravel(), np.asarray(Y, dtype=float).ravel()
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return [{"bin": f"{k / bins:.1f}-{(k + 1) / bins:.1f}", "n": int((idx == k).sum()),
             "mean_score": round(float(p[idx == k].mean()), 3), "share_right": round(float(y[idx == k].mean()), 3)}
            for k in range(bins) if (idx == k).any()]


def scores(P: np.ndarray, pred: np.ndarray, Y: np.ndarray, single: bool) -> dict:
    tp = float((pred & Y).sum())
    prec = tp / pred.sum() if pred.sum() else 0.0
    rec = tp / Y.sum()
    out = {"f1": 2 * prec * rec / (prec + rec) if prec + rec else 0.0, "precision": prec, "recall": rec,
           "set_size": float(pred.sum(axis=1).mean()), "abstained": float((pred.sum(axis=1) == 0).mean()),
           "ece": ece(P, Y), "ece_shown": ece(P[pred], Y[pred]) if pred.any() else None}
    if single:
        out["kappa"] = float(cohen_kappa_score(Y.argmax(axis=1), P.argmax(axis=1)))
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def mean_of(runs: list[dict]) -> dict:
    out = {}
    for k in runs[0]:
        vals = [r[k] for r in runs if r[k] is not None]
        out[k] = round(float(np.mean(vals)), 4) if vals else None
    if len(runs) > 1 and "kappa" in runs[0]:
        out["kappa_sd"] = round(float(np.std([r["kappa"] for r in runs])), 4)
    return out


# -- protocols -----------------------------------------------------------------------------------------

def answer_folds(groups: list[str], k: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    uniq = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(uniq))
    fold_of = {uniq[j]: i % k for i, j in enumerate(order)}
    f = np.array([fold_of[g] for g in groups])
    return [(np.where(f != i)[0], np.where(f == i)[0]) for i in range(k)]


def run_games(b: Bench, v: Views) -> dict:
    out: dict = {"zero_shot": {}, "cv": {}}
    Y = b.Y
    for mode in LEARNED:
        P, pred = zero_shot(b, v, mode)[:2]
        out["zero_shot"][mode] = scores(P, pred, Y, False)
    P, pred = nearest_description(b, v)
    out["zero_shot"]["nearest description"] = scores(P, pred, Y, False)
    folds = answer_folds(b.groups)
    n, k = Y.shape
    P_all = {m: np.zeros((n, k)) for m in ("lr", "knn1", *LEARNED)}
    pred_all = {m: np.zeros((n, k), dtype=bool) for m in P_all}
    sweep = {t: np.zeros((n, k), dtype=bool) for t in (*TARGETS, "coverage")}
    seconds: dict[str, float] = {m: 0.0 for m in P_all}
    for fi, (tr, te) in enumerate(folds):
        log(f"games_as_art fold {fi + 1}/{len(folds)}")
        for m in P_all:
            t0 = time.perf_counter()
            if m == "lr":
                P, pred = logistic(b, v, tr, te)
            elif m == "knn1":
                P, pred = knn1(b, v, tr, te)
            else:
                P, pred, extra = learned(b, v, tr, te, m, te, TARGETS if m == "precode" else ())
                for t, s in extra.items():
                    sweep[t][te] = s
            seconds[m] += time.perf_counter() - t0
            P_all[m][te], pred_all[m][te] = P, pred
    for m in P_all:
        out["cv"][m] = {**scores(P_all[m], pred_all[m], Y, False), "seconds": round(seconds[m], 1)}
    out["cv_reliability"] = {m: reliability(P_all[m], Y) for m in ("lr", "before", "precode")}
    out["sweep"] = {str(t): scores(P_all["precode"], sweep[t], Y, False) for t in TARGETS}
    cov = sweep["coverage"]
    out["coverage"] = {"target": COVERAGE, **scores(P_all["precode"], cov, Y, False),
                       "measured": round(float((cov & Y).any(axis=1).mean()), 4)}
    out["lr_sweep"] = {str(t): scores(P_all["lr"], P_all["lr"] >= t, Y, False) for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)}
    return out


def run_single(b: Bench, v: Views, draws: int, per_code: int = 20) -> dict:
    test = b.test
    runs: dict[str, list[dict]] = {m: [] for m in ("lr", "knn1", *LEARNED)}
    for seed in range(draws):
        log(f"{b.name} draw {seed + 1}/{draws}")
        rng = np.random.default_rng(seed)
        y = b.Y.argmax(axis=1)
        train = np.sort(np.concatenate([rng.choice(b.train[y[b.train] == c], min(per_code, int((y[b.train] == c).sum())),
                                                   replace=False) for c in range(b.Y.shape[1])]))
        for m in runs:
            if m == "lr":
                P, pred = logistic(b, v, train, test)
            elif m == "knn1":
                P, pred = knn1(b, v, train, test)
            else:
                P, pred, _ = learned(b, v, train, test, m, b.train)
            runs[m].append(scores(P, pred, b.Y[test], True))
    return {m: mean_of(r) for m, r in runs.items()}


# -- the prior of similarity.v3 ----------------------------------------------------------------------------

def prior_rows(b: Bench, v: Views, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[n * codes, 5] (prototype cosine, closest label text cosine, gap, lead; see
    pipeline.propose.prior_features; the share of the code's name words the text uses, see
    pipeline.lexical), targets."""
    prop = PROPOSERS["precode.similarity.v2"]().fit(b.codebook, v.labels, v.label_vecs)
    X = v.S[rows]
    proto = X @ prop.prototypes_.T
    sims = X @ v.label_vecs.T
    single = np.full_like(proto, -1.0)
    for j, c in enumerate(prop.label_code_):
        single[:, c] = np.maximum(single[:, c], sims[:, j])
    gap, lead = prior_features(proto)
    names = name_matches([b.texts[i] for i in rows], name_terms(b.codebook))
    return np.stack([proto.ravel(), single.ravel(), gap.ravel(), lead.ravel(), names.ravel()], axis=1), b.Y[rows].ravel()


def with_exemplars(b: Bench, n: int = 3, seed: int = 0) -> tuple[Bench, np.ndarray]:
    """The task with ``n`` exemplars a code (drawn from its items, seeded) in the codebook, and the rows
    left to score (the exemplars' items are not scored)."""
    rng = np.random.default_rng(seed)
    used, codes = set(), []
    for j, c in enumerate(b.codebook.codes):
        pick = rng.choice(np.where(b.Y[:, j])[0], min(n, int(b.Y[:, j].sum())), replace=False)
        used |= set(int(i) for i in pick)
        codes.append(Code(c.name, c.category, c.description, examples=tuple(b.texts[i] for i in pick)))
    cb = Codebook(b.codebook.name + " (exemplars)", tuple(codes))
    rows = np.array([i for i in range(len(b.texts)) if i not in used])
    return Bench(b.name + "/exemplars", cb, b.texts, b.Y, b.groups, b.single, b.train, b.test), rows


def fit_prior(benches: list[tuple[Bench, Views]], max_items: int = 1500, names: bool = False) -> dict:
    """similarity.v3's prior (v4's with ``names``: the name match too): one logistic regression a kind
    of code (with a description, a bare name, with exemplars), on every benchmark, each data set
    weighing the same."""
    out = {}
    for kind in ("described", "bare", "exemplars"):
        Xs, ys, ws = [], [], []
        for b, v in benches:
            rows = np.arange(len(b.texts))
            if kind == "bare":
                b = b.bare()
            elif kind == "exemplars":
                b, rows = with_exemplars(b)
            if kind != "described":
                v = Views(v.S, v.L, v.F, label_texts(b.codebook), *embed_labels(b))
            if len(rows) > max_items:
                rows = np.sort(np.random.default_rng(0).choice(rows, max_items, replace=False))
            X, y = prior_rows(b, v, rows)
            X = X if names else X[:, :4]
            Xs.append(X), ys.append(y), ws.append(np.full(len(y), 1.0 / len(y)))  # every data set weighs the same
        X, y, w = np.vstack(Xs), np.concatenate(ys), np.concatenate(ws)
        m = LogisticRegression(C=10.0, max_iter=5000).fit(X, y, sample_weight=w * len(w) / len(ws))
        coef = [round(float(c), 3) for c in m.coef_[0]]
        out[kind] = {"sim": coef[0], "single": coef[1], "gap": coef[2], "lead": coef[3],
                     **({"name": coef[4]} if names else {}), "bias": round(float(m.intercept_[0]), 3)}
    return out


def embed_labels(b: Bench) -> tuple[np.ndarray, np.ndarray]:
    labels = label_texts(b.codebook)
    model = resolve_model(MODEL)
    emb = Embedder(model, 64, layer=resolve_layer(model))
    texts = [lt.text for lt in labels]
    return embed_texts(texts, emb), embed_texts(texts, emb, view="layer")


# -- output --------------------------------------------------------------------------------------------

def write_plot(res: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = res["games_as_art"]
    fig, (ax, ax3, ax2) = plt.subplots(1, 3, figsize=(15.5, 4.6))
    sw = g["sweep"]
    ax.plot([sw[t]["recall"] for t in sw], [sw[t]["precision"] for t in sw], "o-", label="precode (precision target)")
    for t in sw:
        ax.annotate(t, (sw[t]["recall"], sw[t]["precision"]), textcoords="offset points", xytext=(4, 4), fontsize=8)
    lw = g["lr_sweep"]
    ax.plot([lw[t]["recall"] for t in lw], [lw[t]["precision"] for t in lw], "s--", label="logistic regression (threshold)")
    for m, mk in (("knn1", "^"), ("before", "v")):
        ax.plot(g["cv"][m]["recall"], g["cv"][m]["precision"], mk, ms=9, label=m)
    ax.set_xlabel("recall (share of human codes proposed)")
    ax.set_ylabel("precision (share of proposals a person gave)")
    ax.set_title("games_as_art, 5 folds by answer")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    # precision against coverage: the share of passages that get any code
    ax3.plot([1 - sw[t]["abstained"] for t in sw], [sw[t]["precision"] for t in sw], "o-", label="precode (precision target)")
    ax3.plot([1 - lw[t]["abstained"] for t in lw], [lw[t]["precision"] for t in lw], "s--", label="logistic regression (threshold)")
    cov = g["coverage"]
    ax3.plot(1 - cov["abstained"], cov["precision"], "D", ms=8, label=f"precode coverage sets ({cov['target']:.0%})")
    ax3.set_xlabel("coverage (share of passages given a code)")
    ax3.set_ylabel("precision")
    ax3.set_title("precision against coverage")
    ax3.grid(alpha=0.3)
    ax3.legend(fontsize=8)
    ax2.plot([0, 1], [0, 1], color="grey", lw=1)
    for m in ("lr", "before", "precode"):
        rel = g["cv_reliability"][m]
        ax2.plot([r["mean_score"] for r in rel], [r["share_right"] for r in rel], "o-", label=m)
    ax2.set_xlabel("score")
    ax2.set_ylabel("share of (passage, code) pairs the coder gave")
    ax2.set_title("reliability (same folds)")
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def table(rows: dict, cols=("f1", "precision", "recall", "set_size", "abstained", "ece", "ece_shown")) -> list[str]:
    head = "| method | " + " | ".join(cols) + " |"
    out = [head, "|" + "---|" * (len(cols) + 1)]
    for m, r in rows.items():
        out.append(f"| {m} | " + " | ".join("-" if r.get(c) is None else f"{r[c]:.3f}" for c in cols) + " |")
    return out


def write_md(res: dict, path: Path, command: str) -> None:
    g = res["games_as_art"]
    lines = ["# Proposals: sets, abstention, calibration (`bench/proposals.py`)", "",
             f"Command: `.venv/bin/{command}` ({res['date']}, {res['seconds']:.0f} s). Numbers only; the reading below the tables "
             "is written by a person and dated.", "",
             "## games_as_art, zero-shot (descriptions only, all 325 passages)", "", *table(g["zero_shot"]), "",
             "## games_as_art, cross-validated by answer (5 folds)", "",
             *table(g["cv"], ("f1", "precision", "recall", "set_size", "abstained", "ece", "ece_shown", "seconds")), "",
             "precode's precision target swept on the same folds:", "", *table(g["sweep"]), "",
             f"Coverage sets (`propose.coverage: {g['coverage']['target']}`): a right code in the set for "
             f"{g['coverage']['measured']:.1%} of the held-out passages, {g['coverage']['set_size']:.2f} codes a passage, "
             f"precision {g['coverage']['precision']:.3f}.", ""]
    if "games_as_art_names" in res:
        gn = res["games_as_art_names"]
        lines += ["## games_as_art with code names only (no descriptions)", "", "Zero-shot (`nearest description`: the nearest code name):", "",
                  *table(gn["zero_shot"]), "",
                  "Cross-validated by answer (5 folds):", "",
                  *table(gn["cv"], ("f1", "precision", "recall", "set_size", "abstained", "ece", "ece_shown", "seconds")), ""]
    for name in ("esconv", "annomi-therapist"):
        if name in res:
            lines += [f"## {name}, 20 coded turns per code ({res['draws']} draws), held-out half", "",
                      *table(res[name], ("kappa", "kappa_sd", "f1", "precision", "recall", "set_size", "abstained", "ece", "ece_shown")), ""]
    lines += ["![precision against recall and coverage; reliability](proposals.png)", "", "## Reading", "", READING]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


READING = """Written 2026-12-01 (session 8) after the run above (the numbers in this text are from it; a re-run
changes the tables, not this text). `before` is precode before issue 13, `v5` the first calibrated version,
`v6` v5 with the code name's words, `v7` v6 where words close to the name's words count, `precode` the
current defaults (similarity.v4 / fewshot.v8: v7, the codes of the nearest coded examples, and closed-world
negatives weighed by the number of codes per example).

- **The goal is met on these folds, with one number worse.** Cross-validated by answer, fewshot.v8 reaches
  micro-F1 **0.559 at precision 0.636** (goal: 0.55 at 0.60; v7 0.533, v6 0.521, v5 0.500, before 0.317; the
  logistic regression 0.495 at precision 0.44). ECE over every (passage, code) pair 0.013 (goal 0.05). **ECE
  over the shown proposals is worse: 0.064** (v7 0.041, v5 0.029): the proposals shown are right more often
  than their scores say (0.636 against a 0.6 target), i.e. the scores of the top proposals are too modest.
  Other fold seeds (answer_folds seed 1-4, scratch runs): v8 0.533 / 0.550 / 0.555 / 0.558 against v7
  0.531 / 0.541 / 0.529 / 0.537; over the five seeds 0.551 against 0.534 (+0.017), precision 0.61-0.64 on each.
  So the goal holds on average, not on every split (seed 1: 0.533).
- **What v8 adds.** (1) The share of a passage's 5 nearest coded examples that carry the code (similarity
  weighted; computed out of fold while the calibration is fitted, an example is never its own neighbour) as a
  second feature of both calibration maps with one weight each, fitted on the project's examples (ML-kNN's
  idea in one number). Most of its gain is on codes still scored zero-shot (fewer than 5 examples): a code
  that no neighbour carries is pushed down. Alone: 0.546 (five seeds: 0.541). (2) A code an example was not
  given, while it was given others, is a negative of weight the mean number of codes per coded example (2.1
  here): with several codes a passage, each missing code is stronger evidence than one-code data suggests.
  It is exactly v7 where each example has one code (ESConv, AnnoMI). Alone: 0.550 (five seeds: 0.543). A
  fixed weight of 2 or 3 instead cost ESConv 0.004-0.006 kappa.
- **Code names only** (the descriptions removed, as in most real codebooks): 0.555 at precision 0.64 (v7
  0.528); zero-shot it abstains on 83% of the passages.
- **The code name's words** (v6, v7): a passage that says "nostalgic" is coded *nostalgia* far more often than
  one that does not (22% of coded (passage, code) pairs use a word of the code's name, 2% of the others); v6
  weighs it with one shared weight fitted on the project's examples (~2 in log-odds here, 0 on ESConv and
  AnnoMI); v7 also counts words close to the name's words by the encoder's vectors of single words
  (+0.012 F1 over v6).
- **Tried and not kept** (scratch, same folds): per-code shifts of the calibration shrunk toward the shared map
  (empirical Bayes) followed by a smoothed isotonic map: 0.558 on these folds, +0.015 on other calibration
  seeds, ECE shown 0.056 (0.091 with names only), left for a later version; isotonic alone 0.532-0.539;
  per-code slopes or intercepts alone 0.524-0.530; rank-aware corrections of the cut 0.523-0.528 (the
  out-of-fold and held-out rank errors disagree); top_k 4-6 (0.534: the cut, not top_k, limits the sets);
  C 0.5-4 and the prior's weight (0.509-0.537); down-weighting closed-world negatives (0.481-0.516); the
  description's words matched like the name's (0.530-0.540, ECE shown 0.058-0.064); the name match per code;
  stacking; code co-occurrence (PMI).
- **Zero-shot** (no coded examples): similarity.v4's prior has the exact name match (fitted on the benchmarks
  with `--fit-prior`). It proposes 0.21 codes a passage at precision 0.72 (F1 0.13) and abstains on 79% of the
  passages (v5: 97%). The best description is the right code for 46% of the passages, so most zero-shot codes
  do not reach 0.6: a new user without examples sees mostly `uncoded` / `category_only` until people code some.
- **Targets**: 0.4, 0.5 and 0.6 give the same sets because the floor (`propose.threshold`, 0.35) binds
  first; 0.7 and 0.8 trade recall for precision as they should (0.69 / 0.77).
- **Coverage sets** (`propose.coverage: 0.9`): a right code in 90.8% of the held-out sets (3.1 codes a set).
- **Kappas** (rank-1 code) on ESConv and AnnoMI are unchanged: 0.409 / 0.613. Their ECE is worse than
  games_as_art's (0.04 / 0.08 over all pairs, 0.13 shown): the 20-per-code draws are balanced while the
  held-out turns are not, and the calibration learns the base rates from the examples it is given.
- **The simulated reviewer** (bench/learning.py's `simulate`, ESConv, uncertainty order, seeds 0-2, kappa on
  the held-out half after 50 / 100 decisions): fewshot.v4 0.301 / 0.395, v5 0.304 / 0.371, v6 0.311 / 0.398,
  v7 0.311 / 0.398, **v8 0.313 / 0.404** (its seeds spread more after 50 decisions: 0.246-0.367).
- **Not measured here**: category back-off (no benchmark has categories with codes under them); the held-out
  interview study of the issue.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="2 draws, print only")
    ap.add_argument("--fit-prior", action="store_true", help="fit similarity.v3's prior and print it")
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--tasks", default="games_as_art,esconv,annomi-therapist")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = ap.parse_args()
    t0 = time.perf_counter()
    tasks = args.tasks.split(",")
    benches: dict[str, Bench] = {}
    if "games_as_art" in tasks or args.fit_prior:
        benches["games_as_art"] = load_games()
    if "esconv" in tasks or args.fit_prior:
        benches["esconv"] = from_task(load_esconv())
    if "annomi-therapist" in tasks or args.fit_prior:
        th, cl = load_annomi()
        benches["annomi-therapist"] = from_task(th)
        if args.fit_prior:
            benches["annomi-client"] = from_task(cl)
    vs = {}
    for name, b in benches.items():
        log(f"vectors: {name}")
        vs[name] = views(b, args.cache)
    with threadpool_limits(1):
        if args.fit_prior:
            pairs = [(benches[n], vs[n]) for n in benches]
            print(json.dumps({"precode.similarity.v3": fit_prior(pairs), "precode.similarity.v4": fit_prior(pairs, names=True)},
                             indent=2))
            return
        draws = 2 if args.quick else args.draws
        res: dict = {"date": f"{dt.date.today()}", "draws": draws}
        if "games_as_art" in benches:
            g = benches["games_as_art"]
            res["games_as_art"] = run_games(g, vs["games_as_art"])
            # as most real codebooks are: code names only, no descriptions (the held-out study of issue 13)
            names = g.bare()
            v = vs["games_as_art"]
            res["games_as_art_names"] = run_games(names, Views(v.S, v.L, v.F, label_texts(names.codebook),
                                                               *embed_labels(names)))
        for name in ("esconv", "annomi-therapist"):
            if name in benches:
                res[name] = run_single(benches[name], vs[name], draws)
    res["seconds"] = time.perf_counter() - t0
    print(json.dumps({k: v for k, v in res.items() if k != "games_as_art"} | {
        "games_as_art": {k: res["games_as_art"][k] for k in ("zero_shot", "cv", "sweep", "coverage")}} if "games_as_art" in res else res, indent=1))
    if not args.quick:
        out = HERE / "results"
        (out / "proposals.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
        write_md(res, out / "proposals.md", " ".join(["python bench/proposals.py", *sys.argv[1:]]))
        if "games_as_art" in res:
            write_plot(res, out / "proposals.png")


if __name__ == "__main__":
    main()
