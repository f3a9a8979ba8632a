"""Who is deciding. In team mode (`facematch app --team` sets FACEMATCH_TEAM=1): the login page before anything
else (a facematch password, or the organisation's OpenID Connect provider), who is logged in and a way out, and
the people of a case (who has it, two reviewers, giving it to someone). In single-user mode: the reviewer's typed
name. The library checks the idle timeout, the account and access on every call (access.py, review.py); this
only asks and shows.
"""

from __future__ import annotations

import os

import streamlit as st

from .. import access, messages
from ..access import AccessDenied, Account, Accounts, LoginRefused
from ..i18n import N_, _
from ..messages import isolate as iso
from ..review import Review
from ..search import Searcher
from .language import in_this_language
from .text import alert, caption, md, plain


def team_mode() -> bool:
    """`facematch app --team` sets FACEMATCH_TEAM=1 for the server: a login before anything else."""
    return os.environ.get("FACEMATCH_TEAM") == "1"


def oidc_mode() -> bool:
    """FACEMATCH_OIDC=1 (with an [auth] table in .streamlit/secrets.toml): log in through the organisation's
    OpenID Connect provider with Streamlit's st.login instead of a facematch password (README, Team server)."""
    return os.environ.get("FACEMATCH_OIDC") == "1"


def login(s: Searcher) -> Account:
    """Team mode: the account of this browser session, or the login page (and nothing else) until there is one.

    The session's login lives in this session's own state; the library checks the idle timeout and that the
    account is still enabled on every run (access.Accounts.resume), and every case call checks access.
    """
    accounts = Accounts(s.index.db)
    state = st.session_state
    session = state.get("login_session")
    if session is not None:
        try:
            return accounts.resume(session)
        except AccessDenied as e:
            for key in list(state.keys()):  # nothing of the old session survives it: cases, photos, widgets
                del state[key]
            if oidc_mode() and st.user.is_logged_in:
                st.logout()  # else the provider's cookie would log an idle session straight back in
            state["login_message"] = str(e)
    st.title(_("facematch: log in"))
    st.markdown(
        _(
            "This facematch server is shared by an organisation. Log in with the account an admin gave you: "
            "you see only the cases you opened or were given."
        )
    )
    if message := state.pop("login_message", None):
        alert("warning", message)
    if oidc_mode():
        oidc_login(accounts)
        st.stop()
    with st.form("login", clear_on_submit=True):
        name = st.text_input(_("Account name"), key="login_name", autocomplete="username")
        password = st.text_input(_("Password"), type="password", key="login_password", autocomplete="current-password")
        if st.form_submit_button(_("Log in")):
            try:
                state["login_session"] = accounts.login(name, password)
                st.rerun()
            except LoginRefused as e:
                st.error(plain(e))
    caption(messages.caveat())
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the run


def oidc_login(accounts: Accounts) -> None:
    """The organisation's login: st.login sends the person to the identity provider; back here, st.user holds
    the provider's claims, and the facematch account named by the email claim gives the role and the cases."""
    if not st.user.is_logged_in:
        st.button(_("Log in with your organisation"), key="oidc_login", on_click=st.login)
        return
    who = str(st.user.get("email") or "")
    try:
        st.session_state["login_session"] = accounts.login_verified(who)
    except LoginRefused as e:
        st.error(plain(e))
        st.button(_("Log out of the organisation's login"), key="oidc_logout", on_click=st.logout)
        return
    st.rerun()


def log_out() -> None:
    """Button callback: forget everything of this session (login, case, photos, widgets) and the address, except
    the language the page is in (the login page that follows speaks it too)."""
    lang = st.session_state.get("lang")
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.query_params.clear()
    if lang is not None:
        st.session_state["pending_lang"] = lang
    if oidc_mode() and st.user.is_logged_in:
        st.logout()


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
