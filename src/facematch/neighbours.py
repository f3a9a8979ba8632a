"""Each archive face's nearest other faces, kept in step with the index: what hubness correction needs.

In a large archive some faces (blurred, small, very average-looking) are close to everyone, and they
crowd the first candidates of unrelated searches. CSLS-style correction lowers a face's scores by how
crowded its own neighbourhood is: r_g = mean similarity of g to its k nearest other archive faces.
r_g depends on the whole archive, so it is computed when photos are indexed and updated when more
come: a new face gets its own list and enters the list of every older face it is closer to than that
face's current k-th neighbour; a face whose list names a face that is gone (its photo changed) is
computed again. Faces of the same image (the same photo, or an identical copy in another folder) are
not each other's neighbours: they are not other people.

The lists live in SQLite beside the faces (the source of truth, store/neighbours.py), so they survive
a lost FAISS file and travel with a backup. Only the new faces' lists are held in memory at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .store import Faces, Neighbours
from .vectors import FaceVectors, stored_vectors

#: Neighbours averaged into r_g.
K = 10
#: Weight of the correction: score = cosine - ALPHA x (r_g - mean r). 1/2 is CSLS's own weight (its
#: 2 cos - r_q - r_g, halved, without the query's r_q, which cannot change one search's order).
ALPHA = 0.5
#: The search asks for a few more than k, to skip faces of the same image.
_SPARE = 6
#: Faces searched per batch.
BATCH = 2048


@dataclass(frozen=True)
class Scoring:
    """How a shown score is made from the cosine. Stranger-rate tables say which scoring they describe:
    a table measured on plain cosines does not describe corrected scores, and the reverse."""

    k: int = K
    alpha: float = ALPHA

    @property
    def corrected(self) -> bool:
        return self.alpha != 0

    def to_json(self) -> dict:
        return {"hubness_k": self.k, "hubness_alpha": self.alpha} if self.corrected else {}

    def describe(self) -> str:
        if not self.corrected:
            return "plain cosine similarity"
        return f"cosine similarity corrected for hubness (k={self.k}, weight {self.alpha:g})"

    def offsets(self, hub: np.ndarray, mean: float, dtype: type = np.float64) -> np.ndarray:
        """Per archive face, what is taken off its cosine: alpha x (r_g - mean r); 0 for a face without r_g.

        The one place offsets are made. `dtype`: float32 where they are taken off float32 cosines (a search,
        linking), float64 for the stranger-rate estimate and calibration."""
        return (self.alpha * np.nan_to_num(np.asarray(hub, dtype=dtype) - mean, nan=0.0)).astype(dtype, copy=False)


PLAIN = Scoring(alpha=0.0)


def shown_score(cos: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """The score shown for an archive face: its cosine minus its offset (Scoring.offsets), or the cosine itself
    when scores are plain (offsets None). The one place a score is made from a cosine: search.rank_ids, the
    link's join (selfjoin.select) and offers (run.offer) all call it."""
    return cos if offsets is None else cos - offsets


def pair_score(cos: np.ndarray, offset_a: np.ndarray, offset_b: np.ndarray) -> np.ndarray:
    """The score of a pair of archive faces: what a search from either face would show for the other, the lower
    of the two (the cosine minus the larger offset)."""
    return shown_score(cos, np.maximum(offset_a, offset_b))


def neighbour_means(
    vectors: np.ndarray, photo_keys: list | np.ndarray | None = None, k: int = K, valid: np.ndarray | None = None
) -> np.ndarray:
    """r_g of every row of a set of unit embeddings taken as an archive, the way update() keeps it in an
    index, for calibration, evaluation and the accuracy bench: the mean similarity to its k nearest other
    rows. Rows with the same photo key (faces of one image) are not each other's neighbours (without keys,
    every row is its own image); invalid rows (no face) are neither neighbours nor given a value (0)."""
    import faiss

    v = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(v)
    rows = np.flatnonzero(np.ones(n, bool) if valid is None else np.asarray(valid, bool))
    keys = np.arange(n) if photo_keys is None else np.asarray(photo_keys)
    out = np.zeros(n, dtype=np.float32)
    if len(rows) < 2:
        return out
    flat = faiss.IndexFlatIP(v.shape[1])
    flat.add(v[rows])
    sims, found = flat.search(v[rows], min(len(rows), k + 1 + _SPARE))
    for i, row in enumerate(rows):
        keep = [s for s, j in zip(sims[i], found[i], strict=True)
                if j >= 0 and rows[j] != row and keys[rows[j]] != keys[row]][:k]  # fmt: skip
        out[row] = np.mean(keep) if keep else 0.0
    return out


