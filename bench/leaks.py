#!/usr/bin/env python
"""Leak test of de-identification: invented identifiers in file names, texts and table columns.

    PYTHONPATH=. .venv/bin/python bench/leaks.py            # writes bench/results/leaks.{md,json}
    PYTHONPATH=. .venv/bin/python bench/leaks.py --print    # prints only

Builds a small batch (plain-text interviews, WebVTT captions, a CSV and an XLSX survey with id / speaker /
site / comment columns and a second sheet, an empty file that is skipped), every name invented. Then runs,
through the CLI, ``precode redact`` and ``precode run`` with ``redact.enabled``, and searches, for every
original identifier (full strings and their distinctive words, case-insensitive, as bytes):

* every file written in the shareable output folders (XLSX: every member of the zip, decompressed);
* the project store as an SQL dump (documents, segments, runs/manifests, suggestions, the embedding cache
  and form features it holds);
* everything the two commands printed (stdout and stderr: skipped-file lines, warnings).

The private files (the key and its originals list) are outside those folders and are expected to hold the
originals; they are not searched. ``tests/test_redact_batch.py`` runs the same and requires 0 leaks.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

KNOWN = """\
# INVENTED names for the leak test
participants: [Chidi Okonkwo, Jerome Whitaker, Eleanor Briggs, Marisol Quintanar, Tobiah Vandermeer,
               Bartholomew Fenwick-Sayre, Wilhelmina Oduya]
staff: [Ngozi Adeyemi, Radoslav Kuczynski, Priyanka Ramaswamy]
sites: [Brackenridge Wellness Collective, Thornquist Family Clinic, Pellucid Harbor Recovery House]
aliases: {Jerry: Jerome Whitaker, Barty: Bartholomew Fenwick-Sayre}
"""

# identifiers the known-names file lists, and identifiers only the texts reveal (cues, patterns, NER)
LISTED = ["Chidi Okonkwo", "Jerome Whitaker", "Eleanor Briggs", "Marisol Quintanar", "Tobiah Vandermeer",
          "Ngozi Adeyemi", "Radoslav Kuczynski", "Brackenridge Wellness Collective", "Thornquist Family Clinic",
          "Jerry", "Bartholomew Fenwick-Sayre", "Wilhelmina Oduya", "Priyanka Ramaswamy",
          "Pellucid Harbor Recovery House", "Barty"]
UNLISTED = ["Zofia Wisniewska", "Castellanos", "Dmitri", "Annelise", "Thaddeus Mwangi", "Ysolde Pryce",
            "Ashtabula", "Kittredge", "Okafor-Lindqvist", "Pemberton Tire", "Saint Wenceslas Shelter",
            "zofia.w@orchardmail.example", "jwhitaker@brackenridge.example", "603-555-0187", "(412) 555-0199",
            "1427 Larkspur Lane", "88 Quarry Road", "MRN 44817236", "4481-7723-19", "March 14, 2019",
            "04/22/2021", "Quillfeather", "Haverbrook", "Mr. Szczepanski", "Rosalind", "Cosimo", "Tavish",
            "Wapakoneta", "Chillicothe", "Mount Zorah Baptist Church", "Vantongeren", "b.fenwick@kestrelpost.example",
            "tavish77@mailbarn.example", "802-555-0143", "+1 207 555 0166", "39 Wexcombe Street", "PO Box 4417",
            "219-44-7781", "CN-558201", "ZX44901273", "11/07/1962", "September 9, 2018", "Ottoline Marchbanks",
            "Ferdinand Achterberg"]

TEXTS = {
    "intake_Fenwick-Sayre.txt": """\
Interviewer: This is the intake call. Can you confirm who I'm speaking with?

Participant: Bartholomew Fenwick-Sayre, but everyone calls me Barty. My SSN is 219-44-7781, DOB 11/07/1962.

Interviewer: And where are you staying?

