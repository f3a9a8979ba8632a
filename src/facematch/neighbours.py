"""Each archive face's nearest other faces, kept in step with the index: what hubness correction needs.

In a large archive some faces (blurred, small, very average-looking) are close to everyone, and they
crowd the first candidates of unrelated searches. CSLS-style correction lowers a face's scores by how
crowded its own neighbourhood is: r_g = mean similarity of g to its k nearest other archive faces.
r_g depends on the whole archive, so it is computed when photos are indexed and updated when more
come: a new face gets its own list and enters the list of every older face it is closer to than that
face's current k-th neighbour; a face whose list names a face that is gone (its photo changed) is
computed again. Faces of the same image (the same photo, or an identical copy in another folder) are
not each other's neighbours: they are not other people. Nor, for an engine with a published same-person
cosine (engines.SAME_PERSON_COSINE, the Scoring's `cut`), is a face at or above it: most likely the same
person photographed again. An archive of repeat arrests holds several photos of one person, each the others'
nearest neighbour; counted, they raised that person's r_g and pushed all of his photos down every search
for him (issue 26: on age-gap-dev, rank-1 .39 with them counted, .45 without, plain cosine .45). A list
holds the k nearest faces below the cut, found by searching further where more than a few are above it.

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
#: The search asks for a few more than k, to skip faces of the same image and faces above the cut; a face with
#: more of those than this is searched again, further (_WIDEN times as far each time), until k remain.
_SPARE = 6
_WIDEN = 4
#: The furthest a face's neighbours are searched (thousands of near-identical faces of one person: the list
#: is then shorter than k).
_MAX_REACH = 4096
#: Faces searched per batch.
BATCH = 2048


@dataclass(frozen=True)
class Scoring:
    """How a shown score is made from the cosine. Stranger-rate tables say which scoring they describe:
    a table measured on plain cosines does not describe corrected scores, and the reverse."""

    k: int = K
    alpha: float = ALPHA
    #: Neighbours at or above this cosine (the engine's published same-person threshold) do not count towards
    #: r_g; None: every neighbour counts (the rule before issue 26, and engines without a published threshold).
    cut: float | None = None

    @classmethod
    def for_engine(cls, engine: str, alpha: float = ALPHA) -> Scoring:
        """The scores a search with this engine (a name or a fingerprint) shows: its cut, this weight."""
        from .engines import same_person_cosine

        return cls(alpha=alpha, cut=same_person_cosine(engine))

    @property
    def corrected(self) -> bool:
        return self.alpha != 0

    @property
    def lists(self) -> tuple[int, float | None]:
        """Which neighbour lists these scores read: (k, cut), as store.Neighbours keys them."""
        return self.k, self.cut

    def to_json(self) -> dict:
        if not self.corrected:
            return {}
        rule = {"hubness_k": self.k, "hubness_alpha": self.alpha}
        return rule if self.cut is None else {**rule, "hubness_cut": self.cut}

    def describe(self) -> str:
        if not self.corrected:
            return "plain cosine similarity"
        left_out = "" if self.cut is None else f"; neighbours at cosine >= {self.cut:g} (the same person?) left out"
        return f"cosine similarity corrected for hubness (k={self.k}, weight {self.alpha:g}{left_out})"

    def offsets(self, hub: np.ndarray, mean: float, dtype: type = np.float64) -> np.ndarray:
        """Per archive face, what is taken off its cosine: alpha x (r_g - mean r); 0 for a face without r_g.

        The one place offsets are made. `dtype`: float32 where they are taken off float32 cosines (a search,
        linking), float64 for the stranger-rate estimate and calibration."""
        return (self.alpha * np.nan_to_num(np.asarray(hub, dtype=dtype) - mean, nan=0.0)).astype(dtype, copy=False)


PLAIN = Scoring(alpha=0.0)


def _kept(found_keys: list, own: object, sims: np.ndarray, cut: float | None) -> np.ndarray:
    """Which of one face's search results may count as its neighbours: found (a key, not None), of another image
    (a key other than its own `own`, which also leaves out the face itself) and below the cut."""
    ok = np.array([key is not None and key != own for key in found_keys], dtype=bool)
    return ok if cut is None else ok & (sims < cut)


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
    vectors: np.ndarray,
    photo_keys: list | np.ndarray | None = None,
    k: int = K,
    valid: np.ndarray | None = None,
    cut: float | None = None,
) -> np.ndarray:
    """r_g of every row of a set of unit embeddings taken as an archive, the way update() keeps it in an
    index, for calibration, evaluation and the accuracy bench: the mean similarity to its k nearest other
    rows below the cut (Scoring.cut; None: no cut). Rows with the same photo key (faces of one image) are not
    each other's neighbours (without keys, every row is its own image); invalid rows (no face) are neither
    neighbours nor given a value (0), nor is a row with no neighbour at all (0)."""
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
    todo, reach = np.arange(len(rows)), min(len(rows), k + 1 + _SPARE)
    while len(todo):
        sims, found = flat.search(v[rows[todo]], reach)
        again = []
        for i, row_sims, row_found in zip(todo.tolist(), sims, found, strict=True):
            ok = _kept([keys[rows[j]] if j >= 0 else None for j in row_found.tolist()], keys[rows[i]], row_sims, cut)
            if ok.sum() < k and reach < min(len(rows), _MAX_REACH):
                again.append(i)  # more than _SPARE faces left out: search this one further
                continue
            keep = row_sims[ok][:k]
            out[rows[i]] = keep.mean() if len(keep) else 0.0
        todo, reach = np.array(again, dtype=np.int64), min(len(rows), reach * _WIDEN, _MAX_REACH)
    return out


@dataclass
class NeighbourUpdate:
    computed: int  # faces whose list was computed (new, or naming a face that is gone)
    updated: int  # older faces whose list took in a new face
    carried: int = 0  # lists of another kind (an older facematch's rule) found valid for this one, kept as they are
    redone: int = 0  # lists of another kind computed again for this one


def update(
    faces: Faces, store: Neighbours, vectors: FaceVectors, engine: str, scoring: Scoring, progress: bool = False
) -> NeighbourUpdate:
    """Bring every face's neighbour list of the kind `scoring` reads (k, cut) in step with the faces table (and
    `vectors`, already in step). Lists of another kind, e.g. made before this engine had a cut, are carried
    over or computed again first (_renew, resumable, with a progress bar when `progress`)."""
    k, cut = scoring.lists
    carried, redone = _renew(faces, store, vectors, engine, scoring, progress)
    gone = store.gone(engine)
    new = store.missing(engine, k, cut)
    stale = np.array(sorted(set(store.naming(engine, gone)) - set(new.tolist())), dtype=np.int64)
    todo = np.concatenate([new, stale])
    if not len(todo):
        if gone:
            store.save(engine, k, cut, {}, gone)
        return NeighbourUpdate(0, 0, carried, redone)
    fresh: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for start in range(0, len(todo), BATCH):
        part = todo[start : start + BATCH]
        fresh.update(zip(part.tolist(), _search(vectors, faces, part, k, cut), strict=True))
    touched = _take_in_new(faces, store, engine, k, cut, new, set(fresh)) if len(new) else {}
    store.save(engine, k, cut, {**touched, **fresh}, gone)
    return NeighbourUpdate(len(fresh), len(touched), carried, redone)


def _renew(
    faces: Faces, store: Neighbours, vectors: FaceVectors, engine: str, scoring: Scoring, progress: bool
) -> tuple[int, int]:
    """Lists of another kind than (k, cut): (carried over, computed again).

    A list of the same k made without a cut (or with a higher one) whose best similarity is below the cut is
    already the k nearest faces below it: it is kept as it is (most lists, at no search). Every other one is
    searched again against the whole archive, a batch at a time, each batch saved when done: an interrupted run
    leaves finished batches of the new kind and the rest of the old, and the next run goes on from there.
    Until then a search reads the lists of its own kind only (hub values of the old rule are never mixed in)."""
    k, cut = scoring.lists
    carried, redo = 0, []
    for rows in store.other_kinds(engine, k, cut):
        keep = [
            fid
            for fid, k0, c0, sims in rows
            if k0 == k and cut is not None and (c0 is None or c0 >= cut) and (not len(sims) or sims[0] < cut)
        ]
        store.rekey(keep, k, cut)
        carried += len(keep)
        kept = set(keep)
        redo += [fid for fid, *_ in rows if fid not in kept]
    if not redo:
        return carried, 0
    from .indexing.indexer import progress_bar

    bar = progress_bar(len(redo), progress)
    if bar is not None:
        bar.unit = "face"
    try:
        for start in range(0, len(redo), BATCH):
            part = np.array(redo[start : start + BATCH], dtype=np.int64)
            lists = dict(zip(part.tolist(), _search(vectors, faces, part, k, cut), strict=True))
            store.save(engine, k, cut, lists, set())
            if bar is not None:
                bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()
    return carried, len(redo)


def _take_in_new(
    faces: Faces, store: Neighbours, engine: str, k: int, cut: float | None, new: np.ndarray, fresh: set[int]
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Older faces whose k nearest (below the cut, of other images) now include a new face, with their new lists.

    Nearness is not symmetric (a new face may be among an old face's k nearest while the old face is not
    among the new one's), so every older face is searched against the new faces: one exact pass over the
    archive, in batches, against a small index of the new faces only. A new face already in an older face's
    list (one computed again this run, _renew) is not taken in twice.
    """
    import faiss

    dim = faces.embedding_dim(engine)
    new_index = faiss.IndexFlatIP(dim)
    new_index.add(np.ascontiguousarray(faces.embedding_matrix(new, dim)))
    touched = {}
    for ids, vecs in faces.iter_embeddings(engine):
        old = ~np.isin(ids, list(fresh))
        ids, vecs = ids[old], vecs[old]
        if not len(ids):
            continue
        current = store.lists(ids, k, cut)
        photo = faces.photo_keys(np.concatenate([ids, new]))
        todo, reach = np.arange(len(ids)), min(len(new), k + _SPARE)
        while len(todo):
            sims, rows = new_index.search(np.ascontiguousarray(vecs[todo]), reach)
            again = []
            for i, row_sims, row_new in zip(todo.tolist(), sims, rows, strict=True):
                g = int(ids[i])
                gids, gsims = current.get(g, (np.zeros(0, np.int64), np.zeros(0, np.float32)))
                kth = gsims[-1] if len(gsims) >= k else -np.inf
                found = [photo.get(int(new[r])) if r >= 0 else None for r in row_new.tolist()]
                ok = _kept(found, photo.get(g), row_sims, cut)
                if ok.sum() < k and reach < min(len(new), _MAX_REACH) and row_sims[-1] > kth:
                    again.append(i)  # more new faces left out than _SPARE, and further ones may still enter
                    continue
                listed = set(gids.tolist())
                took = [(int(new[r]), float(s)) for s, r in zip(row_sims[ok], row_new[ok], strict=True)
                        if s > kth and int(new[r]) not in listed]  # fmt: skip
                if took:
                    all_ids = np.append(gids, [f for f, _ in took]).astype(np.int64)
                    all_sims = np.append(gsims, [s for _, s in took]).astype(np.float32)
                    order = np.argsort(-all_sims, kind="stable")[:k]
                    touched[g] = (all_ids[order], all_sims[order])
            todo, reach = np.array(again, dtype=np.int64), min(len(new), reach * _WIDEN, _MAX_REACH)
    return touched


