"""Two-pass de-identification: file names, tables, run/redact agreement and the leak test."""

from __future__ import annotations

import csv
import json

import pytest

from pipeline.ingest import read_document
from pipeline.redact import Deidentifier, KnownNames, PseudonymKey, Redactor, load_ner, redact_files, review_rows


@pytest.fixture(scope="module")
def nlp():
    return load_ner("en_core_web_sm")


def _redact(nlp, items, known=None):
    deid = Deidentifier(Redactor(known, nlp=nlp), PseudonymKey())
    return deid, deid.redact(items)


def _doc(write, name, text):
    return read_document(write(name, text))


def test_file_name_takes_the_pseudonym_its_own_text_gives(nlp, write):
    doc = _doc(write, "interview_Okonkwo.txt", "Interviewer: Hello.\n\nP1: Dr. Okonkwo said the peer role is vague.\n")
    _, [res] = _redact(nlp, [("interview_Okonkwo.txt", doc)])
    pseudonym = next(r.replacement for r in res.redactions if r.original == "Okonkwo")
    assert res.doc.id == f"interview_{pseudonym.strip('[]')}.txt"
    assert "Okonkwo" not in res.doc.text and all(r.document == res.doc.id for r in res.redactions)


def test_file_names_are_not_guessed_from_other_files_or_near_spellings(nlp, write):
    """The demo's bug: files that never mention a site were renamed after it (int0X_SITE_5)."""
    known = KnownNames(participants=["Ines Szabo"], sites=["Maple Hollow Clinic"])
    quiet = _doc(write, "int02_supervisor.txt", "Interviewer: Hi.\n\nP2: The PSS role is unclear to everyone here.\n")
    maple = _doc(write, "int05_maple.txt", "Interviewer: Hi.\n\nP5: Nobody told us what to do.\n")
    site = _doc(write, "fg_maple.txt", "Moderator: Hi.\n\nP1: At Maple Hollow Clinic we share one office.\n")
    other = _doc(write, "notes_Quillfeather.txt", "Interviewer: Hi.\n\nP3: Ms. Quillfeather had no desk.\n")
    plain = _doc(write, "summary_Quillfeather.txt", "Interviewer: Hi.\n\nP4: We had no desk either.\n")
    _, res = _redact(nlp, [(d.id, d) for d in (quiet, maple, site, other, plain)], known)
    names = [r.doc.id for r in res]
    assert names[:3] == ["int02_supervisor.txt", "int05_maple.txt", "fg_SITE_1.txt"]
    assert names[3].startswith("notes_PERSON_")
    # a name in a file name that its own text never mentions is kept, and listed for a person to check
    assert names[4] == "summary_Quillfeather.txt" and res[4].name_checks == ["Quillfeather"]
    rows = [r for r in review_rows(res) if r["source"] == "file name"]
    assert [(r["document"], r["status"]) for r in rows] == [("summary_Quillfeather.txt", "kept: check")]


def test_listed_name_in_a_file_name_exact_or_misspelled(nlp, write):
    """A listed name in a file name takes its pseudonym even when the text never mentions it, spelled
    right or with a small misspelling (the known-names recognizer's variants and fuzzy targets)."""
    known = KnownNames(participants=["Chidi Okonkwo"])
    docs = [_doc(write, name, "Interviewer: Hi.\n\nP1: We had no desk.\n")
            for name in ("interview_Okonkwo.txt", "notes_Okonkow.txt", "memo_Okafor.txt")]
    _, res = _redact(nlp, [(d.id, d) for d in docs], known)
    assert [r.doc.id for r in res][:2] == ["interview_PARTICIPANT_1.txt", "notes_PARTICIPANT_1.txt"]
    assert res[2].doc.id == "memo_Okafor.txt"  # too far from any listed name: kept, for a person to check


