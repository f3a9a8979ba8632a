"""Who is deciding. In team mode (`facematch app --team` sets FACEMATCH_TEAM=1): the account of this browser's
login, which is the door's (door.py: its own login form or the organisation's OpenID Connect provider, a cookie
checked on every request and websocket message), who is logged in and a way out, and the people of a case (who
has it, two reviewers, giving it to someone). In single-user mode: the reviewer's typed name. The door ends
sessions (logout, idle, disabled); the library checks the account and access on every call (access.py,
review.py); this only asks and shows.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlencode

import streamlit as st

from .. import access, i18n, messages
from ..access import AccessDenied, Account, Accounts
from ..i18n import N_, _
from ..messages import isolate as iso
from ..review import Review
from ..search import Searcher
from .door import DOORS, LOGOUT, USER_KEY
from .language import in_this_language
from .text import alert, caption, md, plain

#: How often an open page asks the door whether its session has ended (idle, disabled, logged out in another
#: tab), without counting as activity: once a minute, or more often with a shorter idle limit (tests).
WATCH_SECONDS = max(5, min(60, DOORS.idle // 2))


def team_mode() -> bool:
    """`facematch app --team` sets FACEMATCH_TEAM=1 for the server: a login before anything else."""
    return os.environ.get("FACEMATCH_TEAM") == "1"


def door_handle() -> str | None:
    """Team mode: this browser session's door session (door.py), as the door told Streamlit in the websocket's
    handshake (st.user, from a header the door sets and no page can); None when there is no door in front."""
    handle = st.user.get(USER_KEY)
    return handle if isinstance(handle, str) and handle else None


def login(s: Searcher) -> Account:
    """Team mode: the account of this browser session's door session, or a page that sends the browser to the
    door's login form (and shows nothing else).

    The login is the door's (door.py: its cookie, checked on every request and websocket message); the app only
    asks the door which account that is, on every run: ended (logout), idle, or the account disabled since, and
    this session's state is dropped and the browser goes back to the door. Every case call checks access.
    """
    accounts = Accounts(s.index.db)
    state = st.session_state
    handle = door_handle()
    try:
        if handle is None:
            raise AccessDenied(
                _("This team server was started without its login page: start it with facematch app --team.")
            )
        account = DOORS.account(handle, accounts)
    except AccessDenied as e:
        if "door_handle" in state:  # it was logged in: nothing of the session survives it (cases, photos, widgets)
            lang = state.get("lang")
            for key in list(state.keys()):
                del state[key]
            if lang is not None:
                state["pending_lang"] = lang
            st.rerun()  # the page is drawn again from the emptied state
        logged_out(str(e))
        raise AssertionError("unreachable") from None  # logged_out() stops the run
    state["door_handle"] = handle  # logged in: an end from now on empties this session's state
    session_watch(handle, accounts)
    return account


def logged_out(message: str) -> None:
    """The page of a session that ended (or never began): why, and the way to the door's login form (the
    browser is sent there at once; the link is for a browser that runs no script)."""
    st.title(_("facematch: log in"))
    if message:
        alert("warning", message)
    query = {k: v for k, v in st.query_params.to_dict().items() if k != "lang"}
    target = "/_door/login?" + urlencode({"lang": i18n.current(), "next": "/?" + urlencode(query) if query else "/"})
    label = _("Log in")
    st.markdown(f"[{label}]({target})")  # our own address, not typed text
    st.html(f"<script>window.location.replace({json.dumps(target)});</script>", unsafe_allow_javascript=True)
    caption(messages.caveat())
    st.stop()


@st.fragment(run_every=WATCH_SECONDS)
def session_watch(handle: str, accounts: Accounts) -> None:
    """Every WATCH_SECONDS, without counting as activity (the door does not count the browser's timer): a session
    that ended (idle, disabled, logged out elsewhere) takes the case off the screen and goes back to the login."""
    try:
        DOORS.account(handle, accounts)
    except AccessDenied:
        st.rerun(scope="app")


def log_out() -> None:
    """Button callback: end the door session (its cookie opens nothing more: pages, media, downloads), forget
    everything of this session (login, case, photos, widgets) and the address, except the language the page is
    in (the login page that follows speaks it too)."""
    DOORS.end(DOORS.by_handle(door_handle()), LOGOUT)
    lang = st.session_state.get("lang")
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.query_params.clear()
    if lang is not None:
        st.session_state["pending_lang"] = lang


def who_bar(rv: Review) -> None:
    """Team mode, in the page itself (a phone hides the side panel): who is logged in, and a way out."""
    a, b = st.columns([5, 1], vertical_alignment="center")
    caption(logged_in_as(rv.account), where=a)
    b.button(_("Log out"), key="logout_main", on_click=log_out)


#: The roles (access.ROLES), as the app names them.
ROLE_NAMES = {
    access.ADMIN: N_("admin"), access.CASEWORKER: N_("caseworker"), access.RESEARCHER: N_("researcher"),
    access.FAMILY: N_("family"),
}  # fmt: skip


def role_name(role: str) -> str:
    return _(ROLE_NAMES[role]) if role in ROLE_NAMES else role


def logged_in_as(account: Account) -> str:
    """ "Logged in as name (role)", in the page's language (plain text: show it with text.caption)."""
    return _("Logged in as {name} ({role})", name=iso(account.name), role=role_name(account.role))


def account_line(account: Account) -> str:
    """ "amina (family)": an account and its role."""
    return _("{name} ({role})", name=iso(account.name), role=role_name(account.role))


def who_decides(rv: Review, case_id: int | None) -> str:
    """The reviewer of this run's decisions, in the side panel: the logged-in account (with a way out), else the
    typed name of single-user mode."""
    if rv.account is not None:
        st.sidebar.markdown(plain(logged_in_as(rv.account)))
        st.sidebar.button(_("Log out"), key="logout", on_click=log_out)
        return rv.account.name
    return local_reviewer(rv, case_id)


def local_reviewer(rv: Review, case_id: int | None) -> str:
    """Single-user mode: the reviewer is a typed name, offered from the case's last decision."""
    state = st.session_state
    if "pending_reviewer" in state:  # a name typed in the decision form (the sidebar is hidden on a phone)
        state["reviewer"] = state.pop("pending_reviewer")
    offered = state.setdefault("reviewer_offered", set())  # once per case and session: a name cleared stays cleared
    if case_id is not None and case_id not in offered:
        offered.add(case_id)
        if not state.get("reviewer"):
            state["reviewer"] = rv.last_reviewer(case_id)
            state["reviewer_from_case"] = (case_id, state["reviewer"])
    reviewer = st.sidebar.text_input(_("Your name (saved with every decision)"), key="reviewer")
    if reviewer and (case_id, reviewer) == state.get("reviewer_from_case"):
        caption(_("Filled in from this case (its last reviewer): change it if you are someone else."), where=st.sidebar)
    return reviewer


def team_case_settings(rv: Review, case) -> None:
    """Team mode: who has this case (its owner first), the two-reviewer setting, and (admin) giving it to someone or
    taking it back. A family's case is never given to another family account (the library refuses it)."""
    with st.sidebar.expander(_("People and reviewers of this case")):
        people = rv.people(case.id)
        owner = rv.owner(case.id)
        caption(_("Created by: {account}", account=account_line(owner)) if owner else _("Created on the command line"))
        given = [a for a in people if owner is None or a.id != owner.id]
        caption(
            _("Given to: {names}", names=_(", ").join(account_line(a) for a in given))
            if given
            else _("Given to nobody else yet")
        )
        st.session_state[f"two_{case.id}"] = case.two_reviewers  # as the case is now (another account may change it)
        st.toggle(
            _("Two reviewers must confirm"), key=f"two_{case.id}",
            disabled=rv.account.role not in (access.ADMIN, access.CASEWORKER),
            help=_("A candidate counts as confirmed only when two different accounts confirmed it independently."),
            on_change=lambda: rv.set_two_reviewers(case.id, st.session_state[f"two_{case.id}"]),
        )  # fmt: skip
        if case.two_reviewers:
            caption(_("A family account sees the outcome once two reviewers have confirmed; it does not vote."))
        if not rv.account.is_admin:
            return
        family = next((a for a in people if a.role == access.FAMILY), None)
        held = {a.id for a in people}
        others = [a for a in rv.accounts.list() if not a.disabled and not a.is_admin and a.id not in held]
        if family is not None:  # one family's search is never shown to another family
            others = [a for a in others if a.role != access.FAMILY]
            caption(_("This is the case of the family account {name}: it cannot be given to another family account.",
                      name=iso(family.name)))  # fmt: skip
        by_name = {a.name: a for a in others}
        who = st.selectbox(
            _("Give this case to"), list(by_name), index=None, key=f"give_{case.id}",
            placeholder=_("Choose an account"), format_func=in_this_language(lambda n: account_line(by_name[n])),
        )  # fmt: skip
        if who and st.button(_("Give"), key=f"give_btn_{case.id}"):
            try:
                rv.give_case(case.id, who)
                st.rerun()
            except (AccessDenied, ValueError) as e:
                st.error(plain(e))
        for a in given:
            if st.button(_("Take this case back from {name}", name=md(a.name)), key=f"revoke_{case.id}_{a.id}"):
                rv.take_back(case.id, a.name)
                st.rerun()