def _search(
    vectors: FaceVectors, faces: Faces, part: np.ndarray, k: int, cut: float | None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The k nearest faces of each face in `part` below the cut, leaving out itself and faces of the same image.

    Searched k + _SPARE deep; a face with more faces left out than that is searched again further (a person
    photographed many times), until k remain, the archive is exhausted, or _MAX_REACH."""
    fetch = stored_vectors(faces, vectors.dim)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    todo, reach = part, k + _SPARE
    while len(todo):
        sims, nids = vectors.search(fetch(todo), reach, exact=fetch)
        photo = faces.photo_keys(np.concatenate([todo, nids[nids >= 0]]))
        again = []
        for fid, row_ids, row_sims in zip(todo.tolist(), nids, sims, strict=True):
            ok = _kept([photo.get(g) if g >= 0 else None for g in row_ids.tolist()], photo.get(fid), row_sims, cut)
            full = len(row_ids) == reach and bool((row_ids >= 0).all())  # the index may hold more
            if ok.sum() < k and full and reach < min(vectors.count, _MAX_REACH):
                again.append(fid)
                continue
            out[fid] = (row_ids[ok][:k].astype(np.int64), row_sims[ok][:k].astype(np.float32))
        todo, reach = np.array(again, dtype=np.int64), min(reach * _WIDEN, _MAX_REACH)
    return [out[f] for f in part.tolist()]
