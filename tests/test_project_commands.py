"""export / import / agreement / compare on a small project, through the CLI."""

from __future__ import annotations

import csv
import zipfile

from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.compare import compare, cooccurrence, crosswalk
from pipeline.embed import embed_texts
from pipeline.project import load_project

runner = CliRunner()

def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_commands_export_formats(project, tmp_path):
    store = project.store_path
    for fmt in ("csv", "xlsx", "matrix", "md", "qdpx", "qdc"):
        r = runner.invoke(app, ["export", str(store), "-f", fmt, "-o", str(tmp_path / f"e.{fmt}")])
        assert r.exit_code == 0, r.output
    rows = _rows(tmp_path / "e.csv")
    assert {r["status"] for r in rows} >= {"proposed", "added"} and {"ann", "bob", "precode"} <= {r["coder"] for r in rows}
    matrix = _rows(tmp_path / "e.matrix")
    a2 = next(r for r in matrix if r["segment_id"] == "a.txt#t2")
    assert a2["tiny:Barriers/Role confusion"] == "1" and a2["tiny:Facilitators/Training"] == "0"
    md = (tmp_path / "e.md").read_text()
    assert "### Barriers" in md and "Nobody knows what the peer role is." in md and "(proposed)" not in md
    assert zipfile.ZipFile(tmp_path / "e.qdpx").namelist()[0] == "project.qde"
    r = runner.invoke(app, ["export", str(store), "-f", "pdf"])
    assert r.exit_code == 2 and "unknown format" in r.output


def test_commands_qdpx_roundtrip_keeps_spans_and_coders(project, tmp_path):
    runner.invoke(app, ["export", str(project.store_path), "-f", "qdpx", "-o", str(tmp_path / "p.qdpx")])
    r = runner.invoke(app, ["import", str(tmp_path / "p.qdpx"), "-p", str(tmp_path / "imported")])
    assert r.exit_code == 0, r.output
    assert "10 new human decisions" in r.output
    again = runner.invoke(app, ["import", str(tmp_path / "p.qdpx"), "-p", str(tmp_path / "imported")])
    assert "0 new human decisions" in again.output  # importing twice adds nothing
    before = {(r["document"], r["start"], r["end"], r["code"], r["coder"]) for r in _rows_export(project.store_path, tmp_path / "b.csv")
              if r["status"] == "added"}
    after = {(r["document"], r["start"], r["end"], r["code"], r["coder"]) for r in _rows_export(tmp_path / "imported", tmp_path / "c.csv")
             if r["status"] == "added"}
    assert before == after and len(before) == 10


def _rows_export(project, out):
    r = runner.invoke(app, ["export", str(project), "-f", "csv", "-o", str(out)])
    assert r.exit_code == 0, r.output
    return _rows(out)


def test_commands_agreement_matches_hand_count(project, tmp_path):
    r = runner.invoke(app, ["agreement", str(project.store_path), "--by", "code", "-o", str(tmp_path / "a.csv")])
    assert r.exit_code == 0, r.output
    rows = {(x["level"], x["name"]): x for x in _rows(tmp_path / "a.csv")}
    # 5 units; Role confusion: ann {a2, b2}, bob {a2, b2} -> full agreement
    assert rows[("code", "Barriers/Role confusion")]["agreement"] == "1.000"
    # Space: ann {a5, b3}, bob {a4, a5, b3} -> agree on 4 of 5 units
    assert rows[("code", "Barriers/Space")]["agreement"] == "0.800"
    r = runner.invoke(app, ["agreement", str(project.store_path), "--coders", "ann", "--coders", "zed"])
    assert r.exit_code == 2 and "no decisions by zed" in r.output


def test_commands_compare_by_role_counts_and_crosswalk(project, bow, tmp_path):
    data = load_project(project.store_path)
    result = compare([data], by="role", include_proposals=False)
    assert result.groups == ["PCP", "PSS"]
    space = [r for r in result.rows if r.code == "tiny:Barriers/Space"]
    assert len(space) == 1 and [g.segments for g in space[0].groups] == [2, 1]  # ann+bob: a5,b3 (PCP); a4 (PSS)
    assert space[0].test in {"fisher", "chi-square", "none"}
    co = cooccurrence(data, "document")
    assert co[("tiny:Barriers/Role confusion", "tiny:Barriers/Space")] == 2
    book = data.books["tiny"]
    walk = crosswalk(book, book, [s for s in data.segments if s.coded], lambda t: embed_texts(list(t), bow))
    assert walk.co_coded.trace() == walk.co_coded.sum()  # a codebook maps onto itself
    r = runner.invoke(app, ["compare", str(project.store_path), "--by", "role", "--confirmed-only", "-o", str(tmp_path / "cmp")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "cmp" / "compare_by_role.csv").exists() and (tmp_path / "cmp" / "compare_by_role_confirmed.png").exists()
