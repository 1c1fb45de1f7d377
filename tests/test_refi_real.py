"""REFI-QDA files written by other tools (issue 16): import, positions, GUIDs, tree, notes and sets through export.

The real files are not in this repository: they come from public repositories (see
``tests/data/refi_real/SOURCES.md``: where each came from, its licence, what was measured) and are read from
``$PRECODE_REFI_REAL`` or ``../shared/refi-real/``; without them these tests skip and say so. Each check is a
property any good file must keep, not a number measured on one file. The last tests build small files with
what those real files showed (bare ``plainTextPath`` names, text only in rich text) and always run.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from pipeline.refi import read_qdpx, write_qdpx

from .conftest import refi_schema as _schema

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("PRECODE_REFI_REAL") or ROOT.parent / "shared" / "refi-real")
FILES = sorted(REAL.glob("*.qdpx")) if REAL.is_dir() else []
Q = "{urn:QDA-XML:project:1.0}"
files = pytest.mark.parametrize("path", FILES or [None], ids=[f.name for f in FILES] or ["no real files"])


def _need(path: Path | None) -> Path:
    if path is None:
        pytest.skip(f"no real .qdpx files in {REAL} (set PRECODE_REFI_REAL; see tests/data/refi_real/SOURCES.md)")
    return path


def _root(path: Path) -> ET.Element:
    with zipfile.ZipFile(path) as zf:
        name = next(n for n in zf.namelist() if "/" not in n and n.lower().endswith(".qde"))
        return ET.fromstring(zf.read(name))


def _guids(root: ET.Element, tag: str) -> set[str]:
    return {el.get("guid").strip("{}").lower() for el in root.iter(f"{Q}{tag}") if el.get("guid")}


def _word_start(text: str, start: int) -> bool:
    return start == 0 or not (text[start - 1].isalnum() and text[start].isalnum())


def _coded_text(path: Path, unit: str = "auto") -> dict[str, str]:
    """Coding GUID (as kept by precode) -> the text it codes, read with precode's reader."""
    p = read_qdpx(path, offset_unit=unit)
    texts = {d.id: d.text for d in p.documents}
    keys = {k: g for k, g in p.extras.get("codings", {}).items()}
    from pipeline.refi import span_key

    return {keys[span_key(c.document_id, c.start, c.end, c.code_guid, c.coder)]: texts[c.document_id][c.start:c.end]
            for c in p.codings if span_key(c.document_id, c.start, c.end, c.code_guid, c.coder) in keys}


@files
def test_real_file_imports_with_spans_on_words(path):
    path = _need(path)
    p = read_qdpx(path)
    texts = {d.id: d.text for d in p.documents}
    assert all(0 <= c.start < c.end <= len(texts[c.document_id]) for c in p.codings)
    if "NVIVO" in p.origin.upper():
        assert p.offset_unit == "utf16"
    if not p.codings:
        pytest.skip(f"{path.name} has no coding precode can import ({'; '.join(p.warnings) or 'none in the file'})")
    on_word = sum(_word_start(texts[c.document_id], c.start) for c in p.codings) / len(p.codings)
    assert on_word >= 0.95, f"{on_word:.1%} of {len(p.codings)} spans start on a word ({p.offset_unit}: {p.offset_reason})"
    if any(ord(ch) > 0xFFFF for t in texts.values() for ch in t):  # the other unit would put spans elsewhere
        other = read_qdpx(path, offset_unit="codepoint" if p.offset_unit == "utf16" else "utf16")
        other_texts = {d.id: d.text for d in other.documents}
        other_on = sum(_word_start(other_texts[c.document_id], c.start) for c in other.codings) / max(len(other.codings), 1)
        assert other_on < on_word