Participant: PO Box 4417 for mail; I sleep at Pellucid Harbor Recovery House, 39 Wexcombe Street.
My wife Rosalind drove up from Wapakoneta, my brother Cosimo is in Chillicothe. Mr. Szczepanski, my old boss at
Vantongeren Logistics, still calls on 802-555-0143. Write to b.fenwick@kestrelpost.example.

Interviewer: Anything else we should know?

Participant: My case number CN-558201, and the Medicaid ID ZX44901273. I was baptised at Mount Zorah Baptist Church
on September 9, 2018. Priyanka Ramaswamy set it all up.
""",
    "interview_Okonkwo.txt": """\
Interviewer: Thanks for coming in. Could you say your name for the recording?

Chidi: My name is Chidi Okonkwo. I moved here from Ashtabula in March 14, 2019.

Interviewer: Who supported you when you started?

Chidi: Ngozi Adeyemi, my supervisor at Thornquist Family Clinic. And Dr. Castellanos, he's great.
My son Dmitri lives at 1427 Larkspur Lane, call him at 603-555-0187.

Interviewer: What gets in the way of the peer role?

Chidi: Nobody knows what the role is. My MRN 44817236 is on every form, but nobody reads them.
""",
    "Jerome_Whitaker_followup.txt": """\
Interviewer: Jerome, thanks for the follow-up call.

Jerome Whitaker: Sure. Jerry is fine. Write to jwhitaker@brackenridge.example if you need me.

Interviewer: How is the training going at Brackenridge Wellness Collective?

Jerome Whitaker: Better. Radoslav Kuczynski runs it now; before that Thaddeus Mwangi did, out of Kittredge.
My daughter Annelise helped me with the forms on 04/22/2021.
""",
    "call_Zofia_Wisniewska.txt": """\
Interviewer: Could you introduce yourself?

Participant: My name is Zofia Wisniewska, you can email zofia.w@orchardmail.example or call (412) 555-0199.
I worked at Pemberton Tire and volunteered at Saint Wenceslas Shelter before I joined the peer team.

Interviewer: What would help peer support succeed?

Participant: More training. Dr. Okafor-Lindqvist keeps saying so, and Ysolde Pryce from the office agrees.
A friend, call me Tavish, put it best: tavish77@mailbarn.example, or +1 207 555 0166 after six.
""",
    "Vandermeer_group.vtt": """\
WEBVTT

00:00:01.000 --> 00:00:05.000
<v Tobiah Vandermeer>I'm Tobiah. I drive in from 88 Quarry Road every day.

00:00:06.000 --> 00:00:09.000
<v Interviewer>Thanks, Tobiah. What gets in the way?

00:00:10.000 --> 00:00:15.000
<v Tobiah Vandermeer>No office space. Marisol Quintanar and I share one desk with Quillfeather.
""",
}

CSV_NAME = "survey_Thornquist.csv"
CSV_TEXT = """\
id,speaker,role,site,text,comment
Quintanar-A1,Marisol Quintanar,participant,Thornquist Family Clinic,"Nobody knows what the peer role is, said Dr. Castellanos.",call back Radoslav Kuczynski
Okonkwo-A2,Chidi Okonkwo,participant,Brackenridge Wellness Collective,We have no room for meetings.,member ID 4481-7723-19
"""
XLSX_NAME = "roster_Brackenridge.xlsx"
SKIPPED_NAME = "notes_Eleanor_Briggs.txt"  # empty: skipped, its name must not leak in the skipped line

CODEBOOK = """\
name: tiny
categories:
  - name: Barriers
    codes:
      - name: Role confusion
        description: nobody knows what the peer role is; unclear job duties
      - name: Space
        description: no office room space for meetings
  - name: Facilitators
    codes:
      - name: Training
        description: training and education courses for staff
