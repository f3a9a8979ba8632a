"""Cases, one per missing person: the side panel's part (which case is open, a new case, rename or close, its
people), the start page when none is open, and an open case's page top to bottom: what the family knows, their
photos, the candidates, every decision taken in it, and its exports. Every case rule is the library's (review.py).
"""

from __future__ import annotations

import streamlit as st

from .. import combined, i18n, images, messages, report
from ..combined import Facts
from ..i18n import _
from ..messages import isolate as iso
from ..names import THRESHOLD
from ..review import CONFIRM, CONFIRMED, DISAGREE, IN_REVIEW, NEEDS_SECOND, WAITING, Review
from ..search import Searcher
from .candidates import candidates_section, records_without_face
from .language import in_language, in_this_language
from .photos import photos_section
from .team import team_case_settings, who_decides
from .text import alert, bold, caption, fact_lines, md, plain
from .widgets import PER_ROW, face_thumb, number, show_status

#: The answer to "keep the photos?" asked once when a case is created (the widget's values; shown translated).
KEEP_CHOICES = (True, False)


def case_panel(rv: Review) -> tuple[int | None, str]:
    """The side panel's case part: which case is open, who is deciding, a new case, and the open case's people,
    name and state. The open case is mirrored in the address (?case=N), so a reload or a bookmark comes back to
    it; the name is offered from the case's last decision (in team mode the logged-in account is the reviewer,
    and a case the account may not open is never selected)."""
    state = st.session_state
    if "case_select" not in state:  # a new browser session (a reload): the address says which case
        wanted = st.query_params.get("case", "")
        state["case_select"] = int(wanted) if wanted.isdigit() and rv.has_case(int(wanted)) else None
        if wanted and state["case_select"] is None:  # refused (or no such case): said, with the same words either way
            state["case_refused"] = wanted
    pending = state.pop("pending_case", None)
    if pending is not None:  # a case created or opened on the last run becomes the selected one
        state["case_select"] = pending
    case_id = state.get("case_select")
    if case_id is not None and not rv.has_case(case_id):  # tampered widget state or a case taken away
        state["case_select"] = case_id = None
    reviewer = who_decides(rv, case_id)
    show_closed = st.sidebar.toggle(_("Show closed cases"), key="show_closed")
    cases = {c.id: c for c in rv.cases(include_closed=show_closed)}
    if case_id is not None and case_id not in cases:  # the open case stays listed even when closed
        cases[case_id] = rv.case(case_id)
    st.sidebar.selectbox(
        _("Case (one missing person)"),
        list(cases),
        index=None,
        format_func=in_this_language(
            lambda i: iso(cases[i].name) if cases[i].is_open else _("{name} (closed)", name=iso(cases[i].name))
        ),
        placeholder=_("Choose a case"),
        key="case_select",
    )
    case_id = state.get("case_select")
    if case_id != state.get("shown_case"):
        state["shown_case"] = case_id
        state.pop("compare", None)
    if case_id is None:
        st.query_params.pop("case", None)
    else:
        st.query_params["case"] = str(case_id)
    with st.sidebar:
        new_case_form(rv, reviewer, "sidebar")
    if case_id is not None:
        case = rv.case(case_id)
        if rv.account is not None:
            team_case_settings(rv, case)
        with st.sidebar.expander(_("Rename or close this case")):
            new_name = st.text_input(_("New name"), value=case.name, key=f"rename_{case_id}")
            if st.button(_("Rename"), key="rename_btn") and new_name.strip() != case.name:
                rv.rename_case(case_id, new_name)
                st.rerun()
            if case.is_open and st.button(_("Close case"), key="close_btn"):
                rv.close_case(case_id)
                st.rerun()
            if not case.is_open and st.button(_("Reopen case"), key="reopen_btn"):
                rv.reopen_case(case_id)
                st.rerun()
    return case_id, reviewer


def open_case(case_id: int | None) -> None:
    """Button callback (runs before the page, so it may set the case chooser): open a case, or None for the list."""
    st.session_state["case_select"] = case_id


def new_case_form(rv: Review, reviewer: str, where: str) -> None:
    """A case needs only a name; what the family knows is added on the case's page, in one place."""
    with st.form(f"new_case_{where}", clear_on_submit=True):
        bold(_("New case"))
        name = st.text_input(
            _("Name or alias of the missing person"), key="new_case_name" if where == "sidebar" else f"new_case_{where}"
        )
        keep = st.radio(
            _("Keep the photos you add to this case on this computer, so they are here when you come back?"),
            KEEP_CHOICES, key=f"new_case_keep_{where}", horizontal=True,
            format_func=in_this_language(
                lambda k: _("Yes, keep them (without location or camera data)") if k else _("No, only while I look")
            ),
        )  # fmt: skip
        if st.form_submit_button(_("Create case")):
            try:
                case = rv.create_case(name, reviewer, keep_photos=bool(keep))
                st.session_state["pending_case"] = case.id
                st.rerun()
            except ValueError as e:
                st.error(plain(e))


