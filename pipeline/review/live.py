"""Learning while a coder reviews: every decision refits the proposer and re-scores what is left.

The review shows the latest run's proposals. As soon as the coder's decisions give a code enough
examples (``propose.min_examples``), :class:`LiveLearner` fits the run's learner
(``propose.learner``, e.g. ``precode.fewshot.v4``; sentence and layer vectors read from the run's cache) on

- the run's training files (``propose.train``), and
- this coder's own decisions (accepted / added: positive; rejected: negative),
- and, with ``precode.fewshot.v4``, the not yet reviewed segments it is already sure of (self-training;
  counted on the screens as "undecided segments it is sure of", never stored as decisions),

and proposes again for every segment the coder has not reviewed yet. Only the coder's own
decisions are used, so that coders reviewing the same project stay independent for agreement
statistics (the next ``precode code`` run learns from every coder's decisions).

Everything comes from the project store: the run's configuration (its manifest), the codebooks,
the segments, and their vectors from the embedding cache (the encoder is loaded only if a vector
is missing). Nothing here writes to the store except the form-feature cache; live proposals are
not stored (the next run computes the same ones).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from ..config import ProposeConfig
from ..errors import PrecodeError
from ..features import learner_views
from ..learn import CodedExample, run_training_files
from ..project import latest_manifest


@dataclass
class LearningStatus:
    """What the live learner did last; shown on the review screens."""

    enabled: bool
    reason: str = ""  # why learning is off, when it is
    learner: str = ""
    min_examples: int = 5
    examples: int = 0  # examples in the latest fit (training files + this coder's decisions)
    decisions: int = 0  # of which from this coder's decisions
    learned: list[str] = field(default_factory=list)  # code paths learned (all studies)
    zero_shot: list[str] = field(default_factory=list)  # code paths still scored from their descriptions
    refit_ms: float | None = None
    fits: int = 0
    self_trained: int = 0  # undecided segments the learner was sure of and also learned from (fewshot.v4)

    def summary(self) -> str:
        """One line for the screens: which codes are still zero-shot (first: the line may be cut), which learned."""
        if not self.enabled:
            return f"learning off: {self.reason}"
        n = len(self.learned) + len(self.zero_shot)
        if not self.learned:
            return (f"zero-shot: all {n} codes (none has {self.min_examples} examples yet); "
                    "your decisions teach the proposer")
        ms = f", refit {self.refit_ms:.0f} ms" if self.refit_ms is not None else ""
        learned = f"all {n} codes" if not self.zero_shot else ", ".join(self.learned)
        head = f"zero-shot (< {self.min_examples} examples): {', '.join(self.zero_shot)} · " if self.zero_shot else ""
        sure = f", + {self.self_trained} undecided segments it is sure of" if self.self_trained else ""
        return f"{head}learned: {learned} ({self.examples} examples, {self.decisions} from your decisions{sure}{ms})"


@dataclass(frozen=True)
class LiveProposal:
    segment_id: str
    code_guid: str
    score: float
    rank: int
    evidence: str
    flags: tuple[str, ...]
    learned: bool  # the code's score comes from the learned head (not zero-shot)


_TAGGERS: dict = {}
_TAGGER_LOCK = threading.Lock()


def _tagger(name: str):
    """The spaCy tagger for form features, one per process: a :class:`pipeline.form.LazyTagger`, so a
    refit whose form strings are all cached (the run tagged every segment) does not wait for spaCy."""
    with _TAGGER_LOCK:
        if name not in _TAGGERS:
            from ..form import LazyTagger

            _TAGGERS[name] = LazyTagger(name)
        return _TAGGERS[name]


def _preload_tagger(name: str) -> None:
    def run():
        try:
            _tagger(name).load()  # for new training texts (a few seconds cold)
        except Exception:  # noqa: BLE001 - the fit that needs it reports the error
            pass

    threading.Thread(target=run, name="precode-tagger", daemon=True).start()


class _CacheOnly:
    """An embedder that only knows the cached vectors (raises for anything else)."""

    batch_size = 64

    def __init__(self, model_id: str, layer: int | None = None):
        from types import SimpleNamespace

        self.model = SimpleNamespace(model_id=model_id)
        self.layer = layer

    def encode(self, texts):
        raise LookupError(f"{len(texts)} text(s) not in the embedding cache")

    encode_views = encode


class LiveLearner:
    def __init__(self, store_path: str | Path, coder: str, embedder=None, tagger=None, store=None):
        """``store``: an open :class:`pipeline.store.Store` of the project to write the caches through (the
        review session's own connection, so that its writes do not look like another process's)."""
        from ..project import load_project

        self.store_path = Path(store_path)
        self._store = store
        self.coder = coder
        self._tagger = tagger
        self._last_key: tuple | None = None
        self._load_seconds = 0.0
        self._proposals: dict[str, list[LiveProposal]] = {}
        self.status = LearningStatus(enabled=False)
        self._vec: dict[str, np.ndarray] = {}  # text -> vector, fetched once per session
        self._layer_vec: dict[str, np.ndarray] = {}  # text -> layer view (fewshot.v3), fetched once per session
        self._forms: dict[str, str] = {}  # text -> form string, tagged (or read) once per session
        self._train_resolved: dict[str, list[CodedExample]] | None = None  # study -> training-file examples
        with self._open() as st:
            manifest = latest_manifest(st, required=False)
        if not manifest:
            self.status.reason = "the project has no finished run"
            return
        cfg = manifest.get("config") or {}
        propose = dict(cfg.get("propose") or {})
        propose.setdefault("learner", "precode.fewshot.v1")  # runs from before fewshot.v2 used v1
        try:
            self.p = ProposeConfig.model_validate(propose)
        except ValidationError as err:
            self.status.reason = f"the last run's propose settings are not readable here: {err.errors()[0]['msg']}"
            return
        self.spacy_model = (cfg.get("segment") or {}).get("spacy_model", "en_core_web_sm")
        self.status.learner = self.p.learner
        self.status.min_examples = self.p.min_examples
        if self.p.context_weight > 0:
            self.status.reason = "propose.context_weight > 0 is not supported while reviewing (re-run `precode code`)"
            return
        self.data = load_project(self.store_path)
        self._text_of = {s.id: s.text for s in self.data.segments}
        self._doc_of = {s.id: s.document_id for s in self.data.segments}
        self.model = manifest.get("embedding_model") or {}
        # the form features' weight each study's run used (fewshot.v5 keeps them only where they help)
        self._form_weight = {study: info["form_weight"] for study, info in
                             ((manifest.get("learning") or {}).get("studies") or {}).items()
                             if isinstance(info, dict) and info.get("form_weight") is not None}
        self._embedder = embedder
        self.train_paths = run_training_files(manifest)
        missing = [str(x) for x in self.train_paths if not x.is_file()]
        if missing:
            self.status.reason = f"training file(s) of the last run not found: {', '.join(missing)}"
            return
        self.status.enabled = True
        self.status.zero_shot = sorted({c.path for cb in self.data.codebooks.values() for c in cb.codes})

    def _open(self):
        """The shared store (left open), or a connection of our own for the block."""
        import contextlib

        from ..store import Store

        return contextlib.nullcontext(self._store) if self._store is not None else Store(self.store_path)

    # -- vectors ----------------------------------------------------------------------------------
    def _vectors(self, texts: list[str], view: str = "sentence") -> dict[str, np.ndarray]:
        """Vectors by text (``view``: sentence embeddings, or the run's layer view); only texts not
        seen before in this session are read from the cache, and only texts not cached are encoded."""
        from ..embed import Embedder, embed_texts, resolve_model

        memo = self._vec if view == "sentence" else self._layer_vec
        layer = self.model.get("layer")
        todo = list(dict.fromkeys(t for t in texts if t and t not in memo))
        if todo:
            with self._open() as st:
                try:
                    vecs = embed_texts(todo, _CacheOnly(self.model["model_id"], layer), st, view=view)
                except LookupError:
                    if self._embedder is None:
                        self._embedder = Embedder(resolve_model(self.model.get("location") or self.model["name"]),
                                                  layer=layer)
                    vecs = embed_texts(todo, self._embedder, st, view=view)
            memo.update(zip(todo, vecs))
        return memo

    # -- fitting ------------------------------------------------------------------------------------
    def examples(self, states) -> dict[str, tuple[list[CodedExample], list[CodedExample]]]:
        """Coded examples per study: training files, then this coder's decisions."""
        from ..learn import examples_from_decisions, load_training_files, resolve_examples

        if self._train_resolved is None:  # read and resolved once per session
            raw = load_training_files(self.train_paths) if self.train_paths else []
            self._train_resolved = {study: resolve_examples(raw, cb, unknown="warn")[0] if raw else []
                                    for study, cb in self.data.codebooks.items()}
        own = [s for s in states if s.coder == self.coder]
        return {study: (self._train_resolved[study], examples_from_decisions(own, self._text_of, cb, self._doc_of))
                for study, cb in self.data.codebooks.items()}

    def refit(self, states) -> bool:
        """Refit on the current decisions; returns whether the proposals changed."""
        if not self.status.enabled:
            return False
        per_study = self.examples(states)
        key = tuple((s, tuple(ex), tuple(dec)) for s, (ex, dec) in sorted(per_study.items()))
        if key == self._last_key:
            return False
        self._last_key = key
        if (self._tagger is None and self.p.form_weight > 0
                and self.status.learner != "precode.fewshot.v1" and any(dec for _, dec in per_study.values())):
            self._tagger = _tagger(self.spacy_model)
            if not getattr(self._tagger, "loaded", True):
                from ..form import missing_forms

                with self._open() as st:  # the run tagged the segments when it learned: no spaCy needed then
                    if missing_forms([s.text for s in self.data.segments if s.coded], self._tagger, st):
                        _preload_tagger(self.spacy_model)  # ready by the time a code has enough examples
        t = time.perf_counter()
        self._load_seconds = 0.0
        try:
            self._proposals, learned, zero_shot, self_trained = self._fit_and_propose(per_study)
        except (PrecodeError, ValueError, OSError) as err:
            self.status.enabled = False
            self.status.reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            self._proposals = {}
            return True
        self.status.refit_ms = (time.perf_counter() - t - self._load_seconds) * 1000  # without loading the tagger
        self.status.fits += 1
        self.status.examples = sum(len(ex) + len(dec) for ex, dec in per_study.values())
        self.status.decisions = sum(len(dec) for _, dec in per_study.values())
        self.status.learned, self.status.zero_shot = learned, zero_shot
        self.status.self_trained = self_trained
        return True

    def _form_matrices(self, groups: list[list[str]]):
        """Form matrices of the groups of texts (spaCy loaded once, when a text is not yet tagged)."""
        from ..form import form_matrices

        if self._tagger is None:
            self._tagger = _tagger(self.spacy_model)
        was_loaded, t0 = getattr(self._tagger, "loaded", True), time.perf_counter()
        with self._open() as st:
            out = form_matrices(groups, self._tagger, st, memo=self._forms)
        if not was_loaded and self._tagger.loaded:  # spaCy was loaded (or waited for) meanwhile
            self._load_seconds += min(self._tagger.load_seconds, time.perf_counter() - t0)
        return out

    def _fit_and_propose(self, per_study) -> tuple[dict[str, list[LiveProposal]], list[str], list[str], int]:
        from ..learn import make_learner
        from ..propose import category_questions, label_texts, propose_sets, score_segments

        p = self.p
        out: dict[str, list[LiveProposal]] = {}
        learned_all, zero_all = [], []
        self_trained = 0
        for study, cb in self.data.codebooks.items():
            ex, dec = per_study[study]
            examples = ex + dec
            segs = [s for s in self.data.segments if s.study == study and s.coded]
            positives = Counter(code for code, _ in {(e.code, e.text) for e in examples if e.positive})
            if not segs or max(positives.values(), default=0) < p.min_examples:
                # no code can be learned yet: the run's proposals stand (nothing to fit)
                zero_all += [c.path for c in cb.codes]
                continue
            labels = label_texts(cb)
            questions = category_questions(cb)
            use_q = p.use_question and bool(questions)
            texts = [lt.text for lt in labels] + [q for _, q in questions] + [e.text for e in examples]
            texts += [s.text for s in segs] + [s.question for s in segs if s.question and use_q]
            vec = self._vectors(texts)
            proposer = make_learner(p)  # context_weight is 0 here (checked when the learner was made)
            if getattr(proposer, "select_form", False):  # follow the run's choice of views instead of choosing again
                proposer.select_form = False
                proposer.form_weight = self._form_weight.get(study, proposer.form_weight)
            views = learner_views(proposer, [lt.text for lt in labels], [e.text for e in examples], [s.text for s in segs],
                                  lambda texts: vec,
                                  (lambda texts: self._vectors(texts, view="layer")) if self.model.get("layer") else None,
                                  self._form_matrices if any(e.positive for e in examples) else None,
                                  self._vectors)
            qv = np.stack([vec[q] for _, q in questions]) if questions else None
            proposer.fit_views(cb, labels, views, examples, questions, qv)
            seg_forms, seg_layers = views.segments.forms, views.segments.layers
            scores, evidence, cat, _ = score_segments(proposer, segs, vec, use_q, seg_forms if proposer.form_dim_ else None,
                                                      seg_layers=seg_layers if proposer.layer_dim_ else None)
            learned = {cb.codes[i].path for i in np.where(proposer.learned_)[0]}
            self_trained += sum(proposer.pseudo_.values())
            learned_all += sorted(learned)
            zero_all += list(proposer.zero_shot_codes_)
            for sug in propose_sets(p, segs, scores, evidence, proposer, cat):
                out.setdefault(sug.segment_id, []).append(LiveProposal(
                    sug.segment_id, sug.code.guid(cb.name), sug.score, sug.rank, sug.evidence, tuple(sug.flags),
                    sug.code.path in learned))
        return out, learned_all, zero_all, self_trained

    def proposals(self, segment_id: str) -> list[LiveProposal] | None:
        """Live proposals for a segment, or None when the run's proposals stand."""
        return self._proposals.get(segment_id)

    @property
    def active(self) -> bool:
        """Whether live proposals replace the run's (some code learned)."""
        return self.status.enabled and bool(self.status.learned)


__all__ = ["LiveLearner", "LearningStatus", "LiveProposal"]
