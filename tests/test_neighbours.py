"""Hubness correction end to end: neighbour lists made at indexing, kept in step as photos come and change,
and a search order equal to scoring every archive face by hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import variants
from facematch import demo, neighbours
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.search import HUB_ALPHA, Searcher


def brute_force_lists(index: Index, fp: str, k: int) -> dict[int, set[int]]:
    """Each face's k nearest faces of other images, from every stored embedding (no FAISS, no lists)."""
    ids = index.faces.ids(fp)
    vecs = index.faces.embedding_matrix(ids, index.faces.embedding_dim(fp))
    photo = index.faces.photo_keys(ids)
    sims = vecs @ vecs.T
    out = {}
    for i, fid in enumerate(ids.tolist()):
        others = [j for j in np.argsort(-sims[i], kind="stable") if photo[int(ids[j])] != photo[fid]][:k]
        out[fid] = {int(ids[j]) for j in others}
    return out


def stored_lists(index: Index, fp: str, k: int) -> dict[int, set[int]]:
    return {fid: set(ids.tolist()) for fid, (ids, _) in index.neighbours.lists(index.faces.ids(fp), k).items()}


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> tuple[Path, Path]:
    """An index of 24 photos, then 12 more added, then one photo changed: lists checked after each step."""
    root = tmp_path_factory.mktemp("hub")
    photos = root / "photos"
    variants(photos / "a", 24)
    idx = root / "index"
    index_folder(photos, idx, "sface", workers=1, progress=False)
    return photos, idx


def test_lists_are_made_at_indexing_and_follow_new_and_changed_photos(grown):
    photos, idx = grown
    with Index.open(idx) as index:
        (fp,) = index.engines()
        assert index.neighbours.count(fp, neighbours.K) == index.faces.count(fp) > neighbours.K
        assert stored_lists(index, fp, neighbours.K) == brute_force_lists(index, fp, neighbours.K)
        before = stored_lists(index, fp, neighbours.K)

    variants(photos / "b", 36)  # the same sources again, cropped and scaled otherwise: close neighbours
    for p in sorted((photos / "b").iterdir())[:24]:
        p.unlink()  # v000-v023 are byte copies of a/'s photos: keep the 12 new ones
    index_folder(photos, idx, "sface", workers=1, progress=False)
    with Index.open(idx) as index:
        after = stored_lists(index, fp, neighbours.K)
        assert after == brute_force_lists(index, fp, neighbours.K)
        assert sum(after[f] != before[f] for f in before) > 0  # older faces took new ones in

    changed = photos / "a" / "v000.jpg"  # other content (v003 mirrored and shrunk): its old faces are gone
    Image.open(photos / "a" / "v003.jpg").transpose(Image.Transpose.FLIP_LEFT_RIGHT).reduce(2).save(changed)
    index_folder(photos, idx, "sface", workers=1, progress=False)
    with Index.open(idx) as index:
        assert stored_lists(index, fp, neighbours.K) == brute_force_lists(index, fp, neighbours.K)
        assert not index.neighbours.gone(fp)  # the deleted faces' log was used and emptied


def test_search_order_is_exactly_hubness_corrected_cosine(grown, tmp_path):
    _, idx = grown
    copy = tmp_path / "index"
    shutil.copytree(idx, copy)
    with Searcher(copy) as s:
        q = s.detect_file(demo.query_photo()).pick()
        cands = s.search([q], k=10)
        ids = s.index.faces.ids(s.fingerprint)
        vecs = s.index.faces.embedding_matrix(ids, s.engine.dim)
        hub = s.index.neighbours.hub(ids, neighbours.K)
        by_hand = vecs @ q.embedding - HUB_ALPHA * (hub - hub.mean())
        best = ids[np.argsort(-by_hand, kind="stable")[:10]]
    assert [c.face.id for c in cands] == best.tolist()
    np.testing.assert_allclose([c.similarity for c in cands], np.sort(by_hand)[::-1][:10], atol=1e-5)
    assert all(c.cosine is not None for c in cands)
    # Without the correction, the plain cosine order (what `hubness=0` asks for).
    with Searcher(copy, hubness=0) as plain:
        raw = plain.search([q], k=10)
    assert [c.similarity for c in raw] == sorted((c.similarity for c in raw), reverse=True)
    assert all(c.similarity == c.cosine for c in raw)


def test_a_block_of_queries_ranks_as_each_query_alone(grown, tmp_path):
    """Searcher.rank on several queries at once (evaluate search ranks blocks of 256) gives each query what it
    gets alone. A face in several queries' shortlists used to lose its hubness offset in all but the last
    (the lookup of r_g by id kept one place per id), so a block's scores were partly plain cosines."""
    _, idx = grown
    copy = tmp_path / "index"
    shutil.copytree(idx, copy)
    with Searcher(copy) as s:
        ids = s.index.faces.ids(s.fingerprint)
        queries = s.index.faces.embedding_matrix(ids[:12], s.engine.dim)
        together = s.rank(queries, k=8)
        alone = [s.rank(q[None, :], k=8)[0] for q in queries]
        seen = [[(c.face.id, c.similarity, c.cosine) for c in row] for row in together]
        assert seen == [[(c.face.id, c.similarity, c.cosine) for c in row] for row in alone]
        assert any(c.similarity != c.cosine for row in together for c in row)  # corrected, not plain
        hub = s.index.neighbours.hub(np.array([ids[3], ids[5], ids[3], ids[3]]), neighbours.K)
        assert np.isfinite(hub).all() and hub[0] == hub[2] == hub[3]
