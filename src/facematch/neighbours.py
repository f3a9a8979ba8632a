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


def shown_score(cos: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """The score shown for an archive face: its cosine minus its offset (Scoring.offsets), or the cosine itself
    when scores are plain (offsets None). The one place a score is made from a cosine: search.rank_ids, the
    link's join (selfjoin.select) and offers (run.offer) all call it."""
    return cos if offsets is None else cos - offsets


def pair_score(cos: np.ndarray, offset_a: np.ndarray, offset_b: np.ndarray) -> np.ndarray:
    """The score of a pair of archive faces: what a search from either face would show for the other, the lower
    of the two (the cosine minus the larger offset)."""
    return shown_score(cos, np.maximum(offset_a, offset_b))


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


def update(
    faces: Faces, store: Neighbours, vectors: FaceVectors, engine: str, scoring: Scoring, progress: bool = False
) -> NeighbourUpdate:
    """Bring every face's neighbour list of the kind `scoring` reads in step with the faces table (and `vectors`,
    already in step). Lists of another kind, e.g. made before this engine had a cut, are computed again first
    (_renew: resumable, with a progress bar when `progress`)."""
    kind, length = scoring.lists, scoring.length
    redone = _renew(faces, store, vectors, engine, scoring, progress)
    gone = store.gone(engine)
    new = store.missing(engine, *kind)
    stale = np.array(sorted(set(store.naming(engine, gone)) - set(new.tolist())), dtype=np.int64)
    todo = np.concatenate([new, stale])
    if not len(todo):
        if gone:
            store.save(engine, *kind, {}, gone, scoring.hub)
        return NeighbourUpdate(0, 0, redone)
    fresh: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for start in range(0, len(todo), BATCH):
        part = todo[start : start + BATCH]
        fresh.update(zip(part.tolist(), _search(vectors, faces, part, length), strict=True))
    touched = _take_in_new(faces, store, engine, kind, length, new, set(fresh)) if len(new) else {}
    store.save(engine, *kind, {**touched, **fresh}, gone, scoring.hub)
    return NeighbourUpdate(len(fresh), len(touched), redone)


def _renew(faces: Faces, store: Neighbours, vectors: FaceVectors, engine: str, scoring: Scoring, progress: bool) -> int:
    """Compute again, against the whole archive, every list of another kind than the one `scoring` reads (lists of
    an older facematch: the k nearest, too short for the rule); how many.

    A batch at a time, each batch saved when done: an interrupted run leaves finished batches of the new kind and
    the rest of the old, and the next run goes on from there. Searches read lists of their own kind only, so hub
    values of two rules are never mixed; a search opened meanwhile runs this first (Searcher)."""
    redo = store.other_kinds(engine, *scoring.lists)
    if not len(redo):
        return 0
    from .indexing.indexer import progress_bar

    bar = progress_bar(len(redo), progress)
    if bar is not None:
        bar.unit = "face"
    try:
        for start in range(0, len(redo), BATCH):
            part = redo[start : start + BATCH]
            lists = dict(zip(part.tolist(), _search(vectors, faces, part, scoring.length), strict=True))
            store.save(engine, *scoring.lists, lists, set(), scoring.hub)
            if bar is not None:
                bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()
    return len(redo)


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
