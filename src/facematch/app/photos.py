"""The family's photos in a case: uploaded, or kept in the case, each with the face that is their relative (a click
on the picture, or its number) and about when it was taken. What it returns (Chosen) is what the search uses;
finding faces, keeping photos and "the same face" are library calls (Searcher.detect, Review, faces.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st
from streamlit_image_coordinates import streamlit_image_coordinates

from .. import faces, images, messages, thumbs
from ..combined import Facts
from ..engines import Face
from ..i18n import _
from ..messages import isolate as iso
from ..review import KeptPhoto, Review, parse_year
from ..search import QueryPhoto, Searcher
from ..vault import VaultError
from .language import in_this_language
from .text import bold, caption, plain
from .widgets import number

#: Largest side of the face-picking preview: large enough to see and tap small faces in a group photo.
PREVIEW_SIDE = 1000


@dataclass
class Chosen:
    """A family photo in use for the search: the face chosen in it and about when it was taken."""

    query: QueryPhoto
    face: Face
    year: int | None
    name: str


def photos_section(s: Searcher, rv: Review, case_id: int, facts: Facts) -> list[Chosen]:
    """The case's kept photos (there again when the family comes back) and new uploads; in each, the face
    that is their relative and about when it was taken. Returns the photos usable for the search."""
    st.subheader(_("Photos of your relative"))
    files = st.file_uploader(
        _("Add photos of your relative (one or more; JPEG, PNG, WebP, HEIC)"),
        type=["jpg", "jpeg", "png", "webp", "heic", "heif", "bmp", "tif", "tiff", "gif"],
        accept_multiple_files=True,
        key=f"upload_{case_id}",
    )
    keep_key = f"keep_{case_id}"
    if keep_key not in st.session_state:  # the family's answer when the case was created (asked once)
        st.session_state[keep_key] = bool(rv.keep_photos(case_id))
    keep = st.checkbox(
        _(
            "Keep these photos in this case, so they are here when you come back "
            "(stored on this computer without location or camera data)"
        ),
        key=keep_key,
    )
    if keep != bool(rv.keep_photos(case_id)):
        rv.set_keep_photos(case_id, keep)
    kept_from = st.session_state.setdefault("kept_from_upload", {})  # upload sha256 -> kept copy's sha256
    uploads, first_name = [], {}
    for f in files or []:
        data = f.getvalue()
        sha = images.sha256_bytes(data)
        if sha in first_name:  # the same bytes twice would count one photo as two views of a person
            caption(_("{photo}: the same photo as {other}; used once.", photo=iso(f.name), other=iso(first_name[sha])))
            continue
        first_name[sha] = f.name
        if keep and sha not in kept_from and usable(detect(s, data, f.name)):
            kept_from[sha] = rv.keep_photo(case_id, data, f.name).sha256
        uploads.append((f.name, data, sha))
    kept = rv.case_photos(case_id)
    kept_shas = {k.sha256 for k in kept}
    chosen: list[Chosen] = []
    for k in kept:
        try:
            data = rv.photo_bytes(case_id, k.sha256)
        except (OSError, VaultError) as e:
            st.error(plain(_("The kept photo {photo} cannot be read: {error}", photo=iso(k.original_name), error=e)))
            continue
        pick = photo_block(s, rv, case_id, k.original_name, data, k, facts.photo_year)
        chosen += [pick] if pick else []
    for name, data, sha in uploads:
        if kept_from.get(sha) in kept_shas:
            continue  # shown above as kept
        pick = photo_block(s, rv, case_id, name, data, None, facts.photo_year)
        chosen += [pick] if pick else []
    if not chosen and not uploads and not kept:
        st.info(
            _("Upload a photo of your relative. A clear, recent photo where the face looks at the camera works best.")
        )
    return chosen


def detect(s: Searcher, data: bytes, name: str) -> QueryPhoto:
    """Faces in a photo, found once per browser session (a rerun must not detect again)."""
    cache: dict = st.session_state.setdefault("queries", {})
    sha = images.sha256_bytes(data)
    if sha not in cache:
        cache[sha] = s.detect(data, name)
    return cache[sha]


def usable(q: QueryPhoto) -> bool:
    return q.error is None and bool(q.faces)


def photo_block(
    s: Searcher, rv: Review, case_id: int, name: str, data: bytes, kept: KeptPhoto | None, case_year: int | None
) -> Chosen | None:
    """One family photo: a large preview on which a click (or tap) picks a face, the same choice as numbers
    (for the keyboard), the photo's year, and for a kept photo a way to stop using it."""
    q = detect(s, data, name)
    key = f"{case_id}_{images.sha256_bytes(data)[:12]}"
    with st.container(border=True):
        left, right = st.columns([3, 2])
        kept_note = _("kept in this case")
        bold(f"{iso(name)} · {kept_note}" if kept else iso(name), where=right)
        if kept is not None and right.button(_("Remove this photo from the case"), key=f"remove_{key}"):
            rv.remove_photo(case_id, kept.sha256)
            st.rerun()
        if q.error:
            right.error(plain(_("This file cannot be used: {error}", error=q.error)))
            return None
        if not q.faces:
            left.image(thumbs.draw_faces(q.rgb, [], max_side=600), width=240)
            right.warning(messages.no_face_hint())
            return None
        boxes = [q.in_rgb(f).box for f in q.faces]
        face_key, year_key = f"face_{key}", f"year_{key}"
        if face_key not in st.session_state:  # first shown: the face kept with the case; one face is chosen at once;
            st.session_state[face_key] = stored_face(q, kept) or (1 if len(q.faces) == 1 else None)  # else: asked
        if year_key not in st.session_state:
            year = kept.photo_year if kept is not None and kept.photo_year else case_year
            st.session_state[year_key] = str(year or "")
        with left:
            pick_on_picture(q, boxes, face_key, key)
        with right:
            many = len(q.faces) > 1
            n = st.radio(
                _("Which face is your relative?") if many else _("Face found:"),
                list(range(1, len(q.faces) + 1)),
                horizontal=True,
                key=face_key,
                format_func=in_this_language(lambda n: _("face {n}", n=number(n))),
            )
            if n is None:
                st.info(_("Choose the face of your relative (its number, or a click on it): the search starts then."))
            year_text = st.text_input(_("Year this photo was taken (about)"), key=year_key)
            try:
                year = parse_year(year_text, _("Year the photo was taken"))
            except ValueError as e:
                st.error(str(e))
                year = None
    if n is None:
        return None
    face = q.faces[n - 1]
    if kept is not None and (faces.stored_box(face.box) != kept.face_box or kept.photo_year != year):
        rv.choose_face(case_id, kept.sha256, tuple(float(v) for v in face.box), year)
    return Chosen(q, face, year, name)


