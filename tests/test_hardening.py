"""Store and server hardening (issue 15): REPLACE cannot rewrite a decision; the review server's body and
JSON-depth limits, HEAD and the one-time token, --open without the token on a command line; files created
0600 and folders 0700."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest

from pipeline.decisions import load, record
from pipeline.review.web import make_app
from pipeline.store import Store

from .conftest import SAME_ORIGIN, client, signed_in


def _first_segment(path) -> tuple[str, list[str]]:
    with Store(path) as st:
        return (st.conn.execute("SELECT id FROM segments ORDER BY rowid LIMIT 1").fetchone()[0],
                [r[0] for r in st.conn.execute("SELECT guid FROM codes ORDER BY rowid LIMIT 2")])


def test_insert_or_replace_cannot_rewrite_a_decision(web_store):  # noqa: F811
    seg, (guid_a, guid_b) = _first_segment(web_store)
    with Store(web_store) as st:
        record(st, seg, guid_a, "accept", "ann", memo="kept")
        before = [(d.id, d.verdict, d.memo) for d in load(st)]
        did = before[0][0]
        for sql in ("INSERT OR REPLACE INTO decisions (id, segment_id, text_sha, code_guid, verdict, coder, time) "
                    "VALUES (?, 'x', 'x', 'guid-a', 'reject', 'ann', 't')",
                    "REPLACE INTO decisions (id, segment_id, text_sha, code_guid, verdict, coder, time) "
                    "VALUES (?, 'x', 'x', 'guid-a', 'reject', 'ann', 't')"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                st.conn.execute(sql, (did,))
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            st.conn.execute("INSERT OR REPLACE INTO discovery_reviews (id, candidate_id, verdict, coder, time, record) "
                            "VALUES (1, 'c', 'accept', 'ann', 't', '{}')")  # a first review: allowed
            st.conn.execute("INSERT OR REPLACE INTO discovery_reviews (id, candidate_id, verdict, coder, time, record) "
                            "VALUES (1, 'c', 'reject', 'ann', 't', '{}')")  # rewriting it: refused
        assert [(d.id, d.verdict, d.memo) for d in load(st)] == before
        record(st, seg, guid_b, "reject", "ann")  # ordinary appends still work
        assert len(load(st)) == 2
        assert st.conn.execute("SELECT verdict FROM discovery_reviews").fetchall() == [("accept",)]


def test_the_migration_is_named_and_applied_once(web_store):  # noqa: F811
    with Store(web_store) as st:
        names = [r[0] for r in st.conn.execute("SELECT name FROM migrations")]
    assert names.count("0009_append_only_replace") == 1


def test_server_refuses_big_bodies_and_deep_json_with_4xx(web_store):  # noqa: F811
    app = make_app(web_store, coder="ann", token="tok")
    with client(app, raise_server_exceptions=False) as c:
        signed_in(c, "tok")
        headers = {**SAME_ORIGIN, "content-type": "application/json"}
        big = b'{"memo": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        r = c.post("/api/memo", content=big, headers=headers)
        assert r.status_code == 413 and "KB" in r.json()["error"]
        deep = b"[" * 30_000 + b"]" * 30_000  # under the size limit, far past the recursion limit
        r = c.post("/api/goto", content=b'{"a": ' + deep + b"}", headers=headers)
        assert r.status_code == 400 and "deeper" in r.json()["error"]
        assert "Traceback" not in r.text
        chunked = (b"x" * 65536 for _ in range(4))  # no Content-Length: the stream is cut at the limit
        r = c.post("/api/memo", content=chunked, headers=headers)
        assert r.status_code == 413
        r = c.post("/api/goto", content=b'{"segment_id": "nope", "x": [[["ok"]]]}', headers=headers)
        assert r.status_code < 500


def test_head_does_not_spend_the_one_time_token(web_store):  # noqa: F811
    app = make_app(web_store, coder="ann", token="tok")
    with client(app) as c:
        r = c.head("/?token=tok")
        assert r.status_code == 200 and "set-cookie" not in r.headers
        assert not app.state.review.token_used
        signed_in(c, "tok")  # the GET still works, once
        assert app.state.review.token_used


def test_open_gives_the_browser_a_private_page_not_the_token(web_store, monkeypatch):  # noqa: F811
    import queue
    import threading

    from pipeline.review.web import app as web

    opened: queue.Queue[str] = queue.Queue()
    monkeypatch.setattr(web.webbrowser, "open", opened.put)
    urls: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    server = threading.Thread(target=web.serve, args=(web_store,),
                              kwargs=dict(port=0, coder="ann", open_browser=True, on_ready=urls.put, stop=stop), daemon=True)
    server.start()
    try:
        url = urls.get(timeout=30)
        arg = opened.get(timeout=10)
        token = url.split("token=", 1)[1]
        assert token not in arg and arg.startswith("file://")
        page = arg[len("file://"):]
        with open(page, encoding="utf-8") as fh:
            assert token in fh.read()
        assert stat.S_IMODE(os.stat(page).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(page)).st_mode) == 0o700
    finally:
        stop.set()
        server.join(timeout=15)
    assert not os.path.exists(page)  # removed when the server stops


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_project_files_exports_and_caches_are_private(tmp_path, monkeypatch):
    from pipeline.config import config_from_dict
    from pipeline.run import run_batch

    from .conftest import TINY_CODEBOOK, BagOfWordsEmbedder

    monkeypatch.setattr(os, "umask", os.umask)  # restored after the test
    old = os.umask(0o022)  # a permissive umask: the files must be private anyway
    try:
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "a.txt").write_text("Interviewer: Barriers?\nAnn: Nobody knows the peer role.\n")
        (tmp_path / "tiny.yaml").write_text(TINY_CODEBOOK)
        study = [{"name": "s", "inputs": [str(tmp_path / "in")], "codebook": str(tmp_path / "tiny.yaml")}]
        cfg = config_from_dict({"project": {"output_dir": str(tmp_path / "out" / "proj")}, "studies": study},
                               base_dir=tmp_path)
        res = run_batch(cfg, embedder=BagOfWordsEmbedder())
        for name in ("project.sqlite", "coded_segments.csv", "coded_segments.xlsx", "manifest.json"):
            assert _mode(tmp_path / "out" / "proj" / name) == 0o600, name
        for wal in (tmp_path / "out" / "proj").glob("project.sqlite-*"):
            assert _mode(wal) == 0o600, wal.name
        assert _mode(tmp_path / "out" / "proj") == 0o700 and _mode(tmp_path / "out") == 0o700
        # a one-shot run's shared embedding cache
        cache = tmp_path / "cache" / "precode" / "embeddings.sqlite"
        run_batch(config_from_dict({"project": {"output_dir": str(tmp_path / "oneshot")}, "studies": study},
                                   base_dir=tmp_path),
                  persist=False, cache_store=cache, out_csv=tmp_path / "oneshot" / "coded.csv", embedder=BagOfWordsEmbedder())
        assert _mode(cache) == 0o600 and _mode(cache.parent) == 0o700
        assert _mode(tmp_path / "oneshot" / "coded.csv") == 0o600
        assert res.outputs
    finally:
        os.umask(old)


def test_cli_commands_write_private_files(tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    old = os.umask(0o022)
    try:
        CliRunner().invoke(app, ["codebook", "validate", os.devnull])  # any command: the callback sets the umask
        mask = os.umask(0o022)
    finally:
        os.umask(old)
    assert mask == 0o077
