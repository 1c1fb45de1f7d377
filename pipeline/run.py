"""A batch run: config in, coded segments and a manifest out. The CLI is a thin layer over this.

The stages, in the order they run: :func:`read_inputs`, :func:`segment_inputs`, :func:`embed_segments`,
:func:`propose_codes`, :func:`export_tables`, :func:`save_run`; :func:`run_batch` is their sequence. The
inputs a study names are found by :mod:`pipeline.inputs`, the manifest written by :mod:`pipeline.manifest`.
(A little over 500 lines: the stages stay in one file so that the sequence reads top to bottom.)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .codebook import codebook_to_dict, load_codebook
from .config import Config, StudyConfig
from .embed import EmbedStats, Embedder, MemoryVectors, ResolvedModel, VectorMemo, embed_texts, resolve_layer, resolve_model
from .errors import ConfigError, InputError, ModelError, printable
from .export.table import suggestion_rows, write_csv, write_xlsx
from .features import learner_views
from .ingest import read_document
from .inputs import expand_inputs, load_roles
from .learn import FewShotProposer, make_learner
from .manifest import build_manifest, sha_file
from .private import write_private
from .propose import (PROPOSERS, SimilarityProposer, category_questions, label_texts, make_proposer, propose_sets,
                      score_segments)
from .records import Codebook, Document, Segment, Suggestion, utc_now as _now
from .segment import RoleMap, load_spacy, segment_document
from .store import Store



@dataclass
class BatchResult:
    documents: list[Document] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per bad input file
    warnings: list[str] = field(default_factory=list)
    embed: EmbedStats = field(default_factory=EmbedStats)
    layer: int | None = None  # the hidden layer of the layer view the run computed (None: none)
    manifest: dict = field(default_factory=dict)
    outputs: dict[str, Path] = field(default_factory=dict)
    codebooks: dict[str, Codebook] = field(default_factory=dict)  # by study
    codebook_changes: dict[str, list] = field(default_factory=dict)  # by study: CodeChange since the last run
    orphans: list[str] = field(default_factory=list)  # orphaned decisions after this run (decisions.orphan_lines)

    def proposals_per_code(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for s in self.suggestions:
            if s.names_code:
                counts[s.code.path] = counts.get(s.code.path, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


class Reporter:
    """Progress callbacks; the CLI plugs rich progress bars in, tests and library use stay silent.
    ``stage`` returns the callback that counts steps done; ``total`` None: a stage of unknown length."""

    def stage(self, name: str, total: int | None) -> Callable[[int], None]:
        return lambda n: None

    def done(self, name: str) -> None:
        pass

    def message(self, line: str) -> None:
        pass


def prepare(cfg: Config) -> tuple[dict[str, Codebook], dict[str, RoleMap], ResolvedModel]:
    """Everything that can fail before any file is read: codebooks, role maps, proposer, model."""
    if cfg.propose.proposer not in PROPOSERS:
        from .learn import LEARNED_PROPOSERS

        hint = (f"; '{cfg.propose.proposer}' is a learner: set propose.learner to it, and give examples with "
                "propose.train or review decisions" if cfg.propose.proposer in LEARNED_PROPOSERS else "")
        raise ConfigError("config", f"[propose -> proposer] unknown proposer '{cfg.propose.proposer}' "
                                    f"(zero-shot proposers: {', '.join(sorted(PROPOSERS))}){hint}")
    codebooks = {s.name: load_codebook(cfg.resolve(s.codebook)) for s in cfg.studies}
    roles = {s.name: load_roles(s, cfg) for s in cfg.studies}
    model = resolve_model(cfg.embedding.model, cfg._base_dir)
    return codebooks, roles, model


def _redaction(cfg: Config):
    """The :class:`~pipeline.redact.Deidentifier` when the config asks for de-identification, checked
    before any file is read."""
    if not cfg.redact.enabled:
        return None
    from .redact import TYPES, Deidentifier, KnownNames, PseudonymKey, Redactor, check_private_paths

    if not cfg.redact.key:
        raise ConfigError("config", "[redact -> key] a pseudonym key file is needed when redact.enabled is true")
    key_path = cfg.resolve(cfg.redact.key)
    known_path = cfg.resolve(cfg.redact.known) if cfg.redact.known else None
    check_private_paths(cfg.output_dir, key_path, known_path)
    known = KnownNames.load(known_path) if known_path else None
    types = tuple(cfg.redact.types) if cfg.redact.types else TYPES
    bad = [t for t in types if t not in TYPES]
    if bad:
        raise ConfigError("config", f"[redact -> types] unknown type(s) {', '.join(bad)} (one of {', '.join(TYPES)})")
    return Deidentifier(Redactor(known, types=types, spacy_model=cfg.redact.spacy_model), PseudonymKey.load(key_path))


def _deidentify(cfg: Config, deid, read: list, res: BatchResult, roles: dict[str, RoleMap]) -> list:
    """Redact every document read (:class:`~pipeline.redact.Deidentifier`), save the key, and write the
    review table (replacements and words kept to check) next to the outputs, as `precode redact` does.
    Speaker roles are looked up first: the roles file names speakers and files as they were."""
    import dataclasses

    from .redact import REVIEW_FILE, write_review

    with_roles = [dataclasses.replace(doc, turns=[dataclasses.replace(
        t, role=roles[study.name].canonical(t.role) or roles[study.name].role(doc.id, t.speaker)) for t in doc.turns])
        for study, _, doc in read]
    results = deid.redact([(doc.id, doc) for doc in with_roles])
    assert cfg.redact.key is not None  # _redaction gives no deidentifier without a key
    deid.key.save(cfg.resolve(cfg.redact.key))
    res.outputs["redaction_review"] = write_review(cfg.output_dir / REVIEW_FILE, results)
    for r in results:
        res.warnings += r.notes()
    return [(study, path, r.doc) for (study, path, _), r in zip(read, results)]


@dataclass
class Read:
    """What the reading stage gives: the files each study names, the documents read (with their study
    and path), and the files that could not be read."""

    inputs: dict[str, list[Path]]
    documents: list[tuple[StudyConfig, Path, Document]]
    unread: list[InputError]
    errors: list[str]  # input patterns that name nothing readable


@dataclass
class Embedded:
    """The vectors of every text a proposer will look up, by text, and what was embedded."""

    lookup: dict[str, np.ndarray]
    labels: dict[str, list]  # label texts by study
    questions: dict[str, list[tuple[int, str]]]  # category questions by study
    question_books: set[str]  # studies whose codebook's categories carry interview questions
    use_question: bool
    use_previous: bool


@dataclass
class Proposed:
    suggestions: list[Suggestion]
    learning: dict[str, dict]  # by study: what the learner learned from (for the manifest)


def read_inputs(cfg: Config, roles: dict[str, RoleMap], rep: Reporter, quiet_skips: bool = False) -> Read:
    """Stage 1, ingest: expand each study's inputs and read every file (bad files are collected, not raised)."""
    inputs: dict[str, list[Path]] = {}
    errors: list[str] = []
    for study in cfg.studies:
        files, problems = expand_inputs(study.inputs, cfg._base_dir, f"study '{study.name}'",
                                        cfg.limits.allow_outside_symlinks)
        errors.extend(problems)
        inputs[study.name] = files
    used_ids: set[str] = set()
    read: list[tuple[StudyConfig, Path, Document]] = []
    unread: list[InputError] = []
    tick = rep.stage("reading", sum(len(v) for v in inputs.values()))
    for study in cfg.studies:
        known = roles[study.name].speakers()
        for path in inputs[study.name]:
            file_name = printable(path.name)  # a control character in a file name never reaches an id or a message
            doc_id = file_name if file_name not in used_ids else f"{printable(path.parent.name)}/{file_name}"
            try:
                doc = read_document(path, doc_id, known, cfg.limits.max_file_mb, cfg.limits.zip_limits())
            except InputError as err:
                unread.append(err)
                if not quiet_skips:
                    rep.message(f"skipped {err}")
                tick(1)
                continue
            used_ids.add(doc.id)
            read.append((study, path, doc))
            tick(1)
    rep.done("reading")
    return Read(inputs, read, unread, errors)


