"""Two things at once on one index: the app and an indexing run saving FAISS, writes inside writes, a commit that
fails, a case closed while someone decides, and what durable means. Real SQLite files, real FAISS, real model."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from facematch import demo
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.review import Review
from facematch.search import Searcher
from facematch.store import Database
from facematch.vectors import FaceVectors


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    idx = tmp_path_factory.mktemp("concurrency") / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    return idx


@pytest.fixture
def idx(built, tmp_path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(built, copy)
    return copy


def _save_many(folder: str, engine: str, n: int, errors) -> None:
    vectors = FaceVectors.load(Path(folder), engine)
    for _ in range(n):
        try:
            vectors.save(Path(folder))
        except Exception as e:  # noqa: BLE001 - counted and reported by the test
            errors.put(f"{type(e).__name__}: {e}")


def test_two_processes_saving_the_same_faiss_file_never_fail_and_leave_a_matching_pair(idx):
    with Index.open(idx) as index:
        ((fp, faces),) = index.engines().items()
        index.vectors(fp)
    ctx = multiprocessing.get_context("spawn")
    errors = ctx.Queue()
    savers = [ctx.Process(target=_save_many, args=(str(idx), fp, 30, errors)) for _ in range(2)]
    for p in savers:
        p.start()
    for p in savers:
        p.join(120)
    failed = []
    while not errors.empty():
        failed.append(errors.get())
    assert failed == [], f"{len(failed)} of 60 saves failed, e.g. {failed[:2]}"  # was 30 of 60 (fixed temp names)
    loaded = FaceVectors.load(idx, fp)
    assert loaded is not None and loaded.count == faces  # the FAISS file and its sidecar come from one save
    assert not list(idx.glob("*.tmp")), "temporary files left behind"


def test_a_write_inside_a_write_is_a_savepoint(tmp_path):
    db = Database(tmp_path)
    with db.write() as c:
        c.execute("INSERT INTO meta(key, value) VALUES ('outer', '1')")
        with db.write() as inner:  # was: "cannot start a transaction within a transaction"
            inner.execute("INSERT INTO meta(key, value) VALUES ('inner', '1')")
        with pytest.raises(ValueError), db.write() as inner:
            inner.execute("INSERT INTO meta(key, value) VALUES ('failed', '1')")
            raise ValueError("the inner write fails")
    assert db.get_meta("outer") == "1" and db.get_meta("inner") == "1"
    assert db.get_meta("failed") is None  # only the failed inner write was rolled back
    with pytest.raises(RuntimeError, match="durable"), db.write() as c, db.write(durable=True):
        pass
    db.close()


def test_a_commit_that_fails_leaves_no_transaction_open(tmp_path):
    db = Database(tmp_path)
    with db.write() as c:  # a deferred foreign key is checked at COMMIT: a real failing COMMIT
        c.execute("CREATE TABLE parent(id INTEGER PRIMARY KEY)")
        c.execute("CREATE TABLE child(p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), db.write() as c:
        c.execute("INSERT INTO child VALUES (42)")
    with db.write() as c:  # was: "cannot start a transaction within a transaction" from here on
        c.execute("INSERT INTO parent VALUES (1)")
    assert db.one("SELECT COUNT(*) FROM child") == 0 and db.one("SELECT COUNT(*) FROM parent") == 1
    db.close()


def test_a_decision_on_a_case_closed_a_moment_ago_is_refused(idx):
    with Searcher(idx) as s:
        candidate = s.search([s.detect_file(demo.query_photo()).pick()], k=1)[0]
    deciding, closing = Index.open(idx), Index.open(idx)  # two sessions, two write connections
    rv = Review(deciding)
    case = rv.create_case("Abdul", "Ayse", "")
    result: dict = {}
    with closing.db.write() as c:  # the other session closes the case and has not committed yet
        c.execute("UPDATE cases SET closed_at = ? WHERE id = ?", (time.time(), case.id))

        def decide() -> None:  # reads the case (still open), then waits for the write lock
            try:
                result["decision"] = rv.decide(case.id, candidate, "confirm", "Ayse")
            except ValueError as e:
                result["refused"] = str(e)

        t = threading.Thread(target=decide)
        t.start()
        time.sleep(1.0)
    t.join(60)
    assert "decision" not in result, "a decision was written into a closed case"
    assert "closed" in result["refused"]
    assert rv.log(case.id) == []
    deciding.close()
    closing.close()


def test_a_decision_commits_durably_and_indexing_does_not(idx):
    with Searcher(idx) as s:
        candidate = s.search([s.detect_file(demo.query_photo()).pick()], k=1)[0]
    with Index.open(idx) as index:
        rv = Review(index)
        case = rv.create_case("Abdul", "Ayse", "")
        statements: list[str] = []
        index.db._writer.set_trace_callback(statements.append)
        rv.decide(case.id, candidate, "confirm", "Ayse")
        index.db.set_meta("something", "else")
        index.db._writer.set_trace_callback(None)
    begins = [i for i, s in enumerate(statements) if s.startswith("BEGIN")]
    assert len(begins) == 2
    decision, meta = statements[: begins[1]], statements[begins[1] :]
    assert decision.index("PRAGMA synchronous=FULL") < decision.index("COMMIT")  # fsynced before acknowledged
    assert "PRAGMA synchronous=NORMAL" in decision[decision.index("COMMIT") :]  # and back for everything else
    assert not any("synchronous=FULL" in s for s in meta)
