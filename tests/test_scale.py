"""Index types at small scale: approximate indexes give the exact top-k, the type follows the size,
parameters persist, growing an index adds without retraining, and the CLI exposes all of it.

Large galleries live in bench/search_scale.py, not here. The structural tests use L2-normalised
random vectors in a real SQLite store and real FAISS indexes (the property checked, "same top-k as
the exact scan", does not depend on where vectors come from); the end-to-end test indexes real
photos with the real sface engine and searches them through the CLI.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import faiss
import numpy as np
import pytest

from conftest import variants
from facematch import ann
from facematch.cli import main
from facematch.index import Index
from facematch.vectors import FaceVectors, choose_type, stored_vectors

ENGINE = "bench@0000"  # an engine fingerprint of its own: these stores hold only test vectors
DIM = 64


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fill(store: Index, vectors: np.ndarray, name: str = "many.jpg", sha: str = "a" * 64) -> list[int]:
    """One photo holding len(vectors) faces, through the real save path."""
    root = store.faces.root_id(Path("/photos"))
    faces = [
        {
            "box": [float(i), 0.0, i + 10.0, 10.0],
            "landmarks": [[0, 0]] * 5,
            "score": 0.9,
            "quality": 1.0,
            "embedding": v,
        }
        for i, v in enumerate(vectors)
    ]
    return store.faces.save_scan(
        root, name, ENGINE, sha256=sha, size=1, mtime_ns=1, width=1, height=1, status="ok", reason=None, faces=faces
    )


@pytest.mark.parametrize("kind", ["ivf-sq8", "ivf-pq", "hnsw"])
def test_approximate_index_returns_exact_topk_with_generous_parameters(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(7)
    x = unit(rng, 3000)
    queries = unit(rng, 20)
    with Index.open(tmp_path, create=True) as store:
        ids = np.array(fill(store, x))
        params = {
            "ivf-sq8": {"nlist": 16, "nprobe": 16, "rerank": 4},
            "ivf-pq": {"nlist": 16, "nprobe": 16, "m": 16, "rerank": 10},
            "hnsw": {"efSearch": 400},
        }[kind]
        choose_type(store.db, ENGINE, kind, ",".join(f"{k}={v}" for k, v in params.items()), DIM)
        vecs = store.vectors(ENGINE, DIM)
        assert vecs.spec.kind == kind and not vecs.spec.exact
        scores, got = vecs.search(queries, 50, exact=stored_vectors(store.faces, DIM))
    flat = faiss.IndexFlatIP(DIM)
    flat.add(x)
    true_scores, true_rows = flat.search(queries, 50)
    assert (got == ids[true_rows]).mean() >= 0.99  # same faces in the same order (ties aside)
    np.testing.assert_allclose(scores, true_scores, atol=1e-5)  # re-ranked: exact cosine, not SQ/PQ codes


def test_type_follows_size_and_growth_adds_without_retraining(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ann, "APPROX_THRESHOLD", 1000)  # 128-d faces; = 2000 at 64-d
    assert ann.threshold_for(DIM) == 2000 and ann.threshold_for(512) == 250
    rng = np.random.default_rng(1)
    with Index.open(tmp_path, create=True) as store:
        fill(store, unit(rng, 1999), "a.jpg", "a" * 64)
        assert store.vectors(ENGINE, DIM).spec.kind == "flat"  # below the threshold: exact
        fill(store, unit(rng, 1), "b.jpg", "b" * 64)
        grown = store.vectors(ENGINE, DIM)
        assert grown.spec.kind == "flat" and grown.count == 2000  # added, not rebuilt
        assert "approximate" in (grown.retrain_advice() or "")  # ...and the CLI will say a retrain helps

        ivf = store.vectors(ENGINE, rebuild=True)
        assert ivf.spec.kind == "ivf-sq8" and ivf.spec.chosen_by == "auto"
        assert ivf.spec.params["nlist"] == ann.default_nlist(2000) and ivf.retrain_advice() is None
        assert ivf.spec.params["measured_recall"] >= ann.TARGET_RECALL
        centroids = faiss.extract_index_ivf(ivf.index).quantizer.reconstruct_n(0, ivf.spec.params["nlist"])

        fill(store, unit(rng, 300), "c.jpg", "c" * 64)  # more photos: added to the trained lists
        fill(store, unit(rng, 5), "a.jpg", "d" * 64)  # a.jpg changed: its 1999 old faces must go
        after = store.vectors(ENGINE, DIM)
        assert after.spec.kind == "ivf-sq8" and after.count == store.faces.count(ENGINE) == 306
        assert set(after.ids().tolist()) == set(store.faces.ids(ENGINE).tolist())
        same = faiss.extract_index_ivf(after.index).quantizer.reconstruct_n(0, after.spec.params["nlist"])
        np.testing.assert_array_equal(centroids, same)  # not retrained
        assert after.spec.params["trained_count"] == 2000


def test_parameters_persist_and_a_choice_survives_a_lost_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    with Index.open(tmp_path, create=True) as store:
        fill(store, unit(rng, 1500))
        choose_type(store.db, ENGINE, "ivf-sq8", "nlist=24,nprobe=5", DIM)
        built = store.vectors(ENGINE, DIM)
        loaded = FaceVectors.load(tmp_path, ENGINE)
        assert loaded is not None and loaded.spec == built.spec
        assert loaded.spec.params["nlist"] == 24 and faiss.extract_index_ivf(loaded.index).nprobe == 5
        assert loaded.spec.chosen_by == "user" and "chosen by you" in loaded.spec.describe()
        sidecar = json.loads(FaceVectors.paths(tmp_path, "bench")[1].read_text())
        assert sidecar["index"]["kind"] == "ivf-sq8" and sidecar["index"]["params"]["nprobe"] == 5

        for p in FaceVectors.paths(tmp_path, "bench"):
            p.unlink()  # the FAISS file is derived data; the choice lives in the database
        again = store.vectors(ENGINE, DIM)
        assert again.spec.kind == "ivf-sq8" and again.spec.params["nlist"] == 24

        choose_type(store.db, ENGINE, "auto", None, DIM)  # back to the size's choice: rebuilt as flat
        assert store.vectors(ENGINE, DIM).spec.kind == "flat"
        with pytest.raises(ValueError, match="not understood"):
            choose_type(store.db, ENGINE, "ivf-sq8", "nlists=3", DIM)
        with pytest.raises(ValueError, match="divide"):
            choose_type(store.db, ENGINE, "ivf-pq", "m=7", DIM)


@pytest.fixture(scope="module")
def photo_index(tmp_path_factory) -> tuple[Path, Path]:
    photos = tmp_path_factory.mktemp("photos")
    variants(photos, 72)  # about 160 faces: enough for 4 inverted lists (FAISS wants ~39 faces per list)
    index = tmp_path_factory.mktemp("index") / "idx"
    assert main(["index", str(photos), "--index", str(index), "--quiet", "--workers", "1"]) == 0
    return photos, index


def test_cli_approximate_index_on_real_photos_finds_the_same_person_with_exact_scores(
    photo_index, tmp_path: Path, capsys
) -> None:
    from facematch import demo

    photos, original = photo_index
    index = tmp_path / "idx"
    shutil.copytree(original, index)
    query = str(demo.query_photo())
    capsys.readouterr()
    assert main(["search", query, "--index", str(index), "--json"]) == 0
    exact = json.loads(capsys.readouterr().out)["candidates"]

    # Four lists, two visited: the shortlist really is approximate (nlist=1 would scan everything).
    params = "nlist=4,nprobe=2"
    assert main(["retrain", "--index", str(index), "--index-type", "ivf-sq8", "--index-params", params]) == 0
    out = capsys.readouterr().out
    assert "ivf-sq8" in out and "chosen by you" in out
    assert main(["info", "--index", str(index), "--json"]) == 0
    (spec,) = [e["index_type"] for e in json.loads(capsys.readouterr().out)["engines"].values()]
    assert spec["params"]["nlist"] == 4 and spec["params"]["nprobe"] == 2, spec
    assert main(["search", query, "--index", str(index), "--json"]) == 0
    approx = json.loads(capsys.readouterr().out)["candidates"]
    exact_by_face = {c["face_id"]: c["similarity"] for c in exact}
    # Whatever the shortlist holds is re-scored exactly from the stored embeddings: the same similarity as the
    # exact scan for every face found, and the person's own photos (the strongest candidates) are found.
    both = [c for c in approx if c["face_id"] in exact_by_face]
    assert len(both) >= len(approx) // 2 and all(exact_by_face[c["face_id"]] == c["similarity"] for c in both)
    same_person = [c["face_id"] for c in exact if c["similarity"] > 0.5]  # the query's own variants (18 faces)
    assert len(same_person) >= 10 and [c["face_id"] for c in approx[: len(same_person)]] == same_person

    variants(photos / "more", 10)  # growing: added to the trained index, no retrain
    assert main(["index", str(photos), "--index", str(index), "--quiet", "--workers", "1"]) == 0
    assert "FAISS index: ivf-sq8" in capsys.readouterr().out
    assert main(["info", "--index", str(index), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    (engine,) = info["engines"].values()
    assert engine["index_type"]["kind"] == "ivf-sq8" and engine["faiss_file"] == "in step"
    shutil.rmtree(photos / "more")

    assert main(["retrain", "--index", str(index), "--index-type", "ivf-sq8", "--index-params", "nlist=x"]) == 2
    assert "whole number" in capsys.readouterr().err
    assert main(["index", str(photos), "--index", str(index), "--index-params", "nlist=4"]) == 2
    assert "--index-type" in capsys.readouterr().err
