"""Writing ``.qdpx`` projects and ``.qdc`` codebooks. Deterministic: same records, same bytes."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from lxml import etree as ET

from ..errors import InputError
from ..private import write_private
from ..records import CODE_NAMESPACE, Category, Code, Codebook
from .model import (
    CODEBOOK_NS,
    MACHINE_USER,
    ORIGIN,
    PATH_SEPARATOR,
    PROJECT_NS,
    UNIQUE_JOIN,
    RefiCoding,
    RefiMemo,
    RefiProject,
    codebook_guid,
    memo_note_guid,
    selection_guid,
    source_guid,
    span_key,
    user_guid,
)

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed member timestamps: the zip is byte-identical across runs
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (control characters, lone surrogates)."""
    return _NOT_XML.sub("", text)


def kept_guid(value: object, fallback: str) -> str:
    """A GUID kept from an imported file when it is one, else precode's own."""
    return value if isinstance(value, str) and _GUID.match(value) else fallback


def safe_name(name: str) -> str:
    """A source name with no path in it: separators and ``.``/``..`` parts go (``../../x`` -> ``x``)."""
    parts = [p.strip() for p in re.split(r"[\\/]+", name)]
    return " - ".join(p for p in parts if p and p.strip(".")) or "source"


def _note_refs(ns: str, el: ET._Element, extras: dict, key: str) -> None:
    for target in extras.get("note_refs", {}).get(key, []):
        if _GUID.match(target):
            ET.SubElement(el, _q(ns, "NoteRef"), {"targetGUID": target})


def compose_description(item: Code | Category) -> str:
    """The REFI ``<Description>`` of a code or category: its definition plus labelled lines."""
    lines = [item.description] if item.description else []
    if isinstance(item, Code):
        lines += [f"Include: {item.inclusion}"] if item.inclusion else []
        lines += [f"Exclude: {item.exclusion}"] if item.exclusion else []
        lines += [f"Example: {e}" for e in item.examples]
        lines += [f"Note: {item.note}"] if item.note else []
    else:
        lines += [f"Question: {q}" for q in item.questions]
    return _x("\n".join(lines))


def xsd_datetime(value: str, path: str | Path) -> str:
    """ISO date-time -> xsd:dateTime (UTC with ``Z`` when the value has a zone, none when it has not)."""
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(path, f"date '{value}' is not an ISO date-time (e.g. 2024-05-01T10:30:00Z)") from None
    if dt.tzinfo is not None:
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def _element(ns: str, tag: str, attrs: dict[str, str] | None = None) -> ET._Element:
    return ET.Element(_q(ns, tag), attrs or {}, nsmap={None: ns})


def _code_element(ns: str, guid: str, name: str, codable: bool, description: str, extras: dict | None = None
                  ) -> ET._Element:
    el = _element(ns, "Code", {"guid": guid, "name": _x(name), "isCodable": "true" if codable else "false"})
    extras = extras or {}
    if colour := extras.get("colours", {}).get(guid):
        el.set("color", colour)
    if description:
        ET.SubElement(el, _q(ns, "Description")).text = description
    _note_refs(ns, el, extras, f"code:{guid}")
    return el


def _codes_of(ns: str, cb: Codebook, codes: list[Code], extras: dict, category: str | None = None
              ) -> list[ET._Element]:
    """Code elements for codes of one category; ``"A > B"`` nests under ``"A"`` when ``"A"`` exists, as a code
    or as a kept non-codable level (``extras["levels"]``, from an imported tree)."""
    code_names = {c.name for c in codes}
    prefix = f"{cb.name}\x00{category or ''}\x00"
    levels = {k[len(prefix):]: v for k, v in sorted(extras.get("levels", {}).items())
              if k.startswith(prefix) and k[len(prefix):] not in code_names and isinstance(v, dict)}
    names = code_names | set(levels)
    elements: dict[str, ET._Element] = {}
    top_holder = _element(ns, "Codes")

    def parent_and_label(name: str) -> tuple[str | None, str]:
        parent = name.rsplit(PATH_SEPARATOR, 1)[0] if PATH_SEPARATOR in name else None
        return (parent, name.rsplit(PATH_SEPARATOR, 1)[1]) if parent in names else (None, name)

    for name, level in levels.items():
        guid = kept_guid(level.get("guid"), str(uuid.uuid5(CODE_NAMESPACE, f"{cb.name}/{category or ''}/{name}/level")))
        elements[name] = _code_element(ns, guid, parent_and_label(name)[1], False, _x(level.get("description", "")),
                                       extras)
    for code in codes:
        elements[code.name] = _code_element(ns, code.guid(cb.name), parent_and_label(code.name)[1], True,
                                            compose_description(code), extras)
    for name in [*levels, *(c.name for c in codes)]:
        parent = parent_and_label(name)[0]
        (elements[parent] if parent else top_holder).append(elements[name])
    return list(top_holder)


