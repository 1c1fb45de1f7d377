from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT / "corpora"
CODEBOOKS = ROOT / "configs" / "codebooks"
SHARED = ROOT.parent / "shared"


class BagOfWordsEmbedder:
    """A tiny deterministic stand-in for a sentence encoder: hashed bag of words, L2-normalised.

    Texts sharing words get a positive cosine, so ranking tests have a known answer without a model.
    """

    def __init__(self, dim: int = 4096):
        from pipeline.embed import ResolvedModel

        self.model = ResolvedModel("bow-test", "bow-test", "directory", "0" * 64)
        self.batch_size = 16
        self.dim = dim
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z]+", t.lower()):
                if len(w) > 2:
                    out[i, int(hashlib.md5(w.encode()).hexdigest(), 16) % self.dim] += 1.0
            n = np.linalg.norm(out[i])
            out[i] = out[i] / n if n else out[i]
        return out


class LayeredBagOfWords(BagOfWordsEmbedder):
    """The bag of words with a layer view (``layer`` 1): hashed character trigrams, L2-normalised,
    computed in the same call as the sentence vector, as :meth:`pipeline.embed.Embedder.encode_views`."""

    layer = 1

    def __init__(self, dim: int = 4096):
        super().__init__(dim)
        self.view_calls = 0

    def encode_views(self, texts):
        self.view_calls += 1
        grams = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            t = f"  {t.lower()} "
            for j in range(len(t) - 2):
                grams[i, int(hashlib.md5(t[j:j + 3].encode()).hexdigest(), 16) % self.dim] += 1.0
            grams[i] /= max(np.linalg.norm(grams[i]), 1e-12)
        return BagOfWordsEmbedder.encode(self, texts), grams


@pytest.fixture
def bow():
    return BagOfWordsEmbedder()


@pytest.fixture
def layered_bow():
    return LayeredBagOfWords()


@pytest.fixture
def write(tmp_path):
    """write(name, text_or_bytes, encoding='utf-8') -> Path inside tmp_path."""

    def _write(name: str, content, encoding: str = "utf-8") -> Path:
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_bytes(content.encode(encoding))
        return p

    return _write


# a two-question interview (segments one.txt#t2 and #t4 are the participant's turns)
TRANSCRIPT = ("Interviewer: What would be the greatest barriers?\n"
              "Dana: Nobody knows what the peer role is.\n"
              "Interviewer: What supports would help?\n"
              "Dana: Training for staff and a room to meet.\n")


TINY_CODEBOOK = """
name: tiny
categories:
  - name: Barriers
    questions: ["What are the greatest barriers to peer support in your clinic?"]
    codes:
      - name: Role confusion
        description: nobody knows what the peer role is; unclear job duties
        examples: ["the role of the peer was never defined"]
      - name: Space
        description: no office room space for meetings
  - name: Facilitators
    questions: ["What supports would help peer support succeed?"]
    codes:
      - name: Training
        description: training and education courses for staff
"""


@pytest.fixture
def tiny_codebook(write):
    return write("tiny.yaml", TINY_CODEBOOK)


# -- small projects shared by several test modules ------------------------------------------------------
# the old top-k behaviour (every code scored, two proposals a segment), so a review has proposals to act on
TOP2 = ("propose: {threshold: 0.0, top_k: 2, target_precision: null, proposer: precode.similarity.v2, "
        "learner: precode.fewshot.v4}")

LONG_TURN = " ".join(["Honestly the hardest part is that nobody on the team knows what the peer role is,"] * 12)
# the terminal review's interview: a long last turn to wrap
TUI_TRANSCRIPT = ("Interviewer: What would be the greatest barriers?\n"
                  "Dana: Nobody knows what the peer role is.\n"
                  "Interviewer: What supports would help?\n"
                  "Dana: Training for staff and a room to meet.\n"
                  "Pat: We need an office room.\n"
                  "Interviewer: Anything else about the role?\n"
                  f"Dana: {LONG_TURN}\n")
# the browser review's interview: a character outside the BMP before the spans, and markup to escape
WEB_TRANSCRIPT = ("Interviewer: 🎙 What would be the greatest barriers?\n"
                  "Dana: Nobody knows what the peer role is.\n"
                  "Interviewer: What supports would help?\n"
                  "Dana: Training for staff and a room to meet.\n"
                  "Pat: We need an office <b>room</b> & a key.\n")


