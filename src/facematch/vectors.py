"""The FAISS side of an index: one file per engine, whose ids are the faces table's ids.

The file is derived data: a sidecar JSON records which engine fingerprint, how many vectors and
the highest face id it holds. If the database has moved on (a run was killed after committing
faces but before saving FAISS), the missing vectors are added from the database, or the whole
file is rebuilt when it cannot be trusted. Saving writes a temporary file and renames it, so a
crash never leaves a half-written index.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from .engines import engine_slug
from .store import Store


class EngineMismatch(ValueError):
    """The index holds embeddings of a different engine than the one asked for."""


@dataclass
class FaceVectors:
    """A FAISS inner-product index over L2-normalised face embeddings of one engine."""

    engine: str  # fingerprint
    index: faiss.IndexIDMap2

    @classmethod
    def empty(cls, engine: str, dim: int) -> FaceVectors:
        return cls(engine, faiss.IndexIDMap2(faiss.IndexFlatIP(dim)))

    @property
    def dim(self) -> int:
        return self.index.d

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(ids, dtype=np.int64))

    def max_id(self) -> int:
        if self.count == 0:
            return 0
        return int(faiss.vector_to_array(self.index.id_map).max())

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n_queries, k'); k' = min(k, count). Missing slots have id -1."""
        k = max(1, min(k, self.count))
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dim:
            raise EngineMismatch(f"query has {q.shape[1]} dimensions, the index {self.dim}")
        return self.index.search(q, k)

    # -- files ----------------------------------------------------------------------------------
    @staticmethod
    def paths(folder: Path, engine_name: str) -> tuple[Path, Path]:
        base = folder / f"faces-{engine_slug(engine_name)}"
        return base.with_suffix(".faiss"), base.with_suffix(".json")

    def save(self, folder: Path) -> None:
        """Atomic: write to temporary files, fsync, rename over the old ones (FAISS first, sidecar last)."""
        name = self.engine.split("@", 1)[0]
        index_path, meta_path = self.paths(folder, name)
        tmp = index_path.with_suffix(".faiss.tmp")
        faiss.write_index(self.index, str(tmp))
        _fsync(tmp)
        os.replace(tmp, index_path)
        meta = {"engine": self.engine, "dim": self.dim, "count": self.count, "max_id": self.max_id()}
        tmp_meta = meta_path.with_suffix(".json.tmp")
        tmp_meta.write_text(json.dumps(meta, indent=1))
        _fsync(tmp_meta)
        os.replace(tmp_meta, meta_path)

    @classmethod
    def load(cls, folder: Path, engine: str) -> FaceVectors | None:
        """The saved index for this engine fingerprint, or None if absent, unreadable or stale-typed."""
        index_path, meta_path = cls.paths(folder, engine.split("@", 1)[0])
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("engine") != engine:
                return None
            index = faiss.read_index(str(index_path))
        except (OSError, ValueError, RuntimeError):
            return None
        if not isinstance(index, faiss.IndexIDMap2):
            index = faiss.downcast_index(index)
        if int(index.ntotal) != int(meta.get("count", -1)):
            return None
        return cls(engine, index)


def sync(store: Store, folder: Path, engine: str, dim: int, save: bool = True) -> FaceVectors:
    """Bring the FAISS file of an engine in line with the database and return it.

    Cheap when nothing changed; adds only faces newer than the file's highest id when the database
    only grew; rebuilds from stored embeddings when counts disagree any other way.
    """
    vecs = FaceVectors.load(folder, engine)
    db_count, db_max = store.face_count(engine), store.max_face_id(engine)
    if vecs is not None and vecs.count == db_count and vecs.max_id() == db_max:
        return vecs
    if vecs is not None and vecs.max_id() <= db_max:
        before = vecs.count
        for ids, embs in store.iter_embeddings(engine, after_id=vecs.max_id()):
            vecs.add(ids, embs)
        if vecs.count == db_count:
            if save and vecs.count != before:
                vecs.save(folder)
            return vecs
    vecs = FaceVectors.empty(engine, dim)
    for ids, embs in store.iter_embeddings(engine):
        vecs.add(ids, embs)
    if save:
        vecs.save(folder)
    return vecs


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
