"""The review workbench through Streamlit's AppTest: real app, real model, real demo index, real SQLite."""

from __future__ import annotations

import io
import sqlite3

from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import demo_photo, texts
from facematch import demo, messages, report
from facematch.app import serve
from facematch.index import Index
from facematch.review import Review
from facematch.store import DB_NAME


def open_case(at: AppTest, name: str, reviewer: str = "Ayse", keep: bool = True) -> None:
    at.sidebar.text_input(key="reviewer").input(reviewer)
    at.sidebar.text_input(key="new_case_name").input(name)
    at.sidebar.radio(key="new_case_keep_sidebar").set_value(keep)  # asked once, when the case is created
    next(b for b in at.sidebar.button if b.label == "Create case").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"Case: {name}" in texts(at)


def upload(at: AppTest, *files: tuple[str, bytes]) -> None:
    at.file_uploader[0].set_value([(name, data, "image/jpeg") for name, data in files])
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def candidate_buttons(at: AppTest) -> list:
    """The "Compare and decide" buttons in rank order (keys are cmp_<rank>_<face id>)."""
    return sorted((b for b in at.button if b.key and b.key.startswith("cmp_")), key=lambda b: b.key)


def decide(at: AppTest, n: int, choice: str, note: str = "") -> None:
    candidate_buttons(at)[n].click()
    at.run()
    at.radio(key="decision").set_value(choice)
    at.text_input(key="decision_note").input(note)
    next(b for b in at.button if b.label == "Record decision").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_start_page_explains_and_warns(app):
    t = texts(app)
    assert "11 faces" in t and "Create a case" in t
    assert "These are candidates, not matches" in t


def test_search_decide_and_rerun_keeps_decisions(app, app_index, monkeypatch):
    open_case(app, "Brother (test)")
    upload(app, ("obama2.jpg", demo.query_photo().read_bytes()))
    t = texts(app)
    assert "Candidate #1" in t and "uncalibrated similarity" in t
    assert (
        "Faces compared with sface" in t and "facematch models fetch buffalo_l" in t
    )  # which model, and a stronger one
    assert len(candidate_buttons(app)) == 11
    assert "match" not in t.replace("not matches", "").replace("confirm a match", "").lower().replace("facematch", "")

    # a decision needs a reviewer name and a choice
    app.sidebar.text_input(key="reviewer").input("")
    app.run()
    candidate_buttons(app)[0].click()
    app.run()
    assert "Compare: candidate #1" in texts(app)
    app.radio(key="decision").set_value("confirm")
    next(b for b in app.button if b.label == "Record decision").click()
    app.run()
    assert "every decision records its reviewer" in texts(app)
    app.sidebar.text_input(key="reviewer").input("Ayse")
    app.run()
    next(b for b in app.button if b.label == "Record decision").click()
    app.run()
    assert "Confirmed by Ayse on" in texts(app)

    decide(app, 2, "reject", "different nose")  # candidate #3 (Biden)
    assert len(candidate_buttons(app)) == 10  # rejected ones are hidden by default...
    assert "1 rejected candidate hidden" in texts(app)
    next(t for t in app.toggle if "show_rejected" in (t.key or "")).set_value(True)
    app.run()
    assert len(candidate_buttons(app)) == 11  # ...and shown on request
    assert "Rejected by Ayse" in texts(app)

    # this case's decisions only: the index is shared by the module's tests, each deciding in its own case
    case_id = next(c.id for c in Review(Index.open(app_index)).cases() if c.name == "Brother (test)")
    con = sqlite3.connect(app_index / DB_NAME)
    rows = con.execute(
        "SELECT decision, reviewer, rank, note, engine FROM decisions WHERE case_id = ? ORDER BY id", (case_id,)
    ).fetchall()
    assert [r[:4] for r in rows] == [("confirm", "Ayse", 1, ""), ("reject", "Ayse", 3, "different nose")]
    assert all(r[4].startswith("sface@") for r in rows)

    # a new session on the same case: the decisions are still there
    again = AppTest.from_file(str(serve.APP), default_timeout=180)
    again.run()
    again.sidebar.selectbox(key="case_select").set_value(case_id)
    again.run()
    again.sidebar.text_input(key="reviewer").input("Bilal")
    upload(again, ("obama2.jpg", demo.query_photo().read_bytes()))
    assert "Confirmed by Ayse on" in texts(again)
    assert len(candidate_buttons(again)) == 10

    # export: the HTML report and the audit CSV hold both decisions with hashes and the caveat
    labels = [d.label for d in again.get("download_button")]
    assert "Case report (HTML, prints well)" in labels and "Audit log (CSV)" in labels
    rv = Review(Index.open(app_index))
    html = report.case_html(rv, case_id)
    assert "Confirmed by a person" in html and "different nose" in html
    assert "These are candidates, not matches" in html
    (sha,) = con.execute("SELECT photo_sha256 FROM decisions WHERE case_id = ? ORDER BY id", (case_id,)).fetchone()
    assert sha in html
    csv = report.audit_csv(rv, case_id).splitlines()
    assert len(csv) == 3 and csv[0].startswith("decision_id,")


