"""The workbench with what the family knows: real app (AppTest), real model, real demo index and records."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from streamlit.testing.v1 import AppTest

from conftest import ok, save_facts, texts
from facematch import demo
from facematch.store import DB_NAME


def open_case(at: AppTest, name: str) -> int:
    at.sidebar.text_input(key="reviewer").input("Ayse")
    at.sidebar.text_input(key="new_case_name").input(name)
    next(b for b in at.sidebar.button if b.label == "Create case").click()
    at.run()
    ok(at)
    return at.session_state["case_select"]


def photo_year(at: AppTest, year: str) -> None:
    """The year of the (only) uploaded photo: each photo has its own."""
    next(t for t in at.text_input if (t.key or "").startswith("year_")).input(year)
    at.run()
    ok(at)


def upload(at: AppTest, name: str, data: bytes) -> None:
    at.file_uploader[0].set_value([(name, data, "image/jpeg")])
    at.run()
    ok(at)


def cards(at: AppTest) -> list:
    return [b for b in at.button if b.key and b.key.startswith("cmp_")]


def shown_order(at: AppTest) -> list[str]:
    """Card keys in the order a person reads them: the app lays cards out row by row (so a phone, where
    columns stack, keeps that order too), and AppTest lists them in the same order."""
    return [b.key for b in cards(at)]


def test_name_search_photo_and_facts_together(app, app_index):
    case_id = open_case(app, "Uncle (records test)")
    # by name only, before any photo: records in other scripts, records without a photo say so
    save_facts(app, case_id, names="Tursun Mehmet\nАйгүл Ясин\nJoe Biden", born="1961", county="Honolulu")
    t = texts(app)
    assert "Records found by name without a face to compare" in t
    assert "Agrees with what the family knows: name (Tursun ≈ tursun; Memet ≈ mehmet)" in t
    assert "name agrees: name" not in t.lower() and "agrees: name agrees" not in t  # said once
    assert "阿依古丽 → ayiguli ≈ aygül" in t  # Cyrillic query, Chinese record
    assert t.count("no photo in the archive") == 2
    assert "upload a photo of your relative to compare the faces" in t  # Joe Biden's record has photos
    con = sqlite3.connect(app_index / DB_NAME)
    stored = con.execute("SELECT names, birth_year, county FROM case_facts WHERE case_id = ?", (case_id,)).fetchone()
    assert stored == ('["Tursun Mehmet", "Айгүл Ясин", "Joe Biden"]', 1961, "Honolulu")

    # with a photo: candidates whose records agree rise and say why; the age gap is shown
    # (Eileen Collins: her photo ranks 10th by face alone; her name lifts it, so the facts reorder something)
    save_facts(app, case_id, names="Barak Obama\nJoe Biden\nEileen Collins", born="1961", county="Honolulu")
    upload(app, "obama2.jpg", demo.query_photo().read_bytes())
    photo_year(app, "2009")
    t = texts(app)
    assert (
        "Agrees with what the family knows: name (باراك → barak ≈ barak; ئوباما → obama ≈ obama); "
        "same birth year (1961); same county"
    ) in t
    assert "Your photo: about 2009 (age about 48); archive photo: about 2012 (age about 51); 3 years apart." in t
    # Biden's own photo: shown, not hidden; the family photo's age is the family's (48), not from his record
    assert "record says born 1942, 19 years from the family's 1961" in t
    assert "Your photo: about 2009 (age about 48); archive photo: about 2010 (age about 68); 1 year apart." in t
    # his record names face 2 of obama3.jpg, which the crop cuts away: it is beside no face of Obama
    assert t.count("Joe Biden · 1942-11-20") == 1
    assert "lifts a candidate a little" in t
    assert len(cards(app)) == 11  # facts hide nothing
    assert "match" not in t.replace("not matches", "").replace("confirm a match", "").lower().replace("facematch", "")

    # the switch turns the lift off and says so; the order is the photo order again
    lifted = shown_order(app)
    app.toggle(key=f"use_facts_{case_id}").set_value(False)
    app.run()
    ok(app)
    plain = shown_order(app)
    assert "Ordered by similarity. The number shown" in texts(app)
    assert plain == sorted(plain)  # keys are cmp_<photo rank>_<face id>: the photo order
    assert lifted != plain and sorted(lifted) == sorted(plain)  # the facts moved some, and hid none


def test_facts_never_change_a_decision(app, app_index):
    case_id = open_case(app, "Aunt (records test)")
    save_facts(app, case_id, names="Eileen Collins", born="1956", county="Elmira")
    upload(app, "obama2.jpg", demo.query_photo().read_bytes())
    t = texts(app)
    assert "Agrees with what the family knows: name (Eileen ≈ eileen; Collins ≈ collins)" in t
    # compare and reject her: facts do not change the decision, and she is hidden only by the rejected switch
    key = next(b.key for b in cards(app) if b.key.endswith(_face_id(app_index, "astronaut.png")))
    next(b for b in cards(app) if b.key == key).click()
    app.run()
    ok(app)
    assert "Compare:" in texts(app) and "same county" in texts(app)
    app.radio(key="decision").set_value("reject")
    next(b for b in app.button if b.label == "Record decision").click()
    app.run()
    ok(app)
    assert key not in [b.key for b in cards(app)] and "1 rejected candidate hidden." in texts(app)
    app.toggle(key=f"show_rejected_{case_id}").set_value(True)
    app.run()
    assert key in [b.key for b in cards(app)] and "Rejected by Ayse" in texts(app)


def test_bad_year_is_a_message_not_a_crash(app):
    case_id = open_case(app, "Bad year (records test)")
    save_facts(app, case_id, names="Adil Tursun", born="nineteen seventy")
    assert "Birth year: write a year such as 1979" in texts(app)
    save_facts(app, case_id, names="Adil Tursun", born="1979")
    upload(app, "obama2.jpg", demo.query_photo().read_bytes())
    photo_year(app, "nineteen eighty")
    assert "Year the photo was taken: write a year such as 1979" in texts(app)
    photo_year(app, "1986")
    assert "Your photo obama2.jpg shows them at about age 7" in texts(app)


def _face_id(index: Path, filename: str) -> str:
    con = sqlite3.connect(index / DB_NAME)
    row = con.execute(
        "SELECT f.id FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.filename = ?", (filename,)
    ).fetchone()
    return f"_{row[0]}"
