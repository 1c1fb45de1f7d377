"""Findings (spans, redactions) and the project's known names with their variants."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .lexicon import GENERIC_WORDS, TITLES, TITLE_RE


# ---------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class Span:
    """A finding in a text. ``source``: ``known`` (project list), ``pattern`` or ``ner`` (spaCy)."""

    start: int
    end: int
    type: str
    text: str
    source: str
    name: str | None = None  # canonical known name, when ``source == 'known'``
    role: str | None = None  # participant / staff / person / site / place / org, for known names


@dataclass(frozen=True)
class Redaction:
    """One replacement. ``start``/``end``: offsets in the original text; ``new_start``/``new_end``:
    offsets of ``replacement`` in the redacted text."""

    document: str
    start: int
    end: int
    type: str
    original: str
    replacement: str
    new_start: int = 0
    new_end: int = 0
    source: str = ""


def norm(text: str) -> str:
    """Lookup form of a name: case-folded, titles, possessive and punctuation removed."""
    s = text.replace("’", "'").strip()
    s = re.sub(r"(?i)'s$", "", s)
    while True:
        m = TITLE_RE.match(s)
        if not m:
            break
        s = s[m.end():]
    s = re.sub(r"[^\w\s'\-]", " ", s)
    return " ".join(s.casefold().split()).strip("'-")


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein with adjacent transpositions)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def fuzzy_limit(word: str) -> int:
    n = len(word.replace(" ", ""))
    return 0 if n < 5 else 1 if n < 9 else 2


# ---------------------------------------------------------------------------------------------
# known names


@dataclass
class KnownNames:
    """The project's list of names. YAML::

        participants: [Dana Whitfield, Marcus Obi]
        staff: [Grace Okafor]
        sites: [Riverbend Community Health]
        aliases: {Dee: Dana Whitfield}
        # optional
        others: [Jamal Whitfield]        # other people (family, named third parties)
        places: [Cold Spring Hollow]     # places that are not study sites
        orgs: [Dunmore Tire]             # employers, churches, schools
        keep: [Peer Bridge]              # never redact these (false alarms)
    """

    participants: list[str] = field(default_factory=list)
    staff: list[str] = field(default_factory=list)
    sites: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    others: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)
    orgs: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)
    path: str = ""

    KEYS = ("participants", "staff", "sites", "aliases", "others", "places", "orgs", "keep")
    GROUPS = (("participants", "PERSON", "participant"), ("staff", "PERSON", "staff"), ("others", "PERSON", "person"),
              ("sites", "SITE", "site"), ("places", "PLACE", "place"), ("orgs", "ORG", "org"))

    @classmethod
    def load(cls, path: str | Path) -> "KnownNames":
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
        except OSError as e:
            raise ConfigError(path, f"cannot read the known-names file ({e.strerror or e})") from None
        except yaml.YAMLError as e:
            raise ConfigError(path, f"not valid YAML ({str(e).splitlines()[0]})") from None
        return cls.from_dict(data, path)

    @classmethod
    def from_dict(cls, data: dict, path: str | Path = "<known names>") -> "KnownNames":
        problems: list[str] = []
        if not isinstance(data, dict):
            raise ConfigError(path, "the known-names file must be a mapping with participants/staff/sites/aliases")
        import difflib

        for k in data:
            if k not in cls.KEYS:
                close = difflib.get_close_matches(str(k), cls.KEYS, n=1)
                problems.append(f"[{k}] unknown key" + (f" (did you mean '{close[0]}'?)" if close else ""))
        values: dict[str, Any] = {}
        for k in cls.KEYS:
            v = data.get(k)
            if k == "aliases":
                v = v or {}
                if not isinstance(v, dict):
                    problems.append("[aliases] must be a mapping 'Nickname: Full Name'")
                    v = {}
                values[k] = {str(a).strip(): str(b).strip() for a, b in v.items() if str(a).strip()}
            else:
                v = v or []
                if isinstance(v, str):
                    v = [v]
                if not isinstance(v, list):
                    problems.append(f"[{k}] must be a list of names")
                    v = []
                values[k] = [str(x).strip() for x in v if x is not None and str(x).strip()]
        listed = {norm(n) for g, _, _ in cls.GROUPS for n in values[g]}
        for alias, target in values["aliases"].items():
            if norm(target) not in listed:
                problems.append(f"[aliases -> {alias}] '{target}' is not listed under participants, staff, others or sites")
        if problems:
            raise ConfigError(path, problems)
        return cls(**values, path=str(path))

    def entries(self) -> list[tuple[str, str, str]]:
        """(name, type, role) for every listed name, in file order."""
        return [(n, typ, role) for g, typ, role in self.GROUPS for n in getattr(self, g)]

    def all_strings(self) -> list[str]:
        return [n for n, _, _ in self.entries()] + list(self.aliases)


def _site_runs(words: list[str]) -> list[list[str]]:
    runs: list[list[str]] = []
    cur: list[str] = []
    for w in words:
        if w in GENERIC_WORDS or w.isdigit():
            if cur:
                runs.append(cur)
            cur = []
        else:
            cur.append(w)
    if cur:
        runs.append(cur)
    return runs


def name_variants(name: str, typ: str, is_word=lambda w: False) -> list[tuple[str, str]]:
    """Lookup forms of a listed name: (normalised variant, kind). ``kind`` 'any' matches in any case,
    'cap' only capitalised (used for site words that are ordinary English words)."""
    full = norm(name)
    if not full:
        return []
    out = [(full, "any")]
    words = full.split()
    if typ == "PERSON":
        if len(words) > 1:
            parts = []
            for w in words:
                parts.append(w)
                if "-" in w:
                    parts.extend(p for p in w.split("-") if p)
            for p in parts:
                if len(p) >= 2 and p not in TITLES and p not in {"de", "la", "del", "van", "von", "der", "da", "di", "le", "st", "jr", "sr", "ii", "iii"}:
                    out.append((p, "any"))
    else:
        for run in _site_runs(words):
            joined = " ".join(run)
            if len(joined) >= 4 and joined != full:
                out.append((joined, "any"))
            if len(run) > 1:
                for w in run:
                    if len(w) >= 4:
                        out.append((w, "cap" if is_word(w) else "any"))
    seen, uniq = set(), []
    for v, k in out:
        if v not in seen:
            seen.add(v)
            uniq.append((v, k))
    return uniq