def test_result_does_not_depend_on_file_order(nlp, write):
    a = _doc(write, "a_Vandermeer.txt", "Interviewer: Hi.\n\nP1: Tobiah Vandermeer here. Ms. Quintanar helped me.\n")
    b = _doc(write, "b.txt", "Interviewer: Hi.\n\nP2: quintanar and vandermeer were both there. Ms. Quintanar too.\n")
    _, one = _redact(nlp, [("a_Vandermeer.txt", a), ("b.txt", b)])
    _, two = _redact(nlp, [("b.txt", b), ("a_Vandermeer.txt", a)])
    assert [(r.doc.id, r.doc.text) for r in one] == [(r.doc.id, r.doc.text) for r in reversed(two)]
    # the second pass finds in b the lower-case spellings of names the first pass found in a
    assert "vandermeer" not in one[1].doc.text.lower() and "quintanar" not in one[1].doc.text.lower()
    # analysing again in pass 2 (over the memory budget) and a second run with the same key: the same
    deid = Deidentifier(Redactor(nlp=nlp), PseudonymKey())
    deid.KEEP_ANALYSES_CHARS = 0
    again = deid.redact([("a_Vandermeer.txt", a), ("b.txt", b)])
    again += deid.redact([("b.txt", b), ("a_Vandermeer.txt", a)])
    assert [(r.doc.id, r.doc.text) for r in again] == [(r.doc.id, r.doc.text) for r in one + list(reversed(one))]


def test_tables_stay_tables_with_the_same_columns(nlp, write, tmp_path):
    import openpyxl

    write("in/survey_Okonkwo.csv", "ID,Speaker,Role,Site,Text,Comment\n"
                                  "Okonkwo-1,Chidi Okonkwo,participant,Riverbend Clinic,Nobody knows the role.,ask Dr. Pryce\n"
                                  "\n"
                                  "R2,Interviewer,interviewer,,What would help?,\n")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "answers"
    for row in (["id", "role", "site", "question", "text", "score"],
                ["R001", "PSS", "Riverbend Clinic", "What gets in the way?", "Chidi Okonkwo had no office.", 4],
                ["R002", "staff", None, "What would help?", "Training.", 5]):
        ws.append(row)
    wb.create_sheet("contacts").append(["Chidi Okonkwo", "chidi@example.org"])
    wb.save(tmp_path / "in" / "survey.xlsx")
    known = tmp_path / "known.yaml"
    known.write_text("participants: [Chidi Okonkwo]\nsites: [Riverbend Clinic]\n")
    out = tmp_path / "out"
    summary = redact_files([tmp_path / "in"], out, known, tmp_path / "key.json", redactor=Redactor(nlp=nlp))
    assert sorted(summary["files"]["transcripts"]) == ["survey.xlsx", "survey_PARTICIPANT_1.csv"]
    rows = list(csv.reader((out / "survey_PARTICIPANT_1.csv").open(newline="", encoding="utf-8")))
    assert rows[0] == ["ID", "Speaker", "Role", "Site", "Text", "Comment"] and len(rows) == 4 and rows[2] == []
    assert rows[1] == ["PARTICIPANT_1-1", "PARTICIPANT_1", "participant", "[SITE_1]", "Nobody knows the role.",
                       "ask Dr. [PERSON_1]"]
    assert rows[3][:3] == ["R2", "Interviewer", "interviewer"]
    back = read_document(out / "survey_PARTICIPANT_1.csv")  # precode reads it as before, with the same turns
    assert [t.turn_id for t in back.turns] == ["PARTICIPANT_1-1", "R2"]
    wb2 = openpyxl.load_workbook(out / "survey.xlsx")
    assert wb2.sheetnames == ["answers", "contacts"]
    sheet = [list(r) for r in wb2["answers"].iter_rows(values_only=True)]
    assert sheet[0] == ["id", "role", "site", "question", "text", "score"]
    assert sheet[1] == ["R001", "PSS", "[SITE_1]", "What gets in the way?", "[PARTICIPANT_1] had no office.", 4]
    assert sheet[2][4:] == ["Training.", 5]  # numbers stay numbers
    assert [list(r) for r in wb2["contacts"].iter_rows(values_only=True)] == [["[PARTICIPANT_1]", "[EMAIL]"]]


