"""QualCoder's own importer (``src/qualcoder/refi.py``, run headless) loads precode's .qdpx of the demo project
with 0 codings lost, every coding on its text and every memo kept (issue 16).

QualCoder is not on PyPI, so nothing here can install it: the test runs only when ``QUALCODER_SRC`` names a
QualCoder checkout's ``src`` folder and ``QUALCODER_PYTHON`` a Python with PyQt6, pymupdf and Pillow (default:
this one), e.g. ``QUALCODER_SRC=~/QualCoder/src QUALCODER_PYTHON=~/qc-venv/bin/python pytest -m slow
tests/test_refi_qualcoder.py``. Otherwise it skips and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.export.refi_project import export_qdpx
from pipeline.memos import set_memo
from pipeline.project import load_project
from pipeline.records import Decision
from pipeline.refi import read_qdpx
from pipeline.store import Store

from .conftest import demo_project

SRC = os.environ.get("QUALCODER_SRC", "")
PYTHON = os.environ.get("QUALCODER_PYTHON", sys.executable)


def _need_qualcoder() -> None:
    if not SRC or not (Path(SRC) / "qualcoder" / "refi.py").exists():
        pytest.skip("QualCoder is not on PyPI: set QUALCODER_SRC to a checkout's src/ folder (with qualcoder/refi.py) "
                    "and QUALCODER_PYTHON to a Python with PyQt6, pymupdf and Pillow to run this")
    probe = subprocess.run([PYTHON, "-c", "import PyQt6.QtWidgets, pymupdf, PIL"], capture_output=True, timeout=120)
    if probe.returncode:
        pytest.skip(f"{PYTHON} cannot import PyQt6, pymupdf and Pillow, which QualCoder's importer needs")


def _qualcoder(qdpx: Path, work: Path) -> dict:
    done = subprocess.run([PYTHON, str(Path(__file__).with_name("qualcoder_import.py")), SRC, str(qdpx), str(work)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_qualcoder_loads_the_demo_export_with_no_coding_lost(tmp_path, bow):
    _need_qualcoder()
    cfg, data = demo_project(tmp_path, bow)
    with Store(cfg.store_path) as st:  # memos as a coder leaves them while reviewing
        for seg in data.segments[:3]:
            set_memo(st, seg.id, "ana", f"memo on {seg.id}")
        s = data.suggestions[0]  # and a proposal accepted with a memo
        seg = next(x for x in data.segments if x.id == s.segment_id)
        st.append_decisions([Decision(seg.id, seg.text_sha, s.code.guid(data.codebooks[seg.study].name), "accept", "ana",
                                      "2026-01-01T10:00:00+00:00", "fits: the rota\nagain")])
    target = export_qdpx(load_project(cfg.store_path), tmp_path / "demo.qdpx", include_proposals=True,
                         store_path=cfg.store_path)
    ours = read_qdpx(target)
    got = _qualcoder(target, tmp_path / "qc")
    assert not got["error"], got["error"]
    assert got["sources"] == len(ours.documents)
    assert len(got["codes"]) == len(set(got["codes"])) == sum(len(b.codes) for b in ours.codebooks)
    assert len(got["codings"]) == len(ours.codings) > 100  # 0 lost
    assert all(c["code"] is not None for c in got["codings"])  # each on a code
    texts = {d.id: d.text for d in ours.documents}
    # each on the text precode coded: QualCoder's text at QualCoder's positions is precode's segment text
    assert sorted((c["source"], c["text"], c["coder"]) for c in got["codings"]) == sorted(
        (c.document_id, texts[c.document_id][c.start:c.end], c.coder) for c in ours.codings)
    segs = {(s.document_id, s.text) for s in data.segments}
    assert all((c["source"], c["text"]) in segs for c in got["codings"])
    assert sorted((a["source"], a["start"], a["end"], a["memo"], a["coder"]) for a in got["annotations"]) == sorted(
        (m.document_id, m.start, m.end, m.text, m.coder) for m in ours.memos)
    assert all(texts[m.document_id][m.start:m.end] for m in ours.memos)
    assert [c["memo"] for c in got["codings"] if c["memo"]] == ["fits: the rota\nagain"]  # the decision memo
