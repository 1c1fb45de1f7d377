"""Runs and their suggestions."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .base import inserted
from .codebooks import Codebooks
from .documents import Documents


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


class Runs(Documents, Codebooks):
    """Runs and their suggestions (a run also writes its documents and codebooks: hence the bases)."""

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
            run_id = inserted(cur)
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
