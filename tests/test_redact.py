from __future__ import annotations

import json
import os
import re
import stat

import pytest

from pipeline.errors import ConfigError
from pipeline.ingest import read_document
from pipeline.redact import KnownNames, PseudonymKey, Redactor, load_ner, redact_files

KNOWN = """
participants: [Dana Whitfield, Marcus Obi, Tomasz Wrobel, Hope Alvarez]
staff: [Grace Okafor, Alan Petrosyan]
sites: [Riverbend Community Health, Granite Hills Integrated Care]
aliases: {Dee: Dana Whitfield, Tommy: Tomasz Wrobel}
"""

TRANSCRIPT = """# INVENTED test transcript
# Site: Riverbend Community Health, 2019-05-14

Interviewer: Could you say your name for the recording?

Dana: My name is Dana Whitfield. Everyone calls me Dee.
I've been at Riverbend since March 3, 2016.

Second paragraph: Dr. Okafor said to call 555-201-3344.

Interviewer: And who else is in the group?

Marcus: Me, and tomasz. Tommy drove in from Riverbnd today.
"""


@pytest.fixture(scope="module")
def nlp():
    return load_ner("en_core_web_sm")


@pytest.fixture(scope="module")
def known():
    import yaml

    return KnownNames.from_dict(yaml.safe_load(KNOWN))


@pytest.fixture(scope="module")
def red(nlp, known):
    return Redactor(known, nlp=nlp).load()


@pytest.fixture(scope="module")
def plain(nlp):
    return Redactor(None, nlp=nlp).load()


def _types(red, text):
    return [(s.type, s.text) for s in red.find(text)]


def test_offsets_stay_valid_after_redaction(red, write):
    doc = read_document(write("a.txt", TRANSCRIPT))
    new, reds = red.redact_document(doc, PseudonymKey())
    assert len(new.turns) == len(doc.turns)
    for t in new.turns:
        assert new.text[t.start:t.end] == t.text
        for s, e in t.paragraphs:
            assert t.start <= s < e <= t.end
    assert len(new.turns[1].paragraphs) == len(doc.turns[1].paragraphs) == 2
    for r in reds:
        assert doc.text[r.start:r.end] == r.original
        assert new.text[r.new_start:r.new_end] == r.replacement
    # the redacted text reads back with the same turns (what redact_files writes)
    again = read_document(write("again.txt", new.text))
    assert [(t.speaker, t.start, t.end) for t in again.turns] == [(t.speaker, t.start, t.end) for t in new.turns]
    assert [t.speaker for t in new.turns] == ["Interviewer", "PARTICIPANT_1", "Interviewer", "PARTICIPANT_2"]
    assert "Dana" not in new.text and "Whitfield" not in new.text and "Dee" not in new.text
    assert "[SITE_1]" in new.text and "[DATE]" in new.text and "[PHONE]" in new.text and "[STAFF_1]" in new.text
    assert new.metadata.get("site", "").startswith("[SITE_1]")


