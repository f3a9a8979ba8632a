"""r_g for hubness correction (neighbours.neighbour_means, the form calibration, evaluation and the accuracy
bench use; the index keeps the same values in step, tests/test_neighbours.py) on real SFace embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import rgb
from facematch.neighbours import neighbour_means


@pytest.fixture(scope="module")
def gallery(sface, t1_path, demo_dir) -> np.ndarray:
    """Nine real faces: the six people of t1.jpg and the three demo gallery photos (two of Obama)."""
    faces = sface.analyze(rgb(t1_path))
    faces += [sface.analyze(rgb(demo_dir / "gallery" / name))[0] for name in ("biden.jpg", "obama.jpg", "obama3.jpg")]
    return np.stack([f.embedding for f in faces])


def brute_force_r(g: np.ndarray, k: int) -> np.ndarray:
    sims = g @ g.T
    np.fill_diagonal(sims, -np.inf)
    return np.sort(sims, axis=1)[:, ::-1][:, :k].mean(axis=1)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_neighbour_means_are_the_mean_of_the_k_nearest_other_faces(gallery, k):
    assert np.allclose(neighbour_means(gallery, k=k), brute_force_r(gallery, k), atol=1e-5)


def test_k_larger_than_the_gallery_uses_every_other_face(gallery):
    assert np.allclose(neighbour_means(gallery, k=50), brute_force_r(gallery, len(gallery) - 1), atol=1e-5)


def test_a_face_without_embedding_is_neither_neighbour_nor_scored(gallery):
    g = np.vstack([gallery, np.zeros((1, gallery.shape[1]), np.float32)])
    valid = np.r_[np.ones(len(gallery), bool), False]
    r = neighbour_means(g, k=3, valid=valid)
    assert r[-1] == 0
    assert np.allclose(r[:-1], brute_force_r(gallery, 3), atol=1e-5)


def test_an_exact_duplicate_counts_as_a_neighbour_but_the_face_itself_does_not(gallery):
    """Archives hold the same photo twice: the copy is a real neighbour (similarity 1), the row itself is not."""
    g = np.vstack([gallery, gallery[:1]])
    r = neighbour_means(g, k=2)
    assert r[0] == pytest.approx((1.0 + np.sort(gallery[0] @ gallery[1:].T)[-1]) / 2, abs=1e-5)
    assert r[-1] == pytest.approx(r[0], abs=1e-5)


def test_the_most_crowded_faces_are_the_two_photos_of_one_person(gallery):
    """Obama's two gallery photos are each other's nearest neighbour: they have the highest r_g, so their
    scores are lowered most; the faces of one image are kept apart when photo keys say so."""
    r = neighbour_means(gallery, k=3)
    assert set(np.argsort(r)[-2:]) == {7, 8}
    same_image = neighbour_means(gallery, ["t1"] * 6 + ["a", "b", "c"], k=3)
    others = gallery[:6] @ gallery[6:].T  # a t1 face's only allowed neighbours: the three other photos
    assert np.allclose(same_image[:6], np.sort(others, axis=1)[:, ::-1].mean(axis=1), atol=1e-5)
