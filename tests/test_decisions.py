"""Human decisions survive re-runs, re-ingests, undo, several coders and a killed process."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.config import load_config
from pipeline.decisions import current_state, last_undoable, load, orphaned, record
from pipeline.run import run_batch
from pipeline.store import Store, StoreError

from .conftest import TRANSCRIPT


@pytest.fixture
def project(tmp_path, write, tiny_codebook, bow):
    write("data/one.txt", TRANSCRIPT)
    cfg_path = write("study.yaml", f"""
project: {{name: t, output_dir: out}}
studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]
propose: {{threshold: 0.0}}
""")

    def run():
        return run_batch(load_config(cfg_path), embedder=bow)

    res = run()
    return cfg_path, run, res


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_decisions_state_accept_reject_recode_add_undo(project):
    cfg_path, run, res = project
    cb = res.codebooks["s"]
    g = {c.name: c.guid(cb.name) for c in cb.codes}
    with Store(load_config(cfg_path).store_path) as st:
        record(st, "one.txt#t2", g["Role confusion"], "accept", "ann", memo="clear case")
        record(st, "one.txt#t2", g["Space"], "reject", "ann")
        record(st, "one.txt#t4", g["Space"], "recode", "ann", replaces=g["Role confusion"])
        record(st, "one.txt#t4", g["Training"], "add", "ann")
        record(st, "one.txt#t2", g["Space"], "accept", "bob")
        last = last_undoable(st, "ann")
        assert last.verdict == "add"
        record(st, last.segment_id, last.code_guid, "undo", "ann", undoes=last.id)
        with pytest.raises(StoreError, match="belongs to ann"):
            record(st, "one.txt#t2", "", "undo", "bob", undoes=1)
        state = current_state(load(st))
    assert state[("one.txt#t2", g["Role confusion"], "ann")].status == "accepted"
    assert state[("one.txt#t2", g["Space"], "ann")].status == "rejected"
    assert state[("one.txt#t2", g["Space"], "bob")].status == "accepted"  # coders kept apart
    assert state[("one.txt#t4", g["Role confusion"], "ann")].status == "rejected"
    assert state[("one.txt#t4", g["Space"], "ann")].status == "added"
    assert ("one.txt#t4", g["Training"], "ann") not in state  # undone


def test_decisions_survive_rerun_and_show_in_exports(project):
    cfg_path, run, res = project
    cb = res.codebooks["s"]
    g = {c.name: c.guid(cb.name) for c in cb.codes}
    store_path = load_config(cfg_path).store_path
    with Store(store_path) as st:
        record(st, "one.txt#t2", g["Role confusion"], "accept", "ann")
        record(st, "one.txt#t4", g["Training"], "add", "ann")
        before = load(st)
    res2 = run()
    with Store(store_path) as st:
        assert load(st) == before and orphaned(st) == []
    rows = _rows(res2.outputs["csv"])
    t2 = [(r["code"], r["status"], r["coder"]) for r in rows if r["segment_id"] == "one.txt#t2"]
    assert ("Role confusion", "accepted", "ann") in t2
    assert all(status in {"proposed", "accepted"} for _, status, _ in t2)
    assert ("Training", "added", "ann") in [(r["code"], r["status"], r["coder"]) for r in rows if r["segment_id"] == "one.txt#t4"]


def test_decisions_on_changed_text_are_orphaned_not_dropped(project, write):
    cfg_path, run, res = project
    g = res.codebooks["s"].codes[0].guid(res.codebooks["s"].name)
    store_path = load_config(cfg_path).store_path
    with Store(store_path) as st:
        record(st, "one.txt#t2", g, "accept", "ann")
    write("data/one.txt", TRANSCRIPT.replace("Nobody knows what the peer role is.", "Nobody knew the role."))
    run()
    with Store(store_path) as st:
        orphans = orphaned(st)
        assert [(d.segment_id, d.coder) for d in orphans] == [("one.txt#t2", "ann")]
        assert len(load(st)) == 1
    # the transcript loses that turn entirely: the decided segment stays in the store
    write("data/one.txt", "Interviewer: Hello?\nDana: Hi.\n")
    run()
    with Store(store_path) as st:
        assert st.conn.execute("SELECT COUNT(*) FROM segments WHERE id='one.txt#t2'").fetchone()[0] == 1
        assert len(orphaned(st)) == 1


def test_decisions_store_consistent_after_sigkill_mid_run(tmp_path, write, tiny_codebook):
    """Kill -9 a real `precode run` while it embeds; the store stays usable and decisions stay."""
    for i in range(40):
        write(f"data/t{i:02d}.txt", TRANSCRIPT.replace("Dana", f"P{i}") + f"P{i}: extra turn number {i} about rooms.\n")
    cfg_path = write("study.yaml", f"project: {{output_dir: out}}\nstudies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n"
                                   "embedding: {batch_size: 1}\n")
    cfg = load_config(cfg_path)
    with Store(cfg.store_path) as st:  # a decision made before the crash
        st.conn.execute("INSERT INTO coders VALUES ('ann', 'human')")
        st.conn.execute("INSERT INTO decisions (segment_id, text_sha, code_guid, verdict, coder, time) "
                        "VALUES ('t00.txt#t2', 'x', 'g', 'accept', 'ann', 'now')")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", str(cfg_path), "-q"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    with Store(cfg.store_path) as st:  # wait until it is writing embeddings, then kill it
        while time.time() < deadline and st.count("embeddings") == 0 and proc.poll() is None:
            time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(cfg.store_path) as st:
        assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert len(load(st)) == 1
    r = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", str(cfg_path), "-q"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with Store(cfg.store_path) as st:
        assert len(load(st)) == 1 and st.count("suggestions") > 0


@pytest.mark.slow
def test_decisions_store_survives_kill_at_random_moments(tmp_path, write, tiny_codebook):
    """kill -9 `precode run` at random moments, several times; every next run completes, nothing is lost."""
    import random

    for i in range(30):
        write(f"data/t{i:02d}.txt", TRANSCRIPT.replace("Dana", f"P{i}") + f"P{i}: extra turn {i} about rooms.\n")
    cfg_path = write("study.yaml", f"project: {{output_dir: out}}\nstudies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n")
    cfg = load_config(cfg_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "pipeline.cli", "run", str(cfg_path), "-q"]
    assert subprocess.run(cmd, env=env, capture_output=True).returncode == 0
    with Store(cfg.store_path) as st:
        seg = st.conn.execute("SELECT id FROM segments WHERE coded=1 LIMIT 1").fetchone()[0]
        guid = st.conn.execute("SELECT guid FROM codes LIMIT 1").fetchone()[0]
        record(st, seg, guid, "accept", "ann")
    rng = random.Random(7)
    for delay in [rng.uniform(0.2, 12.0) for _ in range(5)]:
        (tmp_path / "data" / "t00.txt").write_text(TRANSCRIPT + f"Dana: changed {delay:.3f}\n")  # work to redo
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with Store(cfg.store_path) as st:
            assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert [d.coder for d in load(st)] == ["ann"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with Store(cfg.store_path) as st:
        assert len(load(st)) == 1 and st.count("suggestions") > 0


def test_decisions_accepted_emergent_code_survives_the_next_run(project):
    """A code a person added to the project (an accepted emergent theme) stays after `precode run`."""
    import dataclasses

    from pipeline.codebook import codebook_to_dict
    from pipeline.records import Category, Code

    cfg_path, run, res = project
    cb = res.codebooks["s"]
    new = Code(name="Parking", category="Emergent", description="parking car lot", examples=("no parking at the clinic",))
    grown = dataclasses.replace(cb, codes=cb.codes + (new,), categories=cb.categories + (Category("Emergent"),))
    with Store(load_config(cfg_path).store_path) as st:
        st.save_codebook(grown, codebook_to_dict(grown))
    res2 = run()
    assert "Emergent/Parking" in [c.path for c in res2.codebooks["s"].codes]
    with Store(load_config(cfg_path).store_path) as st:
        content = st.conn.execute("SELECT content FROM codebooks WHERE name=?", (cb.name,)).fetchone()[0]
    assert "Parking" in content
