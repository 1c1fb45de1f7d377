"""Reading untrusted archives and XML: nothing is extracted to disk, every byte read is capped.

Every zip container precode reads goes through :class:`SafeZip`: REFI-QDA projects (.qdpx) member by
member, Word (.docx) and Excel (.xlsx) files through :func:`open_container`, which reads every member
under the limits and hands python-docx / openpyxl a rebuilt in-memory archive (they never see a byte
that did not pass the caps).

- Member names that climb out (``../``, absolute, drive letters, NUL) refuse the whole archive.
- A member is read only if its *declared* size is under the limits and its compression ratio is sane
  (checked from the zip header before any decompression), and the stream is cut off if it yields more
  bytes than declared (headers can lie).
- XML with a DOCTYPE is refused outright: REFI-QDA never needs one, and that is where entity expansion
  ("billion laughs") and external entities (``SYSTEM "file:///..."``) live.
"""

from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .errors import InputError

MB = 1024 * 1024
MAX_RATIO = 100  # uncompressed / compressed; text compresses 3-10x, XML 10-20x
RATIO_MIN_BYTES = 1 * MB  # tiny members may compress absurdly well (a run of spaces); only big ones count
MAX_MEMBERS = 100_000
CHUNK = 1 * MB
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class ZipLimits:
    """Caps for one archive: a member's and all members' uncompressed size, the compression ratio of a
    member over :data:`RATIO_MIN_BYTES`, and the number of members. The defaults are for Word and Excel
    files (config ``limits.max_unzipped_mb``, ``max_zip_ratio``, ``max_zip_members``)."""

    max_member_mb: float = 100
    max_total_mb: float = 100
    max_ratio: float = MAX_RATIO
    max_members: int = 10_000


def safe_member_name(name: str) -> str | None:
    """The member's path with ``/`` separators, or None if it could land outside an extraction folder."""
    norm = name.replace("\\", "/")
    if "\x00" in norm or norm.startswith("/") or _DRIVE.match(norm):
        return None
    if any(part == ".." for part in norm.split("/")):
        return None
    return norm


class SafeZip:
    """A zip opened for reading with limits. Use as a context manager."""

    def __init__(self, path: Path, max_member_mb: float | None = None, max_total_mb: float | None = None, *,
                 limits: ZipLimits | None = None, data: bytes | None = None,
                 not_zip: str = "not a REFI-QDA project: a .qdpx is a zip archive and this is not one"):
        """Open ``path`` (or ``data``, the file's bytes, named ``path`` in messages). Without ``limits``:
        the REFI-QDA caps (``max_member_mb``, ``max_total_mb``, ratio :data:`MAX_RATIO`, :data:`MAX_MEMBERS`)."""
        limits = limits or ZipLimits(max_member_mb or 100, max_total_mb or 100, MAX_RATIO, MAX_MEMBERS)
        self.path = path
        self.max_member = int(limits.max_member_mb * MB)
        self.max_total = int(limits.max_total_mb * MB)
        self.max_ratio = limits.max_ratio
        self.read_total = 0
        try:
            self.zf = zipfile.ZipFile(io.BytesIO(data) if data is not None else path)
        except FileNotFoundError:
            raise InputError(path, "file not found") from None
        except IsADirectoryError:
            raise InputError(path, "is a folder, not a file") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise InputError(path, not_zip) from None
        infos = self.zf.infolist()
        if len(infos) > limits.max_members:
            self.zf.close()
            raise InputError(path, f"the archive lists {len(infos):,} members (limit {limits.max_members:,}); refused")
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            norm = safe_member_name(info.filename)
            if norm is None:
                self.zf.close()
                raise InputError(path, f"archive member '{info.filename}' points outside the project folder; refused")
            if not info.is_dir():
                self.members[norm] = info

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc) -> None:
        self.zf.close()

    def find(self, name: str) -> str | None:
        """The stored member name matching ``name`` (exactly, else ignoring case)."""
        if name in self.members:
            return name
        low = name.casefold()
        return next((m for m in sorted(self.members) if m.casefold() == low), None)

    def check(self, name: str) -> zipfile.ZipInfo:
        """Refuse a member from its header alone: declared size, running total, compression ratio."""
        info = self.members[name]
        size, packed = info.file_size, info.compress_size
        if size > self.max_member:
            raise InputError(self.path, f"archive member '{name}' declares {size / MB:,.0f} MB uncompressed, "
                                        f"over the limit of {self.max_member / MB:g} MB; refused without reading")
        if self.read_total + size > self.max_total:
            raise InputError(self.path, f"archive members to read exceed {self.max_total / MB:g} MB in total; refused")
        if size > RATIO_MIN_BYTES and size > self.max_ratio * max(packed, 1):
            raise InputError(self.path, f"archive member '{name}' would expand {size / max(packed, 1):,.0f}:1 "
                                        f"(limit {self.max_ratio:g}:1): a zip bomb? refused without reading")
        return info

    def read(self, name: str) -> bytes:
        """Check the header, then decompress into memory with a byte cap."""
        info = self.check(name)
        cap = min(info.file_size, self.max_member, self.max_total - self.read_total)
        try:
            with self.zf.open(info) as stream:
                data = read_capped(stream, cap, self.path, name)
        except InputError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
            raise InputError(self.path, f"archive member '{name}' is corrupt ({err})") from None
        except (RuntimeError, NotImplementedError) as err:  # encrypted, unsupported compression
            raise InputError(self.path, f"archive member '{name}' cannot be read ({err})") from None
        self.read_total += len(data)
        return data


