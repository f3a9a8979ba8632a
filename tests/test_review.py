"""Cases and the decision log: append-only, latest wins, and decisions outlive a change of engine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from facematch import demo, i18n
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.review import Review
from facematch.search import Searcher
from facematch.store import DB_NAME


@pytest.fixture
def index(tmp_path) -> Path:
    idx = tmp_path / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    return idx


@pytest.fixture
def rv(index):
    """The case rules on an open index, closed after the test (its connections and files released)."""
    with Index.open(index) as opened:
        yield Review(opened)


def search_obama(idx: Path, engine: str | None = None):
    with Searcher(idx, engine) as s:
        return s.search([s.detect_file(demo.query_photo()).pick()], k=11)


def test_cases_lifecycle(index, rv):
    case = rv.create_case("  Abdul (alias)  ", "Ayse", "last seen 2017")
    assert case.name == "Abdul (alias)" and case.is_open
    assert rv.rename_case(case.id, "Abdulla").name == "Abdulla"
    assert not rv.close_case(case.id).is_open
    assert rv.cases() == [] and len(rv.cases(include_closed=True)) == 1
    with pytest.raises(ValueError, match="closed"):
        rv.decide(case.id, search_obama(index)[0], "confirm", "Ayse")
    assert rv.reopen_case(case.id).is_open
    with pytest.raises(ValueError, match="needs a name"):
        rv.create_case("   ", "Ayse")
    with i18n.language("zh_Hans"), pytest.raises(ValueError, match="个案需要一个姓名（或别名）"):
        rv.create_case("   ", "Ayse")  # in the reader's language, as every refusal a person meets (issue 23)


def test_log_is_append_only_and_latest_decision_wins(index, rv):
    case = rv.create_case("c", "Ayse")
    top = search_obama(index)[0]
    rv.decide(case.id, top, "confirm", "Ayse", "same ears")
    rv.decide(case.id, top, "unsure", "Bilal", "photo too old to tell")
    log = rv.log(case.id)
    assert [d.decision for d in log] == ["confirm", "unsure"]
    (current,) = rv.current(case.id).values()
    assert current.decision == "unsure" and current.reviewer == "Bilal"
    assert current.engine.startswith("sface@") and current.rank == 1 and current.photo_sha256 == top.face.sha256
    con = sqlite3.connect(index / DB_NAME)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE decisions SET decision = 'reject'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM decisions")
    con.close()
    with pytest.raises(ValueError, match="decision must be one of"):
        rv.decide(case.id, top, "match", "Ayse")


def test_decisions_survive_reindexing_with_another_engine(index, rv):
    case = rv.create_case("c", "Ayse")
    # Decide on two candidates in photos with one face each, so the file name says which face it was.
    first, other = [c for c in search_obama(index) if c.face.filename != "t1.jpg"][:2]
    rv.decide(case.id, first, "confirm", "Ayse")
    rv.decide(case.id, other, "reject", "Ayse")
    # the same photos indexed again with dlib, into the same index: new face ids, slightly other boxes
    index_folder(index / "photos", index, "dlib", workers=1, progress=False)
    dlib_cands = search_obama(index, "dlib")
    marks = {c.face.filename: (d.decision if d else None) for c, d in rv.annotate(case.id, dlib_cands)}
    assert sum(m is not None for m in marks.values()) == 2
    assert marks[first.face.filename] == "confirm"
    assert marks[other.face.filename] == "reject"
    assert {c.face.id for c in dlib_cands}.isdisjoint({first.face.id, other.face.id})
