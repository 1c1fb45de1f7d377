#!/usr/bin/env python
"""Recall and precision of precode's redaction stage on invented, hand-annotated transcripts.

    .venv/bin/python bench/redaction.py            # writes bench/results/redaction.{md,json}
    .venv/bin/python bench/redaction.py --print    # prints only

The transcripts in ``bench/redaction_data/{dev,heldout}/`` are invented (no real people) and mark
personal information inline as ``{{TYPE:text}}`` (see ``bench/redaction_data/README.md``). The
benchmark strips the marks, reads each file with precode's ingest (as a user's file would be read),
runs ``Redactor.redact_document`` and compares the replacements with the marks, on the original
character offsets.

Matching is by character overlap:

* a marked item is **found** if any redaction overlaps it by at least one character (any type);
  **fully masked** if every non-space character of it is inside some redaction (nothing of it is
  left readable); **typed** if an overlapping redaction has the same type;
* a redaction is **correct** if it overlaps some marked item (any type); **typed-correct** if it
  overlaps a marked item of its own type. Precision is computed per *predicted* type.

Three sets, reported separately (see HISTORY): ``dev`` (rules tuned on it), ``heldout`` (written
after a first freeze, scored once, then its misses were read and rules added: no longer clean) and
``heldout2`` (written after the second freeze, not used for tuning: the honest number). Three
configurations: the full redactor (known-names list + patterns + spaCy NER), without the
known-names list, and spaCy NER alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from _setup import ROOT  # noqa: E402  (offline models; the repository on sys.path)

DATA = ROOT / "bench" / "redaction_data"
RESULTS = ROOT / "bench" / "results"
MARK = re.compile(r"\{\{([A-Z]+):(.+?)\}\}")

# How the sets were used. The first score of ``heldout`` (full redactor, rules frozen, before anyone
# read its misses) is kept here because the current code has since been changed in its light.
HISTORY = """\
1. The rules were written and tuned on `dev/` (8 transcripts).
2. Freeze 1. `heldout/` (5 transcripts) was written and scored once. Full redactor, first score:

| type | marked | found | fully masked | typed | redactions | correct (precision) | typed precision |
|---|---:|---:|---:|---:|---:|---:|---:|
| PERSON | 63 | 0.968 | 0.952 | 0.952 | 65 | 0.969 | 0.923 |
| SITE | 7 | 1.000 | 0.857 | 0.857 | 6 | 1.000 | 1.000 |
| PLACE | 6 | 1.000 | 1.000 | 0.833 | 5 | 1.000 | 1.000 |
| ORG | 7 | 1.000 | 1.000 | 0.714 | 10 | 0.700 | 0.500 |
| DATE | 9 | 0.778 | 0.778 | 0.778 | 7 | 1.000 | 1.000 |
| AGE | 3 | 0.667 | 0.667 | 0.667 | 2 | 1.000 | 1.000 |
| PHONE | 4 | 1.000 | 1.000 | 1.000 | 4 | 1.000 | 1.000 |
| EMAIL | 1 | 1.000 | 1.000 | 1.000 | 1 | 1.000 | 1.000 |
| ADDRESS | 8 | 0.750 | 0.750 | 0.625 | 5 | 1.000 | 1.000 |
| ID | 1 | 1.000 | 1.000 | 1.000 | 2 | 1.000 | 0.500 |
| **ALL** | 109 | 0.936 | 0.917 | 0.881 | 107 | 0.953 | 0.897 |

3. Its misses were read and general rules added (a name found by NER is also found in lower case;
   a ZIP code after a state is an address, not an ID; an age over 89 set off by commas after
   "veteran"/"she"; holidays and "every 15th" are dates; room/trailer numbers; a person's initial
   ("priya r."); "VAMC" after a site; "Pt" read as "Point" when matching site names; role acronyms
   BHC/PCP/DHS kept). From here on `heldout/` is partly a tuning set.
4. Freeze 2. `heldout2/` (4 transcripts) was written and scored; nothing was changed after it
   except three annotation mistakes of mine in it (titles marked inside `Mr. Pruitt`,
   `Dr. Petrosian`, `Ms. Reyes-Cardenas`, against the annotation rule that marks the name only).
5. Refactor (issue 18, 2026-12-01): `detect.py` split into one recognizer per source, a merge step and
   an operator, date and ID patterns chosen by name instead of position. Every table, miss and
   over-redaction of this report was identical before and after (`--print`, all three sets).
