"""End-to-end: the CLI with the real packaged model on small real files."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import time

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
    r = subprocess.run([sys.executable, "-m", "pipeline.cli", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "code" in r.stdout and "run" in r.stdout


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
