"""Importing archive records from messy spreadsheets into the real SQLite index, and searching them by name.

The files are written here the way leaked archives come: UTF-8, UTF-8 with a BOM, GB18030 with
Chinese headers, semicolons, missing columns, repeated ids, dates in many forms, XLSX with date cells
and ID numbers stored as numbers. Every person in them is invented.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from facematch import demo, records
from facematch.index import Index
from facematch.names import search as namesearch
from facematch.records import RecordsError, import_file, parse_date
from facematch.store import DB_NAME, SCHEMA_VERSION

HEADER = "record_id,name,name_zh,birth_date,county,photo,charge\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def store(tmp_path) -> Index:
    s = Index.open(tmp_path / "index", create=True)
    yield s
    s.close()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_encodings_read_the_same(tmp_path, store, encoding):
    f = write(
        tmp_path / "r.csv",
        HEADER + "X-1,Tursun Memet,吐尔逊·买买提,1979-03-02,疏附县,a.jpg,未知\n",
        encoding,
    )
    report = import_file(store, f)
    assert (report.records, report.new, report.problems) == (1, 1, [])
    r = store.records.by_id(["X-1"])["X-1"]
    assert r["names"] == ["Tursun Memet", "吐尔逊·买买提"]
    assert (r["birth_date"], r["birth_year"], r["county"], r["photos"]) == ("1979-03-02", 1979, "疏附县", ["a.jpg"])
    assert r["charge"] == "未知" and r["other"] == {}
    assert namesearch.search(store, "Tursun Mehmet")[0].record["record_id"] == "X-1"


def test_chinese_headers_in_gb18030_semicolons_and_dates(tmp_path, store):
    text = (
        "编号;姓名;出生日期;性别;身份证号;县;拘留日期;照片\n"
        "A1;阿依古丽·亚森;1985年3月;女;653121198603150022;疏附县;2017年5月12日;ayg.jpg\n"
        "A2;艾尔肯·吐尔地;;男;65312119700101001X;疏附县;12.05.2017;\n"
        "A3;米热阿依·卡德尔;大约1990;女;;伽师县;2018/1/3;m1.jpg|m2.jpg\n"
    )
    report = import_file(store, write(tmp_path / "cn.csv", text, "gb18030"))
    assert report.records == 3 and report.with_photo == 2 and report.without_photo == 1
    assert report.columns["姓名"] == "name" and report.columns["身份证号"] == "id_number"
    recs = store.records.by_id(["A1", "A2", "A3"])
    a1, a2, a3 = recs["A1"], recs["A2"], recs["A3"]
    assert (a1["birth_date"], a1["sex"], a1["detention_date"], a1["detention_year"]) == (
        "1985-03",
        "female",
        "2017-05-12",
        2017,
    )
    # no birth date: taken from the ID number, and said so
    assert (a2["birth_date"], a2["birth_year"], a2["birth_source"]) == ("1970-01-01", 1970, "id_number")
    assert ("born", "1970-01-01 (from the ID number)") in records.record_lines(a2)
    assert a2["detention_date"] == "2017-05-12"  # 12.05.2017 is day.month.year
    # an unreadable date is kept as text, with a warning naming its row
    assert a3["birth_date"] == "大约1990" and "birth_year" not in a3
    assert any(w.row == 4 and "大约1990" in w.message for w in report.warnings)
    assert a3["photos"] == ["m1.jpg", "m2.jpg"]  # one record, two photos
    # the ID number's birth date disagrees with A1's birth date column: a warning, both kept
    assert any(w.row == 2 and "ID number" in w.message for w in report.warnings)


def ric_check_digit(first17: str) -> str:
    """The check digit of a Chinese resident ID (ISO 7064 MOD 11-2), by the standard's weights, not by stdnum."""
    weights = [2 ** (17 - i) % 11 for i in range(17)]  # 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]


