"""Training examples: coded tables and .qdpx files read, resolved against a codebook; a project's decisions
turned into examples (accepted / added -> positive, rejected -> negative; several codes on one text are one
example with several labels)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from ..errors import InputError
from ..records import Codebook

POSITIVE = {"", "accept", "accepted", "add", "added", "recode", "yes", "y", "true", "1", "positive", "+", "confirmed"}
NEGATIVE = {"reject", "rejected", "no", "n", "false", "0", "negative", "-"}
TEXT_COLUMNS = ("text", "utterance", "utterance_text", "answer", "response", "segment", "quote", "quotation")
VERDICT_COLUMNS = ("verdict", "decision", "positive")


@dataclass(frozen=True)
class TrainingExample:
    """One coded segment as read from a table: ``code`` is a name or a ``Category/Code`` path."""

    text: str
    code: str
    category: str | None = None
    positive: bool = True
    group: str = field(default="", compare=False)  # the document it comes from (``document`` column), if known


@dataclass(frozen=True)
class CodedExample:
    """A training example resolved against a codebook: ``code`` indexes ``codebook.codes``.

    ``source`` (who coded it: a coder, or the training file) is shown as evidence; ``group`` (its
    document) keeps one document's segments in one fold when the scores are calibrated. Neither
    takes part in equality: the same text and code from two places is one example."""

    code: int
    text: str
    positive: bool = True
    source: str = field(default="", compare=False)
    group: str = field(default="", compare=False)


def _norm(s: str) -> str:
    return " ".join(str(s).split())


def _key(s: str) -> str:
    return _norm(s).casefold()


def load_training(path: str | Path, max_mb: float = 50.0) -> list[TrainingExample]:
    """Read already coded segments from ``.csv``/``.tsv``/``.xlsx``.

    Columns (case-insensitive): ``text`` (or utterance / answer / response / quote), ``code``,
    optional ``category`` and ``verdict`` (accept / reject; empty = accept). One row per code: a
    segment with two codes is two rows. Rows without text or without code are skipped (a coded
    export also lists uncoded segments); identical rows count once. Raises :class:`InputError`
    with one line for an unreadable file, missing columns, an unknown verdict or no usable row.
    """
    from ..ingest.table import read_table

    path = Path(path)
    rows = read_table(path, max_mb, what="training")
    header = [h for h in rows[0] if h]
    text_col = next((c for c in TEXT_COLUMNS if c in header), None)
    if text_col is None or "code" not in header:
        missing = " and ".join(f"'{c}'" for c, ok in (("text", text_col), ("code", "code" in header)) if not ok)
        raise InputError(path, f"no {missing} column (columns are: {', '.join(header) or 'none'})")
    cat_col = "category" if "category" in header else None
    verdict_col = next((c for c in VERDICT_COLUMNS if c in header), None)
    doc_col = next((c for c in ("document", "document_id", "file") if c in header), None)
    out: list[TrainingExample] = []
    seen: set[TrainingExample] = set()
    for row_no, row in enumerate(rows, start=2):
        text, code = _norm(row.get(text_col, "")), _norm(row.get("code", ""))
        if not text or not code:
            continue
        positive = True
        if verdict_col:
            v = _key(row.get(verdict_col, ""))
            if v in NEGATIVE:
                positive = False
            elif v not in POSITIVE:
                raise InputError(path, f"row {row_no}: unknown {verdict_col} '{row.get(verdict_col)}' "
                                       "(use accept or reject; empty means accept)")
        ex = TrainingExample(text, code, _norm(row.get(cat_col, "")) or None if cat_col else None, positive,
                             group=_norm(row.get(doc_col, "")) if doc_col else "")
        if ex not in seen:
            seen.add(ex)
            out.append(ex)
    if not out:
        raise InputError(path, "no row has both a text and a code")
    return out


def load_training_files(paths: Sequence[str | Path], max_mb: float = 50.0, offsets: str = "auto") -> list[TrainingExample]:
    """Coded examples from several files: tables (:func:`load_training`) and REFI-QDA projects
    (``.qdpx``: every coded span with its code's path; ``offsets`` as in ``read_qdpx``'s ``offset_unit``)."""
    out: list[TrainingExample] = []
    for path in map(Path, paths):
        if path.suffix.lower() == ".qdpx":
            from ..refi import read_qdpx

            project = read_qdpx(path, offset_unit=offsets)
            texts = {d.id: d.text for d in project.documents}
            codes = {c.guid(b.name): c.path for b in project.codebooks for c in b.codes}
            out += [TrainingExample(texts[c.document_id][c.start:c.end], codes[c.code_guid], group=c.document_id)
                    for c in project.codings if c.code_guid in codes]
        else:
            out += load_training(path, max_mb)
    return out


def _close(name: str, options: Iterable[str]) -> str:
    import difflib

    hit = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{hit[0]}'?)" if hit else ""


def _source_name(source) -> str:
    """How a training file is named in evidence: its file name (or names)."""
    return ", ".join(Path(p.strip()).name for p in str(source).split(","))


def resolve_examples(examples: Sequence[TrainingExample], codebook: Codebook, unknown: str = "error",
                     source: str | Path = "training data") -> tuple[list[CodedExample], list[str]]:
    """Map example codes to codebook codes; return (resolved examples, warnings).

    A code is found by its path (``category`` column + ``code``, or ``Category/Code`` in the code
    column) or by its name alone when the name is unique in the codebook; matching ignores case and
    repeated spaces. ``unknown="error"`` (the default) raises :class:`InputError` listing every
    unknown or ambiguous name, because a misspelt code would otherwise silently stay zero-shot;
    ``unknown="warn"`` skips those rows and reports them in the warnings.
    """
    if unknown not in ("error", "warn"):
        raise ValueError("unknown must be 'error' or 'warn'")
    by_path: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(codebook.codes):
        by_path[_key(c.path)] = i
        by_name.setdefault(_key(c.name), []).append(i)
    options = [c.path for c in codebook.codes] + [c.name for c in codebook.codes]
    problems: dict[str, int] = {}  # one-line description -> rows
    out: list[CodedExample] = []
    for ex in examples:
        code = _norm(ex.code)
        label = f"{_norm(ex.category)}/{code}" if ex.category else code
        hit = by_path.get(_key(label)) if (ex.category or "/" in code) else None
        problem = None
        if hit is None and not ex.category:
            names = by_name.get(_key(code), [])
            if len(names) == 1:
                hit = names[0]
            elif names:
                paths = " or ".join(f"'{codebook.codes[i].path}'" for i in names)
                problem = f"'{code}' is ambiguous (add a category column: {paths})"
        if hit is None:
            problem = problem or f"'{label}' is unknown{_close(label, options)}"
            problems[problem] = problems.get(problem, 0) + 1
        else:
            out.append(CodedExample(hit, _norm(ex.text), ex.positive, source=_source_name(source), group=ex.group))
    warnings: list[str] = []
    if problems:
        listed = "; ".join(f"{p} ({n} row{'s' if n > 1 else ''})" for p, n in sorted(problems.items()))
        msg = f"codes not in codebook '{codebook.name}': {listed}"
        if unknown == "error":
            raise InputError(source, msg)
        warnings.append(f"{source}: skipped {sum(problems.values())} row(s); {msg}")
    return out, warnings


def examples_from_decisions(states: Iterable, segment_texts: dict[str, str], codebook: Codebook,
                            segment_documents: dict[str, str] | None = None) -> list[CodedExample]:
    """Training examples from a project's current decision states.

    ``states``: objects with ``segment_id``, ``code_guid`` and ``status`` (``accepted`` / ``added``
    -> positive, ``rejected`` -> negative), e.g. the values of
    ``pipeline.decisions.current_state(...)``; ``segment_texts``: segment id -> text;
    ``segment_documents``: segment id -> document id (the example's ``group``). States of other
    codebooks or of segments without a text are ignored. Several accepted codes on one segment are
    one example with several labels (the head groups examples by text). "No code applies"
    (:data:`pipeline.decisions.NO_CODE`) is a rejection of every code.
    """
    from ..decisions import NO_CODE

    guid_index = {c.guid(codebook.name): i for i, c in enumerate(codebook.codes)}
    out: list[CodedExample] = []
    seen: set[CodedExample] = set()
    for s in states:
        text = segment_texts.get(s.segment_id)
        if s.code_guid == NO_CODE and text and s.status in ("accepted", "added"):
            # "no code applies": a rejection of every code of the codebook
            for i in range(len(codebook.codes)):
                ex = CodedExample(i, _norm(text), False, source=getattr(s, "coder", "") or "",
                                  group=(segment_documents or {}).get(s.segment_id, ""))
                if ex not in seen:
                    seen.add(ex)
                    out.append(ex)
            continue
        code = guid_index.get(s.code_guid)
        if code is None or not text or s.status not in ("accepted", "added", "rejected"):
            continue
        ex = CodedExample(code, _norm(text), s.status != "rejected", source=getattr(s, "coder", "") or "",
                          group=(segment_documents or {}).get(s.segment_id, ""))
        if ex not in seen:
            seen.add(ex)
            out.append(ex)
    return out


# -- the head --------------------------------------------------------------------------------------


def run_training_files(manifest: dict) -> list[Path]:
    """The training files a run learned from, from its manifest (resolved paths; older manifests
    recorded them only as written in the config)."""
    return [Path(f.get("resolved") or f["path"]) for f in (manifest.get("learning") or {}).get("train_files", [])]
