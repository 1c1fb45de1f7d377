"""Theme comparison across studies and participant groups, codebook crosswalks and co-occurrence.

Confirmed codes (accepted or added by a person) and machine proposals are always counted
separately; proposals are labelled as such in every table.
"""

from __future__ import annotations

import io
import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .export.quotes import coded_pairs
from .export.table import SafeWriter
from .private import write_private
from .project import ProjectData
from .records import Codebook, Segment


@dataclass
class GroupCount:
    group: str
    segments: int  # segments with the code
    documents: int
    participants: int  # distinct (document, speaker)
    coded_segments: int  # segments in the group that could carry the code (its codebook was applied there)
    share: float  # segments / coded_segments
    applied: bool = True  # False: the code's codebook was never applied to this group (not tested, not a 0)


@dataclass
class CodeComparison:
    code: str  # codebook:path
    source: str  # confirmed | proposed
    groups: list[GroupCount]
    test: str  # chi-square | fisher | none
    statistic: float | None
    p_value: float | None
    note: str = ""
    p_adjusted: float | None = None  # Holm-adjusted over the rows of the same source
    effect: float | None = None  # Cramér's V of the groups x (with, without) table


@dataclass
class Comparison:
    by: str
    groups: list[str]
    rows: list[CodeComparison] = field(default_factory=list)


def group_of(seg: Segment, by: str, doc_meta: dict[str, dict]) -> str:
    if by == "study":
        return seg.study or ""
    if by == "role":
        return seg.role or "(no role)"
    if by == "document":
        return seg.document_id
    if by == "speaker":
        return seg.speaker or "(no speaker)"
    value = seg.metadata.get(by, doc_meta.get(seg.document_id, {}).get(by))
    return str(value) if value not in (None, "") else f"(no {by})"


