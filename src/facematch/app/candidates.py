"""The candidates of a case: the grid of the most similar archive faces (reordered by what the family knows,
filtered by archive records, rejected ones hidden), a candidate's card, the compare panel where a person decides,
and the records found by name that have no face. Ranking, combining, filtering and deciding are library calls
(search.py, combined.py, filters.py, review.py).

A rerun (any click) does not search again: the search and the combined list are kept in the session for the
same photos, facts and archive (`memo`), and every picture is cut and encoded once (widgets, cached).
"""

from __future__ import annotations

import hashlib
from functools import partial

import streamlit as st

from .. import combined, crosscheck, filters, images, messages, thumbs
from ..combined import Combined, Facts
from ..i18n import _, ngettext
from ..messages import isolate as iso
from ..review import REJECT, REJECTED, Review, Verdict
from ..search import Searcher
from .photos import Chosen
from .text import alert, bold, caption, fact, fact_lines
from .widgets import (
    PAGE,
    PER_ROW,
    archive_aligned,
    archive_image,
    archive_photo,
    decision_form,
    face_thumb,
    family_photo,
    number,
    record_lines,
    record_summary,
    score_text,
    scroll_to,
    show_status,
)


def face_number_note(c) -> str:
    if c.faces_in_photo <= 1:
        return ""
    return _(
        "face {n} of {total} in this photo, from the left", n=number(c.face_number), total=number(c.faces_in_photo)
    )


def open_compare(face_id: int) -> None:
    """Button callback: open the compare panel on this face (and bring it to the top of the window)."""
    st.session_state["compare"] = face_id
    st.session_state["compare_opened"] = st.session_state.get("compare_opened", 0) + 1


def candidate_card(
    s: Searcher, c, decision, key: str, item: Combined | None = None, verdict: Verdict | None = None,
    reviews: bool = True, linked: list[str] = (),
) -> None:  # fmt: skip
    try:
        st.image(face_thumb(str(c.face.path), tuple(c.face.box)), width="stretch")
    except images.ImageError as e:
        alert("error", _("archive photo unreadable: {error}", error=e))
    bold(_("Candidate #{rank}", rank=c.rank) if c.rank else _("Candidate found by name"))
    caption(f"{messages.score_label()}: {score_text(c.similarity)}")
    caption(messages.candidate_strength(c, s.gallery_size, decided=decision is not None))
    for r in c.records[:1]:
        caption(record_summary(r))
    if not c.records and not c.photo_records:
        caption(_("no archive record"))
    for line in linked:  # a cross-check reviewer's link
        caption(line)
    if note := face_number_note(c):
        caption(note)
    if item is not None:
        facts_reasons(item)
    show_status(decision, verdict)
    st.button(_("Compare and decide") if reviews else _("Compare"), key=key, on_click=open_compare, args=(c.face.id,))


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


def close_compare() -> None:
    st.session_state.pop("compare", None)


