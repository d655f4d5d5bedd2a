"""The dashboard in a real headless Chromium: `workbench dashboard` serves a demo-like database,
the failures page shows highlighted spans, outputs holding HTML stay text, and deep links open
an item page and a filtered Failures page. Screenshots of each page at 1440x900 are saved in
the test's tmp dir, or in $WORKBENCH_SCREENSHOTS when set (how docs/images/ is refreshed)."""

from __future__ import annotations

import os
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
            page.goto(server + "/failures?f_open=1", timeout=60_000)  # rows expanded
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


PAGES = {  # screenshot name -> deep link, and what must be on the page before it is taken
    # (scrolled into view for the names in SCROLL)
    "overview": ("/", "[data-testid='stVegaLiteChart'] canvas, .vega-embed canvas,"
                      " .vega-embed svg"),
    "failures": ("/failures?f_category=hallucination&f_sort=score&f_open=1", ".wb-text mark"),
    "item": ("/item?item=q005", "text=Suggestions that target it"),
    "compare": ("/compare?c_name=category:hallucination&c_status=fixed", "text=Items fixed"),
    "compare-items": ("/compare?c_name=category:hallucination&c_status=regressed",
                      "text=run B ·"),
    "matrix": ("/compare?c_mode=Many+runs", "text=where the runs differ"),
    "suggestions": ("/suggestions", "text=Training loss"),
}
SCROLL = {"compare-items"}


@pytest.mark.slow
def test_deep_links_in_chromium(server, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Chromium at /usr/bin/chromium: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    shots = Path(os.environ.get("WORKBENCH_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    dialogs: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            # a filtered Failures page from its link: the filters are set from the URL
            page.goto(server + "/failures?f_category=repetition&f_sort=tokens", timeout=60_000)
            page.wait_for_selector("details.wb-row", timeout=60_000)
            sidebar = page.locator("[data-testid='stSidebar']")
            sidebar.get_by_text("repetition").first.wait_for(timeout=60_000)
            first = page.locator("details.wb-row").first
            assert "repetition" in first.locator("summary").first.inner_text()
            # a row opens in place; its item link leads to the item page, which shows the
            # item's prompt and every run's output
            first.locator("summary").first.click()
            first.locator(".wb-text mark").first.wait_for(timeout=30_000)
            item_id = first.locator("a[href^='item?']").first.inner_text()
            first.locator("a[href^='item?']").first.click()
            page.wait_for_url(f"**/item?item={item_id}*", timeout=60_000)
            page.get_by_text("Suggestions that target it").wait_for(timeout=60_000)
            sync_api.expect(page.locator("div.wb-label", has_text="output")).to_have_count(
                2, timeout=60_000)
            # a verdict: the first flagged finding marked wrong, stored at once
            review = page.get_by_text("Review the checks on this output (0 verdict(s))").first
            review.click()
            page.get_by_role("button", name="✗ Wrong").first.click()
            page.get_by_text("Review the checks on this output (1 verdict(s))").first.wait_for(
                timeout=60_000)
            # a run link leads back to Failures, filtered on that run
            page.locator("a[href^='failures?f_run=']").first.click()
            page.wait_for_url("**/failures?f_run=*", timeout=60_000)
            page.wait_for_selector("details.wb-row", timeout=60_000)
            # the overview now measures the check's precision on that verdict
            page.goto(server + "/", timeout=60_000)
            page.get_by_text("Check precision on your verdicts").wait_for(timeout=60_000)
            page.wait_for_selector("[data-testid='stDataFrame'] >> nth=3", timeout=60_000)
            assert page.get_by_text("No verdicts yet").count() == 0
            assert dialogs == []
            for name, (link, ready) in PAGES.items():
                page.goto(server + link, timeout=60_000)
                page.wait_for_selector(ready, timeout=90_000)
                if name in SCROLL:
                    page.locator(ready).first.scroll_into_view_if_needed()
                page.wait_for_timeout(1500)  # let charts and fonts settle for the picture
                page.screenshot(path=str(shots / f"dashboard-{name}.png"), full_page=False)
        finally:
            browser.close()
    for name in PAGES:
        assert (shots / f"dashboard-{name}.png").stat().st_size > 10_000
