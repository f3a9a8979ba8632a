"""What people typed and what records say, shown as text.

Streamlit renders nearly every string as Markdown (markdown, captions, titles, alerts, button and widget labels):
a case name `![x](http://...)` would make a browser fetch an outside address (nothing may leave this computer),
a link could phish inside the workbench, and a full-width colon before a letter keeps `**` from closing, so a
Chinese label showed its asterisks. So the workbench never leans on Markdown for what it shows:

* `md(value)`: a piece of user or record text (a name, a note, a file name, a record field) for a Markdown
  element, every Markdown and HTML character escaped, and isolated in a right-to-left page (messages.isolate).
* `plain(sentence)`: a whole sentence (ours, from the catalog, with user text inside) escaped the same way; the
  catalog's sentences carry no Markdown.
* `caption`, `alert`, `heading`: those two in the elements people read.
* `fact(label, value)`: a "label: value" line with a bold label, as HTML built from escaped text (no Markdown to
  misread in any script); `fact_lines` for several.

Importing this module imports no other app module.
"""

from __future__ import annotations

import html
import re

import streamlit as st

from ..messages import isolate

#: Every ASCII punctuation character may be backslash-escaped in CommonMark, and then stands for itself. Those
#: that start Markdown, GFM (tables, strikethrough, autolinks), HTML, LaTeX ($) or Streamlit's own directives
#: (:red[...], :material/...:) are escaped.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:=&])")


#: Streamlit's Markdown also turns a bare address into a link after parsing (GFM autolink literals, on the text
#: itself, escapes or not): an invisible word joiner after "http", "ftp" or "www" keeps it text.
_AUTOLINK = re.compile(r"(?i)\b(https?|ftp|www)(?=:|\.)")


def escape_md(text: object) -> str:
    """Text that Markdown shows exactly as written (line breaks kept as line breaks), and no address in it becomes a
    link."""
    escaped = _SPECIAL.sub(r"\\\1", _AUTOLINK.sub("\\1\u2060", str(text)))
    return escaped.replace("\r\n", "\n").replace("\n", "  \n")


def md(value: object) -> str:
    """A piece of user or record text inside a Markdown element: escaped, and isolated in a right-to-left page."""
    return escape_md(isolate(value))


def plain(sentence: object) -> str:
    """A whole sentence for a Markdown element, shown exactly as written."""
    return escape_md(sentence)


def caption(sentence: object, where=st) -> None:
    where.caption(plain(sentence))


def alert(kind: str, sentence: object, where=st) -> None:
    """st.info / success / warning / error with the sentence shown as written."""
    getattr(where, kind)(plain(sentence))


def bold(sentence: object, where=st) -> None:
    """A short line in bold (a card's title), without Markdown: HTML from escaped text."""
    where.html(f'<p class="fm-line"><strong>{html.escape(str(sentence))}</strong></p>')


def fact_html(label: str, value: object) -> str:
    value_html = html.escape(str(value)).replace("\n", "<br>")
    return f'<span class="fm-label">{html.escape(label)}</span> <bdi>{value_html}</bdi>'


def fact(label: str, value: object, where=st) -> None:
    """ "Label: value", the label bold, as HTML from escaped text: no Markdown, so nothing in the value is markup
    and the label closes in every script. The value is isolated (<bdi>) as names are in a right-to-left page."""
    where.html(f'<p class="fm-fact">{fact_html(label, value)}</p>')


def fact_lines(lines: list[tuple[str, object]], where=st) -> None:
    """Several "label: value" lines in one block."""
    if lines:
        where.html('<p class="fm-fact">' + "<br>".join(fact_html(k, v) for k, v in lines) + "</p>")


#: The look of the HTML lines above: Streamlit's body text, a bold label.
STYLE = """<style>
.fm-fact, .fm-line { margin: 0 0 0.5rem 0; line-height: 1.6; }
.fm-label { font-weight: 600; }
</style>"""
