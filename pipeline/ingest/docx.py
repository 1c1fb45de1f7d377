"""Word (.docx) transcripts: the paragraphs' text, then the same speaker-label parsing as .txt."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ..errors import InputError
from ..safety import ZipLimits, open_container
from .text import parse_transcript


_W = {"w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main"}
_XPATHS: dict[str, object] = {}


def _xpath(expr: str):
    """A compiled XPath (python-docx compiles its expression on every call: most of the time spent on a
    long document, 2 M paragraphs took minutes)."""
    if expr not in _XPATHS:
        from lxml import etree

        _XPATHS[expr] = etree.XPath(expr, namespaces=_W)
    return _XPATHS[expr]


def paragraph_text(p) -> str:
    """python-docx's ``Paragraph.text`` (runs and hyperlinks' runs; tabs, breaks and no-break hyphens as
    python-docx renders them), with compiled XPaths."""
    inner = _xpath("w:br | w:cr | w:noBreakHyphen | w:ptab | w:t | w:tab")

    def run(r) -> str:
        return "".join(str(e) for e in inner(r))

    return "".join(run(e) if e.tag.endswith("}r") else "".join(run(r) for r in _xpath("w:r")(e))
                   for e in _xpath("w:r | w:hyperlink")(p))


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
    lines: list[str] = [paragraph_text(p._p).replace("\n", " ").replace("\r", " ") for p in document.paragraphs]
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
