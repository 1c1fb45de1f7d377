from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from pipeline.store import Store


def test_store_vectors_roundtrip_and_migrations_idempotent(tmp_path):
    path = tmp_path / "p.sqlite"
    with Store(path) as st:
        st.put_vectors("m@1", {"a": np.arange(4, dtype=np.float32)})
    with Store(path) as st:  # reopening applies no migration twice
        got = st.get_vectors("m@1", ["a", "b"])
        assert list(got) == ["a"] and got["a"].tolist() == [0, 1, 2, 3]
        from pipeline.store import MIGRATIONS

        assert st.count("migrations") == len(MIGRATIONS)
        assert st.get_vectors("m@2", ["a"]) == {}


def test_store_decisions_are_append_only(tmp_path):
    with Store(tmp_path / "p.sqlite") as st:
        st.conn.execute("INSERT INTO coders VALUES ('ann', 'human')")
        st.conn.execute("INSERT INTO decisions (segment_id, text_sha, code_guid, verdict, coder, time) "
                        "VALUES ('s1', 'x', 'g', 'accept', 'ann', '2026-01-01')")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            st.conn.execute("UPDATE decisions SET verdict='reject'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            st.conn.execute("DELETE FROM decisions")
        assert st.count("decisions") == 1


def test_store_rejects_a_file_that_is_not_sqlite(tmp_path):
    p = tmp_path / "p.sqlite"
    p.write_text("not a database at all, just text " * 100)
    from pipeline.store import StoreError

    with pytest.raises(StoreError, match="not a usable precode store"):
        Store(p).open()


def test_one_home_for_sql():
    """Only the pipeline/store/ package talks SQL: no other module executes a statement or builds a
    record from a row by position."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "pipeline"
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if path.parent == root / "store":
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in (r"\.execute(many|script)?\(", r"\bDecision\(\*", r"\.conn\b"):
            if re.search(pattern, text):
                offenders.append(f"{path.relative_to(root)}: {pattern}")
    assert offenders == []