@dataclass
class NeighbourUpdate:
    computed: int  # faces whose list was computed (new, or naming a face that is gone)
    updated: int  # older faces whose list took in a new face


def update(faces: Faces, store: Neighbours, vectors: FaceVectors, engine: str, k: int = K) -> NeighbourUpdate:
    """Bring every face's neighbour list in step with the faces table (and `vectors`, already in step)."""
    gone = store.gone(engine)
    new = store.missing(engine, k)
    stale = np.array(sorted(set(store.naming(engine, gone)) - set(new.tolist())), dtype=np.int64)
    todo = np.concatenate([new, stale])
    if not len(todo):
        if gone:
            store.save(engine, k, {}, gone)
        return NeighbourUpdate(0, 0)
    fresh: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for start in range(0, len(todo), BATCH):
        part = todo[start : start + BATCH]
        fresh.update(zip(part.tolist(), _search(vectors, faces, part, k), strict=True))
    touched = _take_in_new(faces, store, engine, k, new, set(fresh)) if len(new) else {}
    store.save(engine, k, {**touched, **fresh}, gone)
    return NeighbourUpdate(len(fresh), len(touched))


def _take_in_new(
    faces: Faces, store: Neighbours, engine: str, k: int, new: np.ndarray, fresh: set[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Older faces whose k nearest now include a new face, with their new lists.

    Nearness is not symmetric (a new face may be among an old face's k nearest while the old face is not
    among the new one's), so every older face is searched against the new faces: one exact pass over the
    archive, in batches, against a small index of the new faces only.
    """
    import faiss

    dim = faces.embedding_dim(engine)
    new_index = faiss.IndexFlatIP(dim)
    new_index.add(np.ascontiguousarray(faces.embedding_matrix(new, dim)))
    reach = min(len(new), k + _SPARE)
    touched = {}
    for ids, vecs in faces.iter_embeddings(engine):
        old = ~np.isin(ids, list(fresh))
        ids, vecs = ids[old], vecs[old]
        if not len(ids):
            continue
        sims, rows = new_index.search(np.ascontiguousarray(vecs), reach)
        current = store.lists(ids, k)
        photo = faces.photo_keys(np.concatenate([ids, new]))
        for g, row_sims, row_new in zip(ids.tolist(), sims, rows, strict=True):
            gids, gsims = current.get(g, (np.zeros(0, np.int64), np.zeros(0, np.float32)))
            kth = gsims[-1] if len(gsims) >= k else -np.inf
            took = [(int(new[r]), float(s)) for s, r in zip(row_sims, row_new, strict=True)
                    if r >= 0 and s > kth and photo.get(int(new[r])) != photo.get(g)]  # fmt: skip
            if took:
                all_ids = np.append(gids, [f for f, _ in took]).astype(np.int64)
                all_sims = np.append(gsims, [s for _, s in took]).astype(np.float32)
                order = np.argsort(-all_sims, kind="stable")[:k]
                touched[g] = (all_ids[order], all_sims[order])
    return touched


def _search(vectors: FaceVectors, faces: Faces, part: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The k nearest faces of each face in `part`, leaving out itself and faces of the same image."""
    fetch = stored_vectors(faces, vectors.dim)
    sims, nids = vectors.search(fetch(part), k + _SPARE, exact=fetch)
    photo = faces.photo_keys(np.concatenate([part, nids[nids >= 0]]))
    out = []
    for fid, row_ids, row_sims in zip(part.tolist(), nids, sims, strict=True):
        keep = [(int(g), float(s)) for g, s in zip(row_ids, row_sims, strict=True)
                if g >= 0 and g != fid and photo.get(int(g)) != photo.get(fid)][:k]  # fmt: skip
        out.append((np.array([g for g, _ in keep], np.int64), np.array([s for _, s in keep], np.float32)))
    return out
