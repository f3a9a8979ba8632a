"""The fonts the app ships so that Uyghur (Arabic script) and Chinese render on a computer that has neither.

Why shipped and not named: the browser draws the page, and many family computers (a minimal Windows, a Debian
or a phone without CJK fonts) would show boxes ("tofu") for both scripts. facematch has no network at run time,
so the fonts come with the package: Noto Sans Arabic (weights 400 and 700, its Arabic-script subset: Uyghur's
extra letters ې ۆ ۇ ۈ ۋ ە ھ included) and Noto Sans SC (weight 400, split by unicode-range into 101 slices, so a
browser fetches only the slices a page uses; bold Chinese is synthesised by the browser). Both are under the SIL
Open Font License 1.1 (static/fonts/OFL-*.txt), taken from the npm @fontsource packages (docs/fonts.md).

They are served by Streamlit's static file serving (serve.SETTINGS) from static/fonts and declared with
@font-face; the page's font list names them after Streamlit's own Latin font, so Latin and Turkish text keeps
its look and only the characters that font lacks come from Noto.
"""

from __future__ import annotations

import functools
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "static" / "fonts"
#: The families declared in fonts.css (prefixed "facematch", so a Noto font installed on the machine, maybe of
#: another version or subset, is not mistaken for ours).
FAMILIES = ("facematch Noto Sans Arabic", "facematch Noto Sans SC")
#: Everything that shows text in Streamlit's page, except its icon font (Material Symbols) and code.
TEXT_ELEMENTS = (
    ".stApp, .stApp p, .stApp li, .stApp label, .stApp h1, .stApp h2, .stApp h3, .stApp h4, .stApp input, "
    ".stApp textarea, .stApp button, .stApp [data-baseweb='select'] div, .stApp [data-baseweb='tab'], "
    ".stApp [data-testid='stCaptionContainer'], .stApp [data-testid='stMarkdownContainer'] span:not([class*='icon'])"
)


@functools.cache
def css(url: str = "app/static/fonts") -> str:
    """A <style> that loads the shipped @font-face rules (fonts.css under `url`, served with the fonts, so its
    relative file names resolve there) and the font list that uses them. An @import, not the rules inline: the
    101 Chinese slices' unicode-ranges are 96 KB, which would travel to the browser again on every rerun."""
    stack = ", ".join(
        ["'Source Sans', 'Source Sans Pro', 'Source Sans 3'", *(f"'{f}'" for f in FAMILIES), "sans-serif"]
    )
    return f'<style>\n@import url("{url}/fonts.css");\n{TEXT_ELEMENTS} {{ font-family: {stack}; }}\n</style>'