def sentence_splitter(cfg: Config, rep: Reporter):
    """The spaCy pipeline that splits sentences, when the unit is a sentence (None otherwise); loaded before
    anything is read, so that a missing model fails first."""
    if cfg.segment.unit != "sentence":
        return None
    rep.stage("spaCy", None)  # loading a pipeline takes seconds on a cold start
    nlp = load_spacy(cfg.segment.spacy_model)
    rep.done("spaCy")
    return nlp


def segment_inputs(cfg: Config, read: list[tuple[StudyConfig, Path, Document]], roles: dict[str, RoleMap],
                   res: BatchResult, nlp=None, redacted: bool = False) -> None:
    """Stage 2, segment: each document into coding units (``res.documents`` / ``res.segments``; a document that
    would take the batch over ``limits.max_segments`` is skipped and reported). ``nlp``: see
    :func:`sentence_splitter`."""
    for study, path, doc in read:
        where = printable(path) if not redacted else doc.id
        res.warnings.extend(f"{where}: {printable(w)}" for w in doc.warnings)
        segs = segment_document(
            doc, cfg.segment.unit, roles[study.name], cfg.segment.context_roles, cfg.segment.code_speakers,
            nlp=nlp, study=study.name, min_chars=cfg.segment.min_chars,
        )
        if len(res.segments) + len(segs) > cfg.limits.max_segments:
            res.errors.append(f"{where}: skipped: the batch would exceed limits.max_segments={cfg.limits.max_segments}")
            continue
        doc.metadata["study"] = study.name
        res.documents.append(doc)
        res.segments.extend(segs)
    seen: set[str] = set()
    for s in res.segments:
        if s.id in seen:
            raise ConfigError("inputs", f"segment id '{s.id}' occurs twice (two tables share an id?); make ids unique")
        seen.add(s.id)


