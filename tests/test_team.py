"""Team mode in the library: accounts (argon2id), logins that slow down and lock, idle sessions, access to
cases on every path (cases, facts, photos, decisions, exports), two-reviewer confirmation, the CLI.

Real index (the demo archive indexed with sface), real SQLite, real searches; no mocks.
"""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from facematch import access, demo, report
from facematch.access import AccessDenied, Accounts, LoginRefused, LoginThrottled, Session
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.review import CONFIRMED, DISAGREE, IN_REVIEW, NEEDS_SECOND, WAITING, Review
from facematch.search import Searcher
from facematch.store import DB_NAME
from facematch.store.db import SCHEMA_VERSION

PW = "correct horse battery"


@pytest.fixture(scope="module")
def team_index(tmp_path_factory) -> Path:
    idx = tmp_path_factory.mktemp("team") / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    with Index.open(idx) as index:
        accounts = Accounts(index.db)
        for name, role in [
            ("admin", "admin"),
            ("fam_a", "family"),
            ("fam_b", "family"),
            ("worker", "caseworker"),
            ("worker2", "caseworker"),
            ("research", "researcher"),
        ]:
            accounts.add(name, role, PW)
    return idx


@pytest.fixture(scope="module")
def candidates(team_index):
    with Searcher(team_index) as s:
        return s.search([s.detect_file(demo.query_photo()).pick()], k=11)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_(index: Index, name: str) -> Review:
    return Review(index, Accounts(index.db).get(name))


def test_accounts_are_argon2id_and_logins_slow_down_across_restarts(team_index):
    with Index.open(team_index) as index:
        accounts = Accounts(index.db)
        stored = index.db.one("SELECT pw_hash FROM accounts WHERE name = 'fam_a'")
        assert stored.startswith("$argon2id$") and PW not in stored
        with pytest.raises(ValueError, match="at least 10"):
            accounts.add("short", "family", "abc")
        with pytest.raises(ValueError, match="role must be"):
            accounts.add("x", "superuser", PW)
        assert accounts.authenticate("fam_a", PW).role == "family"
        t = time.time()
        for _ in range(access.MAX_FAILURES):
            with pytest.raises(LoginRefused, match="Wrong name or password"):
                accounts.authenticate("fam_a", "wrong password!", now=t)
        with pytest.raises(LoginThrottled, match="wait 2 seconds") as refused:  # even the right one, for now
            accounts.authenticate("fam_a", PW, now=t)
        assert refused.value.wait == access.DELAY_BASE
        with pytest.raises(LoginRefused, match="Wrong name or password"):  # no such name: the same answer
            accounts.authenticate("nobody", PW, now=t)
    with Index.open(team_index) as index:  # a restart does not lift the wait (it is in SQLite)
        accounts = Accounts(index.db)
        with pytest.raises(LoginThrottled):
            accounts.authenticate("fam_a", PW, now=t + 1)
        assert accounts.throttle_of("fam_a", now=t + 1)["failures"] == pytest.approx(access.MAX_FAILURES, abs=0.01)
        accounts.reset_password("fam_a", PW)  # an admin's reset lifts it
        assert accounts.throttle_of("fam_a", now=t + 1) is None
        session = accounts.login("fam_a", PW, now=1000.0)
        assert accounts.resume(session, now=1000.0 + 60).name == "fam_a"
        with pytest.raises(AccessDenied, match="without activity"):
            accounts.resume(session, now=1060.0 + access.IDLE_SECONDS + 1)
        accounts.add("leaver", "family", PW)
        session = accounts.login("leaver", PW)
        accounts.disable("leaver")
        with pytest.raises(AccessDenied, match="disabled"):
            accounts.resume(session)
        with pytest.raises(LoginRefused):
            accounts.authenticate("leaver", PW)


