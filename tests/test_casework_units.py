"""Issue 13 below the app: stranger counts in words, plurals, ages from each side, faces numbered from the
left for records ("photo.jpg#2"), a click on a preview mapped to a face, and a schema-2 index opening."""

from __future__ import annotations

import json
import sqlite3

import pytest

from conftest import rgb
from facematch import i18n, messages, records, thumbs
from facematch.index import Index
from facematch.review import Review
from facematch.store import DB_NAME, SCHEMA_VERSION
from facematch.store import db as dbmod


def test_stranger_counts_in_words_rounded_never_scientific():
    # One framing for every count (issue 24): strangers in this archive, and below one the chance that one would.
    assert messages.strangers(6.1e-06, gallery=11) == (
        "fewer than 1 stranger in this archive of 11 faces would look this similar "
        "(less than a 1 in 100,000 chance that one would)"
    )
    # 1 in 163,363 rounds *down* to 1 in 100,000, so "less than" stays true
    assert "less than a 1 in 100,000 chance" in messages.strangers(1 / 163_363)
    assert "less than a 1 in 200 million chance" in messages.strangers(2.2e-9)
    assert "about a 1 in 3 chance" in messages.strangers(0.3)
    assert messages.strangers(0.7) == "about 1 stranger in this archive would look this similar"
    assert messages.strangers(1634.2, gallery=1_000_000).startswith(
        "about 1,600 strangers in this archive of 1,000,000"
    )
    assert messages.strangers(3.2e6).startswith("about 3.2 million strangers")
    assert messages.strangers(40.0, bound=True).startswith("at most about 40 strangers")
    for e in (1e-12, 3.3e-7, 6.1e-6, 0.049, 0.5, 7.0, 1e8):
        assert "e-" not in messages.strangers(e) and "e+" not in messages.strangers(e)
    assert messages.strength("strong", 1e-6).startswith("strong resemblance — still needs a person to compare")
    assert messages.strength("strong", 1e-6, decided=True).startswith("strong resemblance; ")
    assert "LFW" in messages.CALIBRATION_NOTE and "an archive count" in messages.calibration_note("an archive count")


def test_plural():
    assert [messages.plural(n, "candidate") for n in (0, 1, 2)] == ["0 candidates", "1 candidate", "2 candidates"]
    assert messages.plural(1, "search") == "1 search" and messages.plural(2, "search") == "2 searches"
    assert messages.plural(12_000, "face") == "12,000 faces" and messages.plural(2, "person", "people") == "2 people"


def test_ages_each_from_its_own_side():
    text = messages.age_gap([(2009, 48)], 2010, 68, 1, False)
    assert text == "Your photo: about 2009 (age about 48); archive photo: about 2010 (age about 68); 1 year apart."
    unknown = messages.age_gap([(2009, None)], None, None, None, False)
    assert unknown == (
        "Your photo: about 2009 (age unknown: the family gives no birth year); archive photo: year unknown."
    )


def test_a_click_on_the_preview_picks_the_face_under_it(t1_path, sface):
    faces = sface.analyze(rgb(t1_path))
    boxes = [f.box for f in faces]
    for n, b in enumerate(boxes, start=1):
        assert thumbs.face_at(boxes, (b[0] + b[2]) / 2, (b[1] + b[3]) / 2) == n
        assert thumbs.face_at(boxes, b[2] + 5, (b[1] + b[3]) / 2) == n  # just beside the box still counts
    assert thumbs.face_at(boxes, 640, 860) is None  # the table, far from every face


def test_a_kept_photos_face_is_found_again_among_the_faces_detected_anew(t1_path, sface):
    """The app shows the face chosen earlier in a kept photo by asking faces.find_same which detected face it is."""
    from facematch import faces as same

    boxes = [f.box for f in sface.analyze(rgb(t1_path))]
    for i, b in enumerate(boxes):
        assert same.find_same(same.stored_box(b), boxes) == i
        shifted = (b[0] + 3, b[1] - 2, b[2] + 3, b[3] - 2)  # another engine's box of the same face
        assert same.find_same(shifted, boxes) == i
    assert same.find_same((0, 0, 5, 5), boxes) is None  # no face there
    assert same.find_same(boxes[0], []) is None