def make_embedder(cfg: Config, model: ResolvedModel, res: BatchResult) -> Embedder:
    """The encoder, computing the layer view in the same pass when the configured learner reads it."""
    layer = None
    if make_learner(cfg.propose).layer_weight > 0:
        try:
            layer = resolve_layer(model, cfg.propose.layer)
        except ModelError as err:  # a hub id: its layer count is not on disk before it is loaded
            if model.source != "hub" or cfg.propose.layer is not None:
                raise
            res.warnings.append(f"{err}; the learner runs without the layer view")
    return Embedder(model, cfg.embedding.batch_size, cfg.embedding.device, layer=layer)


def embed_segments(cfg: Config, codebooks: dict[str, Codebook], coded: list[Segment], embedder, cache,
                   stats: EmbedStats, rep: Reporter) -> Embedded:
    """Stage 3, embed: the coded segments, the questions and previous turns the proposer reads, and the
    codebooks' label texts and category questions (cached: nothing is computed twice)."""
    use_previous = cfg.propose.context_weight > 0
    texts = [s.text for s in coded]
    # questions matter only for codebooks whose categories carry interview questions
    question_books = {name for name, cb in codebooks.items() if any(c.questions for c in cb.categories)}
    use_q = cfg.propose.use_question and bool(question_books)
    texts += [s.question for s in coded if s.question and use_q and s.study in question_books]
    texts += [s.previous for s in coded if s.previous and use_previous]
    labels = {name: label_texts(cb) for name, cb in codebooks.items()}
    questions = {name: category_questions(cb) for name, cb in codebooks.items()}
    for name in codebooks:
        texts += [lt.text for lt in labels[name]] + [q for _, q in questions[name]]
    tick = rep.stage("embedding", len(set(texts)))
    vectors = embed_texts(texts, embedder, cache, progress=tick, stats=stats)
    rep.done("embedding")
    return Embedded({txt: vectors[i] for i, txt in enumerate(texts)}, labels, questions, question_books, use_q,
                    use_previous)


