"""The redactor: the recognizers (known names, patterns, names from cues, spaCy NER), the merge step and
the operator that writes pseudonyms, put together for documents and loose strings.

One recognizer per source, each ``find(analysis) -> [Candidate]``: :class:`.known.KnownRecognizer`
(source ``known``), :class:`.patterns.PatternRecognizer` and :class:`.cues.NameRecognizer` (source
``pattern``), :class:`.ner.NerRecognizer` (source ``ner``). :mod:`.merge` joins their candidates into
spans; :mod:`.replace` is the operator.
"""

from __future__ import annotations

from typing import Iterable

from ..errors import ConfigError
from ..records import Document
from .analysis import Analysis, Candidate, Words, analyse, generic_label, load_ner
from .cues import NameRecognizer
from .filenames import pseudonymise_name
from .key import PseudonymKey
from .known import KnownRecognizer
from .lexicon import (
    DEFAULT_KEEP, GENERIC_LABEL_WORDS, MONTHS_FULL, NAME_WORDS, PSEUDONYM_RE, SOURCES, TYPES, WEEKDAYS, _WORD,
)
from .merge import extend, merge, name_forms, occurrences
from .names import KnownNames, Redaction, Span, norm
from .ner import NerRecognizer
from .patterns import PatternRecognizer
from .replace import pseudonyms, rebuild, replace_loose, rewrite

__all__ = ["Redactor", "load_ner"]


