from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import queue
import random
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from pipeline.ingest.text import parse_transcript
from pipeline.records import Document, text_sha

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


def playwright_or_skip():
    """Playwright's sync API, or skip the test when it or Debian's Chromium is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium)")
    return sync_api


@contextlib.contextmanager
def served(store_path, coder: str = "ann", **kw):
    """`precode serve` for ``coder`` on a free port in a thread: yields its URL; on exit it is stopped, and
    the test fails if it did not stop or raised."""
    from pipeline.review.web import serve

    urls: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    failure: list[BaseException] = []

    def run():
        try:
            serve(store_path, port=0, coder=coder, on_ready=urls.put, stop=stop, **kw)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            failure.append(e)
            urls.put("")

    server = threading.Thread(target=run, name="precode-serve-test", daemon=True)
    server.start()
    try:
        url = urls.get(timeout=30)
        assert url, failure
        yield url
    finally:
        stop.set()
        server.join(timeout=15)
    assert not server.is_alive(), "the server thread did not stop"
    assert not failure, failure


@contextlib.contextmanager
def chromium_page(sync_api, **page_kw):
    """A page in Debian's Chromium (headless, through Playwright): yields the page and the list the
    page's uncaught script errors go to."""
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(**page_kw)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page, errors
        finally:
            browser.close()


def client(app, **kw):
    """A Starlette TestClient on the review app at :data:`BASE`, redirects not followed."""
    from starlette.testclient import TestClient

    return TestClient(app, base_url=BASE, follow_redirects=False, **kw)


def signed_in(c, token: str):
    """``c`` after spending the one-time ``token`` (the session cookie set)."""
    r = c.get(f"/?token={token}")
    assert r.status_code == 303 and r.headers["location"] == "/"
    return c


# -- the discovery corpus (tests/test_discover.py, tests/test_review_web_discovery.py) --------------------
DISCOVERY_THEMES = {
    "transport": ["the bus to the clinic", "bus route changes", "the ride takes hours", "missed the bus again",
                  "transport vouchers ran out", "no car and the train station is far", "the bus driver"],
    "pay": ["the pay is low", "my salary barely covers rent", "a second job on weekends", "no raise in years",
            "the wage for peers", "paycheck stretched thin", "salary and benefits"],
    "food": ["lunch in the cafeteria", "the food is cold", "kitchen closes early", "cafeteria menu never changes",
             "eating lunch at my desk", "the vending machine food", "soup and sandwiches"],
    "training": ["training courses for staff", "education and training sessions", "staff training courses",
                 "training and education for new staff", "courses on education for staff"],
}
DISCOVERY_PEOPLE = {"Interviewer": "interviewer", "Dana Whitfield": "peer specialist", "Pat": "peer specialist",
          "Alex": "supervisor", "Samir": "nurse"}
DISCOVERY_CODEBOOK = """
name: mini
categories:
  - name: Facilitators
    codes:
      - name: Training
        description: training courses and education for staff
      - name: Parking
        description: parking garage permits
"""


def discovery_corpus(folder: Path) -> None:
    """8 focus groups, 25 participant turns each, from four clearly distinct themes (one the codebook covers)."""
    rng = random.Random(7)
    speakers = [p for p in DISCOVERY_PEOPLE if p != "Interviewer"]
    names = ["Dana", "Pat", "Alex", "Samir"]
    for d in range(8):
        lines = []
        for t in range(25):
            theme = list(DISCOVERY_THEMES)[(d * 25 + t) % 4]
            phrases = rng.sample(DISCOVERY_THEMES[theme], 3)
            text = ", ".join(phrases)
            if rng.random() < 0.5:
                text = rng.choice(["Um, ", "Yeah, you know, ", "Uh, I mean, "]) + text
            if rng.random() < 0.3:
                text += f", like {rng.choice(names)} said"
            lines.append(f"Interviewer: Tell me about question {t}?")
            lines.append(f"{rng.choice(speakers)}: {text[0].upper() + text[1:]}.")
        (folder / f"group{d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


# -- REFI-QDA (tests/test_refi*.py) ------------------------------------------------------------------------
SHARED_SCHEMAS = ROOT.parent / "shared" / "standards" / "refi-qda"
# ../shared when present (the published files), else the copy shipped in the package
SCHEMAS = SHARED_SCHEMAS if SHARED_SCHEMAS.exists() else ROOT / "pipeline" / "refi" / "schemas"


@functools.lru_cache(maxsize=None)
def refi_schema(name: str):
    """The REFI-QDA XML schema ``name`` (skips without xmlschema or the schema files)."""
    xmlschema = pytest.importorskip("xmlschema", reason="xmlschema is needed to validate against the REFI schemas")
    path = SCHEMAS / name
    if not path.exists():
        pytest.skip(f"REFI-QDA schema not found at {path} (the shared standards folder is absent)")
    text = path.read_text(encoding="utf-8")
    # Codebook.xsd as published writes its GUID and RGB patterns with U+2010 HYPHENs, so `[0‐9a‐f]` is a
    # set of literal characters and no real GUID validates; mend that in memory (see test_codebook_xsd_defect).
    return xmlschema.XMLSchema(text.replace("\u2010", "-"), base_url=str(SCHEMAS))


def refi_doc(doc_id: str, text: str) -> Document:
    """A transcript document as ingest reads it."""
    return Document(doc_id, f"{doc_id}.txt", "text", text_sha(text), text, parse_transcript(text)[0])


def span_of(text: str, piece: str) -> tuple[int, int]:
    """Where ``piece`` first stands in ``text``."""
    i = text.index(piece)
    return i, i + len(piece)


def demo_project(tmp_path: Path, embedder):
    """The demo project run with ``embedder``: (its config, its data)."""
    import shutil

    from pipeline.config import load_config
    from pipeline.project import load_project
    from pipeline.run import run_batch

    shutil.copytree(ROOT / "corpora", tmp_path / "corpora")
    shutil.copytree(ROOT / "configs", tmp_path / "configs")
    demo = tmp_path / "configs" / "demo.yaml"
    # the bag-of-words stand-in is not calibrated: propose the top 3 of every segment (old top-k behaviour)
    demo.write_text(demo.read_text().replace("propose:\n", "propose:\n  threshold: 0.0\n  learner: precode.fewshot.v4\n", 1)
                    .replace("proposer: precode.similarity.v3", "proposer: precode.similarity.v2")
                    .replace("target_precision: 0.6", "target_precision: null"))
    cfg = load_config(demo)
    run_batch(cfg, embedder=embedder)
    return cfg, load_project(cfg.store_path)
