"""Re-run time after a codebook edit vs a re-run without one, on the demo project.

A changed codebook must not re-embed the segments: only the label texts of the codes that changed
are new. The demo config (configs/demo.yaml) runs into a temporary project; the first run fills the
embedding cache; then, alternately, a re-run with the codebook unchanged and a re-run after an edit
(the Almeida codebook's first code renamed with ``renamed_from``, its second reworded; new wording
each time, so every edit brings texts the cache has not seen), ``--repeats`` times each. Each run is a fresh ``run_batch`` (model loading
included, as a person sees it).

    .venv/bin/python bench/codebook_rerun.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from _setup import HERE, ROOT  # noqa: E402  (offline models; the repository on sys.path)


def _config(tmp: Path, codebook: Path) -> Path:
    cfg = yaml.safe_load((ROOT / "configs" / "demo.yaml").read_text(encoding="utf-8"))
    base = ROOT / "configs"
    cfg["project"]["output_dir"] = str(tmp / "out")
    cfg["export"] = {"formats": ["csv"]}
    for s in cfg["studies"]:
        s["inputs"] = [str((base / p).resolve()) if not p.startswith("..") else str(base / p) for p in s["inputs"]]
        s["roles_file"] = str((base / s["roles_file"]).resolve())
        s["codebook"] = str(codebook) if "almeida" in s["codebook"] else str((base / s["codebook"]).resolve())
    path = tmp / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def _edited(a: dict, i: int) -> dict:
    """The codebook after edit ``i``: its first code renamed, its second reworded (new texts each time)."""
    b = copy.deepcopy(a)
    codes = b["categories"][0]["codes"] if b.get("categories") else b["codes"]
    first, second = codes[0], codes[1]
    first["renamed_from"] = [first["name"]]
    first["name"] = f"{first['name']} (revision {i})"
    second["description"] = f"Reworded ({i}): " + second.get("description", second["name"])
    return b


def plot(out: dict, path: Path) -> None:
    """Bar chart of every run's seconds (log scale), coloured by kind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = out["runs"]
    colours = {"cold": "#999999", "unchanged": "#4c72b0", "edited": "#dd8452"}
    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    ax.bar(range(len(runs)), [r["seconds"] for r in runs], color=[colours[r["kind"]] for r in runs])
    ax.set_xticks(range(len(runs)), [f"{r['kind']}\n{r['texts_embedded']} emb." for r in runs], fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log)")
    ax.set_title("demo project re-runs: codebook unchanged vs edited", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from pipeline.config import load_config
    from pipeline.run import run_batch

    tmp = Path(tempfile.mkdtemp(prefix="precode-cbrerun-"))
    book = tmp / "almeida2020.yaml"
    a = yaml.safe_load((ROOT / "configs" / "codebooks" / "almeida2020.yaml").read_text(encoding="utf-8"))
    cfg_path = _config(tmp, book)
    runs = []

    def one(kind: str, content: dict) -> None:
        book.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")
        t = time.perf_counter()
        res = run_batch(load_config(cfg_path))
        wall = time.perf_counter() - t
        c = res.manifest["counts"]
        runs.append({"kind": kind, "seconds": round(wall, 3), "texts_embedded": c["texts_embedded"],
                     "texts_cached": c["texts_cached"], "segments": c["segments"],
                     "stages": res.manifest["timings_seconds"],
                     "changes": [ch.line() for chs in res.codebook_changes.values() for ch in chs]})
        print(f"{kind:>10}: {wall:6.2f} s, {c['texts_embedded']} texts embedded, {c['texts_cached']} from cache",
              flush=True)

    one("cold", a)
    current = a
    for i in range(1, args.repeats + 1):
        one("unchanged", current)
        current = _edited(a, i)  # every edit brings texts the cache has not seen
        one("edited", current)
    by = {k: [r for r in runs if r["kind"] == k] for k in ("unchanged", "edited")}
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in by.items()}
    out = {
        "command": "HF_HUB_OFFLINE=1 .venv/bin/python bench/codebook_rerun.py --repeats %d" % args.repeats,
        "date": dt.date.today().isoformat(), "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, "
        f"Python {platform.python_version()}", "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "median_seconds": med, "runs": runs,
    }
    res_dir = HERE / "results"
    (res_dir / "codebook_rerun.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    seg_embedded_on_edit = max(r["texts_embedded"] for r in by["edited"])
    lines = [
        "# Re-run after a codebook edit vs a re-run without one (demo project)", "",
        f"- **command** (repo root): `{out['command']}`",
        f"- **date**: {out['date']}; **machine**: {out['machine']}; load average at the end {out['load_average_end']}",
        f"- **data**: `configs/demo.yaml` ({runs[0]['segments']} segments, two studies) into a temporary project; "
        "each run is a fresh `run_batch`. Each edit renames the Almeida codebook's first code (`renamed_from`) and "
        "rewords its second, with new wording every time. A run with nothing to embed never loads the model; an "
        "edit must load it to embed the changed codes' label texts, and that load is most of its time.", "",
        "| run | seconds (median) | texts embedded (each run) |", "|---|---:|---:|",
        f"| first run (cold cache) | {runs[0]['seconds']:.2f} | {runs[0]['texts_embedded']} |",
        f"| re-run, codebook unchanged | {med['unchanged']:.2f} | "
        f"{', '.join(str(r['texts_embedded']) for r in by['unchanged'])} |",
        f"| re-run after a codebook edit | {med['edited']:.2f} | "
        f"{', '.join(str(r['texts_embedded']) for r in by['edited'])} |", "",
        f"An edit re-embeds at most {seg_embedded_on_edit} texts (the changed codes' label texts), no segment: "
        f"the segments' vectors come from the project's cache. Edit / unchanged = "
        f"{med['edited'] / med['unchanged']:.2f}.", "",
        "What the edited runs reported (`codebook of study ... changed since the last run`):", "",
        *[f"    {line}" for line in by["edited"][0]["changes"]], "",
        "Stage timings (s) of the last unchanged and the last edited run: "
        f"{by['unchanged'][-1]['stages']} / {by['edited'][-1]['stages']}.",
    ]
    plot(out, res_dir / "codebook_rerun.png")
    lines += ["", "![runs](codebook_rerun.png)"]
    (res_dir / "codebook_rerun.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