def propose_codes(cfg: Config, codebooks: dict[str, Codebook], coded: list[Segment], emb: Embedded,
                  training: dict[str, list], embedder, cache, store: Store | None, res: BatchResult,
                  rep: Reporter) -> Proposed:
    """Stage 4, propose: per study, a learner fitted on its training examples and decisions (or the zero-shot
    proposer when there are none) scores its segments, and the sets are chosen."""
    p = cfg.propose
    lookup = emb.lookup
    tagger = None  # spaCy tagger for form features, loaded once if a learned head needs it

    # decisions are on segments, whose vectors are at hand; only other texts are embedded
    vectors = VectorMemo(embedder, cache, stats=res.embed, memo=lookup)
    # single words (fewshot.v7+ compares them with the code names' words): cached like any text, not counted
    words = VectorMemo(embedder, cache)

    def layers(texts: list[str]) -> dict[str, np.ndarray]:
        return dict(zip(texts, embed_texts(texts, embedder, cache, view="layer")))

    def forms(groups: list[list[str]]):
        from .form import LazyTagger, form_matrices

        nonlocal tagger
        tagger = tagger or LazyTagger(cfg.segment.spacy_model)  # loaded if a text is not yet tagged
        return form_matrices(groups, tagger, store)

    out = Proposed([], {})
    tick = rep.stage("proposing", len(cfg.studies))
    for study in cfg.studies:
        cb = codebooks[study.name]
        segs = [s for s in coded if s.study == study.name]
        tick(1)
        if not segs:
            continue
        labels, questions = emb.labels[study.name], emb.questions[study.name]
        qv = np.stack([lookup[q] for _, q in questions]) if questions else None
        examples = training.get(study.name, [])
        seg_forms = seg_layers = None
        proposer: FewShotProposer | SimilarityProposer
        if examples:
            proposer = make_learner(p)
            views = learner_views(proposer, [lt.text for lt in labels], [e.text for e in examples],
                                  [s.text for s in segs], vectors, layers if res.layer is not None else None, forms,
                                  words)
            seg_forms, seg_layers = views.segments.forms, views.segments.layers
            # fewshot.v4+ also learns from the segments it is sure of (self-training; never a decision)
            proposer.fit_views(cb, labels, views, examples, questions, qv)
            out.learning[study.name] = {
                "learner": proposer.name, "examples": len(examples),
                # the form features' weight used (fewshot.v5+ may drop them; the review follows)
                "form_weight": getattr(proposer, "form_selected_", p.form_weight),
                "layer_view": res.layer if proposer.layer_dim_ else None,
                "self_training": ({"threshold": proposer.self_train, "segments": proposer.pseudo_}
                                  if proposer.self_train > 0 else None),
                "learned_codes": list(proposer.learned_codes_), "zero_shot_codes": list(proposer.zero_shot_codes_)}
            if proposer.zero_shot_codes_:
                res.warnings.append(f"study '{study.name}': {len(examples)} training examples; "
                                    f"{len(proposer.zero_shot_codes_)} of {len(cb.codes)} codes have fewer than "
                                    f"{p.min_examples} and stay zero-shot: {', '.join(proposer.zero_shot_codes_)}")
        else:
            calibration = {k: v for k, v in (("center", p.sim_center), ("scale", p.sim_scale)) if v is not None}
            proposer = make_proposer(p.proposer, question_weight=p.question_weight, use_question=p.use_question,
                                     context_weight=p.context_weight, **calibration)
            proposer.fit(cb, labels, np.stack([lookup[lt.text] for lt in labels]), questions, qv)
        scores, evidence, cat, _ = score_segments(proposer, segs, lookup,
                                                  emb.use_question and study.name in emb.question_books,
                                                  seg_forms, emb.use_previous, seg_layers)
        out.suggestions.extend(_flag_truncated(propose_sets(p, segs, scores, evidence, proposer, cat), segs,
                                               embedder, res))
        if p.coverage is not None and examples:
            out.learning[study.name]["coverage"] = _coverage_note(proposer, p.coverage)
    rep.done("proposing")
    return out


