"""The FAISS side of an index: one file per engine, whose ids are the faces table's ids.

The file is derived data: a sidecar JSON records which engine fingerprint, how many vectors, the
highest face id and which FAISS structure (ann.py: exact flat scan, or an approximate index with
its measured parameters) it holds. If the database has moved on (a run was killed after committing
faces but before saving FAISS, or photos were added), the missing vectors are added and vanished
ones removed, without retraining; the whole file is rebuilt only when it cannot be trusted, when a
person changes the index type, or on request (`facematch retrain`). Saving writes a temporary file
and renames it, so a crash never leaves a half-written index.

Approximate indexes only choose the shortlist: search() re-scores it with the exact stored float
embeddings, so a shown similarity is always the exact cosine, whatever the index type.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import faiss
import numpy as np

from . import ann
from .ann import IndexSpec
from .fingerprint import Fingerprint, slug
from .i18n import _
from .store import Database, Faces

#: ids (sorted, unique) -> their exact float32 embeddings, one row each; NaN rows for unknown ids.
ExactVectors = Callable[[np.ndarray], np.ndarray]


class EngineMismatch(ValueError):
    """The index holds embeddings of a different engine than the one asked for."""


@dataclass
class FaceVectors:
    """A FAISS inner-product index over L2-normalised face embeddings of one engine."""

    engine: str  # fingerprint
    index: faiss.Index
    spec: IndexSpec = field(default_factory=IndexSpec)
    # The highest id held, when known without reading every inverted list (from the sidecar saved with the
    # file: 0.3 s of each open at a million faces); None after a removal, until asked again.
    known_max_id: int | None = field(default=None, repr=False)

    @classmethod
    def empty(cls, engine: str, dim: int) -> FaceVectors:
        return cls(engine, ann.new_index(IndexSpec("flat"), dim), IndexSpec("flat"))

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            ids = np.asarray(ids, dtype=np.int64)
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)
            if self.known_max_id is not None:
                self.known_max_id = max(self.known_max_id, int(ids.max()))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self.index.remove_ids(faiss.IDSelectorBatch(np.asarray(ids, dtype=np.int64)))
            self.known_max_id = None

    def ids(self) -> np.ndarray:
        return ann.ids_of(self.index)

    def max_id(self) -> int:
        if self.count == 0:
            return 0
        if self.known_max_id is None:
            self.known_max_id = int(self.ids().max())
        return self.known_max_id

    def search(self, queries: np.ndarray, k: int, exact: ExactVectors | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k'); k' = min(k, count). Missing slots have id -1.

        With an approximate index and `exact` given, the index proposes k x rerank faces and the
        exact embeddings decide their order and scores; without `exact` the scores are the index's
        own (approximate for IVF-SQ8/PQ).
        """
        k = max(1, min(k, self.count))
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dim:
            raise EngineMismatch(f"query has {q.shape[1]} dimensions, the index {self.dim}")
        if self.spec.exact or exact is None:
            return self.index.search(q, k)
        _, shortlist = self.index.search(q, min(self.count, k * self.spec.rerank))
        return rerank(q, shortlist, exact, k)

    def retrain_advice(self) -> str | None:
        """Why `facematch retrain` would help now (a grown or outgrown index), or None."""
        return ann.retrain_advice(self.spec, self.count, self.dim)

    # -- files ----------------------------------------------------------------------------------
    @staticmethod
    def paths(folder: Path, engine: str) -> tuple[Path, Path]:
        """The FAISS file and its sidecar, one pair per engine name (an engine fingerprint or name)."""
        name = Fingerprint(engine).name if "@" in engine else engine
        base = Path(folder) / f"faces-{slug(name)}"
        return base.with_suffix(".faiss"), base.with_suffix(".json")

    def save(self, folder: Path) -> None:
        """Atomic: write to temporary files, fsync, rename over the old ones (FAISS first, sidecar last).

        The app and an indexing run may save at the same moment: each writes its own temporary files
        (unique names), and the two renames happen under a lock on the folder, so the file and its sidecar
        always come from the same save."""
        index_path, meta_path = self.paths(folder, self.engine)
        meta = {
            "engine": self.engine,
            "dim": self.dim,
            "count": self.count,
            "max_id": self.max_id(),
            "index": self.spec.to_json(),
        }
        tmp = _temp_beside(index_path)
        tmp_meta = _temp_beside(meta_path)
        try:
            faiss.write_index(self.index, str(tmp))
            _fsync(tmp)
            tmp_meta.write_text(json.dumps(meta, indent=1))
            _fsync(tmp_meta)
            with _folder_lock(index_path.parent):
                os.replace(tmp, index_path)
                os.replace(tmp_meta, meta_path)
        finally:
            tmp.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)

    @classmethod
    def load(cls, folder: Path, engine: str) -> FaceVectors | None:
        """The saved index for this engine fingerprint, or None if absent, unreadable or stale-typed."""
        index_path, meta_path = cls.paths(folder, engine)
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("engine") != engine:
                return None
            index = faiss.read_index(str(index_path))
        except (OSError, ValueError, RuntimeError):
            return None
        spec = IndexSpec.from_json(meta.get("index"))  # files from before index types are flat
        if spec.exact and not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
        if int(index.ntotal) != int(meta.get("count", -1)):
            return None
        try:
            ann.apply_search_params(index, spec)
        except (RuntimeError, AttributeError, KeyError, ValueError):
            return None  # the sidecar does not describe this file: rebuild
        top = meta.get("max_id")
        return cls(engine, index, spec, int(top) if isinstance(top, int) else None)


