"""Indexing for real: SQLite + FAISS on real photos, incremental reruns, bad input, engine mismatches."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from conftest import demo_photo, variants
from facematch import demo
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.search import Searcher
from facematch.store import DB_NAME
from facematch.vectors import EngineMismatch, FaceVectors


def faces_in_db(index_dir: Path) -> dict[tuple, np.ndarray]:
    """(relpath, box) -> embedding: what an index holds, independent of face ids."""
    con = sqlite3.connect(index_dir / DB_NAME)
    rows = con.execute(
        "SELECT p.relpath, f.x1, f.y1, f.x2, f.y2, f.embedding FROM faces f JOIN photos p ON p.id = f.photo_id"
    ).fetchall()
    con.close()
    return {(r[0], r[1], r[2], r[3], r[4]): np.frombuffer(r[5], dtype=np.float32) for r in rows}


def assert_consistent(index_dir: Path, engine: str = "sface") -> None:
    """SQLite healthy, FAISS file holds exactly the faces table's ids, no duplicate faces."""
    con = sqlite3.connect(index_dir / DB_NAME)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    fp = con.execute("SELECT DISTINCT engine FROM scans").fetchall()
    ids = sorted(r[0] for r in con.execute("SELECT id FROM faces"))
    dup = con.execute(
        "SELECT COUNT(*) FROM (SELECT photo_id, engine, x1, y1, x2, y2 FROM faces "
        "GROUP BY 1, 2, 3, 4, 5, 6 HAVING COUNT(*) > 1)"
    ).fetchone()[0]
    con.close()
    assert dup == 0
    assert len(fp) == 1 and fp[0][0].startswith(engine + "@")
    vecs = FaceVectors.load(index_dir, fp[0][0])
    assert vecs is not None
    import faiss

    assert sorted(faiss.vector_to_array(vecs.index.id_map).tolist()) == ids


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory) -> Path:
    index_dir = tmp_path_factory.mktemp("demo_index")
    gallery = demo.build_gallery(index_dir / "photos")
    report = index_folder(gallery, index_dir, "sface", workers=2, records_csv=demo.records_csv(), progress=False)
    assert report.scanned == 8 and report.faces == 11
    return index_dir


def test_demo_index_contents(demo_index):
    assert_consistent(demo_index)
    with Index.open(demo_index) as index:
        (fp,) = index.engines()
        assert index.faces.status_counts(fp) == {"ok": 6, "no_face": 2}
        assert {Path(p).name for p, status, _ in index.faces.problems(fp)} == {"chelsea.png", "coffee.png"}
        assert index.records.count() == 10
        assert index.faces.count(fp) == 11  # 6 in t1.jpg + obama, obama3, biden, astronaut, Tom Hanks crop


def test_search_finds_the_other_photos_of_the_same_person(demo_index):
    with Searcher(demo_index) as s:
        q = s.detect_file(demo.query_photo())
        assert len(q.faces) == 1
        cands = s.search([q.pick()], k=5)
    assert [c.rank for c in cands] == [1, 2, 3, 4, 5]
    assert {cands[0].face.filename, cands[1].face.filename} == {"obama.jpg", "obama3.jpg"}
    assert cands[1].similarity > 0.5 > cands[2].similarity  # both Obamas well above every stranger
    assert cands[0].records and cands[0].records[0]["record_id"].startswith("DEMO-")
    assert len(cands[0].face.sha256) == 64