def test_run_and_redact_keep_and_flag_the_same(nlp, tmp_path):
    """A city that `redact` keeps and flags is flagged by a run with redact.enabled too, on the same text."""
    from pipeline.config import load_config
    from pipeline.run import run_batch
    from pipeline.store import Store
    from tests.conftest import TINY_CODEBOOK, BagOfWordsEmbedder

    data = tmp_path / "data"
    data.mkdir()
    (data / "int_Okonkwo.txt").write_text("Interviewer: Where did the peer meet you?\n\nChidi: Near Bath, in a cafe. "
                                          "Dr. Okonkwo sent her. Nobody knows her role.\n")
    (data / "notes_Okonkwo.txt").write_bytes(b"")
    (tmp_path / "cb.yaml").write_text(TINY_CODEBOOK)
    (tmp_path / "c.yaml").write_text("project: {output_dir: out}\nstudies: [{name: s, inputs: [data/], codebook: cb.yaml}]\n"
                                     "redact: {enabled: true, key: private/key.json}\n"
                                     "segment: {context_roles: [interviewer]}\n")
    (tmp_path / "roles.yaml").write_text("int_Okonkwo.txt: {Chidi: peer}\n")
    text = (tmp_path / "c.yaml").read_text().replace("codebook: cb.yaml}", "codebook: cb.yaml, roles_file: roles.yaml}")
    (tmp_path / "c.yaml").write_text(text)
    shared = tmp_path / "shared"
    summary = redact_files([data], shared, None, tmp_path / "private" / "k2.json", redactor=Redactor(nlp=nlp))
    res = run_batch(load_config(tmp_path / "c.yaml"), embedder=BagOfWordsEmbedder())

    def flagged(path):
        return [(r["document"], r["status"], r["context"]) for r in csv.DictReader(path.open(encoding="utf-8"))
                if r["status"] != "redacted"]

    name = summary["files"]["transcripts"][0]
    assert name.startswith("int_PERSON_") and res.documents[0].id == name
    assert flagged(shared / "redaction_review.csv") == flagged(tmp_path / "out" / "redaction_review.csv")
    assert any("⟦Bath⟧" in c for _, _, c in flagged(tmp_path / "out" / "redaction_review.csv"))
    assert any("kept that may be names" in w for w in res.warnings)
    assert any("kept that may be names" in w for w in summary["warnings"])
    with Store(tmp_path / "out" / "project.sqlite").open() as store:
        stored = store.conn.execute("SELECT text FROM documents").fetchone()[0]
    assert stored == (shared / name).read_text()
    assert summary["skipped"] == res.errors == ["notes_PERSON_2.txt: file is empty"]
    # the roles file names speakers as they were: roles are looked up before the names are replaced
    assert [(s.speaker, s.role) for s in res.segments if s.coded] == [("PERSON_1", "peer")]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "Okonkwo" not in json.dumps(manifest) and manifest["errors"] == res.errors


def test_leak_test_finds_no_original_identifier_anywhere(tmp_path):
    """50+ invented identifiers in file names, texts and table columns; `precode redact` and `precode run`
    (redact.enabled) through the CLI; every output, the store's SQL dump and everything printed searched."""
    from bench.leaks import run_all

    res = run_all(tmp_path)
    assert res["identifiers"] >= 50 and res["sanity_inputs"] == res["probes"]
    assert res["exit_codes"] == [0, 0]
    assert res["redact"]["where"] == [] and res["run"]["where"] == []
    assert {"survey_SITE_2.csv", "roster_SITE_1.xlsx"} <= set(res["redact"]["outputs"])
    assert {"coded_segments.csv", "coded_segments.xlsx", "manifest.json", "project.sqlite"} <= set(res["run"]["outputs"])


def test_a_table_that_cannot_be_written_is_skipped_and_the_batch_goes_on(nlp, write, tmp_path, monkeypatch):
    import pipeline.redact.files as files

    def broken(*a, **k):
        raise ValueError("damaged")

    write("in/a.csv", "id,text\nA1,Nobody knows the role.\n")
    write("in/b.txt", "Interviewer: Hi.\n\nP1: We have no office.\n")
    monkeypatch.setattr(files, "write_table", broken)
    summary = redact_files([tmp_path / "in"], tmp_path / "out", None, tmp_path / "key.json", redactor=Redactor(nlp=nlp))
    assert summary["skipped"] == ["a.csv: the redacted table could not be written (ValueError)"]
    assert summary["files"]["transcripts"] == ["b.txt"] and (tmp_path / "out" / "b.txt").exists()
