"""The SQLite project store: schema, named migrations, transactions.

WAL mode and foreign keys on; every write of a run happens in transactions so a killed process
leaves the store as it was before the interrupted transaction. ``decisions`` is append-only:
triggers refuse UPDATE and DELETE, so a human decision can never be rewritten or lost.

All of the project's SQL lives in this package, one module per group of tables: :mod:`.schema` (the
migrations), :mod:`.caches` (embeddings, forms), :mod:`.documents` (studies, documents, segments),
:mod:`.codebooks` (codebooks, codes, versions, code links, editing events), :mod:`.runs` (runs,
suggestions), :mod:`.decisions` (decisions, discovery reviews), :mod:`.memos` (segment memos).
:class:`Store` puts them together and opens the file; the crash-testing hook is here because tests
read and reset its counter as ``pipeline.store._write_count``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

from .base import StoreError
from .caches import Caches
from .codebooks import (FOLLOWED_LINKS, ORPHANING_LINKS, CodebookRow, CodebookVersion, CodeEventRow,
                        CodeRow)
from .decisions import Decisions, DiscoveryReviewRow
from .documents import DocumentRow, SegmentRow
from .memos import Memos
from .runs import Runs, SuggestionRow
from .schema import MIGRATIONS, STORE_FILE, statements

__all__ = [
    "FOLLOWED_LINKS", "MIGRATIONS", "ORPHANING_LINKS", "STORE_FILE", "CodebookRow", "CodebookVersion", "CodeEventRow",
    "CodeRow", "DiscoveryReviewRow", "DocumentRow", "SegmentRow", "Store", "StoreError", "SuggestionRow",
]

# Crash testing: with PRECODE_KILL_AT_WRITE=N the process SIGKILLs itself just before its Nth write
# statement (INSERT / UPDATE / DELETE / COMMIT) to any store, counted over the whole process.
_WRITES = ("INSERT", "UPDATE", "DELETE", "COMMIT")
_write_count = 0


def _kill_hook(limit: int):
    def trace(stmt: str) -> None:
        global _write_count
        if stmt.lstrip().upper().startswith(_WRITES):
            _write_count += 1
            if _write_count >= limit:
                os.kill(os.getpid(), signal.SIGKILL)
    return trace


class Store(Caches, Runs, Decisions, Memos):
    """One SQLite file per project (or one shared embedding cache for one-shot runs)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def open(self) -> "Store":
        if str(self.path) != ":memory:":  # transcripts and decisions: the owner's only (SQLite gives -wal, -shm the same mode)
            from ..private import private_file

            private_file(self.path)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=30, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if os.environ.get("PRECODE_KILL_AT_WRITE"):
                self.conn.set_trace_callback(_kill_hook(int(os.environ["PRECODE_KILL_AT_WRITE"])))
            self._migrate()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: not a usable precode store ({err})") from None
        return self

    def close(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()
            del self.conn  # closed: using the store again is an AttributeError, never a silent reopen

    def __enter__(self) -> "Store":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def _migrate(self) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
        done = {r[0] for r in self.conn.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.transaction() as c:
                for stmt in statements(sql):
                    c.execute(stmt)
                c.execute("INSERT INTO migrations VALUES (?, datetime('now'))", (name,))
