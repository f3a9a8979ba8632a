"""facematch review workbench (Streamlit): search an archive with a family photo, compare, decide.

`facematch app` runs this file with Streamlit (it lives in the package, so a plain `pip install .`
can start it from any folder); the project's `app.py` is a two-line entry point for `streamlit run
app.py`. The app only shows and asks: every face, index, search, decision and report operation is a
call into the facematch library.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from facematch import combined, demo, filters, images, messages, records, report, thumbs
from facematch.combined import Combined, Facts
from facematch.index import Index
from facematch.indexer import index_folder
from facematch.names import THRESHOLD
from facematch.review import CONFIRM, REJECT, UNSURE, Review
from facematch.search import Searcher

DECISION_LABELS = {
    CONFIRM: "Confirm: this is the same person",
    REJECT: "Reject: not the same person",
    UNSURE: "Unsure: cannot tell",
}
STATUS_TEXT = {
    CONFIRM: "Confirmed by {who} on {when}",
    REJECT: "Rejected by {who} on {when}",
    UNSURE: "Marked unsure by {who} on {when}",
}
PAGE = 50


def index_dir() -> Path:
    return Path(os.environ.get("FACEMATCH_INDEX", "index/demo"))


@st.cache_resource(show_spinner="Preparing the demo archive (first start only)…")
def ensure_demo(folder: str) -> None:
    """With no index configured, the demo gallery is indexed once so the app has something to search."""
    path = Path(folder)
    gallery = demo.build_gallery(path / "photos")
    index_folder(gallery, path, workers=1, records_csv=demo.records_csv(), progress=False)


@st.cache_resource(show_spinner="Loading the face model and the archive index…")
def searcher(folder: str) -> Searcher:
    """One open index and engine for every browser session: the Searcher is safe to share between threads
    (a read connection per thread, one write path, the engine used by one thread at a time)."""
    return Searcher(Path(folder))


@st.cache_data(max_entries=2000, show_spinner=False)
def face_thumb(path: str, box: tuple) -> bytes:
    """Archive face crops are cut once per process, not on every rerun."""
    return thumbs.jpeg_bytes(thumbs.crop(thumbs.load_full(Path(path)), box))


def sidebar(rv: Review) -> tuple[int | None, str]:
    st.sidebar.title("facematch")
    st.sidebar.caption("The tool suggests candidates. People decide.")
    reviewer = st.sidebar.text_input("Your name (saved with every decision)", key="reviewer")
    pending = st.session_state.pop("pending_case", None)
    if pending is not None:  # a case created on the last run becomes the selected one
        st.session_state["case_select"] = pending
    cases = rv.cases(include_closed=st.sidebar.toggle("Show closed cases", key="show_closed"))
    labels = {c.id: f"{c.name}" + ("" if c.is_open else " (closed)") for c in cases}
    ids = list(labels)
    current = st.session_state.get("case_id")
    choice = st.sidebar.selectbox(
        "Case (one missing person)",
        ids,
        index=ids.index(current) if current in ids else None,
        format_func=lambda i: labels[i],
        placeholder="Choose a case",
        key="case_select",
    )
    if choice != current:
        st.session_state["case_id"] = choice
        st.session_state.pop("compare", None)
    with st.sidebar.form("new_case", clear_on_submit=True):
        st.markdown("**New case**")
        name = st.text_input("Name or alias of the missing person", key="new_case_name")
        notes = st.text_area("Notes (what the family knows)", key="new_case_notes")
        if st.form_submit_button("Create case"):
            try:
                case = rv.create_case(name, reviewer, notes)
                st.session_state["pending_case"] = case.id
                st.rerun()
            except ValueError as e:
                st.error(str(e))
    case_id = st.session_state.get("case_id")
    if case_id is not None:
        case = rv.case(case_id)
        with st.sidebar.expander("Rename or close this case"):
            new_name = st.text_input("New name", value=case.name, key=f"rename_{case_id}")
            if st.button("Rename", key="rename_btn") and new_name.strip() != case.name:
                rv.rename_case(case_id, new_name)
                st.rerun()
            if case.is_open and st.button("Close case", key="close_btn"):
                rv.close_case(case_id)
                st.rerun()
            if not case.is_open and st.button("Reopen case", key="reopen_btn"):
                rv.reopen_case(case_id)
                st.rerun()
    st.sidebar.divider()
    st.sidebar.caption(messages.CAVEAT)
    return case_id, reviewer


def query_photos(s: Searcher, rv: Review, case_id: int) -> list:
    """Upload, detect, and let the person pick the face in each photo. Returns [(QueryPhoto, Face)]."""
    files = st.file_uploader(
        "Photos of your relative (one or more; JPEG, PNG, WebP, HEIC)",
        type=["jpg", "jpeg", "png", "webp", "heic", "heif", "bmp", "tif", "tiff", "gif"],
        accept_multiple_files=True,
        key=f"upload_{case_id}",
    )
    keep = st.checkbox(
        "Keep these photos in this case (stored on this computer without location or camera data)",
        key=f"keep_{case_id}",
    )
    cache: dict = st.session_state.setdefault("queries", {})
    chosen = []
    if not files:
        st.info("Upload a photo of your relative. A clear, recent photo where the face looks at the camera works best.")
        return chosen
    cols = st.columns(max(3, min(4, len(files))))
    first_name: dict[str, str] = {}  # sha256 -> the file name it was first uploaded under
    for i, f in enumerate(files):
        data = f.getvalue()
        sha = images.sha256_bytes(data)
        if sha not in cache:
            cache[sha] = s.detect(data, f.name)
        q = cache[sha]
        with cols[i % len(cols)]:
            st.markdown(f"**{f.name}**")
            if sha in first_name:  # the same bytes twice would count one photo as two views of a person
                st.caption(f"The same photo as {first_name[sha]}; used once.")
                continue
            first_name[sha] = f.name
            if q.error:
                st.error(f"This file cannot be used: {q.error}")
                continue
            if not q.faces:
                st.image(thumbs.draw_faces(q.rgb, [], max_side=600), width=220)
                st.warning(messages.NO_FACE_HINT)
                continue
            options = list(range(1, len(q.faces) + 1))
            pick = st.radio(
                "Which face is your relative?" if len(q.faces) > 1 else "Face found:",
                options,
                index=0,
                horizontal=True,
                key=f"face_{case_id}_{sha[:12]}",
                format_func=lambda n: f"face {n}",
            )
            boxes = [q.in_rgb(face).box for face in q.faces]
            st.image(thumbs.draw_faces(q.rgb, boxes, chosen=pick, max_side=600), width=220)
            chosen.append((q, q.faces[pick - 1]))
            if keep:
                rv.keep_photo(case_id, data, f.name)
    return chosen


def candidate_card(c, decision, key: str, item: Combined | None = None) -> None:
    try:
        st.image(face_thumb(str(c.face.path), tuple(c.face.box)), width="stretch")
    except images.ImageError as e:
        st.error(f"archive photo unreadable: {e}")
    st.markdown(f"**Candidate #{c.rank}**" if c.rank else "**Candidate found by name**")
    st.caption(f"{messages.SCORE_LABEL}: {c.similarity:.3f}")
    if c.band is not None and c.expected_strangers is not None:
        st.caption(messages.strength(c.band, c.expected_strangers))
    for r in c.records[:1]:
        bits = [str(r[k]) for k in ("name", "birth_date", "county") if r.get(k)]
        st.caption(" · ".join(bits) if bits else f"record {r.get('record_id', '')}")
    if not c.records:
        st.caption("no archive record")
    if item is not None:
        facts_reasons(item)
    if decision is not None:
        text = STATUS_TEXT[decision.decision].format(who=decision.reviewer, when=decision.when())
        (st.success if decision.decision == CONFIRM else st.info)(text)
    if st.button("Compare and decide", key=key):
        st.session_state["compare"] = c.face.id
        st.rerun()


def compare_panel(
    s: Searcher, rv: Review, case_id: int, reviewer: str, chosen, cand, decision, item: Combined | None = None
) -> None:
    st.subheader(f"Compare: candidate #{cand.rank}" if cand.rank else "Compare: candidate found by name")
    q, face = chosen[0]
    qa, ca = s.aligned_pair(q, face, cand)
    a, b = st.columns(2)
    with a:
        st.markdown("**Your photo** (aligned)")
        st.image(qa, width=280)
        st.image(thumbs.draw_faces(q.rgb, [q.in_rgb(face).box], chosen=1, max_side=800), width=400)
    with b:
        st.markdown(f"**Archive face** (aligned) — {messages.SCORE_LABEL} {cand.similarity:.3f}")
        st.image(ca, width=280)
        full = thumbs.load_full(cand.face.path)
        st.image(thumbs.draw_faces(full, [cand.face.box], chosen=1, max_side=800), width=400)
        if cand.band is not None and cand.expected_strangers is not None:
            st.markdown(messages.strength(cand.band, cand.expected_strangers))
        st.caption(f"{cand.face.relpath} · sha256 {cand.face.sha256[:16]}…")
        for r in cand.records:
            st.markdown("**Archive record**  \n" + "  \n".join(f"{k}: {v}" for k, v in records.record_lines(r)))
        if not cand.records:
            st.caption("No archive record for this photo.")
        if item is not None:
            facts_reasons(item)
    st.warning(messages.CAVEAT)
    if decision is not None:
        st.write(STATUS_TEXT[decision.decision].format(who=decision.reviewer, when=decision.when()))
    with st.form(f"decide_{cand.face.id}"):
        choice = st.radio(
            "Your decision", list(DECISION_LABELS), index=None, format_func=DECISION_LABELS.get, key="decision"
        )
        note = st.text_input("Note (why; optional)", key="decision_note")
        if st.form_submit_button("Record decision"):
            try:
                if choice is None:
                    raise ValueError("choose Confirm, Reject or Unsure first")
                rv.decide(case_id, cand, choice, reviewer, note)
                st.session_state.pop("compare", None)
                st.rerun()
            except ValueError as e:
                st.error(str(e))
    if st.button("Back to the candidates", key="back"):
        st.session_state.pop("compare", None)
        st.rerun()


def candidates_section(
    s: Searcher, rv: Review, case_id: int, reviewer: str, chosen, facts: Facts, name_threshold: float
) -> None:
    k = st.session_state.setdefault(f"k_{case_id}", PAGE)
    query_faces = [f for _, f in chosen]
    cands = s.search(query_faces, k=k)
    use_facts = False
    if not facts.empty:
        use_facts = st.toggle(
            "Let what the family knows reorder the candidates", value=True, key=f"use_facts_{case_id}"
        )
    result = combined.combine(s, query_faces, cands, facts, use_facts=use_facts, name_threshold=name_threshold)
    items = result.faces
    current = dict((c.face.id, d) for c, d in rv.annotate(case_id, [it.candidate for it in items]))
    compare_id = st.session_state.get("compare")
    selected = next((it for it in items if it.candidate.face.id == compare_id), None)
    if selected is not None:
        cand = selected.candidate
        compare_panel(s, rv, case_id, reviewer, chosen, cand, current[cand.face.id], selected)
        return
    by_name = len(items) - len(cands)
    st.subheader(
        f"Candidates: the {len(cands)} most similar faces among {s.gallery_size} in the archive"
        + (f", and {by_name} more found by name" if by_name else "")
    )
    st.caption(
        ("Ordered by similarity, lifted a little where the records agree with what the family knows. " if use_facts
         else "Ordered by similarity. ")
        + "Similar is not the same: look at each face carefully. "
        f"The number shown is an {messages.SCORE_LABEL}, not a probability."
    )  # fmt: skip
    if use_facts:
        st.caption(messages.FACTS_NOTE)
    show_rejected = st.toggle("Show rejected candidates", key=f"show_rejected_{case_id}")

    def rejected(it: Combined) -> bool:
        d = current[it.candidate.face.id]
        return bool(d and d.decision == REJECT)

    visible = [it for it in items if show_rejected or not rejected(it)]
    hidden_rejected = len(items) - len(visible)
    shown_cands = [it.candidate for it in items]
    if any(c.records for c in shown_cands):
        with st.expander("Filter by archive records (filters never hide anything silently)"):
            years = [y for c in shown_cands for r in c.records if (y := filters.birth_year(r))]
            span = None
            if years and st.checkbox("Filter by birth year", key=f"fy_{case_id}"):
                span = st.slider("Birth year", min(years), max(years), (min(years), max(years)), key=f"yr_{case_id}")
            counties = filters.record_values(shown_cands, "county")
            picked = set(st.multiselect("County", counties, key=f"county_{case_id}")) if counties else set()
            kept, hidden = filters.apply([it.candidate for it in visible], span, {"county": picked} if picked else None)
            kept_ids = {c.face.id for c in kept}
            visible = [it for it in visible if it.candidate.face.id in kept_ids]
            if hidden:
                st.info(f"{hidden} candidates hidden by these filters.")
    if hidden_rejected:
        st.caption(f"{hidden_rejected} rejected candidates hidden.")
    cols = st.columns(5)
    for i, it in enumerate(visible):
        c = it.candidate
        with cols[i % 5]:
            candidate_card(c, current[c.face.id], key=f"cmp_{c.rank:04d}_{c.face.id}", item=it)
    if len(cands) == k and k < s.gallery_size and st.button(f"Show {PAGE} more", key="more"):
        st.session_state[f"k_{case_id}"] = k + PAGE
        st.rerun()
    records_without_face(result.no_face)


# -- what the family knows, and records found by name ---------------------------------------------
def facts_section(rv: Review, case_id: int) -> tuple[Facts, float]:
    """The family's facts for this case (stored with the case) and how strictly names are compared."""
    facts = rv.facts(case_id)
    with st.expander("What the family knows: names, birth year, home county", expanded=facts.empty):
        with st.form(f"facts_{case_id}"):
            names_text = st.text_area(
                "Names, one per line, in any script or spelling (Uyghur, Chinese, Latin, Cyrillic…)",
                value="\n".join(facts.names),
                key=f"facts_names_{case_id}",
            )
            a, b, c, d = st.columns(4)
            born = a.text_input("Birth year", value=str(facts.birth_year or ""), key=f"facts_born_{case_id}")
            margin = b.number_input("± years", 0, 20, value=facts.birth_year_margin, key=f"facts_margin_{case_id}")
            county = c.text_input("Home county", value=facts.county, key=f"facts_county_{case_id}")
            photo_year = d.text_input(
                "Year your photos were taken (about)",
                value=str(facts.photo_year or ""),
                key=f"facts_photo_year_{case_id}",
            )
            if st.form_submit_button("Save what the family knows"):
                try:
                    rv.set_facts(
                        case_id,
                        names=names_text.splitlines(),
                        birth_year=born,
                        birth_year_margin=int(margin),
                        county=county,
                        photo_year=photo_year,
                    )
                    st.rerun()
                except ValueError as e:
                    st.error(str(e))
        threshold = st.slider(
            "How closely a name must agree (lower finds more spellings, and more other people)",
            60,
            100,
            int(THRESHOLD),
            key=f"name_threshold_{case_id}",
        )
        st.caption(messages.NAMES_CAVEAT)
    if note := combined.family_photo_note(facts):
        st.warning(note)
    return facts, float(threshold)


