"""Cost of `precode discover` against a bare BERTopic fit on the same segments and vectors.

Segments come from ESConv (dialogs_dev.json) and AnnoMI (annomi_simple.csv) in
../shared/benchmarks/ (read in place, never copied; the CSV tables below are written to a scratch
folder). Those hold 16,027 turns; to reach 50,000 segments each conversation contributes, in
order: its turns, the sentences of its multi-sentence turns, its turns again with a filler prefix
("So, ", "Well, ", ...) and its sentences with a filler prefix. Sizes are prefixes of one seeded
order of whole conversations, so the 1k project is part of the 10k one, which is part of the 50k.

For each size a project is coded once with `precode run` (all-MiniLM-L6-v2; the vectors are
computed once for the largest size and copied into the smaller stores, so no run re-encodes), then
three child processes, each measured alone:

* ``discover``: ``pipeline.discover.discover(store)``, the whole command (load the project, read
  the cached vectors, fit, outputs);
* ``bare``: ``BERTopic().fit_transform(docs, embeddings)`` with BERTopic's defaults, on the
  segments discover clusters (coded, at least two content words: discover's default) and their
  cached vectors, loaded before the clock starts;
* ``bare-seeded``: the same with discover's UMAP (``random_state`` fixed, which makes UMAP
  single-threaded): what determinism costs on its own.

Each child runs ``--repeats`` times per size (kinds alternate) and the fastest run counts; the
machine may be shared, so the load average is recorded. Every child first fits UMAP + HDBSCAN on 300 random points so that numba compilation is not
timed (discover's on-disk cache of UMAP's kernels is enabled in all three, so each compiles at
most once). Peak memory is the child's peak resident set during the timed call (VmHWM after
resetting it), and the whole child's peak (VmHWM, imports included).

    .venv/bin/python bench/discovery.py [--sizes 1000,10000,50000] [--timeout 900] [--repeats 2]
                                        [--work DIR] [--cache STORE]

``--cache`` seeds the vector cache from an earlier store (e.g. a previous run's), so the one-off
encoding of the 50,000 texts is not paid twice.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _setup import ROOT  # noqa: E402  (offline models; the repository and bench/ on sys.path)

PREFIXES = ["So, ", "Well, ", "I mean, ", "Honestly, ", "Okay, so ", "You know, ", "Right, ", "And, um, "]
SENT = re.compile(r"(?<=[.!?])\s+")


# -- data -------------------------------------------------------------------------------------------

def conversations() -> list[tuple[str, list[tuple[str, str]]]]:
    """(conversation id, [(speaker, text)]) from ESConv dev and AnnoMI, in a seeded order."""
    from _data import load_annomi, load_esconv

    convs = []
    for c in load_esconv().conversations:
        convs.append((f"esconv{c.id}", [(t.speaker, t.text) for t in c.turns]))
    for c in load_annomi()[0].conversations:
        convs.append((c.id, [(t.speaker, t.text) for t in c.turns]))
    convs.sort(key=lambda c: c[0])
    random.Random(0).shuffle(convs)
    return convs


def rows_for(conv_id: str, turns: list[tuple[str, str]]) -> list[dict]:
    """Every segment a conversation contributes, layer by layer (see the module docstring)."""
    clean = [(s, " ".join(t.split())) for s, t in turns if t and t.strip()]
    sentences = [(s, x) for s, t in clean for x in SENT.split(t) if len(SENT.split(t)) > 1 and x.strip()]
    layers = [clean, sentences,
              [(s, PREFIXES[i % len(PREFIXES)] + t[:1].lower() + t[1:]) for i, (s, t) in enumerate(clean)],
              [(s, PREFIXES[(i + 3) % len(PREFIXES)] + t[:1].lower() + t[1:]) for i, (s, t) in enumerate(sentences)]]
    out = []
    for layer, items in enumerate(layers):
        for k, (speaker, text) in enumerate(items):
            out.append({"id": f"{conv_id}-L{layer}-{k}", "speaker": speaker, "text": text, "doc": f"{conv_id}-L{layer}"})
    return out


def build_rows(n: int) -> list[dict]:
    rows: list[dict] = []
    for cid, turns in conversations():
        rows.extend(rows_for(cid, turns))
        if len(rows) >= n:
            break
    if len(rows) < n:
        raise SystemExit(f"only {len(rows)} segments can be built; ask for fewer")
    return rows[:n]


def codebook_yaml() -> str:
    import yaml

    from _data import data_dir

    es = json.loads((data_dir() / "esconv" / "codebook.json").read_text(encoding="utf-8"))
    mi = json.loads((data_dir() / "annomi" / "codebook.json").read_text(encoding="utf-8"))
    cats = [{"name": "Support strategies", "codes": [{"name": k, "description": v} for k, v in es["codes"].items()]},
            {"name": "Therapist behaviour", "codes": [{"name": k, "description": v} for k, v in mi["codes"]["therapist"].items()]},
            {"name": "Client talk", "codes": [{"name": k, "description": v} for k, v in mi["codes"]["client"].items()]}]
    return yaml.safe_dump({"name": "bench", "categories": cats}, sort_keys=False)


def write_project(folder: Path, rows: list[dict]) -> Path:
    data = folder / "data"
    if folder.exists():
        shutil.rmtree(folder)
    data.mkdir(parents=True)
    by_doc: dict[str, list[dict]] = {}
    for r in rows:
        by_doc.setdefault(r["doc"], []).append(r)
    for doc, items in by_doc.items():
        with (data / f"{doc}.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=["id", "speaker", "text"], extrasaction="ignore")
            w.writeheader()
            w.writerows(items)
    (folder / "bench.yaml").write_text(codebook_yaml(), encoding="utf-8")
    cfg = folder / "project.yaml"
    cfg.write_text(
        "project: {name: bench, output_dir: out}\n"
        "studies: [{name: bench, inputs: [data/], codebook: bench.yaml}]\n"
        "segment: {context_roles: []}\n"
        "limits: {max_segments: 1000000}\n"
        "propose: {top_k: 1}\n"
        "export: {formats: [csv]}\n", encoding="utf-8")
    return cfg


def code_project(cfg_path: Path, seed_store: Path | None) -> dict:
    """`precode run` over the project; ``seed_store``: a store whose cached vectors are copied in first."""
    from pipeline.config import load_config
    from pipeline.run import run_batch
    from pipeline.store import Store

    cfg = load_config(cfg_path)
    if seed_store is not None:  # reuse vectors computed before: nothing is encoded twice
        with Store(cfg.store_path) as st:
            st.conn.execute("ATTACH DATABASE ? AS big", (str(seed_store),))
            st.conn.execute("INSERT OR IGNORE INTO embeddings SELECT * FROM big.embeddings")
            st.conn.execute("DETACH DATABASE big")
    t = time.perf_counter()
    res = run_batch(cfg)
    return {"store": str(cfg.store_path), "seconds": round(time.perf_counter() - t, 1),
            "segments": res.manifest["counts"]["coded_segments"], "embedded": res.embed.computed,
            "from_cache": res.embed.cached}


# -- children ---------------------------------------------------------------------------------------

def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _warm_up(seeded: bool) -> None:
    import numpy as np
    from hdbscan import HDBSCAN
    from umap import UMAP

    from pipeline.discover import enable_numba_cache

    enable_numba_cache()
    x = np.random.RandomState(1).randn(300, 384).astype(np.float32)
    kw = {"random_state": 0, "low_memory": True, "min_dist": 0.0} if seeded else {"min_dist": 0.0}
    y = UMAP(n_neighbors=15, n_components=5, metric="cosine", **kw).fit_transform(x)
    HDBSCAN(min_cluster_size=10).fit(y)


def _load_docs(store: str):
    """The segments discover clusters (coded, with at least ``min_words`` content words) and their
    cached vectors, read straight from the store; the same selection as discover's, so both sides
    fit the same data."""
    import numpy as np

    from pipeline.discover import content_words, stop_words

    conn = sqlite3.connect(store)
    speakers, roles = zip(*conn.execute("SELECT speaker, role FROM segments").fetchall())
    stops = set(stop_words(speakers, roles))
    manifest = json.loads(conn.execute("SELECT manifest FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0])
    model_id = manifest["embedding_model"]["model_id"]
    docs, vecs = [], []
    q = ("SELECT s.text, e.vector FROM segments s JOIN embeddings e ON e.text_sha = s.text_sha AND e.model_id = ? "
         "WHERE s.coded = 1 ORDER BY s.rowid")
    for text, blob in conn.execute(q, (model_id,)):
        if not text.strip() or content_words(text, stops) < 2:  # discover's default min_words
            continue
        docs.append(text)
        vecs.append(np.frombuffer(blob, dtype=np.float32))
    conn.close()
    return docs, np.stack(vecs)


def child(kind: str, store: str) -> None:
    import warnings

    warnings.simplefilter("ignore")
    import bertopic  # noqa: F401  (import cost is not timed on either side)
    import hdbscan  # noqa: F401
    import umap  # noqa: F401

    _warm_up(seeded=kind != "bare")
    out: dict = {"kind": kind}
    if kind == "discover":
        from pipeline.discover import discover

        base, hwm = _status("VmRSS"), _status("VmHWM")
        out["peak_reset"] = _reset_peak()
        t = time.perf_counter()
        res = discover(store, out_dir=str(Path(store).parent / "discovery-bench"))
        out["seconds"] = time.perf_counter() - t
        out.update(counts=res.counts, reencoded=res.reencoded, label_texts_encoded=res.label_texts_encoded,
                   min_topic_size=res.params["min_topic_size"], notes=res.notes,
                   candidates=len(res.candidates), docs=res.counts["clustered_input"])
    else:
        from bertopic import BERTopic
        from umap import UMAP

        docs, emb = _load_docs(store)
        base, hwm = _status("VmRSS"), _status("VmHWM")
        out["peak_reset"] = _reset_peak()
        if kind == "bare":
            model = BERTopic()
        else:
            model = BERTopic(umap_model=UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine",
                                             random_state=0, low_memory=True))
        t = time.perf_counter()
        topics, _ = model.fit_transform(docs, emb)
        out["seconds"] = time.perf_counter() - t
        out["docs"] = len(docs)
        out["topics"] = len(set(topics) - {-1})
        out["outliers"] = sum(1 for x in topics if x == -1)
    out["rss_before_mb"] = round(base / 1024, 1)
    out["peak_rss_during_mb"] = round(_status("VmHWM") / 1024, 1)
    # VmHWM, not ru_maxrss: after fork + exec ru_maxrss still holds the parent's peak
    out["peak_rss_process_mb"] = round(max(hwm, _status("VmHWM")) / 1024, 1)
    out["cpu_seconds"] = round(time.process_time(), 1)
    print("RESULT " + json.dumps(out, default=str), flush=True)


def run_child(kind: str, store: str, timeout: int) -> dict:
    t = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, __file__, "--child", kind, "--store", store], capture_output=True,
                           text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "timeout": timeout, "wall_process": round(time.perf_counter() - t, 1)}
    line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return {"kind": kind, "error": (p.stderr or p.stdout)[-2000:]}
    out = json.loads(line[7:])
    out["seconds"] = round(out["seconds"], 2)
    out["wall_process"] = round(time.perf_counter() - t, 1)
    return out


# -- main -------------------------------------------------------------------------------------------

def machine() -> dict:
    cpu = ""
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    except OSError:
        pass
    mem = 0
    try:
        mem = int(next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")))
    except (OSError, StopIteration):
        pass
    from importlib import metadata

    versions = {p: metadata.version(p) for p in ("bertopic", "umap-learn", "hdbscan", "pynndescent", "numba",
                                                  "scikit-learn", "numpy", "torch", "sentence-transformers")}
    return {"cpus": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem / 1024 / 1024, 1), "platform": platform.platform(),
            "python": platform.python_version(), "packages": versions}


def growth(rows: list[dict], key: str) -> list[str]:
    out = []
    for a, b in zip(rows, rows[1:]):
        ta, tb = a.get(key), b.get(key)
        if ta and tb:
            import math

            out.append(f"{a['size']:,} -> {b['size']:,}: x{tb / ta:.1f} for x{b['size'] / a['size']:.0f} segments "
                       f"(exponent {math.log(tb / ta) / math.log(b['size'] / a['size']):.2f})")
    return out


def _mb(r: dict, key: str) -> str:
    return f"{r[key]:,.0f}" if r.get(key) is not None else "-"


def _secs(r: dict) -> str:
    if r.get("timeout"):
        return f"stopped after {r['timeout']} s"
    if r.get("error"):
        return "error"
    return f"{r['seconds']:.1f}" if r.get("seconds") is not None else "-"


def markdown(out: dict) -> str:
    """The results as a Markdown report (tables from discovery.json; the notes are added by hand)."""
    m = out["machine"]
    lines = [
        "# Discovery cost: `precode discover` against a bare BERTopic fit",
        "",
        "Commands: " + ", ".join(f"`{c}`" for c in out.get("commands", [out["command"]])) + "  ",
        f"Date: {out['started']} to {out['finished']}  ",
        f"Machine: {m['cpus']} CPUs ({m['cpu'] or 'unknown model'}), {m['ram_gb']} GB RAM, {m['platform']}, "
        f"Python {m['python']}  ",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + "  ",
        f"Load average (1, 5, 15 min) before: {out['load_average_before']}, after: {out['load_average_after']}"
        + (f"; sizes {out['remeasured']['sizes']} re-measured {out['remeasured']['started']} to "
           f"{out['remeasured']['finished']}, load {out['remeasured']['load_average_before']} -> "
           f"{out['remeasured']['load_average_after']}" if out.get("remeasured") else ""),
        "",
        "Data: ESConv dev + AnnoMI from `../shared/benchmarks/` (read in place). Segments per layer at the largest "
        "size: " + ", ".join(f"{k}: {v:,}" for k, v in out["data"]["layers"].items()) + ". Sizes are prefixes "
        "of one seeded order of whole conversations.",
        "",
        "| segments | clustered by discover | discover s | bare BERTopic s | bare, seeded UMAP s | discover / bare "
        "| discover / seeded | candidates (discover) | topics (bare) | re-encoded |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in out["results"]:
        d, b, s = e.get("discover", {}), e.get("bare", {}), e.get("bare-seeded", {})
        lines.append(
            f"| {e['size']:,} | {d.get('docs', '-') if d.get('docs') is None else format(d['docs'], ',')} | {_secs(d)} "
            f"| {_secs(b)} | {_secs(s)} | {e.get('ratio_discover_to_bare', '-')} | {e.get('ratio_discover_to_bare_seeded', '-')} "
            f"| {d.get('candidates', '-')} | {b.get('topics', '-')} | {d.get('reencoded', '-')} |")
    lines += [
        "",
        "Peak resident memory (MB): RSS before the timed call, peak during it, and the child's peak overall "
        "(imports of torch, transformers and BERTopic included).",
        "",
        "| segments | discover before / during | bare before / during | seeded before / during | process peak (d / b / s) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for e in out["results"]:
        d, b, s = e.get("discover", {}), e.get("bare", {}), e.get("bare-seeded", {})
        lines.append(
            f"| {e['size']:,} | {_mb(d, 'rss_before_mb')} / {_mb(d, 'peak_rss_during_mb')} "
            f"| {_mb(b, 'rss_before_mb')} / {_mb(b, 'peak_rss_during_mb')} "
            f"| {_mb(s, 'rss_before_mb')} / {_mb(s, 'peak_rss_during_mb')} "
            f"| {_mb(d, 'peak_rss_process_mb')} / {_mb(b, 'peak_rss_process_mb')} / {_mb(s, 'peak_rss_process_mb')} |")
    lines += ["", "Growth of wall time:", ""]
    for kind, items in out["growth"].items():
        for g in items:
            lines.append(f"- {kind}: {g}")
    lines += ["", "## Notes", "", "(written by hand after the run)", ""]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,10000,50000")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per child before it is stopped")
    ap.add_argument("--work", default=None, help="scratch folder (default: a new temporary folder)")
    ap.add_argument("--kinds", default="discover,bare,bare-seeded")
    ap.add_argument("--repeats", type=int, default=2,
                    help="runs of each child per size (the fastest counts); one only when a run takes over 300 s")
    ap.add_argument("--cache", default=None, help="a precode store whose cached vectors seed the largest project")
    ap.add_argument("--reuse", action="store_true",
                    help="use the projects already coded in --work (same sizes) instead of building them again")
    ap.add_argument("--merge", action="store_true",
                    help="replace only these sizes' rows in the existing discovery.json (re-measuring some sizes)")
    ap.add_argument("--markdown-only", action="store_true", help="rewrite discovery.md from discovery.json")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--store", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.store)
    dest = ROOT / "bench" / "results"
    if args.markdown_only:
        out = json.loads((dest / "discovery.json").read_text(encoding="utf-8"))
        (dest / "discovery.md").write_text(markdown(out), encoding="utf-8")
        return None

    sizes = sorted(int(s) for s in args.sizes.split(","))
    kinds = args.kinds.split(",")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="precode-bench-discovery-"))
    work.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now().isoformat(timespec="seconds")
    load_before = os.getloadavg()
    rows = build_rows(max(sizes))
    layers = {}
    for r in rows:
        layers[r["id"].split("-L")[1][0]] = layers.get(r["id"].split("-L")[1][0], 0) + 1
    print(f"{len(rows)} segments (layers: {layers}); scratch {work}", flush=True)

    projects = {}
    seed = Path(args.cache) if args.cache else None
    for i, n in enumerate(sorted(sizes, reverse=True)):
        store = work / f"n{n}" / "out" / "project.sqlite"
        if args.reuse and store.exists():
            conn = sqlite3.connect(store)
            m = json.loads(conn.execute("SELECT manifest FROM runs WHERE finished IS NOT NULL ORDER BY id DESC LIMIT 1")
                           .fetchone()[0])
            conn.close()
            projects[n] = {"store": str(store), "seconds": None, "segments": m["counts"]["coded_segments"],
                           "embedded": m["counts"]["texts_embedded"], "from_cache": m["counts"]["texts_cached"],
                           "reused": True}
            print(f"reusing {n}: {projects[n]}", flush=True)
            continue
        cfg = write_project(work / f"n{n}", rows[:n])
        info = code_project(cfg, seed)
        if i == 0:
            seed = Path(info["store"])
        projects[n] = info
        print(f"coded {n}: {info}", flush=True)

    results = []
    for n in sizes:
        entry: dict = {"size": n, "coded_segments": projects[n]["segments"]}
        runs: dict[str, list[dict]] = {k: [] for k in kinds}
        for rep in range(args.repeats):
            for kind in kinds:  # alternating, so a change of machine load hits both sides
                if rep and (not runs[kind] or any(r.get("seconds") is None or r["seconds"] > 300 for r in runs[kind])):
                    continue
                r = run_child(kind, projects[n]["store"], args.timeout)
                runs[kind].append(r)
                print(f"{n} {kind} run {rep + 1}: {r}", flush=True)
        for kind in kinds:
            ok = [r for r in runs[kind] if r.get("seconds") is not None]
            best = dict(min(ok, key=lambda r: r["seconds"]) if ok else runs[kind][0])
            best["all_seconds"] = [r.get("seconds") for r in runs[kind]]
            entry[kind] = best
        d, b = entry.get("discover", {}), entry.get("bare", {})
        if d.get("seconds") and b.get("seconds"):
            entry["ratio_discover_to_bare"] = round(d["seconds"] / b["seconds"], 2)
        s = entry.get("bare-seeded", {})
        if d.get("seconds") and s.get("seconds"):
            entry["ratio_discover_to_bare_seeded"] = round(d["seconds"] / s["seconds"], 2)
        results.append(entry)

    command = ("python bench/discovery.py" + ("" if args.sizes == "1000,10000,50000" else f" --sizes {args.sizes}")
               + ("" if args.timeout == 900 else f" --timeout {args.timeout}")
               + ("" if args.repeats == 2 else f" --repeats {args.repeats}") + (" --cache STORE" if args.cache else "")
               + (" --work DIR --reuse" if args.reuse else "") + (" --merge" if args.merge else ""))
    if args.merge and (dest / "discovery.json").exists():
        old = json.loads((dest / "discovery.json").read_text(encoding="utf-8"))
        results = sorted([e for e in old["results"] if e["size"] not in sizes] + results, key=lambda e: e["size"])
        for n, p in projects.items():
            old["projects"][str(n)] = {**old["projects"].get(str(n), {}), "remeasured": True}
        flat = [{"size": e["size"], **{k: e.get(k, {}).get("seconds") for k in kinds}} for e in results]
        old.update(results=results, growth={k: growth(flat, k) for k in kinds},
                   commands=old.get("commands", [old["command"]]) + [command],
                   remeasured={"sizes": sizes, "started": started,
                               "finished": dt.datetime.now().isoformat(timespec="seconds"),
                               "load_average_before": [round(x, 2) for x in load_before],
                               "load_average_after": [round(x, 2) for x in os.getloadavg()]})
        (dest / "discovery.json").write_text(json.dumps(old, indent=2) + "\n", encoding="utf-8")
        (dest / "discovery.md").write_text(markdown(old), encoding="utf-8")
        print(json.dumps(old["growth"], indent=2))
        return None
    flat = [{"size": e["size"], **{k: e.get(k, {}).get("seconds") for k in kinds}} for e in results]
    out = {
        "command": command,
        "date": dt.date.today().isoformat(),
        "started": started,
        "finished": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "data": {"sources": ["esconv/dialogs_dev.json", "annomi/annomi_simple.csv"], "segments_built": len(rows),
                 "layers": {"0 turns": layers.get("0", 0), "1 sentences of multi-sentence turns": layers.get("1", 0),
                            "2 turns with a filler prefix": layers.get("2", 0),
                            "3 sentences with a filler prefix": layers.get("3", 0)}},
        "projects": {str(n): {k: v for k, v in p.items() if k != "store"} for n, p in projects.items()},
        "results": results,
        "growth": {k: growth(flat, k) for k in kinds},
    }
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "discovery.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    (dest / "discovery.md").write_text(markdown(out), encoding="utf-8")
    print(json.dumps(out["growth"], indent=2))
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
