"""Redacting files and folders: outputs, the review table, the summary, private paths."""

from __future__ import annotations

import csv
import glob
import json
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError, InputError
from ..records import Document
from .lexicon import REVIEW_FILE, SUMMARY_FILE, TYPES
from .names import KnownNames
from .key import PseudonymKey, _write_private
from .detect import Redactor, _mapper


# ---------------------------------------------------------------------------------------------
# files


def _expand(inputs: Iterable[str | Path]) -> list[Path]:
    from ..ingest import supported

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.is_file() and supported(q) and not q.name.startswith("."))
        elif not p.exists() and any(ch in str(item) for ch in "*?["):
            out += sorted(Path(q) for q in glob.glob(str(item), recursive=True) if Path(q).is_file())
        else:
            out.append(p)
    return out


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _fmt_ts(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def as_plain_transcript(doc: Document) -> Document:
    """The document as a plain-text transcript (``[hh:mm:ss] Speaker: text`` blocks) when its text
    does not carry its timestamps (captions); other documents are returned unchanged."""
    if doc.format not in ("vtt", "srt") or not any(t.start_time is not None for t in doc.turns):
        return doc
    from ..ingest.text import parse_transcript

    blocks = []
    for t in doc.turns:
        head = f"[{_fmt_ts(t.start_time)}] " if t.start_time is not None else ""
        blocks.append(f"{head}{t.speaker}: {t.text}" if t.speaker else t.text)
    text = "\n\n".join(blocks) + "\n"
    turns, meta = parse_transcript(text)
    if [(t.speaker, t.text) for t in turns] != [(t.speaker, t.text) for t in doc.turns]:
        return doc  # would not read back the same: keep the label-only text
    turns = [replace(n, end_time=o.end_time, role=o.role, metadata=o.metadata) for n, o in zip(turns, doc.turns)]
    return replace(doc, text=text, turns=turns, format="text", metadata={**doc.metadata, "converted_from": doc.format})


def _context(text: str, s: int, e: int, width: int = 40) -> str:
    a, b = max(0, s - width), min(len(text), e + width)
    snippet = text[a:s] + "⟦" + text[s:e] + "⟧" + text[e:b]
    return ("…" if a else "") + snippet.replace("\r", "").replace("\n", " ⏎ ") + ("…" if b < len(text) else "")


def originals_path_for(key_path: str | Path) -> Path:
    """The private list of originals that sits next to the key: ``redaction_key.originals.csv``."""
    key_path = Path(key_path)
    return key_path.with_name(key_path.stem + ".originals.csv")


def check_private_paths(out_dir: str | Path, key_path: str | Path, known_path: str | Path | None = None) -> Path:
    """Refuse a key, originals list or known-names file inside the (shareable) output folder.
    Returns the originals path. Raises :class:`ConfigError`."""
    out_dir = Path(out_dir)
    originals = originals_path_for(key_path)
    for label, p in (("the redaction key", Path(key_path)), ("the originals list", originals),
                     ("the known-names file", Path(known_path) if known_path else None)):
        if p is not None and (_inside(p, out_dir) or p.resolve() == out_dir.resolve()):
            raise ConfigError(p, f"{label} must not be inside the output folder {out_dir} (outputs are meant to be shared)")
    return originals


def redact_files(inputs: Iterable[str | Path], out_dir: str | Path, known_path: str | Path | None,
                 key_path: str | Path, redactor: Redactor | None = None, spacy_model: str = "en_core_web_sm",
                 types: Iterable[str] = TYPES, max_mb: float = 50.0) -> dict:
    """Redact transcripts into ``out_dir``; keep the key (and the originals list) apart.

    Writes, in ``out_dir`` (safe to share): one ``<name>.txt`` per input (``Speaker: text``, readable by
    precode's ingest; names in file names are pseudonymised too), ``redaction_review.csv`` (every
    replacement with its offsets in the redacted text and its context *as redacted*, plus capitalised
    words that were kept, for a person to check) and ``redaction_summary.json`` (counts only).

    Writes, next to ``key_path`` (private, mode 0600): the key itself and ``<key>.originals.csv``
    (every replacement with the original words), which is what a reviewer opens to check a redaction.

    Raises :class:`ConfigError` if the key, the originals list or the known-names file would be inside
    ``out_dir``. Unreadable inputs are skipped and listed.
    """
    from ..ingest import read_document

    from ..ingest.text import parse_transcript

    out_dir, key_path = Path(out_dir), Path(key_path)
    originals_path = check_private_paths(out_dir, key_path, known_path)
    known = KnownNames.load(known_path) if known_path else None
    redactor = redactor or Redactor(known, types=types, spacy_model=spacy_model)
    if redactor.known is None and known is not None:
        redactor.known = known
        redactor._ready = False  # rebuild the name matcher (the spaCy pipeline is kept)
    redactor.load()
    key = PseudonymKey.load(key_path)
    key.seed(redactor.known, redactor.is_word)
    out_dir.mkdir(parents=True, exist_ok=True)

    review_rows, original_rows, docs, skipped, warnings = [], [], [], [], []
    counts: dict[str, int] = {t: 0 for t in TYPES}
    used_names: set[str] = set()
    for path in _expand(inputs):
        try:
            doc = read_document(path, max_mb=max_mb)
        except InputError as e:
            skipped.append(f"{redactor.redact_name(path.name, key)}: {e.problem}")
            continue
        doc = as_plain_transcript(doc)
        stem = redactor.redact_name(Path(doc.id).stem, key)
        name, n = f"{stem}.txt", 2
        while name in used_names:
            name, n = f"{stem}_{n}.txt", n + 1
        used_names.add(name)
        new, reds, (an, spans) = redactor._redact(doc, key, name)
        (out_dir / name).write_text(new.text, encoding="utf-8", newline="")
        docs.append({"document": name, "format": doc.format, "turns": len(new.turns), "redactions": len(reds)})
        for r in reds:
            counts[r.type] += 1
            review_rows.append({"document": name, "start": r.new_start, "end": r.new_end, "type": r.type,
                                "replacement": r.replacement, "source": r.source, "status": "redacted",
                                "context": _context(new.text, r.new_start, r.new_end)})
            original_rows.append({"document": name, "source_file": str(path), "start": r.new_start, "end": r.new_end,
                                  "orig_start": r.start, "orig_end": r.end, "type": r.type, "original": r.original,
                                  "replacement": r.replacement, "source": r.source,
                                  "context": _context(doc.text, r.start, r.end)})
        mp = _mapper([(r.start, r.end, r.new_start, r.new_end) for r in reds])
        for s, e in redactor.check_list(an, spans):
            ns, ne = mp(s), mp(e, True)
            review_rows.append({"document": name, "start": ns, "end": ne, "type": "", "replacement": "",
                                "source": "", "status": "kept: check", "context": _context(new.text, ns, ne)})
        if new.format == "text":
            again, _ = parse_transcript(new.text)
            if [t.speaker for t in again] != [t.speaker for t in new.turns]:
                warnings.append(f"{name}: the redacted text reads back with different speaker turns; check it")
        leaks = redactor.leftover_known(new.text)
        if leaks:
            warnings.append(f"{name}: {leaks} word(s) spelled like a listed name are still in the text "
                            "(e.g. 'hope' or 'will' used as ordinary words); check them")
    fields = ["document", "start", "end", "type", "replacement", "source", "status", "context"]
    with (out_dir / REVIEW_FILE).open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(review_rows)
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["document", "source_file", "start", "end", "orig_start", "orig_end", "type",
                                        "original", "replacement", "source", "context"])
    w.writeheader()
    w.writerows(original_rows)
    _write_private(originals_path, buf.getvalue())
    key.save(key_path)
    summary = {"documents": docs, "redactions": counts, "total": sum(counts.values()), "skipped": skipped,
               "warnings": warnings, "detector": redactor.fingerprint(),
               "files": {"review": REVIEW_FILE, "transcripts": [d["document"] for d in docs]},
               "note": "Pseudonymised transcripts. The key that maps pseudonyms back is kept elsewhere and is not part of this folder."}
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return {**summary, "out_dir": str(out_dir), "key_path": str(key_path), "originals_path": str(originals_path)}


