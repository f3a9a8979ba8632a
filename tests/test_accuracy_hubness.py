"""r_g for hubness correction (neighbours.neighbour_means, the form calibration, evaluation and the accuracy
bench use; the index keeps the same values in step, tests/test_neighbours.py) on real SFace embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import rgb
from facematch.neighbours import neighbour_means


@pytest.fixture(scope="module")
def gallery(sface, t1_path, demo_dir) -> np.ndarray:
    """Nine real faces: the six people of t1.jpg and three demo gallery photos (Biden, then two of Obama)."""
    faces = sface.analyze(rgb(t1_path))
    faces += [sface.analyze(rgb(demo_dir / "gallery" / name))[0] for name in ("biden.jpg", "obama.jpg", "obama3.jpg")]
    return np.stack([f.embedding for f in faces])


def brute_force_r(g: np.ndarray, k: int, cut: float | None = None, most: int = 6) -> np.ndarray:
    """Mean similarity to the k nearest other rows after the leading ones at or above the cut, at most `most`."""
    sims = g @ g.T
    np.fill_diagonal(sims, -np.inf)
    out = []
    for row in np.sort(sims, axis=1)[:, ::-1]:
        row = row[np.isfinite(row)]
        skip = 0 if cut is None else min(int((row >= cut).sum()), most)
        out.append(row[skip : skip + k].mean())
    return np.array(out)


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


@pytest.mark.parametrize("k", [1, 3, 6])
@pytest.mark.parametrize("most", [1, 6])
def test_with_a_cut_the_nearest_neighbours_at_same_person_level_do_not_count(gallery, k, most):
    r = neighbour_means(gallery, k=k, cut=0.363, most=most)
    assert np.allclose(r, brute_force_r(gallery, k, 0.363, most), atol=1e-5)


def test_with_the_cut_obamas_two_photos_are_no_longer_the_most_crowded(gallery):
    """Issue 26: Obama's two photos (cosine well above SFace's published same-person threshold 0.363) are each
    other's nearest neighbour. Left out of r_g, their r_g is like anyone's: their scores are no longer lowered
    for being the same person twice."""
    assert float(gallery[7] @ gallery[8]) >= 0.363
    plain = neighbour_means(gallery, k=3)
    cut = neighbour_means(gallery, k=3, cut=0.363)
    assert cut[7] < plain[7] - 0.05 and cut[8] < plain[8] - 0.05
    assert not set(np.argsort(cut)[-2:]) & {7, 8}
    others = [i for i in range(9) if i not in (7, 8)]
    assert np.allclose(cut[others], plain[others], atol=1e-6)  # no other face has a neighbour at that level


def test_at_most_six_are_left_out(gallery):
    """Twenty near-copies of one face: each has 19 others above the cut. Six are left out (a person photographed
    up to seven times), the next k count. The bound is what keeps the correction at scale: in a large archive
    every face has thousands of strangers above the cut (about 0.4% of all pairs reach 0.363), and without it
    r_g would be the similarity just under the cut for everyone."""
    rng = np.random.default_rng(26)
    copies = gallery[0] + rng.normal(0, 0.02, (20, gallery.shape[1]))
    g = np.vstack([gallery, copies / np.linalg.norm(copies, axis=1, keepdims=True)]).astype(np.float32)
    r = neighbour_means(g, k=5, cut=0.363)
    assert np.allclose(r, brute_force_r(g, 5, 0.363, 6), atol=1e-5)
    assert r[9:].min() > 0.8  # the 7th to 11th nearest: still copies
    unbounded = neighbour_means(g, k=5, cut=0.363, most=len(g))
    assert np.allclose(unbounded, brute_force_r(g, 5, 0.363, len(g)), atol=1e-5)
    assert unbounded[9:].max() < 0.2  # strangers' level: the copies' r_g no longer says they are crowded
