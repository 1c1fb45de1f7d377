"""One self-contained HTML report of a project (no CDN, no external asset; figures embedded),
with the same figures as PNG files beside it.

Sections: corpus overview, review progress, codes with counts and top quotes, agreement (when
several coders reviewed the same segments), emergent themes (when ``precode discover`` ran),
and comparisons across studies and roles.
"""

from __future__ import annotations

import base64
import html
import json
from collections import Counter
from pathlib import Path

from ..project import ProjectData
from ..segment import one_line

CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2430;margin:0;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px 32px 64px}
h1{font-size:26px;margin:8px 0 4px}h2{font-size:20px;margin:36px 0 10px;border-bottom:2px solid #dfe3ea;padding-bottom:4px}
h3{font-size:16px;margin:22px 0 6px}.muted{color:#667085}.card{background:#fff;border:1px solid #e3e6ec;border-radius:8px;padding:14px 18px;margin:10px 0}
table{border-collapse:collapse;width:100%;font-size:14px;margin:6px 0}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceef2;vertical-align:top}
th{background:#f1f3f6;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
blockquote{margin:8px 0;padding:6px 12px;border-left:4px solid #7a9cc6;background:#f7f9fc}
.who{color:#667085;font-size:13px}.tag{display:inline-block;font-size:11px;padding:1px 6px;border-radius:9px;background:#fff4d6;color:#7a5200;margin-left:6px}
.ok{background:#def5e5;color:#14532d}img{max-width:100%;height:auto;border:1px solid #eceef2;border-radius:6px;background:#fff}
nav a{margin-right:14px;color:#2f5ea8;text-decoration:none}
"""


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _table(headers: list[str], rows: list[list], numeric: set[int] = frozenset()) -> str:
    head = "".join(f'<th class="{"n" if i in numeric else ""}">{_e(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"n" if i in numeric else ""}">{_e(c)}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(png: Path, alt: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode("ascii")
    return f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}"><figcaption class="muted">{_e(alt)} ({_e(png.name)})</figcaption></figure>'


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
    from ..compare import write_outputs
    from ..compare import compare, fmt_p
    from ..export.quotes import coded_pairs

    figdir = out.parent / (out.stem + "_figures")
    figures: list[Path] = []
    parts: list[str] = []
    coded = [s for s in data.segments if s.coded]
    studies = sorted({s.study or "" for s in data.segments})

    # -- corpus ------------------------------------------------------------------------------------
    rows = []
    for st in studies:
        segs = [s for s in data.segments if s.study == st]
        docs = {s.document_id for s in segs}
        rows.append([st, len(docs), len(segs), sum(s.coded for s in segs),
                     len({(s.document_id, s.speaker) for s in segs if s.coded and s.speaker}),
                     ", ".join(sorted({s.role for s in segs if s.coded and s.role})) or "—"])
    parts.append('<h2 id="corpus">Corpus</h2>' + _table(
        ["study", "documents", "segments", "coded segments", "participants", "roles"], rows, {1, 2, 3, 4}))
    per_doc = Counter(s.document_id for s in coded)
    if per_doc:
        docs = sorted(per_doc)
        figures.append(_bar_png(docs, {"segments": [per_doc[d] for d in docs]}, "Coded segments per document",
                                figdir / "segments_per_document.png"))
        parts.append(_figure(figures[-1], "Coded segments per document"))

    # -- review progress -------------------------------------------------------------------------------
    reviewed: dict[str, set[str]] = {}
    verdicts: dict[str, Counter] = {}
    for (seg, _guid, coder), stt in data.states.items():
        reviewed.setdefault(coder, set()).add(seg)
        verdicts.setdefault(coder, Counter())[stt.status] += 1
    parts.append('<h2 id="review">Review progress</h2>')
    if reviewed:
        rows = [[c, len(reviewed[c]), len(coded), f"{len(reviewed[c]) / max(len(coded), 1):.0%}",
                 verdicts[c]["accepted"], verdicts[c]["rejected"], verdicts[c]["added"]] for c in sorted(reviewed)]
        parts.append(_table(["coder", "segments reviewed", "coded segments", "share", "accepted", "rejected", "added"],
                            rows, {1, 2, 4, 5, 6}))
    else:
        parts.append('<p class="card">Nobody has reviewed a proposal yet: every code below is a machine proposal '
                     'awaiting confirmation (<code>precode review</code> or <code>precode serve</code>).</p>')

    # -- codes -----------------------------------------------------------------------------------------
    confirmed = coded_pairs(data, include_proposals=False)
    conf_count = Counter((c.path, s.study) for s, c in {(s.id, c.path): (s, c) for s, c, _, _ in confirmed}.values())
    prop_count = Counter((sg.code.path, next((x.study for x in data.segments if x.id == sg.segment_id), None))
                         for sg in data.suggestions if sg.names_code)
    seg_by_id = {s.id: s for s in data.segments}
    parts.append('<h2 id="codes">Codes</h2><p class="muted">Confirmed: accepted or added by a person. Proposed: '
                 'machine proposals above the threshold, not confirmed.</p>')
    for study in studies:
        book = data.codebooks.get(study)
        if book is None:
            continue
        parts.append(f"<h3>{_e(study)} — {_e(book.title or book.name)}</h3>")
        rows = [[c.path, conf_count[(c.path, study)], prop_count[(c.path, study)]] for c in book.codes]
        parts.append(_table(["code", "confirmed", "proposed"], rows, {1, 2}))
        labels = [r[0] for r in rows]
        figures.append(_bar_png(labels, {"confirmed": [r[1] for r in rows], "proposed": [r[2] for r in rows]},
                                f"Codes in {study}", figdir / f"codes_{study}.png", "segments"))
        parts.append(_figure(figures[-1], f"Codes in {study}: confirmed and proposed"))
        for c in book.codes:
            quotes = [(s, "confirmed") for s, code, _, _ in confirmed if code.path == c.path and s.study == study]
            if len(quotes) < 3:
                best = sorted((sg for sg in data.suggestions if sg.code.path == c.path and sg.names_code
                               and seg_by_id.get(sg.segment_id) and seg_by_id[sg.segment_id].study == study),
                              key=lambda sg: -sg.score)
                quotes += [(seg_by_id[sg.segment_id], "proposed") for sg in best if
                           all(q[0].id != sg.segment_id for q in quotes)][: 3 - len(quotes)]
            if not quotes:
                continue
            body = "".join(
                f'<blockquote>“{_e(one_line(s.text, 400))}”<div class="who">{_e(s.speaker or "participant")}'
                f'{", " + _e(s.role) if s.role else ""} · {_e(s.document_id)}'
                f'<span class="tag{" ok" if kind == "confirmed" else ""}">{kind}</span></div></blockquote>'
                for s, kind in quotes[:3])
            parts.append(f'<div class="card"><strong>{_e(c.path)}</strong> <span class="muted">'
                         f'{_e(one_line(c.description, 200))}</span>{body}</div>')

    # -- agreement -----------------------------------------------------------------------------------
    if len(reviewed) == 1:
        only = next(iter(reviewed))
        parts.append('<h2 id="agreement">Agreement between coders</h2>'
                     f"<p>Only {_e(only)} has reviewed so far ({len(reviewed[only])} segment"
                     f"{'' if len(reviewed[only]) == 1 else 's'}): agreement needs a "
                     "second coder on some of the same segments.</p>")
    if len(reviewed) >= 2:
        from ..project import project_codings
        from ..evaluate import agreement

        codings, units, chosen, categories, reviewed_by = project_codings(store_path, None)
        parts.append('<h2 id="agreement">Agreement between coders</h2>')
        if units:
            rep = agreement(codings, units, chosen, categories, "category", reviewed=reviewed_by)
            rows = [[r.level, r.name, r.n_units, _f(r.percent_agreement), _f(r.fleiss_kappa), _f(r.krippendorff_alpha)]
                    for r in rep.rows]
            pairs = [[p.a, p.b, p.n_units, _f(p.percent_agreement), _f(p.cohen_kappa)] for p in rep.pairs]
            parts.append(f"<p>{len(units)} segments reviewed by two or more of {', '.join(map(_e, chosen))} "
                         f"({rep.n_common} by all of them).</p>"
                         + _table(["level", "name", "units", "agreement", "Fleiss' κ", "Krippendorff's α"], rows, {2, 3, 4, 5})
                         + "<h3>Pairs of coders</h3>"
                         + _table(["coder", "coder", "units both reviewed", "agreement", "Cohen's κ"], pairs, {2, 3, 4})
                         + f'<p class="muted">{_e(rep.note)}</p>')
        else:
            parts.append("<p>No segment was reviewed by two coders yet: "
                         + ", ".join(f"{_e(c)} reviewed {len(reviewed_by[c])}" for c in chosen) + ".</p>")

    # -- emergent themes --------------------------------------------------------------------------------
    cand_file = store_path.parent / "discovery" / "candidates.json"
    if cand_file.exists():
        found = json.loads(cand_file.read_text(encoding="utf-8"))
        cands = found.get("candidates", [])
        parts.append('<h2 id="emergent">Emergent themes (proposed, from <code>precode discover</code>)</h2>')
        if not cands:
            parts.append(f"<p>{_e(found.get('note') or 'No emergent topic was found.')}</p>")
        for c in cands:
            quotes = "".join(f'<blockquote>“{_e(one_line(q.get("text", ""), 300))}”<div class="who">'
                             f'{_e(q.get("speaker") or "participant")} · {_e(q.get("document", ""))}</div></blockquote>'
                             for q in c.get("quotes", [])[:3])
            parts.append(f'<div class="card"><strong>{_e(c.get("name", ""))}</strong> <span class="muted">'
                         f'{_e(", ".join(c.get("keywords", [])[:8]))} · {c.get("size", 0)} segments in '
                         f'{c.get("n_documents", 0)} documents</span>{quotes}</div>')

    # -- comparisons ----------------------------------------------------------------------------------
    parts.append('<h2 id="compare">Comparisons</h2>')
    for by in (["study"] if len(studies) > 1 else []) + ["role"]:
        result = compare([data], by, include_proposals=False)
        if not result.rows:  # nobody confirmed anything yet: the proposals, labelled as such
            result = compare([data], by, include_proposals=True)
        if len(result.groups) < 2 or not result.rows:
            continue
        rows = [[r.code.split(":", 1)[-1], r.source,
                 *(f"{c.segments} ({c.share:.0%})" if c.applied else "n/a" for c in r.groups),
                 fmt_p(r.p_adjusted) or "—", "—" if r.effect is None else f"{r.effect:.2f}"] for r in result.rows]
        parts.append(f"<h3>By {_e(by)}</h3>" + _table(["code", "source", *result.groups, "p (Holm)", "Cramér's V"], rows,
                                                       set(range(2, len(result.groups) + 4))))
        for png in [p for p in write_outputs(result, None, figdir) if p.suffix == ".png"]:
            figures.append(png)
            kind = png.stem.rsplit("_", 1)[-1]
            parts.append(_figure(png, f"Share of segments with each code, by {by} "
                                      f"({'machine proposals, not confirmed' if kind == 'proposed' else kind})"))
    parts.append('<p class="muted">Confirmed codings count each segment once; a group whose segments were coded '
                 "with another codebook is n/a and left out of the test; p is Holm-adjusted over the codes tested.</p>")

    manifest = _latest_manifest(store_path)
    meta = (f"config {manifest.get('config_hash', '')[:12]} · model {manifest.get('embedding_model', {}).get('model_id', '')}"
            f" · precode {manifest.get('precode_version', '')}") if manifest else ""
    nav = "".join(f'<a href="#{a}">{t}</a>' for a, t in (("corpus", "Corpus"), ("review", "Review"), ("codes", "Codes"),
                                                          ("agreement", "Agreement"), ("emergent", "Emergent themes"),
                                                          ("compare", "Comparisons")))
    doc = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
           f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; style-src \'unsafe-inline\'">'
           f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
           f'<h1>{_e(title)}</h1><p class="muted">{_e(meta)}</p><nav>{nav}</nav>{"".join(parts)}'
           f'<p class="muted" style="margin-top:40px">Generated by precode from {_e(store_path.name)}. '
           f"Machine proposals are marked as such; only codes a person accepted or added count as confirmed.</p>"
           f"</main></body></html>")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc, encoding="utf-8")
    return out, figures


def _f(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def _latest_manifest(store_path: Path) -> dict:
    from ..project import latest_manifest
    from ..store import Store

    with Store(store_path) as st:
        return latest_manifest(st, required=False)