def export_tables(cfg: Config, res: BatchResult, codebooks: dict[str, Codebook], store: Store | None,
                  pending: list, out_csv: Path | None) -> None:
    """Stage 5a, export: the coded segments (CSV / XLSX) with every coder's decisions beside the proposals."""
    states = None
    if store is not None:
        from .decisions import current_state, load

        states = current_state(load(store, pending=pending))
    orphans = []
    if states:
        from .project import orphan_books

        assert store is not None  # the states were read from it
        active = {c.guid(cb.name) for cb in codebooks.values() for c in cb.codes}
        orphans = list(orphan_books(store, {g for (_s, g, _c) in states}, active, pending).values())
    rows = suggestion_rows(res.segments, res.suggestions, codebooks, states, orphans)
    if out_csv is not None:
        res.outputs["csv"] = write_csv(rows, out_csv)
        if out_csv.suffix.lower() == ".xlsx":
            res.outputs["xlsx"] = write_xlsx(rows, out_csv, codebooks.values())
        return
    if "csv" in cfg.export.formats:
        res.outputs["csv"] = write_csv(rows, cfg.output_dir / "coded_segments.csv")
    if "xlsx" in cfg.export.formats:
        res.outputs["xlsx"] = write_xlsx(rows, cfg.output_dir / "coded_segments.xlsx", codebooks.values())


def save_run(cfg: Config, res: BatchResult, codebooks: dict[str, Codebook], store: Store, started: str) -> None:
    """Stage 5b, save: the run in the project store, in one transaction (a killed run leaves the previous one)."""
    from .decisions import orphan_lines

    by_doc: dict[str, list[Segment]] = {}
    for s in res.segments:
        by_doc.setdefault(s.document_id, []).append(s)
    study_of = {s.id: s.study for s in res.segments}
    store.save_run(
        started, _now(), res.manifest,
        studies={name: next(s.metadata for s in cfg.studies if s.name == name) for name in codebooks},
        codebooks=[(cb, codebook_to_dict(cb)) for cb in codebooks.values()],
        documents=res.documents, segments_of=by_doc,
        study_of_doc={doc.id: doc.metadata["study"] for doc in res.documents},
        suggestions=[(cb.name, [s for s in res.suggestions if study_of[s.segment_id] == name])
                     for name, cb in codebooks.items()],
        versions=[(name, cb, codebook_to_dict(cb), res.codebook_changes.get(name, []))
                  for name, cb in codebooks.items()])
    res.orphans = orphan_lines(store)


