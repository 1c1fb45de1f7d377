"""Hostile inputs: zip bombs in .docx/.xlsx, DTDs in Office parts, very long segments.

The fast tests build small bombs against small limits; the slow one builds the sizes of issue 15
(an .xlsx of ~200 KB unzipping to one 200 MB cell, a .docx unzipping to 105 M characters, a 50 MB
single-line .txt), runs a real batch in a child process and records its peak memory in
bench/results/hostile.md.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.ingest import read_document
from pipeline.safety import ZipLimits, open_container

from .conftest import BagOfWordsEmbedder

PLACEHOLDER = "PLACEHOLDERTEXT"
INTERVIEW = "Interviewer: What are the barriers?\nAnn: Nobody knows what the peer role is, so training helps.\n"


def office_file(kind: str) -> bytes:
    """A small valid .docx or .xlsx whose text is PLACEHOLDER."""
    buf = io.BytesIO()
    if kind == "docx":
        import docx

        d = docx.Document()
        d.add_paragraph(f"Ann: {PLACEHOLDER}")
        d.save(buf)
    else:
        from openpyxl import Workbook

        wb = Workbook()
        wb.active.append(["speaker", "text"])
        wb.active.append(["Ann", PLACEHOLDER])
        wb.save(buf)
    return buf.getvalue()


def inflate(data: bytes, dst: Path, chars: int, fill: bytes = b"a", members: int = 0, prolog: bytes = b"") -> Path:
    """Rewrite an Office file: PLACEHOLDER becomes ``chars`` characters of ``fill`` repeated (streamed, so 200 MB costs
    no memory), ``members`` empty extra members are added, ``prolog`` goes before every XML root."""
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            if prolog and info.filename.endswith(".xml") and body.startswith(b"<?xml"):
                decl_end = body.index(b"?>") + 2
                body = body[:decl_end] + prolog + body[decl_end:]
            if PLACEHOLDER.encode() not in body:
                zout.writestr(info.filename, body)
                continue
            head, tail = body.split(PLACEHOLDER.encode(), 1)
            with zout.open(info.filename, "w", force_zip64=True) as out:
                out.write(head)
                block = (fill * ((1 << 20) // len(fill) + 1))[: 1 << 20]
                left = chars
                while left > 0:
                    out.write(block[: min(left, len(block))])
                    left -= len(block)
                out.write(tail)
        for i in range(members):
            zout.writestr(f"extra/item{i}.xml", b"<a/>")
    return dst


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_a_ratio_bomb_is_refused_from_the_header(tmp_path, kind, monkeypatch):
    path = inflate(office_file(kind), tmp_path / f"bomb.{kind}", 3 * 1024 * 1024)
    assert path.stat().st_size < 60_000
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, mode="r", *a, **k: (
        opened.append(getattr(name, "filename", name)) if mode == "r" else None) or real_open(self, name, mode, *a, **k))
    with pytest.raises(InputError, match=r"would expand [\d,]+:1 \(limit 100:1\): a zip bomb\? refused") as err:
        read_document(path)
    assert "\n" not in str(err.value) and str(err.value).startswith(str(path))
    big = "word/document.xml" if kind == "docx" else "xl/sharedStrings.xml"
    assert big not in opened  # refused before decompressing the bomb


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_total_size_and_member_count_are_capped(tmp_path, kind):
    random_text = (b"abcdefghij klmnopqrstuvwxyz " * 40_000)[: 600_000]
    path = inflate(office_file(kind), tmp_path / f"big.{kind}", len(random_text), fill=random_text)
    read_document(path)  # under the default limits: read
    with pytest.raises(InputError, match=r"would unzip to .* over the limit of 0.25 MB \(limits.max_unzipped_mb\)"):
        read_document(path, zip_limits=ZipLimits(max_member_mb=0.25, max_total_mb=0.25))
    many = inflate(office_file(kind), tmp_path / f"many.{kind}", 10, members=60)
    read_document(many)
    with pytest.raises(InputError, match=r"lists \d+ members \(limit 50\); refused"):
        read_document(many, zip_limits=ZipLimits(max_members=50))


@pytest.mark.parametrize("kind", ["docx", "xlsx"])
def test_an_office_part_with_a_dtd_is_refused(tmp_path, kind):
    """Entities in a Word part used to drop the text after them silently: an Office part never has a DTD."""
    prolog = b'<!DOCTYPE w [<!ENTITY who "Ann">]>'
    path = inflate(office_file(kind), tmp_path / f"dtd.{kind}", 10, prolog=prolog)
    with pytest.raises(InputError, match=rf"declares a DTD or entities, which .{kind} files never contain"):
        read_document(path)
    comment = inflate(office_file(kind), tmp_path / f"c.{kind}", 10, prolog=b"<!-- x -->")
    assert read_document(comment).turns


def test_pictures_are_never_decompressed_nor_counted(tmp_path, monkeypatch):
    """A transcript with large photos reads under a small limit: media members stay compressed and unread."""
    import os

    import docx
    from PIL import Image

    img = tmp_path / "photo.png"
    Image.frombytes("RGB", (1000, 1000), os.urandom(1000 * 1000 * 3)).save(img)  # 3 MB, incompressible
    d = docx.Document()
    d.add_paragraph("Ann: the photo shows the clinic room.")
    d.add_picture(str(img))
    d.add_paragraph("Bo: and the waiting area.")
    buf = io.BytesIO()
    d.save(buf)
    path = tmp_path / "photos.docx"
    path.write_bytes(buf.getvalue())
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, mode="r", *a, **k):
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name) if mode == "r" else None
        if info is not None and info.file_size:  # the rebuilt archive's media members are empty
            opened.append(info.filename)
        return real_open(self, name, mode, *a, **k)
    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    assert path.stat().st_size > 2_500_000
    doc = read_document(path, zip_limits=ZipLimits(max_member_mb=2, max_total_mb=2))
    assert [t.speaker for t in doc.turns] == ["Ann", "Bo"]
    assert not any("media/" in n for n in opened)


def test_every_member_passes_the_caps_before_the_office_reader(tmp_path):
    """python-docx / openpyxl read a rebuilt archive, never the file itself."""
    data = office_file("docx")
    rebuilt = open_container(data, tmp_path / "x.docx")
    with zipfile.ZipFile(rebuilt) as zf, zipfile.ZipFile(io.BytesIO(data)) as orig:
        assert sorted(zf.namelist()) == sorted(orig.namelist())
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def _batch(tmp_path, files: dict[str, bytes | Path], embedder=None, **limits):
    from pipeline.config import config_from_dict
    from pipeline.run import run_batch

    from .conftest import TINY_CODEBOOK

    inp = tmp_path / "in"
    inp.mkdir(exist_ok=True)
    for name, content in files.items():
        (inp / name).write_bytes(content.read_bytes() if isinstance(content, Path) else content)
    (tmp_path / "tiny.yaml").write_text(TINY_CODEBOOK)
    cfg = config_from_dict({"project": {"output_dir": str(tmp_path / "out")},
                            "studies": [{"name": "s", "inputs": [str(inp)], "codebook": str(tmp_path / "tiny.yaml")}],
                            "limits": limits}, base_dir=tmp_path)
    return run_batch(cfg, embedder=embedder or BagOfWordsEmbedder())


def test_a_batch_skips_each_bomb_with_one_line_and_codes_the_rest(tmp_path):
    docx_bomb = inflate(office_file("docx"), tmp_path / "b.docx", 3 * 1024 * 1024)
    xlsx_bomb = inflate(office_file("xlsx"), tmp_path / "b.xlsx", 3 * 1024 * 1024)
    res = _batch(tmp_path, {"bomb.docx": docx_bomb, "bomb.xlsx": xlsx_bomb, "good.txt": INTERVIEW.encode()})
    assert [d.id for d in res.documents] == ["good.txt"]
    assert len(res.errors) == 2 and all("\n" not in e and "zip bomb" in e for e in res.errors)
    assert res.suggestions


def test_config_limits_reach_the_zip_reader(tmp_path):
    random_text = (b"abcdefghij klmnopqrstuvwxyz " * 40_000)[: 600_000]
    big = inflate(office_file("docx"), tmp_path / "big.docx", len(random_text), fill=random_text)
    res = _batch(tmp_path, {"big.docx": big, "good.txt": INTERVIEW.encode()}, max_unzipped_mb=0.25)
    assert len(res.errors) == 1 and "limits.max_unzipped_mb" in res.errors[0]


class _Recorder:
    """A loaded sentence-transformers stand-in that records what reaches the tokenizer."""

    max_seq_length = 256

    def __init__(self):
        self.seen: list[int] = []

    def encode(self, texts, **kw):
        import numpy as np

        self.seen += [len(t) for t in texts]
        return np.ones((len(texts), 4), dtype=np.float32)


def test_long_texts_are_cut_before_the_tokenizer():
    from pipeline.embed import CHARS_PER_PIECE, Embedder, resolve_model

    emb = Embedder(resolve_model("all-MiniLM-L6-v2"))
    emb._st = _Recorder()
    emb.encode(["short", "x " * 5_000_000])
    assert emb._st.seen == [5, 256 * CHARS_PER_PIECE]


def test_overlong_counts_word_pieces_with_the_models_tokenizer():
    from pipeline.embed import Embedder, resolve_model

    emb = Embedder(resolve_model("all-MiniLM-L6-v2"))
    texts = ["the peer role is unclear " * 8, "the peer role is unclear " * 60, "a" * 200, "word " * 10_000_000]
    assert emb.overlong(texts) == [False, True, False, True]
    assert emb._st is None  # the tokenizer alone, not the model


def test_proposals_of_overlong_segments_are_flagged_truncated(tmp_path):
    from pipeline.embed import Embedder, resolve_model

    real = Embedder(resolve_model("all-MiniLM-L6-v2"))

    class Counting(BagOfWordsEmbedder):
        def overlong(self, texts):
            return real.overlong(texts)

    long_turn = "Ann: " + "Nobody knows what the peer role is and the training never came. " * 200 + "\n"
    res = _batch(tmp_path, {"a.txt": (INTERVIEW + long_turn).encode()}, embedder=Counting())
    flagged = {s.segment_id for s in res.suggestions if "truncated" in s.flags}
    long_ids = {s.id for s in res.segments if len(s.text) > 5000}
    assert long_ids and flagged == long_ids
    assert any("longer than the encoder reads" in w for w in res.warnings)


def test_sentence_unit_splits_a_turn_longer_than_spacy_takes():
    from pipeline.segment import _chunks

    text = ("word " * 70_000) + "x" * 150_000
    spans = _chunks(text, 100_000)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(e - s <= 100_000 for s, e in spans)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert text[spans[0][1]] == " "  # cut at white space where there is some


# -- the sizes of issue 15, in a child process (peak memory) --------------------------------------

CHILD = r"""
import json, resource, sys, time
from pipeline.config import load_config
from pipeline.run import run_batch
t = time.time()
res = run_batch(load_config(sys.argv[1]))
print(json.dumps({"errors": res.errors, "documents": [d.id for d in res.documents],
                  "flags": sorted({f for s in res.suggestions for f in s.flags}),
                  "seconds": round(time.time() - t, 1),
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


@pytest.mark.slow
def test_issue_sizes_each_skipped_or_cut_and_peak_memory_under_2gb(tmp_path):
    import json
    import os
    import subprocess
    import sys

    from .conftest import ROOT, TINY_CODEBOOK

    inp = tmp_path / "in"
    inp.mkdir()
    inflate(office_file("xlsx"), inp / "cell_bomb.xlsx", 200 * 1024 * 1024)
    inflate(office_file("docx"), inp / "text_bomb.docx", 105 * 1000 * 1000)
    with (inp / "one_line.txt").open("wb") as fh:
        for _ in range(49):
            fh.write(b"Nobody knows what the peer role is and training never came. " * 17_000)
    (inp / "good.txt").write_text(INTERVIEW)
    sizes = {p.name: p.stat().st_size for p in sorted(inp.iterdir())}
    (tmp_path / "tiny.yaml").write_text(TINY_CODEBOOK)
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps({"project": {"output_dir": str(tmp_path / "out")},
                               "studies": [{"name": "s", "inputs": [str(inp)], "codebook": str(tmp_path / "tiny.yaml")}]}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(cfg)], capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert sorted(got["documents"]) == ["good.txt", "one_line.txt"]
    assert len(got["errors"]) == 2 and all("zip bomb" in e or "over the limit" in e for e in got["errors"])
    assert "truncated" in got["flags"]
    assert got["peak_mb"] < 2048
    lines = ["# Hostile inputs: peak memory of one batch", "",
             "`PYTHONPATH=$PWD .venv/bin/python -m pytest -q -m slow tests/test_hostile.py` "
             "(a real run, all-MiniLM-L6-v2 on CPU, in a child process; peak = ru_maxrss).", "",
             "| file | bytes on disk | outcome |", "|---|---|---|"]
    for name, size in sizes.items():
        line = next((e.split(": ", 1)[1] for e in got["errors"] if name in e), "read and coded")
        lines.append(f"| {name} | {size:,} | {line} |")
    lines += ["", f"Peak memory of the batch: **{got['peak_mb']:,} MB** (goal < 2,048 MB); "
              f"{got['seconds']} s; flags seen: {', '.join(got['flags'])}.",
              "Before (issue 15): the .xlsx reached 5.8 GB, the .docx 6.7 GB and the .txt 6.2 GB, each ending in SIGABRT "
              "in the tokenizer and taking the batch with it.", ""]
    target = ROOT / "bench" / "results" / "hostile.md"
    before = target.read_text(encoding="utf-8") if target.exists() else ""
    rest = before[before.index("\n## "):] if "\n## " in before else ""  # later sections (the long .docx) stay
    target.write_text("\n".join(lines).rstrip("\n") + "\n" + rest, encoding="utf-8")


# -- symbolic links ------------------------------------------------------------------------------

def _linked_folder(tmp_path):
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.txt").write_text("Interviewer: x?\nZed: SECRETWORD one of the passwords\n")
    (outside / "sub").mkdir()
    (outside / "sub" / "more.txt").write_text("Interviewer: x?\nZed: SECRETWORD another\n")
    inp = tmp_path / "in"
    inp.mkdir()
    (inp / "good.txt").write_text(INTERVIEW)
    (inp / "alias.txt").symlink_to(inp / "good.txt")  # stays inside: read (once)
    (inp / "leak.txt").symlink_to(outside / "secret.txt")
    (inp / "linked_dir").symlink_to(outside / "sub", target_is_directory=True)
    return inp


def _run(tmp_path, inputs, **limits):
    from pipeline.config import config_from_dict
    from pipeline.run import run_batch

    from .conftest import TINY_CODEBOOK

    (tmp_path / "tiny.yaml").write_text(TINY_CODEBOOK)
    cfg = config_from_dict({"project": {"output_dir": str(tmp_path / "out")},
                            "studies": [{"name": "s", "inputs": inputs, "codebook": str(tmp_path / "tiny.yaml")}],
                            "limits": limits}, base_dir=tmp_path)
    return run_batch(cfg, embedder=BagOfWordsEmbedder())


def test_symlinks_leaving_the_input_folder_are_refused(tmp_path):
    inp = _linked_folder(tmp_path)
    for inputs in ([str(inp)], [str(inp / "*.txt")], ["in/**/*.txt"]):
        res = _run(tmp_path, inputs)
        assert len(res.documents) == 1 and res.documents[0].id in ("good.txt", "alias.txt")  # the same file, once
        refused = [e for e in res.errors if "symbolic link that leads outside the input folder" in e]
        assert any("leak.txt" in e for e in refused) and all("\n" not in e for e in refused)
        if "**" in inputs[0]:  # glob descends into the linked folder; its file is refused too
            assert any("more.txt" in e for e in refused)
        assert "SECRETWORD" not in res.outputs["csv"].read_text()


def test_an_option_allows_symlinks_out(tmp_path):
    _linked_folder(tmp_path)
    res = _run(tmp_path, ["in/**/*.txt"], allow_outside_symlinks=True)
    assert {"leak.txt", "more.txt"} <= {d.id for d in res.documents}
    assert "SECRETWORD" in res.outputs["csv"].read_text() and not res.errors


# -- a long Word document -------------------------------------------------------------------------

def test_paragraph_text_matches_python_docx(tmp_path):
    """The compiled-XPath paragraph text is python-docx's, on the demo files and on tabs, breaks,
    no-break hyphens and hyperlinks."""
    import docx
    from docx.oxml import parse_xml

    from pipeline.ingest.docx import paragraph_text

    from .conftest import CORPORA

    d = docx.Document()
    p = d.add_paragraph("Ann:\tfirst")
    p.add_run(" line").add_break()
    p.add_run("second\tpart")
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    p._p.append(parse_xml(f'<w:hyperlink {w}><w:r><w:t xml:space="preserve"> a link </w:t></w:r><w:r><w:t>two</w:t></w:r></w:hyperlink>'))
    p._p.append(parse_xml(f'<w:r {w}><w:t>re</w:t><w:noBreakHyphen/><w:t>entry</w:t><w:cr/><w:ptab/></w:r>'))
    buf = io.BytesIO()
    d.save(buf)
    docs = [docx.Document(io.BytesIO(buf.getvalue()))] + [docx.Document(str(f)) for f in sorted(CORPORA.glob("*.docx"))]
    paragraphs = [p for doc in docs for p in doc.paragraphs]
    assert len(paragraphs) > 20 and any("\t" in p.text and "two" in p.text for p in paragraphs)
    assert [paragraph_text(p._p) for p in paragraphs] == [p.text for p in paragraphs]


@pytest.mark.slow
def test_a_word_document_of_a_million_paragraphs_is_read_in_bounded_time(tmp_path):
    import random
    import time

    random.seed(0)
    words = ["".join(random.choice("abcdefghijklmnop") for _ in range(6)) for _ in range(5000)]
    paras = "".join(f"<w:p><w:r><w:t>Ann: {' '.join(random.choices(words, k=4))}</w:t></w:r></w:p>"
                    for _ in range(1_000_000))
    src = zipfile.ZipFile(io.BytesIO(office_file("docx")))
    path = tmp_path / "long.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "word/document.xml":
                body = body.replace(b"<w:body>", b"<w:body>" + paras.encode(), 1)
            z.writestr(info.filename, body)
    t = time.perf_counter()
    doc = read_document(path)
    seconds = time.perf_counter() - t
    assert len(doc.turns) == 1_000_001
    print(f"read {len(doc.turns):,} turns in {seconds:.1f} s")
    assert seconds < 90, seconds
