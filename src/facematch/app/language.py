"""The page's language: which one a run speaks, where a new session's comes from, and the page's style in it.

Every word of the workbench goes through the message catalog (i18n.py) in the language picked at the top of every
page (Uyghur in three scripts, Turkish, Chinese or English). A new browser session starts in the language the
address asks for (?lang=), else the browser's, else the server's; in team mode the choice is kept for the account.
Streamlit may call a widget's format_func, or build a download, outside the run that drew it: `in_this_language`
and `in_language` carry the run's language with them.

The page's CSS lives here because nearly all of it follows the language and is drawn once, at the top of every
run, right after the language is set: the shipped fonts that render Uyghur and Chinese (app/static/fonts,
docs/fonts.md; a computer without them shows real letters, not boxes), right to left for Uyghur, and our words in
place of Streamlit's own English. The phone layout (STYLE) rides in the same style element.
"""

from __future__ import annotations

import streamlit as st

from .. import fonts, i18n
from ..access import Account, Accounts
from ..i18n import _
from .text import STYLE as TEXT_STYLE

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
[data-testid="stElementToolbar"] { display: none; }
[class*="st-key-scroller_"] { display: none; }
.st-key-compare_top, .st-key-xcompare_top { scroll-margin-top: 4rem; }
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


def in_this_language(show):
    """A widget's format_func that speaks this run's language wherever Streamlit calls it (it may call it later,
    outside this run's context, e.g. to match a value to its shown option)."""
    code = i18n.current()

    def shown(value) -> str:
        with i18n.language(code):
            return show(value)

    return shown


def in_language(code: str, build):
    """A download built on click (when this run's language may not be active in the thread that builds it), in
    the language the page was shown in."""

    def built():
        with i18n.language(code):
            return build()

    return built


def page_style() -> None:
    """The CSS for this run's language: the fonts that render Uyghur and Chinese (shipped, static/fonts), right to
    left for Uyghur, and our words in place of the file uploader's English."""
    st.html(STYLE + TEXT_STYLE + fonts.css(FONT_URL))
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