def stored_face(q: QueryPhoto, kept: KeptPhoto | None) -> int | None:
    """The number of the face chosen earlier in a kept photo (the detected face that is the same face)."""
    if kept is None or kept.face_box is None:
        return None
    i = faces.find_same(kept.face_box, [f.box for f in q.faces])
    return None if i is None else i + 1


def pick_on_picture(q: QueryPhoto, boxes: list, face_key: str, key: str) -> None:
    """The photo, large, with numbered faces. In a group photo a click on a face chooses it."""
    picture = thumbs.draw_faces(q.rgb, boxes, chosen=st.session_state[face_key], max_side=PREVIEW_SIDE)
    if len(boxes) == 1:
        st.image(picture, width=260)
        return
    click = streamlit_image_coordinates(picture, width="stretch", key=f"click_{key}", image_format="JPEG")
    st.caption(_("Faces are numbered from the left. Click (or tap) the face of your relative, or choose its number."))
    if not click or click.get("unix_time") == st.session_state.get(f"clicked_{key}"):
        return
    st.session_state[f"clicked_{key}"] = click.get("unix_time")
    to_rgb = picture.shape[1] / max(1, click["width"]) / min(1.0, PREVIEW_SIDE / max(q.rgb.shape[:2]))
    n = thumbs.face_at(boxes, click["x"] * to_rgb, click["y"] * to_rgb)
    if n is not None and n != st.session_state[face_key]:
        st.session_state[face_key] = n
        st.rerun()