def test_a_family_cannot_reach_another_familys_case_by_any_path(team_index, candidates):
    with Index.open(team_index) as index:
        a, b = as_(index, "fam_a"), as_(index, "fam_b")
        case = a.create_case("<script>alert(1)</script> Brother", notes="<b>notes</b>")
        assert case.two_reviewers and case.reviewer == "fam_a"
        a.set_facts(case.id, names=["<img src=x onerror=alert(1)>"], birth_year="1979", birth_year_margin=2, county="")
        kept = a.keep_photo(case.id, demo.query_photo().read_bytes(), "../../x.jpg")
        assert kept.path.parent == index.folder / "cases" / str(case.id) and kept.original_name == "x.jpg"
        assert not any(index.folder.parent.glob("x.jpg")) and not (index.folder / "x.jpg").exists()
        with pytest.raises(AccessDenied):  # a family account does not vote in a two-reviewer case (issue 24)
            a.decide(case.id, candidates[0], "confirm", "fam_a")
        as_(index, "admin").set_two_reviewers(case.id, False)  # a case that says the family decides
        a.decide(case.id, candidates[0], "confirm", "typed name is ignored")
        assert a.log(case.id)[0].reviewer == "fam_a"

        assert [c.id for c in b.cases(include_closed=True)] == [] and not b.has_case(case.id)
        refused = {
            "case": lambda: b.case(case.id),
            "facts": lambda: b.facts(case.id),
            "photos": lambda: b.case_photos(case.id),
            "log": lambda: b.log(case.id),
            "verdicts": lambda: b.verdicts(case.id),
            "decide": lambda: b.decide(case.id, candidates[1], "reject", "fam_b"),
            "keep photo": lambda: b.keep_photo(case.id, demo.query_photo().read_bytes(), "y.jpg"),
            "remove photo": lambda: b.remove_photo(case.id, kept.sha256),
            "rename": lambda: b.rename_case(case.id, "mine now"),
            "close": lambda: b.close_case(case.id),
            "report": lambda: report.case_html(b, case.id),
            "audit csv": lambda: report.audit_csv(b, case.id),
            "give": lambda: b.give_case(case.id, "fam_b"),
        }
        for what, attempt in refused.items():
            with pytest.raises(AccessDenied, match=f"no case {case.id}"):
                attempt()
            assert what  # every path tried
        assert report.audit_csv(b).count("\n") == 1  # the whole-log export: header only
        with pytest.raises(AccessDenied, match="no case 99999"):  # a case that does not exist: the same words
            b.case(99999)
        assert as_(index, "research").cases() == [] and as_(index, "worker").cases() == []
        assert a.case_photos(case.id)[0].sha256 == kept.sha256  # nothing above changed anything

        admin = as_(index, "admin")
        assert case.id in {c.id for c in admin.cases()}
        with pytest.raises(AccessDenied, match="only an admin"):
            a.give_case(case.id, "worker")
        with pytest.raises(AccessDenied, match="two-reviewer rule"):  # a family cannot waive the second reviewer
            a.set_two_reviewers(case.id, False)
        admin.give_case(case.id, "worker")
        assert as_(index, "worker").case(case.id).name.startswith("<script>")
        html = report.case_html(as_(index, "worker"), case.id)
        assert "<script>" not in html and "&lt;script&gt;" in html and "<img src=x" not in html
        assert "<b>notes</b>" not in html


def test_two_reviewers_blind_then_confirmed_and_disagreement(team_index, candidates):
    with Index.open(team_index) as index:
        admin = as_(index, "admin")
        case = admin.create_case("two reviewers")
        for name in ("worker", "worker2", "fam_b"):
            admin.give_case(case.id, name)
        w1, w2, fam = as_(index, "worker"), as_(index, "worker2"), as_(index, "fam_b")
        top, other = candidates[0], candidates[2]
        w1.decide(case.id, top, "confirm", "", "same ears")
        with pytest.raises(ValueError, match="already confirmed"):  # one account cannot confirm twice
            w1.decide(case.id, top, "confirm", "")
        assert w1.verdict_for(case.id, top).state == NEEDS_SECOND
        # the second reviewer does not see the first decision (nor its note) before deciding
        assert w2.log(case.id) == [] and w2.verdict_for(case.id, top).state == WAITING
        # the family is no reviewer: it reads that reviewers are deciding, and nothing of their decisions (issue 24)
        assert fam.verdict_for(case.id, top).state == IN_REVIEW and fam.log(case.id) == []
        assert "same ears" not in report.case_html(w2, case.id) and "same ears" not in report.audit_csv(w2, case.id)
        w2.decide(case.id, top, "confirm", "")
        v = w2.verdict_for(case.id, top)
        assert v.state == CONFIRMED and {d.reviewer for d in v.decisions} == {"worker", "worker2"}
        assert "Confirmed by two reviewers" in v.text()
        html = report.case_html(w1, case.id)
        assert "Confirmed by two reviewers" in html and "worker2" in html
        seen = fam.verdict_for(case.id, top)  # the rule is met: the family sees the outcome, who and when
        assert seen.state == CONFIRMED and "Confirmed by two reviewers" in seen.text() and len(fam.log(case.id)) == 2

        w1.decide(case.id, other, "confirm", "")
        w2.decide(case.id, other, "reject", "")
        assert w2.verdict_for(case.id, other).state == DISAGREE
        assert "third reviewer" in w2.verdict_for(case.id, other).text()
        assert fam.verdict_for(case.id, other).state == IN_REVIEW  # a disagreement is no outcome yet
        with pytest.raises(AccessDenied):
            fam.decide(case.id, other, "confirm", "")
        third = as_(index, "admin")
        assert third.verdict_for(case.id, other).state == WAITING  # the third decides blind too
        third.decide(case.id, other, "confirm", "")
        assert third.verdict_for(case.id, other).state == CONFIRMED
        assert fam.verdict_for(case.id, other).state == CONFIRMED


