"""facematch review workbench (Streamlit): search an archive with a family photo, compare, decide.

`facematch app` runs app/run.py with Streamlit (it lives in the package, so a plain `pip install .`
can start it from any folder); the project's `app.py` is the same two lines for `streamlit run app.py`.
The app only shows and asks: every face, index, search, decision and report operation is a call into the
facematch library.

Every word on the screen goes through the message catalog (i18n.py) in the language picked at the top of
the page (Uyghur, Turkish, Chinese or English): remembered in the address (?lang=) and, in team mode, for
the account. Uyghur is laid out right to left; names, file names and numbers inside its sentences are
isolated so they keep their own direction. The fonts that render Uyghur and Chinese ship with facematch
(app/static/fonts, docs/fonts.md), so a computer without them shows real letters, not boxes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from .. import access, combined, demo, faces, filters, fonts, i18n, images, messages, records, report, thumbs
from ..access import AccessDenied, Account, Accounts, LoginRefused
from ..combined import Combined, Facts
from ..crosscheck import link
from ..engines import Face
from ..i18n import N_, _, ngettext
from ..index import Index
from ..indexing import index_folder
from ..messages import isolate as iso
from ..names import THRESHOLD
from ..review import CONFIRM, CONFIRMED, REJECT, REJECTED, KeptPhoto, Review, Verdict, parse_year
from ..search import QueryPhoto, Searcher
from ..vault import VaultError

#: The texts below keep their English (the catalog's msgids); each is translated where it is shown, with _().
PAGE = 50
#: The two pages: cases (a family's search) and the archive cross-checked against itself (link.py). The values
#: are the widget's (English, stable across languages); the picker shows them translated.
PAGES = ("Cases", "Cross-check")
PAGE_NAMES = {"Cases": N_("Cases"), "Cross-check": N_("Cross-check")}
#: The cross-check's exports (link.export: crosscheck-pairs.csv, ...), as their download buttons name them.
EXPORT_NAMES = {
    "pairs": N_("Candidate pairs"), "groups": N_("Groups"), "duplicates": N_("Duplicate images"),
    "decisions": N_("Decisions on pairs"),
}  # fmt: skip
#: Candidate cards per row, laid out row by row so a phone (where columns stack) keeps the rank order.
PER_ROW = 4
#: Largest side of the face-picking preview: large enough to see and tap small faces in a group photo.
PREVIEW_SIDE = 1000
#: On a narrow screen (a phone, 390 px): two candidate cards per row instead of one long column, the two
#: aligned faces side by side, and the compare pair no wider than a printed photo on a wide screen.
STYLE = """<style>
.st-key-pair { max-width: 640px; }
@media (max-width: 640px) {
  .st-key-cards [data-testid="stHorizontalBlock"] { flex-wrap: wrap; gap: 0.75rem; }
  .st-key-cards [data-testid="stColumn"] { flex: 1 1 calc(50% - 0.75rem) !important;
                                           min-width: calc(50% - 0.75rem) !important; }
  .st-key-pair [data-testid="stHorizontalBlock"] { flex-wrap: nowrap; gap: 0.5rem; }
  .st-key-pair [data-testid="stColumn"] { flex: 1 1 0 !important; min-width: 0 !important; }
  h1 { font-size: 1.8rem !important; }
}
</style>"""
#: Right to left (Uyghur): the page's text, the sidebar and the candidate grid (Streamlit's columns are flex rows,
#: which follow `direction`) flow from the right. Inputs and text areas also start on the right.
RTL_STYLE = """<style>
[data-testid="stMain"], [data-testid="stSidebar"], [data-testid="stBottom"] { direction: rtl; text-align: right; }
[data-testid="stMain"] [data-testid="stElementContainer"], [data-testid="stSidebar"] [data-testid="stElementContainer"],
[data-testid="stMain"] h1, [data-testid="stMain"] h2, [data-testid="stMain"] h3, [data-testid="stSidebar"] h1,
[data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"] { text-align: right; }
[data-testid="stMain"] input, [data-testid="stMain"] textarea, [data-testid="stSidebar"] input,
[data-testid="stSidebar"] textarea { direction: rtl; text-align: right; }
[data-testid="stMarkdownContainer"] ul, [data-testid="stMarkdownContainer"] ol { padding-right: 1.2em;
                                                                                  padding-left: 0; }
[data-testid="stAlertContentInfo"], [data-testid="stAlertContentWarning"], [data-testid="stAlertContentSuccess"],
[data-testid="stAlertContentError"] { direction: rtl; text-align: right; }
bdi, .fm-iso { unicode-bidi: isolate; }
</style>"""
#: Where the shipped fonts are served from (Streamlit serves app/static beside run.py, serve.SETTINGS).
FONT_URL = "app/static/fonts"
#: Streamlit writes some English of its own, with no setting to change it: the file uploader ("Drag and drop files
#: here", "Upload", "200MB per file • JPG, …"), "Press Enter to apply" under a text field, and the "Skip to main
#: content" link for keyboards. In another language those texts are hidden and ours is shown in their place (CSS
#: ::after content, from the catalog; it reads the same to the eye and to a screen reader).
UPLOADER_STYLE = """<style>
[data-testid="stFileUploaderDropzoneInstructions"] > div > span,
[data-testid="stFileUploaderDropzoneInstructions"] > div > small {{ display: none; }}
[data-testid="stFileUploaderDropzoneInstructions"] > div::after {{ content: "{drop}"; }}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p,
[data-testid="stFileUploaderDropzone"] button > div > span:not([data-testid="stIconMaterial"]) {{ font-size: 0; }}
[data-testid="stFileUploaderDropzone"] button > div::after {{ content: "{upload}"; font-size: 1rem; }}
[data-testid="InputInstructions"] {{ display: none; }}
[data-testid="stSkipToContent"] {{ font-size: 0; }}
[data-testid="stSkipToContent"]::after {{ content: "{skip}"; font-size: 1rem; }}
</style>"""


@dataclass
class Chosen:
    """A family photo in use for the search: the face chosen in it and about when it was taken."""

    query: QueryPhoto
    face: Face
    year: int | None
    name: str


def index_dir() -> Path:
    return Path(os.environ.get("FACEMATCH_INDEX", "index/demo"))


def team_mode() -> bool:
    """`facematch app --team` sets FACEMATCH_TEAM=1 for the server: a login before anything else."""
    return os.environ.get("FACEMATCH_TEAM") == "1"


def oidc_mode() -> bool:
    """FACEMATCH_OIDC=1 (with an [auth] table in .streamlit/secrets.toml): log in through the organisation's
    OpenID Connect provider with Streamlit's st.login instead of a facematch password (README, Team server)."""
    return os.environ.get("FACEMATCH_OIDC") == "1"


# -- language ---------------------------------------------------------------------------------------
def decision_form(
    form: str,
    choices: tuple[str, ...],
    keys: tuple[str, str, str],
    note_label: str,
    unchosen: str,
    reviewer: str,
    *,
    ask_name: bool,
    close: str,
    record: Callable[[str, str, str], object],
) -> None:
    """The one decision form of the workbench (a candidate in a case, a pair in the cross-check): a choice, a
    note, the reviewer's name when nobody is known yet, and `record(choice, who, note)`. The library checks the
    decision; its refusal (ValueError) is shown, and nothing is written. `close` is the session key of the
    compare view the decision ends."""
    with st.form(form):
        choice = st.radio(
            _("Your decision"), list(choices), index=None, key=keys[0],
            format_func=in_this_language(messages.decision_choice),
        )  # fmt: skip
        note = st.text_input(note_label, key=keys[1])
        who = reviewer
        if not reviewer.strip() and ask_name:
            who = st.text_input(_("Your name (saved with this decision)"), key=keys[2])
        if st.form_submit_button(_("Record decision")):
            try:
                if choice is None:
                    raise ValueError(unchosen)
                record(choice, who, note)
                if who != reviewer:
                    st.session_state["pending_reviewer"] = who
                st.session_state.pop(close, None)
                st.rerun()
            except ValueError as e:
                st.error(str(e))


def score_text(x: float) -> str:
    """A similarity score with three decimals, written as the language writes decimals (0.512, 0,512)."""
    if i18n.current() == i18n.SOURCE:
        return f"{x:.3f}"
    from babel.numbers import format_decimal

    return iso(format_decimal(x, format="0.000", locale=i18n.locale()))


def number(n: int) -> str:
    """A count with the language's digit grouping (1,204 / 1.204), isolated in a right-to-left sentence."""
    return iso(i18n.format_number(n))


def in_this_language(show):
    """A widget's format_func that speaks this run's language wherever Streamlit calls it (it may call it later,
    outside this run's context, e.g. to match a value to its shown option)."""
    code = i18n.current()

    def shown(value) -> str:
        with i18n.language(code):
            return show(value)

    return shown


def browser_language() -> str | None:
    """The language the browser asks for: navigator.language (st.context.locale), else the first language of
    the Accept-Language header that facematch speaks; None when it asks for none of them."""
    asked = [getattr(st.context, "locale", None) or ""]
    header = st.context.headers.get("Accept-Language", "") if st.context.headers else ""
    asked += [part.split(";", 1)[0].strip() for part in header.split(",")]
    for code in asked:
        norm = i18n.normalize(code) if code and code != "*" else None
        if norm in i18n.available():
            return norm
    return None


def first_language() -> str:
    """A new browser session's language: the address (?lang=, kept by a reload or a bookmark), else the
    browser's, else the server's environment (LANG), else English."""
    wanted = i18n.normalize(st.query_params.get("lang", ""))
    for code in (wanted, browser_language(), i18n.from_environment()):
        if code in i18n.available():
            return code
    return i18n.SOURCE


def language_picker() -> str:
    """The language of this run, chosen at the top of every page (the sidebar is folded away on a phone), and
    made active for every word below. Remembered in the address (?lang=); in team mode also for the account
    (remember_language, once logged in). A language set by a login (the account's) arrives as pending_lang,
    because a widget's value cannot change after the widget is drawn in a run."""
    state = st.session_state
    pending = state.pop("pending_lang", None)
    if pending in i18n.available():
        state["lang"] = pending
    if state.get("lang") not in i18n.available():
        state["lang"] = first_language()
    code = i18n.set_language(state["lang"])
    with st.container(key="lang_picker"):
        st.segmented_control(
            _("Language"), i18n.available(), format_func=i18n.display_name, key="lang", required=True,
            label_visibility="collapsed",
        )  # fmt: skip
    st.query_params["lang"] = code
    return code


def remember_language(accounts: Accounts, account: Account) -> None:
    """Team mode: the account's language. At login the account's own choice wins (pending_lang, applied at the
    top of the next run); a change in the picker afterwards is saved for the account."""
    state = st.session_state
    code = i18n.current()
    if state.get("lang_account") != account.id:  # just logged in (or a new session of a logged-in account)
        state["lang_account"] = account.id
        saved = accounts.language(account)
        if saved in i18n.available() and saved != code:
            state["pending_lang"] = saved
            st.rerun()
        state["lang_saved"] = saved
    if state.get("lang_saved") != code:
        accounts.set_language(account, code)
        state["lang_saved"] = code


def page_style() -> None:
    """The CSS for this run's language: the fonts that render Uyghur and Chinese (shipped, static/fonts), right to
    left for Uyghur, and our words in place of the file uploader's English."""
    st.html(STYLE + fonts.css(FONT_URL))
    if i18n.is_rtl():
        st.html(RTL_STYLE)
    if i18n.current() != i18n.SOURCE:
        drop = _("Drag and drop photos here, or choose them with the button")
        upload = _("Choose photos")
        skip = _("Skip to the page's content")
        st.html(UPLOADER_STYLE.format(drop=css_text(drop), upload=css_text(upload), skip=css_text(skip)))


def css_text(text: str) -> str:
    """Text for a CSS content: "..." string (quotes and backslashes escaped, no line breaks)."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


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
        st.warning(message)
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
                st.error(str(e))
    st.caption(messages.caveat())
    st.stop()
    raise AssertionError("unreachable")  # st.stop() ends the run


@st.cache_resource(show_spinner=False)  # the spinner's text would be in one language for everyone: main says it
def ensure_demo(folder: str) -> None:
    """With no index configured, the demo gallery is indexed once so the app has something to search."""
    path = Path(folder)
    gallery = demo.build_gallery(path / "photos")
    index_folder(gallery, path, workers=1, records_csv=demo.records_csv(), progress=False)


@st.cache_resource(show_spinner=False)
def searcher(folder: str) -> Searcher:
    """One open index and engine for every browser session: the Searcher is safe to share between threads
    (a read connection per thread, one write path, the engine used by one thread at a time).

    A team server unlocks the families' data here, once, with the passphrase `facematch app --team` asked for
    (and checked) before it started this process; it is then removed from this process's environment."""
    s = Searcher(Path(folder))
    if team_mode():
        try:
            s.index.unlock(os.environ.pop("FACEMATCH_PASSPHRASE", None))
        except VaultError:
            s.close()
            raise
    return s


@st.cache_data(max_entries=1000, show_spinner=False)
def pair_thumb(path_a: str, box_a: tuple, path_b: str, box_b: tuple) -> bytes:
    """Both faces of a cross-check pair in one picture, side by side (on a phone too)."""
    crops = [thumbs.crop(thumbs.load_full(Path(p)), b) for p, b in ((path_a, box_a), (path_b, box_b))]
    return thumbs.jpeg_bytes(thumbs.side_by_side(*crops))


@st.cache_data(max_entries=2000, show_spinner=False)
def face_thumb(path: str, box: tuple) -> bytes:
    """Archive face crops are cut once per process, not on every rerun."""
    return thumbs.jpeg_bytes(thumbs.crop(thumbs.load_full(Path(path)), box))


def sidebar(rv: Review) -> tuple[int | None, str]:
    """Who is deciding and which case is open. The open case is mirrored in the address (?case=N), so a
    reload or a bookmark comes back to it; the name is offered from the case's last decision (in team mode
    the logged-in account is the reviewer, and a case the account may not open is never selected)."""
    st.sidebar.title("facematch")
    st.sidebar.caption(_("The tool suggests candidates. People decide."))
    state = st.session_state
    if "page" not in state:  # the address says which page (?page=crosscheck), so a reload comes back to it
        state["page"] = PAGES[1] if st.query_params.get("page") == "crosscheck" else PAGES[0]
    if rv.account is None or rv.account.role in access.CROSS_CHECK_ROLES:
        st.sidebar.radio(
            _("Page"), PAGES, key="page", horizontal=True, format_func=in_this_language(lambda p: _(PAGE_NAMES[p]))
        )
    # a family account is not offered the cross-check; asked for by address, the library refuses it (main)
    if state["page"] == PAGES[1]:
        st.query_params["page"] = "crosscheck"
    else:
        st.query_params.pop("page", None)
    if "case_select" not in state:  # a new browser session (a reload): the address says which case
        wanted = st.query_params.get("case", "")
        state["case_select"] = int(wanted) if wanted.isdigit() and rv.has_case(int(wanted)) else None
    pending = state.pop("pending_case", None)
    if pending is not None:  # a case created or opened on the last run becomes the selected one
        state["case_select"] = pending
    case_id = state.get("case_select")
    if case_id is not None and not rv.has_case(case_id):  # tampered widget state or a case taken away
        state["case_select"] = case_id = None
    if rv.account is not None:
        reviewer = rv.account.name
        st.sidebar.markdown(logged_in_as(rv.account))
        st.sidebar.button(_("Log out"), key="logout", on_click=log_out)
    else:
        reviewer = local_reviewer(rv, case_id)
    show_closed = st.sidebar.toggle(_("Show closed cases"), key="show_closed")
    cases = {c.id: c for c in rv.cases(include_closed=show_closed)}
    if case_id is not None and case_id not in cases:  # the open case stays listed even when closed
        cases[case_id] = rv.case(case_id)
    st.sidebar.selectbox(
        _("Case (one missing person)"),
        list(cases),
        index=None,
        format_func=in_this_language(
            lambda i: iso(cases[i].name) if cases[i].is_open else _("{name} (closed)", name=iso(cases[i].name))
        ),
        placeholder=_("Choose a case"),
        key="case_select",
    )
    case_id = state.get("case_select")
    if case_id != state.get("shown_case"):
        state["shown_case"] = case_id
        state.pop("compare", None)
    if case_id is None:
        st.query_params.pop("case", None)
    else:
        st.query_params["case"] = str(case_id)
    with st.sidebar:
        new_case_form(rv, reviewer, "sidebar")
    if case_id is not None:
        case = rv.case(case_id)
        if rv.account is not None:
            team_case_settings(rv, case)
        with st.sidebar.expander(_("Rename or close this case")):
            new_name = st.text_input(_("New name"), value=case.name, key=f"rename_{case_id}")
            if st.button(_("Rename"), key="rename_btn") and new_name.strip() != case.name:
                rv.rename_case(case_id, new_name)
                st.rerun()
            if case.is_open and st.button(_("Close case"), key="close_btn"):
                rv.close_case(case_id)
                st.rerun()
            if not case.is_open and st.button(_("Reopen case"), key="reopen_btn"):
                rv.reopen_case(case_id)
                st.rerun()
    st.sidebar.divider()
    st.sidebar.caption(messages.caveat())
    return case_id, reviewer


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
        st.error(str(e))
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
    a.caption(logged_in_as(rv.account))
    b.button(_("Log out"), key="logout_main", on_click=log_out)


#: The roles (access.ROLES), as the app names them.
ROLE_NAMES = {
    access.ADMIN: N_("admin"), access.CASEWORKER: N_("caseworker"), access.RESEARCHER: N_("researcher"),
    access.FAMILY: N_("family"),
}  # fmt: skip


def logged_in_as(account: Account) -> str:
    """ "Logged in as **name** (role)", in the page's language."""
    role = _(ROLE_NAMES[account.role]) if account.role in ROLE_NAMES else account.role
    return _("Logged in as **{name}** ({role})", name=iso(account.name), role=role)


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
        st.sidebar.caption(_("Filled in from this case (its last reviewer): change it if you are someone else."))
    return reviewer


def team_case_settings(rv: Review, case) -> None:
    """Team mode: who has this case, the two-reviewer setting, and (admin) giving it to someone."""
    with st.sidebar.expander(_("People and reviewers of this case")):
        given = rv.accounts.given(case.id)
        st.caption(
            _("Given to: {names}", names=_(", ").join(iso(g) for g in given))
            if given
            else _("Given to nobody else yet")
        )
        two = st.toggle(
            _("Two reviewers must confirm"), value=case.two_reviewers, key=f"two_{case.id}",
            disabled=rv.account.role not in (access.ADMIN, access.CASEWORKER),
            help=_("A candidate counts as confirmed only when two different accounts confirmed it independently."),
        )  # fmt: skip
        if two != case.two_reviewers:
            rv.set_two_reviewers(case.id, two)
            st.rerun()
        if rv.account.is_admin:
            others = [a.name for a in rv.accounts.list() if not a.disabled and a.name not in given]
            who = st.selectbox(
                _("Give this case to"), others, index=None, key=f"give_{case.id}", placeholder=_("Choose an account")
            )
            if who and st.button(_("Give"), key=f"give_btn_{case.id}"):
                rv.give_case(case.id, who)
                st.rerun()


def open_case(case_id: int | None) -> None:
    """Button callback (runs before the page, so it may set the case chooser): open a case, or None for the list."""
    st.session_state["case_select"] = case_id


def new_case_form(rv: Review, reviewer: str, where: str) -> None:
    """A case needs only a name; what the family knows is added on the case's page, in one place."""
    with st.form(f"new_case_{where}", clear_on_submit=True):
        st.markdown("**" + _("New case") + "**")
        name = st.text_input(
            _("Name or alias of the missing person"), key="new_case_name" if where == "sidebar" else f"new_case_{where}"
        )
        if st.form_submit_button(_("Create case")):
            try:
                case = rv.create_case(name, reviewer)
                st.session_state["pending_case"] = case.id
                st.rerun()
            except ValueError as e:
                st.error(str(e))


def start_page(s: Searcher, rv: Review, reviewer: str) -> None:
    """No case open: what this is, and (in the page itself, since a phone hides the sidebar) start or open one."""
    st.title(_("Search an archive for a missing relative"))
    st.markdown(
        _(
            "This archive index holds **{faces}**. Create a case for the person you are looking for, then upload a "
            "photo of them. facematch lists the most similar faces in the archive; **you** compare them and decide.",
            faces=messages.count(s.gallery_size, "face"),
        )
    )
    a, b = st.columns(2)
    with a:
        new_case_form(rv, reviewer, "main")
    with b:
        cases = rv.cases()
        if cases:
            st.markdown("**" + _("Open a case") + "**")
            for c in cases:
                st.button(c.name, key=f"open_{c.id}", on_click=open_case, args=(c.id,))
    st.warning(messages.caveat())


# -- what the family knows ----------------------------------------------------------------------
def facts_summary(facts: Facts, notes: str) -> str:
    bits = []
    if facts.names:
        bits.append(_("**Names:** {names}", names=" · ".join(iso(n) for n in facts.names)))
    if facts.birth_year:
        bits.append(
            _(
                "**Born:** about {year} (± {margin})",
                year=iso(facts.birth_year),
                margin=messages.count(facts.birth_year_margin, "year"),
            )
        )
    if facts.county:
        bits.append(_("**Home county:** {county}", county=iso(facts.county)))
    if notes.strip():
        bits.append(_("**Notes:** {notes}", notes=notes.strip()))
    return "  \n".join(bits)


def facts_section(rv: Review, case_id: int) -> tuple[Facts, float]:
    """Everything the family knows, in one place: shown, and editable in one form (notes included)."""
    facts, case = rv.facts(case_id), rv.case(case_id)
    st.subheader(_("What the family knows"))
    summary = facts_summary(facts, case.notes)
    st.markdown(summary or _("Nothing yet. Names (in any spelling), a birth year and a home county help find records."))
    with st.expander(_("Add or change what the family knows"), expanded=not summary):
        with st.form(f"facts_{case_id}"):
            names_text = st.text_area(
                _("Names, one per line, in any script or spelling (Uyghur, Chinese, Latin, Cyrillic…)"),
                value="\n".join(facts.names),
                key=f"facts_names_{case_id}",
            )
            a, b, c = st.columns(3)
            born = a.text_input(_("Birth year"), value=str(facts.birth_year or ""), key=f"facts_born_{case_id}")
            margin = b.number_input(_("± years"), 0, 20, value=facts.birth_year_margin, key=f"facts_margin_{case_id}")
            county = c.text_input(_("Home county"), value=facts.county, key=f"facts_county_{case_id}")
            notes = st.text_area(
                _("Notes (anything else the family knows)"), value=case.notes, key=f"facts_notes_{case_id}"
            )
            if st.form_submit_button(_("Save what the family knows")):
                try:
                    rv.set_facts(
                        case_id,
                        names=names_text.splitlines(),
                        birth_year=born,
                        birth_year_margin=int(margin),
                        county=county,
                        notes=notes,
                    )
                    st.rerun()
                except ValueError as e:
                    st.error(str(e))
        threshold = st.slider(
            _("How closely a name must agree (lower finds more spellings, and more other people)"),
            60,
            100,
            int(THRESHOLD),
            key=f"name_threshold_{case_id}",
        )
        st.caption(messages.names_caveat())
    return facts, float(threshold)


# -- the family's photos ------------------------------------------------------------------------
def photos_section(s: Searcher, rv: Review, case_id: int, facts: Facts) -> list[Chosen]:
    """The case's kept photos (there again when the family comes back) and new uploads; in each, the face
    that is their relative and about when it was taken. Returns the photos usable for the search."""
    st.subheader(_("Photos of your relative"))
    files = st.file_uploader(
        _("Add photos of your relative (one or more; JPEG, PNG, WebP, HEIC)"),
        type=["jpg", "jpeg", "png", "webp", "heic", "heif", "bmp", "tif", "tiff", "gif"],
        accept_multiple_files=True,
        key=f"upload_{case_id}",
    )
    keep = st.checkbox(
        _(
            "Keep these photos in this case, so they are here when you come back "
            "(stored on this computer without location or camera data)"
        ),
        key=f"keep_{case_id}",
    )
    kept_from = st.session_state.setdefault("kept_from_upload", {})  # upload sha256 -> kept copy's sha256
    uploads, first_name = [], {}
    for f in files or []:
        data = f.getvalue()
        sha = images.sha256_bytes(data)
        if sha in first_name:  # the same bytes twice would count one photo as two views of a person
            st.caption(
                _("{photo}: the same photo as {other}; used once.", photo=iso(f.name), other=iso(first_name[sha]))
            )
            continue
        first_name[sha] = f.name
        if keep and sha not in kept_from and usable(detect(s, data, f.name)):
            kept_from[sha] = rv.keep_photo(case_id, data, f.name).sha256
        uploads.append((f.name, data, sha))
    kept = rv.case_photos(case_id)
    kept_shas = {k.sha256 for k in kept}
    chosen: list[Chosen] = []
    for k in kept:
        try:
            data = rv.photo_bytes(case_id, k.sha256)
        except (OSError, VaultError) as e:
            st.error(_("The kept photo {photo} cannot be read: {error}", photo=iso(k.original_name), error=e))
            continue
        pick = photo_block(s, rv, case_id, k.original_name, data, k, facts.photo_year)
        chosen += [pick] if pick else []
    for name, data, sha in uploads:
        if kept_from.get(sha) in kept_shas:
            continue  # shown above as kept
        pick = photo_block(s, rv, case_id, name, data, None, facts.photo_year)
        chosen += [pick] if pick else []
    if not chosen and not uploads:
        st.info(
            _("Upload a photo of your relative. A clear, recent photo where the face looks at the camera works best.")
        )
    return chosen


def detect(s: Searcher, data: bytes, name: str) -> QueryPhoto:
    """Faces in a photo, found once per browser session (a rerun must not detect again)."""
    cache: dict = st.session_state.setdefault("queries", {})
    sha = images.sha256_bytes(data)
    if sha not in cache:
        cache[sha] = s.detect(data, name)
    return cache[sha]


def usable(q: QueryPhoto) -> bool:
    return q.error is None and bool(q.faces)


def photo_block(
    s: Searcher, rv: Review, case_id: int, name: str, data: bytes, kept: KeptPhoto | None, case_year: int | None
) -> Chosen | None:
    """One family photo: a large preview on which a click (or tap) picks a face, the same choice as numbers
    (for the keyboard), the photo's year, and for a kept photo a way to stop using it."""
    q = detect(s, data, name)
    key = f"{case_id}_{images.sha256_bytes(data)[:12]}"
    with st.container(border=True):
        left, right = st.columns([3, 2])
        right.markdown(f"**{iso(name)}**" + (" · " + _("kept in this case") if kept else ""))
        if kept is not None and right.button(_("Remove this photo from the case"), key=f"remove_{key}"):
            rv.remove_photo(case_id, kept.sha256)
            st.rerun()
        if q.error:
            right.error(_("This file cannot be used: {error}", error=q.error))
            return None
        if not q.faces:
            left.image(thumbs.draw_faces(q.rgb, [], max_side=600), width=240)
            right.warning(messages.no_face_hint())
            return None
        boxes = [q.in_rgb(f).box for f in q.faces]
        face_key, year_key = f"face_{key}", f"year_{key}"
        if face_key not in st.session_state:  # first shown: the face kept with the case, else the largest
            st.session_state[face_key] = stored_face(q, kept) or 1
        if year_key not in st.session_state:
            year = kept.photo_year if kept is not None and kept.photo_year else case_year
            st.session_state[year_key] = str(year or "")
        with left:
            pick_on_picture(q, boxes, face_key, key)
        with right:
            many = len(q.faces) > 1
            n = st.radio(
                _("Which face is your relative?") if many else _("Face found:"),
                list(range(1, len(q.faces) + 1)),
                horizontal=True,
                key=face_key,
                format_func=in_this_language(lambda n: _("face {n}", n=number(n))),
            )
            year_text = st.text_input(_("Year this photo was taken (about)"), key=year_key)
            try:
                year = parse_year(year_text, _("Year the photo was taken"))
            except ValueError as e:
                st.error(str(e))
                year = None
    face = q.faces[n - 1]
    moved = kept is not None and (kept.face_box is None or faces.iou(kept.face_box, face.box) < 0.99)
    if kept is not None and (moved or kept.photo_year != year):
        rv.choose_face(case_id, kept.sha256, tuple(float(v) for v in face.box), year)
    return Chosen(q, face, year, name)


def stored_face(q: QueryPhoto, kept: KeptPhoto | None) -> int | None:
    """The number of the face chosen earlier in a kept photo (the detected face whose box overlaps it)."""
    if kept is None or kept.face_box is None:
        return None
    overlap = [(faces.iou(kept.face_box, f.box), n) for n, f in enumerate(q.faces, start=1)]
    best = max(overlap)
    return best[1] if best[0] >= faces.SAME_FACE_IOU else None


def pick_on_picture(q: QueryPhoto, boxes: list, face_key: str, key: str) -> None:
    """The photo, large, with numbered faces. In a group photo a click on a face chooses it."""
    picture = thumbs.draw_faces(q.rgb, boxes, chosen=st.session_state[face_key], max_side=PREVIEW_SIDE)
    if len(boxes) == 1:
        st.image(picture, width=260)
        return
    click = streamlit_image_coordinates(picture, width="stretch", key=f"click_{key}", image_format="JPEG")
    st.caption(_("Click (or tap) the face of your relative, or choose its number."))
    if not click or click.get("unix_time") == st.session_state.get(f"clicked_{key}"):
        return
    st.session_state[f"clicked_{key}"] = click.get("unix_time")
    to_rgb = picture.shape[1] / max(1, click["width"]) / min(1.0, PREVIEW_SIDE / max(q.rgb.shape[:2]))
    n = thumbs.face_at(boxes, click["x"] * to_rgb, click["y"] * to_rgb)
    if n is not None and n != st.session_state[face_key]:
        st.session_state[face_key] = n
        st.rerun()


# -- candidates ---------------------------------------------------------------------------------
def face_number_note(c) -> str:
    if c.faces_in_photo <= 1:
        return ""
    return _(
        "face {n} of {total} in this photo, from the left", n=number(c.face_number), total=number(c.faces_in_photo)
    )


def show_status(decision, verdict: Verdict | None) -> None:
    """Where a decided candidate stands: in a two-reviewer case the verdict (two confirmations, waiting for a
    second, disagreement, or "decide first"), else the latest decision."""
    if verdict is not None:
        (st.success if verdict.state == CONFIRMED else st.info)(verdict.text())
    elif decision is not None:
        text = messages.decided_by(decision.decision, decision.reviewer, decision.decided_at)
        (st.success if decision.decision == CONFIRM else st.info)(text)


def record_lines(r: dict) -> str:
    """An archive record, one "label: text" line each (records.record_lines: the labels in the page's language, the
    record's own words and its other columns' headers as the archive wrote them), each value isolated."""
    return "  \n".join(f"{k}: {' · '.join(iso(part) for part in v.split(' · '))}" for k, v in records.record_lines(r))


def record_summary(r: dict) -> str:
    """One line about a record (records.record_summary), its parts isolated in a right-to-left page."""
    return records.record_summary(r, iso)


def candidate_card(
    s: Searcher, c, decision, key: str, item: Combined | None = None, verdict: Verdict | None = None
) -> None:
    try:
        st.image(face_thumb(str(c.face.path), tuple(c.face.box)), width="stretch")
    except images.ImageError as e:
        st.error(_("archive photo unreadable: {error}", error=e))
    st.markdown("**" + (_("Candidate #{rank}", rank=c.rank) if c.rank else _("Candidate found by name")) + "**")
    st.caption(f"{messages.score_label()}: {score_text(c.similarity)}")
    st.caption(messages.candidate_strength(c, s.gallery_size, decided=decision is not None))
    for r in c.records[:1]:
        st.caption(record_summary(r))
    if not c.records and not c.photo_records:
        st.caption(_("no archive record"))
    for line in [] if c.records else link.CrossCheck(s).linked_records(c.face):  # a cross-check reviewer's link
        st.caption(line)
    if note := face_number_note(c):
        st.caption(note)
    if item is not None:
        facts_reasons(item)
    show_status(decision, verdict)
    if st.button(_("Compare and decide"), key=key):
        st.session_state["compare"] = c.face.id
        st.rerun()


def shown_lines(s: Searcher, item: Combined, decided: bool = False) -> list[str]:
    """What the screen says beside a candidate, as kept with a decision (and printed in the case report)."""
    c = item.candidate
    lines = [
        f"{messages.score_label()} {score_text(c.similarity)}",
        messages.candidate_strength(c, s.gallery_size, decided),
    ]
    lines += [_("record: {summary}", summary=record_summary(r)) for r in c.records]
    lines += [_("record of the photo: {summary}", summary=record_summary(r)) for r in c.photo_records]
    return lines + item.reason_lines()


def compare_panel(
    s: Searcher, rv: Review, case_id: int, reviewer: str, chosen: list[Chosen], item: Combined, decision,
    verdict: Verdict | None = None,
) -> None:  # fmt: skip
    cand = item.candidate
    st.subheader(
        _("Compare: candidate #{rank}", rank=cand.rank) if cand.rank else _("Compare: candidate found by name")
    )
    if st.button(_("Back to the candidates"), key="back_top"):
        st.session_state.pop("compare", None)
        st.rerun()
    first = chosen[0]
    qa, ca = s.aligned_pair(first.query, first.face, cand)
    with st.container(key="pair"):
        a, b = st.columns(2)
        a.markdown("**" + _("Your photo") + "**")
        a.image(qa, width="stretch")
        b.markdown("**" + _("Archive face") + "**")
        b.image(ca, width="stretch")
    st.markdown(f"{messages.score_label()} **{score_text(cand.similarity)}** · "
                f"{messages.candidate_strength(cand, s.gallery_size, decided=decision is not None)}")  # fmt: skip
    if s.calibration is not None:  # the calibration's own source text is for experts (--json); this says it plainly
        st.caption(messages.calibration_note(s.calibration.kind))
    a, b = st.columns(2)
    with a:
        st.markdown(_("**Your photo:** {photo}", photo=iso(first.name)))
        st.image(thumbs.draw_faces(first.query.rgb, [first.query.in_rgb(first.face).box], chosen=1, max_side=800),
                 width=420)  # fmt: skip
    with b:
        st.markdown(_("**Archive photo:** {photo}", photo=iso(cand.face.relpath)))
        full = thumbs.load_full(cand.face.path)
        others = rv.index.faces.in_photo(cand.face.photo_id, cand.face.engine)
        boxes = [f.box for f in others] or [cand.face.box]
        st.image(thumbs.draw_faces(full, boxes, chosen=cand.face_number, max_side=800), width=420)
        if note := face_number_note(cand):
            st.caption(_("This candidate is {where}.", where=note))
        st.caption(f"sha256 {iso(cand.face.sha256[:16] + '…')}")
        for r in cand.records:
            st.markdown("**" + _("Archive record") + "**  \n" + record_lines(r))
        for r in cand.photo_records:
            st.markdown(
                "**"
                + _("Archive record for this photo")
                + f"** ({messages.photo_records(cand.faces_in_photo)})  \n"
                + record_lines(r)
            )
        if not cand.records and not cand.photo_records:
            st.caption(_("No archive record for this photo."))
        facts_reasons(item)
    st.warning(messages.caveat())
    show_status(decision, verdict)
    decision_form(
        f"decide_{cand.face.id}", messages.CASE_DECISIONS, ("decision", "decision_note", "decision_reviewer"),
        _("Note (why; optional)"), _("choose Confirm, Reject or Unsure first"), reviewer,
        ask_name=rv.account is None, close="compare",
        record=lambda choice, who, note: rv.decide(
            case_id, cand, choice, who, note, shown=shown_lines(s, item, decided=True)
        ),
    )  # fmt: skip
    if st.button(_("Back to the candidates"), key="back"):
        st.session_state.pop("compare", None)
        st.rerun()


def candidates_section(
    s: Searcher, rv: Review, case_id: int, reviewer: str, chosen: list[Chosen], facts: Facts, name_threshold: float
) -> None:
    k = st.session_state.setdefault(f"k_{case_id}", PAGE)
    query_faces = [c.face for c in chosen]
    cands = s.search(query_faces, k=k)
    use_facts = False
    if not facts.empty:
        use_facts = st.toggle(
            _("Let what the family knows reorder the candidates"), value=True, key=f"use_facts_{case_id}"
        )
    weigh_key = f"weigh_{case_id}"
    result = combined.combine(
        s, query_faces, cands, facts, use_facts=use_facts, name_threshold=name_threshold,
        photo_years=[c.year for c in chosen], weigh_photo_records=bool(st.session_state.get(weigh_key)),
    )  # fmt: skip
    if facts.names and not result.name_hits:
        st.info(messages.no_name_hits(facts.names, name_threshold))
    items = result.faces
    current = dict((c.face.id, d) for c, d in rv.annotate(case_id, [it.candidate for it in items]))
    verdicts: dict[int, Verdict | None] = {}
    if rv.case(case_id).two_reviewers:  # "confirmed" needs two accounts; nobody sees another's decision first
        all_verdicts = rv.verdicts(case_id)
        verdicts = {it.candidate.face.id: rv.verdict_for(case_id, it.candidate, all_verdicts) for it in items}
    compare_id = st.session_state.get("compare")
    selected = next((it for it in items if it.candidate.face.id == compare_id), None)
    if selected is not None:
        fid = selected.candidate.face.id
        compare_panel(s, rv, case_id, reviewer, chosen, selected, current[fid], verdicts.get(fid))
        return
    by_name = len(items) - len(cands)
    heading = ngettext(
        "Candidates: the {n} most similar face among {total} in the archive",
        "Candidates: the {n} most similar faces among {total} in the archive",
        len(cands),
        n=number(len(cands)),
        total=number(s.gallery_size),
    )
    if by_name:
        heading += ngettext(", and {n} more found by name", ", and {n} more found by name", by_name, n=number(by_name))
    st.subheader(heading)
    st.caption(
        (_("Ordered by similarity, lifted a little where the records agree with what the family knows.") if use_facts
         else _("Ordered by similarity."))
        + " " + _("Similar is not the same: look at each face carefully.") + " "
        + _("The number shown is an {score}, not a probability.", score=messages.score_label())
    )  # fmt: skip
    if s.calibration is not None:
        st.caption(messages.calibration_note(s.calibration.kind))
    st.caption(messages.engine_note(s.fingerprint, s.calibration is not None))
    if use_facts:
        st.caption(messages.facts_note())
    if any(it.photo_records for it in items) and not facts.empty:
        st.toggle(
            _("Also compare what the family knows with records of group photos that do not say which face is theirs"),
            key=weigh_key,
        )
    show_rejected = st.toggle(_("Show rejected candidates"), key=f"show_rejected_{case_id}")

    def rejected(it: Combined) -> bool:
        if verdicts:
            v = verdicts.get(it.candidate.face.id)
            return v is not None and v.state == REJECTED
        d = current[it.candidate.face.id]
        return bool(d and d.decision == REJECT)

    visible = [it for it in items if show_rejected or not rejected(it)]
    hidden_rejected = len(items) - len(visible)
    shown_cands = [it.candidate for it in items]
    if any(c.records for c in shown_cands):
        with st.expander(_("Filter by archive records (filters never hide anything silently)")):
            years = [y for c in shown_cands for r in c.records if (y := filters.birth_year(r))]
            span = None
            if years and st.checkbox(_("Filter by birth year"), key=f"fy_{case_id}"):
                span = st.slider(_("Birth year"), min(years), max(years), (min(years), max(years)), key=f"yr_{case_id}")
            counties = filters.record_values(shown_cands, "county")
            picked = (
                set(st.multiselect(_("County"), counties, key=f"county_{case_id}", placeholder=_("Choose counties")))
                if counties else set()
            )  # fmt: skip
            kept, hidden = filters.apply([it.candidate for it in visible], span, {"county": picked} if picked else None)
            kept_ids = {c.face.id for c in kept}
            visible = [it for it in visible if it.candidate.face.id in kept_ids]
            if hidden:
                st.info(_("{candidates} hidden by these filters.", candidates=messages.count(hidden, "candidate")))
    if hidden_rejected:
        st.caption(_("{candidates} hidden.", candidates=messages.count(hidden_rejected, "rejected candidate")))
    with st.container(key="cards"):
        for start in range(0, len(visible), PER_ROW):
            for col, it in zip(st.columns(PER_ROW), visible[start : start + PER_ROW], strict=False):
                c = it.candidate
                with col:
                    candidate_card(
                        s, c, current[c.face.id], key=f"cmp_{c.rank:04d}_{c.face.id}", item=it,
                        verdict=verdicts.get(c.face.id),
                    )  # fmt: skip
    if len(cands) == k and k < s.gallery_size and st.button(_("Show {n} more", n=number(PAGE)), key="more"):
        st.session_state[f"k_{case_id}"] = k + PAGE
        st.rerun()
    records_without_face(result.no_face)


def facts_reasons(item: Combined) -> None:
    """Why a candidate rose, what does not agree, and how far apart the photos are in years."""
    for line in item.reason_lines():
        (st.warning if item.age_gap is not None and item.age_gap.large and line == item.age_gap.text()
         else st.caption)(line)  # fmt: skip


def records_without_face(items: list[Combined]) -> None:
    """Records found by name that have no face to compare (most of an archive has no photo)."""
    if not items:
        return
    st.subheader(_("Records found by name without a face to compare ({n})", n=number(len(items))))
    for it in items:
        r = it.records[0]
        with st.container(border=True):
            st.markdown(f"**{record_summary(r)}**")
            st.info(it.note)
            for face in it.archive_faces[:4]:
                try:
                    st.image(face_thumb(str(face.path), tuple(face.box)), width=120)
                except images.ImageError as e:
                    st.error(_("archive photo unreadable: {error}", error=e))
            facts_reasons(it)
            st.caption(record_lines(r))


def decisions_section(rv: Review, case_id: int) -> None:
    """Every face decided in this case (latest decision each), shown at once, with or without a photo."""
    if rv.case(case_id).two_reviewers:
        two_reviewer_decisions(rv, case_id)
        return
    latest = sorted(rv.current(case_id).values(), key=lambda d: (d.decision != CONFIRM, -d.decided_at))
    if not latest:
        return
    st.subheader(_("Decisions in this case ({faces})", faces=messages.count(len(latest), "face")))
    with st.container(key="decided"):
        for start in range(0, len(latest), PER_ROW):
            for col, d in zip(st.columns(PER_ROW), latest[start : start + PER_ROW], strict=False):
                with col:
                    path = rv.index.faces.photo_path_by_sha(d.photo_sha256)
                    try:
                        st.image(face_thumb(str(path), tuple(d.box)), width=160)
                    except (images.ImageError, TypeError, OSError):
                        st.caption(_("archive photo not found on this computer"))
                    text = messages.decided_by(d.decision, d.reviewer, d.decided_at)
                    (st.success if d.decision == CONFIRM else st.info)(text)
                    st.caption(decision_line(iso(d.photo_path), d))


def two_reviewer_decisions(rv: Review, case_id: int) -> None:
    """A two-reviewer case: each decided face with where it stands; faces only others decided stay blind."""
    verdicts = rv.verdicts(case_id)
    if not verdicts:
        return
    order = {CONFIRMED: 0, "disagree": 1, "needs_second": 2, "waiting": 3}
    verdicts.sort(key=lambda v: order.get(v.state, 4))
    st.subheader(
        _("Decisions in this case ({faces}, two reviewers needed)", faces=messages.count(len(verdicts), "face"))
    )
    with st.container(key="decided"):
        for start in range(0, len(verdicts), PER_ROW):
            for col, v in zip(st.columns(PER_ROW), verdicts[start : start + PER_ROW], strict=False):
                with col:
                    sha, box = v.keys[0]
                    path = rv.index.faces.photo_path_by_sha(sha)
                    try:
                        st.image(face_thumb(str(path), tuple(box)), width=160)
                    except (images.ImageError, TypeError, OSError):
                        st.caption(_("archive photo not found on this computer"))
                    show_status(None, v)
                    for d in v.decisions:
                        st.caption(decision_line(f"{iso(d.reviewer)}: {messages.decision_word(d.decision)}", d))


def decision_line(first: str, d) -> str:
    """ "obama.jpg · rank 1 · note: same ears" under a decided face."""
    rank = number(d.rank) if isinstance(d.rank, int) else iso(d.rank)
    line = first + " · " + _("rank {rank}", rank=rank)
    return line + (" · " + _("note: {note}", note=d.note) if d.note else "")


def export_section(rv: Review, case_id: int) -> None:
    st.divider()
    st.subheader(_("Export"))
    a, b = st.columns(2)
    a.download_button(
        _("Case report (HTML, prints well)"),
        in_language(i18n.current(), lambda: report.case_html(rv, case_id)),  # built on click, not every rerun
        file_name=f"facematch-case-{case_id}.html",
        mime="text/html",
        key="export_html",
    )
    b.download_button(
        _("Audit log (CSV)"),
        in_language(i18n.current(), lambda: report.audit_csv(rv, case_id)),
        file_name=f"facematch-case-{case_id}-audit.csv",
        mime="text/csv",
        key="export_csv",
    )


def in_language(code: str, build):
    """A download built on click (when this run's language may not be active in the thread that builds it), in
    the language the page was shown in."""

    def built():
        with i18n.language(code):
            return build()

    return built


# -- the archive cross-checked against itself (link.py) -------------------------------------------
def crosscheck_page(s: Searcher, reviewer: str, account: Account | None = None) -> None:
    """Pairs of archive faces that may show the same person, strongest first, to compare and decide; groups
    and duplicate images apart. Everything is read from and written through link.CrossCheck."""
    cc = link.CrossCheck(s, account)  # refuses a role without the cross-check (AccessDenied, shown by main)
    st.title(_("Cross-check the archive against itself"))
    st.caption(
        _(
            "Pairs of archive faces that may show the same person (in different leaks, lists or records), found "
            "by `facematch link`. Duplicate images (the same photo saved again) are listed apart. "
            "You compare and decide; nothing is merged and nothing is copied into a record."
        )
    )
    pairs = cc.pairs()
    if st.button(_("Link faces not linked yet"), key="link_now"):
        with st.spinner(_("Linking…")):
            r = link.link(s.index, s.fingerprint, progress=False)
        st.success(
            _(
                "{faces} linked now; {pairs}.",
                faces=messages.count(r.linked, "face"),
                pairs=pair_count(r.pairs.get("person", 0)),
            )
        )
        pairs = cc.pairs()
    if st.session_state.get("xpair"):
        try:
            pair_compare(s, cc, cc.pair(st.session_state["xpair"]), reviewer)
            return
        except ValueError as e:
            st.session_state.pop("xpair", None)
            st.error(str(e))
    dups, groups = cc.duplicates(), cc.groups()
    undecided = sum(p.decision is None for p in pairs)
    st.markdown(
        _(
            "**{pairs}** ({undecided} not decided yet) · **{groups}** possibly the same person · **{duplicates}**",
            pairs=pair_count(len(pairs)),
            undecided=number(undecided),
            groups=ngettext("{n} group", "{n} groups", len(groups)),
            duplicates=ngettext("{n} duplicate image", "{n} duplicate images", len(dups)),
        )
    )
    tab_pairs, tab_groups, tab_dups, tab_export = st.tabs(
        [_("Review queue"), _("Groups"), _("Duplicate images"), _("Export")]
    )
    with tab_pairs:
        only_open = st.toggle(_("Only pairs no one has decided yet"), value=True, key="xonly_open")
        shown = [p for p in pairs if p.decision is None] if only_open else pairs
        if not shown:
            st.info(_("No pairs to review. Run `facematch link` (or the button above) after indexing new photos."))
        for n, p in enumerate(shown[:PAGE], start=1):
            pair_card(s, cc, p, n)
    with tab_groups:
        st.caption(
            _(
                "A group joins faces through pairs that are mutual (each face is among the other's nearest), strong "
                "(fewer than 1 stranger in 100 expected this similar in this archive) and not decided 'different'. "
                "It is a suggestion: every pair in it is reviewed on its own."
            )
        )
        for g, group in enumerate(groups, start=1):
            faces = {f.id: f for p in group for f in (p.a, p.b)}
            st.markdown(_("**Group {g}**: {faces}", g=number(g), faces=messages.count(len(faces), "face")))
            cols = st.columns(6)  # always six: a group of two sits together on the left, not at both edges
            for col, f in zip(cols, list(faces.values())[:6], strict=False):
                col.image(face_thumb(str(f.path), tuple(f.box)), caption=f.relpath, width=120)
            for p in group:
                st.button(_("Compare pair {id}", id=iso(p.id)), key=f"g{g}_{p.id}", on_click=open_pair, args=(p.id,))
    with tab_dups:
        st.caption(_("The same image saved again (re-encoded, resized or cropped): not evidence about a person."))
        for p in dups[:PAGE]:
            a, c = st.columns([2, 3])
            a.image(pair_thumb(str(p.a.path), tuple(p.a.box), str(p.b.path), tuple(p.b.box)), width=240)
            c.markdown(f"{iso(p.a.relpath)} = {iso(p.b.relpath)}  \n{p.duplicate}")
    with tab_export:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            written = link.export(cc, Path(tmp))
            for name, path in written.items():
                what, _dot, kind = name.partition(".")
                label = (
                    _("{what} ({format})", what=_(EXPORT_NAMES[what]), format=kind.upper())
                    if what in EXPORT_NAMES
                    else name
                )
                st.download_button(label, path.read_bytes(), file_name=path.name, key=f"x_{name}")
    st.warning(f"{messages.caveat()} {messages.link_caveat()}")


def pair_count(n: int) -> str:
    """ "3 candidate pairs": a pair of archive faces the cross-check suggests, never a "match"."""
    return ngettext("{n} candidate pair", "{n} candidate pairs", n)


def open_pair(pair: str | None) -> None:
    st.session_state["xpair"] = pair


def pair_card(s: Searcher, cc: link.CrossCheck, p: link.Pair, n: int) -> None:
    """One pair of the queue: both faces, how strong, which collections, what the records say."""
    with st.container(border=True, key=f"xrow_{p.id}"):
        a, c = st.columns([2, 3])
        try:
            a.image(pair_thumb(str(p.a.path), tuple(p.a.box), str(p.b.path), tuple(p.b.box)), width=300)
        except images.ImageError as e:
            a.error(_("archive photo unreadable: {error}", error=e))
        with c:
            title = _("#{n} · pair {id}", n=number(n), id=iso(p.id))
            st.markdown(f"**{title}** · {messages.score_label()} {score_text(p.score)}")
            st.caption(pair_strength(p, s.gallery_size))
            st.caption(f"{iso(f'{p.collections[0]}: {p.a.relpath}')}  ↔  {iso(f'{p.collections[1]}: {p.b.relpath}')}")
            st.caption(_("mutual: each face is among the other's nearest") if p.mutual else _("one-sided"))
            for r in p.reasons:
                st.caption(_("records: {reason}", reason=r))
            if p.copies:
                st.caption(
                    ngettext(
                        "{n} more pair through copies of these images folded in",
                        "{n} more pairs through copies of these images folded in",
                        p.copies,
                    )
                )
            if p.decision is not None:
                st.info(pair_status(p.decision))
            st.button(_("Compare and decide"), key=f"xcmp_{p.id}", on_click=open_pair, args=(p.id,))


def pair_status(decision: dict) -> str:
    """Who decided a cross-check pair, what, and when."""
    return messages.decided_by(decision["decision"], decision["reviewer"], decision["decided_at"])


def pair_strength(p: link.Pair, gallery: int) -> str:
    """link.Pair.strength in the page's language."""
    if p.expected_strangers is None:
        return _("{score} {value} (no stranger rates for this engine)", score=messages.score_label(),
                 value=score_text(p.score))  # fmt: skip
    return messages.strength(p.band or "weak", p.expected_strangers, gallery=gallery)


def pair_compare(s: Searcher, cc: link.CrossCheck, p: link.Pair, reviewer: str) -> None:
    """The two archive faces aligned the same way, side by side, their full photos and records; decide."""
    st.subheader(_("Compare pair {id}", id=iso(p.id)))
    st.button(_("Back to the queue"), key="xback_top", on_click=open_pair, args=(None,))
    with st.container(key="pair"):
        a, b = st.columns(2)
        for col, f, coll in ((a, p.a, p.collections[0]), (b, p.b, p.collections[1])):
            col.markdown(f"**{iso(coll)}**")
            col.image(s.aligned_archive(f), width="stretch")
    st.markdown(f"{messages.score_label()} **{score_text(p.score)}** · {pair_strength(p, s.gallery_size)}")
    if s.calibration is not None:
        st.caption(messages.calibration_note(s.calibration.kind))
    for r in p.reasons:
        st.markdown("- " + _("records: {reason}", reason=r))
    a, b = st.columns(2)
    for col, f in ((a, p.a), (b, p.b)):
        with col:
            st.markdown(f"**{iso(f.relpath)}**")
            others = cc.index.faces.in_photo(f.photo_id, f.engine)
            number = next((n for n, o in enumerate(others, start=1) if o.id == f.id), 1)
            st.image(thumbs.draw_faces(thumbs.load_full(f.path), [o.box for o in others] or [f.box], chosen=number,
                                       max_side=800), width=420)  # fmt: skip
            st.caption(f"sha256 {iso((f.sha256 or '')[:16] + '…')}")
            st.caption(link.record_summary(cc.index, f))
            for line in cc.linked_records(f):
                st.info(line)
    st.warning(f"{messages.caveat()} {messages.link_caveat()}")
    if p.decision is not None:
        st.write(pair_status(p.decision))
    decision_form(
        f"xdecide_{p.id}", messages.PAIR_DECISIONS, ("xdecision", "xwhy", "xreviewer"), _("Why (optional)"),
        _("choose Same person, Different people or Unsure first"), reviewer, ask_name=True, close="xpair",
        record=lambda choice, who, why: cc.decide(p, choice, who, why),
    )  # fmt: skip


def main() -> None:
    st.set_page_config(page_title="facematch", page_icon="🔎", layout="wide")
    language_picker()  # first: every word below is in the language it sets
    page_style()
    folder = index_dir()
    if "FACEMATCH_INDEX" not in os.environ and not Index.exists(folder):
        with st.spinner(_("Preparing the demo archive (first start only)…")):
            ensure_demo(str(folder))
    try:
        with st.spinner(_("Loading the face model and the archive index…")):
            s = searcher(str(folder))
    except (FileNotFoundError, ValueError, VaultError) as e:
        st.error(_("The archive index cannot be opened: {error}", error=e))
        st.stop()
    account = login(s) if team_mode() else None
    if account is not None:
        remember_language(Accounts(s.index.db), account)
    rv = Review(s.index, account)
    try:
        page(s, rv)
    except AccessDenied as e:  # a case id from widget state, the address or a stale session: refused, never shown
        st.session_state.pop("case_select", None)
        st.query_params.pop("case", None)
        st.error(str(e))


def page(s: Searcher, rv: Review) -> None:
    """The page for this run: the start page, or the open case (every call below checks access in Review)."""
    case_id, reviewer = sidebar(rv)
    if rv.account is not None:
        who_bar(rv)
    if st.session_state.get("page") == PAGES[1]:
        try:
            crosscheck_page(s, reviewer, rv.account)
            return
        except AccessDenied as e:  # a family account asking by address (?page=crosscheck): its own cases instead
            st.session_state["page"] = PAGES[0]  # no page switch is shown to it, so this widget key is free
            st.query_params.pop("page", None)
            st.error(str(e))
    if case_id is None:
        start_page(s, rv, reviewer)
        return
    case = rv.case(case_id)
    st.title(_("Case: {name}", name=iso(case.name)))
    st.button(_("← All cases"), key="all_cases", on_click=open_case, args=(None,))
    if not case.is_open:
        st.info(_("This case is closed. Reopen it (in the side panel) to record new decisions."))
    if not reviewer.strip() and rv.account is None:
        st.warning(
            _(
                "Enter your name in the side panel (» at the top of the page on a phone), or when you record a "
                "decision: every decision records who made it."
            )
        )
    facts, name_threshold = facts_section(rv, case_id)
    if st.session_state.get("compare") is not None:  # comparing: the photos fold away, the pair comes first
        with st.expander(_("Photos of your relative (the search uses these)")):
            chosen = photos_section(s, rv, case_id, facts)
    else:
        chosen = photos_section(s, rv, case_id, facts)
    for c in chosen:
        if note := combined.family_photo_note(facts, c.year, c.name):
            st.warning(note)
    if chosen:
        if len(chosen) > 1:
            st.caption(_("The {n} photos are combined into one search.", n=number(len(chosen))))
        candidates_section(s, rv, case_id, reviewer, chosen, facts, name_threshold)
    elif facts.names:
        result = combined.combine(s, [], [], facts, name_threshold=name_threshold)
        if not result.name_hits:
            st.info(messages.no_name_hits(facts.names, name_threshold))
        records_without_face(result.no_face)
    decisions_section(rv, case_id)
    export_section(rv, case_id)
