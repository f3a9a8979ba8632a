"""The workbench's frame: what `facematch app` runs (app/run.py calls `main`). It sets up each run (the page's
language and style, the archive index opened once for every browser session, the login in team mode) and routes
it to its page: the Cross-check, the start page, or a case. The pages and widgets are the app's other modules
(the import order is in app/__init__.py).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import streamlit as st

from .. import access, demo, messages
from ..access import AccessDenied, Accounts
from ..i18n import N_, _
from ..index import Index
from ..indexing import index_folder
from ..review import Review
from ..search import Searcher
from ..vault import VaultError
from .cases import case_page, case_panel, start_page
from .crosscheck import crosscheck_page
from .language import in_this_language, language_picker, page_style, remember_language
from .serve import read_passphrase
from .team import login, team_mode, who_bar
from .text import alert, caption

#: The two pages: cases (a family's search) and the archive cross-checked against itself (crosscheck/). The
#: values are the widget's (English, stable across languages); the picker shows them translated, with _().
PAGES = ("Cases", "Cross-check")
PAGE_NAMES = {"Cases": N_("Cases"), "Cross-check": N_("Cross-check")}


def index_dir() -> Path:
    """The index `facematch app --index` named, else ./index when it holds one (what `facematch index PHOTOS`
    made), else the demo index (index/demo, built at the first start), as the CLI's commands choose."""
    if "FACEMATCH_INDEX" in os.environ:
        return Path(os.environ["FACEMATCH_INDEX"])
    return Path("index") if Index.exists(Path("index")) else Path("index/demo")


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
    (and checked) before it started this process, read from the pipe it inherited (serve.read_passphrase)."""
    s = Searcher(Path(folder))
    if team_mode():
        try:
            s.index.unlock(read_passphrase())
        except VaultError:
            s.close()
            raise
    return s


#: How often (seconds) a run looks whether the archive changed under the app (`facematch index` meanwhile).
CHECK_EVERY = 2.0


@st.cache_resource(show_spinner=False)
def archive_box(folder: str) -> dict:
    """The Searcher every session uses now, and its generation: replaced when the archive changed."""
    return {"searcher": searcher(folder), "generation": 0, "checked": time.monotonic(), "lock": threading.Lock()}


def current_searcher(folder: str) -> tuple[Searcher, int]:
    """The shared Searcher, reopened on the same Index (its connections, its unlocked families' data) when the
    archive changed since it was opened: new photos or records indexed while the app runs are searched, counted
    and scored as the CLI does. Looked at every CHECK_EVERY seconds at most, by one session at a time."""
    box = archive_box(folder)
    if time.monotonic() - box["checked"] >= CHECK_EVERY:
        with box["lock"]:
            if time.monotonic() - box["checked"] >= CHECK_EVERY:
                if box["searcher"].changed():
                    box["searcher"] = Searcher(box["searcher"].index)
                    box["generation"] += 1
                box["checked"] = time.monotonic()
    return box["searcher"], box["generation"]


def archive_news(s: Searcher, generation: int) -> None:
    """Say once per session that the archive changed while its page was open, and what it holds now."""
    seen = st.session_state.setdefault("archive_generation", generation)
    if seen != generation:
        st.session_state["archive_generation"] = generation
        for key in ("memo", "compare"):  # candidates of the old archive are not shown again
            st.session_state.pop(key, None)
        alert(
            "info",
            _(
                "The archive changed while this page was open (photos or records were added): it now holds {faces}. "
                "The candidates below are searched again in it.",
                faces=messages.count(s.gallery_size, "face"),
            ),
        )


def main() -> None:
    """One run of the page: its language and style, the archive index, the login in team mode, then the page."""
    st.set_page_config(page_title="facematch", page_icon="🔎", layout="wide")
    language_picker()  # first: every word below is in the language it sets
    page_style()
    folder = index_dir()
    if "FACEMATCH_INDEX" not in os.environ and not Index.exists(folder):
        with st.spinner(_("Preparing the demo archive (first start only)…")):
            ensure_demo(str(folder))
    try:
        with st.spinner(_("Loading the face model and the archive index…")):
            s, generation = current_searcher(str(folder))
    except (FileNotFoundError, ValueError, VaultError) as e:
        alert("error", _("The archive index cannot be opened: {error}", error=e))
        st.stop()
    archive_news(s, generation)
    account = login(s) if team_mode() else None
    if account is not None:
        remember_language(Accounts(s.index.db), account)
    rv = Review(s.index, account)
    try:
        page(s, rv)
    except AccessDenied as e:  # a case id from widget state, the address or a stale session: refused, never shown
        st.session_state.pop("case_select", None)
        st.query_params.pop("case", None)
        alert("error", e)
    except VaultError as e:  # single-user mode on an encrypted index: its words, not Streamlit's redacted error
        alert("error", e)


def page(s: Searcher, rv: Review) -> None:
    """The page for this run: the cross-check, the start page, or the open case (every call checks access in the
    library)."""
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
            alert("error", e)
    if case_id is None:
        start_page(s, rv, reviewer)
        return
    case_page(s, rv, case_id, reviewer)


def sidebar(rv: Review) -> tuple[int | None, str]:
    """The side panel: what this is, the page switch, the open case and who is deciding (cases.case_panel), and
    the caveat."""
    st.sidebar.title("facematch")
    caption(_("The tool suggests candidates. People decide."), where=st.sidebar)
    page_switch(rv)
    case_id, reviewer = case_panel(rv)
    st.sidebar.divider()
    caption(messages.caveat(), where=st.sidebar)
    return case_id, reviewer


def page_switch(rv: Review) -> None:
    """Cases or the Cross-check, for the roles that may cross-check. The address says which page
    (?page=crosscheck), so a reload comes back to it."""
    state = st.session_state
    if "page" not in state:
        state["page"] = PAGES[1] if st.query_params.get("page") == "crosscheck" else PAGES[0]
    if rv.account is None or rv.account.role in access.CROSS_CHECK_ROLES:
        st.sidebar.radio(
            _("Page"), PAGES, key="page", horizontal=True, format_func=in_this_language(lambda p: _(PAGE_NAMES[p]))
        )
    # a family account is not offered the cross-check; asked for by address, the library refuses it (page)
    if state["page"] == PAGES[1]:
        st.query_params["page"] = "crosscheck"
    else:
        st.query_params.pop("page", None)
