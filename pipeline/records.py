"""The records that cross stage boundaries. Plain dataclasses, no behaviour beyond derivation."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

# Namespace for stable GUIDs of codes (REFI-QDA exchange needs GUIDs that survive re-export).
CODE_NAMESPACE = uuid.UUID("6f1c3d2e-8a4b-5c6d-9e0f-7a8b9c0d1e2f")


def text_sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc_now() -> str:
    """The time now in UTC, to the second (ISO 8601): what decisions, events and manifests record."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Turn:
    """One speaker turn (or one table row) of a document.

    ``start``/``end`` are character offsets into ``Document.text``; ``text`` equals
    ``Document.text[start:end]``.
    """

    index: int
    speaker: str | None
    start: int
    end: int
    text: str
    role: str | None = None
    start_time: float | None = None  # seconds from the start of the recording
    end_time: float | None = None
    turn_id: str | None = None  # an explicit id (table ``id`` column)
    paragraphs: tuple[tuple[int, int], ...] = ()  # paragraph spans (absolute offsets) inside the turn
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Document:
    """A transcript as plain text plus its turns. Offsets everywhere refer to ``text``."""

    id: str
    path: str
    format: str
    sha256: str
    text: str
    turns: list[Turn]
    metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Segment:
    """A unit a coder would code: a turn, a sentence or a paragraph."""

    id: str
    document_id: str
    unit: str
    turn_index: int
    start: int
    end: int
    text: str
    speaker: str | None
    role: str | None
    coded: bool  # False: context only (interviewer / moderator turns by default)
    start_time: float | None = None
    end_time: float | None = None
    question: str | None = None  # text of the last context turn before this one
    question_id: str | None = None
    previous: str | None = None  # text of the previous turn (any speaker)
    study: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def text_sha(self) -> str:
        return text_sha(self.text)


@dataclass(frozen=True)
class Code:
    name: str
    category: str | None = None
    description: str = ""
    inclusion: str = ""
    exclusion: str = ""
    examples: tuple[str, ...] = ()
    note: str = ""
    # identity across codebook versions (see pipeline.codebook.diff_codebooks)
    source_guid: str | None = None  # an explicit GUID from the source file: the code's identity when set
    renamed_from: tuple[str, ...] = ()  # earlier names or paths of this code (`renamed_from` / `aliases`)
    split_from: str | None = None  # the code (name or path) this one was split out of
    merged_into: str | None = None  # on a retired entry: the code it was merged into
    retired: str = ""  # "" (in use) | "retired" | "merged" | "split": an entry kept for its decisions only

    @property
    def path(self) -> str:
        return f"{self.category}/{self.name}" if self.category else self.name

    def guid(self, codebook: str) -> str:
        """The code's identity: its explicit GUID, else derived from codebook and path (a rename
        is then followed through the project's recorded codebook changes)."""
        if self.source_guid:
            return self.source_guid
        return str(uuid.uuid5(CODE_NAMESPACE, f"{codebook}/{self.path}"))


@dataclass(frozen=True)
class Category:
    name: str
    description: str = ""
    questions: tuple[str, ...] = ()

    def guid(self, codebook: str) -> str:
        return str(uuid.uuid5(CODE_NAMESPACE, f"{codebook}/{self.name}/"))


@dataclass(frozen=True)
class Codebook:
    name: str
    codes: tuple[Code, ...]
    categories: tuple[Category, ...] = ()
    title: str = ""
    source: str = ""
    description: str = ""
    path: str = ""
    sha256: str = ""
    retired: tuple[Code, ...] = ()  # entries marked `retired: true` or `merged_into:` (no proposals)

    def category(self, name: str | None) -> Category | None:
        return next((c for c in self.categories if c.name == name), None)


@dataclass(frozen=True)
class Suggestion:
    """A proposed code for a segment. Always ``status='proposed'`` until a person decides."""

    segment_id: str
    code: Code
    score: float  # in [0, 1]
    rank: int
    evidence: str
    flags: tuple[str, ...] = ()
    agent: str = "precode"
    status: str = "proposed"

    @property
    def names_code(self) -> bool:
        """Whether this row proposes its code: not when no code cleared the bar (``uncoded``) or only
        the category did (``category_only``); such rows keep the nearest code for the screens only."""
        return not ({"uncoded", "category_only"} & set(self.flags))


VERDICTS = ("accept", "reject", "recode", "add", "undo")


@dataclass(frozen=True)
class Decision:
    """One human decision, stored append-only. The current state is derived by replaying them.

    ``accept``/``reject``: the coder confirms or refuses ``code_guid`` on the segment.
    ``add``: the coder applies a code nobody proposed. ``recode``: the coder replaces the proposed
    code ``replaces`` by ``code_guid``. ``undo``: cancels decision ``undoes``.
    """

    segment_id: str
    text_sha: str
    code_guid: str
    verdict: str
    coder: str
    time: str
    memo: str = ""
    replaces: str | None = None
    undoes: int | None = None
    id: int | None = None
