"""Two-pass de-identification of a batch, shared by `precode redact` and `precode run` (``redact.enabled``).

1. **Collect**: every document is analysed once and its identifiers found (known names, patterns,
   spaCy entities); the names found anywhere become spellings to look for in every document.
2. **Redact**: documents are redacted in a fixed order (by name, then content), so pseudonym numbers and
   file names do not depend on the order files were given in. Then, with the key complete, file names
   (from the file's own identifiers and the known names: :func:`.filenames.pseudonymise_name`),
   ``id`` cells, warnings, skipped-file lines and manifests (:class:`.filenames.Scrubber`).

Both commands get the same texts and the same "kept: check" list (:func:`review_rows`, :meth:`Redacted.notes`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from ..records import Document
from .detect import Redactor
from .replace import mapper as _mapper
from .filenames import Scrubber, pseudonymise_name
from .key import PseudonymKey
from .lexicon import NUMBERED
from .names import Redaction

REVIEW_FIELDS = ["document", "start", "end", "type", "replacement", "source", "status", "context"]
ORIGINAL_FIELDS = ["document", "source_file", "start", "end", "orig_start", "orig_end", "type", "original",
                   "replacement", "source", "context"]


@dataclass
class Redacted:
    """One document after both passes."""

    source: str  # the name it came in with (private: may hold a name)
    original: Document
    doc: Document  # redacted; ``doc.id`` is the pseudonymised name
    redactions: list[Redaction]
    checks: list[tuple[int, int]] = field(default_factory=list)  # capitalised words kept (offsets in doc.text)
    name_checks: list[str] = field(default_factory=list)  # capitalised words kept in the file name
    leftover: int = 0  # spellings of listed names still in the text ('hope' as a word)

    def notes(self) -> list[str]:
        """The lines both commands print: what a person should look at."""
        out = []
        if self.checks or self.name_checks:
            where = f"{len(self.checks)} in the text" + (f", {len(self.name_checks)} in the file name" if self.name_checks else "")
            out.append(f"{self.doc.id}: capitalised word(s) kept that may be names ({where}); "
                       "see 'kept: check' in redaction_review.csv")
        if self.leftover:
            out.append(f"{self.doc.id}: {self.leftover} word(s) spelled like a listed name are still in the text "
                       "(e.g. 'hope' or 'will' used as ordinary words); check them")
        return out


class Deidentifier:
    """The two passes over a batch, with one redactor and one key (see the module docstring)."""

    # the tagger's analyses of the first texts up to this size are kept for pass 2; later texts are analysed
    # again (a token list costs ~100x its text in memory)
    KEEP_ANALYSES_CHARS = 2_000_000

    def __init__(self, redactor: Redactor, key: PseudonymKey):
        self.redactor = redactor.load()
        self.key = key
        key.seed(redactor.known, redactor.is_word)
        self.scrub = Scrubber(self.redactor, key)
        self._found: list[dict] = []  # key entries of identifiers found in this batch's texts
        self._forms: dict = {}  # names found in this batch's texts, looked for everywhere

    def redact(self, items: Sequence[tuple[str, Document]]) -> list[Redacted]:
        """Redact ``(name, document)`` pairs; returns them in the same order. ``name`` is the name the
        output should have before pseudonymisation (a file name); the results' names are unique."""
        red = self.redactor
        # pass 1: analyse and collect every identifier, without touching the key
        found: list[tuple] = []  # (analysis kept for pass 2 or None, spans)
        kept_chars = 0
        for _, doc in items:
            an, _, spans = red.spans(doc)
            keep = kept_chars + len(doc.text) <= self.KEEP_ANALYSES_CHARS
            kept_chars += len(doc.text) if keep else 0
            found.append((an if keep else None, spans))
        order = sorted(range(len(items)), key=lambda i: (items[i][0], items[i][1].sha256, i))
        forms: dict = {}
        for i in order:
            for surface, c in red.name_forms(items[i][1].text, found[i][1]).items():
                forms.setdefault(surface, c)
        # pass 2: redact with the names of the whole batch, in a fixed order
        results: list[Redacted | None] = [None] * len(items)
        entries: list[list[dict]] = [[] for _ in items]
        self._forms = forms
        red.batch_forms = forms
        try:
            for i in order:
                name, doc = items[i]
                new, reds, (an, spans) = red._redact(doc, self.key, name, an=found[i][0])
                entries[i] = self.key.entries_of(r.replacement for r in reds if r.type in NUMBERED)
                mp = _mapper([(r.start, r.end, r.new_start, r.new_end) for r in reds])
                checks = [(mp(s), mp(e, True)) for s, e in red.check_list(an, spans)]
                results[i] = Redacted(name, doc, new, reds, checks, leftover=red.leftover_known(new.text))
                found[i] = (None, None)  # the analysis is not needed any more
        finally:
            red.batch_forms = {}
        done = [res for res in results if res is not None]
        assert len(done) == len(items), "order is a permutation: every item was redacted once"
        self._found = self.key.entries_of(r.replacement for res in done for r in res.redactions)
        originals = {r.original: r.replacement for res in done for r in res.redactions}
        self.scrub = Scrubber(red, self.key, originals)
        # names, ids and the strings around the text, with the key complete
        used: set[str] = set()
        for i in order:
            res = done[i]
            new_name, kept = pseudonymise_name(res.source, red, self.key, entries[i])
            new_name = _unique(new_name, used)
            res.name_checks = kept
            turns = [replace(t, turn_id=self.scrub(t.turn_id) if t.turn_id else t.turn_id) for t in res.doc.turns]
            res.doc = replace(res.doc, id=new_name, path=new_name, turns=turns,
                              warnings=[self.scrub(w) for w in res.doc.warnings])
            res.redactions = [replace(r, document=new_name) for r in res.redactions]
        return done

    def redact_text(self, text: str) -> str:
        """A short text outside a transcript (a table cell), with the batch's names and the same key."""
        self.redactor.batch_forms = self._forms
        try:
            return self.redactor.redact_text(text, self.key)
        finally:
            self.redactor.batch_forms = {}

    # what later commands read back from a run's manifest (review, tune, discover): settings, model, training files
    MANIFEST_KEPT = {"config": ("propose", "segment", "embedding"), "embedding_model": (), "learning": ()}

    def manifest(self, manifest: dict) -> dict:
        """A run's manifest with every string scrubbed (errors, warnings, inputs, study paths and metadata),
        except the settings, model and training files later commands read back (:attr:`MANIFEST_KEPT`)."""
        out = {}
        for k, v in manifest.items():
            kept = self.MANIFEST_KEPT.get(k)
            if kept is None or not isinstance(v, dict):
                out[k] = self.scrub.value(v)
            elif not kept:
                out[k] = v
            else:
                out[k] = {kk: vv if kk in kept else self.scrub.value(vv) for kk, vv in v.items()}
        return out

    def file_name(self, name: str) -> str:
        """A file name whose text was not read (a skipped file): listed names and every name found in
        this batch are replaced."""
        new, _ = pseudonymise_name(name, self.redactor, self.key, self._found)
        return self.scrub(new)

    def skipped(self, path: str | Path, problem: str) -> str:
        """The one line for a file that could not be read, with no folder and no name in it."""
        return f"{self.file_name(Path(path).name)}: {self.scrub(problem)}"