def _category_guid(cb: Codebook, name: str, extras: dict) -> str:
    return kept_guid(extras.get("categories", {}).get(f"{cb.name}\x00{name}"), Category(name).guid(cb.name))


def _codebook_elements(ns: str, cb: Codebook, extras: dict) -> list[ET._Element]:
    out = []
    for cat in cb.categories:
        el = _code_element(ns, _category_guid(cb, cat.name, extras), cat.name, False, compose_description(cat), extras)
        el.extend(_codes_of(ns, cb, [c for c in cb.codes if c.category == cat.name], extras, cat.name))
        out.append(el)
    known = {cat.name for cat in cb.categories}
    stray = sorted({c.category for c in cb.codes if c.category and c.category not in known})
    for name in stray:  # a code whose category has no Category record: make the parent anyway
        el = _code_element(ns, _category_guid(cb, name, extras), name, False, "", extras)
        el.extend(_codes_of(ns, cb, [c for c in cb.codes if c.category == name], extras, name))
        out.append(el)
    out.extend(_codes_of(ns, cb, [c for c in cb.codes if c.category is None], extras))
    return out


def _codes_element(ns: str, codebooks: list[Codebook], extras: dict | None = None) -> ET._Element | None:
    codes = _element(ns, "Codes")
    extras = extras or {}
    if len(codebooks) == 1:
        codes.extend(_codebook_elements(ns, codebooks[0], extras))
    else:
        for cb in codebooks:
            wrapper = _code_element(ns, codebook_guid(cb.name), cb.name, False, _x(cb.description), extras)
            wrapper.extend(_codebook_elements(ns, cb, extras))
            codes.append(wrapper)
    return codes if len(codes) else None


def make_names_unique(codes: ET._Element) -> list[str]:
    """Give every ``<Code>`` in the tree a name no other has (case-insensitively), as QualCoder needs: a
    repeated name is prefixed with its parent's name and ``": "`` (and the grandparent's, ... while that is
    still not unique). Returns one warning naming the codes renamed, or none. The reader strips the prefix
    again from files precode wrote."""
    found: list[tuple[ET._Element, list[str]]] = []

    def walk(el: ET._Element, ancestors: list[str]) -> None:
        for child in el:
            if ET.QName(child).localname == "Code":
                found.append((child, ancestors))
                walk(child, ancestors + [child.get("name")])

    walk(codes, [])
    counts: dict[str, int] = {}
    for el, _ in found:
        counts[el.get("name").casefold()] = counts.get(el.get("name").casefold(), 0) + 1
    taken = set(counts)
    renamed = []
    for el, ancestors in found:
        name = el.get("name")
        if counts[name.casefold()] < 2:
            continue
        new, depth = name, 0
        while (new.casefold() in taken) and depth < len(ancestors):
            depth += 1
            new = UNIQUE_JOIN.join(ancestors[-depth:] + [name])
        n = 1
        while new.casefold() in taken:
            n += 1
            new = f"{UNIQUE_JOIN.join(ancestors[-depth:] + [name]) if depth else name} ({n})"
        taken.add(new.casefold())
        el.set("name", new)
        renamed.append(f"'{new}'")
    if not renamed:
        return []
    return [f"{len(renamed)} code(s) share a name with another; written with their parent's name so that every "
            f"reader (QualCoder needs unique names) keeps them apart: {', '.join(renamed)}"]


def _serialise(root: ET._Element) -> bytes:
    ET.cleanup_namespaces(root)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True, pretty_print=True)


