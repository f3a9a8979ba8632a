"""Each archive face's nearest other faces, kept in step with the index: what hubness correction needs.

In a large archive some faces (blurred, small, very average-looking) are close to everyone, and they
crowd the first candidates of unrelated searches. CSLS-style correction lowers a face's scores by how
crowded its own neighbourhood is: r_g = mean similarity of g to its k nearest other archive faces.
r_g depends on the whole archive, so it is computed when photos are indexed and updated when more
come: a new face gets its own list and enters the list of every older face it is closer to than that
face's current last neighbour; a face whose list names a face that is gone (its photo changed) is
computed again. Faces of the same image (the same photo, or an identical copy in another folder) are
not each other's neighbours: they are not other people.

Nor, for r_g, is the same person photographed again (issue 26). An archive of repeat arrests holds several
photos of one person, each the others' nearest neighbours; counted, they raised that person's r_g and pushed
all of his photos down every search for him (age-gap-dev: rank-1 .39 with them counted, .44-.45 without, plain
cosine .45). So a face's nearest neighbours at or above the engine's published same-person cosine
(engines.SAME_PERSON_COSINE, the Scoring's `cut`) are left out of r_g, at most `most` of them (SAME_PERSON_MAX,
a person photographed up to seven times), and r_g is the mean of the k that follow. The bound matters at
scale: about 0.4% of stranger pairs reach SFace's 0.363, so in an archive of a million faces every face has
thousands of strangers above the cut; without a bound r_g would be the mean of faces just under the cut for
everyone (no correction left) and finding them would mean searching thousands deep. A list therefore holds
the k + most nearest faces of other images, whatever their similarity; the rule is applied to it.

The lists live in SQLite beside the faces (the source of truth, store/neighbours.py), so they survive
a lost FAISS file and travel with a backup, saved a block at a time.

On a flat index (below ann.APPROX_THRESHOLD faces) the lists are exact. On an IVF index (a large archive) they are
made by the list-major join the cross-check uses (selfjoin.py, _joined): one FAISS search per face would
take hours at a million faces on 2 cores, the join 6 minutes. Which lists a face probes is approximate, as in a
search: at a million sface-like faces about half of each face's exact 16 nearest are found, the others replaced by
faces a little further, and r_g correlates 0.983 with the exact one (a shown score moves by 0.006, sd;
bench/scale_e2e.py, docs/scale.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import selfjoin
from .scores import pair_score, shown_score  # noqa: F401 (the one score path, read here by its users)
from .store import Faces, Neighbours
from .vectors import FaceVectors, stored_vectors

#: Neighbours averaged into r_g.
K = 10
#: Weight of the correction: score = cosine - ALPHA x (r_g - mean r). 1/2 is CSLS's own weight (its
#: 2 cos - r_q - r_g, halved, without the query's r_q, which cannot change one search's order).
ALPHA = 0.5
#: At most this many of a face's nearest neighbours are left out of r_g as the same person (at or above the
#: engine's cut): the same number as the spare below, which lists had before for faces of the same image.
SAME_PERSON_MAX = 6
#: The search asks for a few more than a list holds, to skip faces of the same image; a face with more of those
#: than this (a group photo of many faces) is searched again, further (_WIDEN times as far each time).
_SPARE = 6
_WIDEN = 4
#: The furthest a face's neighbours are searched.
_MAX_REACH = 4096
#: Faces searched per batch.
BATCH = 2048
#: On an IVF index (large archives, ann.py), lists of at least this many faces at once are made by the list-major
#: join of selfjoin.py (_joined): FAISS's IVF search scans a list one query at a time, so one search per
#: face would take hours at a million faces on 2 cores.
JOIN_MIN = BATCH
#: Faces per block of the join (one save each: an interrupted run loses at most one block).
JOIN_BLOCK = 32768
#: New faces above which, on an IVF index, the older faces' lists are made again by the join rather than each
#: older face searched exactly against the new ones (_take_in_new): that pass costs older x new products, the
#: join about every face x the members of its probed lists (~31,000 at a million faces).
RECOMPUTE_ABOVE = 32768
#: The join probes the tuned nprobe divided by this (what linking probes: crosscheck.ranker.NPROBE_SHARE).
JOIN_NPROBE_SHARE = 24
#: The join keeps cosines that a random pair of the archive exceeds with probability JOIN_CROWD x wide / N.
JOIN_CROWD = 32
#: Faces per block joined again, every candidate of their probed lists kept (too few above the join's tau).
DEEP_BLOCK = 256


@dataclass(frozen=True)
class Scoring:
    """How a shown score is made from the cosine. Stranger-rate tables say which scoring they describe:
    a table measured on plain cosines does not describe corrected scores, and the reverse."""

    k: int = K
    alpha: float = ALPHA
    #: A face's nearest neighbours at or above this cosine (the engine's published same-person threshold) are
    #: left out of its r_g, at most `most` of them; None: every neighbour counts (the rule before issue 26, and
    #: engines without a published threshold).
    cut: float | None = None
    most: int = SAME_PERSON_MAX

    @classmethod
    def for_engine(cls, engine: str, alpha: float = ALPHA) -> Scoring:
        """The scores a search with this engine (a name or a fingerprint) shows: its cut, this weight."""
        from .engines import same_person_cosine

        return cls(alpha=alpha, cut=same_person_cosine(engine))

    @property
    def corrected(self) -> bool:
        return self.alpha != 0

    @property
    def length(self) -> int:
        """How many neighbours a list holds for these scores: k, and the most that may be left out."""
        return self.k if self.cut is None else self.k + self.most

    @property
    def lists(self) -> tuple[int, str | None]:
        """Which neighbour lists these scores read, as store.Neighbours keys them: (k, rule); rule None for the
        lists of the k nearest (no cut), else what a list holds and how r_g is made from it."""
        return self.k, None if self.cut is None else f"k+{self.most}; r_g leaves out up to {self.most} >= {self.cut:g}"

    def to_json(self) -> dict:
        if not self.corrected:
            return {}
        rule = {"hubness_k": self.k, "hubness_alpha": self.alpha}
        return rule if self.cut is None else {**rule, "hubness_cut": self.cut, "hubness_cut_most": self.most}

    def describe(self) -> str:
        if not self.corrected:
            return "plain cosine similarity"
        left_out = "" if self.cut is None else f"; up to {self.most} neighbours at cosine >= {self.cut:g} left out"
        return f"cosine similarity corrected for hubness (k={self.k}, weight {self.alpha:g}{left_out})"

    def hub(self, sims: np.ndarray) -> float:
        """r_g from a face's list of neighbour similarities, best first: the mean of the k after its leading ones
        at or above the cut (at most `most` of them); 0 for an empty list."""
        sims = np.asarray(sims)
        skip = 0 if self.cut is None else min(int(np.count_nonzero(sims >= self.cut)), self.most)
        kept = sims[skip : skip + self.k]
        return float(kept.mean()) if len(kept) else 0.0

    def offsets(self, hub: np.ndarray, mean: float, dtype: type = np.float64) -> np.ndarray:
        """Per archive face, what is taken off its cosine: alpha x (r_g - mean r); 0 for a face without r_g.

        The one place offsets are made. `dtype`: float32 where they are taken off float32 cosines (a search,
        linking), float64 for the stranger-rate estimate and calibration."""
        return (self.alpha * np.nan_to_num(np.asarray(hub, dtype=dtype) - mean, nan=0.0)).astype(dtype, copy=False)


PLAIN = Scoring(alpha=0.0)


def _others(found_keys: list, own: object) -> np.ndarray:
    """Which of one face's search results may be its neighbours: found (a key, not None) and of another image
    (a key other than its own, which also leaves out the face itself)."""
    return np.array([key is not None and key != own for key in found_keys], dtype=bool)


def neighbour_means(
    vectors: np.ndarray,
    photo_keys: list | np.ndarray | None = None,
    k: int = K,
    valid: np.ndarray | None = None,
    cut: float | None = None,
    most: int = SAME_PERSON_MAX,
) -> np.ndarray:
    """r_g of every row of a set of unit embeddings taken as an archive, the way update() keeps it in an
    index, for calibration, evaluation and the accuracy bench: Scoring(k, cut=cut, most=most).hub of its nearest
    other rows (the mean similarity to its k nearest, after up to `most` at or above the cut). Rows with the same
    photo key (faces of one image) are not each other's neighbours (without keys, every row is its own image);
    invalid rows (no face) are neither neighbours nor given a value (0), nor is a row with no neighbour (0)."""
    import faiss

    rule = Scoring(k=k, cut=cut, most=most)
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(v)
    rows = np.flatnonzero(np.ones(n, bool) if valid is None else np.asarray(valid, bool))
    keys = np.arange(n) if photo_keys is None else np.asarray(photo_keys)
    out = np.zeros(n, dtype=np.float32)
    if len(rows) < 2:
        return out
    flat = faiss.IndexFlatIP(v.shape[1])
    flat.add(v[rows])
    todo, reach = np.arange(len(rows)), min(len(rows), rule.length + 1 + _SPARE)
    while len(todo):
        sims, found = flat.search(v[rows[todo]], reach)
        again = []
        for i, row_sims, row_found in zip(todo.tolist(), sims, found, strict=True):
            ok = _others([keys[rows[j]] if j >= 0 else None for j in row_found.tolist()], keys[rows[i]])
            if ok.sum() < rule.length and reach < min(len(rows), _MAX_REACH):
                again.append(i)  # more faces of its own image than the spare: search this one further
                continue
            out[rows[i]] = rule.hub(row_sims[ok][: rule.length])
        todo, reach = np.array(again, dtype=np.int64), min(len(rows), reach * _WIDEN, _MAX_REACH)
    return out


@dataclass
class NeighbourUpdate:
    computed: int  # faces whose list was computed (new, or naming a face that is gone)
    updated: int  # older faces whose list took in a new face
    redone: int = 0  # lists of another kind (an older facematch's rule) computed again for this one
    hub: tuple[float, float] = (0.0, 0.0)  # r_g's mean and minimum over the archive, once every list is in step


def update(
    faces: Faces, store: Neighbours, vectors: FaceVectors, engine: str, scoring: Scoring, progress: bool = False
) -> NeighbourUpdate:
    """Bring every face's neighbour list of the kind `scoring` reads in step with the faces table (and `vectors`,
    already in step). Lists of another kind, e.g. made before this engine had a cut, are computed again first
    (_renew: resumable, with a progress bar when `progress`).

    Older faces take in the new faces first (saved), then the new and stale lists are computed and saved a block
    at a time (_lists): an interrupted run leaves the faces still without a list to the next run, whose older faces
    (those saved meanwhile included) take them in again, which changes nothing for a face that already has.
    A large batch on an IVF index (more than RECOMPUTE_ABOVE new faces) instead has the older faces' lists made
    again by the join, before the new ones, so an interrupted run leaves the new faces to the next run."""
    kind, length = scoring.lists, scoring.length
    top, count = faces.max_id(engine), faces.count(engine)
    noted = store.in_step(engine, *kind, top, count)  # nothing changed since the last update: no table scans
    if noted is not None:
        return NeighbourUpdate(0, 0, 0, noted)
    redone = _renew(faces, store, vectors, engine, scoring, progress)
    gone = store.gone(engine)
    new = store.missing(engine, *kind)
    stale = np.array(sorted(set(store.naming(engine, gone)) - set(new.tolist())), dtype=np.int64)
    todo = np.concatenate([new, stale])
    computed, updated = len(todo), 0
    if len(todo):
        if len(new) > RECOMPUTE_ABOVE and selfjoin.joins(vectors):
            # A large batch: the older faces' lists are made again by the join with the new ones, first (an
            # interrupted run leaves the new faces without lists, so the next run does this again)
            older = np.setdiff1d(faces.ids(engine), todo)
            todo, updated = np.concatenate([older, todo]), len(older)
        elif len(new):
            touched = _take_in_new(faces, store, engine, kind, length, new, set(todo.tolist()))
            store.save(engine, *kind, touched, set(), scoring.hub)
            updated = len(touched)
        bar = _bar(len(todo), progress)
        try:
            for lists in _lists(faces, vectors, engine, todo, length):
                store.save(engine, *kind, lists, set(), scoring.hub)
                if bar is not None:
                    bar.update(len(lists))
        finally:
            if bar is not None:
                bar.close()
    if gone:
        store.save(engine, *kind, {}, gone, scoring.hub)
    return NeighbourUpdate(computed, updated, redone, store.mark_in_step(engine, *kind, top, count))


def _bar(total: int, progress: bool):
    from .progress import progress_bar

    bar = progress_bar(total, progress)
    if bar is not None:
        bar.unit = "face"
    return bar


def _renew(faces: Faces, store: Neighbours, vectors: FaceVectors, engine: str, scoring: Scoring, progress: bool) -> int:
    """Compute again, against the whole archive, every list of another kind than the one `scoring` reads (lists of
    an older facematch: the k nearest, too short for the rule); how many.

    A batch at a time, each batch saved when done: an interrupted run leaves finished batches of the new kind and
    the rest of the old, and the next run goes on from there. Searches read lists of their own kind only, so hub
    values of two rules are never mixed; a search opened meanwhile runs this first (Searcher)."""
    redo = store.other_kinds(engine, *scoring.lists)
    if not len(redo):
        return 0
    bar = _bar(len(redo), progress)
    try:
        for lists in _lists(faces, vectors, engine, redo, scoring.length):
            store.save(engine, *scoring.lists, lists, set(), scoring.hub)
            if bar is not None:
                bar.update(len(lists))
    finally:
        if bar is not None:
            bar.close()
    return len(redo)


def _lists(
    faces: Faces, vectors: FaceVectors, engine: str, todo: np.ndarray, length: int
) -> Iterator[dict[int, tuple[np.ndarray, np.ndarray]]]:
    """The lists of `todo`, a block at a time (each block is saved when done): on an IVF index and for at least
    JOIN_MIN faces, by the list-major join (_joined); else by the index's own search, BATCH faces per call
    (_search: exact on a flat index)."""
    if selfjoin.joins(vectors) and len(todo) >= JOIN_MIN:
        yield from _joined(faces, vectors, engine, todo, length)
        return
    for start in range(0, len(todo), BATCH):
        part = todo[start : start + BATCH]
        yield dict(zip(part.tolist(), _search(vectors, faces, part, length), strict=True))


def _join_nprobe(vectors: FaceVectors) -> int:
    """The lists each face probes in the join: the tuned nprobe over JOIN_NPROBE_SHARE (as linking probes)."""
    import faiss

    nlist = faiss.extract_index_ivf(vectors.index).nlist
    return int(min(nlist, max(1, int(vectors.spec.params.get("nprobe", 32)) // JOIN_NPROBE_SHARE)))


def _joined(
    faces: Faces, vectors: FaceVectors, engine: str, todo: np.ndarray, length: int, threads: int | None = None
) -> Iterator[dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Lists by the list-major join of selfjoin.py over the IVF index's own lists, JOIN_BLOCK faces a
    block: every exact embedding in memory (512 MB at a million 128-d faces), each face times its probed lists'
    members in matrix products, exact cosines, its `length` best of other images kept.

    Approximate only in which lists are probed (_join_nprobe), as a search is; with every list probed the lists
    are the exact ones (tests/test_neighbours.py). The join keeps cosines above a tau that a random pair of this
    archive exceeds with probability JOIN_CROWD x (length + spare) / N; a face with too few of those (a sparse
    region, or a photo of many faces) is joined again in a small block keeping every candidate of its probed
    lists; one that still has too few (its probed lists hold too few faces: a small archive) is searched as on a
    flat index (_search)."""
    import os

    ids, codes = faces.image_codes(engine)
    vecs = faces.all_embeddings(engine, ids, vectors.dim)
    lists = selfjoin.Lists.of(vectors.index, ids)
    nprobe, wide = _join_nprobe(vectors), length + _SPARE
    tau = selfjoin.estimate_tau(vecs, wide, JOIN_CROWD)
    threads = threads or os.cpu_count() or 1
    at = np.clip(np.searchsorted(ids, todo), 0, max(0, len(ids) - 1))
    known = ids[at] == todo if len(ids) else np.zeros(len(todo), bool)
    if not known.all():  # not in the faces table any more (deleted meanwhile): searched as before
        yield dict(zip(todo[~known].tolist(), _search(vectors, faces, todo[~known], length), strict=True))
    at = at[known]
    for start in range(0, len(at), JOIN_BLOCK):
        block = at[start : start + JOIN_BLOCK]
        (_, cos, pos), _ = selfjoin.join(vecs[block], vecs, lists, nprobe, wide, tau, None, threads)
        out, short = _keep(block, cos, pos, ids, codes, length)
        for s in range(0, len(short), DEEP_BLOCK):
            deep = short[s : s + DEEP_BLOCK]
            (_, cos, pos), _ = selfjoin.join(vecs[deep], vecs, lists, nprobe, _MAX_REACH, -np.inf, None, threads)
            more, still = _keep(deep, cos, pos, ids, codes, length)
            out.update(more)
            if len(still):
                out.update(zip(ids[still].tolist(), _search(vectors, faces, ids[still], length), strict=True))
        yield out


