"""Indexing on Ray (cluster.py) gives the same index as the one-machine pool.

A private local Ray instance (2 CPUs, no dashboard, usage statistics off, loopback only) is started
by the code under test and shut down after it. "The same index" means: the same photos with the same
sha256, size, status and reason; the same faces per photo (box, landmarks, detector score, quality)
with bit-identical embeddings; the same face count; a FAISS file in step with the database; and the
same candidates with the same scores for a real query. Face ids may differ: they follow the order in
which photos finish, which no parallel run fixes.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import demo_photo, skip_or_fail, variants
from facematch import demo
from facematch.indexing import index_folder
from facematch.search import Searcher
from facematch.store import DB_NAME
from facematch.vectors import FaceVectors

try:
    import ray.data  # noqa: F401  (the cluster extra, pulled by the test extra)
except ImportError:
    skip_or_fail("ray[data] is not installed (pip install -e '.[test]' installs it)")

from facematch.indexing.on_ray import index_folder_on_ray  # noqa: E402

PHOTOS = 200


@pytest.fixture(scope="module")
def local_ray():
    """One private local Ray for the module (starting one costs seconds); indexing reuses it."""
    from facematch.cluster import connect

    ray = connect("local", num_cpus=2)
    yield ray
    ray.shutdown()


def small_photos(folder: Path, n: int) -> None:
    """n real photos with faces (conftest.variants), at most 320 px: Ray's work, not the detector's, is tested."""
    for p in variants(folder, n):
        with Image.open(p) as im:
            im.load()
        im.thumbnail((320, 320))
        im.save(p, quality=90)


def photos_in(index_dir: Path) -> dict[str, tuple]:
    con = sqlite3.connect(index_dir / DB_NAME)
    rows = con.execute(
        "SELECT p.relpath, p.sha256, p.size, p.width, p.height, s.status, s.reason, s.n_faces "
        "FROM photos p JOIN scans s ON s.photo_id = p.id"
    ).fetchall()
    con.close()
    return {r[0]: tuple(r[1:]) for r in rows}


def faces_in(index_dir: Path) -> dict[tuple, tuple]:
    """(relpath, box) -> (landmarks, detector score, quality, embedding bytes), independent of face ids."""
    con = sqlite3.connect(index_dir / DB_NAME)
    rows = con.execute(
        "SELECT p.relpath, f.x1, f.y1, f.x2, f.y2, f.landmarks, f.det_score, f.quality, f.embedding "
        "FROM faces f JOIN photos p ON p.id = f.photo_id"
    ).fetchall()
    con.close()
    return {tuple(r[:5]): tuple(r[5:]) for r in rows}


def test_ray_index_is_identical_to_the_one_machine_index(tmp_path: Path, local_ray) -> None:
    photos = tmp_path / "photos"
    small_photos(photos, PHOTOS - 2)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (photos / "coffee.png").write_bytes(demo_photo("coffee.png").read_bytes())  # no face

    one = index_folder(photos, tmp_path / "one", "sface", workers=2, progress=False)
    on_ray = index_folder_on_ray(photos, tmp_path / "ray", "sface", num_cpus=2, progress=False)

    assert on_ray.seen == one.seen == PHOTOS
    assert (on_ray.scanned, on_ray.faces, on_ray.with_faces) == (one.scanned, one.faces, one.with_faces)
    assert one.faces > PHOTOS  # the group photo variants hold several faces each
    assert {s.path for s in on_ray.no_face} == {s.path for s in one.no_face} == {str(photos / "coffee.png")}
    assert [(s.path, s.reason) for s in on_ray.errors] == [(s.path, s.reason) for s in one.errors]

    assert photos_in(tmp_path / "ray") == photos_in(tmp_path / "one")
    assert faces_in(tmp_path / "ray") == faces_in(tmp_path / "one")  # embeddings compared byte for byte

    for side in ("one", "ray"):
        with Searcher(tmp_path / side) as s:
            con = sqlite3.connect(tmp_path / side / DB_NAME)
            db_ids = sorted(r[0] for r in con.execute("SELECT id FROM faces"))
            con.close()
            saved = FaceVectors.load(tmp_path / side, s.engine.fingerprint)
            assert saved is not None and sorted(saved.ids().tolist()) == db_ids
    results = {}
    for side in ("one", "ray"):
        with Searcher(tmp_path / side) as s:
            face = s.detect_file(demo.query_photo()).pick()
            results[side] = [(c.face.relpath, c.face.box, round(c.similarity, 6)) for c in s.search([face], k=20)]
    assert results["ray"] == results["one"]

    again = index_folder_on_ray(photos, tmp_path / "ray", "sface", num_cpus=2, progress=False)
    assert again.scanned == 0 and again.unchanged == PHOTOS  # resumable: nothing read twice


def test_cli_ray_flag_and_unreachable_cluster(tmp_path: Path, capsys, local_ray) -> None:
    from facematch.cli import main

    photos = tmp_path / "photos"
    small_photos(photos, 4)
    index = tmp_path / "idx"
    assert main(["index", str(photos), "--index", str(index), "--ray", "--workers", "2", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "faces found in 4 photos" in out and "FAISS index: flat" in out
    assert main(["info", "--index", str(index), "--json"]) == 0
    (engine,) = json.loads(capsys.readouterr().out)["engines"].values()
    assert engine["faiss_file"] == "in step"
    embs = np.array([np.frombuffer(v[3], np.float32) for v in faces_in(index).values()])
    assert np.allclose(np.linalg.norm(embs, axis=1), 1.0, atol=1e-4)

    # An unreachable cluster is a clear message, not a traceback (nothing listens on this local port).
    assert main(["index", str(photos), "--index", str(index), "--ray", "127.0.0.1:9", "--quiet"]) == 2
    assert "cannot reach the Ray cluster" in capsys.readouterr().err
