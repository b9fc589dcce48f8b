"""The UI smoke test (scripts/ui-smoke): `--help` answers before any set-up, and its detectors
find a broken image, an error box and a console error on a static page. The browser tests skip
without Playwright (the `ui` extra) or Debian's `chromium`, which CI installs neither of; the
smoke test itself, a night and `dagster dev`, is run by hand: ./scripts/ui-smoke."""

from __future__ import annotations

import base64
import functools
import importlib.util
import shutil
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).parents[2] / "scripts"
# a 1x1 PNG
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_help_answers_before_setting_up(tmp_path):
    shutil.copytree(SCRIPTS, tmp_path / "scripts")
    out = subprocess.run(
        [str(tmp_path / "scripts" / "ui-smoke"), "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: ./scripts/ui-smoke")
    assert not (tmp_path / ".venv").exists()


@pytest.fixture(scope="module")
def ui_smoke():
    spec = importlib.util.spec_from_file_location("ui_smoke", SCRIPTS / "ui_smoke.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["ui_smoke"] = module  # dataclasses resolve their module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["ui_smoke"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the `ui` extra")
    if not shutil.which("chromium"):
        pytest.skip("no chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        yield browser
        browser.close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def site(tmp_path):
    """A local web server over a folder: (folder, base URL)."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "plot.png").write_bytes(PNG)
    (root / "favicon.ico").write_bytes(PNG)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _inspect(ui_smoke, browser, url, shot):
    page = browser.new_page()
    report = ui_smoke.PageReport("test", url)
    watcher = ui_smoke.Watcher(page, report)
    page.goto(url)
    watcher.settle(timeout=10)
    watcher.inspect(shot)
    page.close()
    return report


def test_a_clean_page_passes(ui_smoke, browser, site, tmp_path):
    root, base = site
    (root / "ok.html").write_text('<h1>report</h1><img alt="plot" src="plot.png">')
    report = _inspect(ui_smoke, browser, f"{base}/ok.html", tmp_path / "ok.png")
    assert report.ok, report.errors + report.broken
    assert report.images == 1 and (tmp_path / "ok.png").stat().st_size > 0


def test_broken_images_and_errors_are_found(ui_smoke, browser, site, tmp_path):
    root, base = site
    (root / "bad.html").write_text(
        # a relative src the server answers with a page (as Dagster's UI does), one it does not
        # have at all, an error box as Dagster draws it, a console error
        '<img alt="plot" src="plot.png"><img alt="OT trade-off" src="bad.html">'
        '<img alt="gender gaps" src="fairness.png">'
        '<div class="dagster-non-ideal-state"><div role="img" aria-label="error"></div>'
        "Query Error</div><script>console.error('boom')</script>"
    )
    report = _inspect(ui_smoke, browser, f"{base}/bad.html", tmp_path / "bad.png")
    assert not report.ok and report.images == 3
    assert len(report.broken) == 2
    trade_off, gaps = sorted(report.broken)
    assert 'alt="OT trade-off"' in trade_off and "served text/html, HTTP 200" in trade_off
    assert 'alt="gender gaps"' in gaps and "HTTP 404" in gaps
    assert "error box: Query Error" in report.errors
    assert "console error: boom" in report.errors
    assert any(e.startswith("HTTP 404: GET") and "fairness.png" in e for e in report.errors)
