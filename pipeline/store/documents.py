"""Studies, documents and their segments."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .base import Connected


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


class Documents(Connected):
    """Studies, documents and segments: written by a run, read by the screens and exports."""

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
