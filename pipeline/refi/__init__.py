"""REFI-QDA exchange (QDA-XML 1.0): ``.qdpx`` projects and ``.qdc`` codebooks, as pure functions over records.

A ``.qdpx`` is a zip holding ``project.qde`` (namespace ``urn:QDA-XML:project:1.0``) and a lowercase
``sources/`` folder with one UTF-8 ``<guid>.txt`` per text source. A ``.qdc`` is the codebook alone
(``urn:QDA-XML:codebook:1.0``). ATLAS.ti, NVivo, MAXQDA and QualCoder read and write both.

Decisions (see also the module docstrings of ``write`` and ``read``):

- **Offsets** (``startPosition``/``endPosition``) precode writes count Unicode code points of the plain
  text, i.e. Python ``str`` indices, as the standard's "character" reads and as QualCoder reads and writes
  them. An emoji is one position, a precomposed ``é`` is one. NVivo counts UTF-16 code units (an emoji is
  two). ``read_qdpx(..., offset_unit="auto")`` (the default) reads UTF-16 when ``origin`` names NVivo and
  otherwise picks the unit under which fewer coded spans cut a word; ``"codepoint"``/``"utf16"`` force one.
  Line endings: text is stored with ``\\n``; on import ``\\r\\n`` is folded to ``\\n`` and positions are
  remapped (MAXQDA and most tools count ``\\r\\n`` as two; ATLAS.ti counts one, recognised by ``origin``).
- **Codebook shape.** precode has categories holding codes. A category is written as a non-codable parent
  ``<Code isCodable="false">``; codes are codable children. A code named ``"A > B"`` whose parent ``"A"``
  exists in the same category is written nested under it. On import a top-level non-codable code becomes
  a category; deeper levels are flattened into the code name with ``" > "`` (a non-codable level is kept
  in ``extras["levels"]`` and written back in place) (``Barriers`` ▸ ``Staffing``
  ▸ ``Turnover`` gives category ``Barriers``, codes ``Staffing`` and ``Staffing > Turnover``); a top-level
  *codable* code stays a code without category and its children become ``"Parent > Child"``.
- **Unique names.** QualCoder (and others) key codes by name. A name used by more than one code in the
  written tree is written ``"Parent: Name"`` (``"Initial facilitators: Administrative support"``; more
  ancestors while still not unique), with a warning naming them; reading a file whose ``origin`` is
  precode strips the prefix again, so names and GUIDs round-trip.
- **Definitions.** REFI codes only have a ``<Description>``; precode's inclusion, exclusion, examples and
  note travel in it as trailing ``Include: …`` / ``Exclude: …`` / ``Example: …`` / ``Note: …`` lines
  (categories: ``Question: …``), and are parsed back on import.
- **Several codebooks** in one project: each becomes a top-level non-codable code named after the codebook
  whose GUID is :func:`codebook_guid` — the reader recognises that GUID and splits them again.
- **GUIDs** are stable: codes ``Code.guid(codebook)``, categories ``Category.guid(codebook)``, sources,
  users and selections uuid5 of their identity. Same input, byte-identical ``project.qde`` and zip.
- **Kept GUIDs.** Every GUID read (codes as ``Code.source_guid``, categories, sources, users, selections,
  codings, notes, sets) is written back; Notes (memos, journals), NoteRefs, Sets, colours and the project
  description travel in ``RefiProject.extras``. A kept GUID that is not a GUID is replaced by precode's own.
- **Memos** travel as REFI ``<Note>``s (text inline) with ``<NoteRef>``s: a memo on a coding (precode's
  decision memo) is also the selection's ``<Description>`` (QualCoder and MAXQDA read that) and a Note
  referenced from inside the ``<Coding>``; a memo on a span (precode's segment memo) is a
  ``<PlainTextSelection>`` of its own on that span, without a ``<Coding>``, by the memo's author, with the memo
  as its ``<Description>`` (QualCoder stores it as an annotation) and a NoteRef to the memo's Note. On
  import, Notes referenced from a Coding become that coding's memo, Notes referenced from a selection and
  the ``<Description>`` of a selection without codings (ATLAS.ti's quotation comments) become memos on the
  span; their Note GUIDs and names are kept. Notes referenced from elsewhere are carried as they are.
- **Machine proposals.** Codings whose coder is :data:`MACHINE_USER` (precode's unconfirmed proposals)
  are left out unless ``include_machine_user=True``.
"""

from __future__ import annotations

from .model import (MACHINE_USER, RefiCoding, RefiMemo, RefiProject, codebook_guid, selection_guid, source_guid, span_key,
                    user_guid)
from .read import read_qdc, read_qdpx
from .write import write_qdc, write_qdpx

__all__ = [
    "MACHINE_USER",
    "RefiCoding",
    "RefiMemo",
    "RefiProject",
    "codebook_guid",
    "read_qdc",
    "read_qdpx",
    "selection_guid",
    "source_guid",
    "span_key",
    "user_guid",
    "write_qdc",
    "write_qdpx",
]
