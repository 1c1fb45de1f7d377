"""Text sources on the way in: their text (inside the archive only), a document each, and the selections
on it as codings (or as memos on the span)."""

from __future__ import annotations

import codecs
from collections import Counter
from pathlib import Path
from typing import Callable
from xml.etree.ElementTree import Element

from ..ingest.text import parse_transcript
from ..records import Document, text_sha
from .codetree import CodeTree
from .elements import GUID, clean, first, kids, local_name, norm_guid, position, text_of
from .model import RefiCoding, RefiMemo, span_key
from .notes import NoteReading
from .positions import fold_newlines, utf16_to_codepoints
from .safety import SafeZip


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


class SourceReading(NoteReading):
    """The text-source handling of :class:`pipeline.refi.read._Reader`, whose ``__init__`` sets this state."""

    path: Path
    zip: SafeZip
    warnings: list[str]
    unknown: Counter
    codes: CodeTree
    offset_unit: str
    crlf_two: bool
    documents: list[Document]
    doc_ids: set[str]
    codings: list[RefiCoding]
    raw_texts: dict[int, str | None]  # id(TextSource element) -> its raw text, read once

    def raw_text(self, src: Element) -> str | None:
        key = id(src)
        if key not in self.raw_texts:
            name = clean(src.get("name")) or norm_guid(src.get("guid")) or "unnamed"
            raw = self.source_text(src, f"'{name}'")
            self.raw_texts[key] = raw[1:] if raw and raw.startswith("\ufeff") else raw
        return self.raw_texts[key]

    def source_text(self, src: Element, label: str) -> str | None:
        content = first(src, "PlainTextContent")
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
        name = clean(src.get("name")) or norm_guid(src.get("guid")) or "unnamed"
        raw = self.raw_text(src)
        if raw is None:
            if n := sum(1 for c in src.iter() if local_name(c) == "Coding"):
                self.skipped["codings on text sources that were not read"] += n
            return
        to_cp = utf16_to_codepoints(raw) if self.offset_unit == "utf16" else (lambda p: p)
        text, fold = fold_newlines(raw, crlf_counts_two=self.crlf_two)
        doc_id, n = name, 1
        while doc_id in self.doc_ids:
            n += 1
            doc_id = f"{name} ({n})"
        if n > 1:
            self.warnings.append(f"two text sources are named '{name}'; the second was renamed '{doc_id}'")
        if not text.strip():
            self.warnings.append(f"text source '{doc_id}' is empty; skipped")
            if n := sum(1 for c in src.iter() if local_name(c) == "Coding"):
                self.skipped["codings on empty text sources"] += n
            return
        self.doc_ids.add(doc_id)
        turns, meta = parse_transcript(text)
        if not turns:
            self.warnings.append(f"text source '{doc_id}' has no text to segment")
        meta["refi_guid"] = norm_guid(src.get("guid"))
        if description := clean(text_of(first(src, "Description"))):
            meta["description"] = description
        self.documents.append(Document(id=doc_id, path=f"{self.path}#{doc_id}", format="qdpx", sha256=text_sha(text),
                                       text=text, turns=turns, metadata=meta))
        out_of_range = 0
        for el in src:
            kind = local_name(el)
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
        codings = kids(sel, "Coding")
        description = text_of(first(sel, "Description")).strip()
        sel_refs = kids(sel, "NoteRef")
        if not codings and not description and not self._texts_of(sel_refs):
            self.skipped["selections without a code or a memo (annotations)"] += 1
            return 0
        start, end = position(sel.get("startPosition")), position(sel.get("endPosition"))
        if start is None or end is None or to_cp(start) < 0 or to_cp(end) < 0:
            self.skipped["selections with unreadable positions"] += max(len(codings), 1)
            return 0
        start, end = fold(to_cp(start)), fold(to_cp(end))
        if not 0 <= start < end <= len(text):
            self.skipped["selections outside their text or empty"] += max(len(codings), 1)
            return 1
        sel_guid = norm_guid(sel.get("guid"))
        if GUID.match(sel_guid):
            self.extras["selections"].setdefault(span_key(doc_id, start, end), sel_guid)
        sel_user = self.users.get(norm_guid(sel.get("creatingUser") or sel.get("modifyingUser")))
        from_notes = self.span_memos(sel_refs, doc_id, start, end, sel_user, sel_guid)
        if GUID.match(sel_guid):  # NoteRefs to Notes that did not become memos go back where they were
            self.note_refs(f"selection:{sel_guid}", [r for r in sel_refs if norm_guid(r.get("targetGUID")) not in self.memo_notes])
        if not codings:  # a comment on the span (ATLAS.ti writes quotation comments so; precode the memo's text too)
            if description and description not in from_notes:
                if GUID.match(sel_guid):
                    who = sel_user or self.users.get(norm_guid(self.root.get("creatingUserGUID")), "unknown")
                    self.extras["selections"].setdefault(span_key(doc_id, start, end, "", who), sel_guid)
                self.memos.append(RefiMemo(doc_id, start, end, sel_user or self.memo_author(), description,
                                           (sel.get("creationDateTime") or "").strip() or None))
            return 0
        for coding in codings:
            ref = first(coding, "CodeRef")
            target = norm_guid(ref.get("targetGUID") if ref is not None else None)
            if target in self.codes.not_codable:
                self.skipped["codings on a category (not codable)"] += 1
                continue
            if target not in self.codes.code_map:
                self.skipped["codings referring to no code in the codebook"] += 1
                continue
            who = norm_guid(coding.get("creatingUser") or sel.get("creatingUser") or sel.get("modifyingUser"))
            coder = self.users.get(who)
            if coder is None:
                self.skipped["codings by an unknown user (imported as 'unknown')"] += 1
                coder = "unknown"
            created = coding.get("creationDateTime") or sel.get("creationDateTime")
            key = span_key(doc_id, start, end, self.codes.code_map[target], coder)
            refs = kids(coding, "NoteRef")
            memo = "\n".join(dict.fromkeys(t for t in [description, *self._texts_of(refs)] if t))
            self._consume(refs, key)
            self.codings.append(RefiCoding(doc_id, start, end, self.codes.code_map[target], coder,
                                           created.strip() if created else None, memo))
            if GUID.match(norm_guid(coding.get("guid"))):
                self.extras["codings"].setdefault(key, norm_guid(coding.get("guid")))
            if GUID.match(sel_guid):  # NVivo writes a selection per coding: each keeps its own GUID
                self.extras["selections"].setdefault(key, sel_guid)
        return 0