def test_incremental_rerun_touches_nothing_then_only_the_changed_file(tmp_path):
    photos = tmp_path / "photos"
    variants(photos, 6)
    idx = tmp_path / "idx"
    first = index_folder(photos, idx, "sface", workers=1, progress=False)
    assert first.scanned == 6 and first.faces > 0
    before = faces_in_db(idx)
    second = index_folder(photos, idx, "sface", workers=1, progress=False)
    assert (second.scanned, second.unchanged, second.faces) == (0, 6, 0)
    # touched but identical content: sha256 says unchanged, no new faces
    os.utime(photos / "v000.jpg", ns=(1, 1))
    third = index_folder(photos, idx, "sface", workers=1, progress=False)
    assert (third.scanned, third.unchanged) == (0, 6)
    # new content under the same name: only that file is read again, its old faces replaced
    shutil.copyfile(demo_photo("coffee.png"), photos / "v001.jpg")
    fourth = index_folder(photos, idx, "sface", workers=1, progress=False)
    assert (fourth.scanned, fourth.unchanged) == (1, 5)
    after = faces_in_db(idx)
    assert not any(k[0] == "v001.jpg" for k in after)
    assert {k: v.tobytes() for k, v in after.items()} == {
        k: v.tobytes() for k, v in before.items() if k[0] != "v001.jpg"
    }
    assert_consistent(idx)


def test_faiss_file_rebuilt_from_sqlite_when_lost_or_stale(demo_index, tmp_path):
    idx = tmp_path / "copy"
    shutil.copytree(demo_index, idx)
    with Searcher(idx) as s:
        expected = s.search([s.detect_file(demo.query_photo()).pick()], k=3)
        fp = s.engine.fingerprint
    faiss_path, meta_path = FaceVectors.paths(idx, "sface")
    faiss_path.unlink()
    with Searcher(idx) as s:
        got = s.search([s.detect_file(demo.query_photo()).pick()], k=3)
    assert [(c.face.id, round(c.similarity, 5)) for c in got] == [(c.face.id, round(c.similarity, 5)) for c in expected]
    assert FaceVectors.load(idx, fp).count == 11
    meta_path.write_text("{not json")  # a corrupt sidecar: the FAISS file cannot be trusted, so it is rebuilt
    with Searcher(idx) as s:
        assert s.gallery_size == 11
        again = s.search([s.detect_file(demo.query_photo()).pick()], k=3)
    assert [(c.face.id, round(c.similarity, 5)) for c in again] == [
        (c.face.id, round(c.similarity, 5)) for c in expected
    ]
    assert json.loads(meta_path.read_text())["count"] == 11  # and the sidecar was written again, whole
    assert FaceVectors.load(idx, fp).count == 11


def test_search_with_another_engine_is_a_clear_error(demo_index):
    with pytest.raises(EngineMismatch, match="built with sface, not 'dlib'"):
        Searcher(demo_index, engine="dlib")


def test_index_refuses_other_weights_of_the_same_engine(demo_index, tmp_path):
    idx = tmp_path / "copy"
    shutil.copytree(demo_index, idx)
    con = sqlite3.connect(idx / DB_NAME)
    con.execute("UPDATE faces SET engine = 'sface@0000000000000000'")
    con.execute("UPDATE scans SET engine = 'sface@0000000000000000'")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match="other model weights"):
        index_folder(idx / "photos", idx, "sface", workers=1, progress=False)
    with pytest.raises(EngineMismatch, match="Scores between different model weights mean nothing"):
        Searcher(idx)


def test_records_csv_joined_by_file_name(tmp_path):
    photos = tmp_path / "photos"
    variants(photos, 2)
    csv = tmp_path / "records.csv"
    csv.write_text(
        "\ufeffRecord_ID,Photo,name,birth_date,county,extra column\n"
        "R1,C:\\archive\\v000.jpg,Test Person,1970-01-02,Somewhere,kept as-is\n"
        "R2,v001.jpg,Other Person,,Elsewhere,\n",
        encoding="utf-8",
    )
    idx = tmp_path / "idx"
    report = index_folder(photos, idx, "sface", workers=1, records_csv=csv, progress=False)
    assert report.records == 2
    # re-import updates, never duplicates
    index_folder(photos, idx, "sface", workers=1, records_csv=csv, progress=False)
    with Index.open(idx) as index:
        assert index.records.count() == 2
        recs = index.records.for_files(["v000.jpg"])
    assert recs["v000.jpg"][0]["name"] == "Test Person"
    assert recs["v000.jpg"][0]["extra column"] == "kept as-is"
