"""A run is all or nothing: kill -9 at many chosen store writes across saving a run and recording a
stream of decisions; the project shows the previous complete run or the new one, and every decision."""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from pipeline.config import load_config
from pipeline.decisions import load, record
from pipeline.project import load_project
from pipeline.run import run_batch
from pipeline.store import Store

from .conftest import TRANSCRIPT

CHANGED = TRANSCRIPT + "Interviewer: Anything else?\nDana: We need office space and more training.\n"
TABLES = ("runs", "studies", "documents", "segments", "codebooks", "codes", "suggestions", "decisions", "coders")
STREAM = [("one.txt#t2", "Role confusion", "accept", "ann"), ("one.txt#t2", "Space", "reject", "ann"),
          ("one.txt#t4", "Training", "add", "bob"), ("one.txt#t4", "Space", "accept", "ann"),
          ("one.txt#t2", "Role confusion", "reject", "bob")]


def _counts(path) -> dict[str, int]:
    with Store(path) as st:
        assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {t: st.count(t) for t in TABLES}


def _work(folder, bow, log) -> None:
    """A re-run on a changed transcript, then a stream of decisions; each decision the store
    confirmed is appended to ``log``."""
    cfg = load_config(folder / "study.yaml")
    (folder / "data" / "one.txt").write_text(CHANGED, encoding="utf-8")
    res = run_batch(cfg, embedder=bow)
    cb = res.codebooks["s"]
    guid = {c.name: c.guid(cb.name) for c in cb.codes}
    with Store(cfg.store_path) as st:
        for seg, code, verdict, coder in STREAM:
            record(st, seg, guid[code], verdict, coder)
            with open(log, "a") as fh:
                fh.write(f"{seg} {code} {verdict} {coder}\n")
                fh.flush()
                os.fsync(fh.fileno())


def _in_child(fn, kill_at: int | None) -> int:
    """Run ``fn`` in a forked child that SIGKILLs itself at its ``kill_at``-th store write
    (PRECODE_KILL_AT_WRITE); returns the signal that ended it (0: finished)."""
    import pipeline.store as store_mod

    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            store_mod._write_count = 0
            if kill_at is None:
                os.environ.pop("PRECODE_KILL_AT_WRITE", None)
            else:
                os.environ["PRECODE_KILL_AT_WRITE"] = str(kill_at)
            fn()
        except BaseException:  # noqa: BLE001 - reported through the exit code
            code = 3
        finally:
            os._exit(code if code else (0 if kill_at is None else 4))
    _, status = os.waitpid(pid, 0)
    return os.WTERMSIG(status) if os.WIFSIGNALED(status) else -os.WEXITSTATUS(status)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill9_at_every_chosen_write_leaves_a_complete_run_and_every_decision(tmp_path, tiny_codebook, bow):
    base = tmp_path / "base"
    (base / "data").mkdir(parents=True)
    (base / "data" / "one.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (base / "study.yaml").write_text(f"project: {{name: t, output_dir: out}}\nstudies: [{{name: s, inputs: [data/], "
                                     f"codebook: {tiny_codebook}}}]\npropose: {{threshold: 0.0}}\n", encoding="utf-8")
    run_batch(load_config(base / "study.yaml"), embedder=bow)
    store = lambda folder: folder / "out" / "project.sqlite"  # noqa: E731
    before = _counts(store(base))
    with Store(store(base)) as st:
        old_run, old_props = st.latest_run(), len(st.latest_suggestion_rows())

    # a full, uninterrupted pass: how many writes it makes and what the new run holds
    full = tmp_path / "full"
    shutil.copytree(base, full)
    import pipeline.store as store_mod

    counter = tmp_path / "writes"

    def counted():
        os.environ["PRECODE_KILL_AT_WRITE"] = str(10 ** 9)
        _work(full, bow, tmp_path / "full.log")
        counter.write_text(str(store_mod._write_count))

    assert _in_child(counted, None) == 0
    writes = int(counter.read_text())
    with Store(store(full)) as st:
        new_run, new_props = st.latest_run(), len(st.latest_suggestion_rows())
        after_run = {t: st.count(t) for t in TABLES}
    after_run["decisions"], after_run["coders"] = before["decisions"], after_run["coders"] - 2  # before the stream
    assert new_run == old_run + 1 and writes > 20

    # 24 kill points spread evenly over every write of the pass, first and last included
    points = sorted({1 + round(i * (writes - 1) / 23) for i in range(24)})
    assert len(points) >= 20
    seen_old = seen_new = 0
    for n in points:
        folder = tmp_path / f"k{n}"
        shutil.copytree(base, folder)
        log = folder / "decisions.log"
        assert _in_child(lambda: _work(folder, bow, log), n) == signal.SIGKILL, n
        got = _counts(store(folder))
        logged = log.read_text().splitlines() if log.exists() else []
        with Store(store(folder)) as st:
            latest = st.latest_run()
            assert st.conn.execute("SELECT COUNT(*) FROM runs WHERE finished IS NULL").fetchone()[0] == 0
            decided = [(d.segment_id, d.verdict, d.coder) for d in load(st)]
        shown = load_project(store(folder))
        if latest == old_run:  # the previous run, untouched
            seen_old += 1
            assert got == before and not logged, n
            assert len(shown.suggestions) == old_props
        else:  # the new run, whole, and exactly the decisions the store confirmed
            seen_new += 1
            assert latest == new_run and len(shown.suggestions) == new_props, n
            assert {t: got[t] for t in TABLES if t not in ("decisions", "coders")} == \
                   {t: after_run[t] for t in TABLES if t not in ("decisions", "coders")}, n
            assert got["decisions"] == before["decisions"] + len(logged), n
            assert decided == [(s, v, c) for s, _, v, c in map(_split, logged)], n
    assert seen_old >= 3 and seen_new >= 3  # the points fell both inside the run's save and in the stream


def _split(line: str) -> tuple[str, str, str, str]:
    seg, rest = line.split(" ", 1)
    code, verdict, coder = rest.rsplit(" ", 2)
    return seg, code, verdict, coder