"""


def identifiers() -> list[str]:
    """Every probe: each identifier and each of its distinctive words (4+ letters, not an ordinary word)."""
    ordinary = {"wellness", "collective", "family", "clinic", "tire", "saint", "shelter", "lane", "road", "quarry",
                "march", "larkspur"}
    out: list[str] = []
    for ident in LISTED + UNLISTED:
        out.append(ident)
        if "@" in ident or any(ch.isdigit() for ch in ident):
            continue
        for w in ident.replace("-", " ").split():
            if len(w) >= 4 and w.lower() not in ordinary and w not in out:
                out.append(w)
    return list(dict.fromkeys(out))


def build(root: Path) -> dict[str, Path]:
    """The input folder, the known-names file (private), a codebook and a run config under ``root``."""
    import openpyxl

    data = root / "data"
    data.mkdir(parents=True)
    for name, text in TEXTS.items():
        (data / name).write_text(text, encoding="utf-8")
    (data / CSV_NAME).write_text(CSV_TEXT, encoding="utf-8")
    (data / SKIPPED_NAME).write_bytes(b"")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "answers"
    ws.append(["id", "role", "site", "question", "text"])
    ws.append(["Vandermeer-R1", "participant", "Haverbrook satellite of Thornquist Family Clinic",
               "What gets in the way?", "Eleanor Briggs never got an office; she met clients in the Haverbrook lobby."])
    ws.append(["R2", "staff", "Brackenridge Wellness Collective", "What would help?",
               "Training for supervisors, Ngozi Adeyemi says, every quarter."])
    ws.append(["R3", "participant", "Thornquist Family Clinic", "What would help?",
               "Dr. Ottoline Marchbanks told me to ask Wilhelmina Oduya and Ferdinand Achterberg."])
    contacts = wb.create_sheet("contacts")
    contacts.append(["name", "email", "phone"])
    contacts.append(["Zofia Wisniewska", "zofia.w@orchardmail.example", "(412) 555-0199"])
    contacts.append(["Jerome Whitaker", "jwhitaker@brackenridge.example", "603-555-0187"])
    contacts.append(["Wilhelmina Oduya", "", ""])
    wb.save(data / XLSX_NAME)
    private = root / "private"
    private.mkdir()
    (private / "known.yaml").write_text(KNOWN, encoding="utf-8")
    (root / "cb.yaml").write_text(CODEBOOK, encoding="utf-8")
    (root / "run.yaml").write_text(
        "project: {name: leaks, output_dir: out_run}\n"
        "studies: [{name: s, inputs: [data/], codebook: cb.yaml}]\n"
        "embedding: {cache: true}\n"
        "redact: {enabled: true, known: private/known.yaml, key: private/run_key.json}\n", encoding="utf-8")
    return {"data": data, "known": private / "known.yaml", "config": root / "run.yaml",
            "redact_out": root / "out_redact", "run_out": root / "out_run", "private": private}


def blobs(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` as bytes: zip members (XLSX) decompressed, SQLite files dumped as SQL."""
    out: dict[str, bytes] = {}
    for f in sorted(folder.rglob("*")):
        if not f.is_file():
            continue
        raw = f.read_bytes()
        rel = str(f.relative_to(folder.parent))
        if raw[:16] == b"SQLite format 3\x00":
            conn = sqlite3.connect(f)
            out[rel + " (sql dump)"] = "\n".join(conn.iterdump()).encode("utf-8")
            conn.close()
        elif raw[:2] == b"PK":
            with zipfile.ZipFile(f) as z:
                for m in z.namelist():
                    out[f"{rel}!{m}"] = z.read(m)
        else:
            out[rel] = raw
        out[rel + " (file name)"] = f.name.encode("utf-8")
    return out


def scan(found: dict[str, bytes], probes: list[str]) -> list[tuple[str, str]]:
    """(probe, where) for every probe found (case-insensitive) in any blob."""
    hits = []
    for where, blob in found.items():
        low = blob.lower()
        for p in probes:
            if p.lower().encode("utf-8") in low:
                hits.append((p, where))
    return hits


