from __future__ import annotations

import io

import pytest

from pipeline.codebook import load_codebook
from pipeline.errors import CodebookError

from .conftest import CODEBOOKS


def test_codebook_shepardson_is_realigned_and_tied_to_questions():
    cb = load_codebook(CODEBOOKS / "shepardson2019.yaml")
    cats = [c.name for c in cb.categories]
    assert cats == ["Barriers", "Initial facilitators", "Maintenance facilitators", "Leadership support"]
    by_path = {c.path: c for c in cb.codes}
    # Table 2's facilitators block is shifted by one row in the source; check the re-alignment.
    assert by_path["Initial facilitators/Administrative support"].description.startswith("Funding")
    assert by_path["Initial facilitators/Team cohesion"].description.startswith("Trust")
    assert by_path["Maintenance facilitators/Evidence of success"].description.startswith("Patient and provider satisfaction")
    assert "Initial facilitators/Access and visibility" in by_path
    assert "Maintenance facilitators/Access and visibility" not in by_path
    assert "Initial facilitators/Evidence of success" not in by_path
    assert by_path["Barriers/Role confusion"].examples[0].startswith("The nebulous description")
    assert all(cat.questions for cat in cb.categories)
    assert len({c.guid(cb.name) for c in cb.codes}) == len(cb.codes)


def test_codebook_almeida_has_six_themes():
    cb = load_codebook(CODEBOOKS / "almeida2020.yaml")
    assert [c.name for c in cb.codes] == ["Work role and boundaries", "Hiring", "Work-life balance", "Work support",
                                          "Challenges", "Identified training needs"]
    assert all(c.description for c in cb.codes)


def test_codebook_duplicate_code_name_is_an_error(write):
    p = write("d.yaml", "name: d\ncategories:\n  - name: A\n    codes: [{name: X}, {name: ' x '}]\n")
    with pytest.raises(CodebookError, match="duplicate code name 'x' in category 'A'"):
        load_codebook(p)


def test_codebook_same_code_in_two_categories_is_fine(write):
    cb = load_codebook(write("d.yaml", "name: d\ncategories:\n  - {name: A, codes: [{name: X}]}\n  - {name: B, codes: [{name: X}]}\n"))
    assert [c.path for c in cb.codes] == ["A/X", "B/X"]
    assert cb.codes[0].guid("d") != cb.codes[1].guid("d")


@pytest.mark.parametrize("text,message", [
    ("name: d\ncodes: [{name: X, descripton: y}]\n", "[codes -> 0 -> descripton] unknown key (did you mean 'description'?)"),
    ("name: d\n", "the codebook has no codes"),
    ("codes: [{name: X}]\n", "[name] missing required key"),
    ("name: d\ncodes: [{name: X\n", "not valid YAML"),
])
def test_codebook_problems(write, text, message):
    with pytest.raises(CodebookError) as e:
        load_codebook(write("bad.yaml", text))
    assert message in str(e.value)


def test_codebook_from_csv_and_xlsx(write):
    csv_text = ("category,code,description,inclusion,exclusion,examples\n"
                "Barriers,Role confusion,unclear role,,,first example | second example\n"
                ",Hiring,recruitment,,,\n")
    cb = load_codebook(write("cb.csv", csv_text))
    assert [c.path for c in cb.codes] == ["Barriers/Role confusion", "Hiring"]
    assert cb.codes[0].examples == ("first example", "second example")
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.append(["code", "description"])
    wb.active.append(["Hiring", "recruitment"])
    wb.active.append(["hiring", "again"])
    buf = io.BytesIO()
    wb.save(buf)
    with pytest.raises(CodebookError, match="duplicate code name"):
        load_codebook(write("cb.xlsx", buf.getvalue()))
