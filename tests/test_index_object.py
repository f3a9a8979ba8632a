"""The Index object: one way to open an index, per-thread reads, one write path, one "in step" answer,
and one Searcher shared safely by many threads (as the app's browser sessions share it)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from conftest import demo_photo
from facematch import demo
from facematch.cli import main
from facematch.fingerprint import Fingerprint
from facematch.index import Index, NoIndex
from facematch.indexing import index_folder
from facematch.review import Review
from facematch.search import Searcher
from facematch.vectors import FaceVectors


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory) -> Path:
    idx = tmp_path_factory.mktemp("index_object") / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    return idx


def test_a_folder_without_an_index_fails_once_with_the_same_message(tmp_path, capsys):
    empty = tmp_path / "nothing-here"
    with pytest.raises(NoIndex) as e:
        Index.open(empty)
    message = str(e.value)
    assert message.startswith(f"no facematch index in {empty}") and "facematch index PHOTO_DIR" in message
    assert not empty.exists()  # opening to read never creates a folder
    for command in (["info"], ["search", str(demo.query_photo())], ["retrain"], ["records", "search", "x"]):
        assert main([*command, "--index", str(empty)]) == 2
        assert message in capsys.readouterr().err
    assert main(["backup", str(empty), str(tmp_path / "b")]) == 2
    assert message in capsys.readouterr().err
    assert main(["check", "--index", str(empty)]) == 1
    assert message in capsys.readouterr().out


def test_fingerprint_is_text_that_knows_its_parts():
    fp = Fingerprint("insightface:buffalo_l@0123abcd")
    assert fp == "insightface:buffalo_l@0123abcd" and isinstance(fp, str)
    assert (fp.name, fp.digest, fp.slug) == ("insightface:buffalo_l", "0123abcd", "insightface-buffalo_l")
    assert fp.same_engine("insightface:buffalo_l@ffff") and not fp.same_engine("sface@0123abcd")
    assert Fingerprint.of("sface", "00") == "sface@00"
    with pytest.raises(ValueError, match="name@digest"):
        Fingerprint("sface")


def test_each_thread_reads_on_its_own_connection_and_all_writes_take_one_path(demo_index):
    with Index.open(demo_index) as index:
        mine = index.db.read()
        assert index.db.read() is mine  # the same thread keeps its connection
        seen: list = []
        for _ in range(5):  # one after the other, as Streamlit runs each rerun of a page on a new thread
            t = threading.Thread(target=lambda: seen.append(index.db.read()))
            t.start()
            t.join()
        assert all(c is not mine for c in seen)
        assert len(index.db._readers) == 2  # this thread's and the last one's: ended threads' were closed

        rv = Review(index)
        before = len(rv.cases(include_closed=True))

        def create(n: int) -> list[int]:
            return [rv.create_case(f"thread case {n}-{i}", "tester").id for i in range(25)]

        with ThreadPoolExecutor(8) as pool:
            ids = [i for part in pool.map(create, range(8)) for i in part]
        assert len(set(ids)) == 200  # 200 writes from 8 threads at once: none lost, none failed
        assert len(rv.cases(include_closed=True)) == before + 200


def test_one_searcher_serves_many_threads_with_the_answers_of_one(demo_index):
    """YuNet keeps the input size between setInputSize and detect: unguarded, two threads searching with
    photos of different sizes would detect on the wrong size. Answers must equal a serial run's."""
    photos = [demo.query_photo(), demo_photo("t1.jpg")]
    with Searcher(demo_index) as s:

        def answer(path: Path) -> list[tuple]:
            q = s.detect_file(path)
            cands = s.search([q.pick()], k=5)
            return [tuple(np.round(f.box, 1)) for f in q.faces] + [(c.face.id, round(c.similarity, 5)) for c in cands]

        serial = {p: answer(p) for p in photos}
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(answer, photos * 12))
    assert all(r == serial[p] for p, r in zip(photos * 12, results, strict=True))


def test_in_step_is_one_answer_for_open_info_and_check(demo_index, tmp_path, capsys):
    import shutil

    idx = tmp_path / "copy"
    shutil.copytree(demo_index, idx)
    with Index.open(idx) as index:
        (fp,) = index.engines()
        assert index.vectors_state(fp).in_step and index.vectors_state(fp, thorough=True).in_step
        faiss_file, _ = FaceVectors.paths(idx, fp)
        faiss_file.unlink()
        gone = index.vectors_state(fp)
        assert not gone.in_step and "missing" in gone.problem
        assert main(["info", "--index", str(idx)]) == 0
        assert "will be brought in step on next use" in capsys.readouterr().out
        assert index.vectors(fp).count == gone.faces  # rebuilt from the database
        assert index.vectors_state(fp).in_step


def test_a_deleted_faces_id_never_comes_back(demo_index, tmp_path):
    """The photo holding the highest face id changes: its new faces get new ids, and the FAISS file (which
    adds by id) holds the new vectors, not the old ones under a reused id."""
    import shutil

    idx = tmp_path / "copy"
    shutil.copytree(demo_index, idx)
    with Index.open(idx) as index, index.db.write() as c:  # the photos moved with the copy
        c.execute("UPDATE roots SET path = ?", (str((idx / "photos").resolve()),))
    with Index.open(idx) as index:
        (fp,) = index.engines()
        top = index.faces.max_id(fp)
        victim = index.faces.by_id([top])[top]
    donor = next(
        p for p in (idx / "photos").iterdir() if p.name not in (victim.filename, "t1.jpg") and p.suffix == ".jpg"
    )
    victim.path.write_bytes(donor.read_bytes())
    index_folder(idx / "photos", idx, "sface", workers=1, progress=False)
    with Index.open(idx) as index:
        new = [i for i in index.faces.ids(fp).tolist() if index.faces.by_id([i])[i].filename == victim.filename]
        assert new and min(new) > top
        assert index.vectors_state(fp, thorough=True).in_step
