"""The documented deployment, end to end: `facematch app --team` behind Caddy (deploy/Caddyfile, `tls internal`)
on localhost, driven by a real headless Chromium over https: log in, create a case, keep a photo, see the
candidates, decide; another family then tries the case's address and the kept photo's path and gets nothing.

Needs Debian's caddy, chromium and chromium-driver (`.ci/run` installs them); skips without them, fails in CI.
"""

from __future__ import annotations

import sqlite3
import ssl
import urllib.error
import urllib.request

import pytest

from conftest import skip_or_fail
from facematch import demo
from facematch.access import Accounts
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.review import Review
from facematch.store import DB_NAME
from facematch.vault import FILE_MAGIC
from team_driver import (
    CADDY,
    CHROMEDRIVER,
    CHROMIUM,
    PASSPHRASE,
    TeamBrowser,
    chrome,
    free_port,
    start_caddy,
    start_team_server,
)

PW = "correct horse battery"
HOSTILE = "Sister <script>window.pwned = 1</script><img src=x onerror='window.pwned = 2'><b>bold</b>"


@pytest.fixture
def behind_caddy(tmp_path):
    try:
        import selenium  # noqa: F401
    except ImportError:
        skip_or_fail("selenium is not installed (pip install -e '.[test]')")
    if not (CHROMIUM and CHROMEDRIVER):
        skip_or_fail("Chromium/ChromeDriver not installed (apt-get install chromium chromium-driver)")
    if not CADDY:
        skip_or_fail("caddy is not installed (apt-get install caddy): the HTTPS deployment cannot be tested")
    idx = tmp_path / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    with Index.open(idx) as index:
        accounts = Accounts(index.db)
        for name, role in [("boss", "admin"), ("amina", "family"), ("bilal", "family"), ("cw", "caseworker")]:
            accounts.add(name, role, PW)
        index.unlock(PASSPHRASE)
        Review(index, accounts.get("amina")).create_case(HOSTILE)
    port, https_port = free_port(), free_port()
    log = tmp_path / "server.log"
    server = start_team_server(idx, port, log)
    try:
        caddy, root = start_caddy(port, https_port, tmp_path / "caddy")
        try:
            yield f"https://localhost:{https_port}", idx, root
        finally:
            caddy.terminate()
            caddy.wait(timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


def test_login_and_search_over_https_behind_caddy(behind_caddy, tmp_path):
    from selenium.webdriver.common.by import By

    url, idx, root = behind_caddy
    ctx = ssl.create_default_context(cafile=str(root))  # the certificate checks out against Caddy's local CA
    with urllib.request.urlopen(url + "/_stcore/health", context=ctx, timeout=10) as r:
        assert r.status == 200 and "max-age" in r.headers.get("Strict-Transport-Security", "")

    d = chrome(tmp_path / "chrome", insecure_certs=True)
    try:
        b = TeamBrowser(d, url)
        b.login("amina", PW)
        b.settle()  # a case name with HTML in it is shown as text, never run or rendered as HTML
        assert d.execute_script("return window.pwned") is None
        assert not d.find_elements(By.XPATH, "//section[@data-testid='stMain']//b[text()='bold']")
        b.create_case("Brother over https")  # the photos kept: the case's answer when it was created
        assert b.upload(demo.query_photo()) < 120
        case_url = d.current_url
        assert case_url.startswith("https://") and "case=" in case_url
        # a family does not vote in a two-reviewer case (issue 24): a caseworker, given the case, decides
        with Index.open(idx) as index:
            case_id = int(case_url.split("case=")[1].split("&")[0])
            Review(index, Accounts(index.db).get("boss")).give_case(case_id, "cw")
        b.click("//button[.//p[text()='Log out']]")
        b.text_appears("facematch: log in")
        b.login("cw", PW, url=case_url)
        b.decide_first(note="same ears")
        b.text_appears("Confirmed by cw")

        con = sqlite3.connect(idx / DB_NAME)
        assert con.execute("SELECT reviewer, decision FROM decisions").fetchall() == [("cw", "confirm")]
        (kept,) = [r[0] for r in con.execute("SELECT path FROM case_photos")]
        assert (idx / kept).read_bytes().startswith(FILE_MAGIC)  # kept encrypted on disk

        # the kept photo's path, the database and the case folder through the server: never their bytes
        for path in (f"/{kept}", f"/app/static/../{kept}", f"/media/../{kept}", f"/{DB_NAME}", "/cases/"):
            try:
                with urllib.request.urlopen(url + path, context=ctx, timeout=10) as r:
                    body = r.read()
            except urllib.error.HTTPError as e:
                body = e.read()
            assert FILE_MAGIC not in body and b"SQLite format" not in body and b"\xff\xd8\xff" not in body[:3], path

        # another family: log out, then log in as bilal on the case's address (a reload is a new session)
        b.click("//button[.//p[text()='Log out']]")
        b.text_appears("facematch: log in")
        b.login("bilal", PW, url=case_url)
        b.settle()
        body = b.body()
        assert "Brother over https" not in body and "Case:" not in body and "same ears" not in body
    except Exception:
        print("failure screenshot:", b.shot(tmp_path / "failure.png"), "\n", b.body()[:2000])
        raise
    finally:
        d.quit()
