"""`facematch app --team` runs this file with `streamlit run`: the workbench as an `st.App` with the door in front
(door.py). Streamlit finds the `app = st.App(...)` below and serves it with uvicorn; its own routes and middleware
sit behind the door's. Single-user mode (`facematch app`) runs run.py directly, as before.
"""

import os

import streamlit as st
from starlette.middleware import Middleware
from streamlit import config

from facematch.app import door

if os.environ.get("FACEMATCH_TEAM") != "1" or not os.environ.get("FACEMATCH_INDEX"):  # set by serve.environment
    raise SystemExit("door_app.py serves a team server: start it with facematch app --team")

# The door's handle reaches the app as st.user[door.USER_KEY], from the handshake header only the door can set
# (it drops any copy a client sends); Streamlit also binds each of its sessions to it (no resume across logins).
config.set_option("server.trustedUserHeaders", {door.HEADER: door.USER_KEY})

app = st.App(door.WORKBENCH, middleware=[Middleware(door.Door)])