def run_batch(cfg: Config, reporter: Reporter | None = None, *, persist: bool = True,
              cache_store: Path | None = None, out_csv: Path | None = None,
              embedder: Embedder | None = None) -> BatchResult:
    """Run ingest -> segment -> embed -> propose -> export -> save for every study of ``cfg``.

    Bad input files are reported in ``result.errors`` and skipped; config, codebook and model
    problems raise before anything is read. With ``persist`` the project store keeps documents,
    segments, codebooks, suggestions and the run; otherwise the store is only an embedding cache.
    Each stage is a function of its own (:func:`read_inputs`, :func:`segment_inputs`,
    :func:`embed_segments`, :func:`propose_codes`, :func:`export_tables`, :func:`save_run`).
    """
    from .codebook import codebook_warnings
    from .learn import load_training_files

    rep = reporter or Reporter()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    started = _now()
    codebooks, roles, model = prepare(cfg)
    redaction = _redaction(cfg)
    # bad training files fail here, early
    train_raw = load_training_files([cfg.resolve(item) for item in cfg.propose.train], offsets=cfg.propose.train_offsets)
    res = BatchResult(codebooks=codebooks)
    for cb in codebooks.values():
        res.warnings += [f"{cb.path}: {line}" for line in codebook_warnings(cb)]
    timings["prepare"] = time.perf_counter() - t0

    t = time.perf_counter()
    nlp = sentence_splitter(cfg, rep)
    got = read_inputs(cfg, roles, rep, quiet_skips=redaction is not None)
    res.errors.extend(got.errors)
    read = got.documents
    if redaction is not None:  # two passes over every text read; names, ids and messages with the same key
        read = _deidentify(cfg, redaction, read, res, roles)
    res.errors += [str(e) if redaction is None else redaction.skipped(e.path, e.problem) for e in got.unread]
    segment_inputs(cfg, read, roles, res, nlp, redacted=redaction is not None)
    timings["ingest_segment"] = time.perf_counter() - t

    t = time.perf_counter()
    store_path = cfg.store_path if persist else cache_store
    store = Store(store_path).open() if (store_path and (persist or cfg.embedding.cache)) else None
    try:
        if persist and store is not None:
            codebooks = _with_project_codes(codebooks, store)
            res.codebooks = codebooks
            res.codebook_changes = codebook_changes(store, codebooks)
        pending = [(ch.kind, ch.old_guid, ch.new_guid) for chs in res.codebook_changes.values() for ch in chs]
        if embedder is None:
            embedder = make_embedder(cfg, model, res)
        res.layer = getattr(embedder, "layer", None)
        cache = store if (store is not None and cfg.embedding.cache) else MemoryVectors()
        coded = [s for s in res.segments if s.coded]
        emb = embed_segments(cfg, codebooks, coded, embedder, cache, res.embed, rep)
        timings["embed"] = time.perf_counter() - t

        t = time.perf_counter()
        training = _training(cfg, codebooks, train_raw, store if persist else None, res, pending)
        proposed = propose_codes(cfg, codebooks, coded, emb, training, embedder, cache, store, res, rep)
        res.suggestions.extend(proposed.suggestions)
        timings["propose"] = time.perf_counter() - t

        t = time.perf_counter()
        project = store if persist else None
        export_tables(cfg, res, codebooks, project, pending, out_csv)
        timings["export"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - t0
        if redaction is not None:
            res.errors, res.warnings = redaction.scrub.value(res.errors), redaction.scrub.value(res.warnings)
        res.manifest = build_manifest(cfg, res, model, got.inputs, started, timings)
        res.manifest["learning"] = {
            "train_files": [{"path": f, "resolved": str(cfg.resolve(f).resolve()), "sha256": sha_file(cfg.resolve(f))}
                            for f in cfg.propose.train],
            "studies": proposed.learning,
        }
        if redaction is not None:  # names in errors, warnings, study paths and metadata
            res.manifest = redaction.manifest(res.manifest)
        if project is not None:
            save_run(cfg, res, codebooks, project, started)
        manifest_path = (out_csv.with_suffix(".manifest.json") if out_csv is not None else cfg.output_dir / "manifest.json")
        write_private(manifest_path, json.dumps(res.manifest, indent=2, sort_keys=True, default=str) + "\n")
        res.outputs["manifest"] = manifest_path
    finally:
        if store is not None:
            store.close()
    return res


def _flag_truncated(suggestions: list[Suggestion], segs: list[Segment], embedder, res: BatchResult) -> list[Suggestion]:
    """Flag ``truncated`` the proposals of segments longer than the encoder reads (their vector rests on
    the segment's start; the text is cut before the tokenizer, see :func:`pipeline.embed.clip_for_encoder`)."""
    overlong = getattr(embedder, "overlong", None)
    if overlong is None:
        return suggestions
    long_ids = {s.id for s, over in zip(segs, overlong([s.text for s in segs])) if over}
    if not long_ids:
        return suggestions
    import dataclasses

    res.warnings.append(f"{len(long_ids)} segment(s) are longer than the encoder reads: their proposals rest on "
                        "the start of the text (flag truncated); a shorter unit (segment.unit: paragraph or "
                        "sentence) reads all of it")
    return [dataclasses.replace(s, flags=s.flags + ("truncated",)) if s.segment_id in long_ids else s
            for s in suggestions]
def codebook_changes(store: Store, codebooks: dict[str, Codebook]) -> dict[str, list]:
    """By study: what changed in its codebook since the version the project last recorded (empty
    when nothing did, or for a codebook the project has not met)."""
    from .codebook import codebook_from_dict, diff_codebooks

    out = {}
    for study, cb in codebooks.items():
        prev = store.previous_codebook(cb.name, study)
        if prev is not None and json.dumps(prev, sort_keys=True) != json.dumps(codebook_to_dict(cb), sort_keys=True):
            out[study] = diff_codebooks(codebook_from_dict(prev), cb)
    return out


def _with_project_codes(codebooks: dict[str, Codebook], store: Store) -> dict[str, Codebook]:
    """Codes people added to the project (accepted emergent themes) that the codebook file lacks."""
    import dataclasses
    import json as _json

    from .records import Category, Code

    out = {}
    for study, cb in codebooks.items():
        known = {c.guid(cb.name) for c in cb.codes}
        extra = [
            Code(name=r.name, category=r.category, description=r.description, inclusion=r.inclusion,
                 exclusion=r.exclusion, examples=tuple(_json.loads(r.examples)))
            for r in store.code_rows()
            if r.codebook == cb.name and r.category == "Emergent" and r.guid not in known
        ]
        if not extra:
            out[study] = cb
            continue
        cats = cb.categories if cb.category("Emergent") else (
            cb.categories + (Category("Emergent", "themes found by precode discover and accepted by a person"),))
        out[study] = dataclasses.replace(cb, codes=cb.codes + tuple(extra), categories=cats)
    return out


def _training(cfg: Config, codebooks: dict[str, Codebook], raw: list, store, res: BatchResult,
              pending=()) -> dict[str, list]:
    """Coded examples per study: ``raw`` (read from the ``propose.train`` files) resolved against each
    study's codebook, and the project's own decisions."""
    from .learn import examples_from_decisions, resolve_examples

    out: dict[str, list] = {name: [] for name in codebooks}
    for name, cb in codebooks.items():
        if raw:
            resolved, notes = resolve_examples(raw, cb, unknown="warn" if len(codebooks) > 1 else "error",
                                               source=", ".join(cfg.propose.train))
            out[name] += resolved
            res.warnings += notes
        if store is not None and cfg.propose.learn_from_decisions:
            from .decisions import current_state, load, of_coders

            states = of_coders(current_state(load(store, pending=pending)).values(), cfg.propose.learn_from_decisions)
            if states:
                rows = store.segment_texts()
                texts = {k: v[0] for k, v in rows.items()}
                docs = {k: v[1] for k, v in rows.items()}
                out[name] += examples_from_decisions(states, texts, cb, docs)
    return out


def _coverage_note(proposer, coverage: float) -> dict:
    """What a coverage set rests on, for the manifest and the run's output."""
    got = proposer.coverage_threshold(coverage) if hasattr(proposer, "coverage_threshold") else None
    if got is None:
        return {"coverage": coverage, "cutoff": None,
                "note": "too few coded examples to measure coverage; sets follow the precision target"}
    cutoff, n = got
    return {"coverage": coverage, "cutoff": round(cutoff, 4), "measured_on": n,
            "note": f"each set holds a right code {coverage:.0%} of the time, measured out of fold on {n} coded segments"}
