"""A REFI code tree into precode codebooks: categories, codes named through their parents, kept GUIDs,
colours and NoteRefs, and the definitions carried in ``<Description>`` (see the package docstring)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from xml.etree.ElementTree import Element

from ..errors import InputError
from ..records import Category, Code, Codebook
from .elements import GUID, clean, first, kids, norm_guid, text_of
from .model import PATH_SEPARATOR, UNIQUE_JOIN, codebook_guid

MAX_DEPTH = 64
RGB = re.compile(r"^#[0-9A-Fa-f]{6}$")
_LABEL = re.compile(r"^(Include|Exclude|Example|Note|Question):\s?(.*)$")


def parse_description(text: str, kind: str) -> dict:
    """Split a REFI ``<Description>`` into precode's fields (see ``write.compose_description``)."""
    labels = {"Include", "Exclude", "Example", "Note"} if kind == "code" else {"Question"}
    rest: list[str] = []
    found: dict[str, list[str]] = {k: [] for k in labels}
    for line in text.splitlines():
        m = _LABEL.match(line.strip())
        if m and m.group(1) in labels and clean(m.group(2)):
            found[m.group(1)].append(clean(m.group(2)))
        else:
            rest.append(line)
    out: dict = {"description": "\n".join(" ".join(line.split()) for line in rest).strip()}
    if kind == "code":
        out.update(inclusion=" ".join(found["Include"]), exclusion=" ".join(found["Exclude"]),
                   examples=tuple(found["Example"]), note=" ".join(found["Note"]))
    else:
        out["questions"] = tuple(found["Question"])
    return out


class CodeTree:
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
        name = clean(el.get("name"))
        if not name:
            name = f"(unnamed {norm_guid(el.get('guid'))[:8]})"
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
        colour = (el.get("color") or "").strip()
        if RGB.match(colour):
            self.extras["colours"][guid] = colour.upper()
        if refs := [norm_guid(r.get("targetGUID")) for r in kids(el, "NoteRef") if r.get("targetGUID")]:
            self.extras["note_refs"][f"code:{guid}"] = refs

    def _own_guid(self, el: Element) -> str | None:
        guid = norm_guid(el.get("guid"))
        if GUID.match(guid) and guid not in self.used_guids:
            self.used_guids.add(guid)
            return guid
        return None

    def _add_code(self, cb: str, el: Element, name: str, category: str | None) -> None:
        part = self._part(cb)
        name = self._unique(part, f"{category or ''}", name, "code")
        code = Code(name=name, category=category, **parse_description(text_of(first(el, "Description")), "code"))
        kept = self._own_guid(el)
        if kept and kept != code.guid(cb):  # an explicit GUID only where precode would not derive the same one
            code = replace(code, source_guid=kept)
        part["codes"].append(code)
        self.code_map[norm_guid(el.get("guid"))] = code.guid(cb)
        self._keep(el, code.guid(cb))

    @staticmethod
    def _codable(el: Element) -> bool:
        return (el.get("isCodable") or "true").strip().lower() not in ("false", "0")

    def _walk(self, el: Element, cb: str, category: str | None, prefix: list[str], depth: int,
              ancestors: tuple[str, ...]) -> None:
        if depth > MAX_DEPTH:
            raise InputError(self.path, f"codes are nested deeper than {MAX_DEPTH} levels; refused")
        for child in kids(el, "Code"):
            full = prefix + [self._name(child, ancestors)]
            if self._codable(child):
                self._add_code(cb, child, PATH_SEPARATOR.join(full), category)
            else:  # a non-codable level inside the tree: its codes are named through it; kept to be written back
                self.not_codable.add(norm_guid(child.get("guid")))
                kept = self._own_guid(child)
                level = {"guid": kept} if kept else {}
                if description := text_of(first(child, "Description")).strip():
                    level["description"] = description
                self.extras.setdefault("levels", {})[f"{cb}\x00{category or ''}\x00{PATH_SEPARATOR.join(full)}"] = level
                if kept:
                    self._keep(child, kept)
            self._walk(child, cb, category, full, depth + 1, ancestors + (full[-1],))

    def top(self, codes: Element, cb: str | None = None, depth: int = 0, ancestors: tuple[str, ...] = ()) -> None:
        cb = cb or self.default
        for node in kids(codes, "Code"):
            name, guid = self._name(node, ancestors), norm_guid(node.get("guid"))
            if self.split and depth == 0 and not self._codable(node) and guid == codebook_guid(name):
                self.not_codable.add(guid)
                self._part(name)["desc"] = clean(text_of(first(node, "Description")))
                self.top(node, name, depth + 1, ancestors + (name,))
            elif self._codable(node):
                self._add_code(cb, node, name, None)
                self._walk(node, cb, None, [name], depth + 1, ancestors + (name,))
            else:
                part = self._part(cb)
                name = self._unique(part, "\x00categories", name, "category")
                cat = Category(name, **parse_description(text_of(first(node, "Description")), "category"))
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