def start_page(s: Searcher, rv: Review, reviewer: str) -> None:
    """No case open: what this is, and (in the page itself, since a phone hides the sidebar) start or open one."""
    st.title(_("Search an archive for a missing relative"))
    if refused := st.session_state.pop("case_refused", None):
        alert("warning", _("you have no case {case_id} to open", case_id=refused[:12]))
    st.markdown(
        plain(
            _(
                "This archive index holds {faces}. Create a case for the person you are looking for, then upload a "
                "photo of them. facematch lists the most similar faces in the archive; you compare them and decide.",
                faces=messages.count(s.gallery_size, "face"),
            )
        )
    )
    a, b = st.columns(2)
    with a:
        new_case_form(rv, reviewer, "main")
    with b:
        cases = rv.cases()
        if cases:
            bold(_("Open a case"))
            for c in cases:
                st.button(md(c.name), key=f"open_{c.id}", on_click=open_case, args=(c.id,))
    alert("warning", messages.caveat())


def case_page(s: Searcher, rv: Review, case_id: int, reviewer: str) -> None:
    """An open case, top to bottom: what the family knows, their photos, the candidates (or, with names and no
    photo, the records found by name), the decisions and the exports. Every call checks access in Review."""
    case = rv.case(case_id)
    st.title(plain(_("Case: {name}", name=iso(case.name))))
    st.button(_("← All cases"), key="all_cases", on_click=open_case, args=(None,))
    if not case.is_open:
        st.info(_("This case is closed. Reopen it (in the side panel) to record new decisions."))
    if not reviewer.strip() and rv.account is None:
        st.warning(
            _(
                "Enter your name in the side panel (» at the top of the page on a phone), or when you record a "
                "decision: every decision records who made it."
            )
        )
    facts, name_threshold = facts_section(rv, case_id)
    if st.session_state.get("compare") is not None:  # comparing: the photos fold away, the pair comes first
        with st.expander(_("Photos of your relative (the search uses these)")):
            chosen = photos_section(s, rv, case_id, facts)
    else:
        chosen = photos_section(s, rv, case_id, facts)
    for c in chosen:
        if note := combined.family_photo_note(facts, c.year, c.name):
            st.warning(note)
    if chosen:
        if len(chosen) > 1:
            st.caption(_("The {n} photos are combined into one search.", n=number(len(chosen))))
        candidates_section(s, rv, case_id, reviewer, chosen, facts, name_threshold)
    elif facts.names:
        result = combined.combine(s, [], [], facts, name_threshold=name_threshold)
        if not result.name_hits:
            alert("info", messages.no_name_hits(facts.names, name_threshold, s.index.records.count()))
        records_without_face(result.no_face)
    decisions_section(rv, case_id)
    export_section(rv, case_id)


def facts_summary(facts: Facts, notes: str) -> list[tuple[str, str]]:
    """What the family knows, as (label, value) lines: shown as text (text.facts), never as Markdown, so a label
    closes in every script and nothing the family typed is markup."""
    bits = []
    if facts.names:
        bits.append((_("Names:"), " · ".join(iso(n) for n in facts.names)))
    if facts.birth_year:
        born = _("about {year} (± {margin})", year=iso(facts.birth_year),
                 margin=messages.count(facts.birth_year_margin, "year"))  # fmt: skip
        bits.append((_("Born:"), born))
    if facts.county:
        bits.append((_("Home county:"), iso(facts.county)))
    if notes.strip():
        bits.append((_("Notes:"), iso(notes.strip())))
    return bits