def _review_store(write, tiny_codebook, bow, transcript: str) -> Path:
    from pipeline.config import load_config
    from pipeline.run import run_batch

    write("data/one.txt", transcript)
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\nstudies: [{{name: s, inputs: [data/], "
                                          f"codebook: {tiny_codebook}}}]\n{TOP2}\n"))
    run_batch(cfg, embedder=bow)
    return cfg.store_path


@pytest.fixture
def tui_store(write, tiny_codebook, bow) -> Path:
    """The store of a run over :data:`TUI_TRANSCRIPT` (nobody has reviewed yet)."""
    return _review_store(write, tiny_codebook, bow, TUI_TRANSCRIPT)


@pytest.fixture
def web_store(write, tiny_codebook, bow) -> Path:
    """The store of a run over :data:`WEB_TRANSCRIPT` (nobody has reviewed yet)."""
    return _review_store(write, tiny_codebook, bow, WEB_TRANSCRIPT)


PROJECT_A = ("Interviewer: What would be the greatest barriers?\n"
             "Dana: Nobody knows what the peer role is.\n"
             "Interviewer: What supports would help?\n"
             "Dana: Training for staff and a room to meet.\n"
             "Pat: We need an office room for meetings.\n")
PROJECT_B = ("Interviewer: What would be the greatest barriers?\n"
             "Lee: The peer role was never defined.\n"
             "Kim: No room, no office space at all.\n")


@pytest.fixture
def project(tmp_path, write, tiny_codebook, bow):
    """A run over two interviews with roles (PSS, PCP), and two coders (ann, bob) who each added a code to
    every segment; returns the config."""
    from pipeline.config import load_config
    from pipeline.project import load_project
    from pipeline.review.core import ReviewSession
    from pipeline.run import run_batch

    write("data/a.txt", PROJECT_A)
    write("data/b.txt", PROJECT_B)
    cfg = load_config(write("study.yaml", f"""
project: {{output_dir: out}}
studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}, roles: {{'*': {{Dana: PSS, Lee: PSS, Pat: PCP, Kim: PCP}}}}}}]
{TOP2}
"""))
    run_batch(cfg, embedder=bow)
    guid = {c.path: c.guid("tiny") for c in load_project(cfg.store_path).books["tiny"].codes}
    for coder, choices in {"ann": ["Barriers/Role confusion", "Facilitators/Training", "Barriers/Space",
                                   "Barriers/Role confusion", "Barriers/Space"],
                           "bob": ["Barriers/Role confusion", "Barriers/Space", "Barriers/Space",
                                   "Barriers/Role confusion", "Barriers/Space"]}.items():
        s = ReviewSession(cfg.store_path, coder)
        for item, path in zip(s.items, choices):
            s.add(item, guid[path])
        s.close()
    return cfg


# descriptions that point the wrong way: "Cost" is described with training words and vice versa
MISLEADING = """
name: misleading
categories:
  - name: Barriers
    codes:
      - name: Cost
        description: staff training courses education workshops
      - name: Training
        description: money budget funding expensive salary
  - name: Other
    codes:
      - name: Space
        description: office room space building desk
"""


def decisions(store_path, coder="ann"):
    """A coder's decisions in a store, oldest first."""
    from pipeline.decisions import load
    from pipeline.store import Store

    with Store(store_path) as st:
        return load(st, coder)


def spawn(store_path, coder="ann"):
    """`precode review STORE --coder CODER` in a real terminal (pexpect), 100 x 30."""
    import sys

    import pexpect

    env = dict(os.environ, TERM="xterm-256color")
    return pexpect.spawn(sys.executable, ["-m", "pipeline.cli", "review", str(store_path), "--coder", coder],
                         cwd=str(ROOT), env=env, dimensions=(30, 100), encoding="utf-8", timeout=10)


# -- the review web page ------------------------------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")  # Debian's, driven by Playwright (which never downloads a browser)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BASE = "http://127.0.0.1:8765"
SAME_ORIGIN = {"origin": BASE}


def client(app, **kw):
    """A Starlette TestClient on the review app at :data:`BASE`, redirects not followed."""
    from starlette.testclient import TestClient

    return TestClient(app, base_url=BASE, follow_redirects=False, **kw)


def signed_in(c, token: str):
    """``c`` after spending the one-time ``token`` (the session cookie set)."""
    r = c.get(f"/?token={token}")
    assert r.status_code == 303 and r.headers["location"] == "/"
    return c
