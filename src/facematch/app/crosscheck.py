"""The Cross-check page: pairs of archive faces that may show the same person (crosscheck/), strongest
first, to compare and decide; groups and duplicate images apart, and the exports. Everything is read from and
written through crosscheck.CrossCheck, which also refuses a role without the cross-check.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import streamlit as st

from .. import crosscheck, i18n, messages
from ..access import Account
from ..i18n import N_, _, ngettext
from ..messages import isolate as iso
from ..search import Searcher
from .language import in_language
from .text import alert, bold, caption, fact, plain
from .widgets import (
    PAGE,
    archive_aligned,
    archive_image,
    archive_photo,
    decision_form,
    face_thumb,
    number,
    pair_thumb,
    score_text,
    scroll_to,
)  # fmt: skip

#: The cross-check's exports (crosscheck.export: crosscheck-pairs.csv, ...), as their download buttons name them.
EXPORT_NAMES = {
    "pairs": N_("Candidate pairs"), "groups": N_("Groups"), "duplicates": N_("Duplicate images"),
    "decisions": N_("Decisions on pairs"),
}  # fmt: skip


def crosscheck_page(s: Searcher, reviewer: str, account: Account | None = None) -> None:
    """Pairs of archive faces that may show the same person, strongest first, to compare and decide; groups
    and duplicate images apart. Everything is read from and written through crosscheck.CrossCheck."""
    cc = crosscheck.CrossCheck(s, account)  # refuses a role without it (AccessDenied, shown by workbench.page)
    st.title(_("Cross-check the archive against itself"))
    caption(
        _(
            "Pairs of archive faces that may show the same person (in different leaks, lists or records), found "
            "by facematch link. Duplicate images (the same photo saved again) are listed apart. "
            "You compare and decide; nothing is merged and nothing is copied into a record."
        )
    )
    pairs = cc.pairs()
    if st.button(_("Link faces not linked yet"), key="link_now"):
        with st.spinner(_("Linking…")):
            r = crosscheck.link(s.index, s.fingerprint, progress=False)
        alert(
            "success",
            _(
                "{faces} linked now; {pairs}.",
                faces=messages.count(r.linked, "face"),
                pairs=pair_count(r.pairs.get("person", 0)),
            ),
        )
        pairs = cc.pairs()
    if following := st.session_state.pop("xnext", None):  # a decision was just recorded: on to the next pair
        open_pair(following)
    if st.session_state.get("xpair"):
        try:
            pair_compare(s, cc, cc.pair(st.session_state["xpair"]), reviewer)
            return
        except ValueError as e:
            st.session_state.pop("xpair", None)
            st.error(plain(e))
    dups, groups = cc.duplicates(), cc.groups()
    undecided = sum(p.decision is None for p in pairs)
    st.markdown(
        plain(
            _(
                "{pairs} ({undecided} not decided yet) · {groups} possibly the same person · {duplicates}",
                pairs=pair_count(len(pairs)),
                undecided=number(undecided),
                groups=ngettext("{n} group", "{n} groups", len(groups)),
                duplicates=ngettext("{n} duplicate image", "{n} duplicate images", len(dups)),
            )
        )
    )
    tab_pairs, tab_groups, tab_dups, tab_export = st.tabs(
        [_("Review queue"), _("Groups"), _("Duplicate images"), _("Export")]
    )
    with tab_pairs:
        only_open = st.toggle(_("Only pairs no one has decided yet"), value=True, key="xonly_open")
        q = review_queue(cc, only_open, pairs)
        shown = q.pairs
        if not shown:
            alert("info", _("No pairs to review. Run facematch link (or the button above) after indexing new photos."))
        for line in q.lines(number):
            caption(line)
        limit = st.session_state.setdefault("xshown", PAGE)
        if len(shown) > limit:
            caption(_("Showing the first {n} of {total} pairs, strongest first.", n=number(limit),
                      total=number(len(shown))))  # fmt: skip
        past = q.past if q.count is not None else None
        for n, p in enumerate(shown[:limit], start=1):
            if n == past:
                alert("info", q.past_text(number))
            pair_card(s, cc, p, n, past_band=past is not None and n >= past)
        if len(shown) > limit:
            st.button(_("Show {n} more", n=number(min(PAGE, len(shown) - limit))), key="xmore", on_click=show_more)
        if short := q.short(number):
            caption(short)
    with tab_groups:
        caption(
            _(
                "A group joins faces through pairs that are mutual (each face is among the other's nearest), strong "
                "(fewer than 1 stranger in 100 expected this similar in this archive) and not decided 'different'. "
                "It is a suggestion: every pair in it is reviewed on its own."
            )
        )
        aside = crosscheck.count_set_aside(pairs)
        if aside.faces:
            caption(aside.text())
        for g, group in enumerate(groups, start=1):
            faces = {f.id: f for p in group for f in (p.a, p.b)}
            bold(_("Group {g}: {faces}", g=number(g), faces=messages.count(len(faces), "face")))
            cols = st.columns(6)  # always six: a group of two sits together on the left, not at both edges
            for col, f in zip(cols, list(faces.values())[:6], strict=False):
                archive_image(col, partial(face_thumb, str(f.path), tuple(f.box)), 120)
                caption(iso(f.relpath), where=col)
            for p in group:
                st.button(_("Compare pair {id}", id=iso(p.id)), key=f"g{g}_{p.id}", on_click=open_pair, args=(p.id,))
    with tab_dups:
        caption(_("The same image saved again (re-encoded, resized or cropped): not evidence about a person."))
        for p in dups[:PAGE]:
            a, c = st.columns([2, 3])
            archive_image(a, partial(pair_thumb, str(p.a.path), tuple(p.a.box), str(p.b.path), tuple(p.b.box)), 240)
            caption(f"{iso(p.a.relpath)} = {iso(p.b.relpath)}", where=c)
            caption(p.duplicate, where=c)
    with tab_export:  # each file is written when its button is pressed, not on every run of the page
        for what in EXPORT_NAMES:
            for kind in ("csv", "jsonl"):
                st.download_button(
                    _("{what} ({format})", what=_(EXPORT_NAMES[what]), format=kind.upper()),
                    in_language(i18n.current(), partial(export_file, cc, f"{what}.{kind}")),
                    file_name=f"crosscheck-{what}.{kind}", key=f"x_{what}.{kind}",
                )  # fmt: skip
    alert("warning", f"{messages.caveat()} {messages.link_caveat()}")


def review_queue(cc: crosscheck.CrossCheck, only_open: bool, pairs: list[crosscheck.Pair]) -> crosscheck.Queue:
    """The queue as the researcher asks for it: the pairs of at least a band (default possible, as `facematch link
    review`), or the next N most likely pairs going past the band by count (`link review --next N`). The choice is
    kept (xband, xby_count, xcount) while a pair is open, so the queue and the next pair after a decision are the
    ones chosen."""
    state = st.session_state
    a, b = st.columns([3, 2])
    state["xband"] = a.selectbox(
        _("Pairs of at least"), crosscheck.BANDS, index=crosscheck.BANDS.index(state.get("xband", "possible")),
        key="xband_w", format_func=lambda x: messages.band_text(x, decided=True), on_change=first_page,
    )  # fmt: skip
    state["xby_count"] = b.toggle(
        _("Go past the band by count"), value=state.get("xby_count", False), key="xby_count_w", on_change=first_page,
        help=_("the next N most likely pairs whatever their band, strongest first; each shows its band"),
    )  # fmt: skip
    if state["xby_count"]:
        state["xcount"] = int(st.number_input(
            _("How many of the most likely pairs"), min_value=1, value=state.get("xcount", 100), step=50,
            key="xcount_w", on_change=first_page,
        ))  # fmt: skip
    return chosen_queue(cc, only_open, pairs)


def chosen_queue(
    cc: crosscheck.CrossCheck, only_open: bool, pairs: list[crosscheck.Pair] | None = None
) -> crosscheck.Queue:
    """The queue the researcher chose (review_queue), through CrossCheck.review: the call `link review` makes
    (`pairs`: cc.pairs() when the page has read them already)."""
    state = st.session_state
    count = state.get("xcount", 100) if state.get("xby_count") else None
    return cc.review(count, state.get("xband", "possible"), every=not only_open, pairs=pairs)


def first_page() -> None:
    st.session_state["xshown"] = PAGE


def export_file(cc: crosscheck.CrossCheck, name: str) -> bytes:
    """One file of crosscheck.export, built when its download button is pressed."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return crosscheck.export(cc, Path(tmp))[name].read_bytes()