def _check_codebooks(codebooks: list[Codebook], path: str | Path) -> dict[str, Code]:
    by_guid: dict[str, Code] = {}
    names = [cb.name for cb in codebooks]
    if len(set(names)) != len(names):
        raise InputError(path, f"two codebooks share a name ({', '.join(sorted(names))}); GUIDs would collide")
    for cb in codebooks:
        for code in cb.codes:
            guid = code.guid(cb.name)
            if guid in by_guid:
                raise InputError(path, f"codebook '{cb.name}' has the code '{code.path}' twice")
            by_guid[guid] = code
    return by_guid


def project_xml(project: RefiProject, path: str | Path = "project.qde", *, include_machine_user: bool = False
                ) -> tuple[bytes, dict[str, str], list[str]]:
    """Return (project.qde bytes, {sources/<guid>.txt: text}, notes). Raises InputError on bad records."""
    ns, notes = PROJECT_NS, []
    codes = _check_codebooks(project.codebooks, path)
    docs = {}
    for doc in project.documents:
        if doc.id in docs:
            raise InputError(path, f"two documents have the id '{doc.id}'")
        docs[doc.id] = doc
    codings: list[RefiCoding] = []
    machine = duplicates = 0
    seen: set[tuple] = set()
    for i, c in enumerate(project.codings, 1):
        where = f"coding {i} ({c.document_id} {c.start}-{c.end})"
        if c.coder == MACHINE_USER and not include_machine_user:
            machine += 1
            continue
        if c.document_id not in docs:
            raise InputError(path, f"{where}: no document with that id in the project")
        if not 0 <= c.start < c.end <= len(docs[c.document_id].text):
            raise InputError(path, f"{where}: span outside the document text (0-{len(docs[c.document_id].text)})")
        if c.code_guid not in codes:
            raise InputError(path, f"{where}: code GUID {c.code_guid} is not a code of the project's codebooks")
        if not c.coder.strip():
            raise InputError(path, f"{where}: no coder")
        key = (c.document_id, c.start, c.end, c.code_guid, c.coder)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        codings.append(c)
    if duplicates:
        notes.append(f"left out {duplicates} duplicate coding(s) (same document, span, code and coder)")
    if machine:
        notes.append(f"left out {machine} coding(s) by '{MACHINE_USER}' (unconfirmed proposals; "
                     "include_machine_user=True exports them)")

    memos = _check_memos(project.memos, docs, path)
    extras = project.extras or {}
    kept_users = extras.get("users", {})
    users = set(project.users) | {c.coder for c in codings} | set(kept_users)
    if not include_machine_user:
        users.discard(MACHINE_USER)
    users |= {m.coder for m in memos}
    user_guids = {name: kept_guid(kept_users.get(name), user_guid(name)) for name in users}
    root = _element(ns, "Project", {"name": _x(project.name), "origin": ORIGIN})
    if users:
        el = ET.SubElement(root, _q(ns, "Users"))
        for name in sorted(users):
            ET.SubElement(el, _q(ns, "User"), {"guid": user_guids[name], "name": _x(name)})
    codes_el = _codes_element(ns, project.codebooks, extras)
    if codes_el is not None:
        notes += make_names_unique(codes_el)
        ET.SubElement(root, _q(ns, "CodeBook")).append(codes_el)
    files: dict[str, str] = {}
    memo_notes = _MemoNotes(ns, extras, user_guids, path)
    if docs:
        sources = ET.SubElement(root, _q(ns, "Sources"))
        renamed = []
        used: set[str] = set()
        for doc in project.documents:
            guid = kept_guid(doc.metadata.get("refi_guid"), source_guid(doc.id))
            guid = guid if guid not in used else source_guid(doc.id)
            used.add(guid)
            files[f"sources/{guid}.txt"] = doc.text
            name = safe_name(doc.id)
            if name != doc.id:
                renamed.append(f"'{doc.id}' -> '{name}'")
            src = ET.SubElement(sources, _q(ns, "TextSource"),
                                {"guid": guid, "name": _x(name), "plainTextPath": f"internal://{guid}.txt"})
            mine = sorted((c for c in codings if c.document_id == doc.id),
                          key=lambda c: (c.start, c.end, c.code_guid, c.coder))
            sel_used: set[str] = set()
            kept_sels = extras.get("selections", {})
            for c in mine:
                # a selection GUID kept for this coding, else the span's (once), else precode's own
                own = selection_guid(doc.id, c.start, c.end, c.code_guid, c.coder)
                sel_guid = kept_guid(kept_sels.get(span_key(doc.id, c.start, c.end, c.code_guid, c.coder)), own)
                if sel_guid.lower() in sel_used:
                    sel_guid = kept_guid(kept_sels.get(span_key(doc.id, c.start, c.end)), own)
                if sel_guid.lower() in sel_used:
                    sel_guid = own
                sel_used.add(sel_guid.lower())
                attrs = {"guid": sel_guid, "startPosition": str(c.start), "endPosition": str(c.end),
                         "creatingUser": user_guids[c.coder]}
                when = xsd_datetime(c.created, path) if c.created else None
                if when:
                    attrs["creationDateTime"] = when
                sel = ET.SubElement(src, _q(ns, "PlainTextSelection"), attrs)
                if c.memo:
                    ET.SubElement(sel, _q(ns, "Description")).text = _x(c.memo)
                own = selection_guid(doc.id, c.start, c.end, c.code_guid, c.coder + "\x00coding")
                coding_key = span_key(doc.id, c.start, c.end, c.code_guid, c.coder)
                cattrs = {"guid": kept_guid(extras.get("codings", {}).get(coding_key), own), "creatingUser": user_guids[c.coder]}
                if when:
                    cattrs["creationDateTime"] = when
                coding = ET.SubElement(sel, _q(ns, "Coding"), cattrs)
                ET.SubElement(coding, _q(ns, "CodeRef"), {"targetGUID": c.code_guid})
                if c.memo:
                    memo_notes.refer(coding, [c])
                _note_refs(ns, sel, extras, f"selection:{sel_guid}")
            for m in (m for m in memos if m.document_id == doc.id):
                # a memo on a span: a selection of its own without a coding, by the memo's author, whose
                # <Description> is the memo (QualCoder and MAXQDA read that as an annotation) and whose NoteRef
                # points to the memo's Note
                own = selection_guid(doc.id, m.start, m.end, "", m.coder + "\x00memo")
                sel_guid = kept_guid(kept_sels.get(span_key(doc.id, m.start, m.end, "", m.coder)), own)
                sel_guid = own if sel_guid.lower() in sel_used else sel_guid
                sel_used.add(sel_guid.lower())
                attrs = {"guid": sel_guid, "startPosition": str(m.start), "endPosition": str(m.end),
                         "creatingUser": user_guids[m.coder]}
                if m.created:
                    attrs["creationDateTime"] = xsd_datetime(m.created, path)
                sel = ET.SubElement(src, _q(ns, "PlainTextSelection"), attrs)
                ET.SubElement(sel, _q(ns, "Description")).text = _x(m.text)
                memo_notes.refer(sel, [m])
            _note_refs(ns, src, extras, f"source:{guid}")
        if renamed:
            notes.append(f"source names with a path in them were written without it: {', '.join(renamed)}")
    _carried(ns, root, extras, project.description, path, memo_notes.notes)
    return _serialise(root), files, notes


