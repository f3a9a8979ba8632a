"""A raw Streamlit client for attack tests: it speaks Streamlit's own protocol (protobuf BackMsg up, ForwardMsg
down, over /_stcore/stream) and plain HTTP, with a cookie jar it controls, so a test can do what a browser
never would: replay another session's id, send a widget value no widget offers, upload with no cookie, fetch
a media address computed or copied from elsewhere, ask for a download after its account was disabled.

    c = StreamlitClient("http://127.0.0.1:8501")
    c.door_login("amina", PW)             # the door's login form (team mode with the door); or
    c.connect(); page = c.rerun()         # a Streamlit session; page.widgets, page.texts, page.media ...
    page = c.set(page.widget("Account name"), "amina") ...

Nothing here knows facematch's pages except through labels the tests pass in.
"""

from __future__ import annotations

import http.client
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import urlencode, urljoin, urlsplit

from streamlit.proto.BackMsg_pb2 import BackendOperationRequest, BackMsg, DeferredFileRequestPayload
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Common_pb2 import FileUploaderState, FileURLsRequest, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

XSRF = "_streamlit_xsrf"
MEDIA = re.compile(rb"/media/[0-9a-zA-Z]+(?:\.[0-9a-z]+)?")


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies_set(self) -> list[str]:
        return [v for k, v in self.headers if k.lower() == "set-cookie"]


@dataclass
class Widget:
    kind: str  # the Element field: button, text_input, file_uploader, download_button, radio, ...
    id: str
    label: str
    proto: object

    @property
    def key(self) -> str:
        """The user key Streamlit puts at the end of a widget id ($$ID-<hash>-<key>)."""
        return self.id.rsplit("-", 1)[-1] if self.id.startswith("$$ID-") else ""


@dataclass
class Page:
    """What one script run sent to this client."""

    msgs: list = field(default_factory=list)
    raw: bytes = b""  # every ForwardMsg's bytes, concatenated: search it for anything that must never arrive
    texts: list[str] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    exceptions: list = field(default_factory=list)
    finished: bool = False

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    @property
    def shown(self) -> str:
        """The text as a person reads it: the app escapes Markdown in every label and name (`Case\\: ...`)."""
        return re.sub(r"\\(.)", r"\1", self.text)

    @property
    def media(self) -> list[str]:
        return sorted({m.decode() for m in MEDIA.findall(self.raw)})

    def widget(self, label: str | None = None, key: str | None = None, kind: str | None = None) -> Widget:
        for w in self.widgets:
            if (label is None or w.label == label) and (key is None or w.key == key) and (kind in (None, w.kind)):
                return w
        have = [(w.kind, w.label, w.key) for w in self.widgets]
        raise KeyError(f"no widget label={label!r} key={key!r} kind={kind!r}; have {have}")


def _strings(msg, out: list[str]) -> None:
    """Every string inside a protobuf message (what a page could show), depth first."""
    for fd, value in msg.ListFields():
        if fd.type == fd.TYPE_STRING:
            out.extend(value if fd.is_repeated else [value])
        elif fd.type == fd.TYPE_MESSAGE:
            for v in value if fd.is_repeated else [value]:
                _strings(v, out)


def finished(msg: ForwardMsg) -> bool:
    """The end of a script run that is not followed by another (st.rerun ends a run "early for rerun")."""
    return msg.WhichOneof("type") == "script_finished" and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN


