"""Issue 24, "the workbench, third pass": each item that is not tested beside its page elsewhere (test_app.py: group
photos and keeping photos; test_app_team.py: the family's outcome; test_app_text.py: labels and user text;
test_browser_text.py: scrolling and no request leaving the computer). Real app, model, index and SQLite."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_app_team import log_in

from conftest import demo_photo, ok, raw_texts, save_facts, shown, texts
from facematch import access, demo, thumbs
from facematch.access import Accounts
from facematch.app import serve
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.review import Review
from facematch.search import Searcher

PW = "correct horse battery"


def start(index, monkeypatch, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("FACEMATCH_INDEX", str(index))
    at = AppTest.from_file(str(serve.APP), default_timeout=180)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    ok(at)
    return at


def candidate_buttons(at) -> list:
    return sorted((b for b in at.button if b.key and b.key.startswith("cmp_")), key=lambda b: b.key)


@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    """An archive without records: the three portraits only (a collection is added to it while the app runs)."""
    root = tmp_path_factory.mktemp("small")
    photos = root / "first"
    photos.mkdir()
    for name in ("obama.jpg", "biden.jpg"):
        shutil.copyfile(demo.DEMO_DIR / "gallery" / name, photos / name)
    idx = root / "index"
    index_folder(photos, idx, "sface", workers=1, progress=False)
    return idx


def test_a_running_app_sees_newly_indexed_photos(small_index, monkeypatch):
    """Item 2: `facematch index` adds a collection while the app runs: the page says so, counts the new archive
    and ranks as the CLI does (the photo it ranks first was missing before)."""
    at = start(small_index, monkeypatch)
    at.sidebar.text_input(key="reviewer").input("Ayse")
    at.sidebar.text_input(key="new_case_name").input("Reload")
    next(b for b in at.sidebar.button if b.label == "Create case").click()
    at.run()
    at.file_uploader[0].set_value([("obama2.jpg", demo.query_photo().read_bytes(), "image/jpeg")])
    at.run()
    ok(at)
    assert "among 2 in the archive" in texts(at)
    more = small_index.parent / "second"
    more.mkdir()
    shutil.copyfile(demo.DEMO_DIR / "gallery" / "obama3.jpg", more / "obama3.jpg")
    index_folder(more, small_index, "sface", workers=1, progress=False)  # the CLI's `facematch index`, meanwhile
    time.sleep(2.2)  # the app looks at most every 2 seconds
    at.run()
    ok(at)
    t = texts(at)
    assert "The archive changed while this page was open" in t and "among 3 in the archive" in t
    with Searcher(small_index) as s:  # what the CLI shows now
        q = s.detect(demo.query_photo().read_bytes(), "obama2.jpg")
        cli = [c.face.relpath for c in s.search([q.largest()], k=3)]
    shown = [b.key.split("_")[2] for b in candidate_buttons(at)]
    with Index.open(small_index) as index:
        ids = {r.relpath: str(r.id) for r in index.faces.by_id(range(1, 100)).values()}
    assert shown == [ids[p] for p in cli] and "obama3.jpg" in cli
    at.run()
    assert "The archive changed" not in texts(at)  # said once


def test_no_records_in_the_archive_is_said_so(small_index, monkeypatch):
    """Item 7: with no records in the archive, names cannot be looked up: the page says that, not "try other
    spellings"."""
    with Index.open(small_index) as index:
        case = Review(index).create_case("Names only")
    at = start(small_index, monkeypatch, {"case": str(case.id)})
    save_facts(at, case.id, names="Ablikim Ahmat")
    t = texts(at)
    assert "This archive has no records" in t and "other spellings" not in t


def test_the_chosen_face_is_the_red_thick_one_whichever_its_number():
    """Item 3: in a group photo the candidate's own face (here face 2) is the red, thick box; face 1 is not red (it
    was: every face 1 was drawn red, and the chosen face 2 dark)."""
    rgb = np.full((200, 400, 3), 255, np.uint8)
    boxes = [(20, 50, 120, 150), (220, 50, 320, 150)]
    out = thumbs.draw_faces(rgb, boxes, chosen=2, max_side=400)
    assert tuple(out[100, 220]) == thumbs.CHOSEN_COLOUR  # the left edge of face 2
    assert tuple(out[100, 20]) != thumbs.CHOSEN_COLOUR  # face 1
    thick = sum(tuple(out[100, x]) == thumbs.CHOSEN_COLOUR for x in range(210, 235))
    thin = sum(tuple(out[100, x]) == thumbs.OTHER_COLOUR for x in range(10, 35))
    assert thick > thin > 0


def test_compare_marks_the_candidates_own_face_in_both_group_photos(app):
    """Item 3 in the app: a family's group photo and the archive's, each with the chosen face numbered from the
    left, the same number as in the grid."""
    app.sidebar.text_input(key="reviewer").input("Ayse")
    app.sidebar.text_input(key="new_case_name").input("Face two")
    next(b for b in app.sidebar.button if b.label == "Create case").click()
    app.run()
    app.file_uploader[0].set_value([("t1.jpg", demo_photo("t1.jpg").read_bytes(),
                                     "image/jpeg")])  # fmt: skip
    app.run()
    next(r for r in app.radio if r.key and r.key.startswith("face_")).set_value(2)
    app.run()
    candidate_buttons(app)[0].click()
    app.run()
    t = texts(app)
    assert "The face you chose is face 2 of 6, from the left." in t and "This candidate is face 2 of 6" in t


def test_a_refused_address_says_so(app_index, monkeypatch):
    """Item 7: ?case=N for a case that does not exist (or may not be opened) is said, not silently dropped."""
    at = start(app_index, monkeypatch, {"case": "987654"})
    t = texts(at)
    assert "you have no case 987654 to open" in t and "Search an archive for a missing relative" in t


