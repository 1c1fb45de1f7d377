"""One self-contained HTML report of a project (no CDN, no external asset; figures embedded),
with the same figures as PNG files beside it.

Sections: corpus overview, review progress, codes with counts and top quotes, agreement (when
several coders reviewed the same segments), emergent themes (when ``precode discover`` ran),
and comparisons across studies and roles.

The page is a Jinja2 template (``templates/report.html.j2``, autoescaping on: every name, quote and
memo is escaped by the environment, never by hand); this module gathers the numbers, figures and
quotes into plain values for it.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

from ..project import ProjectData
from ..segment import one_line

TEMPLATES = "templates"  # package data of pipeline.export

def environment():
    """The report's Jinja2 environment: templates from the package, autoescaping on for every template."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("pipeline.export", TEMPLATES), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)


def _figure(png: Path, alt: str) -> dict:
    return {"alt": alt, "name": png.name, "data": base64.b64encode(png.read_bytes()).decode("ascii")}


def _bar_png(labels: list[str], series: dict[str, list[float]], title: str, path: Path, xlabel: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    import textwrap

    labels = [textwrap.fill(lab, 45) for lab in labels]  # long code names wrap instead of being cut
    lines = sum(max(lab.count("\n") + 1, 1.3) for lab in labels)
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.24 * max(lines, 2)))
    y = np.arange(len(labels))
    h = 0.8 / max(len(series), 1)
    for k, (name, values) in enumerate(series.items()):
        ax.barh(y + k * h - 0.4 + h / 2, values, height=h, label=name)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    if len(series) > 1:
        ax.legend(loc="lower right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight", pad_inches=0.15, metadata={"Software": None})
    plt.close(fig)
    return path