def facts_reasons(item: Combined) -> None:
    """Why a candidate rose, what does not agree, and how far apart the photos are in years."""
    if item.found_by == "name" and item.candidate is not None:
        c = item.candidate
        st.caption(
            f"found by name; photo rank {c.rank}" if c.rank else
            f"found by name; beyond the first {combined.RANK_HORIZON} by photo"
        )  # fmt: skip
    for reason in item.agrees:
        st.caption(f"agrees: {reason}")
    for reason in item.differs:
        st.caption(f"differs: {reason}")
    if item.age_gap is not None:
        (st.warning if item.age_gap.large else st.caption)(item.age_gap.text())


def records_without_face(items: list[Combined]) -> None:
    """Records found by name that have no face to compare (most of an archive has no photo)."""
    if not items:
        return
    st.subheader(f"Records found by name without a face to compare ({len(items)})")
    for it in items:
        r = it.records[0]
        with st.container(border=True):
            st.markdown(f"**{records.record_summary(r)}**")
            st.info(it.note)
            for face in it.archive_faces[:4]:
                try:
                    st.image(face_thumb(str(face.path), tuple(face.box)), width=120)
                except images.ImageError as e:
                    st.error(f"archive photo unreadable: {e}")
            facts_reasons(it)
            st.caption("  \n".join(f"{k}: {v}" for k, v in records.record_lines(r)))


