"""The Cross-check page: pairs of archive faces that may show the same person (crosscheck/link.py), strongest
first, to compare and decide; groups and duplicate images apart, and the exports. Everything is read from and
written through link.CrossCheck, which also refuses a role without the cross-check.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from .. import images, messages, thumbs
from ..access import Account
from ..crosscheck import link
from ..i18n import N_, _, ngettext
from ..messages import isolate as iso
from ..search import Searcher
from .widgets import PAGE, decision_form, face_thumb, number, pair_thumb, score_text

#: The cross-check's exports (link.export: crosscheck-pairs.csv, ...), as their download buttons name them.
EXPORT_NAMES = {
    "pairs": N_("Candidate pairs"), "groups": N_("Groups"), "duplicates": N_("Duplicate images"),
    "decisions": N_("Decisions on pairs"),
}  # fmt: skip


def crosscheck_page(s: Searcher, reviewer: str, account: Account | None = None) -> None:
    """Pairs of archive faces that may show the same person, strongest first, to compare and decide; groups
    and duplicate images apart. Everything is read from and written through link.CrossCheck."""
    cc = link.CrossCheck(s, account)  # refuses a role without the cross-check (AccessDenied, shown by workbench.page)
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
            st.caption(p.strength(s.gallery_size))
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


def pair_compare(s: Searcher, cc: link.CrossCheck, p: link.Pair, reviewer: str) -> None:
    """The two archive faces aligned the same way, side by side, their full photos and records; decide."""
    st.subheader(_("Compare pair {id}", id=iso(p.id)))
    st.button(_("Back to the queue"), key="xback_top", on_click=open_pair, args=(None,))
    with st.container(key="pair"):
        a, b = st.columns(2)
        for col, f, coll in ((a, p.a, p.collections[0]), (b, p.b, p.collections[1])):
            col.markdown(f"**{iso(coll)}**")
            col.image(s.aligned_archive(f), width="stretch")
    st.markdown(f"{messages.score_label()} **{score_text(p.score)}** · {p.strength(s.gallery_size)}")
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
