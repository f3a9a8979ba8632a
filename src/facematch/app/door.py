"""The front door of a team server: nothing of Streamlit answers a browser without the door's session cookie.

`facematch app --team` starts Streamlit on `door_app.py`, an `st.App` whose first middleware is `Door` (this
module), in the same process as Streamlit's server and the workbench script. Every HTTP request and the
websocket upgrade pass through it before anything of Streamlit sees them:

* **The cookie.** Logging in (the door's own small login page, `/_door/login`, or OpenID Connect through
  Streamlit's `/auth/login` and `/oauth2callback`) opens a `DoorSession` kept here, in memory, server-side, and
  sets a random token in an HttpOnly, SameSite=Strict cookie (`__Host-` prefixed and Secure behind HTTPS). No
  valid cookie: no page, no script, no websocket, no media, no upload; only the login page and the health probe.
* **The session is checked on every request and on every message of the websocket**, with the rule the library
  already has (`access.Accounts.resume`): ended (logout), idle for 30 minutes, or its account disabled (`facematch
  users disable`, written by another process into SQLite) ends it for pages, media, uploads and downloads at
  once. A websocket message of an ended session reaches Streamlit only as a bare rerun (no widget values, so no
  callback runs and no forged value is read): the app then shows that the session ended and sends the browser
  to the login page. Downloads (backend requests) and upload addresses of an ended session are dropped.
* **Identity reaches the app from the door, never from the page.** The door removes any `X-Facematch-Door`
  header a client sends and puts its session's handle (a random id that never leaves the server) in the
  websocket handshake. Streamlit copies it into `st.user` (`server.trustedUserHeaders`, set by door_app.py) and
  binds its own session to it: a Streamlit session id resumed under another door session is a new session.
  The app looks the handle up here (`DOORS.account`).
* **A Streamlit session belongs to the door session whose websocket it was created on.** The door learns its id
  from the first `new_session` message it sends; a resume of any other id is stripped from the handshake, and an
  upload to `/_stcore/upload_file/<id>/...` needs the cookie of the door session that owns `<id>`.
* **Media cannot be probed.** Streamlit names media by a hash of their bytes, so anyone could compute the address
  of an archive face and ask whether it is on someone's screen. The door rewrites every `/media/<id>` in the
  messages it sends to an alias keyed by the door session (HMAC with a key of that session, same length, so the
  protobuf framing holds), and serves `/media/<alias>` only to that session's cookie, with Cache-Control:
  no-store. A real id, or another session's alias, is "not found".
* **Always refused:** `/_stcore/metrics`, the agent API, the script health check, Streamlit's `/auth/logout`.
  Every response gets Cache-Control: no-store (Streamlit's own hashed JS/CSS and the fonts keep theirs), and
  behind HTTPS every cookie Streamlit sets (its XSRF cookie included) gets Secure.

Why here, in Streamlit's process, and not elsewhere:

* Caddy's `forward_auth` (the usual "auth proxy in front of Streamlit"): it exists only behind Caddy, while
  `facematch app --team` also runs without it and its loopback port is open to every user of the machine; it
  checks the websocket once, at the upgrade, so a session disabled or idle during a connection would go on
  (a download is a websocket message, not a request); and it cannot know which Streamlit session or media
  belong to which login, so cross-account media, computed media ids and cross-session uploads stay open.
* A proxy inside `facematch app`, Streamlit on a private socket: 1.67's st.App runner refuses Unix sockets, a
  loopback port can be reached around the proxy, and it would copy every websocket frame once more and still
  have to parse Streamlit's protocol for every check made here.
* `st.login`'s cookie as the session: valid 30 days and stateless (logout only deletes it from one browser),
  not Secure, never checked for idle or disabled accounts, read only at the websocket handshake (not for media
  or uploads), and OIDC only. The door takes it once after `/oauth2callback` and deletes it.

What this relies on in Streamlit 1.67 (tests/test_security.py fails if one changes): `st.App`'s user middleware
running before Streamlit's own; the websocket subprotocol convention (the third entry is the session id to
resume); `server.trustedUserHeaders` and `AppSession`'s binding to user info; the public protobuf messages
(BackMsg, ForwardMsg, `new_session.initialize.session_id`); media ids of 32 hex digits under `/media/`; for
OIDC, `encode_provider_token`, `decode_signed_value`, `get_cookie_with_chunks` and the cookie names.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from .. import access, i18n, messages
from ..access import AccessDenied, Account, Accounts, LoginRefused
from ..i18n import N_, _

#: The script st.App runs (serve.APP, which calls workbench.main); door_app.py is only the server around it.
WORKBENCH = Path(__file__).resolve().parent / "run.py"
#: The handshake header that carries the door session's handle to Streamlit (st.user[USER_KEY] in the app).
HEADER = "X-Facematch-Door"
USER_KEY = "facematch_door"
_HEADER_B = HEADER.lower().encode()
COOKIE, SECURE_COOKIE = "fm_door", "__Host-fm_door"
PRE_COOKIE = "fm_door_pre"  # the login form's CSRF pair (double submit), before there is a session
OIDC_COOKIE = "fm_door_oidc"  # "this browser has just asked to log in through the provider" (10 minutes)
OIDC_SECONDS = 600
#: Ended sessions are kept this long (to tell the browser why), then forgotten.
KEEP_ENDED = 3600
#: How long a session may do nothing before it must log in again: access.IDLE_SECONDS (30 minutes) unless the
#: server's environment sets FACEMATCH_IDLE_SECONDS, kept within IDLE_BOUNDS (a few seconds, for tests, up to a
#: working day: a forgotten browser must not stay logged in overnight). Read once per server process.
IDLE_ENV = "FACEMATCH_IDLE_SECONDS"
IDLE_BOUNDS = (5, 8 * 3600)

PUBLIC = {"/_stcore/health"}  # a liveness probe ("ok"): Caddy and `facematch app --check` use it
#: The shipped fonts (public Noto files, app/static/fonts): the login page needs them to show Uyghur and Chinese.
PUBLIC_FONTS = "/app/static/fonts/"
REFUSED = ("/_stcore/metrics", "/_stcore/agent", "/_stcore/script-health-check", "/auth/logout")
OIDC_ROUTES = ("/auth/login", "/oauth2callback")
#: Cacheable (no no-store): Streamlit's own JS/CSS (content-hashed names; behind the cookie, part of "the page")
#: and facematch's fonts (public, PUBLIC_FONTS).
CACHEABLE = ("/static/", "/app/static/fonts/")
MEDIA_ID = re.compile(rb"/media/([0-9a-f]{32})")  # Streamlit's ids: 32 hex (blake2b-16 or md5), any extension
ACTIVITY = {"rerun_script", "backend_operation_request", "file_urls_request"}


#: Why a session ended, and what a person reads then (msgids the library already has).
LOGOUT, IDLE, DISABLED = "logout", "idle", "disabled"
_REASONS = {
    LOGOUT: "",
    IDLE: N_("Your session ended after a while without activity. Please log in again."),
    DISABLED: N_("This account is disabled. Ask an admin."),
}


#: The library's answers to a refused login (access.py) that a person reads on the door's form, translated here.
_LOGIN_ANSWERS = frozenset({N_("Wrong name or password."), N_("This account is disabled. Ask an admin.")})


def login_answer(message: str) -> str:
    """A refused login's message in the active language when the catalog has it (else as the library said it)."""
    return _(message) if message in _LOGIN_ANSWERS else message


