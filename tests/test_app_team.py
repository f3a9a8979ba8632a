"""The workbench in team mode (FACEMATCH_TEAM=1, what `facematch app --team` sets), through Streamlit's AppTest:
nothing but the way to the door's login form without a door session, the account as reviewer, another family's
case refused from widget state and from the address, idle sessions ending, and the two-reviewer states on screen.
Real app, model and SQLite; the login is what the door (app/door.py) does at its form."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import texts
from facematch import access, demo
from facematch.access import Accounts, LoginRefused
from facematch.app import serve
from facematch.app.door import DOORS, USER_KEY
from facematch.index import Index
from facematch.review import Review

PW = "correct horse battery"


@pytest.fixture(scope="module")
def team_app_index(app_index):
    with Index.open(app_index) as index:
        accounts = Accounts(index.db)
        for name, role in [("boss", "admin"), ("amina", "family"), ("bilal", "family"), ("cw1", "caseworker"),
                           ("cw2", "caseworker")]:  # fmt: skip
            if accounts.get(name) is None:
                accounts.add(name, role, PW)
    return app_index


def team_app(index, monkeypatch, query: dict | None = None) -> AppTest:
    monkeypatch.setenv("FACEMATCH_INDEX", str(index))
    monkeypatch.setenv("FACEMATCH_TEAM", "1")
    # the passphrase as `facematch app --team` hands it over: an inherited pipe, read once per server process
    monkeypatch.setenv(serve.PASSPHRASE_FD, str(serve.passphrase_pipe("families' data passphrase")))
    at = AppTest.from_file(str(serve.APP), default_timeout=180)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def log_in(at: AppTest, name: str, password: str = PW) -> None:
    """What the door does at its login form (app/door.py), then the app's next run: the door session's handle
    reaches the app as st.user[USER_KEY] (a header only the door sets, server.trustedUserHeaders; here
    AppTest.user)."""
    with Index.open(Path(os.environ["FACEMATCH_INDEX"])) as index:
        account = Accounts(index.db).authenticate(name, password)
    _token, session = DOORS.open(account)
    at.user = {USER_KEY: session.handle}
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_login_first_then_own_cases_only(team_app_index, monkeypatch):
    at = team_app(team_app_index, monkeypatch)
    t = texts(at)
    assert "log in" in t and "Create a case" not in t and not at.sidebar.text_input  # nothing but the way to the door
    assert not at.text_input  # no password form in the app: the door has it
    with pytest.raises(LoginRefused, match="Wrong name or password"):
        log_in(at, "amina", "not her password")
    log_in(at, "amina")
    assert "Logged in as amina (family)" in texts(at)
    assert not [w for w in at.sidebar.text_input if w.key == "reviewer"]  # no typed name in team mode
    at.sidebar.text_input(key="new_case_name").input("Amina's brother")
    next(b for b in at.sidebar.button if b.label == "Create case").click()
    at.run()
    assert "Case: Amina's brother" in texts(at)
    at.file_uploader[0].set_value([("obama2.jpg", demo.query_photo().read_bytes(), "image/jpeg")])
    at.run()
    assert "Candidate #1" in texts(at)
    next(b for b in at.button if b.key and b.key.startswith("cmp_0001")).click()
    at.run()
    # a new case in team mode needs two reviewers, and a family account is not one of them: it compares, never votes
    assert not [r for r in at.radio if r.key == "decision"] and "In this case two reviewers decide" in texts(at)
    with Index.open(team_app_index) as index:  # a caseworker lets the family decide alone in this case
        index.unlock("families' data passphrase")
        (mine,) = [c for c in Review(index).cases() if c.name == "Amina's brother"]
        Review(index, Accounts(index.db).get("boss")).set_two_reviewers(mine.id, False)
    at.run()
    assert not [w for w in at.text_input if w.key == "decision_reviewer"]
    at.radio(key="decision").set_value("confirm")
    next(b for b in at.button if b.label == "Record decision").click()
    at.run()
    assert "Confirmed by amina" in texts(at)
    with Index.open(team_app_index) as index:
        assert index.encrypted and b"Amina" not in (team_app_index / "facematch.sqlite").read_bytes()
        index.unlock("families' data passphrase")
        (case,) = [c for c in Review(index).cases() if c.name == "Amina's brother"]
        (d,) = Review(index).log(case.id)
        assert d.reviewer == "amina" and d.account_id == Accounts(index.db).get("amina").id

    # bilal, another family: the case is not listed, and neither the address nor widget state opens it
    other = team_app(team_app_index, monkeypatch, {"case": str(case.id)})
    log_in(other, "bilal")
    t = texts(other)
    assert "Amina's brother" not in t and "obama2" not in t and "Case:" not in t
    other.session_state["case_select"] = case.id  # as if a crafted websocket message set the widget
    other.run()
    t = texts(other)
    assert "Amina's brother" not in t and "Case:" not in t and "Candidate" not in t
    assert not [b for b in other.button if b.key == f"open_{case.id}"]

    # an idle session ends: back to the login page, nothing of the case kept in the session
    DOORS.by_handle(at.user[USER_KEY]).login.last_seen -= DOORS.idle + 5
    at.run()
    t = texts(at)
    assert "without activity" in t and "Case:" not in t and "Candidate" not in t


def test_two_reviewer_states_on_screen(team_app_index, monkeypatch):
    with Index.open(team_app_index) as index:
        index.unlock("families' data passphrase")
        admin = Review(index, Accounts(index.db).get("boss"))
        case = admin.create_case("Two-reviewer case")
        admin.give_case(case.id, "cw1")
        admin.give_case(case.id, "cw2")
    first = team_app(team_app_index, monkeypatch, {"case": str(case.id)})
    log_in(first, "cw1")
    assert "Case: Two-reviewer case" in texts(first)
    first.file_uploader[0].set_value([("obama2.jpg", demo.query_photo().read_bytes(), "image/jpeg")])
    first.run()
    next(b for b in first.button if b.key and b.key.startswith("cmp_0001")).click()
    first.run()
    first.radio(key="decision").set_value("confirm")
    first.text_input(key="decision_note").input("ears and hairline")
    next(b for b in first.button if b.label == "Record decision").click()
    first.run()

    second = team_app(team_app_index, monkeypatch, {"case": str(case.id)})
    log_in(second, "cw2")
    second.file_uploader[0].set_value([("obama2.jpg", demo.query_photo().read_bytes(), "image/jpeg")])
    second.run()
    t = texts(second)
    assert "you see their decision after you record yours" in t
    assert "Confirmed by cw1" not in t and "cw1: confirm" not in t and "ears and hairline" not in t
    next(b for b in second.button if b.key and b.key.startswith("cmp_0001")).click()
    second.run()
    second.radio(key="decision").set_value("confirm")
    next(b for b in second.button if b.label == "Record decision").click()
    second.run()
    t = texts(second)
    assert "Confirmed by two reviewers" in t and "cw1" in t and "cw2" in t


def test_a_family_is_not_offered_the_cross_check_and_is_refused_it_by_address(team_app_index, monkeypatch):
    at = team_app(team_app_index, monkeypatch, {"page": "crosscheck"})
    log_in(at, "amina")
    t = texts(at)
    assert "researchers, caseworkers and admins" in t and "Cross-check the archive" not in t
    assert not [r for r in at.sidebar.radio if r.key == "page"]  # not offered
    at.run()
    assert "Cross-check the archive" not in texts(at)  # and not on the next run either
    cw = team_app(team_app_index, monkeypatch, {"page": "crosscheck"})
    log_in(cw, "cw1")
    assert "Cross-check the archive against itself" in texts(cw)


def test_the_language_is_remembered_for_the_account(team_app_index, monkeypatch):
    """The picker is on the login page too; a language chosen after login is saved for the account (schema 6) and
    comes back at its next login, in a new browser session that asked for nothing, and after logging out."""
    from facematch import i18n
    from facematch.i18n import _

    at = team_app(team_app_index, monkeypatch)
    assert at.segmented_control(key="lang").value == "en"  # no ?lang=, no browser language, LANG=C: English
    log_in(at, "cw2")
    at.segmented_control(key="lang").set_value("tr")
    at.run()
    with i18n.language("tr"):
        assert _("Search an archive for a missing relative") in texts(at)
    with Index.open(team_app_index) as index:
        assert Accounts(index.db).language(Accounts(index.db).get("cw2")) == "tr"

    fresh = team_app(team_app_index, monkeypatch)  # another browser: English until the account logs in
    assert "Search an archive" not in texts(fresh) and fresh.segmented_control(key="lang").value == "en"
    log_in(fresh, "cw2")
    fresh.run()  # the login's rerun applies the account's language (a widget cannot change within a run)
    with i18n.language("tr"):
        assert _("Search an archive for a missing relative") in texts(fresh)
        assert _("Logged in as {name} ({role})", name="cw2", role=_("caseworker")) in texts(fresh)
    next(b for b in fresh.button if b.key == "logout_main").click()
    fresh.run()
    assert fresh.segmented_control(key="lang").value == "tr"  # the login page after logging out keeps it
    with i18n.language("tr"):
        assert _("facematch: log in") in texts(fresh)

    other = team_app(team_app_index, monkeypatch)  # another account keeps its own (none chosen: English)
    log_in(other, "cw1")
    assert "Search an archive for a missing relative" in texts(other)


def test_a_family_sees_the_outcome_of_a_two_reviewer_case_and_never_votes(team_app_index, monkeypatch):
    """Issue 24 (1): the family that made a two-reviewer case is not a reviewer. Before the rule is met it reads that
    reviewers are deciding (nothing of their decisions); once two confirmed, it sees that, who and when, without
    casting a vote; the library refuses its vote."""
    from facematch.search import Searcher

    with Index.open(team_app_index) as index:
        index.unlock("families' data passphrase")
        accounts = Accounts(index.db)
        family = Review(index, accounts.get("bilal"))
        case = family.create_case("Bilal's father", keep_photos=True)
        assert family.case(case.id).two_reviewers and not family.reviews(case.id)
        data = demo.query_photo().read_bytes()
        family.keep_photo(case.id, data, "obama2.jpg")
        admin = Review(index, accounts.get("boss"))
        admin.give_case(case.id, "cw1")
        admin.give_case(case.id, "cw2")
        s = Searcher(index)
        first = s.search([s.detect(data, "obama2.jpg").faces[0]], k=1)[0]
        Review(index, accounts.get("cw1")).decide(case.id, first, "confirm", "", "same ears")
        with pytest.raises(access.AccessDenied):
            family.decide(case.id, first, "confirm", "bilal")

    at = team_app(team_app_index, monkeypatch, {"case": str(case.id)})
    log_in(at, "bilal")
    t = texts(at)
    assert "Candidate #1" in t and "Reviewers are deciding on this face" in t
    assert "Confirmed by cw1" not in t and "cw1: " not in t and "same ears" not in t
    assert "you see their decision after you record yours" not in t

    with Index.open(team_app_index) as index:
        index.unlock("families' data passphrase")
        Review(index, Accounts(index.db).get("cw2")).decide(case.id, first, "confirm", "")
    at.run()
    t = texts(at)
    assert "Confirmed by two reviewers: cw1 (" in t and "cw2 (" in t
    assert "you see their decision after you record yours" not in t and "Reviewers are deciding" not in t
    next(b for b in at.button if b.key and b.key.startswith("cmp_0001")).click()
    at.run()
    t = texts(at)
    assert "Compare: candidate #1" in t and "Confirmed by two reviewers" in t
    assert not [r for r in at.radio if r.key == "decision"] and "Record decision" not in [b.label for b in at.button]
    with Index.open(team_app_index) as index:
        index.unlock("families' data passphrase")
        assert len(Review(index, Accounts(index.db).get("bilal")).log(case.id)) == 2  # the outcome's decisions