_XML_PROLOG = re.compile(rb"\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<!DOCTYPE", re.S)


def declares_dtd(data: bytes) -> bool:
    """Whether an XML part declares a DTD (where entities live), looked for before its root element."""
    head = data[:65536]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    return bool(_XML_PROLOG.match(head.lstrip(b"\xef\xbb\xbf")))


TEXT_PARTS = (".xml", ".rels")


def open_container(data: bytes, path: Path | str, limits: ZipLimits | None = None, kind: str = ".docx or .xlsx") -> io.BytesIO:
    """A .docx/.xlsx file's bytes, every XML member read under ``limits`` (media left out, empty), as a
    fresh uncompressed archive for python-docx or openpyxl. Refuses (InputError, one line) a zip bomb
    (total or member size, ratio, member count, a header that lies), member names that climb out, and
    XML parts with a DTD (Office never writes one; entities there would be dropped silently or expanded)."""
    limits = limits or ZipLimits()
    out = io.BytesIO()
    not_zip = f"not a readable {kind} file (damaged, or not a zip archive)"
    with SafeZip(Path(path), limits=limits, data=data, not_zip=not_zip) as zipped:
        # the text lives in the XML parts; images, fonts and embedded files are kept as empty members
        # (their names stay, for the package's relationships), never decompressed
        text_parts = [n for n in zipped.members if n.lower().endswith(TEXT_PARTS)]
        declared = sum(zipped.members[n].file_size for n in text_parts)
        if declared > zipped.max_total:
            raise InputError(path, f"the archive would unzip to {declared / MB:,.0f} MB, over the limit of "
                                   f"{limits.max_total_mb:g} MB (limits.max_unzipped_mb); refused without reading")
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as rebuilt:
            for name in zipped.members:
                if name not in text_parts:
                    rebuilt.writestr(name, b"")
                    continue
                part = zipped.read(name)
                if declares_dtd(part):
                    raise InputError(path, f"archive member '{name}' declares a DTD or entities, which {kind} files "
                                           "never contain; refused")
                rebuilt.writestr(name, part)
    out.seek(0)
    return out


def read_capped(stream: IO[bytes], cap: int, path: Path | str, name: str) -> bytes:
    """Read a stream to its end, refusing it as soon as it yields more than ``cap`` bytes."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = stream.read(min(CHUNK, cap + 1 - total))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > cap:
            raise InputError(path, f"archive member '{name}' expands beyond its declared size "
                                   f"({cap:,} bytes): the header lies; refused")
        chunks.append(chunk)


def parse_xml(data: bytes, path: Path | str, what: str) -> Element:
    """Parse untrusted XML: no DTD, no entities, no external references, no network."""
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise InputError(path, f"{what} declares a DTD or entities, which REFI-QDA never needs "
                               "(entity expansion or external entity attack?); refused") from None
    except ParseError as err:
        raise InputError(path, f"{what} is not well-formed XML ({err})") from None
