"""Attacks on a running team server (`facematch app --team`, started by the CLI exactly as an organisation starts
it, on the demo archive), made with a raw Streamlit client (st_client.py) that does what no browser would:

* another family's Streamlit session id replayed in a fresh websocket, with no cookie or with the attacker's own;
* media addresses fetched with no cookie, with another account's cookie, and computed from the bytes (as an
  outsider computes the address of an archive face to probe whether it is on someone's screen);
* an upload into someone's session with no cookie or another account's;
* a download and media after `facematch users disable` (another process) and after logging out;
* Streamlit's metrics; tracebacks reaching the client on forged widget values;
* the Streamlit server surviving a SIGTERM (or SIGKILL) of `facematch app`.

Every test logs in the way the server offers (the door's form, or the Streamlit login form on a server without
the door), so the same file runs against a server without the door and shows what it lets through.
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from procs import alive, children
from st_client import StreamlitClient

import facematch
from conftest import skip_or_fail
from facematch import demo
from facematch.access import Accounts
from facematch.app import serve
from facematch.index import Index
from facematch.indexing import index_folder

PW = "correct horse battery"
PASSPHRASE = "families' data passphrase for the security tests"
SRC = str(Path(facematch.__file__).resolve().parents[1])  # the server runs this checkout's code, not an install
CLI = [sys.executable, "-m", "facematch.cli"]
PHOTO = demo.query_photo().read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def passphrase_file(folder: Path) -> Path:
    """The passphrase in a file only its owner reads (`--passphrase-file`: never the environment)."""
    path = folder / "passphrase"
    path.write_text(PASSPHRASE)
    path.chmod(0o600)
    return path


def start_app(idx: Path, port: int, log: Path, **environ: str) -> subprocess.Popen:
    """`facematch app --team` as an organisation runs it (no terminal: the passphrase from a file)."""
    env = {**os.environ, "PYTHONPATH": SRC, **environ}
    cmd = [*CLI, "app", "--team", "--index", str(idx), "--port", str(port), "--passphrase-file"]
    with log.open("ab") as out:
        proc = subprocess.Popen([*cmd, str(passphrase_file(log.parent))], env=env, stdout=out, stderr=out)
    if not serve.wait_until_up(port, timeout=180, proc=proc):
        proc.kill()
        raise RuntimeError("facematch app --team did not start: " + log.read_text(errors="replace")[-3000:])
    return proc


def stop_app(proc: subprocess.Popen) -> None:
    kids = children(proc.pid)
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)  # Ctrl-C: what every version stops on
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for kid in kids:  # whatever outlived it (a server without the fix for that): stopped here, by its id
        if alive(kid):
            os.kill(kid, signal.SIGKILL)


@pytest.fixture(scope="module")
def team_server(tmp_path_factory):
    """The demo archive, five accounts, and `facematch app --team` serving it on localhost; yields (url, index)."""
    work = tmp_path_factory.mktemp("security")
    idx = work / "index"
    index_folder(
        demo.build_gallery(idx / "photos"), idx, "sface", workers=1, records_csv=demo.records_csv(), progress=False
    )
    with Index.open(idx) as index:
        accounts = Accounts(index.db)
        for name, role in [("boss", "admin"), ("amina", "family"), ("bilal", "family"), ("cw", "caseworker"),
                           ("leaver", "caseworker"), ("guessed", "caseworker")]:  # fmt: skip
            accounts.add(name, role, PW)
    port = free_port()
    proc = start_app(idx, port, work / "server.log")
    try:
        yield f"http://127.0.0.1:{port}", idx
    finally:
        stop_app(proc)


def has_door(url: str) -> bool:
    """Whether a login form is served before Streamlit (Streamlit itself answers any path with its page)."""
    r = StreamlitClient(url).get("/_door/login")
    return r.status == 200 and b'action="/_door/login"' in r.body


def log_in(url: str, name: str) -> tuple[StreamlitClient, object]:
    """A client logged in as `name`, its websocket open on the start page: (client, page)."""
    c = StreamlitClient(url)
    if has_door(url):
        r = c.door_login(name, PW)
        assert r.status == 303, (r.status, r.body[:500])
        c.connect()
        page = c.rerun()
    else:  # no door: the login form is the Streamlit page's
        c.connect()
        page = c.rerun()
        c.put(page.widget(key="login_name").id, name)
        c.put(page.widget(key="login_password").id, PW)
        page = c.click(page.widget(label="Log in"))
    assert f"Logged in as {name} " in page.shown, page.text[-2000:]  # the who bar (names shown as text, issue 24)
    return c, page


def new_case_with_photo(c: StreamlitClient, page, name: str):
    """Create a case, upload the demo photo into it: the page with its candidates (archive faces as media)."""
    page = c.rerun(**{page.widget(key="new_case_name").id: name})
    page = c.click(page.widget(label="Create case"))  # the side panel's, beside new_case_name
    assert f"Case: {name}" in page.shown
    page = c.upload(page.widget(kind="file_uploader"), "obama2.jpg", PHOTO)
    assert "Candidate #1" in page.text and page.media, page.text[-1500:]
    return page


def refused(status: int) -> bool:
    return status in (401, 403, 404)


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120)


# -- 1. a Streamlit session id is not a key --------------------------------------------------------------------------
def test_a_replayed_session_id_opens_nothing_without_the_cookie(team_server):
    url, _idx = team_server
    amina, page = log_in(url, "amina")
    page = new_case_with_photo(amina, page, "Brother of the replay test")
    sid = amina.session_id
    assert sid and sid in amina.upload_url("x.jpg")  # the id is in every upload address: anyone on the path sees it

    outsider = StreamlitClient(url)
    try:
        outsider.connect(existing_session_id=sid, cookies=False)
    except Exception as e:  # refused at the handshake: the right answer
        assert "403" in str(e) or "401" in str(e), e
    else:
        seen = outsider.rerun()
        assert outsider.session_id != sid, "the outsider was given amina's Streamlit session"
        assert "Brother of the replay test" not in seen.text and "amina" not in seen.text

    bilal, _ = log_in(url, "bilal")  # another family, logged in, presenting amina's session id
    bilal.close()
    bilal.connect(existing_session_id=sid)
    seen = bilal.rerun()
    assert bilal.session_id != sid and "Brother of the replay test" not in seen.text
    assert "Logged in as amina " not in seen.shown


def test_a_forged_door_header_is_not_an_identity(team_server):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    from facematch.app.door import HEADER

    url, _idx = team_server
    if not has_door(url):
        pytest.fail("no door: nothing in front of the websocket checks who connects")
    anon = StreamlitClient(url)
    with pytest.raises(InvalidStatus):  # no cookie: refused, whatever header it sends
        connect(f"ws://{anon.host}:{anon.port}/_stcore/stream", subprotocols=["streamlit"],
                additional_headers={HEADER: "0" * 32, "Origin": url})  # fmt: skip
    bilal, page = log_in(url, "bilal")  # his own cookie with a forged header: still bilal
    bilal.close()
    forged = {HEADER: "f" * 32, "Origin": url, "Cookie": bilal.cookie_header()}
    bilal.ws = connect(f"ws://{bilal.host}:{bilal.port}/_stcore/stream", subprotocols=["streamlit", bilal.xsrf()],
                       additional_headers=forged)  # fmt: skip
    assert "Logged in as bilal " in bilal.rerun().shown


# -- 2. media ---------------------------------------------------------------------------------------------------------
def test_media_only_to_the_session_that_was_shown_it_and_not_computable(team_server):
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    url, _idx = team_server
    amina, page = log_in(url, "amina")
    page = new_case_with_photo(amina, page, "Sister of the media test")
    media = page.media[:6]
    outsider = StreamlitClient(url)
    bilal, _ = log_in(url, "bilal")
    for m in media:
        own = amina.get(m)
        assert own.status == 200 and "no-store" in (own.header("Cache-Control") or ""), (m, own.status)
        assert refused(outsider.get(m, cookies=False).status), f"{m} served with no cookie"
        assert refused(bilal.get(m).status), f"{m} served to another account's cookie"
        # an outsider computes Streamlit's address from the bytes (an archive face crop is public material):
        computed = _calculate_file_id(own.body, own.header("Content-Type").split(";")[0])
        assert computed not in m, f"{m} is Streamlit's content hash: anyone can compute it"
        assert refused(amina.get(f"/media/{computed}.jpg").status), "a computed address answers"


# -- 3. uploads -------------------------------------------------------------------------------------------------------
def test_no_upload_into_a_session_without_its_cookie(team_server):
    url, _idx = team_server
    amina, page = log_in(url, "amina")
    target = amina.upload_url("family.jpg")
    outsider = StreamlitClient(url)
    outsider.xsrf()  # a valid XSRF pair of its own (the health probe hands one to anyone)
    r = outsider.put_file(target, "family.jpg", PHOTO)
    assert refused(r.status), f"an upload with no login cookie was accepted ({r.status})"
    r = outsider.put_file(target, "family.jpg", PHOTO, cookies=False)
    assert refused(r.status), f"an upload with no cookie at all was accepted ({r.status})"
    bilal, _ = log_in(url, "bilal")
    r = bilal.put_file(target, "family.jpg", PHOTO)
    assert refused(r.status), f"another account uploaded into amina's session ({r.status})"
    assert amina.put_file(target, "family.jpg", PHOTO).status == 204  # her own: accepted


# -- 4. a disabled account, a logged-out session ------------------------------------------------------------------
def test_a_disabled_account_gets_no_download_and_no_media(team_server):
    url, idx = team_server
    c, page = log_in(url, "leaver")
    page = new_case_with_photo(c, page, "Case of the leaver")
    report = page.widget(key="export_html")
    before, err = c.download(report)
    assert before and not err and c.get(before).status == 200
    media = page.media[0]
    assert c.get(media).status == 200
    try:
        assert cli("users", "disable", "leaver", "--index", str(idx)).returncode == 0  # another process
        after, _err = c.download(report)
        assert not after or refused(c.get(after).status), "a disabled account's open session downloaded the report"
        assert refused(c.get(before).status), "the report built before stays fetchable"
        assert refused(c.get(media).status), "a disabled account's session still gets media"
        seen = c.rerun()
        assert "Case of the leaver" not in seen.text and "Candidate" not in seen.text
    finally:
        assert cli("users", "enable", "leaver", "--index", str(idx)).returncode == 0
    assert refused(c.get(media).status)  # enabled again: the session stays ended (log in again)


def test_logging_out_ends_the_session_for_downloads_and_media(team_server):
    url, _idx = team_server
    c, page = log_in(url, "cw")
    page = new_case_with_photo(c, page, "Case of the logout test")
    report, _err = c.download(page.widget(key="export_html"))
    media = page.media[0]
    assert c.get(report).status == 200 and c.get(media).status == 200
    cookies = dict(c.cookies)
    seen = c.click(page.widget(key="logout_main"))
    assert "Case of the logout test" not in seen.text
    for who in (c, StreamlitClient(url)):
        who.cookies.update(cookies)  # the old cookie, replayed
        assert refused(who.get(report).status), "the report stays fetchable after logout"
        assert refused(who.get(media).status), "media stay fetchable after logout"
    if has_door(url):
        replay = StreamlitClient(url)
        replay.cookies.update(cookies)
        assert replay.get("/").status == 303  # to the login form
        with pytest.raises(Exception, match="403"):
            replay.connect()


# -- 5. what Streamlit serves besides the app ---------------------------------------------------------------------
def test_metrics_and_other_internals_are_refused(team_server):
    url, _idx = team_server
    anon = StreamlitClient(url)
    assert refused(anon.get("/_stcore/metrics").status), "Streamlit's metrics are public"
    cw, _ = log_in(url, "cw")
    assert refused(cw.get("/_stcore/metrics").status), "Streamlit's metrics answer a logged-in account"
    for path in ("/", "/_stcore/host-config", "/static/", "/component/x", "/app/static/fonts/../../run.py",
                 "/app/static/fonts/..%2F..%2Frun.py", "/app/static/other.css"):  # fmt: skip
        r = anon.get(path)
        assert r.status in (303, 400, 401, 404), f"{path} answered {r.status} with no login cookie"
    fonts = anon.get("/app/static/fonts/fonts.css")  # the login page's fonts (public Noto files): for everyone
    assert fonts.status == 200 and b"@font-face" in fonts.body


def test_cookies_are_httponly_samesite_strict(team_server):
    url, _idx = team_server
    if not has_door(url):
        pytest.fail("no door: Streamlit keeps the login in the websocket's session, with no cookie at all")
    r = StreamlitClient(url).door_login("amina", PW)
    (door,) = [c for c in r.cookies_set() if c.startswith("fm_door=")]
    assert "HttpOnly" in door and "SameSite=Strict" in door and "Path=/" in door


# -- 6. errors ------------------------------------------------------------------------------------------------------
FORGED = ["x" * 3, 10**12, 1.5, True, ""]


def forge_every_widget(c: StreamlitClient, page) -> list[str]:
    """Send each value of FORGED for each widget on the page, one at a time; the messages that carried a trace."""
    leaks = []
    for w in page.widgets:
        for value in FORGED:
            c.states = {}
            c.put(w.id, value)
            seen = c.rerun()
            traced = [e for e in seen.exceptions if e.stack_trace]
            if traced or b"Traceback" in seen.raw or b'File "' in seen.raw or b"site-packages" in seen.raw:
                leaks.append(f"{w.kind} {w.key} = {value!r}")
    return leaks


def test_no_traceback_reaches_the_client_on_forged_widget_values(team_server):
    url, _idx = team_server
    c, page = log_in(url, "bilal")
    leaks = forge_every_widget(c, page)
    anon = StreamlitClient(url)
    try:
        anon.connect(cookies=False)
    except Exception:  # no websocket without a login (the door): nothing to forge before it
        pass
    else:
        leaks += forge_every_widget(anon, anon.rerun())
    assert not leaks, f"tracebacks sent to the browser: {leaks[:5]} ({len(leaks)} in all)"


# -- 7. the server ends with `facematch app` ------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_streamlit_server_ends_with_facematch_app(team_server, tmp_path, sig):
    _url, idx = team_server
    port = free_port()
    proc = start_app(idx, port, tmp_path / "server.log")
    kids = children(proc.pid)
    assert kids, "facematch app started no server process"
    try:
        proc.send_signal(sig)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(alive(k) for k in kids):
            time.sleep(0.3)
        left = [k for k in kids if alive(k)]
        assert not left, f"{signal.Signals(sig).name} to facematch app left its Streamlit server running: {left}"
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        for kid in kids:
            if alive(kid):
                os.kill(kid, signal.SIGKILL)


# -- 8. behind Caddy (HTTPS) ----------------------------------------------------------------------------------------
def test_behind_caddy_every_cookie_is_secure(team_server, tmp_path):
    import shutil

    from team_driver import start_caddy

    if not shutil.which("caddy"):
        skip_or_fail("caddy is not installed (apt-get install caddy): the HTTPS deployment cannot be tested")
    url, _idx = team_server
    https_port = free_port()
    caddy, root = start_caddy(int(url.rsplit(":", 1)[1]), https_port, tmp_path / "caddy")
    try:
        c = StreamlitClient(f"https://localhost:{https_port}")
        c.ssl_context = ssl.create_default_context(cafile=str(root))
        xsrf = [v for v in c.get("/_stcore/health").cookies_set() if v.startswith("_streamlit_xsrf=")]
        assert xsrf and all("Secure" in v for v in xsrf), xsrf
        if not has_door(url):
            pytest.fail("no door: no login cookie to check")
        r = c.door_login("amina", PW)
        (door,) = [v for v in r.cookies_set() if v.startswith("__Host-fm_door=")]
        assert "Secure" in door and "HttpOnly" in door and "SameSite=Strict" in door
        c.connect()
        page = c.rerun()
        assert "Logged in as amina " in page.shown
    finally:
        caddy.terminate()
        caddy.wait(timeout=30)


# -- the door's own rules, without a server ---------------------------------------------------------------------------
def test_door_sessions_end_when_idle_disabled_or_logged_out(team_server):
    from facematch import access
    from facematch.access import AccessDenied
    from facematch.app.door import DISABLED, IDLE, Doors, safe_next

    _url, idx = team_server
    doors = Doors()
    with Index.open(idx) as index:
        accounts = Accounts(index.db)
        amina = accounts.get("amina")
        token, s = doors.open(amina, now=1000.0)
        assert doors.by_token(token) is s and doors.by_token(token + "x") is None and doors.by_token(None) is None
        assert doors.check(s, accounts, touch=True, now=1000.0 + access.IDLE_SECONDS - 1).name == "amina"
        with pytest.raises(AccessDenied, match="without activity"):
            doors.check(s, accounts, now=1000.0 + 2 * access.IDLE_SECONDS)
        assert s.ended == IDLE and not s.media
        with pytest.raises(AccessDenied):  # ended stays ended
            doors.check(s, accounts, now=1000.0)
        _t2, s2 = doors.open(amina)
        s2.alias("0" * 32)
        accounts.disable("amina")
        try:
            with pytest.raises(AccessDenied, match="disabled"):
                doors.account(s2.handle, accounts)
            assert s2.ended == DISABLED and not s2.media
        finally:
            accounts.enable("amina")
        _t3, s3 = doors.open(amina)
        doors.end(s3)
        with pytest.raises(AccessDenied):
            doors.account(s3.handle, accounts)
    for bad in ("//evil.example/", "https://evil.example/", "/\\evil", "/_door/login", "", None, "relative"):
        assert safe_next(bad) == "/"
    assert safe_next("/?case=3&lang=tr") == "/?case=3&lang=tr"


def test_the_login_form_refuses_forged_posts_and_sends_nowhere_else(team_server):
    from urllib.parse import urlencode

    url, _idx = team_server
    if not has_door(url):
        pytest.fail("no door: no login form before Streamlit")
    c = StreamlitClient(url)
    c.get("/_door/login")  # its CSRF cookie
    form = {"name": "amina", "password": PW, "next": "/", "csrf": "not the cookie's token"}
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    r = c.request("POST", "/_door/login", body=urlencode(form).encode(), headers=headers)
    assert r.status == 403 and not [v for v in r.cookies_set() if v.startswith("fm_door=") and "Max-Age=0" not in v]
    form["csrf"] = "é" * 8  # not ASCII: refused, not a server error
    r = c.request("POST", "/_door/login", body=urlencode(form).encode(), headers=headers)
    assert r.status == 403
    r = StreamlitClient(url).door_login("amina", PW, next_path="//evil.example/")
    assert r.status == 303 and r.header("Location").startswith("/?"), r.header("Location")
    r = StreamlitClient(url).door_login("amina", "wrong password!!")
    assert r.status == 401 and b"Wrong name or password" in r.body


# -- 9. a session left idle past the limit (a second server, FACEMATCH_IDLE_SECONDS) ---------------------------------
#: The idle limit of the second server: longer than one search takes on a crowded 2-core machine (a run counts as
#: activity when it starts), short enough to wait for.
IDLE = 40


@pytest.fixture(scope="module")
def idle_server(team_server, tmp_path_factory):
    """`facematch app --team` on the same index with FACEMATCH_IDLE_SECONDS=IDLE; yields its address."""
    _url, idx = team_server
    port = free_port()
    proc = start_app(idx, port, tmp_path_factory.mktemp("idle") / "server.log", FACEMATCH_IDLE_SECONDS=str(IDLE))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_app(proc)


def test_the_idle_limit_is_a_clamped_number():
    from facematch import access
    from facematch.app.door import IDLE_BOUNDS, IDLE_ENV, Doors, idle_seconds

    assert idle_seconds({}) == access.IDLE_SECONDS == 30 * 60  # unset: 30 minutes
    assert idle_seconds({IDLE_ENV: " 90 "}) == 90
    assert idle_seconds({IDLE_ENV: "1"}) == IDLE_BOUNDS[0] == 5  # never shorter than a few seconds
    assert idle_seconds({IDLE_ENV: str(10**9)}) == IDLE_BOUNDS[1] == 8 * 3600  # never longer than a working day
    assert idle_seconds({IDLE_ENV: "-5"}) == 5
    assert idle_seconds({IDLE_ENV: "ten minutes"}) == access.IDLE_SECONDS  # the server: the default
    with pytest.raises(ValueError, match=IDLE_ENV):  # the CLI: said before anything starts
        idle_seconds({IDLE_ENV: "ten minutes"}, strict=True)
    assert Doors(idle=7).idle == 7


def test_facematch_app_refuses_an_idle_limit_that_is_no_number(tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC, "FACEMATCH_IDLE_SECONDS": "30min"}
    r = subprocess.run([*CLI, "app", "--team", "--index", str(tmp_path / "none"), "--port", str(free_port()),
                        "--passphrase-file", str(passphrase_file(tmp_path))],
                       env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode != 0 and "FACEMATCH_IDLE_SECONDS" in r.stderr, (r.returncode, r.stderr[-1000:])


def test_a_session_idle_past_the_limit_opens_nothing(idle_server):
    """Idle past the limit, a session opens nothing: not the page, its media, a download built before or asked
    for now, an upload address it was given, a new websocket or its open one; another session that keeps
    clicking meanwhile stays logged in."""
    url = idle_server
    c, page = log_in(url, "amina")
    page = new_case_with_photo(c, page, "Cousin of the idle test")
    media = page.media[0]
    report, err = c.download(page.widget(key="export_html"))  # a download counts as activity
    assert report and not err
    target = c.upload_url("family.jpg")  # so does asking for an upload address
    last_activity = time.monotonic()
    assert c.get(media).status == 200 and c.get(report).status == 200  # fetching them does not count
    cookies = dict(c.cookies)

    busy, _ = log_in(url, "bilal")  # clicks every IDLE/3 seconds meanwhile: never idle
    while time.monotonic() < last_activity + IDLE + 5:
        assert "Logged in as bilal " in busy.rerun().shown
        time.sleep(IDLE / 3)

    assert refused(c.get(media).status), "media answer a session idle past the limit"
    assert refused(c.get(report).status), "a report built before stays fetchable after the idle limit"
    assert refused(c.put_file(target, "family.jpg", PHOTO).status), "an idle session's upload address takes a file"
    again, why = c.download(page.widget(key="export_html"), timeout=60)
    assert not again or refused(c.get(again).status), f"an idle session downloaded the report ({why})"
    seen = c.rerun()  # its open websocket: the way to the login form, nothing of the case
    assert "Cousin of the idle test" not in seen.text and "Candidate" not in seen.text
    assert "facematch: log in" in seen.text and "without activity" in seen.text
    r = c.get("/")
    assert r.status == 303 and r.header("Location").startswith("/_door/login"), (r.status, r.headers)
    replay = StreamlitClient(url)
    replay.cookies.update(cookies)
    with pytest.raises(Exception, match="403"):
        replay.connect()
    login_page = replay.get("/_door/login")  # the form says why, and drops the dead cookie
    assert b"without activity" in login_page.body
    assert [v for v in login_page.cookies_set() if v.startswith("fm_door=;") and "Max-Age=0" in v]
    assert "Logged in as bilal " in busy.rerun().shown  # the other session never stopped


def test_in_chromium_the_login_survives_a_reload_and_an_idle_page_leaves_the_screen(idle_server, tmp_path):
    """A real browser: the login cookie is out of the page's reach (HttpOnly); a reload keeps the login; a page
    left open past the idle limit goes to the login form by itself (the workbench's timer), saying why, and
    the case is gone from the screen."""
    from facematch import i18n
    from team_driver import TeamBrowser, chrome, need_browser

    need_browser()
    url = idle_server.replace("127.0.0.1", "localhost")
    d = chrome(tmp_path / "chrome")
    b = TeamBrowser(d, url, timeout=180)
    try:
        d.get(url + "/_door/login?lang=ug")  # the login page in Uyghur: right to left, in the shipped Arabic font
        b.text_appears(i18n.translations("ug").gettext("Account name"))
        assert d.find_element("tag name", "html").get_attribute("dir") == "rtl"
        loaded = d.execute_async_script(
            "const done = arguments[0]; document.fonts.load('16px \"facematch Noto Sans Arabic\"', 'ئ')"
            ".then(f => done(f.length), () => done(0));"
        )
        assert loaded, "the login page could not load the shipped Arabic-script font"
        b.login("cw", PW)
        assert "fm_door" not in d.execute_script("return document.cookie")  # HttpOnly: no script reads it
        b.create_case("Aunt of the browser idle test")
        d.get(d.current_url)  # a reload: still logged in, on the case
        b.text_appears("Logged in as cw")
        b.text_appears("Case: Aunt of the browser idle test")
        assert "/_door/login" not in d.current_url
        opened = time.monotonic()
        b.wait.until(lambda d: "/_door/login" in d.current_url)  # left alone: the page goes to the login form
        waited = time.monotonic() - opened
        b.text_appears("without activity")
        assert "Aunt of the browser idle test" not in b.body()
        assert waited > IDLE - 5, f"the page left after {waited:.0f} s, before the idle limit"
        d.get(url)  # and the cookie no longer opens the workbench
        b.text_appears("facematch: log in")
        assert d.find_elements("xpath", "//input[@aria-label='Password']")
    except Exception:
        print("failure screenshot:", b.shot(tmp_path / "failure.png"), "\n", b.body()[:2000])
        raise
    finally:
        d.quit()


def test_guessing_a_password_is_throttled_per_address_and_never_locks_the_owner_out(team_server):
    """Issue 22, items 3 and 4, through the served login form: 24 wrong passwords for one account at once from one
    address (as a proxy in front reports it, X-Forwarded-For, trusted from this machine only) are judged at most
    5 times; the owner's right password from another address gets in at once, while the guessing address waits."""
    url, _ = team_server
    guesser = {"X-Forwarded-For": "203.0.113.7"}

    def guess(n: int) -> bytes:
        r = StreamlitClient(url).door_login("guessed", f"wrong-{n}", headers=guesser)
        assert r.status in (401, 303) and r.status != 303, r.status  # never logged in
        return r.body

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(guess, range(24)))
    judged = sum(b"Wrong name or password." in a for a in answers)
    assert 1 <= judged <= 5, judged  # before: every guess judged, the stored count 1 (a race)
    assert judged + sum(b"wait" in a.lower() for a in answers) == 24  # the rest told to wait, not judged
    owner = StreamlitClient(url).door_login("guessed", PW, headers={"X-Forwarded-For": "198.51.100.9"})
    assert owner.status == 303  # before: five tries locked the account for everyone
    again = StreamlitClient(url).door_login("guessed", PW, headers=guesser)
    assert again.status == 401 and b"wait" in again.body.lower()  # the guessing address waits, even with it
