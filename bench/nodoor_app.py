"""bench/team_load.py only: the team workbench with the front door taken out, to measure what the door costs.

NEVER serve this to anyone. It has no login: a browser that sets the cookie `bench_user=<account name>` IS that
account. It keeps only what the workbench needs to know who is logged in (the door's handshake header naming a
door session, which the app reads from st.user), and drops everything the door checks on every request and
websocket message: the login cookie, idle and disabled sessions, media aliases, upload ownership, no-store,
refused internals. So "with the door" minus "without" is the door's own cost, everything else equal (team mode,
accounts, access checks, two reviewers, the families' data encrypted). It refuses to start unless
FACEMATCH_BENCH_NO_DOOR=1 (team_load.py sets it) and it is not part of the package.

    streamlit run bench/nodoor_app.py <serve.SETTINGS flags>    (team_load.py starts it)
"""

import os
import threading
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware
from streamlit import config

from facematch.access import Accounts
from facematch.app import door
from facematch.store import Database

if os.environ.get("FACEMATCH_BENCH_NO_DOOR") != "1" or os.environ.get("FACEMATCH_TEAM") != "1":
    raise SystemExit("bench/nodoor_app.py is a benchmark's server without a login: bench/team_load.py starts it")

config.set_option("server.trustedUserHeaders", {door.HEADER: door.USER_KEY})


class BenchIdentity:
    """The websocket handshake gets the door header of the account the `bench_user` cookie names (one door session
    per account, so a reconnect resumes its Streamlit session); nothing else is looked at."""

    def __init__(self, app) -> None:
        self.app = app
        self.handles: dict[str, str] = {}
        self.lock = threading.Lock()
        self.accounts = Accounts(Database(Path(os.environ["FACEMATCH_INDEX"])))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":
            name = door._cookies(scope).get("bench_user", "")
            with self.lock:
                if name and name not in self.handles and (account := self.accounts.get(name)) is not None:
                    self.handles[name] = door.DOORS.open(account)[1].handle
                handle = self.handles.get(name)
            headers = [(k, v) for k, v in scope["headers"] if k != door._HEADER_B]
            if handle:
                headers.append((door._HEADER_B, handle.encode()))
            scope = dict(scope, headers=headers)
        await self.app(scope, receive, send)


app = st.App(door.WORKBENCH, middleware=[Middleware(BenchIdentity)])