def rerank(queries: np.ndarray, shortlist: np.ndarray, exact: ExactVectors, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact scores for each query's shortlist, best k first; one fetch of embeddings for the batch."""
    uniq = np.unique(shortlist[shortlist >= 0])
    out_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    out_i = np.full((len(queries), k), -1, dtype=np.int64)
    if not len(uniq):
        return out_s, out_i
    vecs = np.asarray(exact(uniq), dtype=np.float32)
    for row, (q, cand) in enumerate(zip(queries, shortlist, strict=True)):
        cand = cand[cand >= 0]
        pos = np.searchsorted(uniq, cand)
        scores = vecs[pos] @ q
        scores[np.isnan(scores)] = -np.inf
        order = np.argsort(-scores, kind="stable")[:k]
        order = order[np.isfinite(scores[order])]
        out_s[row, : len(order)], out_i[row, : len(order)] = scores[order], cand[order]
    return out_s, out_i


def stored_vectors(faces: Faces, dim: int) -> ExactVectors:
    """Exact embeddings straight from the database (the source of truth), for re-ranking a shortlist."""
    return lambda ids: faces.embedding_matrix(ids, dim)


# -- the person's choice of index type, kept in the database so it survives a rebuild --------------
def _choice_key(engine: str) -> str:
    name = Fingerprint(engine).name if "@" in engine else engine
    return f"index_type:{name}"  # by engine name: new weights need a new index anyway


def chosen_type(db: Database, engine: str) -> dict | None:
    """{'kind', 'params'} a person chose for this engine's index, or None (the gallery size decides)."""
    raw = db.get_meta(_choice_key(engine))
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def choose_type(db: Database, engine: str, kind: str, params_text: str | None, dim: int) -> None:
    """Record a person's index type for an engine (name or fingerprint); 'auto' clears it.

    Validated here, before any work, so a typo is a clear message rather than a saved choice that
    every later search would trip over. The next sync() rebuilds the FAISS file to match.
    """
    params = ann.parse_params(params_text)
    ann.user_spec(kind, params, 1_000_000, dim)  # raises a clear ValueError for a bad kind or parameter
    if kind == "auto":
        if params:
            raise ValueError(_("--index-params needs an --index-type other than auto"))
        db.set_meta(_choice_key(engine), None)
    else:
        db.set_meta(_choice_key(engine), json.dumps({"kind": kind, "params": params}))


def _wanted_spec(choice: dict | None, count: int, dim: int) -> IndexSpec:
    if choice is None:
        return ann.auto_spec(count, dim)
    spec = ann.user_spec(choice["kind"], choice["params"], count, dim)
    assert spec is not None
    return spec


def _fits_choice(spec: IndexSpec, choice: dict | None) -> bool:
    """Does an existing index still answer to what was chosen? (A new choice means a rebuild.)"""
    if choice is None:
        return spec.chosen_by == "auto"
    if spec.chosen_by != "user" or spec.kind != choice["kind"]:
        return False
    return spec.asked == choice["params"]


# -- is the file in step with the database? (the one answer, for sync, info and check) ------------
#: Faces whose stored embedding is compared with the FAISS file, and searched for by it, in a thorough check.
SAMPLE = 200


@dataclass
class VectorsState:
    """What the saved FAISS file of an engine holds against the database, and what is wrong if anything."""

    vectors: FaceVectors | None  # the saved file, loaded (None: missing, unreadable, other weights or type)
    faces: int  # faces of this engine in the database
    problem: str | None  # None when the file is in step

    @property
    def in_step(self) -> bool:
        return self.problem is None


def state(faces: Faces, folder: Path, engine: str, thorough: bool = False) -> VectorsState:
    """Compare an engine's saved FAISS file with the database.

    The quick answer (count and highest id agree, and the file is of the chosen type) is what every
    open needs; `thorough` also compares the id sets and checks a sample of embeddings: equal to the
    stored ones (exact index) and each found by its own search (any index type), which is what
    `facematch check` promises.
    """
    n = faces.count(engine)
    vecs = FaceVectors.load(folder, engine)
    if vecs is not None and not _fits_choice(vecs.spec, chosen_type(faces.db, engine)):
        return VectorsState(vecs, n, "the FAISS file is not of the index type chosen for this engine")
    if vecs is None:
        problem = "the FAISS file is missing, unreadable or made for other weights" if n else None
        return VectorsState(None, n, problem)
    if thorough:
        return VectorsState(vecs, n, _sample_trouble(faces, vecs))
    if vecs.count != n or vecs.max_id() != faces.max_id(engine):
        return VectorsState(vecs, n, f"the FAISS file holds {vecs.count} faces, the database {n}")
    return VectorsState(vecs, n, None)


def _sample_trouble(faces: Faces, vecs: FaceVectors) -> str | None:
    ids = faces.ids(vecs.engine)
    held = np.sort(vecs.ids())
    if len(held) != len(ids) or not np.array_equal(held, ids):
        lacking, extra = np.setdiff1d(ids, held), np.setdiff1d(held, ids)
        return f"{len(lacking)} faces missing from the FAISS file, {len(extra)} not in the database"
    if not len(ids):
        return None
    rng = np.random.default_rng(0)
    sample = np.sort(rng.choice(ids, size=min(SAMPLE, len(ids)), replace=False))
    fetch = stored_vectors(faces, vecs.dim)
    stored = fetch(sample)
    if vecs.spec.exact:
        held_vecs = np.stack([vecs.index.reconstruct(int(i)) for i in sample])
        if not np.allclose(held_vecs, stored, atol=1e-6):
            return "stored and indexed embeddings differ"
    # Whatever the index type, a face searched with its own embedding must come back at the top
    # (among the first few: copies of one photo in two folders give equal embeddings).
    _, found = vecs.search(stored, 10, exact=fetch)
    lost = sum(int(i) not in row for i, row in zip(sample, found, strict=True))
    if lost:
        return f"{lost} of {len(sample)} sampled faces are not found by their own embedding"
    return None


# -- keeping the file in step with the database ---------------------------------------------------
def sync(faces: Faces, folder: Path, engine: str, dim: int, save: bool = True, rebuild: bool = False) -> FaceVectors:
    """Bring the FAISS file of an engine in line with the database and return it.

    Cheap when nothing changed; adds faces newer than the file's highest id and removes vanished
    ones without retraining; rebuilds (choosing the index type again) only when the file is
    missing or unreadable, the chosen type changed, or `rebuild` is asked for.
    """
    choice = chosen_type(faces.db, engine)
    now = state(faces, folder, engine)
    if not rebuild and now.in_step and now.vectors is not None:
        return now.vectors
    vecs = None if rebuild or not _fits_choice_or_none(now.vectors, choice) else now.vectors
    if vecs is not None and _catch_up(vecs, faces, engine, now.faces):
        if save:
            vecs.save(folder)
        return vecs
    vecs = build(faces, engine, dim, choice)
    if save:
        vecs.save(folder)
    return vecs


def _fits_choice_or_none(vecs: FaceVectors | None, choice: dict | None) -> bool:
    return vecs is not None and _fits_choice(vecs.spec, choice)


def _catch_up(vecs: FaceVectors, faces: Faces, engine: str, db_count: int) -> bool:
    """Add what the database has and the file lacks, remove what it no longer has; False if impossible."""
    top = vecs.max_id()
    for ids, embs in faces.iter_embeddings(engine, after_id=top):
        vecs.add(ids, embs)
    if vecs.count == db_count:
        return True
    if vecs.spec.kind == "hnsw":
        return False  # FAISS cannot remove from an HNSW graph
    in_db = faces.ids(engine)
    held = vecs.ids()
    vecs.remove(np.setdiff1d(held, in_db))
    missing = np.setdiff1d(in_db, held)
    missing = missing[missing <= top]  # newer ones were added above
    fetch = stored_vectors(faces, vecs.dim)
    for start in range(0, len(missing), 50_000):
        part = missing[start : start + 50_000]
        vecs.add(part, fetch(part))
    return vecs.count == db_count


def build(faces: Faces, engine: str, dim: int, choice: dict | None = None) -> FaceVectors:
    """A new index from every stored embedding, of the chosen or size-decided type."""
    count = faces.count(engine)
    spec = _wanted_spec(choice, count, dim)
    if spec.kind.startswith("ivf"):
        if count == 0:
            spec = IndexSpec("flat", {}, spec.chosen_by, spec.asked)  # nothing to train on yet
        else:  # a small gallery gets fewer lists: k-means wants about 39 faces per list
            spec.params["nlist"] = max(1, min(int(spec.params["nlist"]), count // 39))
    index, spec = ann.build(spec, dim, lambda: faces.iter_embeddings(engine), count)
    return FaceVectors(engine, index, spec)


def _temp_beside(path: Path) -> Path:
    """A new, uniquely named temporary file in path's folder (same file system, so os.replace is atomic)."""
    fd, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(name)


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive lock between processes (and threads: each takes its own file description) on a folder."""
    with open(folder / ".vectors.lock", "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
