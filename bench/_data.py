"""Loaders for the shared benchmark data (ESConv, AnnoMI), read in place, never copied.

The data live outside the repository, in ``../shared/benchmarks/`` next to the work tree
(``Path(__file__).resolve().parents[2] / "shared" / "benchmarks"``); ``PRECODE_BENCH_DATA``
points elsewhere. Every loader returns plain records: conversations of ordered turns, each turn
with a speaker, its text and (for the turns that are coded) the human label.
"""

from __future__ import annotations

import csv
import json
import os
import random
from dataclasses import dataclass, field
from pathlib import Path


def data_dir() -> Path:
    env = os.environ.get("PRECODE_BENCH_DATA")
    return Path(env).expanduser() if env else Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


@dataclass
class BenchTurn:
    id: str  # unique across the data set
    speaker: str
    text: str
    label: str | None  # human label, None for turns of the other speaker


@dataclass
class Conversation:
    id: str
    turns: list[BenchTurn] = field(default_factory=list)


@dataclass
class Task:
    """One coding task: which speaker's turns are coded, against which codes."""

    name: str  # e.g. "esconv", "annomi-therapist"
    codebook_name: str
    codes: dict[str, str]  # code name -> definition, in codebook order
    code_speaker: str
    catch_all: str  # the code that means "none of the others" (target of uncoded segments)
    conversations: list[Conversation]
    source: str = ""

    def labelled(self) -> list[BenchTurn]:
        return [t for c in self.conversations for t in c.turns if t.speaker == self.code_speaker and t.label]


def _check(path: Path) -> Path:
    if not path.is_file():
        raise SystemExit(f"benchmark data not found: {path}\n(set PRECODE_BENCH_DATA to the folder holding esconv/ and annomi/)")
    return path


def load_esconv(base: Path | None = None) -> Task:
    base = base or data_dir()
    cb = json.loads(_check(base / "esconv" / "codebook.json").read_text(encoding="utf-8"))
    aliases = cb.get("label_aliases", {})
    dialogs = json.loads(_check(base / "esconv" / "dialogs_dev.json").read_text(encoding="utf-8"))
    convs = []
    for d in dialogs:
        conv = Conversation(str(d["dialog_id"]))
        for t in d["turns"]:
            label = t.get("strategy") if t["speaker"] == "supporter" else None
            label = aliases.get(label, label) if label else None
            if label is not None and label not in cb["codes"]:
                raise ValueError(f"ESConv label '{label}' is not in the codebook")
            conv.turns.append(BenchTurn(f"{conv.id}_t{t['turn']}", t["speaker"], t["text"], label))
        convs.append(conv)
    return Task("esconv", cb["name"], dict(cb["codes"]), "supporter", "Others", convs, cb.get("source", ""))


def load_annomi(base: Path | None = None) -> tuple[Task, Task]:
    """(therapist task, client task); both hold every utterance of every transcript."""
    base = base or data_dir()
    cb = json.loads(_check(base / "annomi" / "codebook.json").read_text(encoding="utf-8"))
    with _check(base / "annomi" / "annomi_simple.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    by_tid: dict[str, list[dict]] = {}
    for r in rows:
        by_tid.setdefault(r["transcript_id"], []).append(r)
    convs = []
    for tid in sorted(by_tid, key=int):
        conv = Conversation(f"annomi_{tid}")
        for r in sorted(by_tid[tid], key=lambda r: int(r["utterance_id"])):
            who = r["interlocutor"]
            col = "main_therapist_behaviour" if who == "therapist" else "client_talk_type"
            label = r[col] if r[col] and r[col] != "n/a" else None
            conv.turns.append(BenchTurn(f"{conv.id}_u{r['utterance_id']}", who, r["utterance_text"], label))
        convs.append(conv)
    codes = cb["codes"]
    for who, codes_of in codes.items():
        bad = {t.label for c in convs for t in c.turns if t.speaker == who and t.label and t.label not in codes_of}
        if bad:
            raise ValueError(f"AnnoMI {who} labels not in the codebook: {sorted(bad)}")
    src = cb.get("source", "")
    return (Task("annomi-therapist", cb["name"] + " (therapist)", dict(codes["therapist"]), "therapist", "other", convs, src),
            Task("annomi-client", cb["name"] + " (client)", dict(codes["client"]), "client", "neutral", convs, src))


def split_conversations(conversations: list[Conversation], seed: int = 0, test_fraction: float = 0.5) -> tuple[set[str], set[str]]:
    """(train ids, test ids): a seeded shuffle of whole conversations, so no conversation is in both."""
    ids = sorted(c.id for c in conversations)
    random.Random(seed).shuffle(ids)
    n_test = round(len(ids) * test_fraction)
    return set(ids[n_test:]), set(ids[:n_test])


def subsample(conversations: list[Conversation], n: int, seed: int = 0) -> list[Conversation]:
    """A deterministic subset of ``n`` whole conversations (kept in their original order)."""
    if n >= len(conversations):
        return conversations
    keep = set(random.Random(seed).sample(sorted(c.id for c in conversations), n))
    return [c for c in conversations if c.id in keep]


class WordVectors:
    """Single words embedded by the benchmarks' model through the embedding cache, each once
    (precode.fewshot.v7+ compares a segment's words with the code names' words). The model and the
    cache are opened on the first call."""

    def __init__(self, cache: Path | None, model: str):
        self.cache, self.model, self.memo = cache, model, None

    def __call__(self, words: list[str]) -> dict:
        if self.memo is None:
            from pipeline.embed import Embedder, VectorMemo, resolve_model
            from pipeline.store import Store

            self.memo = VectorMemo(Embedder(resolve_model(self.model), 64), Store(self.cache).open() if self.cache else None)
        return self.memo(words)