def _check_memos(memos: list[RefiMemo], docs: dict, path: str | Path) -> list[RefiMemo]:
    """Memos on spans, checked like codings; empty ones and repeats (same span and coder) left out."""
    out: dict[tuple, RefiMemo] = {}
    for i, m in enumerate(memos, 1):
        where = f"memo {i} ({m.document_id} {m.start}-{m.end})"
        if m.document_id not in docs:
            raise InputError(path, f"{where}: no document with that id in the project")
        if not 0 <= m.start < m.end <= len(docs[m.document_id].text):
            raise InputError(path, f"{where}: span outside the document text (0-{len(docs[m.document_id].text)})")
        if not m.coder.strip():
            raise InputError(path, f"{where}: no coder")
        if m.text.strip():
            out.setdefault((m.document_id, m.start, m.end, m.coder), m)
    return [out[k] for k in sorted(out)]


class _MemoNotes:
    """The Notes of memos, made as the selections and codings that refer to them are written."""

    def __init__(self, ns: str, extras: dict, user_guids: dict[str, str], path: str | Path):
        self.ns, self.kept, self.user_guids, self.path = ns, extras.get("memo_notes", {}), user_guids, path
        self.taken = {g.lower() for g in re.findall(r'guid="([^"]+)"', " ".join(extras.get("notes", [])))}
        self.notes: list[ET._Element] = []

    def refer(self, holder: ET._Element, items: list[RefiCoding] | list[RefiMemo]) -> None:
        """A Note for each memo (a coding's or a span's), and a NoteRef to it in ``holder``."""
        for item in items:
            if isinstance(item, RefiCoding):
                key, text = span_key(item.document_id, item.start, item.end, item.code_guid, item.coder), item.memo
            else:
                key, text = span_key(item.document_id, item.start, item.end, "", item.coder), item.text
            kept = self.kept.get(key) if isinstance(self.kept.get(key), dict) else {}
            guid = kept_guid(kept.get("guid"), memo_note_guid(key))
            if guid.lower() in self.taken:
                guid = memo_note_guid(key)
            self.taken.add(guid.lower())
            attrs = {"guid": guid, "name": _x(kept.get("name") or f"Memo by {item.coder}"),
                     "creatingUser": self.user_guids[item.coder]}
            if item.created:
                attrs["creationDateTime"] = xsd_datetime(item.created, self.path)
            note = _element(self.ns, "Note", attrs)
            ET.SubElement(note, _q(self.ns, "PlainTextContent")).text = _x(text)
            self.notes.append(note)
            ET.SubElement(holder, _q(self.ns, "NoteRef"), {"targetGUID": guid})


