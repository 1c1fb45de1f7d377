"""Reading ``.qdpx`` projects and ``.qdc`` codebooks from any REFI-QDA tool, never crashing on the unknown.

What is imported: text sources (``plainTextPath`` into the archive's ``sources/`` folder, or inline
``PlainTextContent``), the code tree, users, and codings on text (``PlainTextSelection`` + ``Coding``);
carried to be written back (``RefiProject.extras``): GUIDs, colours, non-codable levels, Notes, NoteRefs,
Sets and the project description. Everything else (pictures, PDFs, audio, video, variables, cases,
graphs, links) is listed in
``RefiProject.unknown`` with counts and summarised in ``warnings``; codings on those sources are counted and
skipped. Text files outside the archive (``absolute://``, ``relative://``) are never read.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Callable
from xml.etree.ElementTree import Element, tostring

from ..errors import InputError
from ..ingest.decode import read_bytes
from ..ingest.text import parse_transcript
from ..records import Category, Code, Codebook, Document, text_sha
from .model import (
    ORIGIN,
    PATH_SEPARATOR,
    UNIQUE_JOIN,
    RefiCoding,
    RefiMemo,
    RefiProject,
    codebook_guid,
    span_key,
)
from .safety import SafeZip, parse_xml

MAX_DEPTH = 64
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RGB = re.compile(r"^#[0-9A-Fa-f]{6}$")
CARRIED = ("Notes", "Sets", "Description")  # project parts kept as they are (see RefiProject.extras)
OFFSET_UNITS = ("auto", "codepoint", "utf16")
NON_TEXT = ("PictureSource", "PDFSource", "AudioSource", "VideoSource")
_LABEL = re.compile(r"^(Include|Exclude|Example|Note|Question):\s?(.*)$")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _local(el: Element) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return local if ns.startswith("urn:QDA-XML") else tag
    return tag


def _kids(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c) == name]


def _first(el: Element, name: str) -> Element | None:
    return next((c for c in el if _local(c) == name), None)


def _g(guid: str | None) -> str:
    """GUIDs compare case-, brace- and hyphen-insensitively (the REFI spec's own examples use U+2010)."""
    return (guid or "").strip().strip("{}").replace("\u2010", "-").lower()


def _clean(s: str | None) -> str:
    return " ".join((s or "").split())


def _text_of(el: Element | None) -> str:
    return (el.text or "") if el is not None else ""


def parse_description(text: str, kind: str) -> dict:
    """Split a REFI ``<Description>`` into precode's fields (see ``write.compose_description``)."""
    labels = {"Include", "Exclude", "Example", "Note"} if kind == "code" else {"Question"}
    rest: list[str] = []
    found: dict[str, list[str]] = {k: [] for k in labels}
    for line in text.splitlines():
        m = _LABEL.match(line.strip())
        if m and m.group(1) in labels and _clean(m.group(2)):
            found[m.group(1)].append(_clean(m.group(2)))
        else:
            rest.append(line)
    out: dict = {"description": "\n".join(" ".join(line.split()) for line in rest).strip()}
    if kind == "code":
        out.update(inclusion=" ".join(found["Include"]), exclusion=" ".join(found["Exclude"]),
                   examples=tuple(found["Example"]), note=" ".join(found["Note"]))
    else:
        out["questions"] = tuple(found["Question"])
    return out


class _Codes:
    """Turns a REFI code tree into precode codebooks (see the package docstring for the rules)."""

    def __init__(self, path: Path, default: str, split: bool, warnings: list[str], ours: bool = False):
        self.path, self.default, self.split, self.warnings = path, default, split, warnings
        self.ours = ours  # written by precode: names made unique with their parents' names are undone
        self.extras: dict = {"categories": {}, "colours": {}, "note_refs": {}}
        self.used_guids: set[str] = set()
        self.parts: dict[str, dict] = {}
        self.code_map: dict[str, str] = {}  # file GUID -> precode code GUID
        self.category_map: dict[str, str] = {}  # file GUID of a non-codable node -> precode category GUID
        self.not_codable: set[str] = set()

    def _part(self, name: str) -> dict:
        return self.parts.setdefault(name, {"cats": [], "codes": [], "keys": set(), "desc": ""})

    def _name(self, el: Element, ancestors: tuple[str, ...] = ()) -> str:
        name = _clean(el.get("name"))
        if not name:
            name = f"(unnamed {_g(el.get('guid'))[:8]})"
            self.warnings.append(f"a code without a name was imported as '{name}'")
        if self.ours:  # undo write.make_names_unique: "Parent: Name" under Parent is Name
            for depth in range(len(ancestors), 0, -1):
                prefix = UNIQUE_JOIN.join(ancestors[-depth:]) + UNIQUE_JOIN
                if name.startswith(prefix) and name[len(prefix):].strip():
                    return name[len(prefix):]
        return name

    def _unique(self, part: dict, scope: str, name: str, what: str) -> str:
        base, n = name, 1
        while (scope, name.casefold()) in part["keys"]:
            n += 1
            name = f"{base} ({n})"
        if n > 1:
            self.warnings.append(f"{what} '{base}' appears twice{f' in {scope!r}' if scope else ''}; "
                                 f"the second was renamed '{name}'")
        part["keys"].add((scope, name.casefold()))
        return name

    def _keep(self, el: Element, guid: str) -> None:
        """Colour and NoteRefs of a code or category, under the GUID precode writes it with."""
        if RGB.match((el.get("color") or "").strip()):
            self.extras["colours"][guid] = el.get("color").strip().upper()
        if refs := [_g(r.get("targetGUID")) for r in _kids(el, "NoteRef") if r.get("targetGUID")]:
            self.extras["note_refs"][f"code:{guid}"] = refs

    def _own_guid(self, el: Element) -> str | None:
        guid = _g(el.get("guid"))
        if GUID.match(guid) and guid not in self.used_guids:
            self.used_guids.add(guid)
            return guid
        return None

    def _add_code(self, cb: str, el: Element, name: str, category: str | None) -> None:
        part = self._part(cb)
        name = self._unique(part, f"{category or ''}", name, "code")
        code = Code(name=name, category=category, **parse_description(_text_of(_first(el, "Description")), "code"))
        kept = self._own_guid(el)
        if kept and kept != code.guid(cb):  # an explicit GUID only where precode would not derive the same one
            code = replace(code, source_guid=kept)
        part["codes"].append(code)
        self.code_map[_g(el.get("guid"))] = code.guid(cb)
        self._keep(el, code.guid(cb))

    @staticmethod
    def _codable(el: Element) -> bool:
        return (el.get("isCodable") or "true").strip().lower() not in ("false", "0")

    def _walk(self, el: Element, cb: str, category: str | None, prefix: list[str], depth: int,
              ancestors: tuple[str, ...]) -> None:
        if depth > MAX_DEPTH:
            raise InputError(self.path, f"codes are nested deeper than {MAX_DEPTH} levels; refused")
        for child in _kids(el, "Code"):
            full = prefix + [self._name(child, ancestors)]
            if self._codable(child):
                self._add_code(cb, child, PATH_SEPARATOR.join(full), category)
            else:  # a non-codable level inside the tree: its codes are named through it; kept to be written back
                self.not_codable.add(_g(child.get("guid")))
                kept = self._own_guid(child)
                level = {"guid": kept} if kept else {}
                if description := _text_of(_first(child, "Description")).strip():
                    level["description"] = description
                self.extras.setdefault("levels", {})[f"{cb}\x00{category or ''}\x00{PATH_SEPARATOR.join(full)}"] = level
                if kept:
                    self._keep(child, kept)
            self._walk(child, cb, category, full, depth + 1, ancestors + (full[-1],))

    def top(self, codes: Element, cb: str | None = None, depth: int = 0, ancestors: tuple[str, ...] = ()) -> None:
        cb = cb or self.default
        for node in _kids(codes, "Code"):
            name, guid = self._name(node, ancestors), _g(node.get("guid"))
            if self.split and depth == 0 and not self._codable(node) and guid == codebook_guid(name):
                self.not_codable.add(guid)
                self._part(name)["desc"] = _clean(_text_of(_first(node, "Description")))
                self.top(node, name, depth + 1, ancestors + (name,))
            elif self._codable(node):
                self._add_code(cb, node, name, None)
                self._walk(node, cb, None, [name], depth + 1, ancestors + (name,))
            else:
                part = self._part(cb)
                name = self._unique(part, "\x00categories", name, "category")
                cat = Category(name, **parse_description(_text_of(_first(node, "Description")), "category"))
                part["cats"].append(cat)
                self.not_codable.add(guid)
                kept = self._own_guid(node)
                if kept and kept != cat.guid(cb):
                    self.extras["categories"][f"{cb}\x00{name}"] = kept
                self.category_map[guid] = kept or cat.guid(cb)
                self._keep(node, kept or cat.guid(cb))
                self._walk(node, cb, name, [], depth + 1, ancestors + (name,))

    def codebooks(self, source: str, sha: str) -> list[Codebook]:
        return [
            Codebook(name=name, codes=tuple(p["codes"]), categories=tuple(p["cats"]), description=p["desc"],
                     path=source, sha256=sha)
            for name, p in self.parts.items() if p["codes"] or p["cats"]
        ]


def _decode(data: bytes) -> tuple[str, str | None]:
    """Plain-text source bytes -> (text without BOM, note or None)."""
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "not UTF-8; read as Windows-1252"


def _fold_newlines(raw: str, crlf_counts_two: bool) -> tuple[str, Callable[[int], int]]:
    """``\\r\\n``/``\\r`` -> ``\\n``, and a map from positions in ``raw`` to positions in the result."""
    if "\r" not in raw:
        return raw, lambda p: p
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    if not crlf_counts_two:
        return text, lambda p: p
    removed = [m.start() for m in re.finditer("\r\n", raw)]
    return text, lambda p: p - bisect_left(removed, p)


def _utf16_to_codepoints(raw: str) -> Callable[[int], int]:
    if all(ord(ch) < 0x10000 for ch in raw):
        return lambda p: p
    table: list[int] = []
    for i, ch in enumerate(raw):
        table.extend((i, i) if ord(ch) > 0xFFFF else (i,))
    table.append(len(raw))
    return lambda p: table[p] if 0 <= p < len(table) else -1


def _misplaced(text: str, start: int, end: int) -> int:
    """0 when ``text[start:end]`` starts and ends on word boundaries, else the number of ends that do not
    (2 when the span is outside the text)."""
    if not 0 <= start < end <= len(text):
        return 2
    cut_start = start > 0 and text[start - 1].isalnum() and text[start].isalnum()
    cut_end = end < len(text) and text[end - 1].isalnum() and text[end].isalnum()
    return int(cut_start) + int(cut_end)


def _pos(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None


class _Reader:
    def __init__(self, path: Path, zipped: SafeZip, root: Element, codebook_name: str | None, offset_unit: str):
        self.path, self.zip, self.root = path, zipped, root
        self.offset_unit = offset_unit
        self.origin = root.get("origin") or ""
        self.name = _clean(root.get("name")) or path.stem
        self.warnings: list[str] = []
        self.unknown: Counter = Counter()
        self.skipped: Counter = Counter()  # reasons a coding was not imported
        self.non_text_codings: Counter = Counter()
        self.codes = _Codes(path, codebook_name or self.name, True, self.warnings, ours=self.origin == ORIGIN)
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

    def raw_text(self, src: Element) -> str | None:
        key = id(src)
        if key not in self.raw_texts:
            name = _clean(src.get("name")) or _g(src.get("guid")) or "unnamed"
            raw = self.source_text(src, f"'{name}'")
            self.raw_texts[key] = raw[1:] if raw and raw.startswith("\ufeff") else raw
        return self.raw_texts[key]

    def detect_offsets(self) -> None:
        """Settle ``offset_unit`` when it is ``auto``: NVivo (by ``origin``) counts UTF-16 code units; otherwise
        the unit under which fewer coded spans start or end mid-word (or fall outside their text) wins."""
        if self.offset_unit != "auto":
            self.offset_reason = "as asked"
            return
        if "NVIVO" in self.origin.upper():
            self.offset_unit, self.offset_reason = "utf16", f"the file was written by {self.origin}"
            return
        bad = {"codepoint": 0, "utf16": 0}
        spans = 0
        for sources in _kids(self.root, "Sources"):
            for src in _kids(sources, "TextSource"):
                raw = self.raw_text(src)
                if not raw or all(ord(ch) < 0x10000 for ch in raw):
                    continue  # without characters beyond U+FFFF both units give the same positions
                to16 = _utf16_to_codepoints(raw)
                for sel in _kids(src, "PlainTextSelection"):
                    start, end = _pos(sel.get("startPosition")), _pos(sel.get("endPosition"))
                    if start is None or end is None or to16(start) == start and to16(end) == end:
                        continue
                    spans += 1
                    bad["codepoint"] += _misplaced(raw, start, end)
                    bad["utf16"] += _misplaced(raw, to16(start), to16(end))
        if spans and bad["utf16"] < bad["codepoint"]:
            self.offset_unit = "utf16"
            self.offset_reason = (f"of {spans} span(s) after characters beyond U+FFFF (e.g. emoji), {bad['codepoint']} "
                                  f"fall mid-word or outside the text as code points, {bad['utf16']} as UTF-16 units")
        else:
            self.offset_unit = "codepoint"
            self.offset_reason = (f"of {spans} span(s) after characters beyond U+FFFF, {bad['codepoint']} fall mid-word "
                                  f"as code points, {bad['utf16']} as UTF-16 units" if spans else
                                  "no text has characters beyond U+FFFF, so both units agree")

    def detect_line_endings(self) -> None:
        """Does a ``\\r\\n`` count as one position or two? ATLAS.ti (by ``origin``) counts one, most tools two;
        where the spans of the file fall mid-word under that rule but not under the other, the other wins."""
        self.crlf_two = "ATLAS" not in self.origin.upper()
        bad = {True: 0, False: 0}
        spans = 0
        for sources in _kids(self.root, "Sources"):
            for src in _kids(sources, "TextSource"):
                raw = self.raw_text(src)
                if not raw or "\r\n" not in raw:
                    continue
                to_cp = _utf16_to_codepoints(raw) if self.offset_unit == "utf16" else (lambda p: p)
                folded = {two: _fold_newlines(raw, two) for two in (True, False)}
                for sel in _kids(src, "PlainTextSelection"):
                    start, end = _pos(sel.get("startPosition")), _pos(sel.get("endPosition"))
                    if start is None or end is None or to_cp(start) < 0 or to_cp(end) < 0:
                        continue
                    at = {two: (f(to_cp(start)), f(to_cp(end))) for two, (_, f) in folded.items()}
                    if at[True] == at[False]:
                        continue
                    spans += 1
                    for two, (text, _) in folded.items():
                        bad[two] += _misplaced(text, *at[two])
        if spans and bad[not self.crlf_two] < bad[self.crlf_two]:
            self.crlf_two = not self.crlf_two
            self.offset_reason += (f"; line breaks (CR LF) counted as {2 if self.crlf_two else 1} position(s): of "
                                   f"{spans} span(s) after one, {bad[not self.crlf_two]} fall mid-word the other way, "
                                   f"{bad[self.crlf_two]} this way")

    def run(self, sha: str) -> RefiProject:
        self.detect_offsets()
        self.detect_line_endings()
        for el in self.root:
            kind = _local(el)
            if kind == "Users":
                for u in _kids(el, "User"):
                    name = _clean(u.get("name")) or _clean(u.get("id")) or _g(u.get("guid"))
                    self.users[_g(u.get("guid"))] = name
                    if GUID.match(_g(u.get("guid"))):
                        self.extras["users"].setdefault(name, _g(u.get("guid")))
            elif kind == "CodeBook":
                codes = _first(el, "Codes")
                if codes is not None:
                    self.codes.top(codes)
            elif kind in CARRIED:
                self.carry(el, kind)
            elif kind == "NoteRef":
                self.note_refs("project", [el])
            elif kind != "Sources":
                self.unknown[kind] += max(len(el), 1)
        for el in _kids(self.root, "Sources"):  # after the codes and users they refer to
            for src in el:
                kind = _local(src)
                if kind == "TextSource":
                    self.text_source(src)
                else:
                    self.unknown[kind] += 1
                    if kind in NON_TEXT:
                        self.non_text_codings[kind] += sum(1 for c in src.iter() if _local(c) == "Coding")
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

    def note_refs(self, key: str, refs: list[Element]) -> None:
        if targets := [_g(r.get("targetGUID")) for r in refs if r.get("targetGUID")]:
            self.extras.setdefault("note_refs", {}).setdefault(key, []).extend(targets)

    def carry(self, el: Element, kind: str) -> None:
        """Notes (their text made inline), Sets and the project description, to be written back as they came."""
        if kind == "Description":
            self.description = (el.text or "").strip()
            return
        for item in el:
            if kind == "Notes" and _local(item) == "Note":
                text = self.raw_text(item)
                if text is None:
                    continue  # raw_text said why
                for child in list(item):
                    if _local(child) == "PlainTextContent":
                        item.remove(child)
                content = Element(f"{{{item.tag[1:].partition('}')[0]}}}PlainTextContent" if item.tag.startswith("{")
                                  else "PlainTextContent")
                content.text = text
                at = 1 if len(item) and _local(item[0]) == "Description" else 0
                item.insert(at, content)
                for attr in ("plainTextPath", "richTextPath"):
                    item.attrib.pop(attr, None)
                self.notes[_g(item.get("guid")) or f"#{len(self.notes)}"] = item
            elif kind == "Sets" and _local(item) == "Set":
                self.extras["sets"].append(tostring(item, encoding="unicode"))

    def source_text(self, src: Element, label: str) -> str | None:
        content = _first(src, "PlainTextContent")
        if content is not None:
            return content.text or ""
        plain = (src.get("plainTextPath") or "").strip()
        if not plain:
            rich = " (it has only rich text, which is not read)" if src.get("richTextPath") else ""
            self.warnings.append(f"text source {label} has no plain text{rich}; skipped")
            return None
        if plain.lower().startswith("internal://"):
            fname = plain[len("internal://"):]
        elif "://" not in plain and self.zip.find(f"sources/{plain}") is not None:
            fname = plain  # a bare file name (qc 1.3 writes them) that is in the archive's sources/: read it
            self.warnings.append(f"text source {label}: plainTextPath '{plain}' has no internal:// (the standard "
                                 "asks for it); read from the archive's sources/")
        else:
            self.warnings.append(f"text source {label} lives outside the archive ({plain}); not read, skipped")
            return None
        if not fname or "/" in fname or "\\" in fname or fname in (".", ".."):
            self.warnings.append(f"text source {label} has an unsafe path ({plain}); skipped")
            return None
        member = self.zip.find(f"sources/{fname}")
        if member is None:
            self.warnings.append(f"text source {label}: sources/{fname} is missing from the archive; skipped")
            return None
        text, note = _decode(self.zip.read(member))
        if note:
            self.warnings.append(f"text source {label}: {note}")
        return text

    def text_source(self, src: Element) -> None:
        name = _clean(src.get("name")) or _g(src.get("guid")) or "unnamed"
        raw = self.raw_text(src)
        if raw is None:
            if n := sum(1 for c in src.iter() if _local(c) == "Coding"):
                self.skipped["codings on text sources that were not read"] += n
            return
        to_cp = _utf16_to_codepoints(raw) if self.offset_unit == "utf16" else (lambda p: p)
        text, fold = _fold_newlines(raw, crlf_counts_two=self.crlf_two)
        doc_id, n = name, 1
        while doc_id in self.doc_ids:
            n += 1
            doc_id = f"{name} ({n})"
        if n > 1:
            self.warnings.append(f"two text sources are named '{name}'; the second was renamed '{doc_id}'")
        if not text.strip():
            self.warnings.append(f"text source '{doc_id}' is empty; skipped")
            if n := sum(1 for c in src.iter() if _local(c) == "Coding"):
                self.skipped["codings on empty text sources"] += n
            return
        self.doc_ids.add(doc_id)
        turns, meta = parse_transcript(text)
        if not turns:
            self.warnings.append(f"text source '{doc_id}' has no text to segment")
        meta["refi_guid"] = _g(src.get("guid"))
        if description := _clean(_text_of(_first(src, "Description"))):
            meta["description"] = description
        self.documents.append(Document(id=doc_id, path=f"{self.path}#{doc_id}", format="qdpx", sha256=text_sha(text),
                                       text=text, turns=turns, metadata=meta))
        out_of_range = 0
        for el in src:
            kind = _local(el)
            if kind == "PlainTextSelection":
                out_of_range += self.selection(el, doc_id, text, to_cp, fold)
            elif kind == "Coding":
                self.skipped["whole-document codings"] += 1
            elif kind == "NoteRef":
                self.note_refs(f"source:{meta['refi_guid']}", [el])
            elif kind not in ("Description", "PlainTextContent"):
                self.unknown[f"TextSource/{kind}"] += 1
        if out_of_range and self.offset_unit != "utf16" and any(ord(ch) > 0xFFFF for ch in raw):
            self.warnings.append(f"text source '{doc_id}': positions past the end of a text with emoji; the tool "
                                 "may count UTF-16 units (try --offsets utf16)")

    def selection(self, sel: Element, doc_id: str, text: str, to_cp: Callable, fold: Callable) -> int:
        codings = _kids(sel, "Coding")
        description = _text_of(_first(sel, "Description")).strip()
        sel_refs = _kids(sel, "NoteRef")
        if not codings and not description and not self._texts_of(sel_refs):
            self.skipped["selections without a code or a memo (annotations)"] += 1
            return 0
        start, end = _pos(sel.get("startPosition")), _pos(sel.get("endPosition"))
        if start is None or end is None or to_cp(start) < 0 or to_cp(end) < 0:
            self.skipped["selections with unreadable positions"] += max(len(codings), 1)
            return 0
        start, end = fold(to_cp(start)), fold(to_cp(end))
        if not 0 <= start < end <= len(text):
            self.skipped["selections outside their text or empty"] += max(len(codings), 1)
            return 1
        sel_guid = _g(sel.get("guid"))
        if GUID.match(sel_guid):
            self.extras["selections"].setdefault(span_key(doc_id, start, end), sel_guid)
        sel_user = self.users.get(_g(sel.get("creatingUser") or sel.get("modifyingUser")))
        from_notes = self.span_memos(sel_refs, doc_id, start, end, sel_user, sel_guid)
        if GUID.match(sel_guid):  # NoteRefs to Notes that did not become memos go back where they were
            self.note_refs(f"selection:{sel_guid}", [r for r in sel_refs if _g(r.get("targetGUID")) not in self.memo_notes])
        if not codings:  # a comment on the span (ATLAS.ti writes quotation comments so; precode the memo's text too)
            if description and description not in from_notes:
                if GUID.match(sel_guid):
                    who = sel_user or self.users.get(_g(self.root.get("creatingUserGUID")), "unknown")
                    self.extras["selections"].setdefault(span_key(doc_id, start, end, "", who), sel_guid)
                self.memos.append(RefiMemo(doc_id, start, end, sel_user or self.memo_author(), description,
                                           (sel.get("creationDateTime") or "").strip() or None))
            return 0
        for coding in codings:
            ref = _first(coding, "CodeRef")
            target = _g(ref.get("targetGUID") if ref is not None else None)
            if target in self.codes.not_codable:
                self.skipped["codings on a category (not codable)"] += 1
                continue
            if target not in self.codes.code_map:
                self.skipped["codings referring to no code in the codebook"] += 1
                continue
            who = _g(coding.get("creatingUser") or sel.get("creatingUser") or sel.get("modifyingUser"))
            coder = self.users.get(who)
            if coder is None:
                self.skipped["codings by an unknown user (imported as 'unknown')"] += 1
                coder = "unknown"
            created = coding.get("creationDateTime") or sel.get("creationDateTime")
            key = span_key(doc_id, start, end, self.codes.code_map[target], coder)
            refs = _kids(coding, "NoteRef")
            memo = "\n".join(dict.fromkeys(t for t in [description, *self._texts_of(refs)] if t))
            self._consume(refs, key)
            self.codings.append(RefiCoding(doc_id, start, end, self.codes.code_map[target], coder,
                                           created.strip() if created else None, memo))
            if GUID.match(_g(coding.get("guid"))):
                self.extras["codings"].setdefault(key, _g(coding.get("guid")))
            if GUID.match(sel_guid):  # NVivo writes a selection per coding: each keeps its own GUID
                self.extras["selections"].setdefault(key, sel_guid)
        return 0

    def _texts_of(self, refs: list[Element]) -> list[str]:
        """The texts of the Notes the NoteRefs point to (Notes without text left out)."""
        notes = (self.notes.get(_g(r.get("targetGUID"))) for r in refs)
        return [t for t in (_text_of(_first(n, "PlainTextContent")).strip() for n in notes if n is not None) if t]

    def _consume(self, refs: list[Element], key: str) -> None:
        """The Notes behind ``refs`` became a memo under ``key``: keep the first one's GUID and name, carry none."""
        for r in refs:
            guid = _g(r.get("targetGUID"))
            note = self.notes.get(guid)
            if note is None or not _text_of(_first(note, "PlainTextContent")).strip():
                continue
            if guid not in self.memo_notes and key not in self.extras["memo_notes"] and GUID.match(guid):
                self.extras["memo_notes"][key] = {"guid": guid, "name": _clean(note.get("name"))}
            self.memo_notes.add(guid)

    def _merged_memos(self) -> list[RefiMemo]:
        """One memo per span and author (precode keeps one): several are joined, a line each."""
        merged: dict[tuple, RefiMemo] = {}
        for m in self.memos:
            key = (m.document_id, m.start, m.end, m.coder)
            if key in merged and m.text not in merged[key].text.split("\n"):
                merged[key] = replace(merged[key], text=f"{merged[key].text}\n{m.text}")
            merged.setdefault(key, m)
        return list(merged.values())

    def memo_author(self) -> str:
        """Who wrote a memo that names no author: the project's creator (counted in the warnings), else 'unknown'."""
        who = self.users.get(_g(self.root.get("creatingUserGUID") or self.root.get("modifyingUserGUID")), "unknown")
        self.skipped[f"memos without an author (imported as by '{who}')"] += 1
        return who

    def span_memos(self, refs: list[Element], doc_id: str, start: int, end: int, sel_user: str | None,
                   sel_guid: str) -> list[str]:
        """Notes referenced from a selection: a memo on the span each, by the Note's author. Returns their texts."""
        texts = []
        for r in refs:
            note = self.notes.get(_g(r.get("targetGUID")))
            text = _text_of(_first(note, "PlainTextContent")).strip() if note is not None else ""
            if not text:
                continue
            coder = (self.users.get(_g(note.get("creatingUser") or note.get("modifyingUser"))) or sel_user
                     or self.memo_author())
            self._consume([r], span_key(doc_id, start, end, "", coder))
            if GUID.match(sel_guid):
                self.extras["selections"].setdefault(span_key(doc_id, start, end, "", coder), sel_guid)
            created = (note.get("creationDateTime") or note.get("modifiedDateTime") or "").strip() or None
            self.memos.append(RefiMemo(doc_id, start, end, coder, text, created))
            texts.append(text)
        return texts

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
    kind = _local(root)
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
    codes_el = _first(root, "Codes")
    notes: list[str] = []
    tree = _Codes(path, _clean(path.stem) or "codebook", False, notes, ours=(root.get("origin") or "") == ORIGIN)
    if codes_el is not None:
        tree.top(codes_el)
    books = tree.codebooks(str(path), _sha(data))
    if not books or not books[0].codes:
        raise InputError(path, "the codebook has no codes")
    if warnings is not None:
        warnings.extend(notes)
    return books[0]