def test_id_numbers_give_a_birth_date_only_when_check_digit_and_date_hold(tmp_path, store):
    """A mistyped ID number gives no birth year, and the report names the row; the rest read as before.

    Every number is invented (order code 000) with its check digit computed here.
    """
    good = "65312119850704000" + ric_check_digit("65312119850704000")
    wrong_digit = good[:-1] + ("1" if good[-1] != "1" else "2")  # the last digit mistyped
    swapped = good[:6] + "1958" + good[10:]  # 1985 typed as 1958: the check digit no longer fits
    no_day = "65312119850230000" + ric_check_digit("65312119850230000")  # a valid check digit, 30 February
    assert good[-1] == "X"  # this one also shows that a final X is read
    rows = [
        ("I-1", good, ""),
        ("I-2", wrong_digit, ""),
        ("I-3", swapped, ""),
        ("I-4", no_day, ""),
        ("I-5", "653121850704000", ""),  # the older 15 digits: no check digit, born 1985-07-04
        ("I-6", "N 1234567", ""),  # not a Chinese ID number: no date, no warning
        ("I-7", swapped, "1985-07-04"),  # the birth date column stands; the ID is still reported
    ]
    text = "record_id,name,id_number,birth_date\n" + "".join(f"{r},Adil Tursun,{i},{b}\n" for r, i, b in rows)
    report = import_file(store, write(tmp_path / "ids.csv", text))
    recs = store.records.by_id([r for r, _, _ in rows])
    born = {r: (recs[r].get("birth_date"), recs[r].get("birth_source")) for r, _, _ in rows}
    assert born == {
        "I-1": ("1985-07-04", "id_number"),
        "I-2": (None, None),
        "I-3": (None, None),
        "I-4": (None, None),
        "I-5": ("1985-07-04", "id_number"),
        "I-6": (None, None),
        "I-7": ("1985-07-04", "birth_date"),
    }
    assert recs["I-2"]["id_number"] == wrong_digit  # the number itself is kept as written
    by_row = {w.row: w.message for w in report.warnings if w.row}  # (the file-level ones: no photo column)
    assert set(by_row) == {3, 4, 5, 8}  # spreadsheet rows of I-2, I-3, I-4 and I-7 (the header is row 1)
    assert "check digit" in by_row[3] and "mistyped" in by_row[3] and "no birth date" in by_row[3]
    assert "check digit" in by_row[4] and "check digit" in by_row[8]
    assert "19850230" in by_row[5] and "not a possible date" in by_row[5]
    assert str(next(w for w in report.warnings if w.row == 3)).startswith("row 3: the ID number's check digit")


def test_missing_columns_duplicate_ids_and_bad_rows(tmp_path, store):
    text = "Name,Born,Village\nAdil Tursun,1970,Yengiériq\n\nAynur Yasin,1988-02-30,Yengiériq,EXTRA CELL\n,,\n"
    report = import_file(store, write(tmp_path / "no_id.csv", text))
    assert report.records == 2 and report.rows == 2
    msgs = " | ".join(str(w) for w in report.warnings)
    assert "no record id column" in msgs and "no photo column" in msgs
    assert "1988-02-30" in msgs  # not a real day: kept as text
    assert any(p.row == 4 and "more cells" in p.message for p in report.problems)
    recs = store.records.by_id(["no_id.csv:2", "no_id.csv:4"])
    assert recs["no_id.csv:4"]["other"]["extra_1"] == "EXTRA CELL"
    assert recs["no_id.csv:2"]["birth_year"] == 1970 and recs["no_id.csv:2"]["village"] == "Yengiériq"
    assert recs["no_id.csv:2"]["photos"] == []

    # the same id on several rows (one row per photo): one record with every photo, reported
    dup = HEADER + "D-1,Osman Tohti,,1975,Shufu,o1.jpg,x\nD-1,Osman Tohti,吾斯曼·托合提,1976,Shufu,o2.jpg,x\n"
    report = import_file(store, write(tmp_path / "dup.csv", dup))
    assert report.records == 1
    assert any(p.row == 3 and "already in row 2" in p.message for p in report.problems)
    assert any("birth_date differs" in w.message for w in report.warnings)
    d1 = store.records.by_id(["D-1"])["D-1"]
    assert d1["photos"] == ["o1.jpg", "o2.jpg"] and d1["names"] == ["Osman Tohti", "吾斯曼·托合提"]
    assert d1["birth_year"] == 1975  # the first row's value is kept, and the warning says so