def reason_text(why: str | None) -> str:
    """Why a session ended, in the active language ("" for a logout: the login page needs no explanation)."""
    return _(_REASONS[why]) if _REASONS.get(why or "") else ""


def idle_seconds(environ=None, strict: bool = False) -> int:
    """The idle limit of this server's sessions, in seconds (IDLE_ENV, clamped to IDLE_BOUNDS; unset: 30 minutes).
    A value that is not a whole number is an error with strict (the CLI, before the server starts), else the
    default (a server never starts with a longer limit than asked for: IDLE_BOUNDS caps it)."""
    raw = (os.environ if environ is None else environ).get(IDLE_ENV, "").strip()
    if not raw:
        return access.IDLE_SECONDS
    try:
        seconds = int(raw)
    except ValueError:
        if strict:
            raise ValueError(
                _("{name} must be a whole number of seconds, not {value}", name=IDLE_ENV, value=repr(raw))
            ) from None
        return access.IDLE_SECONDS
    return min(max(seconds, IDLE_BOUNDS[0]), IDLE_BOUNDS[1])


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class DoorSession:
    """One login at one browser: who, since when, and what of Streamlit belongs to it."""

    handle: str  # server-side id, given to the app and to Streamlit, never to the browser
    login: access.Session  # the account and its last activity (access.Accounts.resume's rule)
    csrf: str  # the logout form's token
    key: bytes  # the key of this session's media aliases
    created: float = field(default_factory=time.time)
    ended: str | None = None  # why it ended: LOGOUT, IDLE or DISABLED; None while it lasts
    ended_at: float = 0.0
    streamlit_ids: set[str] = field(default_factory=set)
    media: dict[str, str] = field(default_factory=dict)  # alias -> Streamlit's media id

    def alias(self, media_id: str) -> str:
        alias = hmac.new(self.key, media_id.encode(), hashlib.sha256).hexdigest()[: len(media_id)]
        self.media[alias] = media_id
        return alias