def _keep(
    rows: np.ndarray, cos: np.ndarray, pos: np.ndarray, ids: np.ndarray, codes: np.ndarray, length: int
) -> tuple[dict[int, tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """From a join's ranked positions for the faces at positions `rows`: ({face id: its `length` nearest of other
    images (ids, cosines)} for faces with that many, the positions of the faces with fewer)."""
    ok = (pos >= 0) & (codes[np.maximum(pos, 0)] != codes[rows][:, None])  # the face itself: its own image
    full = ok.sum(1) >= length
    take = ok & (np.cumsum(ok, 1) <= length) & full[:, None]
    got_ids = ids[pos[take]].reshape(-1, length)
    got_cos = cos[take].reshape(-1, length).astype(np.float32)
    out = dict(zip(ids[rows[full]].tolist(), zip(got_ids, got_cos, strict=True), strict=True))
    return out, rows[~full]


def _take_in_new(
    faces: Faces,
    store: Neighbours,
    engine: str,
    kind: tuple[int, str | None],
    length: int,
    new: np.ndarray,
    fresh: set[int],
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Older faces whose `length` nearest now include a new face, with their new lists.

    Nearness is not symmetric (a new face may be among an old face's nearest while the old face is not
    among the new one's), so every older face is searched against the new faces: one exact pass over the
    archive, in batches, against a small index of the new faces only. A new face already in an older face's
    list (one computed again this run against the whole archive, _renew) is not taken in twice.
    """
    import faiss

    if faces.count(engine) <= len(fresh):  # no older face (a first run)
        return {}
    dim = faces.embedding_dim(engine)
    new_index = faiss.IndexFlatIP(dim)
    new_index.add(np.ascontiguousarray(faces.embedding_matrix(new, dim)))
    reach = min(len(new), length + _SPARE)
    touched = {}
    for ids, vecs in faces.iter_embeddings(engine):
        old = ~np.isin(ids, list(fresh))
        ids, vecs = ids[old], vecs[old]
        if not len(ids):
            continue
        sims, rows = new_index.search(np.ascontiguousarray(vecs), reach)
        current = store.lists(ids, *kind)
        photo = faces.photo_keys(np.concatenate([ids, new]))
        for g, row_sims, row_new in zip(ids.tolist(), sims, rows, strict=True):
            gids, gsims = current.get(g, (np.zeros(0, np.int64), np.zeros(0, np.float32)))
            last = gsims[-1] if len(gsims) >= length else -np.inf
            listed = set(gids.tolist())
            took = [(int(new[r]), float(s)) for s, r in zip(row_sims, row_new, strict=True)
                    if r >= 0 and s > last and photo.get(int(new[r])) != photo.get(g)
                    and int(new[r]) not in listed]  # fmt: skip
            if took:
                all_ids = np.append(gids, [f for f, _ in took]).astype(np.int64)
                all_sims = np.append(gsims, [s for _, s in took]).astype(np.float32)
                order = np.argsort(-all_sims, kind="stable")[:length]
                touched[g] = (all_ids[order], all_sims[order])
    return touched


def _search(vectors: FaceVectors, faces: Faces, part: np.ndarray, length: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The `length` nearest faces of each face in `part`, leaving out itself and faces of the same image (searched
    further for a face of an image with more faces than the spare, up to _MAX_REACH)."""
    fetch = stored_vectors(faces, vectors.dim)
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    todo, reach = part, length + _SPARE
    while len(todo):
        sims, nids = vectors.search(fetch(todo), reach, exact=fetch)
        photo = faces.photo_keys(np.concatenate([todo, nids[nids >= 0]]))
        again = []
        for fid, row_ids, row_sims in zip(todo.tolist(), nids, sims, strict=True):
            ok = _others([photo.get(g) if g >= 0 else None for g in row_ids.tolist()], photo.get(fid))
            full = len(row_ids) == reach and bool((row_ids >= 0).all())  # the index may hold more
            if ok.sum() < length and full and reach < min(vectors.count, _MAX_REACH):
                again.append(fid)
                continue
            out[fid] = (row_ids[ok][:length].astype(np.int64), row_sims[ok][:length].astype(np.float32))
        todo, reach = np.array(again, dtype=np.int64), min(reach * _WIDEN, _MAX_REACH)
    return [out[f] for f in part.tolist()]