def test_consistent_pseudonyms_across_documents_and_runs(red, write, tmp_path):
    key = PseudonymKey()
    d1 = read_document(write("one.txt", "Interviewer: Hi.\nDana: I'm Dana Whitfield. My son Jamal Brooks came too.\n"))
    d2 = read_document(write("two.txt", "Interviewer: Hi.\nMarcus: dana was late, Dee always is. Jamal said hi.\n"))
    n1, _ = red.redact_document(d1, key)
    n2, _ = red.redact_document(d2, key)
    assert n1.text.count("[PARTICIPANT_1]") == 1 and "PARTICIPANT_1:" in n1.text
    assert n2.text.count("[PARTICIPANT_1]") == 2  # "dana" and the nickname "Dee"
    jamal = re.search(r"\[PERSON_\d+\]", n1.text).group(0)
    assert jamal in n2.text  # an unlisted name keeps its pseudonym in the next document
    path = key.save(tmp_path / "k" / "key.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = PseudonymKey.load(path)
    n3, _ = red.redact_document(read_document(write("three.txt", "Interviewer: Hi.\nMarcus: Jamal and Dana.\n")), again)
    assert jamal in n3.text and "[PARTICIPANT_1]" in n3.text


def test_known_names_are_numbered_by_list_order_not_document_order(red, write):
    key = PseudonymKey()
    new, _ = red.redact_document(read_document(write("x.txt", "Interviewer: Hi.\nMarcus: Alan and Grace helped.\n")), key)
    assert "PARTICIPANT_2:" in new.text  # Marcus is the 2nd participant listed
    assert "[STAFF_2] and [STAFF_1]" in new.text


@pytest.mark.parametrize("text,typ,original", [
    ("My caseworker is Rebecca Lindqvist, she helps a lot.", "PERSON", "Rebecca Lindqvist"),
    ("We moved to Springfield last year.", "PLACE", "Springfield"),
    ("I worked at Dunmore Tire Company for ten years.", "ORG", "Dunmore Tire Company"),
    ("My intake was on March 3, 2016 at the clinic.", "DATE", "March 3, 2016"),
    ("My grandmother is 93 years old now.", "AGE", "93"),
    ("Call me at (555) 318-2290 after five.", "PHONE", "(555) 318-2290"),
    ("Write to dstokes77@example.com any time.", "EMAIL", "dstokes77@example.com"),
    ("She lives at 118 Larkspur Lane, Apt 2 now.", "ADDRESS", "118 Larkspur Lane, Apt 2"),
    ("My medical record number is MH-4471902.", "ID", "MH-4471902"),
])
def test_each_type_is_caught(plain, text, typ, original):
    assert (typ, original) in _types(plain, text)


def test_ages_under_90_durations_and_bare_years_stay(plain):
    text = "He's 67 himself. I've been here two years, since 2019, and I go on Tuesdays."
    assert plain.find(text) == []


def test_hard_cases_lowercase_nickname_misspelled_site(red):
    found = _types(red, "honestly tomasz and dee were there, then tommy drove to Riverbnd and riverbend.")
    assert ("PERSON", "tomasz") in found and ("PERSON", "dee") in found and ("PERSON", "tommy") in found
    assert ("SITE", "Riverbnd") in found and ("SITE", "riverbend") in found
    spans = red.find("tommy drove to Riverbnd")
    assert {s.name for s in spans} == {"Tomasz Wrobel", "Riverbend Community Health"}
    assert {s.source for s in spans} == {"known"}


def test_names_that_are_words(red):
    # "Hope" is a participant: the name is redacted, the verb is not
    assert ("PERSON", "Hope") in _types(red, "I talked to Hope about it yesterday.")
    assert _types(red, "I hope so. We hope it works.") == []
    assert ("PERSON", "Grace") in _types(red, "Nurse Grace walked him down the hall.")
    assert ("PERSON", "Grace") not in _types(red, "Grace period is over, you know?")


def test_names_after_cues_in_lower_case(plain):
    assert ("PERSON", "darnell") in _types(plain, "hi, um, my name is darnell and i got this number off a flyer")
    assert ("PERSON", "Okafor") in _types(plain, "then dr. okafor came in".replace("okafor", "Okafor"))
    assert ("PERSON", "jamal") in _types(plain, "my son jamal is doing better")


@pytest.mark.parametrize("text,original", [
    ("call 555-201-3344 tomorrow", "555-201-3344"),
    ("call 555.201.3344 tomorrow", "555.201.3344"),
    ("call (555) 201 3344 tomorrow", "(555) 201 3344"),
    ("call +1 555 201 3344 tomorrow", "+1 555 201 3344"),
    ("the warmline is 555-0142 now", "555-0142"),
    ("it's five five five two oh one three three four four, okay", "five five five two oh one three three four four"),
])
def test_phone_formats(plain, text, original):
    assert ("PHONE", original) in _types(plain, text)


@pytest.mark.parametrize("text,original", [
    ("my social is 412-55-0917 if you need it", "412-55-0917"),
    ("MRN 4471902 on the wristband", "4471902"),
    ("my Medicaid ID is WX55810274", "WX55810274"),
    ("the claim number is 20231187 I think", "20231187"),
])
def test_id_numbers(plain, text, original):
    assert ("ID", original) in _types(plain, text)


def test_redact_files_keeps_key_apart_and_exports_no_known_name(red, write, tmp_path):
    known_file = write("private/known.yaml", KNOWN)
    write("in/int_dana.txt", TRANSCRIPT)
    write("in/fg2.txt", "Moderator: Names?\n\nMarcus: marcus obi. And Alan Petrosyan from Granite Hills, "
                        "Dr. Petrosyan, he's great.\n\nTomasz: Tomasz Wrobel. Dee and Grace Okafor say hi.\n")
    out, key_path = tmp_path / "shared", tmp_path / "private" / "redaction_key.json"
    summary = redact_files([tmp_path / "in"], out, known_file, key_path, redactor=red)
    assert summary["skipped"] == [] and summary["total"] > 10
    files = sorted(p.name for p in out.iterdir())
    assert files == ["fg2.txt", "int_PARTICIPANT_1.txt", "redaction_review.csv", "redaction_summary.json"]
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    originals = key_path.with_name("redaction_key.originals.csv")
    assert stat.S_IMODE(os.stat(originals).st_mode) == 0o600 and "Whitfield" in originals.read_text()
    assert "Dana Whitfield" in key_path.read_text()
    names = ["Dana Whitfield", "Marcus Obi", "Tomasz Wrobel", "Grace Okafor", "Alan Petrosyan",
             "Riverbend Community Health", "Granite Hills", "Dee", "Tommy"]
    words = {w for n in names for w in n.split() if w not in ("Community", "Health")} | set(names)
    for p in out.iterdir():
        text = p.read_text()
        for w in words:
            assert not re.search(rf"(?i)\b{re.escape(w)}\b", text), (p.name, w)
        assert "redaction_key" not in text and str(tmp_path / "private") not in text
    review = (out / "redaction_review.csv").read_text()
    assert "[PARTICIPANT_1]" in review and "original" not in review.splitlines()[0]
    json.loads((out / "redaction_summary.json").read_text())


def test_redact_files_refuses_key_inside_outputs(red, write, tmp_path):
    write("in/a.txt", TRANSCRIPT)
    with pytest.raises(ConfigError, match="must not be inside the output folder"):
        redact_files([tmp_path / "in"], tmp_path / "out", None, tmp_path / "out" / "key.json", redactor=red)


def test_captions_keep_their_timestamps(red, write, tmp_path):
    vtt = ("WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Dana Whitfield>Hi, I'm Dana.\n\n"
           "00:00:05.000 --> 00:00:07.000\n<v Interviewer>Thanks, Dana.\n")
    write("in/call.vtt", vtt)
    redact_files([tmp_path / "in"], tmp_path / "out", None, tmp_path / "key.json", redactor=red)
    text = (tmp_path / "out" / "call.txt").read_text()
    assert text.startswith("[00:00:01] PARTICIPANT_1: Hi, I'm [PARTICIPANT_1].")
    doc = read_document(tmp_path / "out" / "call.txt")
    assert [(t.speaker, t.start_time) for t in doc.turns] == [("PARTICIPANT_1", 1.0), ("Interviewer", 5.0)]


def test_known_names_file_is_validated(write):
    with pytest.raises(ConfigError, match="did you mean 'participants'"):
        KnownNames.load(write("k1.yaml", "participant: [Dana]\n"))
    with pytest.raises(ConfigError, match="not listed"):
        KnownNames.load(write("k2.yaml", "participants: [Dana]\naliases: {Bo: Robert}\n"))
    k = KnownNames.load(write("k3.yaml", "participants: [Dana]\nkeep: [Peer Bridge]\n"))
    assert k.participants == ["Dana"] and k.keep == ["Peer Bridge"]


def test_keep_list_and_generic_labels(nlp, write):
    red = Redactor(KnownNames(participants=["Dana"], keep=["Peer Bridge"]), nlp=nlp)
    doc = read_document(write("k.txt", "Speaker 2: I joined Peer Bridge with Dana.\nP03: Same.\nSpeaker 2: Ok.\n"))
    new, reds = red.redact_document(doc, PseudonymKey())
    assert "Peer Bridge" in new.text and [t.speaker for t in new.turns] == ["Speaker 2", "P03", "Speaker 2"]
    assert [r.original for r in reds] == ["Dana"]


def test_redact_in_a_batch_config_keeps_names_out_of_every_output(tmp_path):
    """With `redact.enabled`, no known name reaches the store, the CSV or the manifest."""
    from pipeline.config import load_config
    from pipeline.run import run_batch
    from tests.conftest import BagOfWordsEmbedder, TINY_CODEBOOK

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "int_dana.txt").write_text(
        "Interviewer: Dana, what gets in the way at Riverbend Clinic?\nDana Whitfield: Nobody knows my role. Call me at 603-555-0142.\n")
    (tmp_path / "known.yaml").write_text("participants: [Dana Whitfield]\nsites: [Riverbend Clinic]\n")
    (tmp_path / "cb.yaml").write_text(TINY_CODEBOOK)
    (tmp_path / "private").mkdir()
    (tmp_path / "c.yaml").write_text("project: {output_dir: out}\nstudies: [{name: s, inputs: [data/], codebook: cb.yaml}]\n"
                                     "redact: {enabled: true, known: known.yaml, key: private/key.json}\n")
    res = run_batch(load_config(tmp_path / "c.yaml"), embedder=BagOfWordsEmbedder())
    assert res.documents and res.documents[0].id == "int_PARTICIPANT_1.txt"
    out = tmp_path / "out"
    for f in out.rglob("*"):
        if f.is_file():
            blob = f.read_bytes()
            for secret in (b"Dana", b"Whitfield", b"Riverbend", b"603-555-0142"):
                assert secret not in blob, (f, secret)
    assert (tmp_path / "private" / "key.json").exists()


def test_redact_refuses_symlinks_that_leave_the_input_folder(plain, tmp_path):
    """`precode redact` walks its folders itself: a file linking out of the folder is refused, as in a run,
    with one line whose path is redacted like every other message; an option reads it."""
    inp, outside = tmp_path / "in", tmp_path / "outside"
    inp.mkdir()
    outside.mkdir()
    (inp / "good.txt").write_text("Interviewer: Hi.\nDana: The room was cold.\n", encoding="utf-8")
    (outside / "secret.txt").write_text("Interviewer: Hi.\nPat: SECRETWORD here.\n", encoding="utf-8")
    (inp / "leak.txt").symlink_to(outside / "secret.txt")
    summary = redact_files([inp], tmp_path / "out", None, tmp_path / "key" / "key.json", redactor=plain)
    written = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").rglob("*") if p.is_file())
    assert "SECRETWORD" not in written
    assert any("leak.txt" in line and "leads outside the input folder" in line for line in summary["skipped"])
    summary = redact_files([inp], tmp_path / "out2", None, tmp_path / "key" / "key.json", redactor=plain,
                           allow_outside_symlinks=True)
    assert "SECRETWORD" in "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out2").rglob("*.txt"))