class Redactor:
    """Finds personal information and replaces it with pseudonyms.

    ``Redactor(known, nlp=None, types=TYPES, spacy_model="en_core_web_sm")``; the spaCy pipeline is
    loaded on first use (or by :meth:`load`). ``sources`` limits the recognizers (for ablations).
    """

    def __init__(self, known: KnownNames | None = None, nlp=None, types: Iterable[str] = TYPES,
                 spacy_model: str = "en_core_web_sm", sources: Iterable[str] = SOURCES,
                 propn_fallback: bool = True):
        self.known = known
        self.nlp = nlp
        self.types = tuple(types)
        self.spacy_model = spacy_model
        self.sources = tuple(sources)
        self.propn_fallback = propn_fallback
        unknown = [t for t in self.types if t not in TYPES]
        if unknown:
            raise ConfigError("redact.types", f"unknown type(s) {', '.join(unknown)} (known: {', '.join(TYPES)})")
        self._ready = False
        # names found in the other documents of a batch (set by :class:`~.batch.Deidentifier`): matched
        # like names found elsewhere in the same document (:func:`.merge.occurrences`)
        self.batch_forms: dict[str, Candidate] = {}

    # ---- set-up
    def load(self) -> "Redactor":
        if self._ready:
            return self
        if self.nlp is None:
            self.nlp = load_ner(self.spacy_model)
        self.words = Words(self.nlp, set(DEFAULT_KEEP) | {norm(k) for k in (self.known.keep if self.known else [])})
        self.known_names = KnownRecognizer(self.known if "known" in self.sources else None, self.words)
        self.recognizers: list = []
        if "known" in self.sources:
            self.recognizers.append(self.known_names)
        if "pattern" in self.sources:
            self.recognizers += [PatternRecognizer(self.words), NameRecognizer(self.words, self.propn_fallback)]
        if "ner" in self.sources:
            self.recognizers.append(NerRecognizer(self.words))
        self._ready = True
        return self

    def is_word(self, w: str) -> bool:
        """An English word (in the lemmatizer's WordNet index, allowing inflections and hyphenation)."""
        return self.load().words.is_word(w)

    def kept(self, surface: str) -> bool:
        """On the keep list: a word, or an acronym written in capitals."""
        return self.load().words.kept(surface)

    @property
    def known_variants(self) -> dict:
        """Every spelling of the known names -> [(listed name or None, type, role, kind)]."""
        return self.load().known_names.variants

    def fingerprint(self) -> dict:
        self.load()
        meta = getattr(self.nlp, "meta", {}) or {}
        return {"spacy_model": f"{meta.get('lang', '')}_{meta.get('name', '')}", "spacy_model_version": meta.get("version"),
                "types": list(self.types), "sources": list(self.sources),
                "known_names": len(self.known.entries()) if self.known else 0}

    def _analyse(self, text: str) -> Analysis:
        return analyse(self.load().nlp, text)

    # ---- finding
    def find(self, text: str) -> list[Span]:
        """Personal information in ``text``: non-overlapping spans, in order."""
        return self._find(text, self._analyse(text), [])

    def _find(self, text: str, an: Analysis, protect: list[tuple[int, int]]) -> list[Span]:
        cands = [c for r in self.recognizers for c in r.find(an)]
        cands = [c for c in cands if c.type in self.types and c.end > c.start]
        cands += occurrences(an, name_forms(text, cands, self.words), self.words)
        if self.batch_forms:
            cands += occurrences(an, self.batch_forms, self.words)
        if protect:
            cands = [c for c in cands if not any(c.start < e and s < c.end for s, e in protect)]
        return extend(text, merge(text, cands), self.known_names.variants)

    def name_forms(self, text: str, found: Iterable) -> dict[str, Candidate]:
        """Spellings worth looking for elsewhere (see :func:`.merge.name_forms`)."""
        return name_forms(text, found, self.load().words)

    def spans(self, doc: Document, an: Analysis | None = None):
        """What :meth:`redact_document` would replace in ``doc``, without touching a key:
        (analysis, speaker labels, spans). The first pass of a batch (:mod:`.batch`)."""
        self.load()
        text = doc.text
        an = an or self._analyse(text)
        labels, protect = self._labels(doc)
        spans = self._find(text, an, protect + [(s, e) for s, e, _ in labels])
        spans += [sp for _, _, sp in labels if sp is not None]
        for m in PSEUDONYM_RE.finditer(text):  # already-redacted text stays as it is
            spans = [s for s in spans if not (s.start < m.end() and m.start() < s.end)]
        spans.sort(key=lambda s: s.start)
        return an, labels, spans

    # ---- speaker labels
    def _labels(self, doc: Document) -> tuple[list[tuple[int, int, Span | None]], list[tuple[int, int]]]:
        """Speaker labels in the text: (start, end, Span or None for a generic label), protected ranges."""
        labels: list[tuple[int, int, Span | None]] = []
        protect: list[tuple[int, int]] = []
        if "pattern" not in self.sources or "PERSON" not in self.types:
            return labels, protect
        prev_end = 0
        for t in doc.turns:
            if t.speaker:
                region = doc.text[prev_end:t.start]
                i = region.rfind(t.speaker)
                if i >= 0:
                    s, e = prev_end + i, prev_end + i + len(t.speaker)
                    if generic_label(t.speaker):
                        protect.append((s, e))
                        labels.append((s, e, None))
                    else:
                        labels.append((s, e, self._label_span(t.speaker, s, e)))
            prev_end = t.end
        return labels, protect

    def _label_span(self, label: str, s: int, e: int) -> Span:
        if "known" in self.sources and self.known:
            variants = self.known_names.variants
            owners = variants.get(norm(label))
            if not owners:
                for w in norm(label).split():
                    if variants.get(w):
                        owners = variants[w]
                        break
            if owners and owners[0][1] == "PERSON" and owners[0][0] is not None:
                name, typ, role, _ = owners[0]
                return Span(s, e, "PERSON", label, "known", name, role)
        return Span(s, e, "PERSON", label, "pattern")

    # ---- replacing
    def redact_document(self, doc: Document, key: PseudonymKey, doc_id: str | None = None) -> tuple[Document, list[Redaction]]:
        """A redacted copy of ``doc`` (offsets recomputed, speaker labels pseudonymised) and the list of
        replacements. New names are added to ``key``."""
        new, reds, _ = self._redact(doc, key, doc_id)
        return new, reds

    def _redact(self, doc: Document, key: PseudonymKey, doc_id: str | None, an: Analysis | None = None):
        self.load()
        key.seed(self.known, self.is_word)
        an, labels, spans = self.spans(doc, an)
        repl, spans = pseudonyms(spans, key)
        if doc_id is None:  # the file name, from this text's own findings and the known names
            doc_id = pseudonymise_name(doc.id, self, key, key.entries_of(repl.values()))[0]
        label_at = {(s, e) for s, e, sp in labels if sp is not None}
        new_text, mapping, reds = rewrite(doc.text, spans, repl, doc_id, label_at)
        speakers = {sp.text: repl[(s, e)].strip("[]") for s, e, sp in labels if sp is not None and (s, e) in repl}
        labels_on = "pattern" in self.sources and "PERSON" in self.types

        def speaker(name: str | None) -> str | None:
            if name is not None and name in speakers:
                return speakers[name]
            if name is not None and labels_on and not generic_label(name):
                return key.pseudonym(self._label_span(name, 0, len(name))).strip("[]")
            return name

        new = rebuild(doc, doc_id, new_text, mapping, speaker, lambda v: self._redact_value(v, key))
        return new, reds, (an, spans)

    def _redact_value(self, value, key: PseudonymKey):
        if isinstance(value, str):
            return self.redact_text(value, key) if value.strip() else value
        if isinstance(value, dict):
            return {k: self._redact_value(v, key) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._redact_value(v, key) for v in value)
        return value

    def redact_text(self, text: str, key: PseudonymKey) -> str:
        """Redact a loose string (metadata values) with the same key."""
        return replace_loose(text, self.find(text), key)

    # ---- review aid
    def leftover_known(self, text: str) -> int:
        """How many listed-name forms are still in ``text`` (words such as 'hope' kept as words)."""
        return self.load().known_names.leftover(text)

    def check_list(self, an: Analysis, spans: list[Span]) -> list[tuple[int, int]]:
        """Capitalised mid-sentence words left in the text: the places a reviewer should look."""
        out = []
        months = {m.lower() for m in MONTHS_FULL}
        for t in an.toks:
            if not t.capitalised or t.sent_start or not _WORD.fullmatch(t.text) or t.text.isupper() or self.kept(t.text):
                continue
            if t.lower.rstrip("s") in WEEKDAYS or t.lower in months:
                continue
            if any(s.start <= t.start < s.end for s in spans):
                continue
            if t.lower in {"i", "i'm", "i've", "i'll", "i'd"} or t.lower in WEEKDAYS or t.lower in GENERIC_LABEL_WORDS:
                continue
            if t.pos == "PROPN" or t.lower in NAME_WORDS:
                out.append((t.start, t.end))
        return out