def cramers_v(table: np.ndarray) -> float | None:
    """Cramér's V of a contingency table (uncorrected chi-square): 0 no association, 1 complete."""
    from scipy import stats

    table = np.asarray(table, dtype=float)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if min(table.shape) < 2:
        return None
    chi2 = stats.chi2_contingency(table, correction=False)[0]
    return float(math.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment (family-wise error) of the p-values that exist; None stays None."""
    present = {i: p for i, p in enumerate(p_values) if p is not None}
    idx = sorted(present, key=present.__getitem__)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (len(idx) - rank) * present[i]))
        out[i] = running
    return out


def _test(table: np.ndarray) -> tuple[str, float | None, float | None, str]:
    """A test of difference in the share of segments with the code across groups."""
    from scipy import stats

    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return "none", None, None, "the code is present in every segment or in none, or only one group"
    if table.shape == (2, 2):
        expected = stats.contingency.expected_freq(table)
        if (expected < 5).any():
            res = stats.fisher_exact(table)
            return "fisher", float(res.statistic), float(res.pvalue), "Fisher's exact test (expected counts < 5)"
    chi2, p, dof, expected = stats.chi2_contingency(table, correction=table.shape == (2, 2))
    note = f"chi-square, {dof} df" + ("; some expected counts < 5: read with care" if (expected < 5).any() else "")
    return "chi-square", float(chi2), float(p), note


def compare(projects: list[ProjectData], by: str = "study", include_proposals: bool = False) -> Comparison:
    """Share of segments with each code per group, a test of difference, Holm-adjusted p and Cramér's V.

    A code is counted, and tested, only in the groups whose segments its codebook was applied to
    (a group coded with another codebook is 'not applied', not a zero). Confirmed codings (accepted or
    added by a person) count each segment once, however many coders confirmed it; machine proposals
    only with ``include_proposals``, in rows of their own (source 'proposed').
    """
    segs: list[Segment] = []
    pairs = []
    doc_meta: dict[str, dict] = {}
    book_of_seg: dict[str, str] = {}
    for data in projects:
        segs += [s for s in data.segments if s.coded]
        doc_meta.update({d.id: d.metadata for d in data.documents})
        book_of: dict[str | None, str] = {study: b.name for study, b in data.codebooks.items()}
        book_of_seg.update({s.id: book_of.get(s.study, "") for s in data.segments})
        for seg, code, status, _coder in coded_pairs(data, include_proposals):
            source = "proposed" if status == "proposed" else "confirmed"
            pairs.append((seg, book_of.get(seg.study, ""), code.path, source))
    groups = sorted({group_of(s, by, doc_meta) for s in segs})
    denominators = Counter((book_of_seg[s.id], group_of(s, by, doc_meta)) for s in segs)
    result = Comparison(by, groups)
    by_code: dict[tuple[str, str, str], list[Segment]] = defaultdict(list)
    for seg, book, path, source in pairs:
        by_code[(book, path, source)].append(seg)
    for (book, path, source), members in sorted(by_code.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        unique = {s.id: s for s in members}.values()
        counts = []
        for g in groups:
            in_g = [s for s in unique if group_of(s, by, doc_meta) == g]
            n = denominators[(book, g)]
            counts.append(GroupCount(g, len(in_g), len({s.document_id for s in in_g}),
                                     len({(s.document_id, s.speaker) for s in in_g}), n, len(in_g) / n if n else 0.0,
                                     applied=n > 0))
        tested = [c for c in counts if c.applied]
        table = np.array([[c.segments for c in tested], [c.coded_segments - c.segments for c in tested]])
        test, stat, p, note = _test(table) if len(tested) >= 2 else (
            "none", None, None, "its codebook was applied to one group only")
        skipped = [c.group for c in counts if not c.applied]
        if skipped:
            note += f"; not applied to {', '.join(skipped)} (left out of the test)"
        effect = cramers_v(table) if test != "none" else None
        result.rows.append(CodeComparison(f"{book}:{path}", source, counts, test, stat, p, note, effect=effect))
    for source in ("confirmed", "proposed"):
        rows = [r for r in result.rows if r.source == source]
        for r, adj in zip(rows, holm([r.p_value for r in rows])):
            r.p_adjusted = adj
    return result


def cooccurrence(data: ProjectData, level: str = "segment", include_proposals: bool = False) -> Counter:
    """How often two codes fall on the same segment (or in the same document)."""
    book_of: dict[str | None, str] = {study: b.name for study, b in data.codebooks.items()}
    units: dict[str, set[str]] = defaultdict(set)
    for seg, code, _status, _coder in coded_pairs(data, include_proposals):
        key = seg.id if level == "segment" else seg.document_id
        units[key].add(f"{book_of.get(seg.study, '')}:{code.path}")
    counts: Counter = Counter()
    for codes in units.values():
        for a, b in itertools.combinations(sorted(codes), 2):
            counts[(a, b)] += 1
    return counts


@dataclass
class Crosswalk:
    a: Codebook
    b: Codebook
    description_similarity: np.ndarray  # [codes of a, codes of b], cosine of "name: description"
    co_coded: np.ndarray  # [a, b]: segments whose top code under a and under b are these
    examples: dict[tuple[int, int], list[str]]  # example quotes per pair

    def strongest(self, k: int = 10) -> list[tuple[str, str, float, int]]:
        pairs = []
        for i, j in np.ndindex(self.description_similarity.shape):
            pairs.append((self.a.codes[i].path, self.b.codes[j].path, float(self.description_similarity[i, j]),
                          int(self.co_coded[i, j])))
        return sorted(pairs, key=lambda t: (-t[3], -t[2]))[:k]


def crosswalk(a: Codebook, b: Codebook, segments: list[Segment], embed, proposer_params: dict | None = None,
              n_examples: int = 2) -> Crosswalk:
    """Map codebook ``a`` onto ``b`` from code descriptions and from segments coded under both.

    ``embed(texts) -> np.ndarray`` gives L2-normalised vectors (cached in a project). Each segment
    is coded zero-shot with both codebooks (its best code under each), so the co-coding matrix is
    a machine crosswalk: read it with the description matrix and the example quotes.
    """
    from .propose import SimilarityProposer, category_questions, label_texts

    def desc(cb: Codebook) -> list[str]:
        return [f"{c.name}: {c.description}" if c.description else c.name for c in cb.codes]

    va, vb = embed(desc(a)), embed(desc(b))
    sim = va @ vb.T
    co = np.zeros((len(a.codes), len(b.codes)), dtype=int)
    examples: dict[tuple[int, int], list[str]] = defaultdict(list)
    if segments:
        seg_v = embed([s.text for s in segments])
        tops = []
        for cb in (a, b):
            labels = label_texts(cb)
            prop = SimilarityProposer(**(proposer_params or {})).fit(cb, labels, embed([lt.text for lt in labels]),
                                                                     category_questions(cb), None)
            scores, *_ = prop.score(seg_v)
            tops.append(scores.argmax(axis=1))
        for k, (i, j) in enumerate(zip(*tops)):
            co[i, j] += 1
            if len(examples[(i, j)]) < n_examples:
                examples[(i, j)].append(segments[k].text)
    return Crosswalk(a, b, sim, co, dict(examples))


def fmt_p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return ""
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def heatmap(rows, groups: list[str], title: str, png: Path) -> Path:
    """Codes x groups heatmap sized to its content: a column per group, a line per code, room for the full
    (wrapped) code names; saved with a tight bounding box, so no label is cut."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [textwrap.fill(r.code.split(":", 1)[-1], 40) for r in rows]
    lines = [lab.count("\n") + 1 for lab in labels]
    label_in = 0.075 * max(len(line) for lab in labels for line in lab.split("\n"))
    glabels = [textwrap.fill(g, 16) for g in groups]
    width = label_in + 0.9 * max(len(groups), 2) + 1.2
    height = 1.2 + 0.16 * max(g.count("\n") + 1 for g in glabels) + 0.22 * sum(max(n, 1.5) for n in lines)
    m = np.array([[c.share if c.applied else np.nan for c in r.groups] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(width, height))
    cmap = matplotlib.colormaps["Blues"].with_extremes(bad="#e5e7eb")
    top = np.nanmax(m) if np.isfinite(m).any() and np.nanmax(m) > 0 else 1.0
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=0, vmax=top, aspect="auto")
    ax.set_xticks(range(len(groups)), glabels, rotation=0, fontsize=8)
    ax.set_yticks(range(len(rows)), labels, fontsize=8)
    for i, j in np.ndindex(m.shape):
        ax.text(j, i, "n/a" if np.isnan(m[i, j]) else rows[i].groups[j].segments, ha="center", va="center",
                fontsize=7, color="white" if not np.isnan(m[i, j]) and m[i, j] > top / 2 else "black")
    ax.set_title(textwrap.fill(title, 60), fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="share of segments")
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110, bbox_inches="tight", pad_inches=0.15, metadata={"Software": None})
    plt.close(fig)
    return png


