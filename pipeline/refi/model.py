"""The REFI-QDA records and GUIDs shared by :mod:`.read` and :mod:`.write` (decisions: the package docstring)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ..records import CODE_NAMESPACE, Codebook, Document

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
ORIGIN = "precode"
MACHINE_USER = "precode"  # the coder name of precode's own (unconfirmed) proposals
PATH_SEPARATOR = " > "  # joins nested code names when a deeper REFI tree is flattened
UNIQUE_JOIN = ": "  # a code name used twice is written "Parent: Name" (QualCoder needs unique names)

# GUIDs of sources, users and selections; codes and categories use CODE_NAMESPACE (records.py).
REFI_NAMESPACE = uuid.uuid5(CODE_NAMESPACE, "precode.refi")


@dataclass
class RefiCoding:
    """One code applied to ``text[start:end]`` of a document (offsets in Unicode code points)."""

    document_id: str
    start: int
    end: int
    code_guid: str  # precode's GUID: Code.guid(codebook.name)
    coder: str
    created: str | None = None  # ISO date-time; written as xsd:dateTime
    memo: str = ""


@dataclass
class RefiMemo:
    """A memo on ``text[start:end]`` of a document by ``coder``, apart from any coding (precode's segment memo)."""

    document_id: str
    start: int
    end: int
    coder: str
    text: str
    created: str | None = None  # ISO date-time


@dataclass
class RefiProject:
    name: str
    documents: list[Document]
    codebooks: list[Codebook]
    codings: list[RefiCoding] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    memos: list[RefiMemo] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # on import: elements found but not understood, with counts
    warnings: list[str] = field(default_factory=list)
    # on import: the file's code/category GUID (lower case) -> precode's GUID of the code/category it became
    guid_map: dict[str, str] = field(default_factory=dict)
    origin: str = ""  # on import: the exporting software (Project/@origin)
    offset_unit: str = "codepoint"  # on import: how the file counted positions ("codepoint" or "utf16")
    offset_reason: str = ""  # on import: why that unit was chosen
    description: str = ""  # the project's <Description>
    # what precode carries through without modelling it (JSON-ready; kept in the study's metadata on import):
    # users {name: guid}, categories {"<codebook>\x00<category>": guid}, colours {code/category guid: "#RRGGBB"},
    # selections {"<doc>\x00<start>\x00<end>": guid}, codings {"<doc>\x00<start>\x00<end>\x00<code guid>\x00<coder>": guid},
    # note_refs {"project" | "code:<guid>" | "source:<guid>" | "selection:<guid>": [note guids]},
    # notes [<Note> XML with its text inline], sets [<Set> XML],
    # memo_notes {span key of a memo (with code GUID and coder for a coding's memo, "" and coder for a span's): {"guid", "name"}}
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.codebooks, Codebook):
            self.codebooks = [self.codebooks]


def span_key(document_id: str, start: int, end: int, *rest: str) -> str:
    """Key of a selection (and, with code GUID and coder, of a coding) in ``RefiProject.extras``."""
    return "\x00".join([document_id, str(start), str(end), *rest])


def memo_note_guid(key: str) -> str:
    """GUID of the Note precode writes for a memo (``key``: :func:`span_key` with code GUID or ``""``, and coder)."""
    return str(uuid.uuid5(REFI_NAMESPACE, f"memo\x00{key}"))


def source_guid(document_id: str) -> str:
    return str(uuid.uuid5(REFI_NAMESPACE, f"source\x00{document_id}"))


def user_guid(name: str) -> str:
    return str(uuid.uuid5(REFI_NAMESPACE, f"user\x00{name}"))


def codebook_guid(name: str) -> str:
    return str(uuid.uuid5(REFI_NAMESPACE, f"codebook\x00{name}"))


def selection_guid(document_id: str, start: int, end: int, code_guid: str, user: str) -> str:
    return str(uuid.uuid5(REFI_NAMESPACE, f"selection\x00{document_id}\x00{start}\x00{end}\x00{code_guid}\x00{user}"))