def test_one_account_cannot_confirm_twice_from_two_concurrent_sessions(team_index, candidates):
    with Index.open(team_index) as index:
        admin = as_(index, "admin")
        case = admin.create_case("race")
        admin.give_case(case.id, "worker")
        sessions = [as_(index, "worker"), as_(index, "worker")]
        barrier = threading.Barrier(len(sessions))
        outcomes: list[str] = []

        def confirm(rv: Review) -> None:
            barrier.wait()
            try:
                rv.decide(case.id, candidates[3], "confirm", "")
                outcomes.append("written")
            except ValueError as e:
                outcomes.append(str(e))

        threads = [threading.Thread(target=confirm, args=(rv,)) for rv in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert outcomes.count("written") == 1 and any("already confirmed" in o for o in outcomes), outcomes
        assert len(admin.log(case.id)) == 0  # admin has not decided: still blind
        assert index.db.one("SELECT COUNT(*) FROM decisions WHERE case_id = ?", (case.id,)) == 1
        assert admin.verdict_for(case.id, candidates[3]).state == WAITING


def test_local_mode_is_unchanged(team_index, candidates):
    with Index.open(team_index) as index:
        rv = Review(index)  # no account: a person's own computer
        case = rv.create_case("local", "Ayse")
        assert not case.two_reviewers and case.created_by is None
        rv.decide(case.id, candidates[0], "confirm", "Ayse")
        rv.decide(case.id, candidates[0], "confirm", "Ayse")  # allowed, as before
        assert [d.reviewer for d in rv.log(case.id)] == ["Ayse", "Ayse"]


def test_users_cli_reads_passwords_from_stdin_never_argv(tmp_path):
    idx = tmp_path / "idx"
    Index.open(idx, create=True).close()
    cli = [sys.executable, "-m", "facematch.cli"]

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *args, "--index", str(idx)], input=stdin, capture_output=True, text=True)

    assert run("users", "add", "boss", "--role", "admin", stdin=PW + "\n").returncode == 0
    assert run("users", "add", "kin", "--role", "family", stdin="short\n").returncode == 2
    out = run("users", "list").stdout
    assert "boss" in out and "admin" in out and "kin" not in out
    assert run("users", "disable", "boss").returncode == 0 and "DISABLED" in run("users", "list").stdout
    assert run("users", "reset-password", "boss", stdin="another long password\n").returncode == 0
    with Index.open(idx) as index, pytest.raises(LoginRefused, match="disabled"):  # new password, still disabled
        Accounts(index.db).authenticate("boss", "another long password")
    refused = subprocess.run([*cli, "app", "--address", "0.0.0.0", "--index", str(idx)], capture_output=True, text=True)
    assert refused.returncode == 2 and "without --team" in refused.stderr

    def app(passphrase: str) -> subprocess.CompletedProcess:
        port = str(free_port())
        args = [*cli, "app", "--team", "--check", "--index", str(idx), "--port", port, "--passphrase-fd", "0"]
        return subprocess.run(args, input=passphrase, capture_output=True, text=True, timeout=300)

    no_admin = app("the families' passphrase")  # boss is disabled: no enabled admin
    assert no_admin.returncode == 2 and "admin account first" in no_admin.stderr
    assert run("users", "enable", "boss").returncode == 0
    first = app("the families' passphrase")
    assert first.returncode == 0 and "now encrypted" in first.stdout and "answered" in first.stdout, first.stderr
    wrong = app("not the families' passphrase")
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr
    con = sqlite3.connect(idx / DB_NAME)
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert Session(1, 0.0).account_id == 1