def _context(text: str, s: int, e: int, width: int = 40) -> str:
    a, b = max(0, s - width), min(len(text), e + width)
    snippet = text[a:s] + "⟦" + text[s:e] + "⟧" + text[e:b]
    return ("…" if a else "") + snippet.replace("\r", "").replace("\n", " ⏎ ") + ("…" if b < len(text) else "")


def _unique(name: str, used: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    out, n = name, 2
    while out in used:
        out = f"{stem}_{n}{dot}{ext}"
        n += 1
    used.add(out)
    return out


def review_rows(results: Sequence[Redacted]) -> list[dict]:
    """The shareable review table: every replacement (context as redacted) and every word kept to check."""
    rows = []
    for res in results:
        name, text = res.doc.id, res.doc.text
        for r in res.redactions:
            rows.append({"document": name, "start": r.new_start, "end": r.new_end, "type": r.type,
                         "replacement": r.replacement, "source": r.source, "status": "redacted",
                         "context": _context(text, r.new_start, r.new_end)})
        for s, e in res.checks:
            rows.append({"document": name, "start": s, "end": e, "type": "", "replacement": "", "source": "",
                         "status": "kept: check", "context": _context(text, s, e)})
        for w in res.name_checks:
            rows.append({"document": name, "start": "", "end": "", "type": "", "replacement": "",
                         "source": "file name", "status": "kept: check", "context": f"file name: {w}"})
    return rows


def original_rows(results: Sequence[Redacted], source_files: Sequence[str] | None = None) -> list[dict]:
    """The private table: every replacement with the original words (kept next to the key)."""
    rows = []
    for k, res in enumerate(results):
        src = source_files[k] if source_files else res.source
        for r in res.redactions:
            rows.append({"document": res.doc.id, "source_file": src, "start": r.new_start, "end": r.new_end,
                         "orig_start": r.start, "orig_end": r.end, "type": r.type, "original": r.original,
                         "replacement": r.replacement, "source": r.source,
                         "context": _context(res.original.text, r.start, r.end)})
    return rows

