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