def test_uploads_over_the_limit_are_refused_in_the_library_too(team_index):
    from facematch import images
    from facematch.app import serve

    big = demo.query_photo().read_bytes() + b"\0" * (images.MAX_UPLOAD_BYTES + 1)
    assert serve.SETTINGS["server.maxUploadSize"] == str(images.MAX_UPLOAD_MB)
    with Searcher(team_index) as s:
        q = s.detect(big, "huge.jpg")
        assert q.error and f"up to {images.MAX_UPLOAD_MB} MB" in q.error and not q.faces
        rv = as_(s.index, "worker")
        case = rv.create_case("limit")
        with pytest.raises(images.ImageError, match="can be uploaded"):
            rv.keep_photo(case.id, big, "huge.jpg")
        assert rv.case_photos(case.id) == []


def test_families_data_encrypted_at_rest_wrong_passphrase_changes_nothing_backups_stay_encrypted(tmp_path):
    from facematch.backup import backup
    from facematch.vault import FILE_MAGIC, VaultError

    idx = tmp_path / "enc"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    photo = demo.query_photo().read_bytes()
    with Index.open(idx) as index:  # written in single-user mode first, then the team server starts
        rv = Review(index)
        case = rv.create_case("Secret Name Qurban", "Ayse", "Notes: last seen Urumqi 2017")
        rv.set_facts(case.id, names=["Qurbanjan Tursun"], birth_year="1979", birth_year_margin=2, county="Kashgar")
        rv.keep_photo(case.id, photo, "grandfather.jpg")
        assert index.unlock("a long enough passphrase") is True  # first unlock: existing data sealed in place
        later = rv.keep_photo(case.id, (demo.DEMO_DIR / "gallery" / "biden.jpg").read_bytes(), "second.jpg")
        assert later.path.suffix == ".fmenc" and later.sha256[:16] not in later.path.name
    secrets = [b"Secret Name", b"Urumqi", b"Qurbanjan", b"Kashgar", b"grandfather", b"second.jpg"]

    def plain_on_disk(folder: Path) -> list[bytes]:
        blobs = [p.read_bytes() for p in folder.glob(f"{DB_NAME}*")]
        return [s for s in secrets if any(s in b for b in blobs)]

    assert plain_on_disk(idx) == []
    files = list((idx / "cases").rglob("*.*"))
    assert len(files) == 2 and all(f.read_bytes().startswith(FILE_MAGIC) for f in files)
    with Index.open(idx) as index:
        before = index.db.one("SELECT value FROM meta WHERE key = 'vault'")
        with pytest.raises(VaultError, match="encrypted"):  # no passphrase: a clear message, not ciphertext
            Review(index).case(case.id)
        with pytest.raises(VaultError, match="wrong passphrase"):
            index.unlock("not the passphrase at all")
        assert index.db.one("SELECT value FROM meta WHERE key = 'vault'") == before
        assert index.unlock("a long enough passphrase") is False
        rv = Review(index)
        assert rv.case(case.id).notes == "Notes: last seen Urumqi 2017"
        facts = rv.facts(case.id)
        assert list(facts.names) == ["Qurbanjan Tursun"] and facts.birth_year == 1979 and facts.county == "Kashgar"
        kept = rv.case_photos(case.id)
        assert [k.original_name for k in kept] == ["grandfather.jpg", "second.jpg"]
        assert rv.photo_bytes(case.id, kept[0].sha256).startswith(b"\xff\xd8")  # a JPEG again
        assert "Qurbanjan" in report.case_html(rv, case.id)
    result = backup(idx, tmp_path / "backup")
    assert result.case_photos == 2 and plain_on_disk(tmp_path / "backup") == []
    with Index.open(tmp_path / "backup") as copy:
        copy.unlock("a long enough passphrase")
        assert Review(copy).case(case.id).name == "Secret Name Qurban"
