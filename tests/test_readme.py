"""The README's "Using it" block, run top to bottom on a fresh copy of the repository (slow: minutes).

The inputs the commands name (interview.docx, answers.xlsx, codes.yaml, earlier.csv, ...) are made from
the demo corpus first, as a user would bring their own. The two interactive screens (`review`, `serve`)
have their own tests (tests/test_review_tui.py, tests/test_review_web.py): here they are checked to accept
the options written, and a coder's decisions are recorded through the same session the screens use.
Files a command reads that an earlier command of the block writes (a .qdpx, a hand-coded file) are made
from the project just before.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

BIN = Path(sys.executable).parent


def using_it_commands(readme: str) -> list[str]:
    """The shell commands of the first bash block under "## Using it" (comments and blank lines dropped)."""
    section = readme.split("## Using it", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    cmds = []
    for line in block.splitlines():
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if line and not line.startswith(". "):
            cmds.append(line)
    return cmds


def _inputs(repo: Path) -> None:
    shutil.copy(repo / "corpora" / "int02_supervisor.docx", repo / "interview.docx")
    shutil.copy(repo / "corpora" / "int03_pcmhi_provider.docx", repo / "later.docx")
    shutil.copy(repo / "corpora" / "int03_pcmhi_provider.docx", repo / "new.docx")
    shutil.copy(repo / "corpora" / "survey_open_ended.xlsx", repo / "answers.xlsx")
    shutil.copy(repo / "configs" / "codebooks" / "shepardson2019.yaml", repo / "codes.yaml")
    book = yaml.safe_load((repo / "codes.yaml").read_text(encoding="utf-8"))
    with (repo / "earlier.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "code", "category"])
        for cat in book["categories"]:
            for code in cat.get("codes", []):
                for ex in code.get("examples", [])[:3]:
                    w.writerow([ex, code["name"], cat["name"]])
    (repo / "names.yaml").write_text("participants: [Dana Whitfield]\nsites: [Riverbend]\n", encoding="utf-8")
    # `precode codebook diff old.yaml new.yaml`: the shipped codebook, and the same with its first code renamed
    shutil.copy(repo / "configs" / "codebooks" / "almeida2020.yaml", repo / "old.yaml")
    book = yaml.safe_load((repo / "old.yaml").read_text(encoding="utf-8"))
    first = book["codes"][0]
    first["renamed_from"], first["name"] = first["name"], first["name"] + " (renamed)"
    (repo / "new.yaml").write_text(yaml.safe_dump(book, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _review_as(repo: Path, env: dict, coder: str = "ana", n: int = 40) -> None:
    """What a coder does in `precode review`: accept or reject the top proposal, add where none."""
    script = (
        "import sys\nfrom pipeline.review.core import ReviewSession\n"
        f"s = ReviewSession('outputs/demo/project.sqlite', {coder!r}, learn=False)\n"
        "codes = s.codes_for(s.items[0].study)\n"
        f"for k, item in enumerate(s.items[:{n}]):\n"
        "    top = next((p for p in item.proposals if p.score is not None and p.code.guid in {c.guid for c in codes}), None)\n"
        "    if top is not None:\n"
        f"        (s.accept if k % {3 if coder == 'ana' else 4} else s.reject)(item, top.code.guid)\n"
        "    else:\n"
        "        s.add(item, codes[k % len(codes)].guid)\n"
        "s.close()\n")
    subprocess.run([sys.executable, "-c", script], cwd=repo, env=env, check=True, timeout=600)


def _before(cmd: str, repo: Path, env: dict, run) -> None:
    if "coded_by_hand.csv" in cmd and not (repo / "coded_by_hand.csv").exists():
        with (repo / "outputs/demo/coded_segments.csv").open(newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if r["code"]]
        with (repo / "coded_by_hand.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["segment_id", "code"])
            for r in rows[::2]:
                w.writerow([r["segment_id"], r["code"]])
    if "project.qdpx" in cmd and not (repo / "project.qdpx").exists():
        run("precode export outputs/demo -f qdpx -o project.qdpx")
    if "their_codebook.qdc" in cmd and not (repo / "their_codebook.qdc").exists():
        run("precode export outputs/demo -f qdc -o their_codebook.qdc")
    if cmd.startswith("precode tune"):  # two coders have reviewed by then (agreement needs two)
        _review_as(repo, env, "ana")
        _review_as(repo, env, "ben", 30)


@pytest.mark.slow
def test_readme_using_it_runs_top_to_bottom_on_a_fresh_copy(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cmds = using_it_commands(readme)
    assert any(c.startswith("precode run") for c in cmds) and any(c.startswith("precode report") for c in cmds)
    repo = tmp_path / "repo"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.decode()
    for rel in filter(None, tracked.split("\0")):
        src = ROOT / rel
        if src.is_file():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / rel)
    _inputs(repo)
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", PYTHONPATH=str(repo), HOME=str(home),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.pop("PRECODE_CACHE_DIR", None)

    def run(cmd: str) -> subprocess.CompletedProcess:
        r = subprocess.run(["bash", "-c", cmd], cwd=repo, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{cmd}\nexit {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        assert "Traceback" not in r.stderr, f"{cmd}\n{r.stderr[-3000:]}"
        return r

    done = []
    for cmd in cmds:
        words = shlex.split(cmd)
        if words[:2] in (["precode", "review"], ["precode", "serve"]):  # interactive: the options written exist
            opts = [w.split("=")[0] for w in words if w.startswith("--")]
            help_text = run(f"precode {words[1]} --help").stdout
            assert all(o in help_text for o in opts), (cmd, opts)
            done.append(cmd)
            continue
        _before(cmd, repo, env, run)
        run(cmd)
        done.append(cmd)
    assert done == cmds
    assert (repo / "outputs/demo/report.html").exists() and (repo / "coded.csv").exists()
    assert re.search(r"precode redact", " ".join(cmds)) is None or (repo / "redacted").is_dir()