class Doors:
    """The door sessions of this server process (the door and the app share it: one process)."""

    def __init__(self, idle: int | None = None) -> None:
        self.idle = idle_seconds() if idle is None else idle
        self._lock = threading.Lock()
        self._by_token: dict[str, DoorSession] = {}
        self._by_handle: dict[str, DoorSession] = {}
        self._oidc: dict[str, tuple[float, str]] = {}  # nonce digest -> (expiry, where to go after)

    def open(self, account: Account, now: float | None = None) -> tuple[str, DoorSession]:
        """A new session for an account that has just proved who it is; returns (cookie token, session)."""
        now = time.time() if now is None else now
        token = secrets.token_urlsafe(32)
        s = DoorSession(
            secrets.token_hex(16), access.Session(account.id, now), secrets.token_urlsafe(16), secrets.token_bytes(32)
        )
        with self._lock:
            self._prune(now)
            self._by_token[_digest(token)] = s
            self._by_handle[s.handle] = s
        return token, s

    def _prune(self, now: float) -> None:
        for digest, s in list(self._by_token.items()):
            gone = s.ended and now - s.ended_at > KEEP_ENDED
            if gone or now - s.login.last_seen > self.idle + KEEP_ENDED:
                del self._by_token[digest]
                self._by_handle.pop(s.handle, None)
        for nonce, (expiry, _next) in list(self._oidc.items()):
            if expiry < now:
                del self._oidc[nonce]

    def by_token(self, token: str | None) -> DoorSession | None:
        return self._by_token.get(_digest(token)) if token else None

    def by_handle(self, handle: str | None) -> DoorSession | None:
        return self._by_handle.get(handle) if handle else None

    def check(self, s: DoorSession, accounts: Accounts, touch: bool = False, now: float | None = None) -> Account:
        """The account of a live session (touch: this was the person's doing, so the idle clock restarts), else
        AccessDenied with the words a person may read, in the active language; the session then stays ended.
        The rule is access.Accounts.resume's: idle too long (self.idle), or the account disabled since (checked in
        SQLite on every call, so `facematch users disable` in another process takes effect at the next request)."""
        now = time.time() if now is None else now
        account = None if s.ended else accounts.by_id(s.login.account_id)  # outside the lock: a SQLite read
        with self._lock:
            if not s.ended and now - s.login.last_seen > self.idle:
                self._end(s, IDLE)
            if not s.ended and (account is None or account.disabled):
                self._end(s, DISABLED)
            if s.ended:
                raise AccessDenied(reason_text(s.ended))
            if touch:
                s.login.last_seen = now
            return account  # type: ignore[return-value]

    def account(self, handle: str | None, accounts: Accounts, touch: bool = False) -> Account:
        """The app's question: the account of the door session with this handle (from st.user), or AccessDenied."""
        s = self.by_handle(handle)
        if s is None:
            raise AccessDenied(reason_text(IDLE))
        return self.check(s, accounts, touch)

    def end(self, s: DoorSession | None, why: str = "logout") -> None:
        """End a session now (logout): its cookie opens nothing from here on, media and downloads included."""
        if s is None:
            return
        with self._lock:
            self._end(s, why)

    @staticmethod
    def _end(s: DoorSession, why: str) -> None:
        if not s.ended:
            s.ended, s.ended_at = why, time.time()
        s.media.clear()
        s.streamlit_ids.clear()

    # -- OpenID Connect: the provider's answer is taken only by the browser that asked, within 10 minutes --------
    def oidc_nonce(self, next_path: str) -> str:
        nonce = secrets.token_urlsafe(24)
        with self._lock:
            self._oidc[_digest(nonce)] = (time.time() + OIDC_SECONDS, next_path)
        return nonce

    def take_oidc_nonce(self, nonce: str | None) -> str | None:
        """The path to go to after an OIDC login, if this nonce was given out and has not expired (used once)."""
        if not nonce:
            return None
        with self._lock:
            expiry, next_path = self._oidc.pop(_digest(nonce), (0.0, "/"))
        return next_path if expiry > time.time() else None