def run_all(root: Path) -> dict:
    """Build the batch under ``root``, run both commands through the CLI, scan; returns the counts."""
    from typer.testing import CliRunner

    from pipeline.cli import app

    paths = build(root)
    runner = CliRunner(mix_stderr=False) if "mix_stderr" in CliRunner.__init__.__code__.co_varnames else CliRunner()
    r1 = runner.invoke(app, ["redact", str(paths["data"]), "--out", str(paths["redact_out"]),
                             "--known", str(paths["known"]), "--key", str(paths["private"] / "key.json")])
    r2 = runner.invoke(app, ["run", str(paths["config"])])
    probes = identifiers()
    result = {"probes": len(probes), "identifiers": len(LISTED) + len(UNLISTED), "exit_codes": [r1.exit_code, r2.exit_code]}
    for label, r, folder in (("redact", r1, paths["redact_out"]), ("run", r2, paths["run_out"])):
        found = blobs(folder)
        found[f"{label}: printed"] = (r.stdout + (getattr(r, "stderr", "") or "")).encode("utf-8")
        hits = scan(found, probes)
        result[label] = {"blobs": len(found), "leaks": len(hits), "where": sorted(set(f"{p} in {w}" for p, w in hits)),
                         "outputs": sorted(p.name for p in folder.rglob("*") if p.is_file()),
                         "printed": (r.stdout + (getattr(r, "stderr", "") or "")).strip().splitlines()[-3:]}
    # the inputs hold every probe: the scan itself can find them
    result["sanity_inputs"] = len({p for p, _ in scan(blobs(paths["data"]), probes)})
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--print", action="store_true", help="print only, write nothing")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = run_all(Path(tmp))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    res["meta"] = {"date": dt.datetime.now().isoformat(timespec="seconds"), "code": commit,
                   "machine": f"{platform.machine()}, Python {platform.python_version()}",
                   "command": "PYTHONPATH=. .venv/bin/python bench/leaks.py"}
    print(json.dumps(res, indent=1))
    if args.print:
        return
    out = ROOT / "bench" / "results"
    (out / "leaks.json").write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    lines = [
        "# De-identification leak test",
        "",
        f"- command: `{res['meta']['command']}` (the same batch is checked by `tests/test_redact_batch.py`)",
        f"- date: {res['meta']['date']}; code: {commit}; {res['meta']['machine']}",
        f"- batch: {len(TEXTS)} transcripts (.txt, .vtt), a CSV and an XLSX survey (id/speaker/site/comment columns, a second "
        f"sheet), one empty file that is skipped; {res['identifiers']} invented identifiers placed in file names, "
        f"texts and table columns ({len(LISTED)} listed in the known-names file, {len(UNLISTED)} only in the texts)",
        f"- probes: {res['probes']} (each identifier and each of its distinctive words), searched case-insensitively "
        "in every output file (XLSX members decompressed), the project store as an SQL dump (documents, segments, "
        "manifests in `runs`, the embedding cache) and everything the commands printed",
        f"- sanity: the same scan finds {res['sanity_inputs']} of {res['probes']} probes in the inputs",
        "",
        "| command | places searched | leaks |",
        "|---|---:|---:|",
        f"| `precode redact data/ --out out_redact --known known.yaml --key key.json` | {res['redact']['blobs']} | {res['redact']['leaks']} |",
        f"| `precode run run.yaml` (`redact.enabled`) | {res['run']['blobs']} | {res['run']['leaks']} |",
        "",
        "Not searched: the key and its originals list (private, outside the output folders, they hold the originals "
        "by design). A name that appears only in a file name (in neither the file's text nor the known-names file) "
        "is not recognised: it is kept and listed as 'kept: check' in `redaction_review.csv`.",
        "",
        "What this measures: that identifiers the redactor finds in a text (or that the known-names file lists) do "
        "not survive anywhere else: file names, document and segment ids, table cells, the store, manifests, "
        "skipped-file lines and warnings. The identifiers were written by the person who wrote the code, in "
        "contexts the detectors cover (titles, 'my name is', kin words, patterns, the known-names file); how "
        "many identifiers the detectors find in new text is measured in `redaction.md`, not here.",
    ]
    for label in ("redact", "run"):
        if res[label]["where"]:
            lines += ["", f"Leaks in {label}:", *[f"- {w}" for w in res[label]["where"]]]
    (out / "leaks.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