def show_more() -> None:
    st.session_state["xshown"] = st.session_state.get("xshown", PAGE) + PAGE


def pair_count(n: int) -> str:
    """ "3 candidate pairs": a pair of archive faces the cross-check suggests, never a "match"."""
    return ngettext("{n} candidate pair", "{n} candidate pairs", n)


def open_pair(pair: str | None) -> None:
    """Open a pair's compare panel (None: back to the queue), and bring it to the top of the window."""
    st.session_state["xpair"] = pair
    st.session_state["xpair_opened"] = st.session_state.get("xpair_opened", 0) + 1


def pair_card(s: Searcher, cc: crosscheck.CrossCheck, p: crosscheck.Pair, n: int, past_band: bool = False) -> None:
    """One pair of the queue: both faces, how strong (its band), which collections, what the records say;
    `past_band`: shown by count, past the band the researcher chose."""
    with st.container(border=True, key=f"xrow_{p.id}"):
        a, c = st.columns([2, 3])
        archive_image(a, partial(pair_thumb, str(p.a.path), tuple(p.a.box), str(p.b.path), tuple(p.b.box)), 300)
        with c:
            title = _("#{n} · pair {id}", n=number(n), id=iso(p.id))
            bold(f"{title} · {messages.score_label()} {score_text(p.score)}")
            caption(p.strength(s.gallery_size))
            if past_band:
                caption(_("past the band you chose: less likely, shown by count"))
            caption(f"{iso(f'{p.collections[0]}: {p.a.relpath}')}  ↔  {iso(f'{p.collections[1]}: {p.b.relpath}')}")
            caption(_("mutual: each face is among the other's nearest") if p.mutual else _("one-sided"))
            for r in p.reasons:
                caption(_("records: {reason}", reason=r))
            low_quality(p)
            if p.copies:
                caption(
                    ngettext(
                        "{n} more pair through copies of these images folded in",
                        "{n} more pairs through copies of these images folded in",
                        p.copies,
                    )
                )
            if p.decision is not None:
                alert("info", pair_status(p.decision))
            st.button(_("Compare and decide"), key=f"xcmp_{p.id}", on_click=open_pair, args=(p.id,))


