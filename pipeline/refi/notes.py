"""Notes on the way in: Notes referenced from a selection or a coding become memos (their GUIDs and
names kept), the others are carried with their NoteRefs to be written back."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from xml.etree.ElementTree import Element

from .elements import GUID, clean, first, norm_guid, text_of
from .model import RefiMemo, span_key


class NoteReading:
    """The Note handling of :class:`pipeline.refi.read._Reader`, whose ``__init__`` sets this state."""

    root: Element
    users: dict[str, str]  # User GUID -> name
    extras: dict
    skipped: Counter
    notes: dict[str, Element]  # Note GUID -> the Note, text made inline (carried unless made a memo)
    memo_notes: set[str]  # GUIDs of Notes that became memos (not carried again)
    memos: list[RefiMemo]

    def note_refs(self, key: str, refs: list[Element]) -> None:
        if targets := [norm_guid(r.get("targetGUID")) for r in refs if r.get("targetGUID")]:
            self.extras.setdefault("note_refs", {}).setdefault(key, []).extend(targets)

    def _texts_of(self, refs: list[Element]) -> list[str]:
        """The texts of the Notes the NoteRefs point to (Notes without text left out)."""
        notes = (self.notes.get(norm_guid(r.get("targetGUID"))) for r in refs)
        return [t for t in (text_of(first(n, "PlainTextContent")).strip() for n in notes if n is not None) if t]

    def _consume(self, refs: list[Element], key: str) -> None:
        """The Notes behind ``refs`` became a memo under ``key``: keep the first one's GUID and name, carry none."""
        for r in refs:
            guid = norm_guid(r.get("targetGUID"))
            note = self.notes.get(guid)
            if note is None or not text_of(first(note, "PlainTextContent")).strip():
                continue
            if guid not in self.memo_notes and key not in self.extras["memo_notes"] and GUID.match(guid):
                self.extras["memo_notes"][key] = {"guid": guid, "name": clean(note.get("name"))}
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
        who = self.users.get(norm_guid(self.root.get("creatingUserGUID") or self.root.get("modifyingUserGUID")), "unknown")
        self.skipped[f"memos without an author (imported as by '{who}')"] += 1
        return who

    def span_memos(self, refs: list[Element], doc_id: str, start: int, end: int, sel_user: str | None,
                   sel_guid: str) -> list[str]:
        """Notes referenced from a selection: a memo on the span each, by the Note's author. Returns their texts."""
        texts = []
        for r in refs:
            note = self.notes.get(norm_guid(r.get("targetGUID")))
            text = text_of(first(note, "PlainTextContent")).strip() if note is not None else ""
            if note is None or not text:
                continue
            coder = (self.users.get(norm_guid(note.get("creatingUser") or note.get("modifyingUser"))) or sel_user
                     or self.memo_author())
            self._consume([r], span_key(doc_id, start, end, "", coder))
            if GUID.match(sel_guid):
                self.extras["selections"].setdefault(span_key(doc_id, start, end, "", coder), sel_guid)
            created = (note.get("creationDateTime") or note.get("modifiedDateTime") or "").strip() or None
            self.memos.append(RefiMemo(doc_id, start, end, coder, text, created))
            texts.append(text)
        return texts