"""


def parse_marked(raw: str) -> tuple[str, list[dict]]:
    """Strip ``{{TYPE:text}}`` marks: (plain text, gold items with offsets into it)."""
    out, gold, pos, shift = [], [], 0, 0
    for m in MARK.finditer(raw):
        out.append(raw[pos:m.start()])
        start = m.start() - shift
        text = m.group(2)
        gold.append({"start": start, "end": start + len(text), "type": m.group(1), "text": text})
        out.append(text)
        shift += len(m.group(0)) - len(text)
        pos = m.end()
    out.append(raw[pos:])
    plain = "".join(out)
    for g in gold:
        assert plain[g["start"]:g["end"]] == g["text"]
    return plain, gold


def _overlap(a, b) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def score(items: list[tuple[str, str, list[dict], list[dict]]]) -> dict:
    """items: (set, document, gold, predicted). Returns per-type counts and lists of misses / false alarms."""
    rec = defaultdict(lambda: {"n": 0, "found": 0, "full": 0, "typed": 0})
    prec = defaultdict(lambda: {"n": 0, "correct": 0, "typed": 0})
    misses, partial, false_alarms = [], [], []
    for _, doc, gold, pred in items:
        for g in gold:
            over = [p for p in pred if _overlap(g, p)]
            covered = set()
            for p in over:
                covered.update(range(max(g["start"], p["start"]), min(g["end"], p["end"])))
            chars = [i for i in range(g["start"], g["end"]) if not g["doc_text"][i].isspace()]
            full = all(i in covered for i in chars)
            for key in (g["type"], "ALL"):
                r = rec[key]
                r["n"] += 1
                r["found"] += bool(over)
                r["full"] += full
                r["typed"] += any(p["type"] == g["type"] for p in over)
            if not over:
                misses.append({"document": doc, "type": g["type"], "text": g["text"], "context": g["context"]})
            elif not full:
                partial.append({"document": doc, "type": g["type"], "text": g["text"],
                                "redacted": " | ".join(p["original"] for p in over)})
        for p in pred:
            over = [g for g in gold if _overlap(g, p)]
            for key in (p["type"], "ALL"):
                c = prec[key]
                c["n"] += 1
                c["correct"] += bool(over)
                c["typed"] += any(g["type"] == p["type"] for g in over)
            if not over:
                false_alarms.append({"document": doc, "type": p["type"], "text": p["original"], "source": p["source"]})
    return {"recall": dict(rec), "precision": dict(prec), "misses": misses, "partial": partial, "false_alarms": false_alarms}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 3) if b else None


def read_marked(set_name: str, path: Path, workdir: Path):
    """(document as precode's ingest reads the unmarked text, plain text, gold items)."""
    from pipeline.ingest import read_document

    plain, gold = parse_marked(path.read_text(encoding="utf-8"))
    tmp = workdir / set_name / path.name
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(plain, encoding="utf-8")
    doc = read_document(tmp)
    assert doc.text == plain
    return doc, plain, gold


def run_config(files: list[tuple[str, Path]], redactor, workdir: Path) -> tuple[list, float]:
    from pipeline.redact import PseudonymKey

    key = PseudonymKey()
    items, elapsed = [], 0.0
    for set_name, path in files:
        doc, plain, gold = read_marked(set_name, path, workdir)
        t = time.perf_counter()
        new, reds = redactor.redact_document(doc, key)
        elapsed += time.perf_counter() - t
        for g in gold:
            g["doc_text"] = plain
            a, b = max(0, g["start"] - 30), min(len(plain), g["end"] + 30)
            g["context"] = (plain[a:g["start"]] + "⟦" + g["text"] + "⟧" + plain[g["end"]:b]).replace("\n", " ⏎ ")
        pred = [{"start": r.start, "end": r.end, "type": r.type, "original": r.original, "source": r.source} for r in reds]
        items.append((set_name, path.name, gold, pred))
    return items, elapsed


def table(result: dict, types: list[str]) -> list[str]:
    lines = ["| type | marked | found | fully masked | typed | redactions | correct (precision) | typed precision |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in types + ["ALL"]:
        r = result["recall"].get(t, {"n": 0, "found": 0, "full": 0, "typed": 0})
        p = result["precision"].get(t, {"n": 0, "correct": 0, "typed": 0})
        if not r["n"] and not p["n"]:
            continue

        def f(x):
            return "–" if x is None else f"{x:.3f}"

        name = f"**{t}**" if t == "ALL" else t
        lines.append(f"| {name} | {r['n']} | {f(_ratio(r['found'], r['n']))} | {f(_ratio(r['full'], r['n']))} | "
                     f"{f(_ratio(r['typed'], r['n']))} | {p['n']} | {f(_ratio(p['correct'], p['n']))} | "
                     f"{f(_ratio(p['typed'], p['n']))} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--print", action="store_true", help="print the report, write nothing")
    ap.add_argument("--sets", default="dev,heldout,heldout2")
    args = ap.parse_args()

    from pipeline.redact import TYPES, KnownNames, Redactor, load_ner

    known = KnownNames.load(DATA / "known.yaml")
    t0 = time.perf_counter()
    nlp = load_ner("en_core_web_sm")
    load_s = time.perf_counter() - t0
    configs = {
        "full (known list + patterns + NER)": Redactor(known, nlp=nlp),
        "no known list (patterns + NER)": Redactor(None, nlp=nlp),
        "spaCy NER only": Redactor(None, nlp=nlp, sources=("ner",)),
    }
    sets = [s for s in args.sets.split(",") if s]
    files = [(s, p) for s in sets for p in sorted((DATA / s).glob("*.txt"))]
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="precode-redact-bench-") as tmp:
        for name, red in configs.items():
            items, elapsed = run_config(files, red, Path(tmp) / re.sub(r"\W+", "_", name))
            results[name] = {"elapsed_s": round(elapsed, 2)}
            for s in sets + (["all"] if len(sets) > 1 else []):
                sub = [it for it in items if s == "all" or it[0] == s]
                results[name][s] = score(sub)
    types = list(TYPES)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    import spacy

    meta = nlp.meta
    info = {
        "command": "python bench/redaction.py",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{' '.join(x for x in (platform.machine(), platform.processor()) if x)}, {os.cpu_count()} CPUs, "
                   f"{platform.system()} {platform.release()}, Python {platform.python_version()}",
        "git_commit": commit + " (+ uncommitted redaction files)",
        "spacy": spacy.__version__,
        "spacy_model": f"{meta.get('lang')}_{meta.get('name')} {meta.get('version')}",
        "model_load_s": round(load_s, 2),
        "documents": {s: [p.name for ss, p in files if ss == s] for s in sets},
        "marked_items": {s: sum(len(parse_marked(p.read_text())[1]) for ss, p in files if ss == s) for s in sets},
    }
    md = [
        "# Redaction benchmark",
        "",
        "Invented transcripts with personal information marked by hand (`bench/redaction_data/`, format in its",
        "README). Character-overlap matching: a marked item is *found* if any redaction overlaps it, *fully",
        "masked* if all its non-space characters are redacted (the privacy-relevant number: a half-redacted",
        "name still leaks), *typed* if an overlapping redaction has its type. Precision is per **predicted**",
        "type: a redaction is *correct* if it overlaps any marked item, *typed* if it overlaps one of its own type.",
        "",
        f"- command: `{info['command']}`",
        f"- date: {info['date']}",
        f"- machine: {info['machine']}",
        f"- code: {info['git_commit']}; spaCy {info['spacy']}, model {info['spacy_model']} (load {info['model_load_s']} s)",
        "- documents: " + "; ".join(f"{s}: {len(v)} ({info['marked_items'][s]} marked items)" for s, v in info["documents"].items()),
        "",
        "**Which number to believe:** `heldout2` (not used for tuning). `dev` was tuned on; `heldout` was",
        "scored once at a freeze and then used to add rules (its first score is in *History*). All sets",
        "were written by the person who wrote the rules, so even `heldout2` is easier than real",
        "transcripts; it is also small (81 marked items): one miss moves a type's recall a lot.",
        "",
        "## History",
        "",
        HISTORY,
    ]
    for name, res in results.items():
        md.append(f"## {name}")
        md.append("")
        md.append(f"redaction time (all documents, excluding model load): {res['elapsed_s']} s")
        md.append("")
        for s in sets + (["all"] if len(sets) > 1 else []):
            md.append(f"### {s}")
            md.append("")
            md += table(res[s], types)
            md.append("")
    full = results["full (known list + patterns + NER)"]
    for s in sets:
        md.append(f"## Full redactor, {s}: what was missed and what was over-redacted")
        md.append("")
        miss = full[s]["misses"]
        md.append("Not redacted at all:" if miss else "Nothing marked was missed entirely.")
        md.append("")
        for m in miss:
            md.append(f"- {m['type']} `{m['text']}` ({m['document']}): …{m['context']}…")
        part = full[s]["partial"]
        if part:
            md.append("")
            md.append("Partly redacted (some characters left readable):")
            md.append("")
            for m in part:
                md.append(f"- {m['type']} `{m['text']}` ({m['document']}): redacted only `{m['redacted']}`")
        md.append("")
        fa = full[s]["false_alarms"]
        md.append(f"Over-redacted (no marked item there), {len(fa)}:")
        md.append("")
        for m in fa:
            md.append(f"- {m['type']} `{m['text']}` ({m['document']}, {m['source']})")
        md.append("")
    report = "\n".join(md) + "\n"
    out = {"info": info, "history": HISTORY, "results": {
        name: {"elapsed_s": res["elapsed_s"], **{s: res[s] for s in res if s != "elapsed_s"}}
        for name, res in results.items()}}
    if args.print:
        print(report)
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "redaction.md").write_text(report, encoding="utf-8")
    (RESULTS / "redaction.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(report)


if __name__ == "__main__":
    main()
