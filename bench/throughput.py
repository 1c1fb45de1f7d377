"""Throughput of `precode code` against a bare SentenceTransformer.encode of the same texts.

Reads the ESConv dialogs from ../shared/benchmarks/esconv/ (never copied into the repo), writes them
as one CSV transcript (id, speaker, text) in a temporary folder, and codes the supporter turns with
the ESConv codebook. Both sides share one loaded model (model loading is not what is compared) and
run alternately, ``--repeats`` times each; the best time of each side is compared.

    .venv/bin/python bench/throughput.py [--repeats 2] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from _setup import ROOT  # noqa: E402  (offline models; the repository on sys.path)

DATA = Path(os.environ.get("PRECODE_BENCH_DATA", ROOT.parent / "shared" / "benchmarks"))


def esconv_table(folder: Path, limit: int | None) -> tuple[Path, Path, list[str]]:
    dialogs = json.loads((DATA / "esconv" / "dialogs_dev.json").read_text())
    book = json.loads((DATA / "esconv" / "codebook.json").read_text())
    rows, texts = [], []
    for d in dialogs:
        for t in d["turns"]:
            rows.append({"id": f"{d['dialog_id']}-{t['turn']}", "speaker": t["speaker"], "text": t["text"]})
            if t["speaker"] == "supporter" and " ".join(t["text"].split()):
                texts.append(" ".join(t["text"].split()))
    if limit:
        keep = {r["id"] for r in rows[:limit]}
        rows = [r for r in rows if r["id"] in keep]
        texts = [" ".join(r["text"].split()) for r in rows if r["speaker"] == "supporter" and r["text"].strip()]
    table = folder / "esconv_dev.csv"
    with table.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "speaker", "text"])
        w.writeheader()
        w.writerows(rows)
    cb = folder / "esconv.yaml"
    import yaml

    cb.write_text(yaml.safe_dump({"name": "esconv", "codes": [{"name": k, "description": v} for k, v in book["codes"].items()]}))
    return table, cb, texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N rows (quick check)")
    args = ap.parse_args()

    from pipeline.config import config_from_dict
    from pipeline.embed import Embedder, resolve_model
    from pipeline.run import run_batch

    tmp = Path(tempfile.mkdtemp(prefix="precode-bench-"))
    table, cb, texts = esconv_table(tmp, args.limit)
    model = resolve_model("all-MiniLM-L6-v2")
    embedder = Embedder(model, batch_size=64)
    st = embedder._load()
    st.encode(texts[:64], batch_size=64)  # warm-up
    print(f"{len(texts)} supporter turns; model {model.model_id}; torch threads {__import__('torch').get_num_threads()}")

    def bare() -> float:
        t = time.perf_counter()
        st.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
        return time.perf_counter() - t

    def pipeline(run: int) -> tuple[float, dict]:
        data = {
            "project": {"name": "bench", "output_dir": str(tmp)},
            "studies": [{"name": "esconv", "inputs": [str(table)], "codebook": str(cb)}],
            "segment": {"code_speakers": ["supporter"]},
            "embedding": {"batch_size": 64},
            "propose": {"top_k": 3},
        }
        cfg = config_from_dict(data, "bench", tmp)
        cache = tmp / f"cache-{run}.sqlite"  # a fresh cache each time: everything is encoded and stored
        t = time.perf_counter()
        res = run_batch(cfg, persist=False, cache_store=cache, out_csv=tmp / f"out-{run}.csv", embedder=embedder)
        return time.perf_counter() - t, res.manifest

    bare_times, pipe_times = [], []
    manifest = {}
    for r in range(args.repeats):
        bare_times.append(bare())
        p, manifest = pipeline(r)
        pipe_times.append(p)
        print(f"repeat {r + 1}: bare encode {bare_times[-1]:.2f}s, precode code {pipe_times[-1]:.2f}s")
    b, p = min(bare_times), min(pipe_times)
    paired = sorted(pt / bt for pt, bt in zip(pipe_times, bare_times))
    coded = manifest["counts"]["coded_segments"]
    result = {
        "date": dt.date.today().isoformat(),
        "command": "python bench/throughput.py" + (f" --repeats {args.repeats}" if args.repeats != 2 else "")
        + (f" --limit {args.limit}" if args.limit else ""),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}",
        "texts": len(texts),
        "coded_segments": coded,
        "bare_encode_seconds": round(b, 3),
        "precode_code_seconds": round(p, 3),
        "bare_segments_per_second": round(len(texts) / b, 1),
        "precode_segments_per_second": round(coded / p, 1),
        "overhead_ratio": round(p / b, 3),
        "paired_ratios": [round(x, 3) for x in paired],
        "median_paired_ratio": round(paired[len(paired) // 2], 3),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "goal": "overhead_ratio <= 1.15",
        "pipeline_timings": manifest["timings_seconds"],
        "all_bare": [round(x, 3) for x in bare_times],
        "all_precode": [round(x, 3) for x in pipe_times],
    }
    print(json.dumps(result, indent=2))
    verdict = "meets" if result["overhead_ratio"] <= 1.15 else "MISSES"
    print(f"precode code / bare encode = {result['overhead_ratio']:.3f} best vs best, "
          f"{result['median_paired_ratio']:.3f} median of paired repeats ({verdict} the 1.15 goal); "
          f"load average {result['load_average_at_end']}: a loaded machine makes these numbers noisy")
    if not args.limit:
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "throughput.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