def write_outputs(result, walk, out_dir: Path) -> list[Path]:
    """The comparison as CSV and heatmaps (one per source: confirmed, proposed), and the crosswalk's CSV;
    returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    buf = io.StringIO()
    w = SafeWriter(buf, lineterminator="\n")
    w.writerow(["code", "source", "group", "applied", "segments", "documents", "participants", "coded_segments",
                "share", "test", "statistic", "p_value", "p_holm", "cramers_v", "note"])
    for row in result.rows:
        for c in row.groups:
            w.writerow([row.code, row.source, c.group, "yes" if c.applied else "no", c.segments, c.documents,
                        c.participants, c.coded_segments, f"{c.share:.4f}" if c.applied else "", row.test,
                        "" if row.statistic is None else f"{row.statistic:.4f}",
                        "" if row.p_value is None else f"{row.p_value:.4g}",
                        "" if row.p_adjusted is None else f"{row.p_adjusted:.4g}",
                        "" if row.effect is None else f"{row.effect:.4f}", row.note])
    written.append(write_private(out_dir / f"compare_by_{result.by}.csv", buf.getvalue()))
    for source in ("confirmed", "proposed"):
        rows = [r for r in result.rows if r.source == source]
        if rows:
            png = out_dir / f"compare_by_{result.by}_{source}.png"
            written.append(heatmap(rows, result.groups, f"Share of segments with each code, by {result.by}"
                                   + (" (machine proposals, not confirmed)" if source == "proposed" else ""), png))
    if walk is not None:
        buf = io.StringIO()
        w = SafeWriter(buf, lineterminator="\n")
        w.writerow(["code_a", "code_b", "description_cosine", "segments_co_coded", "examples"])
        for i, a in enumerate(walk.a.codes):
            for j, b in enumerate(walk.b.codes):
                w.writerow([a.path, b.path, f"{walk.description_similarity[i, j]:.4f}", int(walk.co_coded[i, j]),
                            " | ".join(walk.examples.get((i, j), []))])
        written.append(write_private(out_dir / f"crosswalk_{walk.a.name}_{walk.b.name}.csv", buf.getvalue()))
    return written
