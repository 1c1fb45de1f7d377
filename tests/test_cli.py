"""End-to-end: the CLI with the real packaged model on small real files."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app

from .conftest import CODEBOOKS, CORPORA, ROOT

runner = CliRunner()
REQUIRED = ["segment_id", "document", "speaker", "start", "end", "text", "category", "code", "score", "rank", "flags"]


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def interview(write):
    return write("int.txt", "[00:00:01] Interviewer: What would be the greatest barriers to incorporating peer support?\n"
                            "[00:00:09] Speaker 2: Honestly nobody knows what the peer is supposed to do. The role is vague.\n"
                            "[00:00:30] Interviewer: What type of leadership support would help?\n"
                            "[00:00:35] Speaker 2: Leadership saying this program is here to stay and funding it.\n")


def test_cli_code_one_shot_writes_required_columns_and_is_reproducible(tmp_path, interview, write):
    table = write("answers.csv", "id,text,site\nA1,We never had an office or a phone for the peer.,north\nA2,More training for supervisors.,south\n")
    out = tmp_path / "out.csv"
    cache = tmp_path / "cache.sqlite"
    args = ["code", str(interview), str(table), "--codebook", str(CODEBOOKS / "shepardson2019.yaml"), "--out", str(out),
            "--top-k", "2", "--cache", str(cache)]
    r1 = runner.invoke(app, args)
    assert r1.exit_code == 0, r1.output
    rows = _rows(out)
    assert set(REQUIRED) <= set(rows[0])
    assert {r["segment_id"] for r in rows} == {"int.txt#t2", "int.txt#t4", "A1", "A2"}
    for r in rows:
        assert 0 <= float(r["score"]) <= 1 and r["status"] == "proposed" and r["rank"] in {"1", "2"}
    text = interview.read_text()
    r = next(r for r in rows if r["segment_id"] == "int.txt#t2")
    assert text[int(r["start"]):int(r["end"])] == r["text"]
    assert "What would be the greatest barriers" in r["question"]
    assert next(r for r in rows if r["segment_id"] == "A1")["document"] == "answers.csv"
    first = out.read_bytes()
    r2 = runner.invoke(app, args)
    assert r2.exit_code == 0
    assert out.read_bytes() == first
    manifest = json.loads(out.with_suffix(".manifest.json").read_text())
    assert manifest["counts"]["texts_embedded"] == 0 and manifest["counts"]["texts_cached"] > 0
    assert "0 computed" in r2.output


def test_cli_run_demo_config_end_to_end(tmp_path):
    cfg = (ROOT / "configs" / "demo.yaml").read_text()
    shutil.copytree(CORPORA, tmp_path / "corpora")
    (tmp_path / "configs").mkdir()
    shutil.copytree(CODEBOOKS, tmp_path / "configs" / "codebooks")
    (tmp_path / "configs" / "demo.yaml").write_text(cfg)
    r = runner.invoke(app, ["run", str(tmp_path / "configs" / "demo.yaml")])
    assert r.exit_code == 0, r.output
    out = tmp_path / "outputs" / "demo"
    rows = _rows(out / "coded_segments.csv")
    assert {r["study"] for r in rows} == {"almeida_focus_groups", "shepardson_interviews"}
    assert not any(r["role"] in {"interviewer", "moderator"} for r in rows)  # context, not coded
    assert (out / "coded_segments.xlsx").stat().st_size > 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["documents"] >= 8 and manifest["errors"] == []
    assert manifest["embedding_model"]["fingerprint"] and manifest["packages"]["torch"]
    assert all(i["sha256"] for i in manifest["inputs"])
    first = (out / "coded_segments.csv").read_bytes()
    first_xlsx = (out / "coded_segments.xlsx").read_bytes()
    time.sleep(2.1)  # zip entries carry 2-second times, the workbook's properties 1-second ones
    r2 = runner.invoke(app, ["run", str(tmp_path / "configs" / "demo.yaml")])
    assert r2.exit_code == 0, r2.output
    assert (out / "coded_segments.csv").read_bytes() == first
    assert (out / "coded_segments.xlsx").read_bytes() == first_xlsx  # same inputs, same bytes
    m2 = json.loads((out / "manifest.json").read_text())
    assert m2["counts"]["texts_embedded"] == 0 and m2["config_hash"] == manifest["config_hash"]
    assert "proposals per code" in r.output


def test_cli_batch_goes_on_past_bad_files(tmp_path, interview, write):
    bad = [write("empty.txt", b""), write("bin.txt", b"\x00\x01\x02" * 50), write("x.pdf", b"%PDF"),
           write("broken.vtt", "WEBVTT\n\n1\n00:00:01 -> 00:00:02\nA: x\n"),
           write("cut.docx", (CORPORA / "int02_supervisor.docx").read_bytes()[:500])]
    out = tmp_path / "o.csv"
    r = runner.invoke(app, ["code", str(interview), *map(str, bad), "--codebook", str(CODEBOOKS / "almeida2020.yaml"),
                            "--out", str(out), "--no-cache"])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    skipped = [ln for ln in r.output.splitlines() if ln.startswith("skipped:")]
    assert len(skipped) == len(bad)
    for path in bad:
        assert sum(str(path) in ln for ln in skipped) == 1
    assert {row["document"] for row in _rows(out)} == {"int.txt"}


def test_cli_config_and_codebook_errors_exit_nonzero_without_traceback(tmp_path, write, interview):
    cb = write("dup.yaml", "name: d\ncodes: [{name: A}, {name: A}]\n")
    r = runner.invoke(app, ["code", str(interview), "--codebook", str(cb), "--out", str(tmp_path / "o.csv")])
    assert r.exit_code == 2 and "duplicate code name 'A'" in r.output and "Traceback" not in r.output
    cfg = write("c.yaml", f"studies: [{{name: s, inputs: ['{interview}'], codebook: '{cb}'}}]\nembeding: {{}}\n")
    r = runner.invoke(app, ["run", str(cfg)])
    assert r.exit_code == 2 and "[embeding] unknown key (did you mean 'embedding'?)" in r.output
    r = runner.invoke(app, ["codebook", "validate", str(cb), str(CODEBOOKS / "almeida2020.yaml")])
    assert r.exit_code == 2 and "almeida2020.yaml: ok" in r.output


def test_cli_codebook_show_roundtrips_through_csv(tmp_path):
    r = runner.invoke(app, ["codebook", "show", str(CODEBOOKS / "shepardson2019.yaml"), "--format", "csv"])
    assert r.exit_code == 0
    p = tmp_path / "cb.csv"
    p.write_text(r.output)
    r2 = runner.invoke(app, ["codebook", "validate", str(p)])
    assert r2.exit_code == 0 and "24 codes" in r2.output
    r3 = runner.invoke(app, ["codebook", "show", str(CODEBOOKS / "shepardson2019.yaml")])
    assert "Role confusion" in r3.output


def test_cli_entry_point_prints_help():
    """The installed `precode` lists every command (a row of the Commands box each, not a word anywhere)."""
    exe = Path(sys.executable).with_name("precode")
    r = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "100"})
    names = set(re.findall(r"^│ ([a-z]+) ", r.stdout, flags=re.M))
    assert r.returncode == 0 and names >= {"run", "code", "codebook", "review", "serve", "export", "agreement", "evaluate",
                                           "compare", "discover", "report", "import", "redact", "tune", "version"}, r.stdout


def test_cli_entry_point_prints_its_version():
    from pipeline import __version__

    exe = Path(sys.executable).with_name("precode")
    for args in (["--version"], ["version"]):
        r = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and r.stdout.strip() == f"precode {__version__}", (args, r.stdout, r.stderr)


def test_cli_code_sentence_unit_and_code_speakers(tmp_path, interview):
    out = tmp_path / "s.csv"
    r = runner.invoke(app, ["code", str(interview), "--codebook", str(CODEBOOKS / "almeida2020.yaml"), "--out", str(out),
                            "--unit", "sentence", "--top-k", "1", "--no-cache"])
    assert r.exit_code == 0, r.output
    ids = [row["segment_id"] for row in _rows(out)]
    assert ids == ["int.txt#t2.s1", "int.txt#t2.s2", "int.txt#t4"]
    r = runner.invoke(app, ["code", str(interview), "--codebook", str(CODEBOOKS / "almeida2020.yaml"), "--out", str(out),
                            "--code-speakers", "Interviewer", "--top-k", "1", "--no-cache"])
    assert [row["speaker"] for row in _rows(out)] == ["Interviewer", "Interviewer"]


TRAIN_ROWS = {
    "Work role and boundaries": ["I mostly drive people to appointments and sit in on groups.",
                                 "My job is to share my own recovery story when it helps someone.",
                                 "I am not a case manager, but they keep asking me to do case management.",
                                 "Day to day I run the wellness group and do follow-up calls.",
                                 "I told them I do not do intake paperwork, that is not my role."],
    "Hiring": ["They hired me because of my lived experience with addiction.",
               "The interview asked about my own recovery and how long I had been sober.",
               "I applied after a friend told me about the opening at the clinic.",
               "HR did not know how to write the job posting for a peer.",
               "It took four months from the interview to my first day."],
    "Work-life balance": ["Some weeks I take the stress home and cannot sleep.",
                          "I keep my phone off on weekends so I can rest.",
                          "Working part-time lets me look after my kids in the afternoon.",
                          "When a client relapses it stays with me at night.",
                          "I had to learn to leave work at work."],
    "Work support": ["My supervisor checks in with me every week.",
                     "The other peers and I meet on Fridays to support each other.",
                     "The nurse always backs me up when a client is in crisis.",
                     "Having a mentor who was a peer before me helped a lot.",
                     "The team lead makes time for me when I need to talk."],
    "Challenges": ["The pay is too low for what we are asked to do.",
                   "Some staff do not take us seriously because we are peers.",
                   "There are so many rules about what I cannot say to clients.",
                   "We have no private room to meet people.",
                   "The paperwork takes time away from the people I serve."],
    "Identified training needs": ["I wish I had training in motivational interviewing.",
                                  "Nobody taught us how to document in the health record.",
                                  "We need training on boundaries with clients.",
                                  "A course on crisis de-escalation would help me.",
                                  "Training on how to talk to doctors would be useful."],
}


def test_cli_code_coverage_sets_say_what_they_were_measured_on(tmp_path, interview, write):
    """`precode code --train ... --coverage 0.9`: sets instead of a precision target, and the run says how
    many coded segments its coverage was measured on (out of fold)."""
    train = write("train.csv", "text,code,document\n" + "".join(
        f'"{t}",{code},doc{i}\n' for code, texts in TRAIN_ROWS.items() for i, t in enumerate(texts)))
    out = tmp_path / "cov.csv"
    r = runner.invoke(app, ["code", str(interview), "--codebook", str(CODEBOOKS / "almeida2020.yaml"), "--out", str(out),
                            "--train", str(train), "--coverage", "0.9", "--no-cache"])
    assert r.exit_code == 0, r.output
    assert "each set holds a right code 90% of the time, measured out of fold on 30 coded segments" in r.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and all(0 <= float(x["score"]) <= 1 for x in rows)