def _carried(ns: str, root: ET._Element, extras: dict, description: str, path: str | Path,
             memo_notes: Sequence[ET._Element] = ()) -> None:
    """Notes (carried ones, then those of memos), Sets, the project description and its NoteRefs, in the schema's
    order."""
    parser = ET.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    for kind, items in (("Notes", extras.get("notes", [])), ("Sets", extras.get("sets", []))):
        if items or (kind == "Notes" and memo_notes):
            holder = ET.SubElement(root, _q(ns, kind))
            for xml in items:
                try:
                    holder.append(ET.fromstring(xml.encode("utf-8"), parser))
                except ET.XMLSyntaxError:
                    raise InputError(path, f"a kept {kind[:-1]} is not well-formed XML") from None
            if kind == "Notes":
                holder.extend(memo_notes)
    if description:
        ET.SubElement(root, _q(ns, "Description")).text = _x(description)
    _note_refs(ns, root, extras, "project")


def _write_atomic(path: Path, data: bytes) -> None:
    try:
        write_private(path, data)
    except OSError as err:
        raise InputError(path, f"cannot write: {err.strerror or err}") from None


def write_qdpx(project: RefiProject, path: str | Path, *, include_machine_user: bool = False) -> list[str]:
    """Write a REFI-QDA project archive. Returns notes for the user (e.g. codings left out)."""
    path = Path(path)
    qde, files, notes = project_xml(project, path, include_machine_user=include_machine_user)
    members = [("project.qde", qde)]
    for name in sorted(files):
        try:
            members.append((name, files[name].encode("utf-8")))
        except UnicodeEncodeError as err:
            raise InputError(path, f"a document's text cannot be written as UTF-8 ({err.reason})") from None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=6)
    _write_atomic(path, buf.getvalue())
    return notes


def codebook_xml(codebooks: Codebook | list[Codebook], path: str | Path = "codebook.qdc",
                 notes: list[str] | None = None) -> bytes:
    codebooks = [codebooks] if isinstance(codebooks, Codebook) else list(codebooks)
    _check_codebooks(codebooks, path)
    codes = _codes_element(CODEBOOK_NS, codebooks)
    if codes is None:
        raise InputError(path, "the codebook has no codes or categories to write")
    renamed = make_names_unique(codes)
    if notes is not None:
        notes += renamed
    root = _element(CODEBOOK_NS, "CodeBook", {"origin": ORIGIN})
    root.append(codes)
    return _serialise(root)


def write_qdc(codebooks: Codebook | list[Codebook], path: str | Path) -> list[str]:
    """Write a REFI-QDA codebook (``.qdc``). Returns notes for the user (e.g. names made unique)."""
    path = Path(path)
    notes: list[str] = []
    _write_atomic(path, codebook_xml(codebooks, path, notes))
    return notes
