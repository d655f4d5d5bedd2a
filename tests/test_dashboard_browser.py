"""The dashboard in a real headless Chromium: `workbench dashboard` serves a demo-like database,
the failures page shows highlighted spans, and outputs holding HTML stay text."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.dashboard.sample import build_sample_db

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.browser


def _workbench() -> list[str]:
    script = Path(sys.executable).with_name("workbench")
    return [str(script)] if script.exists() else [
        sys.executable, "-c", "from workbench.cli import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    """`workbench dashboard` on a sample database; yields its URL and always stops it."""
    db = tmp_path / "demo.duckdb"
    build_sample_db(db, n_items=24)
    port = _free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([*_workbench(), "dashboard", "--db", str(db), "--port", str(port),
                             "--no-browser"], stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        # the command prints the URL only once the server answers (it waits at most 60 s)
        url = proc.stdout.readline().strip()
        if not url:
            proc.wait(10)
            pytest.fail("dashboard did not start: " + (tmp_path / "server.log").read_text())
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.mark.slow
def test_failures_page_in_chromium(server, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Chromium at /usr/bin/chromium: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(server + "/failures", timeout=60_000)
            mark = page.wait_for_selector(".wb-text mark", timeout=60_000)
            assert mark.inner_text().strip()
            assert page.get_by_role("heading", name="Failures").is_visible()
            # the sample's outputs carrying <script> and <img onerror> are shown as text
            search = page.locator("input[aria-label='Text contains']")
            search.fill("onerror")
            search.press("Enter")
            shown = page.get_by_text("<img src=x onerror=alert(1)>", exact=False).first
            shown.wait_for(timeout=30_000)
            assert page.locator("img[src='x']").count() == 0
            assert dialogs == []
            search.fill("")
            search.press("Enter")
            page.wait_for_selector(".wb-text mark", timeout=30_000)
            page.wait_for_timeout(500)  # let the charts and fonts settle for the picture
            shot = tmp_path / "failures.png"
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
