"""A real browser (Debian's headless Chromium, driven by selenium) against the running app.

Upload a photo, pick the face, confirm a candidate, then check the decision in SQLite. Screenshots
are saved in the test's temporary folder (printed with -s) so a person can look at them.
"""

from __future__ import annotations

import shutil
import socket
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import skip_or_fail
from facematch import demo, serve
from facematch.indexer import index_folder
from facematch.store import DB_NAME

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
except ImportError:
    webdriver = None


@pytest.fixture(autouse=True)
def a_browser_to_drive() -> None:
    """Skip without selenium or Chromium (a developer may have neither); fail in CI, which installs both."""
    if webdriver is None:
        skip_or_fail("selenium is not installed (pip install -e '.[test]')")
    if not (CHROMIUM and CHROMEDRIVER):
        skip_or_fail("Chromium/ChromeDriver not installed (apt-get install chromium chromium-driver)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def running_app(tmp_path):
    idx = tmp_path / "index"
    index_folder(
        demo.build_gallery(idx / "photos"), idx, "sface", workers=1, records_csv=demo.records_csv(), progress=False
    )
    port = free_port()
    proc = serve.start(idx, "localhost", port)
    try:
        assert serve.wait_until_up(port, proc=proc), "the app did not start"
        yield f"http://localhost:{port}", idx
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1500,1100",
        f"--user-data-dir={tmp_path / 'chrome'}",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    yield driver
    driver.quit()


def test_upload_pick_confirm_in_a_real_browser(running_app, browser, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    url, idx = running_app
    wait = WebDriverWait(browser, 120)

    def text_appears(text: str):
        return wait.until(ec.presence_of_element_located((By.XPATH, f'//body[contains(., "{text}")]')))

    def settle() -> None:
        """Wait until Streamlit has finished rerunning the script (its status widget is gone)."""
        time.sleep(0.3)
        wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']"))

    def click(xpath: str, index: int = 0) -> None:
        """Click once the page is quiet; a rerun can replace the element, so look it up again then."""
        for _ in range(5):
            settle()
            try:
                browser.find_elements(By.XPATH, xpath)[index].click()
                return
            except (IndexError, StaleElementReferenceException):
                time.sleep(1)
        raise AssertionError(f"could not click {xpath}")

    def type_into(label: str, text: str) -> None:
        """Type once the input exists: on a slow machine the sidebar renders after the main page."""
        settle()
        wait.until(ec.presence_of_element_located((By.XPATH, f"//input[@aria-label='{label}']"))).send_keys(text)

    def shot(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        browser.save_screenshot(str(path))
        assert path.stat().st_size > 10_000
        print(f"screenshot: {path}")
        return path

    browser.get(url)
    text_appears("Create a case")
    shot("1-start")
    type_into("Your name (saved with every decision)", "Ayse\n")
    type_into("Name or alias of the missing person", "Brother")
    settle()
    click("//button[.//p[text()='Create case']]")
    text_appears("Case: Brother")
    wait.until(ec.presence_of_element_located((By.XPATH, "//input[@type='file']")))
    settle()
    browser.find_element(By.XPATH, "//input[@type='file']").send_keys(str(demo.query_photo()))
    text_appears("Face found")
    text_appears("Candidate #1")
    time.sleep(1)
    shot("2-candidates")
    click("//button[.//p[text()='Compare and decide']]")
    text_appears("Compare: candidate #1")
    click("//label[.//p[contains(text(), 'Confirm: this is the same person')]]")
    type_into("Note (why; optional)", "same ears")
    time.sleep(0.5)
    shot("3-compare")
    settle()
    click("//button[.//p[text()='Record decision']]")
    text_appears("Confirmed by Ayse")
    shot("4-confirmed")

    con = sqlite3.connect(idx / DB_NAME)
    rows = con.execute("SELECT decision, reviewer, rank, note, photo_path FROM decisions").fetchall()
    assert rows == [("confirm", "Ayse", 1, "same ears", rows[0][4])]
    assert rows[0][4] in {"obama.jpg", "obama3.jpg"}
