"""Redacting files and folders: outputs, the review table, the summary, private paths."""

from __future__ import annotations

import csv
import glob
import json
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from ..errors import ConfigError, InputError
from ..ingest import inside_folder, supported, wildcard_root
from ..private import write_private
from ..records import Document
from .lexicon import REVIEW_FILE, SUMMARY_FILE, TYPES
from .names import KnownNames
from .key import PseudonymKey
from .batch import ORIGINAL_FIELDS, REVIEW_FIELDS, Deidentifier, original_rows, review_rows
from .detect import Redactor
from .tables import is_table, write_table


# ---------------------------------------------------------------------------------------------
# files


OUTSIDE = "a symbolic link that leads outside the input folder; refused (--allow-outside-symlinks reads it)"


def _expand(inputs: Iterable[str | Path], allow_outside_symlinks: bool = False) -> tuple[list[Path], list[Path]]:
    """(files to read, files refused): folders recursively (supported types) and globs; a file found
    in a folder or by a glob that is a symbolic link leading out of it is refused, as in a run
    (:func:`pipeline.inputs.expand_inputs`), unless ``allow_outside_symlinks``."""
    out: list[Path] = []
    refused: list[Path] = []

    def keep(found: list[Path], folder: Path) -> None:
        for q in found:
            (out if allow_outside_symlinks or inside_folder(q, folder) else refused).append(q)

    for item in inputs:
        p = Path(item)
        if p.is_dir():
            keep(sorted(q for q in p.rglob("*") if q.is_file() and supported(q) and not q.name.startswith(".")), p)
        elif not p.exists() and any(ch in str(item) for ch in "*?["):
            keep(sorted(Path(q) for q in glob.glob(str(item), recursive=True) if Path(q).is_file()), wildcard_root(p))
        else:
            out.append(p)
    return out, refused


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
        if p is not None and (inside_folder(p, out_dir) or p.resolve() == out_dir.resolve()):
            raise ConfigError(p, f"{label} must not be inside the output folder {out_dir} (outputs are meant to be shared)")
    return originals


def redact_files(inputs: Iterable[str | Path], out_dir: str | Path, known_path: str | Path | None,
                 key_path: str | Path, redactor: Redactor | None = None, spacy_model: str = "en_core_web_sm",
                 types: Iterable[str] = TYPES, max_mb: float = 50.0, allow_outside_symlinks: bool = False) -> dict:
    """Redact transcripts into ``out_dir``; keep the key (and the originals list) apart.

    Two passes (:mod:`.batch`): the identifiers of every input are collected first, then texts, file
    names and messages are redacted with the same key, so the result does not depend on input order.

    Writes, in ``out_dir`` (safe to share): one redacted copy per input: a table (.csv/.tsv/.xlsx) as a
    table of the same format with the same columns, any other transcript as ``<name>.txt``
    (``Speaker: text``, readable by precode's ingest); names in file names are pseudonymised from the
    file's own text and the known names. Also ``redaction_review.csv`` (every replacement with its
    offsets in the redacted text and its context *as redacted*, plus capitalised words that were kept,
    for a person to check) and ``redaction_summary.json`` (counts only).

    Writes, next to ``key_path`` (private, mode 0600): the key itself and ``<key>.originals.csv``
    (every replacement with the original words), which is what a reviewer opens to check a redaction.

    Raises :class:`ConfigError` if the key, the originals list or the known-names file would be inside
    ``out_dir``. Unreadable inputs are skipped and listed (by their redacted name).
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
    key = PseudonymKey.load(key_path)
    deid = Deidentifier(redactor, key)
    out_dir.mkdir(parents=True, exist_ok=True)

    sources: list[tuple[Path, Document]] = []
    failed: list[InputError] = []
    paths, refused = _expand(inputs, allow_outside_symlinks)
    failed += [InputError(p, OUTSIDE) for p in refused]
    for path in paths:
        try:
            doc = read_document(path, max_mb=max_mb)
        except InputError as e:
            failed.append(e)
            continue
        if not is_table(path):
            doc = as_plain_transcript(doc)
        sources.append((path, doc))
    names = [p.name if is_table(p) else f"{Path(d.id).stem}.txt" for p, d in sources]
    results = deid.redact(list(zip(names, (d for _, d in sources))))
    skipped = [deid.skipped(e.path, e.problem) for e in failed]

    docs, warnings = [], []
    counts: dict[str, int] = {t: 0 for t in TYPES}
    written = []
    for (path, _), res in zip(sources, results):
        name, new = res.doc.id, res.doc
        if is_table(path):
            try:
                write_table(path, res, out_dir / name, deid.redact_text, deid.scrub, max_mb)
            except (InputError, OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
                skipped.append(f"{name}: the redacted table could not be written ({err.__class__.__name__})")
                continue
        else:
            (out_dir / name).write_text(new.text, encoding="utf-8", newline="")
        docs.append({"document": name, "format": res.original.format, "turns": len(new.turns),
                     "redactions": len(res.redactions)})
        for r in res.redactions:
            counts[r.type] += 1
        if new.format == "text":
            again, _ = parse_transcript(new.text)
            if [t.speaker for t in again] != [t.speaker for t in new.turns]:
                warnings.append(f"{name}: the redacted text reads back with different speaker turns; check it")
        warnings += res.notes()
        written.append((path, res))
    results = [res for _, res in written]
    write_review(out_dir / REVIEW_FILE, results)
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=ORIGINAL_FIELDS)
    w.writeheader()
    w.writerows(original_rows(results, [str(p) for p, _ in written]))
    write_private(originals_path, buf.getvalue())
    key.save(key_path)
    summary = {"documents": docs, "redactions": counts, "total": sum(counts.values()), "skipped": skipped,
               "warnings": warnings, "detector": redactor.fingerprint(),
               "files": {"review": REVIEW_FILE, "transcripts": [d["document"] for d in docs]},
               "note": "Pseudonymised transcripts. The key that maps pseudonyms back is kept elsewhere and is not part of this folder."}
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return {**summary, "out_dir": str(out_dir), "key_path": str(key_path), "originals_path": str(originals_path)}


def write_review(path: Path, results) -> Path:
    """The shareable review table (:func:`.batch.review_rows`)."""
    from ..export.table import write_safe_csv

    return write_safe_csv(path, REVIEW_FIELDS, review_rows(results), lineterminator="\r\n")
