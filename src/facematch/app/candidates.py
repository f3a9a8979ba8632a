"""The candidates of a case: the grid of the most similar archive faces (reordered by what the family knows,
filtered by archive records, rejected ones hidden), a candidate's card, the compare panel where a person decides,
and the records found by name that have no face. Ranking, combining, filtering and deciding are library calls
(search.py, combined.py, filters.py, review.py).
"""

from __future__ import annotations

import streamlit as st

from .. import combined, filters, images, messages, thumbs
from ..combined import Combined, Facts
from ..crosscheck import link
from ..i18n import _, ngettext
from ..messages import isolate as iso
from ..review import REJECT, REJECTED, Review, Verdict
from ..search import Searcher
from .photos import Chosen
from .widgets import (
    PAGE,
    PER_ROW,
    decision_form,
    face_thumb,
    number,
    record_lines,
    record_summary,
    score_text,
    show_status,
)


def face_number_note(c) -> str:
    if c.faces_in_photo <= 1:
        return ""
    return _(
        "face {n} of {total} in this photo, from the left", n=number(c.face_number), total=number(c.faces_in_photo)
    )


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