@files
def test_real_file_survives_import_then_export_element_by_element(path, tmp_path):
    path = _need(path)
    p = read_qdpx(path)
    write_qdpx(p, tmp_path / "out.qdpx")
    with zipfile.ZipFile(tmp_path / "out.qdpx") as zf:
        _schema("Project-mrt2019.xsd").validate(io.BytesIO(zf.read("project.qde")))
    before, after = _root(path), _root(tmp_path / "out.qdpx")
    # GUIDs: users, codes, notes and sets all; text sources and codings as far as they were imported
    for tag in ("User", "Code", "Note", "Set"):
        assert _guids(before, tag) <= _guids(after, tag), tag
    assert {d.metadata["refi_guid"] for d in p.documents} <= _guids(after, "TextSource")
    kept_codings = set(p.extras.get("codings", {}).values())
    assert len(kept_codings) == len(p.codings) or not _guids(before, "Coding")
    assert kept_codings <= _guids(after, "Coding")
    selections_of = {c.get("guid").lower(): s.get("guid").lower() for s in before.iter(f"{Q}PlainTextSelection")
                     for c in s.findall(f"{Q}Coding") if c.get("guid") and s.get("guid")}
    assert {selections_of[g] for g in kept_codings if g in selections_of} <= _guids(after, "PlainTextSelection")
    # the code tree: same parent, codability, colour and description for every code; names kept (or made unique)
    def tree(root: ET.Element) -> dict[str, tuple]:
        out = {}

        def walk(el: ET.Element, parent: str | None) -> None:
            for code in el.findall(f"{Q}Code"):
                g = code.get("guid").lower()
                desc = " ".join((code.findtext(f"{Q}Description") or "").split())
                out[g] = (parent, (code.get("isCodable") or "true").lower(), (code.get("color") or "").upper(), desc,
                          code.get("name"))
                walk(code, g)

        codes = root.find(f"{Q}CodeBook/{Q}Codes")
        if codes is not None:
            walk(codes, None)
        return out

    b, a = tree(before), tree(after)
    for g, (parent, codable, colour, desc, name) in b.items():
        assert a[g][:4] == (parent, codable, colour, desc), g
        assert a[g][4] == name or a[g][4].endswith(f": {name}"), (a[g][4], name)
    # notes: the same text under the same GUID; sets: the same members
    def notes(root: ET.Element) -> dict[str, str]:
        return {n.get("guid").lower(): " ".join((n.findtext(f"{Q}PlainTextContent") or "").split())
                for n in root.iter(f"{Q}Note")}

    inline = {g: t for g, t in notes(before).items() if t}
    assert {g: notes(after)[g] for g in inline} == inline

    def sets(root: ET.Element) -> dict[str, list[str]]:
        return {s.get("guid").lower(): sorted(m.get("targetGUID").lower() for m in s if m.get("targetGUID"))
                for s in root.iter(f"{Q}Set")}

    assert sets(after) == sets(before)
    # positions: every coding codes the same text under the same GUID once exported as code points
    assert _coded_text(tmp_path / "out.qdpx", "codepoint") == _coded_text(path)