def low_quality(p: crosscheck.Pair) -> None:
    """Why a face of the pair is set aside (quality.py): kept out of groups, later in the queue."""
    for side, q in zip("AB", p.quality or (), strict=False):
        if q.low:
            caption(_("face {side} set aside, low quality: {why}", side=side, why="; ".join(q.text())))


def pair_status(decision: dict) -> str:
    """Who decided a cross-check pair, what, and when."""
    return messages.decided_by(decision["decision"], decision["reviewer"], decision["decided_at"])


def pair_compare(s: Searcher, cc: crosscheck.CrossCheck, p: crosscheck.Pair, reviewer: str) -> None:
    """The two archive faces aligned the same way, side by side, their full photos and records; decide."""
    with st.container(key="xcompare_top"):
        st.subheader(_("Compare pair {id}", id=iso(p.id)))
    scroll_to("xcompare_top", st.session_state.get("xpair_opened", 0))
    st.button(_("Back to the queue"), key="xback_top", on_click=open_pair, args=(None,))
    with st.container(key="pair"):
        a, b = st.columns(2)
        for col, f, coll in ((a, p.a, p.collections[0]), (b, p.b, p.collections[1])):
            bold(iso(coll), where=col)
            archive_image(col, partial(archive_aligned, s, f, f.id, str(f.path), tuple(f.box)), "stretch")
    fact(f"{messages.score_label()}:", f"{score_text(p.score)} · {p.strength(s.gallery_size)}")
    if s.calibration is not None:
        caption(messages.calibration_note(s.calibration.kind))
    for r in p.reasons:
        caption(_("records: {reason}", reason=r))
    low_quality(p)
    a, b = st.columns(2)
    for col, f in ((a, p.a), (b, p.b)):
        with col:
            bold(iso(f.relpath))
            archive_image(st, partial(archive_photo, cc.index, f, f.id, str(f.path)), 420)
            caption(f"sha256 {iso((f.sha256 or '')[:16] + '…')}")
            caption(crosscheck.record_summary(cc.index, f))
            for line in cc.linked_records(f):
                alert("info", line)
    alert("warning", f"{messages.caveat()} {messages.link_caveat()}")
    if p.decision is not None:
        caption(pair_status(p.decision))

    def record(choice: str, who: str, why: str) -> None:
        """Decide, then go on to the next pair of the queue (not back to its top): the reviewer's place is kept."""
        only_open = st.session_state.get("xonly_open", True)
        shown = chosen_queue(cc, only_open).pairs  # the queue as the researcher sees it, before this decision
        cc.decide(p, choice, who, why)
        following = next_pair(shown, p.id)
        if following is not None:
            st.session_state["xnext"] = following

    decision_form(
        f"xdecide_{p.id}", messages.PAIR_DECISIONS, ("xdecision", "xwhy", "xreviewer"), _("Why (optional)"),
        _("choose Same person, Different people or Unsure first"), reviewer, ask_name=True, close="xpair",
        record=record,
    )  # fmt: skip


def next_pair(pairs: list[crosscheck.Pair], after: str) -> str | None:
    """The pair after this one in the queue as the researcher saw it (chosen_queue, read before the decision), None
    at its end; the list's first pair when this one was not in it (opened from the Groups tab)."""
    ids = [q.id for q in pairs]
    if after not in ids:
        return ids[0] if ids and ids[0] != after else None
    n = ids.index(after) + 1
    return ids[n] if n < len(ids) else None