def test_records_name_a_face_of_a_group_photo(tmp_path, app_index, t1_path):
    """t1.jpg#3 in a records file links the record to the third face from the left, and to no other face."""
    from facematch.search import Searcher

    assert records.split_face("t1.jpg#3") == ("t1.jpg", 3) and records.split_face("t1.jpg") == ("t1.jpg", None)
    csv = tmp_path / "group.csv"
    csv.write_text("record_id,photo,name\nG-3,t1.jpg#3,Invented Person Three\n", encoding="utf-8")
    with Searcher(app_index) as s:
        records.import_file(s.index, csv)
        query = s.detect_file(t1_path)
        cands = [c for c in s.search([query.faces[0]], k=11) if c.face.filename == "t1.jpg"]
        assert sorted(c.face_number for c in cands) == [1, 2, 3, 4, 5, 6]
        for c in cands:
            own = [r["record_id"] for r in c.records]
            assert own == (["G-3"] if c.face_number == 3 else [])
            assert [r["record_id"] for r in c.photo_records] == ["DEMO-0005"]  # the photo's own record
        third = next(c for c in cands if c.face_number == 3)
        assert s.index.records.face_ids(["G-3"], s.fingerprint) == {"G-3": [third.face.id]}
        assert ("photos", "t1.jpg (face 3 from the left)") in records.record_lines(third.records[0])


def test_a_schema_2_index_opens_and_keeps_its_cases(tmp_path):
    folder = tmp_path / "v2"
    folder.mkdir()
    con = dbmod.connect(folder / DB_NAME)
    con.executescript(dbmod.SCHEMA)
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    dbmod._upgrade_to_v2(con)  # exactly what facematch with schema 2 wrote
    assert "face_box" not in {r[1] for r in con.execute("PRAGMA table_info(case_photos)")}
    con.execute("INSERT INTO cases(name, notes, reviewer, created_at) VALUES ('Old case', 'n', 'Ayse', 1.0)")
    con.execute("INSERT INTO case_photos VALUES (1, 'cases/1/a.jpg', 'abc', 'a.jpg', 1.0)")
    con.execute(
        "INSERT INTO decisions(case_id, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at, engine, score,"
        " rank) VALUES (1, 'f00', 1, 2, 3, 4, 'confirm', 'Ayse', 2.0, 'sface@x', 0.7, 1)"
    )
    con.execute("INSERT INTO records(record_id, photo_file, data) VALUES ('R1', 'p.jpg', ?)", (json.dumps({}),))
    con.commit()
    con.close()
    with Index.open(folder) as index:
        assert index.db.get_meta("schema_version") == str(SCHEMA_VERSION) == "7"
        rv = Review(index)
        kept = rv.case_photos(1)
        assert [(k.original_name, k.face_box, k.photo_year) for k in kept] == [("a.jpg", None, None)]
        assert [(d.decision, d.reviewer, d.shown) for d in rv.log(1)] == [("confirm", "Ayse", ())]
        rv.choose_face(1, "abc", (1.0, 2.0, 3.0, 4.0), "2001")
        assert rv.case_photos(1)[0].face_box == (1.0, 2.0, 3.0, 4.0)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):  # the log is still append-only
            index.db.execute("UPDATE decisions SET reviewer = 'x'")


def test_a_count_between_one_and_two_strangers_is_never_said_in_the_singular():
    # 1.5-1.99 expected strangers take the plural sentence ("about {n} strangers"); the number was cut to "1"
    for expected in (1.5, 1.7, 1.99):
        said = messages.strangers(expected, gallery=400)
        assert "about 1 strangers" not in said and "about 2 strangers" in said, said
    assert messages.round_number(2.5) == "3" and messages.round_number(1_549) == "1,500"
    with i18n.language("tr"):
        assert "yaklaşık 2 " in messages.strangers(1.7, gallery=400)
