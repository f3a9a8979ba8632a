"""Widgets the pages share, each in one place for the case pages and the cross-check alike: the decision form,
scores and counts as the language writes them, archive face thumbnails (cut once per process), an archive
record as lines, and where a decided candidate stands.

Every word and number in them comes from the library (messages.py, records.py, review.py) in the page's language.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import streamlit as st

from .. import images, messages, records, thumbs
from ..i18n import _
from ..messages import isolate as iso
from ..review import CONFIRM, CONFIRMED, Verdict
from .language import in_this_language
from .text import alert, md, plain

#: Candidates shown at first (each "Show more" adds as many); pairs and duplicate images the cross-check lists.
PAGE = 50
#: Candidate cards per row, laid out row by row so a phone (where columns stack) keeps the rank order.
PER_ROW = 4


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
            except (ValueError, PermissionError) as e:
                st.error(plain(e))


def score_text(x: float) -> str:
    """A similarity score with three decimals, written as the language writes decimals (0.512, 0,512)."""
    return iso(messages.decimal(x, 3))


def number(n: int) -> str:
    """A count with the language's digit grouping (1,204 / 1.204), isolated in a right-to-left sentence."""
    return iso(messages.number(n))


@st.cache_data(max_entries=2000, show_spinner=False)
def face_thumb(path: str, box: tuple) -> bytes:
    """Archive face crops are cut once per process, not on every rerun."""
    return thumbs.jpeg_bytes(thumbs.crop(thumbs.load_full(Path(path)), box))


@st.cache_data(max_entries=200, show_spinner=False)
def archive_photo(_index, _face, face_id: int, path: str) -> bytes:
    """An archive photo with every face boxed and numbered from the left, the candidate's own face (found by its
    id, not by a number) red and thick: drawn and encoded once per process."""
    others = _index.faces.in_photo(_face.photo_id, _face.engine)
    boxes = [f.box for f in others] or [_face.box]
    chosen = next((n for n, f in enumerate(others, start=1) if f.id == face_id), 1)
    return thumbs.jpeg_bytes(thumbs.draw_faces(thumbs.load_full(Path(path)), boxes, chosen=chosen, max_side=800))


@st.cache_data(max_entries=500, show_spinner=False)
def archive_aligned(_s, _face, face_id: int, path: str, box: tuple) -> bytes:
    """An archive face aligned as the engine aligns faces (for the compare pair), encoded once per process."""
    return thumbs.jpeg_bytes(_s.aligned_archive(_face))


def archive_image(where, draw: Callable[[], bytes], width) -> bool:
    """An archive picture, or in its place why it cannot be shown: a photo moved, deleted or damaged since it was
    indexed must not break the page it is on (the rest of the page, and the decision, still work)."""
    try:
        picture = draw()
    except images.ImageError as e:
        alert("error", _("archive photo unreadable: {error}", error=e), where=where)
        return False
    where.image(picture, width=width)
    return True


def family_photo(chosen) -> bytes:
    """The family's photo with every face numbered from the left and the chosen one red and thick (the same
    numbers as when they chose it), encoded once per session."""
    cache = st.session_state.setdefault("family_photos", {})
    q = chosen.query
    key = (id(q), tuple(float(v) for v in chosen.face.box))
    if key not in cache:
        boxes = [q.in_rgb(f).box for f in q.faces]
        picture = thumbs.draw_faces(q.rgb, boxes, chosen=q.number_of(chosen.face), max_side=800)
        cache[key] = thumbs.jpeg_bytes(picture)
    return cache[key]


@st.cache_data(max_entries=1000, show_spinner=False)
def pair_thumb(path_a: str, box_a: tuple, path_b: str, box_b: tuple) -> bytes:
    """Both faces of a cross-check pair in one picture, side by side (on a phone too)."""
    crops = [thumbs.crop(thumbs.load_full(Path(p)), b) for p, b in ((path_a, box_a), (path_b, box_b))]
    return thumbs.jpeg_bytes(thumbs.side_by_side(*crops))


def record_lines(r: dict) -> list[tuple[str, str]]:
    """An archive record as (label, text) lines (records.record_lines: the labels in the page's language, the
    record's own words and its other columns' headers as the archive wrote them), each value isolated; shown
    with text.facts (as text, never as Markdown)."""
    return [(f"{k}:", " · ".join(iso(part) for part in v.split(" · "))) for k, v in records.record_lines(r)]


def record_text(r: dict) -> str:
    """The same lines as one text, "label: value" each, escaped for a Markdown element."""
    return "  \n".join(md(f"{k} {v}") for k, v in record_lines(r))


def record_summary(r: dict) -> str:
    """One line about a record (records.record_summary), its parts isolated in a right-to-left page; plain text
    (show it with text.caption or md)."""
    return records.record_summary(r, iso)


def show_status(decision, verdict: Verdict | None) -> None:
    """Where a decided candidate stands: in a two-reviewer case the verdict (two confirmations, waiting for a
    second, disagreement, or "decide first"), else the latest decision."""
    if verdict is not None:
        alert("success" if verdict.state == CONFIRMED else "info", verdict.text())
    elif decision is not None:
        text = messages.decided_by(decision.decision, decision.reviewer, decision.decided_at)
        alert("success" if decision.decision == CONFIRM else "info", text)


def scroll_to(key: str, nonce: object) -> None:
    """Bring the container with this key to the top of the window (e.g. the compare panel just opened: its faces,
    not the decision form below them, are what a person must see first; on a phone too). A tiny frame of our own
    HTML runs once per `nonce`, in a hidden container (language.STYLE); nothing is fetched."""
    with st.container(key=f"scroller_{key}"):
        st.iframe(
            f"""<script>/* {nonce} */
const el = window.parent.document.querySelector('.st-key-{key}');
if (el) {{ el.scrollIntoView({{block: 'start'}}); }}
</script>""",
            height=1,
        )
