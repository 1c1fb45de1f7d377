"""A project as stored: find its store, and load documents, segments, codebooks and proposals back.

``PROJECT`` on the command line may be a batch config (``.yaml``), a project folder (holding
``project.sqlite``) or the store file itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .codebook import CodebookModel, _build
from .errors import PrecodeError
from .records import Code, Codebook, Document, Segment, Suggestion
from .store import STORE_FILE, Store


def store_file(project: str | Path) -> Path:
    """Where a project's store is, or will be: a batch config's (``.yaml``) store, the file itself (a
    ``.sqlite`` or any existing file), else ``project.sqlite`` in the folder."""
    p = Path(project)
    if p.suffix.lower() in (".yaml", ".yml"):
        from .config import load_config

        return load_config(p).store_path
    if p.suffix.lower() == ".sqlite" or p.is_file():
        return p
    return p / STORE_FILE


def find_store(project: str | Path) -> Path:
    """The store of an existing project (:func:`store_file`); PrecodeError naming the path when there is none."""
    p = Path(project)
    store = store_file(p)
    if p.suffix.lower() in (".yaml", ".yml") or store.exists():
        return store
    if p.is_dir():
        raise PrecodeError(f"{p}: no {STORE_FILE} in this folder (run `precode run CONFIG` first)")
    raise PrecodeError(f"{p}: no such project (give a config .yaml, a project folder or a project.sqlite)")


@dataclass
class ProjectData:
    documents: list[Document] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    codebooks: dict[str, Codebook] = field(default_factory=dict)  # by study
    books: dict[str, Codebook] = field(default_factory=dict)  # every codebook in the store, by name
    suggestions: list[Suggestion] = field(default_factory=list)  # of the latest run
    states: dict = field(default_factory=dict)  # decisions.current_state of all coders
    run_id: int | None = None
    # retired or split codes people decided on, by codebook name: each a codebook named
    # "NAME (orphaned codes)" whose codes carry ``retired`` (the exports mark them, never drop them)
    orphan_books: dict[str, Codebook] = field(default_factory=dict)
    # segment memos: (segment, coder) -> memos.SegmentMemo, the standing one of each coder
    memos: dict = field(default_factory=dict)

    def code_index(self) -> dict[str, tuple[Codebook, Code]]:
        """code guid -> (codebook, code), over every codebook of the project (orphaned codes last)."""
        out: dict[str, tuple[Codebook, Code]] = {}
        for book in [*self.codebooks.values(), *self.books.values(), *self.orphan_books.values()]:
            for code in book.codes:
                out.setdefault(code.guid(book.name), (book, code))
        return out


def load_codebooks(store: Store) -> dict[str, Codebook]:
    """Codebooks by name, rebuilt from the stored content (the same validation as on load)."""
    out = {}
    for r in store.codebook_rows():
        out[r.name] = _build(CodebookModel.model_validate(json.loads(r.content)), Path(r.path), r.sha256)
    return out


def load_project(store_path: str | Path) -> ProjectData:
    from .decisions import current_state, load

    data = ProjectData()
    with Store(store_path) as st:
        books = load_codebooks(st)
        data.books = books
        for d in st.document_rows():
            md = json.loads(d.metadata)
            md["study"] = d.study
            data.documents.append(Document(d.id, d.path, d.format, d.sha256, d.text, [], md))
        for r in st.segment_rows():
            data.segments.append(Segment(
                id=r.id, document_id=r.document_id, unit=r.unit, turn_index=r.turn_index, start=r.start, end=r.end,
                text=r.text, speaker=r.speaker, role=r.role, coded=bool(r.coded), start_time=r.start_time,
                end_time=r.end_time, question=r.question, question_id=r.question_id, study=r.study,
                metadata=json.loads(r.metadata)))
        data.run_id = st.latest_run()
        code_of = {}
        book_of_segment: dict[str, Codebook] = {}
        for book in books.values():
            for code in book.codes:
                code_of[code.guid(book.name)] = (book, code)
        for p in st.latest_suggestion_rows():
            if p.code_guid in code_of:
                book_of_segment[p.segment_id] = code_of[p.code_guid][0]
                data.suggestions.append(Suggestion(p.segment_id, code_of[p.code_guid][1], p.score, p.rank, p.evidence,
                                                   tuple(p.flag_list), p.agent))
        # which codebook each study used: from its suggestions, else the only codebook
        for seg in data.segments:
            if seg.study is not None and seg.study not in data.codebooks and seg.id in book_of_segment:
                data.codebooks[seg.study] = book_of_segment[seg.id]
        if len(books) == 1:
            for seg in data.segments:
                if seg.study is not None:
                    data.codebooks.setdefault(seg.study, next(iter(books.values())))
        data.states = current_state(load(st))
        data.orphan_books = orphan_books(st, {g for (_s, g, _c) in data.states}, data.code_index())
        from .memos import current_memos

        data.memos = current_memos(st)
    return data


ORPHANED_SUFFIX = " (orphaned codes)"


def orphan_books(store: Store, decided: set[str], active, pending=()) -> dict[str, Codebook]:
    """The retired and split codes among ``decided`` (code guids), grouped by codebook, rebuilt from
    the codes the project stored; ``active``: guids of the codes in use; ``pending``: codebook
    changes not stored yet (as :meth:`Store.code_resolution`)."""
    gone = {g: kind for g, (to, kind) in store.code_resolution(pending).items() if to is None}
    by_book: dict[str, list[Code]] = {}
    for r in store.code_rows():
        if r.guid in gone and r.guid in decided and r.guid not in active:
            by_book.setdefault(r.codebook, []).append(Code(
                name=r.name, category=r.category, description=r.description, inclusion=r.inclusion,
                exclusion=r.exclusion, examples=tuple(json.loads(r.examples)), source_guid=r.guid, retired=gone[r.guid]))
    return {name: Codebook(name=name + ORPHANED_SUFFIX, codes=tuple(codes),
                           description="codes retired or split since these decisions; the decisions are kept")
            for name, codes in by_book.items()}


def latest_manifest(store: Store, required: bool = True) -> dict:
    """The manifest of the project's latest finished run. Without one: PrecodeError, or ``{}`` when
    not ``required``."""
    manifest = store.latest_manifest()
    if manifest is None:
        if not required:
            return {}
        raise PrecodeError(f"{store.path}: no finished run in this project (run `precode run CONFIG` first)")
    return manifest


def model_name(store_path: str | Path) -> str:
    """The embedding model of the project's latest run (from its manifest)."""
    with Store(store_path) as st:
        return latest_manifest(st)["embedding_model"]["name"]


