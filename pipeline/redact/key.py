"""The pseudonym key: one per project, the same person gets the same pseudonym everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError
from ..private import write_private
from .lexicon import FIXED, KEY_FORMAT, NAME_WORDS
from .names import KnownNames, Span, _site_runs, edit_distance, fuzzy_limit, name_variants, norm


# ---------------------------------------------------------------------------------------------
# pseudonym key


class PseudonymKey:
    """Consistent pseudonyms for one project, saved as a private JSON file (never inside exports).

    Entries: ``{pseudonym, type, role, name, variants, source}``. Persons are looked up among
    persons; sites, places and organisations among each other (a place that NER calls ORG in one
    document and GPE in the next keeps one pseudonym).
    """

    PREFIX: dict[tuple[str, str | None] | str, str] = {("PERSON", "participant"): "PARTICIPANT", ("PERSON", "staff"): "STAFF", "PERSON": "PERSON",
              "SITE": "SITE", "PLACE": "PLACE", "ORG": "ORG"}

    def __init__(self, entries: list[dict] | None = None):
        self.entries: list[dict] = []
        self._index: dict[tuple[str, str], int] = {}
        for e in entries or []:
            self._add(dict(e))

    @staticmethod
    def group(typ: str) -> str:
        return "PERSON" if typ == "PERSON" else "PLACE"

    def _add(self, entry: dict) -> dict:
        entry.setdefault("variants", [])
        self.entries.append(entry)
        i = len(self.entries) - 1
        g = self.group(entry["type"])
        for v in entry["variants"]:
            self._index.setdefault((g, v), i)
        return entry

    def _prefix(self, typ: str, role: str | None) -> str:
        return self.PREFIX.get((typ, role)) or self.PREFIX[typ]

    def _new(self, typ: str, role: str | None, name: str, variants: list[str], source: str) -> dict:
        prefix = self._prefix(typ, role)
        n = 1 + sum(1 for e in self.entries if e["pseudonym"].startswith(f"[{prefix}_"))
        entry: dict = {"pseudonym": f"[{prefix}_{n}]", "type": typ, "role": role, "name": name, "variants": [], "source": source}
        self._add(entry)
        self.add_variants(entry, variants)
        return entry

    def add_variants(self, entry: dict, variants: Iterable[str], override: bool = False) -> None:
        i = self.entries.index(entry)
        g = self.group(entry["type"])
        for v in variants:
            if not v:
                continue
            owner = self._index.get((g, v))
            if owner is None or override:
                if owner is not None and owner != i:
                    other = self.entries[owner]
                    if v in other["variants"]:
                        other["variants"].remove(v)
                self._index[(g, v)] = i
            if v not in entry["variants"] and self._index.get((g, v)) == i:
                entry["variants"].append(v)

    def seed(self, known: KnownNames | None, is_word=lambda w: False) -> None:
        """Register every listed name (in file order, so numbers do not depend on document order)."""
        if known is None:
            return
        by_name: dict[str, dict] = {}
        for name, typ, role in known.entries():
            entry = self.lookup_name(typ, name, known_only=True)
            if entry is None:  # new, or found earlier as an unlisted name: a listed entry of its own
                entry = self._new(typ, role, name, [], "known")
            by_name[norm(name)] = entry
        for name, typ, role in known.entries():  # full names first, then parts (a full name wins over a part)
            self.add_variants(by_name[norm(name)], [norm(name)], override=True)
        for alias, target in known.aliases.items():
            e = by_name.get(norm(target))
            if e is not None:
                self.add_variants(e, [norm(alias)], override=True)
        owners: dict[str, set[str]] = {}
        for name, typ, role in known.entries():
            for v, _ in name_variants(name, typ, is_word):
                owners.setdefault(f"{self.group(typ)}:{v}", set()).add(norm(name))
        for name, typ, role in known.entries():  # a part shared by two listed names belongs to neither
            vs = [v for v, _ in name_variants(name, typ, is_word) if len(owners[f"{self.group(typ)}:{v}"]) == 1]
            self.add_variants(by_name[norm(name)], vs)

    def lookup_name(self, typ: str, name: str, known_only: bool = False) -> dict | None:
        g = self.group(typ)
        key = norm(name)
        found = None
        for e in self.entries:
            if self.group(e["type"]) == g and norm(e["name"]) == key:
                if e.get("source") == "known":
                    return e
                found = found or e
        return None if known_only else found

    def find(self, typ: str, text: str, fuzzy: bool = True) -> dict | None:
        g = self.group(typ)
        v = norm(text)
        i = self._index.get((g, v))
        if i is not None:
            return self.entries[i]
        if fuzzy and fuzzy_limit(v):
            best = None
            for (gg, var), i in self._index.items():
                if gg == g and fuzzy_limit(var) and var[0] == v[0]:
                    d = edit_distance(v, var, 2)
                    if d <= min(fuzzy_limit(v), fuzzy_limit(var)) and (best is None or d < best[0]):
                        best = (d, i)
            if best:
                return self.entries[best[1]]
        return None

    def entries_of(self, pseudonyms: Iterable[str]) -> list[dict]:
        """The entries behind replacements (with or without brackets), once each, in key order."""
        wanted = {p.strip("[]") for p in pseudonyms}
        return [e for e in self.entries if e["pseudonym"].strip("[]") in wanted]

    def pseudonym(self, span: Span) -> str:
        """The replacement for a span; creates a key entry for a new name."""
        return self.resolve(span)[0]

    def resolve(self, span: Span) -> tuple[str, str]:
        """(replacement, type) for a span; creates a key entry for a new name. A name the key already
        holds as a person keeps its pseudonym when NER calls it a place next time (and vice versa)."""
        if span.type in FIXED:
            return FIXED[span.type], span.type
        entry = None
        if span.name is not None:
            entry = self.lookup_name(span.type, span.name)
        if entry is None:
            entry = self.find(span.type, span.text)
        if entry is None and span.source != "known":
            other = "ORG" if span.type == "PERSON" else "PERSON"
            entry = self.find(other, span.text, fuzzy=False)
        if entry is None:
            variants = [norm(span.text)]
            words = norm(span.text).split()
            if span.type == "PERSON" and len(words) > 1:
                variants += [w for w in words if len(w) >= 3 and w not in NAME_WORDS]
            elif span.type != "PERSON":
                variants += [" ".join(r) for r in _site_runs(words) if len(" ".join(r)) >= 4]
            role = span.role if span.role in ("participant", "staff") else None
            entry = self._new(span.type, role, span.text, variants, span.source)
        return entry["pseudonym"], entry["type"] if self.group(entry["type"]) != self.group(span.type) else span.type

    # ---- file
    @classmethod
    def load(cls, path: str | Path) -> "PseudonymKey":
        path = Path(path)
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(path, f"cannot read the redaction key ({e})") from None
        if not isinstance(data, dict) or data.get("format") != KEY_FORMAT:
            raise ConfigError(path, f"not a precode redaction key (expected format '{KEY_FORMAT}')")
        return cls(data.get("entries") or [])

    def to_dict(self) -> dict:
        return {"format": KEY_FORMAT,
                "note": "PRIVATE. Maps pseudonyms back to real names. Keep it apart from redacted exports; never share it.",
                "entries": self.entries}

    def save(self, path: str | Path) -> Path:
        return write_private(Path(path), json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")