#: The one registry of this process.
DOORS = Doors()


def oidc_mode() -> bool:
    return os.environ.get("FACEMATCH_OIDC") == "1"


def safe_next(path: str | None) -> str:
    """Only a path on this server (no //host, no scheme, no backslash): never an open redirect."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path or "\r" in path or "\n" in path:
        return "/"
    if path.startswith("/_door/") or path.startswith("/_stcore/"):
        return "/"
    return path


# -- small ASGI helpers ------------------------------------------------------------------------------------------
def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _cookies(scope) -> dict[str, str]:
    """The request's cookies, parsed as Starlette parses them for Streamlit (quoted values unquoted)."""
    from starlette.requests import cookie_parser

    for k, v in scope.get("headers", []):
        if k == b"cookie":
            return cookie_parser(v.decode("latin-1"))
    return {}


def _https(scope) -> bool:
    """Behind Caddy, uvicorn's proxy headers (X-Forwarded-Proto from 127.0.0.1) make the scheme https/wss."""
    return scope.get("scheme") in ("https", "wss")


def cookie_name(scope) -> str:
    return SECURE_COOKIE if _https(scope) else COOKIE


def _set_cookie(name: str, value: str, scope, max_age: int | None = None, same_site: str = "Strict") -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", f"SameSite={same_site}"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if _https(scope):
        parts.append("Secure")
    return "; ".join(parts)


def _clear_cookie(name: str, scope) -> str:
    return _set_cookie(name, "", scope, max_age=0)


async def _respond(
    send,
    status: int,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    content_type: str = "text/plain; charset=utf-8",
) -> None:
    h = [
        ("content-type", content_type),
        ("content-length", str(len(body))),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        *(headers or []),
    ]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in h],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive, limit: int = 16384) -> bytes:
    body = b""
    while True:
        msg = await receive()
        if msg["type"] != "http.request":
            return body
        body += msg.get("body", b"")
        if len(body) > limit:
            return b""
        if not msg.get("more_body"):
            return body


# -- the login page -------------------------------------------------------------------------------------------------
def page_language(scope) -> str:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    asked = query.get("lang", []) + [
        part.split(";", 1)[0].strip() for part in _headers(scope).get("accept-language", "").split(",")
    ]
    for code in asked:
        norm = i18n.normalize(code) if code and code != "*" else None
        if norm in i18n.available():
            return norm
    return i18n.SOURCE


