"""Logging in to a team server through an OpenID Connect provider (Streamlit's st.login), end to end: a local
mock provider (the `oidc-provider-mock` package: a real OIDC server for tests, on localhost), the team server
with FACEMATCH_OIDC=1 and an [auth] table in .streamlit/secrets.toml, and a real headless Chromium.

What it shows: the provider's identity is mapped to the facematch account named by its email claim (that
account keeps the role and the cases given); an identity with no account gets no session. What it does not
show: any real provider (Keycloak, Azure AD, Google); those were not available here.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import skip_or_fail
from facematch import demo
from facematch.access import Accounts
from facematch.index import Index
from facematch.indexing import index_folder
from team_driver import CHROMEDRIVER, CHROMIUM, TeamBrowser, chrome, free_port, start_team_server


@pytest.fixture
def with_provider(tmp_path):
    for module, why in (("selenium", "selenium"), ("authlib", "Authlib (st.login needs it)"),
                        ("oidc_provider_mock", "oidc-provider-mock")):  # fmt: skip
        try:
            __import__(module)
        except ImportError:
            skip_or_fail(f"{why} is not installed (pip install -e '.[test]')")
    if not (CHROMIUM and CHROMEDRIVER):
        skip_or_fail("Chromium/ChromeDriver not installed (apt-get install chromium chromium-driver)")
    idx = tmp_path / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    with Index.open(idx) as index:
        Accounts(index.db).add("boss", "admin", "a long admin password")
        Accounts(index.db).add("amina@example.org", "family", "a password she never needs")
    provider_port, port = free_port(), free_port()
    provider_log = (tmp_path / "provider.log").open("wb")
    provider = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(provider_port)],
        stdout=provider_log,
        stderr=subprocess.STDOUT,
    )
    issuer = f"http://127.0.0.1:{provider_port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2).close()
            break
        except OSError:
            if time.monotonic() > deadline or provider.poll() is not None:
                provider.terminate()
                pytest.fail("the mock OpenID provider did not start: " + (tmp_path / "provider.log").read_text())
            time.sleep(0.3)
    home = tmp_path / "server"
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "secrets.toml").write_text(
        f"""[auth]
redirect_uri = "http://localhost:{port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "facematch"
client_secret = "{secrets.token_hex(16)}"
server_metadata_url = "{issuer}/.well-known/openid-configuration"
"""
    )
    server = start_team_server(idx, port, tmp_path / "server.log", cwd=home, oidc=True)
    try:
        yield f"http://localhost:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        provider.terminate()
        provider.wait(timeout=30)
    log = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def log_in_at_provider(b: TeamBrowser, url: str, subject: str) -> None:
    b.d.get(url)
    b.text_appears("facematch: log in")
    b.click("//button[.//p[text()='Log in with your organisation']]")
    b.visible("//input[@name='sub']").send_keys(subject)  # the mock provider's form: who is logging in
    b.click("//button[@type='submit' and text()='Authorize']")


def test_login_through_an_openid_provider_maps_to_a_facematch_account(with_provider, tmp_path):
    url = with_provider
    d = chrome(tmp_path / "chrome")
    try:
        b = TeamBrowser(d, url)
        log_in_at_provider(b, url, "amina@example.org")
        b.text_appears("Logged in as amina@example.org")
        b.text_appears("(family)")
        b.create_case("Brother via the organisation's login")
        d.delete_all_cookies()  # a different person at the same browser: no facematch account
        log_in_at_provider(b, url, "stranger@example.org")
        b.text_appears("has no facematch account")
        assert "Logged in as" not in b.body() and "Brother via" not in b.body()
    finally:
        d.quit()
