"""The store's schema: named migrations, applied in order, each once (the ``migrations`` table).

A migration is never edited once shipped; a change to the schema is a new one at the end.
"""

from __future__ import annotations

STORE_FILE = "project.sqlite"  # a project's store in its output folder

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


def statements(sql: str) -> list[str]:
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
