"""Every reader, fed random and broken bytes, either reads a consistent document or says why in one line.

The default run tries a few dozen inputs per reader; `pytest -m fuzz` runs the long, bounded session
(PRECODE_FUZZ_EXAMPLES, default 400 per reader).
"""

from __future__ import annotations

import io
import os
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.ingest import read_document

from .conftest import CORPORA

SUFFIXES = [".txt", ".vtt", ".srt", ".csv", ".docx", ".xlsx"]
LONG = int(os.environ.get("PRECODE_FUZZ_EXAMPLES", "400"))


def _check(path):
    try:
        doc = read_document(path)
    except InputError as e:
        assert "\n" not in str(e) and str(e).startswith(str(path))
        return
    for t in doc.turns:
        assert doc.text[t.start : t.end] == t.text


def _samples():
    return {p.suffix: p.read_bytes() for p in sorted(CORPORA.iterdir()) if p.suffix in SUFFIXES}


SAMPLES = _samples()
text_like = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=2000).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.lists(st.sampled_from(["WEBVTT", "\n", "\r\n", "00:00:01.000 --> 00:00:02.000", "Ann: hi", "<v Bo>x</v>", "1",
                              "00:00:01,000 --> 00:00:0", "id,speaker,text", "\x00", "NOTE", "a" * 5000, ",\"", "[00:01] X:"]),
             max_size=60).map(lambda parts: "".join(parts).encode("utf-8")),
)


def mutate(data: bytes, cut: int, flips: list[tuple[int, int]]) -> bytes:
    b = bytearray(data[: max(1, cut % (len(data) + 1))])
    for pos, val in flips:
        if b:
            b[pos % len(b)] = val
    return bytes(b)


mutation = st.tuples(st.integers(0, 10**6), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8))


def _run(tmp_path_factory, suffix, data):
    p = tmp_path_factory.mktemp("fz") / f"f{suffix}"
    p.write_bytes(data)
    _check(p)


@pytest.mark.parametrize("suffix", SUFFIXES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=text_like, mut=mutation)
def test_fuzz_readers_smoke(tmp_path_factory, suffix, data, mut):
    _run(tmp_path_factory, suffix, data)
    _run(tmp_path_factory, suffix, mutate(SAMPLES[suffix], *mut))


@pytest.mark.fuzz
@pytest.mark.parametrize("suffix", SUFFIXES)
@settings(max_examples=LONG, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=text_like, mut=mutation)
def test_fuzz_readers_long(tmp_path_factory, suffix, data, mut):
    _run(tmp_path_factory, suffix, data)
    _run(tmp_path_factory, suffix, mutate(SAMPLES[suffix], *mut))


def test_fuzz_hostile_shapes(write):
    """Huge lines, NUL bytes, mixed line endings, deeply nested XML in a docx."""
    _check(write("huge.txt", "Ann: " + "word " * 400_000))
    _check(write("nul.txt", b"Ann: hi\x00there\n"))
    _check(write("mixed.txt", b"Ann: one\r\nBo: two\rAnn: three\nBo: four\n"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<a>" * 50_000 + "</a>" * 50_000)
    _check(write("nested.docx", buf.getvalue()))
