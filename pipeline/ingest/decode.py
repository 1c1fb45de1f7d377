"""Bytes to text: size and emptiness checks, BOM/encoding detection, line-ending normalisation.

The encodings are tried in a fixed order (BOM, UTF-16 by its NUL bytes, UTF-8, then Windows-1252, what
Word and Excel on Windows write) rather than guessed by a detector: charset-normalizer 3.5 was tried
and, on short transcripts, named cp1006 for ``Ana: café`` in cp1252, cp1250 for a longer cp1252 turn
and cp1257 for a Mac Roman one, so it would turn the common case into mojibake.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from ..errors import InputError

ENCODINGS_TRIED = "UTF-8, UTF-16 or Windows-1252 (cp1252)"


def read_bytes(path: Path, max_mb: float = 50.0) -> bytes:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    if path.is_dir():
        raise InputError(path, "is a folder, not a file")
    if size == 0:
        raise InputError(path, "file is empty")
    if size > max_mb * 1024 * 1024:
        raise InputError(path, f"file is {size / 1e6:.1f} MB, over the limit of {max_mb:g} MB (limits.max_file_mb)")
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(path, f"cannot read: {err.strerror or err}") from None


def _looks_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM: ASCII text has a NUL in every other byte."""
    sample = data[:4000]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def decode_text(data: bytes, path: Path) -> tuple[str, str]:
    """Return (text with '\\n' line endings and no BOM, encoding name). Raise InputError if not text."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        candidates = ["utf-16"]
    elif enc := _looks_utf16(data):
        candidates = [enc]
    else:
        if b"\x00" in data[:8192]:
            raise InputError(path, "looks like a binary file, not text (it contains NUL bytes)")
        candidates = ["utf-8", "cp1252"]
    for enc in candidates:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise InputError(path, "looks like a binary file, not text (it contains NUL characters)")
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        if not text.strip():
            raise InputError(path, "file has no text (only white space)")
        return text, ("utf-16" if enc.startswith("utf-16") else enc)
    raise InputError(path, f"cannot decode the text as {ENCODINGS_TRIED}")


def read_text(path: Path, max_mb: float = 50.0) -> tuple[str, str]:
    return decode_text(read_bytes(path, max_mb), path)
