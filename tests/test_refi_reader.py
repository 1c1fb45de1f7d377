"""precode's .qdpx of the demo project read by an independent reader: 0 codings lost (issue 16).

The reader below is written here from the REFI-QDA standard and the import rules QualCoder documents (its
``code_name`` and ``code_cat`` tables key codes and categories by name: a second code of a name is
refused, and codings on it are lost; text sources are read from ``sources/`` and positions are
character indices into that text). It shares no code with precode's reader. QualCoder's own import
needs PyQt6 and a QualCoder checkout, which CI does not have.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from lxml import etree

from pipeline.export.refi_project import export_qdpx

from .conftest import demo_project

ROOT = Path(__file__).resolve().parents[1]
Q = "{urn:QDA-XML:project:1.0}"


def name_keyed_reader(path: Path) -> dict:
    """Load a .qdpx as a name-keyed tool does; count what it would lose."""
    with zipfile.ZipFile(path) as zf:
        root = etree.fromstring(zf.read("project.qde"), etree.XMLParser(resolve_entities=False, no_network=True))
        texts = {}
        for src in root.iter(f"{Q}TextSource"):
            member = src.get("plainTextPath").removeprefix("internal://")
            texts[src.get("guid")] = zf.read(f"sources/{member}").decode("utf-8")
    code_names: dict[str, str] = {}  # name -> guid: the first code of a name wins
    cat_names: set[str] = set()
    guid_ok: set[str] = set()

    def walk(el, depth=0):
        for child in el.findall(f"{Q}Code"):
            if child.get("isCodable") == "false":
                cat_names.add(child.get("name"))
            elif child.get("name") not in code_names:
                code_names[child.get("name")] = child.get("guid")
                guid_ok.add(child.get("guid"))
            walk(child, depth + 1)

    walk(root.find(f"{Q}CodeBook/{Q}Codes"))
    loaded, lost, spans = 0, 0, []
    for src in root.iter(f"{Q}TextSource"):
        text = texts[src.get("guid")]
        for sel in src.findall(f"{Q}PlainTextSelection"):
            start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
            for coding in sel.findall(f"{Q}Coding"):
                ok = coding.find(f"{Q}CodeRef").get("targetGUID") in guid_ok and 0 <= start < end <= len(text)
                loaded += ok
                lost += not ok
                spans.append((src.get("name"), text[start:end]))
    return {"codes": len(code_names), "loaded": loaded, "lost": lost, "spans": spans}


@pytest.mark.slow
def test_demo_export_loses_no_coding_in_a_name_keyed_reader(tmp_path, bow):
    cfg, data = demo_project(tmp_path, bow)
    notes: list[str] = []
    target = export_qdpx(data, tmp_path / "demo.qdpx", include_proposals=True, store_path=cfg.store_path, notes=notes)
    got = name_keyed_reader(target)
    n_codes = sum(len(b.codes) for b in {b.name: b for b in data.codebooks.values()}.values())
    assert got["codes"] == n_codes  # every code of both codebooks, none refused for its name
    assert got["lost"] == 0 and got["loaded"] > 100
    assert any("Initial facilitators: Administrative support" in n for n in notes)
    segs = {(s.document_id, s.text) for s in data.segments}
    assert all(span in segs for span in got["spans"])  # each coding on its segment's exact text
    xsd = ROOT.parent / "shared" / "standards" / "refi-qda" / "Project-mrt2019.xsd"
    if not xsd.exists():  # ../shared is absent in a worktree: the copy shipped in the package
        xsd = ROOT / "pipeline" / "refi" / "schemas" / "Project-mrt2019.xsd"
    if xsd.exists():
        xmlschema = pytest.importorskip("xmlschema")
        with zipfile.ZipFile(target) as zf:
            xmlschema.XMLSchema(str(xsd)).validate(etree.fromstring(zf.read("project.qde")))
