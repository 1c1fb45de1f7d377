"""The HTML report is rendered from Jinja2 templates shipped as package data, with autoescaping on."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from importlib import resources

from pipeline.config import load_config
from pipeline.run import run_batch

from .conftest import ROOT

TEMPLATES = {"pipeline.export": ["templates/report.html.j2", "templates/report_macros.html.j2", "templates/report.css"],
             "pipeline.review.web": ["templates/discovery.html.j2", "static/discovery.js", "static/discovery.css", "static/index.html"]}


def test_templates_are_found_as_package_resources():
    for package, names in TEMPLATES.items():
        for name in names:
            assert resources.files(package).joinpath(name).is_file(), f"{package}: {name}"
    from pipeline.export.report import environment

    env = environment()
    assert env.autoescape is True or env.autoescape(None)
    assert set(env.list_templates()) >= {"report.html.j2", "report_macros.html.j2", "report.css"}


def test_every_value_on_the_page_is_escaped(tmp_path, write, tiny_codebook, bow):
    from pipeline.export.report import build_report
    from pipeline.project import load_project
    from pipeline.review.core import ReviewSession

    write("data/a<b>.txt", "Interviewer: What would be the greatest barriers?\n"
                           "Dana: <img src=x onerror=alert(1)> Nobody knows <script>alert('role')</script> the peer role.\n")
    cfg = load_config(write("study.yaml", f"project: {{output_dir: out}}\n"
                                          f"studies: [{{name: s, inputs: [data/], codebook: {tiny_codebook}}}]\n"))
    run_batch(cfg, embedder=bow)
    s = ReviewSession(cfg.store_path, "<i>ann</i>", learn=False)
    s.add(s.items[0], next(iter(s.codes)))
    s.close()
    page = build_report(load_project(cfg.store_path), cfg.store_path, tmp_path / "r.html", "A & <b>B</b>")[0].read_text()
    assert "<script>" not in page and "<img src=x" not in page and "<i>ann" not in page and "<b>B" not in page
    assert "&lt;script&gt;alert(&#39;role&#39;)&lt;/script&gt;" in page
    assert "Only &lt;i&gt;ann&lt;/i&gt; has reviewed so far (1 segment)" in page
    assert "<title>A &amp; &lt;b&gt;B&lt;/b&gt;</title>" in page and "a&lt;b&gt;.txt" in page
    assert page.count("<style>") == 1 and "border-collapse" in page  # the stylesheet is inlined, not escaped


def test_a_built_wheel_carries_the_templates(tmp_path):
    """`pip install .` installs what setuptools puts in the wheel: build one and look inside."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "pipeline", src / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, src / name)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    names = set(zipfile.ZipFile(next((tmp_path / "dist").glob("precode-*.whl"))).namelist())
    for package, files in TEMPLATES.items():
        for name in files:
            assert f"{package.replace('.', '/')}/{name}" in names, name
