"""The HTML report: self-contained, rendered in a real headless Chromium with the network cut off."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli import app


CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ROOT = Path(__file__).resolve().parents[1]


def test_report_is_self_contained_and_renders(project, tmp_path):  # noqa: F811
    out = tmp_path / "report.html"
    r = CliRunner().invoke(app, ["report", str(project.store_path), "-o", str(out), "--title", "Pilot study"])
    assert r.exit_code == 0, r.output
    page = out.read_text()
    for needle in ("Corpus", "Review progress", "Agreement between coders", "Nobody knows what the peer role is.",
                   "data:image/png;base64,"):
        assert needle in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from anywhere
    figures = list((tmp_path / "report_figures").glob("*.png"))
    assert len(figures) >= 3
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    requests = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            pg = browser.new_page(viewport={"width": 1200, "height": 900})
            pg.on("request", lambda req: requests.append(req.url))
            pg.goto(out.as_uri())
            assert pg.locator("h1").inner_text() == "Pilot study"
            assert pg.locator("h2").count() >= 4
            n_img = pg.locator("img").count()
            loaded = pg.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
            assert n_img >= 3 and loaded
            (ROOT / "test-artifacts").mkdir(exist_ok=True)
            pg.screenshot(path=str(ROOT / "test-artifacts" / "report.png"), full_page=False)
        finally:
            browser.close()
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