def cached_embed(store_path: str | Path, embedder=None):
    """``embed(texts) -> vectors`` through the project's embedding cache (nothing encoded twice)."""
    from .embed import Embedder, embed_texts, resolve_model

    emb = embedder or Embedder(resolve_model(model_name(store_path)))

    def embed(texts):
        with Store(store_path) as st:
            return embed_texts(list(texts), emb, st)

    return embed


ORPHAN_MARK = " (orphaned: {})"  # after a code path in agreement: a code retired or split since its decisions


def coding_label(code) -> str:
    """A code's name in agreement tables: its path, marked when the code was retired or split since
    (its decisions are still counted, under the old code, never merged with a code in use)."""
    return code.path + (ORPHAN_MARK.format(code.retired) if getattr(code, "retired", "") else "")


def orphan_note(codings) -> str:
    """One line saying how many codings are counted under a code retired or split since ("" when none)."""
    marked = [c for c in codings if c[2].endswith(")") and " (orphaned: " in c[2]]
    if not marked:
        return ""
    codes = sorted({c[2] for c in marked})
    return (f"{len(marked)} coding(s) on codes retired or split since are counted under their old code, marked "
            f"'orphaned': {', '.join(codes)} (`precode codebook orphans PROJECT` lists the decisions)")


def project_codings(store_path: Path, coders: list[str] | None):
    """(coder, segment, code path) of confirmed codings, the units two or more coders reviewed, the coders,
    code path -> category, and coder -> the segments that coder reviewed (made any decision on).

    Decisions follow renamed, moved and merged codes (counted under the code in use); decisions on codes
    retired or split since are counted under the old code, its path marked (:func:`coding_label`)."""
    from .decisions import current_state, load

    data = load_project(store_path)
    index = data.code_index()
    with Store(store_path) as st:
        decisions = load(st)
    state = current_state(decisions)
    all_coders = sorted({d.coder for d in decisions})
    chosen = coders or all_coders
    missing = [c for c in chosen if c not in all_coders]
    if missing:
        raise PrecodeError(f"{store_path}: no decisions by {', '.join(missing)} (coders here: {', '.join(all_coders) or 'none'})")
    reviewed: dict[str, set[str]] = {c: set() for c in chosen}
    for (seg, _guid, coder), _st in state.items():
        if coder in reviewed:
            reviewed[coder].add(seg)
    units = {u for u in set().union(*reviewed.values()) if sum(u in r for r in reviewed.values()) >= 2}
    codings, categories = [], {}
    for (seg, guid, coder), cs in state.items():
        if coder in reviewed and cs.status in ("accepted", "added") and guid in index:
            codings.append((coder, seg, coding_label(index[guid][1])))
    for book, code in index.values():
        categories[coding_label(code)] = code.category
    return codings, sorted(units), chosen, categories, reviewed
