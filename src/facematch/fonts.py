"""The fonts the app ships so that Uyghur (Arabic script) and Chinese render on a computer that has neither.

Why shipped and not named: the browser draws the page, and many family computers (a minimal Windows, a Debian
or a phone without CJK fonts) would show boxes ("tofu") for both scripts. facematch has no network at run time,
so the fonts come with the package: Noto Sans Arabic (weights 400 and 700, its Arabic-script subset: Uyghur's
extra letters ې ۆ ۇ ۈ ۋ ە ھ included) and Noto Sans SC (weight 400, split by unicode-range into 101 slices, so a
browser fetches only the slices a page uses; bold Chinese is synthesised by the browser). Both are under the SIL
Open Font License 1.1 (app/static/fonts/OFL-*.txt), taken from the npm @fontsource packages (docs/fonts.md).

They are served by Streamlit's static file serving (serve.SETTINGS) from app/static/fonts and declared with
@font-face; the page's font list names them after Streamlit's own Latin font, so Latin and Turkish text keeps
its look and only the characters that font lacks come from Noto.
"""

from __future__ import annotations

import base64
import functools
import re
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "app" / "static" / "fonts"
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


#: The Unicode blocks each shipped family is there for: Arabic (with its supplement, extended and presentation
#: forms) and CJK (radicals, punctuation, kana, ideographs, compatibility and full-width forms). Noto Sans SC also
#: draws a few Arabic letters and punctuation; a report takes those from the Arabic font and the system.
SCRIPTS = {
    FAMILIES[0]: ((0x0600, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFE)),
    FAMILIES[1]: ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF)),
}

#: One @font-face rule of fonts.css: its family, weight, file and unicode-range.
_RULE = re.compile(
    r"@font-face\s*\{[^}]*?font-family:\s*'([^']+)'[^}]*?font-weight:\s*(\d+)[^}]*?src:\s*url\(\./([^)]+)\)"
    r"[^}]*?unicode-range:\s*([^;]+);[^}]*\}"
)


@functools.cache
def _rules() -> list[tuple[str, str, str, tuple[tuple[int, int], ...]]]:
    """(family, weight, file, code point ranges) of every shipped @font-face rule, from fonts.css itself."""
    out = []
    for family, weight, file, ranges in _RULE.findall((FOLDER / "fonts.css").read_text(encoding="utf-8")):
        spans = []
        for part in ranges.split(","):
            lo, _, hi = part.strip().removeprefix("U+").partition("-")
            spans.append((int(lo, 16), int(hi or lo, 16)))
        out.append((family, weight, file, tuple(spans)))
    return out


def embedded(text: str) -> str:
    """@font-face rules with the shipped font files inlined (data: URLs), only for the files that draw a
    character of `text` in the Arabic or Chinese blocks (SCRIPTS; punctuation and Latin, Greek and Cyrillic are
    left to the system's own fonts, which have them).

    Why: the case report is one self-contained HTML file that a family may open, print or forward on a
    computer without Uyghur or Chinese fonts; a report that shows boxes is worse than none. Inlining only the
    files its text needs adds about 130 KB to a Uyghur report (base64 of two 50 KB files) and a few of the 101
    slices to a Chinese one, instead of the whole 2.6 MB."""
    points = {ord(c) for c in text}
    needed = {f: {c for c in points if any(lo <= c <= hi for lo, hi in blocks)} for f, blocks in SCRIPTS.items()}
    rules = []
    for family, weight, file, spans in _rules():
        if any(lo <= c <= hi for c in needed[family] for lo, hi in spans):
            data = base64.b64encode((FOLDER / file).read_bytes()).decode("ascii")
            rules.append(
                f"@font-face {{ font-family: '{family}'; font-weight: {weight}; font-style: normal; "
                f"src: url(data:font/woff2;base64,{data}) format('woff2'); }}"
            )
    return "\n".join(rules)