def login_page(lang: str, next_path: str, csrf: str, message: str = "", oidc: bool = False) -> bytes:
    """The door's login form, in the page's language; nothing of any case, nothing of Streamlit."""
    e = html.escape
    with i18n.language(lang):
        langs = " · ".join(
            f'<a href="/_door/login?{e(urlencode({"lang": c, "next": next_path}))}" lang="{i18n.html_lang(c)}">'
            f"{e(i18n.display_name(c))}</a>"
            for c in i18n.available()
        )
        title, language = e(_("facematch: log in")), e(_("Language"))
        if oidc:
            organisation = e(_("Log in with your organisation"))
            form = (
                f'<form method="get" action="/_door/oidc"><input type="hidden" name="next" value="{e(next_path)}">'
                f'<button type="submit"><p>{organisation}</p></button></form>'
            )
        else:
            name, password, log_in = e(_("Account name")), e(_("Password")), e(_("Log in"))
            form = (
                f'<form method="post" action="/_door/login" autocomplete="on">'
                f'<input type="hidden" name="csrf" value="{e(csrf)}">'
                f'<input type="hidden" name="next" value="{e(next_path)}">'
                f'<input type="hidden" name="lang" value="{e(lang)}">'
                f'<label>{name}<input name="name" aria-label="{name}" autocomplete="username" required '
                f'maxlength="64"></label>'
                f'<label>{password}<input name="password" type="password" aria-label="{password}" '
                f'autocomplete="current-password" required maxlength="1024"></label>'
                f'<button type="submit"><p>{log_in}</p></button></form>'
            )
        intro = _(
            "This facematch server is shared by an organisation. Log in with the account an admin gave you: "
            "you see only the cases you opened or were given."
        )
        warn = f'<p class="warn" role="alert">{e(message)}</p>' if message else ""
        return f"""<!doctype html>
<html lang="{i18n.html_lang(lang)}" dir="{i18n.direction(lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<title>{title}</title>
<link rel="stylesheet" href="/app/static/fonts/fonts.css">
<style>
body {{ font-family: 'Source Sans', 'facematch Noto Sans Arabic', 'facematch Noto Sans SC', sans-serif;
       max-width: 34rem; margin: 2rem auto; padding: 0 1rem; color: #31333f; line-height: 1.5; }}
label {{ display: block; margin: 0.8rem 0; }} input {{ display: block; width: 100%; font-size: 1rem; padding: 0.4rem; }}
button {{ font-size: 1rem; padding: 0.3rem 1rem; }} button p {{ margin: 0; }}
.warn {{ background: #fff3cd; padding: 0.6rem; }} small {{ color: #555; }}
</style></head><body>
<nav aria-label="{language}">{langs}</nav>
<h1>{title}</h1>
<p>{e(intro)}</p>{warn}{form}
<p><small>{e(messages.caveat())}</small></p>
</body></html>""".encode()