@files
def test_real_file_guids_survive_precode_import_and_export(path, tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    path = _need(path)
    p = read_qdpx(path)
    runner = CliRunner()
    r = runner.invoke(app, ["import", str(path), "-p", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    assert f"{len(p.codings)} codings" in r.output
    assert ("UTF-16 code units" if p.offset_unit == "utf16" else "Unicode code points") in r.output
    r = runner.invoke(app, ["export", str(tmp_path / "p"), "-f", "qdpx", "-o", str(tmp_path / "e.qdpx")])
    assert r.exit_code == 0, r.output
    before, after = _root(path), _root(tmp_path / "e.qdpx")
    for tag in ("User", "Code", "Note", "Set"):
        assert _guids(before, tag) <= _guids(after, tag), tag
    assert set(p.extras.get("codings", {}).values()) <= _guids(after, "Coding")
    assert _coded_text(tmp_path / "e.qdpx", "codepoint") == _coded_text(path)


# ---------------------------------------------------------------- what the real files showed, on built files

def _project(sources: str, members: dict[str, bytes], codes: str = "") -> bytes:
    qde = (f'<Project xmlns="urn:QDA-XML:project:1.0" name="p" origin="qc 1.3.2"><Users><User guid="aaaaaaaa-0000-0000-0000-000000000001"'
           ' name="cp"/></Users><CodeBook><Codes><Code guid="cccccccc-0000-0000-0000-000000000001" name="C" isCodable="true"/>'
           f'{codes}</Codes></CodeBook><Sources>{sources}</Sources></Project>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("project.qde", qde)
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


SEL = ('<PlainTextSelection guid="eeeeeeee-0000-0000-0000-00000000000{n}" startPosition="4" endPosition="9" '
       'creatingUser="aaaaaaaa-0000-0000-0000-000000000001"><Coding guid="ffffffff-0000-0000-0000-00000000000{n}" '
       'creatingUser="aaaaaaaa-0000-0000-0000-000000000001"><CodeRef targetGUID="cccccccc-0000-0000-0000-000000000001"/>'
       '</Coding></PlainTextSelection>')


def test_bare_plain_text_path_in_the_archive_is_read(tmp_path):
    """qc 1.3.2 writes plainTextPath="admin-1.txt" (no internal://) beside sources/admin-1.txt."""
    src = f'<TextSource guid="dddddddd-0000-0000-0000-000000000001" name="admin" plainTextPath="admin-1.txt">{SEL.format(n=1)}</TextSource>'
    (tmp_path / "q.qdpx").write_bytes(_project(src, {"sources/admin-1.txt": b"Cp: hello there"}))
    p = read_qdpx(tmp_path / "q.qdpx")
    (c,) = p.codings
    assert p.documents[0].text[c.start:c.end] == "hello"
    assert any("has no internal://" in w for w in p.warnings)
    # a bare name that is not in the archive is still never looked for outside it
    src = src.replace("admin-1.txt", "../admin-1.txt")
    (tmp_path / "r.qdpx").write_bytes(_project(src, {"sources/admin-1.txt": b"Cp: hello there"}))
    r = read_qdpx(tmp_path / "r.qdpx")
    assert not r.documents and any("lives outside the archive" in w for w in r.warnings)


def test_codings_on_a_source_with_no_plain_text_are_counted(tmp_path):
    """NVivo for Mac 15 wrote an empty .txt beside the .docx: its codings are reported, not silently dropped."""
    src = (f'<TextSource guid="dddddddd-0000-0000-0000-000000000001" name="a" plainTextPath="internal://a.txt" '
           f'richTextPath="internal://a.docx">{SEL.format(n=1)}{SEL.format(n=2)}</TextSource>')
    (tmp_path / "e.qdpx").write_bytes(_project(src, {"sources/a.txt": b"\n", "sources/a.docx": b"PK"}))
    p = read_qdpx(tmp_path / "e.qdpx")
    assert not p.documents and not p.codings
    assert any(w == "2 codings on empty text sources; skipped" for w in p.warnings)


def test_one_selection_per_coding_keeps_every_selection_guid(tmp_path):
    """NVivo 12 writes a selection per coding, several on the same span: each selection GUID comes back."""
    src = ('<TextSource guid="dddddddd-0000-0000-0000-000000000001" name="a" plainTextPath="internal://a.txt">'
           + SEL.format(n=1) + SEL.format(n=2).replace("cccccccc-0000-0000-0000-000000000001", "cccccccc-0000-0000-0000-000000000002")
           + "</TextSource>")
    (tmp_path / "n.qdpx").write_bytes(_project(src, {"sources/a.txt": b"Cp: hello there"},
                                               '<Code guid="cccccccc-0000-0000-0000-000000000002" name="D" isCodable="true"/>'))
    p = read_qdpx(tmp_path / "n.qdpx")
    assert len(p.codings) == 2
    write_qdpx(p, tmp_path / "o.qdpx")
    assert _guids(_root(tmp_path / "o.qdpx"), "PlainTextSelection") == {
        "eeeeeeee-0000-0000-0000-000000000001", "eeeeeeee-0000-0000-0000-000000000002"}
