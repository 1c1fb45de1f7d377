"""What every part of the store stands on: its error, the open connection and its transactions."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator

from ..errors import PrecodeError


class StoreError(PrecodeError):
    pass


def inserted(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just wrote."""
    if cur.lastrowid is None:  # pragma: no cover - sqlite3 sets it after every INSERT
        raise StoreError("an insert wrote no row")
    return cur.lastrowid


class Connected:
    """A store's open SQLite connection (``conn``, set by :meth:`pipeline.store.Store.open`)."""

    conn: sqlite3.Connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; inside another one it joins it (all or nothing together)."""
        if self.conn.in_transaction:
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def data_version(self) -> int:
        """Changes when another connection commits (to tell a cached view is stale)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