def build_report(data: ProjectData, store_path: Path, out: Path, title: str = "precode report") -> tuple[Path, list[Path]]:
    """Write the report to ``out`` (figures as PNG files in ``OUT_figures/`` beside it); returns (out, figures)."""
    figdir = out.parent / (out.stem + "_figures")
    figures: list[Path] = []
    coded = [s for s in data.segments if s.coded]
    studies = sorted({s.study or "" for s in data.segments})
    reviewed: dict[str, set[str]] = {}
    verdicts: dict[str, Counter] = {}
    for (seg, _guid, coder), stt in data.states.items():
        reviewed.setdefault(coder, set()).add(seg)
        verdicts.setdefault(coder, Counter())[stt.status] += 1

    manifest = _latest_manifest(store_path)
    meta = (f"config {manifest.get('config_hash', '')[:12]} · model {manifest.get('embedding_model', {}).get('model_id', '')}"
            f" · precode {manifest.get('precode_version', '')}") if manifest else ""
    page = environment().get_template("report.html.j2").render(
        title=title, meta=meta, store_name=store_path.name,
        corpus=_corpus(data, studies, coded, figdir, figures),
        review={"rows": [[c, len(reviewed[c]), len(coded), f"{len(reviewed[c]) / max(len(coded), 1):.0%}",
                          verdicts[c]["accepted"], verdicts[c]["rejected"], verdicts[c]["added"]]
                         for c in sorted(reviewed)]},
        codes=_codes(data, studies, figdir, figures),
        agreement=_agreement(store_path, reviewed),
        emergent=_emergent(store_path),
        comparisons=_comparisons(data, studies, figdir, figures),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out, figures


def _corpus(data: ProjectData, studies: list[str], coded: list, figdir: Path, figures: list[Path]) -> dict:
    rows = []
    for st in studies:
        segs = [s for s in data.segments if s.study == st]
        docs = {s.document_id for s in segs}
        rows.append([st, len(docs), len(segs), sum(s.coded for s in segs),
                     len({(s.document_id, s.speaker) for s in segs if s.coded and s.speaker}),
                     ", ".join(sorted({s.role for s in segs if s.coded and s.role})) or "—"])
    per_doc = Counter(s.document_id for s in coded)
    figure = None
    if per_doc:
        doc_ids = sorted(per_doc)
        figures.append(_bar_png(doc_ids, {"segments": [per_doc[d] for d in doc_ids]}, "Coded segments per document",
                                figdir / "segments_per_document.png"))
        figure = _figure(figures[-1], "Coded segments per document")
    return {"rows": rows, "figure": figure}


def _who(speaker: str | None, role: str | None) -> str:
    return (speaker or "participant") + (f", {role}" if role else "")


def _codes(data: ProjectData, studies: list[str], figdir: Path, figures: list[Path]) -> list[dict]:
    """Per study: each code's confirmed and proposed counts, a figure, and up to three quotes per code."""
    from ..export.quotes import coded_pairs

    confirmed = coded_pairs(data, include_proposals=False)
    conf_count = Counter((c.path, s.study) for s, c in {(s.id, c.path): (s, c) for s, c, _, _ in confirmed}.values())
    seg_by_id = {s.id: s for s in data.segments}
    prop_count = Counter((sg.code.path, seg_by_id[sg.segment_id].study if sg.segment_id in seg_by_id else None)
                         for sg in data.suggestions if sg.names_code)
    books = []
    for study in studies:
        book = data.codebooks.get(study)
        if book is None:
            continue
        rows = [(c.path, conf_count[(c.path, study)], prop_count[(c.path, study)]) for c in book.codes]
        figures.append(_bar_png([r[0] for r in rows], {"confirmed": [r[1] for r in rows], "proposed": [r[2] for r in rows]},
                                f"Codes in {study}", figdir / f"codes_{study}.png", "segments"))
        quoted = []
        for c in book.codes:
            quotes = [(s, "confirmed") for s, code, _, _ in confirmed if code.path == c.path and s.study == study]
            if len(quotes) < 3:
                best = sorted((sg for sg in data.suggestions if sg.code.path == c.path and sg.names_code
                               and seg_by_id.get(sg.segment_id) and seg_by_id[sg.segment_id].study == study),
                              key=lambda sg: -sg.score)
                quotes += [(seg_by_id[sg.segment_id], "proposed") for sg in best if
                           all(q[0].id != sg.segment_id for q in quotes)][: 3 - len(quotes)]
            if quotes:
                quoted.append({"path": c.path, "description": one_line(c.description, 200), "quotes": [
                    {"text": one_line(s.text, 400), "who": _who(s.speaker, s.role), "document": s.document_id, "kind": kind}
                    for s, kind in quotes[:3]]})
        books.append({"study": study, "title": book.title or book.name, "rows": rows, "quoted": quoted,
                      "figure": _figure(figures[-1], f"Codes in {study}: confirmed and proposed")})
    return books


def _agreement(store_path: Path, reviewed: dict[str, set[str]]) -> dict | None:
    """None with no reviewer; who reviewed alone; or the agreement tables over the segments several reviewed."""
    if not reviewed:
        return None
    if len(reviewed) == 1:
        only = next(iter(reviewed))
        return {"only": only, "n": len(reviewed[only])}
    from ..evaluate import agreement
    from ..project import project_codings

    codings, units, chosen, categories, reviewed_by = project_codings(store_path, None)
    if not units:
        return {"only": None, "rows": None, "reviewed": [(c, len(reviewed_by[c])) for c in chosen]}
    rep = agreement(codings, units, chosen, categories, "category", reviewed=reviewed_by)
    return {"only": None, "n_units": len(units), "coders": list(chosen), "n_common": rep.n_common, "note": rep.note,
            "rows": [[r.level, r.name, r.n_units, _f(r.percent_agreement), _f(r.fleiss_kappa), _f(r.krippendorff_alpha)]
                     for r in rep.rows],
            "pairs": [[p.a, p.b, p.n_units, _f(p.percent_agreement), _f(p.cohen_kappa)] for p in rep.pairs]}


def _emergent(store_path: Path) -> dict | None:
    """The latest discovery's candidates with what people decided on them since (None: no discovery yet)."""
    cand_file = store_path.parent / "discovery" / "candidates.json"
    if not cand_file.exists():
        return None
    from ..discover.reviews import load_reviews, review_status

    found = json.loads(cand_file.read_text(encoding="utf-8"))
    reviews = load_reviews(store_path)
    cands = []
    for c in found.get("candidates", []):
        cands.append({"name": c.get("name", ""), "keywords": ", ".join(c.get("keywords", [])[:8]),
                      "size": c.get("size", 0), "n_documents": c.get("n_documents", 0),
                      "status": review_status(c.get("id", ""), c.get("members", []), reviews),
                      "quotes": [{"text": one_line(q.get("text", ""), 300), "who": q.get("speaker") or "participant",
                                  "document": q.get("document", "")} for q in c.get("quotes", [])[:3]]})
    note = "; ".join(found.get("notes") or []) or "No emergent topic was found."
    return {"candidates": cands, "note": note}


def _comparisons(data: ProjectData, studies: list[str], figdir: Path, figures: list[Path]) -> list[dict]:
    from ..compare import compare, fmt_p, write_outputs

    out = []
    for by in (["study"] if len(studies) > 1 else []) + ["role"]:
        result = compare([data], by, include_proposals=False)
        if not result.rows:  # nobody confirmed anything yet: the proposals, labelled as such
            result = compare([data], by, include_proposals=True)
        if len(result.groups) < 2 or not result.rows:
            continue
        rows = [[r.code.split(":", 1)[-1], r.source,
                 *(f"{c.segments} ({c.share:.0%})" if c.applied else "n/a" for c in r.groups),
                 fmt_p(r.p_adjusted) or "—", "—" if r.effect is None else f"{r.effect:.2f}"] for r in result.rows]
        figs = []
        for png in [p for p in write_outputs(result, None, figdir) if p.suffix == ".png"]:
            figures.append(png)
            kind = png.stem.rsplit("_", 1)[-1]
            figs.append(_figure(png, f"Share of segments with each code, by {by} "
                                     f"({'machine proposals, not confirmed' if kind == 'proposed' else kind})"))
        out.append({"by": by, "groups": list(result.groups), "rows": rows, "figures": figs})
    return out


def _f(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def _latest_manifest(store_path: Path) -> dict:
    from ..project import latest_manifest
    from ..store import Store

    with Store(store_path) as st:
        return latest_manifest(st, required=False)