def facts_section(rv: Review, case_id: int) -> tuple[Facts, float]:
    """Everything the family knows, in one place: shown, and editable in one form (notes included)."""
    facts, case = rv.facts(case_id), rv.case(case_id)
    st.subheader(_("What the family knows"))
    summary = facts_summary(facts, case.notes)
    if summary:
        fact_lines(summary)
    else:
        st.markdown(_("Nothing yet. Names (in any spelling), a birth year and a home county help find records."))
    with st.expander(_("Add or change what the family knows"), expanded=not summary):
        with st.form(f"facts_{case_id}"):
            names_text = st.text_area(
                _("Names, one per line, in any script or spelling (Uyghur, Chinese, Latin, Cyrillic…)"),
                value="\n".join(facts.names),
                key=f"facts_names_{case_id}",
            )
            a, b, c = st.columns(3)
            born = a.text_input(_("Birth year"), value=str(facts.birth_year or ""), key=f"facts_born_{case_id}")
            margin = b.number_input(_("± years"), 0, 20, value=facts.birth_year_margin, key=f"facts_margin_{case_id}")
            county = c.text_input(_("Home county"), value=facts.county, key=f"facts_county_{case_id}")
            notes = st.text_area(
                _("Notes (anything else the family knows)"), value=case.notes, key=f"facts_notes_{case_id}"
            )
            if st.form_submit_button(_("Save what the family knows")):
                try:
                    rv.set_facts(
                        case_id,
                        names=names_text.splitlines(),
                        birth_year=born,
                        birth_year_margin=int(margin),
                        county=county,
                        notes=notes,
                    )
                    st.rerun()
                except ValueError as e:
                    st.error(plain(e))
        threshold = st.slider(
            _("How closely a name must agree (lower finds more spellings, and more other people)"),
            60,
            100,
            int(THRESHOLD),
            key=f"name_threshold_{case_id}",
        )
        st.caption(messages.names_caveat())
    return facts, float(threshold)


def decisions_section(rv: Review, case_id: int) -> None:
    """Every face decided in this case (latest decision each), shown at once, with or without a photo."""
    if rv.case(case_id).two_reviewers:
        two_reviewer_decisions(rv, case_id)
        return
    latest = sorted(rv.current(case_id).values(), key=lambda d: (d.decision != CONFIRM, -d.decided_at))
    if not latest:
        return
    st.subheader(_("Decisions in this case ({faces})", faces=messages.count(len(latest), "face")))
    with st.container(key="decided"):
        for start in range(0, len(latest), PER_ROW):
            for col, d in zip(st.columns(PER_ROW), latest[start : start + PER_ROW], strict=False):
                with col:
                    path = rv.index.faces.photo_path_by_sha(d.photo_sha256)
                    try:
                        st.image(face_thumb(str(path), tuple(d.box)), width=160)
                    except (images.ImageError, TypeError, OSError):
                        st.caption(_("archive photo not found on this computer"))
                    text = messages.decided_by(d.decision, d.reviewer, d.decided_at)
                    alert("success" if d.decision == CONFIRM else "info", text)
                    caption(decision_line(iso(d.photo_path), d))


def two_reviewer_decisions(rv: Review, case_id: int) -> None:
    """A two-reviewer case: each decided face with where it stands; faces only others decided stay blind."""
    verdicts = rv.verdicts(case_id)
    if not verdicts:
        return
    order = {CONFIRMED: 0, DISAGREE: 1, NEEDS_SECOND: 2, WAITING: 3, IN_REVIEW: 3}
    verdicts.sort(key=lambda v: order.get(v.state, 4))
    st.subheader(
        _("Decisions in this case ({faces}, two reviewers needed)", faces=messages.count(len(verdicts), "face"))
    )
    with st.container(key="decided"):
        for start in range(0, len(verdicts), PER_ROW):
            for col, v in zip(st.columns(PER_ROW), verdicts[start : start + PER_ROW], strict=False):
                with col:
                    sha, box = v.keys[0]
                    path = rv.index.faces.photo_path_by_sha(sha)
                    try:
                        st.image(face_thumb(str(path), tuple(box)), width=160)
                    except (images.ImageError, TypeError, OSError):
                        st.caption(_("archive photo not found on this computer"))
                    show_status(None, v)
                    for d in v.decisions:
                        caption(decision_line(f"{iso(d.reviewer)}: {messages.decision_word(d.decision)}", d))


def decision_line(first: str, d) -> str:
    """ "obama.jpg · rank 1 · note: same ears" under a decided face."""
    rank = number(d.rank) if isinstance(d.rank, int) else iso(d.rank)
    line = first + " · " + _("rank {rank}", rank=rank)
    return line + (" · " + _("note: {note}", note=iso(d.note)) if d.note else "")


def export_section(rv: Review, case_id: int) -> None:
    st.divider()
    st.subheader(_("Export"))
    a, b = st.columns(2)
    a.download_button(
        _("Case report (HTML, prints well)"),
        in_language(i18n.current(), lambda: report.case_html(rv, case_id)),  # built on click, not every rerun
        file_name=f"facematch-case-{case_id}.html",
        mime="text/html",
        key="export_html",
    )
    b.download_button(
        _("Audit log (CSV)"),
        in_language(i18n.current(), lambda: report.audit_csv(rv, case_id)),
        file_name=f"facematch-case-{case_id}-audit.csv",
        mime="text/csv",
        key="export_csv",
    )