def compare_panel(
    s: Searcher, rv: Review, case_id: int, reviewer: str, chosen: list[Chosen], item: Combined, decision,
    verdict: Verdict | None = None,
) -> None:  # fmt: skip
    cand = item.candidate
    with st.container(key="compare_top"):
        st.subheader(
            _("Compare: candidate #{rank}", rank=cand.rank) if cand.rank else _("Compare: candidate found by name")
        )
    scroll_to("compare_top", st.session_state.get("compare_opened", 0))
    st.button(_("Back to the candidates"), key="back_top", on_click=close_compare)
    first = chosen[0]
    with st.container(key="pair"):
        a, b = st.columns(2)
        bold(_("Your photo"), where=a)
        a.image(aligned_query(s, first), width="stretch")
        bold(_("Archive face"), where=b)
        archive_image(b, partial(archive_aligned, s, cand.face, cand.face.id, str(cand.face.path),
                                 tuple(cand.face.box)), "stretch")  # fmt: skip
    strength = messages.candidate_strength(cand, s.gallery_size, decided=decision is not None)
    fact(f"{messages.score_label()}:", f"{score_text(cand.similarity)} · {strength}")
    if s.calibration is not None:  # the calibration's own source text is for experts (--json); this says it plainly
        caption(messages.calibration_note(s.calibration.kind))
    a, b = st.columns(2)
    with a:
        fact(_("Your photo:"), iso(first.name))
        st.image(family_photo(first), width=420)
        if len(first.query.faces) > 1:
            caption(_("The face you chose is face {n} of {total}, from the left.",
                      n=number(first.query.number_of(first.face)), total=number(len(first.query.faces))))  # fmt: skip
    with b:
        fact(_("Archive photo:"), iso(cand.face.relpath))
        try:
            st.image(archive_photo(rv.index, cand.face, cand.face.id, str(cand.face.path)), width=420)
        except images.ImageError as e:
            alert("error", _("archive photo unreadable: {error}", error=e))
        if note := face_number_note(cand):
            caption(_("This candidate is {where}.", where=note))
        caption(f"sha256 {iso(cand.face.sha256[:16] + '…')}")
        for r in cand.records:
            bold(_("Archive record"))
            fact_lines(record_lines(r))
        for r in cand.photo_records:  # what it means for a photo of several faces: in the reasons just below
            bold(_("Archive record for this photo"))
            fact_lines(record_lines(r))
        if not cand.records and not cand.photo_records:
            caption(_("No archive record for this photo."))
        facts_reasons(item)
    alert("warning", messages.caveat())
    show_status(decision, verdict)
    if rv.reviews(case_id):
        decision_form(
            f"decide_{cand.face.id}", messages.CASE_DECISIONS, ("decision", "decision_note", "decision_reviewer"),
            _("Note (why; optional)"), _("choose Confirm, Reject or Unsure first"), reviewer,
            ask_name=rv.account is None, close="compare",
            record=lambda choice, who, note: rv.decide(
                case_id, cand, choice, who, note, shown=shown_lines(s, item, decided=True)
            ),
        )  # fmt: skip
    else:
        alert(
            "info",
            _(
                "In this case two reviewers decide, each on their own. You see the outcome on this face, who "
                "decided and when, as soon as two of them have confirmed it (or rejected it)."
            ),
        )
    st.button(_("Back to the candidates"), key="back", on_click=close_compare)


def aligned_query(s: Searcher, chosen: Chosen) -> bytes:
    """The family's face aligned as the engine aligns faces, as JPEG: cut and encoded once per face and session
    (the archive side once per process, widgets.archive_aligned)."""
    cache = st.session_state.setdefault("aligned_query", {})
    key = (id(chosen.query), tuple(float(v) for v in chosen.face.box))
    if key not in cache:
        with s._engine_lock:
            chip = s.engine.align(chosen.query.rgb, chosen.query.in_rgb(chosen.face))
        cache[key] = thumbs.jpeg_bytes(chip)
    return cache[key]


def memo(name: str, key: tuple, build):
    """The last result of `build` for this key, kept in the session: a rerun with the same photos, facts and
    archive does not search, combine or look up decisions again."""
    box = st.session_state.setdefault("memo", {})
    digest = hashlib.sha256(repr(key).encode()).hexdigest()
    if box.get(name, (None,))[0] != digest:
        box[name] = (digest, build())
    return box[name][1]


def query_key(chosen: list[Chosen]) -> tuple:
    """What identifies a search: each photo's faces chosen (their embeddings), with its year."""
    return tuple((hashlib.sha1(c.face.embedding.tobytes()).hexdigest(), c.year) for c in chosen)


