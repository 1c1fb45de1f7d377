"""Readers: one per format, all returning a :class:`~pipeline.records.Document`."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError
from ..records import Document
from ..safety import ZipLimits
from .captions import read_captions
from .decode import decode_text, read_bytes
from .docx import read_docx
from .table import rows_from_csv, rows_from_xlsx, rows_to_turns
from .text import parse_transcript

FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".docx": "docx",
    ".vtt": "vtt",
    ".srt": "srt",
    ".csv": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
}
NOT_YET = {
    ".qdpx": "a REFI-QDA project: bring it in with `precode import FILE.qdpx --project DIR`",
    ".qdc": "a REFI-QDA codebook, not a transcript: use it as --codebook",
    ".doc": "old Word .doc files are not supported; save it as .docx",
    ".pdf": "PDF transcripts are not supported; export the text as .txt or .docx",
    ".xls": "old Excel .xls files are not supported; save it as .xlsx",
}


def supported(path: Path) -> bool:
    return path.suffix.lower() in FORMATS


def wildcard_root(full: Path) -> Path:
    """The folder a glob searches: its path up to the first part with a wildcard."""
    parts = full.parts
    cut = next((i for i, part in enumerate(parts) if any(ch in part for ch in "*?[")), len(parts))
    return Path(*parts[:cut]) if cut else Path(".")


def inside_folder(path: Path, folder: Path) -> bool:
    """Whether ``path``, its symbolic links followed, lies in ``folder`` (False for a symlink loop)."""
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError, RuntimeError):  # outside, or a symlink loop
        return False


def read_document(
    path: str | Path,
    doc_id: str | None = None,
    known_speakers: set[str] | None = None,
    max_mb: float = 50.0,
    zip_limits: ZipLimits | None = None,
) -> Document:
    """Read one transcript. Raises :class:`InputError` with a one-line message on bad input.

    ``max_mb`` caps the file's size; ``zip_limits`` what a .docx/.xlsx may unzip to (size, ratio, members)."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in FORMATS:
        if ext in NOT_YET:
            raise InputError(path, NOT_YET[ext])
        kinds = " ".join(sorted(FORMATS))
        raise InputError(path, f"unsupported file type '{ext or '(none)'}' (supported: {kinds})")
    fmt = FORMATS[ext]
    data = read_bytes(path, max_mb)
    sha = hashlib.sha256(data).hexdigest()
    warnings: list[str] = []
    meta: dict = {}
    if fmt == "docx":
        text, turns, meta = read_docx(data, path, known_speakers, zip_limits)
    elif fmt == "xlsx":
        text, turns, warnings = rows_to_turns(rows_from_xlsx(data, path, zip_limits), path)
    else:
        raw, encoding = decode_text(data, path)
        meta["encoding"] = encoding
        if fmt == "text":
            text = raw
            turns, pre = parse_transcript(raw, known_speakers)
            meta.update(pre)
        elif fmt in ("vtt", "srt"):
            text, turns, cap_meta, warnings = read_captions(raw, path, fmt)
            meta.update(cap_meta)
        else:
            text, turns, warnings = rows_to_turns(rows_from_csv(raw, path), path)
    if not turns:
        raise InputError(path, "no transcript text found")
    for t in turns:  # the contract every later stage relies on
        assert text[t.start : t.end] == t.text, (path, t.index)
    return Document(
        id=doc_id or path.name,
        path=str(path),
        format=fmt,
        sha256=sha,
        text=text,
        turns=turns,
        metadata=meta,
        warnings=warnings,
    )
