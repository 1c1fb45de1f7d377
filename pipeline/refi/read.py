"""Reading ``.qdpx`` projects and ``.qdc`` codebooks from any REFI-QDA tool, never crashing on the unknown.

What is imported: text sources (``plainTextPath`` into the archive's ``sources/`` folder, or inline
``PlainTextContent``), the code tree, users, and codings on text (``PlainTextSelection`` + ``Coding``);
carried to be written back (``RefiProject.extras``): GUIDs, colours, non-codable levels, Notes, NoteRefs,
Sets and the project description. Everything else (pictures, PDFs, audio, video, variables, cases,
graphs, links) is listed in
``RefiProject.unknown`` with counts and summarised in ``warnings``; codings on those sources are counted and
skipped. Text files outside the archive (``absolute://``, ``relative://``) are never read.

Which positions a file counts is settled in :mod:`.positions`, the code tree read in :mod:`.codetree`, text
sources and their selections in :mod:`.sources`, Notes in :mod:`.notes`; this module reads the archive and
the project's other parts.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from xml.etree.ElementTree import Element, tostring

from ..errors import InputError
from ..ingest.decode import read_bytes
from ..records import Codebook, Document
from .codetree import CodeTree
from .elements import GUID, clean, first, kids, local_name, norm_guid
from .model import ORIGIN, RefiCoding, RefiMemo, RefiProject
from .positions import detect_line_endings, detect_offsets
from .safety import SafeZip, parse_xml
from .sources import SourceReading

CARRIED = ("Notes", "Sets", "Description")  # project parts kept as they are (see RefiProject.extras)
OFFSET_UNITS = ("auto", "codepoint", "utf16")
NON_TEXT = ("PictureSource", "PDFSource", "AudioSource", "VideoSource")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Reader(SourceReading):
    """One project being read: the state its parts (:mod:`.sources`, :mod:`.notes`) share."""

    def __init__(self, path: Path, zipped: SafeZip, root: Element, codebook_name: str | None, offset_unit: str):
        self.path, self.zip, self.root = path, zipped, root
        self.offset_unit = offset_unit
        self.origin = root.get("origin") or ""
        self.name = clean(root.get("name")) or path.stem
        self.warnings: list[str] = []
        self.unknown: Counter = Counter()
        self.skipped: Counter = Counter()  # reasons a coding was not imported
        self.non_text_codings: Counter = Counter()
        self.codes = CodeTree(path, codebook_name or self.name, True, self.warnings, ours=self.origin == ORIGIN)
        self.users: dict[str, str] = {}
        self.extras: dict = {"users": {}, "selections": {}, "codings": {}, "notes": [], "sets": [], "memo_notes": {}}
        self.notes: dict[str, Element] = {}  # Note GUID -> the Note, text made inline (carried unless made a memo)
        self.memo_notes: set[str] = set()  # GUIDs of Notes that became memos (not carried again)
        self.memos: list[RefiMemo] = []
        self.description = ""
        self.documents: list[Document] = []
        self.doc_ids: set[str] = set()
        self.codings: list[RefiCoding] = []
        self.raw_texts: dict[int, str | None] = {}  # id(TextSource element) -> its raw text, read once
        self.offset_reason = ""

    def detect_positions(self) -> None:
        """Settle ``offset_unit`` (when ``auto``) and how a ``\\r\\n`` counts, with the reason."""
        self.offset_unit, self.offset_reason = detect_offsets(self.root, self.raw_text, self.origin, self.offset_unit)
        self.crlf_two, why = detect_line_endings(self.root, self.raw_text, self.origin, self.offset_unit)
        self.offset_reason += why

    def run(self, sha: str) -> RefiProject:
        self.detect_positions()
        for el in self.root:
            kind = local_name(el)
            if kind == "Users":
                for u in kids(el, "User"):
                    name = clean(u.get("name")) or clean(u.get("id")) or norm_guid(u.get("guid"))
                    self.users[norm_guid(u.get("guid"))] = name
                    if GUID.match(norm_guid(u.get("guid"))):
                        self.extras["users"].setdefault(name, norm_guid(u.get("guid")))
            elif kind == "CodeBook":
                codes = first(el, "Codes")
                if codes is not None:
                    self.codes.top(codes)
            elif kind in CARRIED:
                self.carry(el, kind)
            elif kind == "NoteRef":
                self.note_refs("project", [el])
            elif kind != "Sources":
                self.unknown[kind] += max(len(el), 1)
        for el in kids(self.root, "Sources"):  # after the codes and users they refer to
            for src in el:
                kind = local_name(src)
                if kind == "TextSource":
                    self.text_source(src)
                else:
                    self.unknown[kind] += 1
                    if kind in NON_TEXT:
                        self.non_text_codings[kind] += sum(1 for c in src.iter() if local_name(c) == "Coding")
        self.extras["notes"] = [tostring(el, encoding="unicode") for g, el in self.notes.items()
                                if g not in self.memo_notes]
        self.summarise()
        extras = {**self.extras, **self.codes.extras,
                  "note_refs": {**self.codes.extras["note_refs"], **self.extras.get("note_refs", {})}}
        return RefiProject(
            name=self.name,
            documents=self.documents,
            codebooks=self.codes.codebooks(f"{self.path}", sha),
            codings=self.codings,
            users=list(dict.fromkeys(self.users.values())),
            memos=self._merged_memos(),
            unknown=[f"{k} ({n})" for k, n in sorted(self.unknown.items())],
            warnings=self.warnings,
            guid_map={**self.codes.category_map, **self.codes.code_map},
            origin=self.origin,
            offset_unit=self.offset_unit,
            offset_reason=self.offset_reason,
            description=self.description,
            extras={k: v for k, v in extras.items() if v},
        )

    def carry(self, el: Element, kind: str) -> None:
        """Notes (their text made inline), Sets and the project description, to be written back as they came."""
        if kind == "Description":
            self.description = (el.text or "").strip()
            return
        for item in el:
            if kind == "Notes" and local_name(item) == "Note":
                text = self.raw_text(item)
                if text is None:
                    continue  # raw_text said why
                for child in list(item):
                    if local_name(child) == "PlainTextContent":
                        item.remove(child)
                content = Element(f"{{{item.tag[1:].partition('}')[0]}}}PlainTextContent" if item.tag.startswith("{")
                                  else "PlainTextContent")
                content.text = text
                at = 1 if len(item) and local_name(item[0]) == "Description" else 0
                item.insert(at, content)
                for attr in ("plainTextPath", "richTextPath"):
                    item.attrib.pop(attr, None)
                self.notes[norm_guid(item.get("guid")) or f"#{len(self.notes)}"] = item
            elif kind == "Sets" and local_name(item) == "Set":
                self.extras["sets"].append(tostring(item, encoding="unicode"))

    def summarise(self) -> None:
        if self.unknown:
            self.warnings.append("not imported: " + ", ".join(f"{k} ({n})" for k, n in sorted(self.unknown.items())))
        for kind, n in sorted(self.non_text_codings.items()):
            if n:
                self.warnings.append(f"skipped {n} coding(s) on {kind} (only text codings are imported)")
        for reason, n in sorted(self.skipped.items()):
            self.warnings.append(f"{n} {reason}" + ("" if "imported as" in reason else "; skipped"))


def _root_of(data: bytes, path: Path, what: str, expect: str) -> Element:
    root = parse_xml(data, path, what)
    kind = local_name(root)
    if kind != expect:
        other = {"Project": "a project (.qdpx/.qde)", "CodeBook": "a codebook (.qdc)"}.get(kind, f"<{kind}>")
        raise InputError(path, f"{what} holds {other}, not a REFI-QDA {expect}")
    return root


def read_qdpx(path: str | Path, *, max_member_mb: float = 200, max_total_mb: float = 1000,
              codebook_name: str | None = None, offset_unit: str = "auto") -> RefiProject:
    """Read a REFI-QDA project archive. Raises InputError (one line) on anything unreadable or hostile.

    ``codebook_name`` names the imported codebook (default: the project's name); it seeds the GUIDs of
    imported codes, so pass the name of the codebook the project was exported from to get them back.
    ``offset_unit``: how the file counts positions: ``"codepoint"`` (QualCoder, precode), ``"utf16"`` (NVivo)
    or ``"auto"`` (default: UTF-16 when ``origin`` names NVivo, else the unit under which fewer spans cut a
    word). The unit used and why are in ``RefiProject.offset_unit`` / ``offset_reason``.
    """
    path = Path(path)
    if offset_unit not in OFFSET_UNITS:
        raise InputError(path, f"offsets must be one of {', '.join(OFFSET_UNITS)}, not {offset_unit!r}")
    with SafeZip(path, max_member_mb, max_total_mb) as zipped:
        qde = zipped.find("project.qde")
        if qde is None:
            candidates = [m for m in zipped.members if "/" not in m and m.lower().endswith(".qde")]
            if len(candidates) != 1:
                raise InputError(path, "no project.qde in the archive: not a REFI-QDA project")
            qde = candidates[0]
        data = zipped.read(qde)
        root = _root_of(data, path, qde, "Project")
        return _Reader(path, zipped, root, codebook_name, offset_unit).run(_sha(data))


def read_qdc(path: str | Path, *, max_mb: float = 50, warnings: list[str] | None = None) -> Codebook:
    """Read a REFI-QDA codebook (``.qdc``) into one codebook named after the file.

    The tree rules are those of ``read_qdpx``; a ``.qdc`` holding several precode codebooks is read as one,
    each former codebook becoming a category whose deeper levels are flattened into code names.

    Problems that do not stop the import (renamed duplicates, unnamed codes) go to ``warnings`` if given.
    """
    path = Path(path)
    data = read_bytes(path, max_mb)
    root = _root_of(data, path, path.name, "CodeBook")
    codes_el = first(root, "Codes")
    notes: list[str] = []
    tree = CodeTree(path, clean(path.stem) or "codebook", False, notes, ours=(root.get("origin") or "") == ORIGIN)
    if codes_el is not None:
        tree.top(codes_el)
    books = tree.codebooks(str(path), _sha(data))
    if not books or not books[0].codes:
        raise InputError(path, "the codebook has no codes")
    if warnings is not None:
        warnings.extend(notes)
    return books[0]
