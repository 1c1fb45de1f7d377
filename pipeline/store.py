"""The SQLite project store: schema, named migrations, transactions.

WAL mode and foreign keys on; every write of a run happens in transactions so a killed process
leaves the store as it was before the interrupted transaction. ``decisions`` is append-only:
triggers refuse UPDATE and DELETE, so a human decision can never be rewritten or lost.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .errors import PrecodeError

STORE_FILE = "project.sqlite"  # a project's store in its output folder


def _inserted(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just wrote."""
    if cur.lastrowid is None:  # pragma: no cover - sqlite3 sets it after every INSERT
        raise StoreError("an insert wrote no row")
    return cur.lastrowid

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE TABLE studies (
            name TEXT PRIMARY KEY,
            metadata TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE documents (
            id TEXT PRIMARY KEY,
            study TEXT REFERENCES studies(name),
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            format TEXT NOT NULL,
            text TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE segments (
            id TEXT PRIMARY KEY,
            document_id TEXT NOT NULL REFERENCES documents(id),
            unit TEXT NOT NULL,
            turn_index INTEGER NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            speaker TEXT,
            role TEXT,
            coded INTEGER NOT NULL,
            start_time REAL,
            end_time REAL,
            question TEXT,
            question_id TEXT,
            text TEXT NOT NULL,
            text_sha TEXT NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX segments_document ON segments(document_id);
        CREATE TABLE embeddings (
            model_id TEXT NOT NULL,
            text_sha TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model_id, text_sha)
        ) WITHOUT ROWID;
        CREATE TABLE codebooks (
            name TEXT PRIMARY KEY,
            sha256 TEXT NOT NULL,
            path TEXT NOT NULL,
            content TEXT NOT NULL
        );
        CREATE TABLE codes (
            guid TEXT PRIMARY KEY,
            codebook TEXT NOT NULL REFERENCES codebooks(name),
            category TEXT,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            inclusion TEXT NOT NULL DEFAULT '',
            exclusion TEXT NOT NULL DEFAULT '',
            examples TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE coders (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'human'  -- human | machine
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started TEXT NOT NULL,
            finished TEXT,
            config_hash TEXT NOT NULL,
            manifest TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE suggestions (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            segment_id TEXT NOT NULL REFERENCES segments(id),
            code_guid TEXT NOT NULL REFERENCES codes(guid),
            rank INTEGER NOT NULL,
            score REAL NOT NULL,
            evidence TEXT NOT NULL,
            flags TEXT NOT NULL DEFAULT '',
            agent TEXT NOT NULL DEFAULT 'precode',
            PRIMARY KEY (run_id, segment_id, code_guid)
        );
        CREATE TABLE decisions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            segment_id TEXT NOT NULL,
            text_sha TEXT NOT NULL,   -- the text decided on: a changed segment text orphans it
            code_guid TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('accept', 'reject', 'recode', 'add', 'undo')),
            coder TEXT NOT NULL REFERENCES coders(name),
            time TEXT NOT NULL,
            memo TEXT NOT NULL DEFAULT ''
        );
        CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions
            BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
        CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions
            BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
        """,
    ),
    (
        "0002_decision_links",
        """
        ALTER TABLE decisions ADD COLUMN replaces TEXT;
        ALTER TABLE decisions ADD COLUMN undoes INTEGER REFERENCES decisions(id);
        CREATE INDEX decisions_segment ON decisions(segment_id);
        """,
    ),
    (
        "0003_forms",
        """
        CREATE TABLE forms (
            model_id TEXT NOT NULL,   -- form version + spaCy pipeline (pipeline.form.tagger_id)
            text_sha TEXT NOT NULL,
            form TEXT NOT NULL,
            PRIMARY KEY (model_id, text_sha)
        );
        """,
    ),
    (
        "0004_discovery_reviews",
        """
        CREATE TABLE discovery_reviews (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            candidate_id TEXT NOT NULL,
            verdict TEXT NOT NULL CHECK (verdict IN ('accept', 'reject')),
            coder TEXT NOT NULL,
            time TEXT NOT NULL,
            memo TEXT NOT NULL DEFAULT '',
            record TEXT NOT NULL   -- JSON: name, keywords, members (segment ids), code (when accepted)
        );
        CREATE INDEX discovery_reviews_candidate ON discovery_reviews(candidate_id);
        CREATE TRIGGER discovery_reviews_no_update BEFORE UPDATE ON discovery_reviews
            BEGIN SELECT RAISE(ABORT, 'discovery reviews are append-only'); END;
        CREATE TRIGGER discovery_reviews_no_delete BEFORE DELETE ON discovery_reviews
            BEGIN SELECT RAISE(ABORT, 'discovery reviews are append-only'); END;
        """,
    ),
    (
        "0006_code_identity",
        """
        CREATE TABLE codebook_versions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            study TEXT,
            sha256 TEXT NOT NULL,
            content TEXT NOT NULL,   -- JSON, as codebook_to_dict
            recorded TEXT NOT NULL,
            run_id INTEGER            -- the run that met this version (NULL: an edit or an import)
        );
        CREATE TABLE code_links (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            version_id INTEGER NOT NULL REFERENCES codebook_versions(id),
            kind TEXT NOT NULL,       -- renamed | moved | merged | split | retired | added | redefined
            old_path TEXT,
            new_path TEXT,
            old_guid TEXT,
            new_guid TEXT,            -- where decisions on old_guid go (renamed / moved / merged)
            how TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE code_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            codebook TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('create', 'rename', 'merge', 'retire')),
            code_guid TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}',  -- JSON: name, category, new name, target, example, ...
            coder TEXT NOT NULL,
            time TEXT NOT NULL
        );
        CREATE TRIGGER codebook_versions_no_update BEFORE UPDATE ON codebook_versions
            BEGIN SELECT RAISE(ABORT, 'codebook versions are append-only'); END;
        CREATE TRIGGER codebook_versions_no_delete BEFORE DELETE ON codebook_versions
            BEGIN SELECT RAISE(ABORT, 'codebook versions are append-only'); END;
        CREATE TRIGGER code_links_no_update BEFORE UPDATE ON code_links
            BEGIN SELECT RAISE(ABORT, 'code links are append-only'); END;
        CREATE TRIGGER code_links_no_delete BEFORE DELETE ON code_links
            BEGIN SELECT RAISE(ABORT, 'code links are append-only'); END;
        CREATE TRIGGER code_events_no_update BEFORE UPDATE ON code_events
            BEGIN SELECT RAISE(ABORT, 'code events are append-only'); END;
        CREATE TRIGGER code_events_no_delete BEFORE DELETE ON code_events
            BEGIN SELECT RAISE(ABORT, 'code events are append-only'); END;
        """,
    ),
    (
        # INSERT OR REPLACE deletes the row it collides with without firing the DELETE triggers (unless
        # recursive_triggers is on): refuse an insert that reuses an existing id
        "0009_append_only_replace",
        """
        CREATE TRIGGER decisions_no_replace BEFORE INSERT ON decisions
            WHEN EXISTS (SELECT 1 FROM decisions WHERE id = NEW.id)
            BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
        CREATE TRIGGER discovery_reviews_no_replace BEFORE INSERT ON discovery_reviews
            WHEN EXISTS (SELECT 1 FROM discovery_reviews WHERE id = NEW.id)
            BEGIN SELECT RAISE(ABORT, 'discovery reviews are append-only'); END;
        """,
    ),
    (
        # segment memos (pipeline.memos): a coder's note on a segment, apart from any decision; append-only.
        # IF NOT EXISTS: stores of a development version created the table lazily
        "0010_segment_memos",
        """
        CREATE TABLE IF NOT EXISTS segment_memos (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            segment_id TEXT NOT NULL,
            text_sha TEXT NOT NULL,
            coder TEXT NOT NULL,
            time TEXT NOT NULL,
            memo TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS segment_memos_segment ON segment_memos(segment_id);
        CREATE TRIGGER IF NOT EXISTS segment_memos_no_update BEFORE UPDATE ON segment_memos
            BEGIN SELECT RAISE(ABORT, 'segment memos are append-only'); END;
        CREATE TRIGGER IF NOT EXISTS segment_memos_no_delete BEFORE DELETE ON segment_memos
            BEGIN SELECT RAISE(ABORT, 'segment memos are append-only'); END;
        """,
    ),
]

FOLLOWED_LINKS = ("renamed", "moved", "merged")  # decisions follow these
ORPHANING_LINKS = ("split", "retired")  # decisions on these are orphaned (kept, marked)


class StoreError(PrecodeError):
    pass


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


@dataclass(frozen=True)
class SuggestionRow:
    segment_id: str
    code_guid: str
    rank: int
    score: float
    evidence: str
    flags: str
    agent: str

    @property
    def flag_list(self) -> list[str]:
        return [f for f in self.flags.split(",") if f]


@dataclass(frozen=True)
class CodebookVersion:
    id: int
    name: str
    study: str | None
    sha256: str
    recorded: str
    run_id: int | None


@dataclass(frozen=True)
class CodeRow:
    guid: str
    codebook: str
    category: str | None
    name: str
    description: str
    inclusion: str
    exclusion: str
    examples: str  # JSON list


@dataclass(frozen=True)
class DocumentRow:
    id: str
    study: str | None
    path: str
    sha256: str
    format: str
    text: str
    metadata: str  # JSON


@dataclass(frozen=True)
class SegmentRow:
    id: str
    document_id: str
    study: str | None
    unit: str
    turn_index: int
    start: int
    end: int
    text: str
    speaker: str | None
    role: str | None
    coded: int
    start_time: float | None
    end_time: float | None
    question: str | None
    question_id: str | None
    metadata: str  # JSON


@dataclass(frozen=True)
class CodebookRow:
    name: str
    sha256: str
    path: str
    content: str  # JSON


@dataclass(frozen=True)
class DiscoveryReviewRow:
    candidate_id: str
    verdict: str
    coder: str
    time: str
    memo: str
    record: dict


@dataclass(frozen=True)
class CodeEventRow:
    id: int
    codebook: str
    kind: str  # create | rename | merge | retire
    code_guid: str
    detail: dict
    coder: str
    time: str


class Store:
    """One SQLite file per project (or one shared embedding cache for one-shot runs)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def open(self) -> "Store":
        if str(self.path) != ":memory:":  # transcripts and decisions: the owner's only (SQLite gives -wal, -shm the same mode)
            from .private import private_file

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

    def _migrate(self) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied TEXT NOT NULL)")
        done = {r[0] for r in self.conn.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.transaction() as c:
                for stmt in _statements(sql):
                    c.execute(stmt)
                c.execute("INSERT INTO migrations VALUES (?, datetime('now'))", (name,))

    # -- embeddings -------------------------------------------------------------------------
    def get_vectors(self, model_id: str, shas: Iterable[str]) -> dict[str, np.ndarray]:
        shas = list(shas)
        out: dict[str, np.ndarray] = {}
        for i in range(0, len(shas), 500):
            chunk = shas[i : i + 500]
            q = f"SELECT text_sha, dim, vector FROM embeddings WHERE model_id=? AND text_sha IN ({','.join('?' * len(chunk))})"
            for sha, dim, blob in self.conn.execute(q, (model_id, *chunk)):
                out[sha] = np.frombuffer(blob, dtype=np.float32, count=dim)
        return out

    def put_vectors(self, model_id: str, items: dict[str, np.ndarray]) -> None:
        with self.transaction() as c:
            c.executemany(
                "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?, ?)",
                ((model_id, sha, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for sha, v in items.items()),
            )

    def get_forms(self, model_id: str, shas: Iterable[str]) -> dict[str, str]:
        """Cached form strings (:mod:`pipeline.form`) by text sha."""
        shas = list(shas)
        out: dict[str, str] = {}
        for i in range(0, len(shas), 500):
            chunk = shas[i : i + 500]
            q = f"SELECT text_sha, form FROM forms WHERE model_id=? AND text_sha IN ({','.join('?' * len(chunk))})"
            out.update(self.conn.execute(q, (model_id, *chunk)).fetchall())
        return out

    def put_forms(self, model_id: str, items: dict[str, str]) -> None:
        with self.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO forms VALUES (?, ?, ?)",
                          ((model_id, sha, form) for sha, form in items.items()))

    # -- documents, segments, codebooks ----------------------------------------------------
    def save_study(self, name: str, metadata: dict) -> None:
        with self.transaction() as c:
            c.execute(
                "INSERT INTO studies VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET metadata=excluded.metadata",
                (name, json.dumps(metadata, sort_keys=True)),
            )

    def study_metadata(self) -> dict[str, dict]:
        """Each study's metadata (as given to :meth:`save_study`), by name."""
        return {name: json.loads(meta or "{}") for name, meta in self.conn.execute("SELECT name, metadata FROM studies")}

    def save_document(self, doc, study: str, segments) -> None:
        """Insert or refresh a document and its segments in one transaction.

        Segments no longer produced are removed only if no decision or segment memo refers to them; decisions
        themselves are never touched (a changed text shows as an orphaned decision).
        """
        with self.transaction() as c:
            c.execute(
                """INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET study=excluded.study, path=excluded.path,
                   sha256=excluded.sha256, format=excluded.format, text=excluded.text,
                   metadata=excluded.metadata""",
                (doc.id, study, doc.path, doc.sha256, doc.format, doc.text, json.dumps(doc.metadata, sort_keys=True, default=str)),
            )
            ids = [s.id for s in segments]
            c.execute(
                f"""DELETE FROM suggestions WHERE segment_id IN (SELECT id FROM segments WHERE document_id=?
                    AND id NOT IN ({','.join('?' * len(ids))}))""",
                (doc.id, *ids),
            )
            c.execute(
                f"""DELETE FROM segments WHERE document_id=? AND id NOT IN ({','.join('?' * len(ids))})
                    AND id NOT IN (SELECT segment_id FROM decisions)
                    AND id NOT IN (SELECT segment_id FROM segment_memos)""",
                (doc.id, *ids),
            )
            c.executemany(
                """INSERT INTO segments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET document_id=excluded.document_id, unit=excluded.unit,
                   turn_index=excluded.turn_index, start=excluded.start, "end"=excluded."end",
                   speaker=excluded.speaker, role=excluded.role, coded=excluded.coded,
                   start_time=excluded.start_time, end_time=excluded.end_time, question=excluded.question,
                   question_id=excluded.question_id, text=excluded.text, text_sha=excluded.text_sha,
                   metadata=excluded.metadata""",
                [
                    (s.id, s.document_id, s.unit, s.turn_index, s.start, s.end, s.speaker, s.role, int(s.coded),
                     s.start_time, s.end_time, s.question, s.question_id, s.text, s.text_sha,
                     json.dumps(s.metadata, sort_keys=True, default=str))
                    for s in segments
                ],
            )

    def save_codebook(self, cb, content: dict) -> None:
        with self.transaction() as c:
            c.execute(
                """INSERT INTO codebooks VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET
                   sha256=excluded.sha256, path=excluded.path, content=excluded.content""",
                (cb.name, cb.sha256, cb.path, json.dumps(content, sort_keys=True)),
            )
            c.executemany(
                """INSERT INTO codes VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(guid) DO UPDATE SET
                   codebook=excluded.codebook, category=excluded.category, name=excluded.name,
                   description=excluded.description, inclusion=excluded.inclusion,
                   exclusion=excluded.exclusion, examples=excluded.examples""",
                [
                    (code.guid(cb.name), cb.name, code.category, code.name, code.description, code.inclusion,
                     code.exclusion, json.dumps(list(code.examples)))
                    for code in cb.codes
                ],
            )

    # -- runs and suggestions ----------------------------------------------------------------
    # A run is written in ONE transaction (save_run) and stamped ``finished`` in it: a reader sees
    # the previous complete run or the new one, never part of a run. "The latest run" is
    # latest_run() and nothing else.
    def latest_run(self) -> int | None:
        """Id of the latest finished run (the one screens, exports and the learner read), or None."""
        row = self.conn.execute("SELECT MAX(id) FROM runs WHERE finished IS NOT NULL").fetchone()
        return None if row[0] is None else int(row[0])

    def latest_manifest(self) -> dict | None:
        run = self.latest_run()
        if run is None:
            return None
        return json.loads(self.conn.execute("SELECT manifest FROM runs WHERE id=?", (run,)).fetchone()[0])

    def save_run(self, started: str, finished: str, manifest: dict, studies: dict[str, dict],
                 codebooks: list, documents: list, segments_of: dict[str, list], study_of_doc: dict[str, str],
                 suggestions: list[tuple[str, list]], versions=()) -> int:
        """Write a whole run (studies, codebooks, documents, segments, suggestions, its manifest with
        ``run_id``) in one transaction; returns the run id. ``codebooks``: (codebook, content) pairs;
        ``suggestions``: (codebook name, suggestions) pairs; ``versions``: (study, codebook, content,
        changes) recorded as codebook versions with their code links."""
        with self.transaction() as c:
            cur = c.execute("INSERT INTO runs (started, config_hash) VALUES (?, ?)", (started, manifest["config_hash"]))
            run_id = _inserted(cur)
            for name, metadata in studies.items():
                self.save_study(name, metadata)
            for cb, content in codebooks:
                self.save_codebook(cb, content)
            for doc in documents:
                self.save_document(doc, study_of_doc[doc.id], segments_of.get(doc.id, []))
            for codebook, sugg in suggestions:
                self.save_suggestions(run_id, codebook, sugg)
            for study, cb, content, changes in versions:
                self.record_codebook_version(study, cb, content, changes, finished, run_id)
            manifest["run_id"] = run_id
            c.execute("UPDATE runs SET finished=?, manifest=? WHERE id=?",
                      (finished, json.dumps(manifest, sort_keys=True, default=str), run_id))
        return run_id

    # -- decisions (append-only) ------------------------------------------------------------------
    _DECISION_COLUMNS = "segment_id, text_sha, code_guid, verdict, coder, time, memo, replaces, undoes, id"

    @staticmethod
    def _decision(r: sqlite3.Row | tuple):
        from .records import Decision

        return Decision(segment_id=r[0], text_sha=r[1], code_guid=r[2], verdict=r[3], coder=r[4], time=r[5],
                        memo=r[6], replaces=r[7], undoes=r[8], id=r[9])

    def decision_rows(self, coder: str | None = None) -> list:
        """Stored decisions as they were written (codes not followed), oldest first."""
        q = f"SELECT {self._DECISION_COLUMNS} FROM decisions"
        args: tuple[str, ...] = ()
        if coder is not None:
            q, args = q + " WHERE coder=?", (coder,)
        return [self._decision(r) for r in self.conn.execute(q + " ORDER BY id", args)]

    def decisions_on_changed_text(self) -> list:
        """Decisions whose segment is gone or whose text changed since."""
        cols = ", ".join(f"d.{c.strip()}" for c in self._DECISION_COLUMNS.split(","))
        return [self._decision(r) for r in self.conn.execute(
            f"SELECT {cols} FROM decisions d LEFT JOIN segments s ON s.id = d.segment_id "
            "WHERE s.id IS NULL OR s.text_sha != d.text_sha ORDER BY d.id")]

    def append_decision(self, d) -> int:
        """Append one decision (and its coder) in one transaction; returns its id."""
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO coders VALUES (?, 'human')", (d.coder,))
            return _inserted(c.execute(
                "INSERT INTO decisions (segment_id, text_sha, code_guid, verdict, coder, time, memo, replaces, undoes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (d.segment_id, d.text_sha, d.code_guid, d.verdict, d.coder, d.time, d.memo, d.replaces, d.undoes),
            ))

    def append_decisions(self, decisions) -> int:
        """Append decisions in one transaction (all or none); returns how many."""
        with self.transaction():
            for d in decisions:
                self.append_decision(d)
        return len(decisions)

    def decision_keys(self) -> set[tuple[str, str, str]]:
        """(segment, code guid, coder) of every stored decision."""
        return set(self.conn.execute("SELECT segment_id, code_guid, coder FROM decisions"))

    def decision_owner(self, decision_id: int | None) -> tuple[str, str] | None:
        """(coder, segment) of a decision, or None."""
        row = self.conn.execute("SELECT coder, segment_id FROM decisions WHERE id=?", (decision_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    # -- segments, documents, codes (reads) ------------------------------------------------------
    def append_segment_memo(self, segment_id: str, text_sha: str, coder: str, time: str, memo: str) -> int:
        """Append a segment memo (pipeline.memos); returns its id."""
        with self.transaction() as c:
            cur = c.execute("INSERT INTO segment_memos (segment_id, text_sha, coder, time, memo) VALUES (?, ?, ?, ?, ?)",
                            (segment_id, text_sha, coder, time, memo))
            return _inserted(cur)

    def segment_memo_rows(self, coder: str | None = None) -> list[tuple[str, str, str, str]]:
        """(segment_id, coder, time, memo) of every segment memo (of ``coder``), oldest first."""
        q = "SELECT segment_id, coder, time, memo FROM segment_memos"
        args: tuple[str, ...] = ()
        if coder is not None:
            q, args = q + " WHERE coder=?", (coder,)
        return [tuple(r) for r in self.conn.execute(q + " ORDER BY id", args)]

    def add_span_segment(self, span_id: str, parent_id: str, start: int, end: int, text: str, text_sha: str) -> None:
        """A part of segment ``parent_id`` (offsets into its document) as a segment of its own, unit ``span``
        (the browser review's span coding); nothing happens when it exists already."""
        with self.transaction() as c:
            c.execute(
                """INSERT INTO segments (id, document_id, unit, turn_index, start, "end", speaker, role, coded,
                       start_time, end_time, question, question_id, text, text_sha, metadata)
                   SELECT ?, document_id, 'span', turn_index, ?, ?, speaker, role, 1, start_time, end_time,
                       question, question_id, ?, ?, metadata FROM segments WHERE id=?
                   ON CONFLICT(id) DO NOTHING""",
                (span_id, start, end, text, text_sha, parent_id))

    def segment_text_sha(self, segment_id: str) -> str | None:
        row = self.conn.execute("SELECT text_sha FROM segments WHERE id=?", (segment_id,)).fetchone()
        return None if row is None else row[0]

    def segment_texts(self) -> dict[str, tuple[str, str]]:
        """segment id -> (text, document id)."""
        return {r[0]: (r[1], r[2]) for r in self.conn.execute("SELECT id, text, document_id FROM segments")}

    def document_text(self, document_id: str) -> str | None:
        row = self.conn.execute("SELECT text FROM documents WHERE id=?", (document_id,)).fetchone()
        return None if row is None else row[0]

    def document_rows(self) -> list[DocumentRow]:
        return [DocumentRow(*r) for r in self.conn.execute(
            "SELECT id, study, path, sha256, format, text, metadata FROM documents ORDER BY rowid")]

    def segment_rows(self) -> list[SegmentRow]:
        """Every segment with its document's study, in document and reading order."""
        return [SegmentRow(*r) for r in self.conn.execute(
            """SELECT s.id, s.document_id, d.study, s.unit, s.turn_index, s.start, s."end", s.text, s.speaker, s.role,
                      s.coded, s.start_time, s.end_time, s.question, s.question_id, s.metadata
               FROM segments s JOIN documents d ON d.id = s.document_id ORDER BY d.rowid, s.turn_index, s.start""")]

    def has_code(self, guid: str) -> bool:
        return self.conn.execute("SELECT 1 FROM codes WHERE guid=?", (guid,)).fetchone() is not None

    def codebook_rows(self) -> list[CodebookRow]:
        return [CodebookRow(*r) for r in self.conn.execute("SELECT name, sha256, path, content FROM codebooks")]

    def codebook_row(self, name: str) -> CodebookRow | None:
        return next((r for r in self.codebook_rows() if r.name == name), None)

    def codebook_of_study(self, study: str | None) -> str | None:
        """The codebook the latest run applied to ``study`` (None: unknown)."""
        row = self.conn.execute(
            "SELECT c.codebook FROM suggestions s JOIN codes c ON c.guid=s.code_guid JOIN segments g ON g.id=s.segment_id "
            "JOIN documents d ON d.id=g.document_id WHERE s.run_id=? AND d.study=? LIMIT 1",
            (self.latest_run(), study)).fetchone()
        return None if row is None else row[0]

    def codebooks_of_segments(self, segment_ids: list[str]) -> dict[str, int]:
        """codebook name -> how many of ``segment_ids`` the latest run proposed its codes for."""
        counts: dict[str, int] = {}
        run = self.latest_run()
        for i in range(0, len(segment_ids), 500):
            chunk = segment_ids[i: i + 500]
            q = (f"SELECT c.codebook, COUNT(DISTINCT s.segment_id) FROM suggestions s JOIN codes c ON c.guid = s.code_guid "
                 f"WHERE s.run_id = ? AND s.segment_id IN ({','.join('?' * len(chunk))}) GROUP BY c.codebook")
            for name, k in self.conn.execute(q, (run, *chunk)):
                counts[name] = counts.get(name, 0) + k
        return counts

    def data_version(self) -> int:
        """Changes when another connection commits (to tell a cached view is stale)."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # -- discovery reviews (append-only) -------------------------------------------------------------
    def append_discovery_review(self, candidate_id: str, verdict: str, coder: str, time: str, memo: str,
                                record: dict) -> None:
        with self.transaction() as c:
            c.execute("INSERT INTO discovery_reviews (candidate_id, verdict, coder, time, memo, record) "
                      "VALUES (?, ?, ?, ?, ?, ?)",
                      (candidate_id, verdict, coder, time, memo, json.dumps(record, sort_keys=True, ensure_ascii=False)))

    def discovery_reviews(self) -> list[DiscoveryReviewRow]:
        return [DiscoveryReviewRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in self.conn.execute(
            "SELECT candidate_id, verdict, coder, time, memo, record FROM discovery_reviews ORDER BY id")]

    # -- codebook editing events (append-only) -------------------------------------------------------
    def append_code_event(self, codebook: str, kind: str, code_guid: str, detail: dict, coder: str, time: str) -> int:
        with self.transaction() as c:
            return _inserted(c.execute(
                "INSERT INTO code_events (codebook, kind, code_guid, detail, coder, time) VALUES (?, ?, ?, ?, ?, ?)",
                (codebook, kind, code_guid, json.dumps(detail, sort_keys=True, ensure_ascii=False), coder, time)))

    def code_events(self) -> list[CodeEventRow]:
        return [CodeEventRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in self.conn.execute(
            "SELECT id, codebook, kind, code_guid, detail, coder, time FROM code_events ORDER BY id")]

    # -- codebook versions and code identity ---------------------------------------------------
    def previous_codebook(self, name: str, study: str | None = None) -> dict | None:
        """The content of the codebook version the project last recorded under ``name`` (else the
        last one of ``study``; else, in a project from before versions, the stored codebook)."""
        for q, arg in (("SELECT content FROM codebook_versions WHERE name=? ORDER BY id DESC LIMIT 1", name),
                       ("SELECT content FROM codebook_versions WHERE study=? ORDER BY id DESC LIMIT 1", study),
                       ("SELECT content FROM codebooks WHERE name=?", name)):
            row = self.conn.execute(q, (arg,)).fetchone() if arg is not None else None
            if row is not None:
                return json.loads(row[0])
        return None

    def record_codebook_version(self, study: str | None, cb, content: dict, changes, time: str,
                                run_id: int | None = None) -> int | None:
        """Append a codebook version and its code links (``changes``: CodeChange-like), unless the
        latest version under this name has the same content. Returns the version id (None: unchanged)."""
        text = json.dumps(content, sort_keys=True)
        row = self.conn.execute("SELECT content FROM codebook_versions WHERE name=? ORDER BY id DESC LIMIT 1",
                                (cb.name,)).fetchone()
        if row is not None and row[0] == text:
            return None
        with self.transaction() as c:
            vid = _inserted(c.execute("INSERT INTO codebook_versions (name, study, sha256, content, recorded, run_id) "
                                "VALUES (?, ?, ?, ?, ?, ?)", (cb.name, study, cb.sha256, text, time, run_id)))
            c.executemany("INSERT INTO code_links (version_id, kind, old_path, new_path, old_guid, new_guid, how) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [(vid, ch.kind, ch.old, ch.new, ch.old_guid, ch.new_guid, ch.how) for ch in changes])
        return vid

    def codebook_versions(self) -> list[CodebookVersion]:
        return [CodebookVersion(*r) for r in self.conn.execute(
            "SELECT id, name, study, sha256, recorded, run_id FROM codebook_versions ORDER BY id")]

    def code_links(self) -> list[tuple[str, str | None, str | None]]:
        """(kind, old_guid, new_guid) of every recorded codebook change, oldest first."""
        return list(self.conn.execute("SELECT kind, old_guid, new_guid FROM code_links ORDER BY id"))

    def code_resolution(self, pending=()) -> dict[str, tuple[str | None, str]]:
        """code guid -> (the guid its decisions now belong to, or None when orphaned; the last change),
        for every code a recorded change touched; ``pending``: further (kind, old, new) not stored yet."""
        out: dict[str, tuple[str | None, str]] = {}
        for kind, old, new in [*self.code_links(), *pending]:
            if kind == "added" and new in out:
                out.pop(new)  # a code back in use
            if kind not in FOLLOWED_LINKS + ORPHANING_LINKS or old is None:
                continue
            target = new if kind in FOLLOWED_LINKS else None
            for g, (cur, _k) in list(out.items()):
                if cur == old:
                    out[g] = (target, kind)
            out[old] = (target, kind)
            if target is not None:
                out.pop(target, None)  # the target is in use
        return out

    def code_rows(self) -> list[CodeRow]:
        """Every code the project has met (any codebook version), in the order first stored."""
        return [CodeRow(*r) for r in self.conn.execute(
            "SELECT guid, codebook, category, name, description, inclusion, exclusion, examples FROM codes ORDER BY rowid")]

    def latest_suggestion_rows(self) -> list[SuggestionRow]:
        """The latest finished run's suggestions, by segment and rank."""
        run = self.latest_run()
        if run is None:
            return []
        return [SuggestionRow(*r) for r in self.conn.execute(
            "SELECT segment_id, code_guid, rank, score, evidence, flags, agent FROM suggestions WHERE run_id=? "
            "ORDER BY segment_id, rank", (run,))]

    def save_suggestions(self, run_id: int, codebook: str, suggestions) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO coders VALUES ('precode', 'machine')")
            c.executemany(
                "INSERT INTO suggestions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (run_id, s.segment_id, s.code.guid(codebook), s.rank, s.score, s.evidence, ",".join(s.flags), s.agent)
                    for s in suggestions
                ],
            )

    def count(self, table: str) -> int:
        return int(self.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _statements(sql: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    out, buf = [], []
    for line in sql.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and (not joined.upper().startswith("CREATE TRIGGER") or joined.upper().endswith("END;")):
            out.append(joined)
            buf = []
    if "\n".join(buf).strip():
        out.append("\n".join(buf).strip())
    return out
