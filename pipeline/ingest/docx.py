"""Word (.docx) transcripts: the paragraphs' text, then the same speaker-label parsing as .txt."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import InputError
from ..safety import ZipLimits, open_container
from .text import parse_transcript


def docx_text(data: bytes, path: Path, limits: ZipLimits | None = None) -> str:
    """The paragraphs' text (then table rows as ``speaker: text``), read through the capped zip reader."""
    package = open_container(data, path, limits, ".docx")
    try:
        import docx  # python-docx
    except ImportError:  # pragma: no cover - a dependency
        raise InputError(path, "python-docx is not installed (pip install python-docx)") from None
    try:
        document = docx.Document(package)
    except (zipfile.BadZipFile, KeyError, ValueError) as err:
        raise InputError(path, f"not a readable .docx file (damaged or not a Word document: {err.__class__.__name__})") from None
    except Exception as err:  # lxml errors inside a damaged package
        raise InputError(path, f"not a readable .docx file ({err.__class__.__name__}: {err})") from None
    lines: list[str] = [p.text.replace("\n", " ").replace("\r", " ") for p in document.paragraphs]
    # Transcripts are sometimes kept as a table: speaker | text (| time).
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip().replace("\n", " ") for c in row.cells]
            if len(cells) >= 2 and cells[0] and cells[-1]:
                lines.append(f"{cells[0]}: {' '.join(cells[1:])}")
    return "\n".join(lines)


def read_docx(data: bytes, path: Path, known_speakers: set[str] | None = None, limits: ZipLimits | None = None):
    text = docx_text(data, path, limits)
    if not text.strip():
        raise InputError(path, "the Word document has no text")
    turns, meta = parse_transcript(text, known_speakers, lines_are_paragraphs=True)
    return text, turns, meta