def export_section(rv: Review, case_id: int) -> None:
    st.divider()
    st.subheader("Export")
    a, b = st.columns(2)
    a.download_button(
        "Case report (HTML, prints well)",
        lambda: report.case_html(rv, case_id),  # built on click, not every rerun
        file_name=f"facematch-case-{case_id}.html",
        mime="text/html",
        key="export_html",
    )
    b.download_button(
        "Audit log (CSV)",
        lambda: report.audit_csv(rv, case_id),
        file_name=f"facematch-case-{case_id}-audit.csv",
        mime="text/csv",
        key="export_csv",
    )


def main() -> None:
    st.set_page_config(page_title="facematch", page_icon="🔎", layout="wide")
    folder = index_dir()
    if "FACEMATCH_INDEX" not in os.environ and not Index.exists(folder):
        ensure_demo(str(folder))
    try:
        s = searcher(str(folder))
    except (FileNotFoundError, ValueError) as e:
        st.error(f"The archive index cannot be opened: {e}")
        st.stop()
    rv = Review(s.index)
    case_id, reviewer = sidebar(rv)
    if case_id is None:
        st.title("Search an archive for a missing relative")
        st.markdown(
            f"This archive index holds **{s.gallery_size} faces**. Create a case for the person you are looking "
            "for (left), then upload a photo of them. facematch lists the most similar faces in the archive; "
            "**you** compare them and decide."
        )
        st.warning(messages.CAVEAT)
        return
    case = rv.case(case_id)
    st.title(f"Case: {case.name}")
    if not case.is_open:
        st.info("This case is closed. Reopen it (left) to record new decisions.")
    if not reviewer.strip():
        st.warning("Enter your name on the left: every decision records who made it.")
    facts, name_threshold = facts_section(rv, case_id)
    chosen = query_photos(s, rv, case_id)
    if chosen:
        if len(chosen) > 1:
            st.caption(f"The {len(chosen)} photos are combined into one search.")
        candidates_section(s, rv, case_id, reviewer, chosen, facts, name_threshold)
    elif facts.names:
        records_without_face(combined.combine(s, [], [], facts, name_threshold=name_threshold).no_face)
    export_section(rv, case_id)


if __name__ == "__main__":  # Streamlit runs this file as __main__ (facematch app)
    main()