def candidates_section(
    s: Searcher, rv: Review, case_id: int, reviewer: str, chosen: list[Chosen], facts: Facts, name_threshold: float
) -> None:
    k = st.session_state.setdefault(f"k_{case_id}", PAGE)
    query_faces = [c.face for c in chosen]
    use_facts = False
    if not facts.empty:
        use_facts = st.toggle(
            _("Let what the family knows reorder the candidates"), value=True, key=f"use_facts_{case_id}"
        )
    weigh_key = f"weigh_{case_id}"
    archive = (id(s), s.gallery_size)
    search_key = (archive, query_key(chosen), k)
    cands = memo("search", search_key, lambda: s.search(query_faces, k=k))
    combine_key = (search_key, facts, use_facts, name_threshold, bool(st.session_state.get(weigh_key)))
    result = memo("combined", combine_key, lambda: combined.combine(
        s, query_faces, cands, facts, use_facts=use_facts, name_threshold=name_threshold,
        photo_years=[c.year for c in chosen], weigh_photo_records=bool(st.session_state.get(weigh_key)),
    ))  # fmt: skip
    if facts.names and not result.name_hits:
        alert("info", messages.no_name_hits(facts.names, name_threshold, s.index.records.count()))
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
    caption(_("Similar is not the same: look at each face carefully."))
    with st.expander(_("About these results")):  # how they are ordered and counted, which model: for whoever asks
        caption(
            (_("Ordered by similarity, lifted a little where the records agree with what the family knows.")
             if use_facts else _("Ordered by similarity."))
            + " " + _("The number shown is an {score}, not a probability.", score=messages.score_label())
        )  # fmt: skip
        if s.calibration is not None:
            caption(messages.calibration_note(s.calibration.kind))
        caption(messages.engine_note(s.fingerprint, s.calibration is not None))
        if use_facts:
            caption(messages.facts_note())
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
                hid = messages.count(hidden, "candidate")
                alert("info", _("{candidates} hidden by these filters.", candidates=hid))
    if hidden_rejected:
        caption(_("{candidates} hidden.", candidates=messages.count(hidden_rejected, "rejected candidate")))
    reviews = rv.reviews(case_id)
    linked = memo("linked", (archive, search_key, rv.account), lambda: linked_lines(s, items))
    with st.container(key="cards"):
        for start in range(0, len(visible), PER_ROW):
            for col, it in zip(st.columns(PER_ROW), visible[start : start + PER_ROW], strict=False):
                c = it.candidate
                with col:
                    candidate_card(
                        s, c, current[c.face.id], key=f"cmp_{c.rank:04d}_{c.face.id}", item=it,
                        verdict=verdicts.get(c.face.id), reviews=reviews, linked=linked.get(c.face.id, []),
                    )  # fmt: skip
    if len(cands) == k and k < s.gallery_size and st.button(_("Show {n} more", n=number(PAGE)), key="more"):
        st.session_state[f"k_{case_id}"] = k + PAGE
        st.rerun()
    records_without_face(result.no_face)


def linked_lines(s: Searcher, items: list[Combined]) -> dict[int, list[str]]:
    """For faces with no record of their own: what a cross-check reviewer linked them to (once per search)."""
    cc = crosscheck.CrossCheck(s)
    return {it.candidate.face.id: cc.linked_records(it.candidate.face) for it in items if not it.candidate.records}


def facts_reasons(item: Combined) -> None:
    """Why a candidate rose, what does not agree, and how far apart the photos are in years."""
    for line in item.reason_lines():
        if item.age_gap is not None and item.age_gap.large and line == item.age_gap.text():
            alert("warning", line)
        else:
            caption(line)


def records_without_face(items: list[Combined]) -> None:
    """Records found by name that have no face to compare (most of an archive has no photo)."""
    if not items:
        return
    st.subheader(_("Records found by name without a face to compare ({n})", n=number(len(items))))
    for it in items:
        r = it.records[0]
        with st.container(border=True):
            bold(record_summary(r))
            alert("info", it.note)
            for face in it.archive_faces[:4]:
                try:
                    st.image(face_thumb(str(face.path), tuple(face.box)), width=120)
                except images.ImageError as e:
                    alert("error", _("archive photo unreadable: {error}", error=e))
            facts_reasons(it)
            fact_lines(record_lines(r))
