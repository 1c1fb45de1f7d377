"""Codebooks and codes: the stored codebooks, their recorded versions, the links between code identities
(renamed, moved, merged, split, retired ...) that decisions follow, and the codebook editing events."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .base import Connected, inserted

FOLLOWED_LINKS = ("renamed", "moved", "merged")  # decisions follow these
ORPHANING_LINKS = ("split", "retired")  # decisions on these are orphaned (kept, marked)


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
class CodebookRow:
    name: str
    sha256: str
    path: str
    content: str  # JSON


@dataclass(frozen=True)
class CodeEventRow:
    id: int
    codebook: str
    kind: str  # create | rename | merge | retire
    code_guid: str
    detail: dict
    coder: str
    time: str


class Codebooks(Connected):
    """The codebooks and codes a run met, the recorded codebook versions with their code links, and the
    codebook editing events."""

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

    def has_code(self, guid: str) -> bool:
        return self.conn.execute("SELECT 1 FROM codes WHERE guid=?", (guid,)).fetchone() is not None

    def codebook_rows(self) -> list[CodebookRow]:
        return [CodebookRow(*r) for r in self.conn.execute("SELECT name, sha256, path, content FROM codebooks")]

    def codebook_row(self, name: str) -> CodebookRow | None:
        return next((r for r in self.codebook_rows() if r.name == name), None)

    # -- codebook editing events (append-only) -------------------------------------------------------
    def append_code_event(self, codebook: str, kind: str, code_guid: str, detail: dict, coder: str, time: str) -> int:
        with self.transaction() as c:
            return inserted(c.execute(
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
            vid = inserted(c.execute("INSERT INTO codebook_versions (name, study, sha256, content, recorded, run_id) "
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