# -- the middleware -----------------------------------------------------------------------------------------------
class Door:
    """ASGI middleware in front of everything Streamlit serves (st.App(middleware=[Middleware(Door)]))."""

    def __init__(self, app, doors: Doors = DOORS, index: Path | None = None) -> None:
        self.app = app
        self.doors = doors
        self._index = index
        self._accounts: Accounts | None = None
        self._accounts_lock = threading.Lock()

    def accounts(self) -> Accounts:
        """The accounts of the served index (its own Database: read connections per thread, one writer)."""
        if self._accounts is None:
            with self._accounts_lock:
                if self._accounts is None:
                    from ..store import Database

                    folder = self._index or Path(os.environ["FACEMATCH_INDEX"])  # serve.environment sets it
                    self._accounts = Accounts(Database(folder))
        return self._accounts

    def session(self, scope, touch: bool = False) -> DoorSession | None:
        """The live session of this request's cookie, or None."""
        s = self.doors.by_token(_cookies(scope).get(cookie_name(scope)))
        if s is None:
            return None
        try:
            self.doors.check(s, self.accounts(), touch=touch)
            return s
        except AccessDenied:
            return None

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":
            return await self.websocket(scope, receive, send)
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        scope = dict(scope, headers=[(k, v) for k, v in scope["headers"] if k != _HEADER_B])
        path = scope["path"]
        if path.startswith("/_door/"):
            return await self.door_route(scope, receive, send)
        if path in PUBLIC or (path.startswith(PUBLIC_FONTS) and "/.." not in path and "\\" not in path):
            return await self.app(scope, receive, self.wrap_http_send(scope, send))
        if path.startswith(REFUSED) or (path.startswith(OIDC_ROUTES) and not oidc_mode()):
            return await _respond(send, 404, b"not found")
        if path.startswith(OIDC_ROUTES):  # the provider's round trip, before there is a session (st.login's routes)
            return await self.app(scope, receive, self.wrap_http_send(scope, send))
        s = self.session(scope, touch=path == "/")
        if s is None and oidc_mode() and path == "/":
            return await self.oidc_arrival(scope, send)
        if s is None:
            if scope["method"] == "GET" and path == "/":  # a page: to the login form, the address kept
                qs = scope.get("query_string", b"").decode("latin-1")
                target = "/_door/login?" + urlencode({"next": "/" + ("?" + qs if qs else "")})
                return await _respond(send, 303, b"", [("location", target)])  # the login page says why and drops it
            return await _respond(send, 401, b"log in first")
        if path.startswith("/media/"):
            name = path[len("/media/") :]
            alias, dot, ext = name.partition(".")
            real = s.media.get(alias)
            if real is None:
                return await _respond(send, 404, b"not found")  # the same answer for "never existed" and "not yours"
            real_path = f"/media/{real}{dot}{ext}"
            scope = dict(scope, path=real_path, raw_path=real_path.encode())
        elif path.startswith("/_stcore/upload_file/"):
            parts = path.split("/")
            if len(parts) < 5 or parts[3] not in s.streamlit_ids:
                return await _respond(send, 403, b"not your session")
        return await self.app(scope, receive, self.wrap_http_send(scope, send))

    def wrap_http_send(self, scope, send):
        """Cache-Control: no-store on everything but Streamlit's hashed assets and the fonts; Secure on every
        cookie behind HTTPS (Streamlit sets its XSRF cookie without it)."""
        https = _https(scope)
        cacheable = scope["path"].startswith(CACHEABLE)

        async def wrapped(message) -> None:
            if message["type"] == "http.response.start":
                headers = []
                for k, v in message.get("headers", []):
                    if k.lower() == b"cache-control" and not cacheable:
                        continue
                    if k.lower() == b"set-cookie" and https and b"secure" not in v.lower():
                        v = v + b"; Secure"
                    headers.append((k, v))
                if not cacheable:
                    headers.append((b"cache-control", b"no-store"))
                message = dict(message, headers=headers)
            await send(message)

        return wrapped

    # -- /_door/... ---------------------------------------------------------------------------------------------------
    async def door_route(self, scope, receive, send) -> None:
        path, method = scope["path"], scope["method"]
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        lang = page_language(scope)
        if path == "/_door/login" and method == "GET":
            return await self.show_login(scope, send, lang, safe_next(query.get("next", ["/"])[0]))
        if path == "/_door/login" and method == "POST":
            return await self.do_login(scope, receive, send)
        if path == "/_door/logout" and method == "POST":
            body = parse_qs((await _read_body(receive)).decode("utf-8", "replace"))
            s = self.doors.by_token(_cookies(scope).get(cookie_name(scope)))
            token = body.get("csrf", [""])[0].encode()
            if s is not None and hmac.compare_digest(token, s.csrf.encode()) and self.same_origin(scope):
                self.doors.end(s, LOGOUT)
            return await _respond(
                send, 303, b"", [("location", "/_door/login"), ("set-cookie", _clear_cookie(cookie_name(scope), scope))]
            )
        if path == "/_door/oidc" and method == "GET" and oidc_mode():
            from streamlit.auth_util import encode_provider_token

            nonce = self.doors.oidc_nonce(safe_next(query.get("next", ["/"])[0]))
            target = "/auth/login?" + urlencode({"provider": encode_provider_token("default")})
            return await _respond(
                send,
                303,
                b"",
                [("location", target), ("set-cookie", _set_cookie(OIDC_COOKIE, nonce, scope, OIDC_SECONDS, "Lax"))],
            )
        return await _respond(send, 404, b"not found")

    async def show_login(self, scope, send, lang: str, next_path: str, message: str = "", status: int = 200) -> None:
        cookies = _cookies(scope)
        headers = []
        s = self.doors.by_token(cookies.get(cookie_name(scope)))
        if s is not None:  # a cookie that no longer opens anything: say why, once, and drop it
            if not message:
                with i18n.language(lang):
                    try:
                        self.doors.check(s, self.accounts())
                    except AccessDenied as e:
                        message = str(e)
            headers.append(("set-cookie", _clear_cookie(cookie_name(scope), scope)))
        csrf = secrets.token_urlsafe(24)
        headers.append(("set-cookie", _set_cookie(PRE_COOKIE, csrf, scope, 3600)))
        body = login_page(lang, next_path, csrf, message, oidc=oidc_mode())
        await _respond(send, status, body, headers, "text/html; charset=utf-8")

    def same_origin(self, scope) -> bool:
        """A form posted from this site: the Origin the browser sends names this host. Under Referrer-Policy
        no-referrer (Caddyfile) Chrome sends "null" or nothing; the form's token, paired with a SameSite=Strict
        cookie no other site can read or send, is the check that always holds."""
        h = _headers(scope)
        origin = h.get("origin")
        return origin in (None, "null") or urlsplit(origin).netloc == h.get("host", "")

    async def do_login(self, scope, receive, send) -> None:
        from starlette.concurrency import run_in_threadpool

        form = parse_qs((await _read_body(receive)).decode("utf-8", "replace"))
        get = lambda k: form.get(k, [""])[0]  # noqa: E731
        lang = i18n.normalize(get("lang")) or page_language(scope)
        lang = lang if lang in i18n.available() else i18n.SOURCE
        next_path = safe_next(get("next"))
        pre = _cookies(scope).get(PRE_COOKIE, "")
        if not pre or not hmac.compare_digest(pre.encode(), get("csrf").encode()) or not self.same_origin(scope):
            with i18n.language(lang):
                refused = login_answer("Wrong name or password.")
            return await self.show_login(scope, send, lang, next_path, refused, 403)
        address = (scope.get("client") or ("",))[0] or None  # uvicorn's: X-Forwarded-For from a proxy it trusts

        def authenticate() -> Account:
            with i18n.language(lang):  # the library's refusal (a wait, a disabled account) in the form's language
                return self.accounts().authenticate(get("name"), get("password"), address=address)

        try:  # argon2 and the deliberate slowdowns run off the event loop
            account = await run_in_threadpool(authenticate)
        except (LoginRefused, ValueError) as e:
            with i18n.language(lang):
                refused = login_answer(str(e))
            return await self.show_login(scope, send, lang, next_path, refused, 401)
        token, _s = self.doors.open(account)
        if "lang=" not in next_path:  # the language chosen on this form, until the account's own applies
            next_path += ("&" if "?" in next_path else "?") + urlencode({"lang": lang})
        await _respond(
            send,
            303,
            b"",
            [
                ("location", next_path),
                ("set-cookie", _set_cookie(cookie_name(scope), token, scope)),
                ("set-cookie", _clear_cookie(PRE_COOKIE, scope)),
            ],
        )

    async def oidc_arrival(self, scope, send) -> None:
        """Back from the provider (/oauth2callback set Streamlit's signed identity cookie and sent the browser to
        /): if this browser asked for it within 10 minutes, the facematch account named by the email claim gets a
        door session; Streamlit's identity cookie is then removed (the door's cookie is the only login)."""
        import json

        from streamlit.auth_util import get_cookie_with_chunks
        from streamlit.web.server.server_util import get_cookie_secret
        from streamlit.web.server.starlette.starlette_app_utils import decode_signed_value
        from streamlit.web.server.starlette.starlette_server_config import TOKENS_COOKIE_NAME, USER_COOKIE_NAME

        cookies = _cookies(scope)
        lang = page_language(scope)
        clear = [
            ("set-cookie", _clear_cookie(n, scope))
            for n in cookies
            if n.startswith((USER_COOKIE_NAME, TOKENS_COOKIE_NAME, OIDC_COOKIE))
        ]
        next_path = self.doors.take_oidc_nonce(cookies.get(OIDC_COOKIE))
        secret = get_cookie_secret()

        def single(name: str):
            raw = cookies.get(name)
            return None if raw is None else decode_signed_value(secret, name, raw.encode("latin-1"))

        raw = get_cookie_with_chunks(single, USER_COOKIE_NAME) if next_path else None
        if raw is None:
            qs = scope.get("query_string", b"").decode("latin-1")
            target = "/_door/login?" + urlencode({"next": "/" + ("?" + qs if qs else "")})
            return await _respond(send, 303, b"", [("location", target), *clear])
        try:
            who = str(json.loads(raw).get("email") or "")
            with i18n.language(lang):
                verified = self.accounts().login_verified(who)  # no account, or a disabled one: LoginRefused
            token, _s = self.doors.open(self.accounts().by_id(verified.account_id))  # type: ignore[arg-type]
        except LoginRefused as e:
            with i18n.language(lang):
                body = login_page(lang, "/", "", login_answer(str(e)), oidc=True)
            return await _respond(send, 403, body, clear, "text/html; charset=utf-8")
        # Not a redirect: this response ends a chain of redirects that began on the provider's site, and the
        # browser would not send a SameSite=Strict cookie on it. A page of this site that moves on is same-site.
        target = html.escape(next_path)
        body = f'<!doctype html><meta http-equiv="refresh" content="0;url={target}"><a href="{target}">facematch</a>'
        await _respond(
            send,
            200,
            body.encode(),
            [("set-cookie", _set_cookie(cookie_name(scope), token, scope)), *clear],
            "text/html; charset=utf-8",
        )

    # -- the websocket ------------------------------------------------------------------------------------------------
    async def websocket(self, scope, receive, send) -> None:
        s = self.session(scope)
        if s is None or scope["path"] != "/_stcore/stream":
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})  # before accept: the handshake gets 403
            return
        headers = [(k, v) for k, v in scope["headers"] if k != _HEADER_B]
        headers.append((_HEADER_B, s.handle.encode()))
        for i, (k, v) in enumerate(headers):  # resume only a Streamlit session of this door session
            if k == b"sec-websocket-protocol":
                entries = [e.strip() for e in v.decode("latin-1").split(",")]
                if len(entries) >= 3 and entries[2] not in s.streamlit_ids:
                    headers[i] = (k, ", ".join(entries[:2]).encode("latin-1"))
        scope = dict(scope, headers=headers)
        accounts = self.accounts()
        doors = self.doors
        learned = False

        async def guarded_receive():
            from streamlit.proto.BackMsg_pb2 import BackMsg

            message = await receive()
            if message["type"] != "websocket.receive" or message.get("bytes") is None:
                return message
            try:
                msg = BackMsg.FromString(message["bytes"])
            except Exception:
                return message  # Streamlit closes the connection on a frame that is no BackMsg
            kind = msg.WhichOneof("type")
            touch = kind in ACTIVITY and not (kind == "rerun_script" and msg.rerun_script.is_auto_rerun)
            try:
                doors.check(s, accounts, touch=touch)
                return message
            except AccessDenied:
                pass
            # An ended session reaches Streamlit only as a bare rerun: no widget value (so no callback runs and
            # no forged value is read), no download, no upload address. The app then shows that the session
            # ended and sends the browser to the login page.
            bare = BackMsg()
            if kind == "rerun_script":
                r = msg.rerun_script
                bare.rerun_script.query_string = r.query_string
                bare.rerun_script.page_script_hash = r.page_script_hash
                bare.rerun_script.fragment_id = r.fragment_id
                bare.rerun_script.is_auto_rerun = r.is_auto_rerun
            else:
                bare.rerun_script.query_string = ""
            return dict(message, bytes=bare.SerializeToString())

        async def guarded_send(message) -> None:
            nonlocal learned
            if message["type"] == "websocket.send" and message.get("bytes"):
                data = message["bytes"]
                if not learned:
                    learned = self._learn_session_id(s, data)
                if b"/media/" in data:
                    data = MEDIA_ID.sub(lambda m: b"/media/" + s.alias(m.group(1).decode()).encode(), data)
                    message = dict(message, bytes=data)
            await send(message)

        await self.app(scope, guarded_receive, guarded_send)

    @staticmethod
    def _learn_session_id(s: DoorSession, data: bytes) -> bool:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            msg = ForwardMsg.FromString(data)
        except Exception:
            return False
        if msg.WhichOneof("type") == "new_session" and msg.new_session.initialize.session_id:
            s.streamlit_ids.add(msg.new_session.initialize.session_id)
            return True
        return False