class StreamlitClient:
    """One attacker (or one person): a cookie jar, at most one websocket, the widget states it sends."""

    def __init__(self, base: str, timeout: float = 120.0) -> None:
        self.base = base.rstrip("/")
        parts = urlsplit(self.base)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port or (443 if self.https else 80)
        self.cookies: dict[str, str] = {}
        self.timeout = timeout
        self.ws = None
        self.session_id: str | None = None
        self.states: dict[str, WidgetState] = {}
        self.query_string = ""
        self.ssl_context = None
        self.last_page: Page | None = None  # what a download received (the page a bare rerun drew, if any)

    # -- HTTP ---------------------------------------------------------------------------------------
    def _conn(self):
        if self.https:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self.ssl_context)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                cookies: bool = True) -> Response:  # fmt: skip
        conn = self._conn()
        h = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if cookies and self.cookies:
            h["Cookie"] = self.cookie_header()
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        resp = Response(r.status, r.getheaders(), r.read())
        conn.close()
        for raw in resp.cookies_set():
            c = SimpleCookie()
            c.load(raw)
            for name, morsel in c.items():
                expired = morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"])
                if expired or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return resp

    def get(self, path: str, **kw) -> Response:
        return self.request("GET", path, **kw)

    def follow(self, path: str, limit: int = 5) -> Response:
        """GET, following redirects on this server (as a browser would, cookies and all)."""
        for _ in range(limit):
            r = self.get(path)
            if r.status not in (301, 302, 303, 307, 308):
                return r
            loc = r.header("Location") or "/"
            path = urlsplit(urljoin(self.base + path, loc)).path + (
                "?" + urlsplit(loc).query if urlsplit(loc).query else ""
            )
        return r

    def xsrf(self) -> str:
        """Streamlit's XSRF token (its cookie, set by the health endpoint)."""
        if XSRF not in self.cookies:
            self.get("/_stcore/health")
        return self.cookies.get(XSRF, "")

    # -- the door (facematch team mode) ---------------------------------------------------------------
    def door_login(self, name: str, password: str, next_path: str = "/", headers: dict | None = None) -> Response:
        """Log in through the door's own form (GET for its CSRF token, then POST); `headers` go with both (e.g. an
        X-Forwarded-For that a proxy in front would add)."""
        page = self.get("/_door/login?" + urlencode({"next": next_path}), headers=headers)
        m = re.search(rb'name="csrf" value="([^"]+)"', page.body)
        form = {"name": name, "password": password, "next": next_path, "csrf": m.group(1).decode() if m else ""}
        return self.request(
            "POST", "/_door/login", body=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": self.base, **(headers or {})},
        )  # fmt: skip

    # -- the websocket ------------------------------------------------------------------------------
    def connect(self, existing_session_id: str | None = None, cookies: bool = True, query_string: str = ""):
        """Open /_stcore/stream as Streamlit's frontend does: subprotocols [streamlit, xsrf token, session id to
        resume]. Raises if the server refuses the upgrade."""
        from websockets.sync.client import connect

        token = self.xsrf() if cookies else ""
        protocols = ["streamlit", token or "x"] + ([existing_session_id] if existing_session_id else [])
        headers = {"Origin": self.base}
        if cookies and self.cookies:
            headers["Cookie"] = self.cookie_header()
        scheme = "wss" if self.https else "ws"
        self.ws = connect(
            f"{scheme}://{self.host}:{self.port}/_stcore/stream",
            subprotocols=protocols,
            additional_headers=headers,
            open_timeout=self.timeout,
            max_size=None,
            ssl=self.ssl_context if self.https else None,
        )
        self.query_string = query_string
        return self

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
            self.ws = None

    def send(self, msg: BackMsg) -> None:
        self.ws.send(msg.SerializeToString())

    def receive(self, until, timeout: float | None = None) -> Page:
        """ForwardMsgs until `until(msg)` is true (or the connection closes / time runs out)."""
        page = Page()
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            try:
                data = self.ws.recv(timeout=max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            except Exception:  # closed by the server
                page.finished = False
                break
            msg = ForwardMsg()
            msg.ParseFromString(data)
            page.msgs.append(msg)
            page.raw += data
            self._take(msg, page)
            if until(msg):
                page.finished = True
                break
        return page

    def _take(self, msg: ForwardMsg, page: Page) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":  # a script run starts: what the page shows is this run's (raw keeps all)
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            page.texts, page.widgets, page.exceptions = [], [], page.exceptions
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            which = el.WhichOneof("type")
            if which is None:
                return
            body = getattr(el, which)
            if which == "exception":
                page.exceptions.append(body)
            strings: list[str] = []
            _strings(body, strings)
            page.texts.extend(s for s in strings if s)
            if hasattr(body, "id") and hasattr(body, "label") and body.id:
                page.widgets.append(Widget(which, body.id, body.label, body))

    def rerun(self, **values) -> Page:
        """A script run with the widget states this client holds (plus `values`: widget id -> value), read to its
        end. Trigger values (buttons) are sent once."""
        for wid, value in values.items():
            self.put(wid, value)
        msg = BackMsg(
            rerun_script=ClientState(
                query_string=self.query_string,
                widget_states=WidgetStates(widgets=list(self.states.values())),
                page_script_hash="",
            )
        )
        self.send(msg)
        for wid in [w for w, s in self.states.items() if s.WhichOneof("value") == "trigger_value"]:
            del self.states[wid]
        return self.receive(finished)

    def put(self, wid: str, value) -> None:
        """Set one widget's state as the frontend would: True for a button press, str, int, float, list[str]."""
        if isinstance(value, WidgetState):
            self.states[wid] = value
        elif value is True:
            self.states[wid] = WidgetState(id=wid, trigger_value=True)
        elif isinstance(value, bool):
            self.states[wid] = WidgetState(id=wid, bool_value=value)
        elif isinstance(value, int):
            self.states[wid] = WidgetState(id=wid, int_value=value)
        elif isinstance(value, float):
            self.states[wid] = WidgetState(id=wid, double_value=value)
        elif isinstance(value, str):
            self.states[wid] = WidgetState(id=wid, string_value=value)
        else:
            raise TypeError(type(value))

    def click(self, widget: Widget, **values) -> Page:
        return self.rerun(**{widget.id: True}, **values)

    # -- uploads and downloads ----------------------------------------------------------------------
    def upload_url(self, name: str) -> str:
        """Ask the server for an upload address (FileURLsRequest), as the uploader does before a PUT."""
        rid = uuid.uuid4().hex
        self.send(
            BackMsg(file_urls_request=FileURLsRequest(request_id=rid, file_names=[name], session_id=self.session_id))
        )
        page = self.receive(lambda m: m.WhichOneof("type") == "file_urls_response", timeout=30)
        (resp,) = [m.file_urls_response for m in page.msgs if m.WhichOneof("type") == "file_urls_response"]
        return resp.file_urls[0].upload_url

    def put_file(self, upload_url: str, name: str, data: bytes, cookies: bool = True) -> Response:
        """PUT a file to an upload address (multipart, with the XSRF header the frontend adds)."""
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                f"Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if cookies:
            headers["X-Xsrftoken"] = self.xsrf()
        path = urlsplit(upload_url).path
        return self.request("PUT", path, body=body, headers=headers, cookies=cookies)

    def upload(self, widget: Widget, name: str, data: bytes) -> Page:
        """Upload a photo into a file_uploader and rerun with it, as the browser does."""
        url = self.upload_url(name)
        r = self.put_file(url, name, data)
        assert r.status in (200, 204), (r.status, r.body[:300])
        file_id = url.rstrip("/").rsplit("/", 1)[-1]
        info = UploadedFileInfo(name=name, size=len(data), file_id=file_id)
        info.file_urls.file_id = file_id
        info.file_urls.upload_url = url
        info.file_urls.delete_url = url
        self.put(
            widget.id, WidgetState(id=widget.id, file_uploader_state_value=FileUploaderState(uploaded_file_info=[info]))
        )
        return self.rerun()

    def download(self, widget: Widget, timeout: float = 60) -> tuple[str, str]:
        """Press a download button whose file is built on click (a deferred download: a backend request, no
        rerun): returns (url, error) as the server answered. A script run instead of an answer (what the door
        makes of an ended session's request: a bare rerun) or nothing within `timeout` returns ("", why).
        This client never sends the browser's timer reruns, so a run that arrives here is the request's."""
        b = widget.proto
        if not b.deferred_file_id:
            return b.url, ""
        rid = uuid.uuid4().hex
        self.send(
            BackMsg(backend_operation_request=BackendOperationRequest(
                request_id=rid, session_id=self.session_id or "",
                deferred_file=DeferredFileRequestPayload(file_id=b.deferred_file_id)))
        )  # fmt: skip

        def answered(m: ForwardMsg) -> bool:
            kind = m.WhichOneof("type")
            return (kind == "backend_operation_response" and m.backend_operation_response.request_id == rid) or (
                finished(m)
            )

        page = self.receive(answered, timeout=timeout)
        self.last_page = page
        for m in page.msgs:
            if m.WhichOneof("type") == "backend_operation_response":
                r = m.backend_operation_response
                return r.deferred_file.url, r.error_msg
        if any(finished(m) for m in page.msgs):
            return "", "a script run instead of the download"
        return "", "no answer (connection closed or dropped)"


def json_of(r: Response):
    return json.loads(r.body or b"null")