def test_reimport_updates_and_never_duplicates(tmp_path, store):
    f = write(tmp_path / "r.csv", HEADER + "R-1,Gülnar Ehmet,,1979,Shufu,g.jpg,a\nR-2,Qeyser Mamut,,,Yarkand,,b\n")
    first = import_file(store, f)
    again = import_file(store, f)
    assert (first.new, first.updated, again.new, again.updated) == (2, 0, 0, 2)
    write(f, HEADER + "R-1,Gülnar Ehmet,古丽娜尔·艾合买提,1980,Kashgar,g2.jpg,a\nR-2,Qeyser Mamut,,,Yarkand,,b\n")
    import_file(store, f)
    assert store.records.count() == 2
    r1 = store.records.by_id(["R-1"])["R-1"]
    assert (r1["birth_year"], r1["county"], r1["photos"]) == (1980, "Kashgar", ["g2.jpg"])
    assert store.records.for_files(["g.jpg"]) == {}  # the old photo link is gone
    assert store.records.name_rows().count(("R-1", "Gülnar Ehmet", "latin", "gulnar ehmet", "KULNAR AMAT")) == 1


def test_a_photo_with_several_records_and_a_record_with_several_photos(tmp_path, store):
    f = write(tmp_path / "m.csv", HEADER + "M-1,Erkin Turdi,,,,group.jpg; e.jpg,\nM-2,Adil Tursun,,,,group.jpg,\n")
    import_file(store, f)
    assert [r["record_id"] for r in store.records.for_files(["group.jpg"])["group.jpg"]] == ["M-1", "M-2"]
    assert store.records.by_id(["M-1"])["M-1"]["photos"] == ["group.jpg", "e.jpg"]


def test_xlsx_with_date_cells_numbers_and_a_map(tmp_path, store):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Kimlik", "Ismi", "Tughulghan", "Nahiye", "Resim", "Lager"])
    ws.append([101, "Ilham Perhat", dt.datetime(1982, 6, 1), "Shufu", "ilham.jpg", "camp 4"])
    ws.append([102.0, "ئەركىن تۇردى", dt.date(1969, 12, 31), "Kona Sheher", None, "camp 4"])
    path = tmp_path / "arch.xlsx"
    wb.save(path)
    report = import_file(store, path, ["Kimlik=record_id", "Tughulghan=birth_date", "Lager=facility"])
    assert report.records == 2 and report.columns["Ismi"] == "name" and report.columns["Resim"] == "keep"
    r = store.records.by_id(["101", "102"])
    assert r["101"]["birth_date"] == "1982-06-01" and r["101"]["facility"] == "camp 4"
    assert r["102"]["birth_year"] == 1969 and r["102"]["names"] == ["ئەركىن تۇردى"]
    assert r["101"]["county"] == "Shufu"  # "nahiye" (Uyghur for county) is recognised
    assert namesearch.search(store, "Erkin Turdi")[0].record["record_id"] == "102"


def test_bad_files_and_options_say_what_is_wrong(tmp_path, store):
    with pytest.raises(RecordsError, match="not found"):
        import_file(store, tmp_path / "missing.csv")
    with pytest.raises(RecordsError, match="is empty"):
        import_file(store, write(tmp_path / "empty.csv", "\n\n"))
    with pytest.raises(RecordsError, match=r"\.xls files are not read"):
        import_file(store, write(tmp_path / "old.xls", "x"))
    with pytest.raises(RecordsError, match="cannot read .* as an Excel workbook"):
        import_file(store, write(tmp_path / "fake.xlsx", "not a zip"))
    f = write(tmp_path / "r.csv", HEADER + "1,A,,,,,\n")
    with pytest.raises(RecordsError, match="unknown field 'nme'"):
        import_file(store, f, ["name=nme"])
    with pytest.raises(RecordsError, match="not in r.csv: Nom"):
        import_file(store, f, ["Nom=name"])
    with pytest.raises(RecordsError, match="COLUMN=FIELD"):
        import_file(store, f, ["name"])
    # bytes that are neither UTF-8 nor GB18030 are read with replacement characters, and each row is named
    bad = HEADER.encode() + b"B-1,Tursun \xff\xfe\xff Memet,,,,,\n"
    (tmp_path / "bad.csv").write_bytes(bad)
    report = import_file(store, tmp_path / "bad.csv")
    assert report.records == 1 and any(p.row == 2 and "decoded" in p.message for p in report.problems)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("1979-03-02", "1979-03-02"),
        ("1979/3/2", "1979-03-02"),
        ("1979.03.02", "1979-03-02"),
        ("19790302", "1979-03-02"),
        ("1979年3月2日", "1979-03-02"),
        ("02.03.1979", "1979-03-02"),
        ("3/25/1979", "1979-03-25"),
        ("1979-03", "1979-03"),
        ("1979年", "1979"),
        ("1979", "1979"),
        ("2017-05-12 08:30", "2017-05-12"),
        ("about 1979", None),
        ("1979-13-01", None),
        ("0000", None),
    ],
)
def test_dates_in_common_forms(text, iso):
    assert parse_date(text).iso == iso
    assert parse_date(text).text == text