def test_technical_notes_wait_behind_about_these_results(app):
    """Item 7: the grey technical paragraphs (how ordered, where the counts come from, which model and how to add a
    stronger one) are behind "About these results", not before the first candidate."""
    app.sidebar.text_input(key="reviewer").input("Ayse")
    app.sidebar.text_input(key="new_case_name").input("Quiet")
    next(b for b in app.sidebar.button if b.label == "Create case").click()
    app.run()
    app.file_uploader[0].set_value([("obama2.jpg", demo.query_photo().read_bytes(), "image/jpeg")])
    app.run()
    about = next(e for e in app.expander if e.label == "About these results")
    inside = "\n".join(shown(c.value) for c in about.caption)
    assert "facematch models fetch buffalo_l" in inside and "How often a stranger looks this similar" in inside
    outside = [shown(c.value) for c in app.main.caption if c not in about.caption]
    assert not any("buffalo_l" in v or "How often a stranger" in v for v in outside)


def test_notes_in_latin_script_keep_their_order_on_a_uyghur_page(app_index, monkeypatch):
    """Item 7: a Latin-script note (or name) in a Uyghur page is isolated as names are."""
    with Index.open(app_index) as index:
        case = Review(index).create_case("Isolated")
        Review(index).set_facts(case.id, names=["Ablikim Ahmat"], birth_year=None, birth_year_margin=2, county="",
                                notes="Worked at the bazaar (1998-2016).")  # fmt: skip
    at = start(app_index, monkeypatch, {"case": str(case.id), "lang": "ug"})
    raw = raw_texts(at)
    assert "<bdi>\u2068Worked at the bazaar (1998-2016).\u2069</bdi>" in raw


def test_the_cross_check_says_how_many_it_shows_and_goes_on_to_the_next_pair(app, monkeypatch):
    """Item 6 (the queue says "50 of 67"; a decision lands on the next pair, not back at the queue) and item 7 (no
    "(--reviewer)" in the page). The page size is 1 here, so the demo archive's few pairs are "many"."""
    from facematch.app import crosscheck

    monkeypatch.setattr(crosscheck, "PAGE", 1)
    app.sidebar.radio(key="page").set_value("Cross-check")
    app.run()
    next(b for b in app.button if b.key == "link_now").click()
    app.run()
    ok(app)
    t = texts(app)
    total = len([b for b in app.button if b.key and b.key.startswith("xcmp_")])
    assert total == 1 and "Showing the first 1 of" in t
    next(b for b in app.button if b.key and b.key.startswith("xcmp_")).click()
    app.run()
    first = next(s.value for s in app.subheader if s.value.startswith("Compare pair"))
    app.radio(key="xdecision").set_value("unsure")
    next(b for b in app.button if b.label == "Record decision").click()
    app.run()
    assert "--reviewer" not in texts(app) and "every decision records its reviewer" in texts(app)
    app.text_input(key="xreviewer").input("Ayse")
    next(b for b in app.button if b.label == "Record decision").click()
    app.run()
    ok(app)
    now = next(s.value for s in app.subheader if s.value.startswith("Compare pair"))
    assert now != first  # the next pair is open


@pytest.fixture(scope="module")
def team_index(app_index, tmp_path_factory):
    """A copy of the demo index for team mode (its families' data get encrypted; the app's shared Searcher is
    per folder, so single-user tests keep theirs)."""
    dest = tmp_path_factory.mktemp("team") / "index"
    shutil.copytree(app_index, dest)
    return dest


def test_an_admin_sees_the_owner_cannot_give_a_familys_case_to_another_family_and_can_take_it_back(
    team_index, monkeypatch
):
    """Item 9: the case's owner is named; a family's case is not offered to (and is refused for) another family
    account; an admin takes a case back."""
    with Index.open(team_index) as index:
        accounts = Accounts(index.db)
        for name, role in [("boss9", "admin"), ("fam9a", "family"), ("fam9b", "family"), ("cw9", "caseworker")]:
            if accounts.get(name) is None:
                accounts.add(name, role, PW)
        index.unlock("families' data passphrase")
        case = Review(index, accounts.get("fam9a")).create_case("Fam9a's brother")
        admin = Review(index, accounts.get("boss9"))
        with pytest.raises(access.AccessDenied):
            admin.give_case(case.id, "fam9b")
    monkeypatch.setenv("FACEMATCH_TEAM", "1")
    # the passphrase as `facematch app --team` hands it over: an inherited pipe, read once per server process
    monkeypatch.setenv(serve.PASSPHRASE_FD, str(serve.passphrase_pipe("families' data passphrase")))
    at = start(team_index, monkeypatch, {"case": str(case.id)})
    log_in(at, "boss9", PW)  # what the front door does at its login form (test_app_team.log_in)
    t = texts(at)
    assert "Created by: fam9a (family)" in t and "it cannot be given to another family account" in t
    give = at.sidebar.selectbox(key=f"give_{case.id}")
    assert "cw9 (caseworker)" in give.options and not any("fam9b" in o or "boss9" in o for o in give.options)
    give.set_value("cw9")
    at.run()
    next(b for b in at.sidebar.button if b.key == f"give_btn_{case.id}").click()
    at.run()
    assert "Given to: cw9 (caseworker)" in texts(at)
    cw_id = Accounts(Index.open(team_index).db).get("cw9").id
    next(b for b in at.sidebar.button if b.key == f"revoke_{case.id}_{cw_id}").click()
    at.run()
    ok(at)
    assert "Given to nobody else yet" in texts(at)