def test_group_photo_pick_a_face(app):
    """Issue 24 (5): a group photo's faces are numbered from the left, as archive faces are, and nothing is searched
    until the family has chosen (no candidates for the largest face first); a one-face photo searches at once."""
    open_case(app, "Group test")
    upload(app, ("t1.jpg", demo_photo("t1.jpg").read_bytes()))
    radio = next(r for r in app.radio if r.key and r.key.startswith("face_"))
    assert radio.options == [f"face {n}" for n in range(1, 7)] and radio.value is None  # nothing chosen for them
    t = texts(app)
    assert "Candidate #1" not in t and not candidate_buttons(app) and "the search starts then" in t
    assert "numbered from the left" in t
    radio.set_value(4)
    app.run()
    t = texts(app)
    # the same photo is in the archive: its face 4 from the left comes back first, and is called face 4 there too
    first = t[t.index("Candidate #1") :]
    assert "face 4 of 6 in this photo, from the left" in first[: first.index("Candidate #2")]
    candidate_buttons(app)[0].click()
    app.run()
    t = texts(app)
    assert "The face you chose is face 4 of 6, from the left." in t and "This candidate is face 4 of 6" in t


def test_bad_and_faceless_uploads_get_a_clear_message(app):
    open_case(app, "Bad files")
    upload(
        app,
        ("coffee.png", demo_photo("coffee.png").read_bytes()),
        ("broken.jpg", b"\xff\xd8\xff\xe0 this is not really a jpeg"),
        ("empty.jpg", b""),
    )
    t = texts(app)
    assert "No face was found" in t and "sharper" in t
    assert "This file cannot be used" in t
    assert not app.exception


def test_kept_photos_lose_their_location(app, app_index):
    open_case(app, "Keep photos")
    im = Image.open(demo.query_photo())
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0xA431] = "SERIAL-12345"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (39.0, 28.0, 0.0), "E", (75.0, 59.0, 0.0)
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif.tobytes())
    assert Image.open(io.BytesIO(buf.getvalue())).getexif().get_ifd(0x8825)  # the upload does carry GPS
    app.checkbox[0].check()
    upload(app, ("phone.jpg", buf.getvalue()))
    case = next(c for c in Review(Index.open(app_index)).cases() if c.name == "Keep photos")
    kept = Review(Index.open(app_index)).case_photos(case.id)
    assert len(kept) == 1 and kept[0][1] == "phone.jpg"
    stored = Image.open(kept[0][0])
    ex = stored.getexif()
    assert not ex.get_ifd(0x8825) and 0xA431 not in ex and 0x010F not in ex
    assert stored.size == im.size


def test_the_hostile_corpus_through_upload_gives_messages_never_a_traceback(app):
    """The files indexing must survive, uploaded all at once: each gets a message or its faces."""
    from hostile import file_kinds

    open_case(app, "Hostile uploads", keep=False)  # each upload on its own (kept copies of one image are one)
    kinds = file_kinds()
    upload(app, *((name, data) for name, (_, data) in kinds.items()))
    errors = [e.value for e in app.error]
    for kind, _ in kinds.values():
        if kind.expect not in ("face", "no face"):
            assert any(kind.expect in e.lower() for e in errors), (kind.what, errors)
    n_no_face = sum(k.expect == "no face" for k, _ in kinds.values())
    assert sum(messages.NO_FACE_HINT in w.value for w in app.warning) == n_no_face
    face_pickers = [r for r in app.radio if r.key and r.key.startswith("face_")]
    assert len(face_pickers) == sum(k.expect == "face" for k, _ in kinds.values())
    assert "Candidate #1" in texts(app)


def test_the_same_photo_uploaded_twice_under_two_names_is_used_once(app):
    open_case(app, "Twice")
    data = demo.query_photo().read_bytes()
    upload(app, ("a.jpg", data), ("copy of a.jpg", data))
    assert len([r for r in app.radio if r.key and r.key.startswith("face_")]) == 1
    assert "same photo as a.jpg" in texts(app).lower()


def test_keeping_photos_is_asked_once_when_the_case_is_created(app, app_index):
    """Issue 24 (8): the family answers once, plainly, when it creates the case; with "keep" (offered first) a
    reload of the case finds its photo and its candidates at once, with nothing to tick."""
    question = app.sidebar.radio(key="new_case_keep_sidebar")
    assert "Keep the photos you add to this case" in question.label and question.value is True
    open_case(app, "Kept at once")
    upload(app, ("obama2.jpg", demo.query_photo().read_bytes()))
    case = next(c for c in Review(Index.open(app_index)).cases() if c.name == "Kept at once")
    assert [k.original_name for k in Review(Index.open(app_index)).case_photos(case.id)] == ["obama2.jpg"]
    again = AppTest.from_file(str(serve.APP), default_timeout=180)
    again.query_params["case"] = str(case.id)
    again.run()
    assert "Candidate #1" in texts(again) and "obama2.jpg · kept in this case" in texts(again)

    open_case(app, "Not kept", keep=False)  # the other answer: nothing is stored, the box stays unticked
    upload(app, ("obama2.jpg", demo.query_photo().read_bytes()))
    case = next(c for c in Review(Index.open(app_index)).cases() if c.name == "Not kept")
    assert Review(Index.open(app_index)).case_photos(case.id) == []
    assert not next(c for c in app.checkbox if c.key == f"keep_{case.id}").value