def test_index_from_facematch_0_1_opens_and_its_records_work(tmp_path):
    """A schema-1 database (as facematch 0.1 wrote it) opens, keeps its records and finds them by name."""
    folder = tmp_path / "old"
    folder.mkdir()
    con = sqlite3.connect(folder / DB_NAME)
    con.executescript(
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE records (record_id TEXT PRIMARY KEY, photo_file TEXT, data TEXT NOT NULL);
        CREATE INDEX records_photo ON records(photo_file);
        CREATE TABLE cases (id INTEGER PRIMARY KEY, name TEXT NOT NULL, notes TEXT NOT NULL DEFAULT '',
            reviewer TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL, closed_at REAL);"""
    )
    con.execute(
        "INSERT INTO records VALUES (?, ?, ?)",
        ("OLD-1", "old.jpg", json.dumps({"name": "Memtimin Qurban", "birth_date": "1990-07-21", "county": "Yarkand"})),
    )
    con.execute("INSERT INTO cases(name, created_at) VALUES ('old case', 0)")
    con.commit()
    con.close()
    with Index.open(folder) as s:
        assert s.db.get_meta("schema_version") == str(SCHEMA_VERSION) == "7"
        legacy = s.records.for_files(["old.jpg"])["old.jpg"][0]  # readable before any mapping
        assert legacy["name"] == "Memtimin Qurban" and legacy["county"] == "Yarkand"
        hits = namesearch.search(s, "买买提明·库尔班")  # mapped and named on first use
        assert [h.record["record_id"] for h in hits] == ["OLD-1"]
        assert hits[0].record["birth_year"] == 1990 and hits[0].record["photos"] == ["old.jpg"]
        s.cases.set_facts(1, names=["Memtimin"], birth_year=1990, birth_year_margin=2, county="", photo_year=None)
        assert s.cases.facts(1)["names"] == ["Memtimin"]
    with Index.open(folder) as s:  # opening again changes nothing
        assert s.records.count() == 1


# -- the command line, as a person runs it ----------------------------------------------------------
def run(*args: str) -> subprocess.CompletedProcess:
    beside = Path(sys.executable).parent / "facematch"
    exe = str(beside) if beside.exists() else shutil.which("facematch")
    cmd = [exe] if exe else [sys.executable, "-m", "facematch.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=300)


def test_cli_records_import_and_search(tmp_path):
    idx = tmp_path / "index"
    out = run("records", "import", str(demo.records_csv()), "--index", str(idx))
    assert out.returncode == 0, out.stderr
    assert "10 records (10 new, 0 updated); 5 with a photo, 5 without" in out.stdout
    assert "row 9: birth_date 'about 1970' is not a date" in out.stdout
    out = run("records", "import", str(demo.records_csv()), "--index", str(idx))
    assert "(0 new, 10 updated)" in out.stdout

    out = run("records", "search", "Tursun Mehmet", "--index", str(idx))
    assert out.returncode == 0, out.stderr
    assert "name agrees: Tursun ≈ tursun; Memet ≈ mehmet" in out.stdout
    assert "(no photo in the archive)" in out.stdout and "DEMO-0101" in out.stdout
    out = run("records", "search", "Aygül Yasin", "--index", str(idx), "--json")
    doc = json.loads(out.stdout)
    assert doc["hits"][0]["record"]["record_id"] == "DEMO-0102"
    assert doc["hits"][0]["reason"].startswith("name agrees: 阿依古丽 → ayiguli ≈ aygül")
    assert "match" not in out.stdout.lower()

    out = run("records", "search", "Nobody Atall", "--index", str(idx))
    assert out.returncode == 1 and "0 records" in out.stdout
    out = run("records", "import", str(tmp_path / "nope.csv"), "--index", str(idx))
    assert out.returncode == 2 and "records file not found" in out.stderr and "Traceback" not in out.stderr
    out = run("records", "search", "x", "--index", str(tmp_path / "none"))
    assert out.returncode == 2 and "no facematch index" in out.stderr
