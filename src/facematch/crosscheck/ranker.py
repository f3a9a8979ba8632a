"""Every face of one engine ranked against the whole archive, a block of faces at a time (`Ranker`).

On a flat (exact) index a block goes through the one ranking path (search.rank_ids: FAISS's blocked matrix
product -> exact re-rank -> hubness correction). On an IVF index it goes through the list-major join of
selfjoin.py: each list's probing faces times its members in one matrix product, exact cosines, the same
hubness-corrected scores, at a much smaller nprobe than single searches use (what linking needs is the
same person among the first k, not the exact top 50; bench/link_scale.py measures the recall of
same-person pairs against an exact self-join). What the ranked rows become (pairs) is blocks.py's job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import selfjoin
from ..search import Searcher, rank_ids
from ..selfjoin import joins
from ..vectors import FaceVectors

#: Queries per FAISS call on a flat (exact) index: large blocks are where FAISS's blocked GEMM pays.
BLOCK = 4096
#: Queries per block of the list-major join on an IVF index (selfjoin.py): each list's product is then
#: about JOIN_BLOCK x nprobe / nlist rows (1,024 at 1M faces: a real GEMM); one block is one transaction,
#: so a kill loses at most this many faces' work (~9 s at 1M). bench/link_scale.py at 1M: 255 s and a
#: 1.43 GB peak; blocks of 65,536: 263 s and 1.76 GB.
JOIN_BLOCK = 32768
#: On an approximate index, link with the tuned nprobe divided by this. The tuned nprobe finds 99% of each
#: face's exact top 50 through the index's 8-bit codes; linking needs the same person among the top 20,
#: scored exactly (selfjoin.py), which a 24th of it finds: bench/link_scale.py at 1M sface-like faces
#: (nlist 4096, tuned 3072 -> 128), same-person pairs of the exact top 20 found from either side: 0.996
#: (one side only 0.968); at 64: 0.985; at 192: 0.998; at 256: 0.9995 (2,000-face sample). The join's time
#: grows with nprobe (2x from 128 to 256).
NPROBE_SHARE = 24


def link_nprobe(s: Searcher, nprobe: int | None) -> int | None:
    """The nprobe linking uses on an approximate IVF index (None for other kinds)."""
    spec = s.vectors.spec
    if not spec.kind.startswith("ivf"):
        return None
    if nprobe is not None:
        return max(1, int(nprobe))
    return max(1, int(spec.params.get("nprobe", 32)) // NPROBE_SHARE)


@dataclass
class Ranker:
    """Every face of one engine ranked against the whole archive: the self-join's engine room.

    It holds every exact embedding (ids sorted) and every face's hubness offset in memory (1M x 128-d:
    512 MB), so a block of queries never waits on SQLite, and ranks a block at a time:
    - flat (exact) index: through the one ranking path, search.rank_ids, a block of BLOCK faces per FAISS
      call (on a flat index a block is one blocked matrix product: exact and fast);
    - IVF index: the list-major join of selfjoin.py over the index's own lists (`lists`), at linking's
      nprobe: each face probes the lists its own search would probe, every cosine is exact, and batching
      changes the speed, never the answer (tests/test_link.py). FAISS's own IVF search scans a list one
      query at a time, so a block of queries is hardly faster per query than one search.
    Plain picklable arrays, so a Ray task rebuilds the same Ranker and gets the same pairs
    (on_ray.rank_blocks_on_ray).
    """

    vectors: FaceVectors
    ids: np.ndarray  # every face id of the engine, sorted
    vecs: np.ndarray  # their exact embeddings, one row each
    offsets_all: np.ndarray | None  # what hubness correction takes off each face's cosine (None: plain)
    spread: float  # HUB_ALPHA x (mean r - smallest r): how far a face outside a shortlist can rise
    nprobe: int | None
    lists: selfjoin.Lists | None = None  # an IVF index's lists: the join path (None: FAISS's search)
    threads: int = 1
    tau: float | None = None  # the join keeps cosines >= tau (selfjoin.estimate_tau), set by prepare()
    k: int | None = None  # faces with fewer than k candidates above tau are counted in stats
    stats: selfjoin.JoinStats = field(default_factory=selfjoin.JoinStats)

    @classmethod
    def of(cls, s: Searcher, nprobe: int | None, threads: int = 1) -> Ranker:
        ids = s.index.faces.ids(s.fingerprint)
        vecs = s.index.faces.all_embeddings(s.fingerprint, ids, s.engine.dim)
        offsets = s.offsets(ids) if s.alpha else None
        lists = selfjoin.Lists.of(s.vectors.index, ids) if joins(s.vectors) else None
        return cls(s.vectors, ids, vecs, offsets, s.alpha * (s.hub_mean - s.hub_min), nprobe, lists, threads)

    @property
    def block(self) -> int:
        """Faces per block by default: JOIN_BLOCK for the join, BLOCK for FAISS's search."""
        return JOIN_BLOCK if self.lists is not None else BLOCK

    def prepare(self, wide: int, k: int | None = None) -> Ranker:
        """Fix the join's tau for `wide` candidates per face (once: every block and Ray task then uses it)."""
        if self.lists is not None and self.tau is None:
            self.tau = selfjoin.estimate_tau(self.vecs, wide)
        self.k = k if k is not None else self.k
        return self

    # -- exact embeddings and offsets by id ----------------------------------------------------------
    def _pos(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.clip(np.searchsorted(self.ids, u), 0, max(0, len(self.ids) - 1))
        return pos, self.ids[pos] == u

    def exact(self, u: np.ndarray) -> np.ndarray:
        pos, ok = self._pos(np.asarray(u, dtype=np.int64))
        out = self.vecs[pos].copy()
        out[~ok] = np.nan
        return out

    def offsets(self, u: np.ndarray) -> np.ndarray:
        pos, ok = self._pos(np.asarray(u, dtype=np.int64))
        return np.where(ok, self.offsets_all[pos], 0.0).astype(np.float32)  # type: ignore[index]

    # -- blocks -----------------------------------------------------------------------------------
    def plan(self, todo: np.ndarray, block: int | None = None) -> list[np.ndarray]:
        """The faces to link in blocks of `block` (one FAISS call or join, and one transaction each)."""
        block = block or self.block
        return [todo[i : i + block] for i in range(0, len(todo), block)]

    def rank(self, block: np.ndarray, wide: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(the block's face ids, (scores, cosines, ids) of each one's `wide` best archive faces, best first;
        -inf and id -1 in empty slots): the list-major join on an IVF index, else one batched FAISS search
        for the whole block then the exact re-rank and hubness correction of search.rank_ids."""
        if self.lists is not None:
            return block, self._join(block, wide)
        offsets = self.offsets if self.offsets_all is not None else None
        with probing(self.vectors.index, self.nprobe if self.vectors.spec.kind.startswith("ivf") else None):
            return block, rank_ids(self.vectors, self.exact(block), wide, self.exact, offsets, self.spread)

    def _join(self, block: np.ndarray, wide: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.prepare(wide)
        assert self.lists is not None and self.tau is not None
        (scores, cos, pos), st = selfjoin.join(
            self.exact(block), self.vecs, self.lists, int(self.nprobe or self.lists.nlist), wide, self.tau,
            self.offsets_all, self.threads, self.k,
        )  # fmt: skip
        self.stats.add(st)
        return scores, cos, np.where(pos >= 0, self.ids[np.maximum(pos, 0)], -1)


class probing:
    """Set an IVF index's nprobe for a while (a context manager), and put it back after."""

    def __init__(self, index, nprobe: int | None) -> None:
        self.ivf, self.nprobe, self.old = None, nprobe, None
        if nprobe is not None:
            import faiss

            self.ivf = faiss.extract_index_ivf(index)

    def __enter__(self) -> probing:
        if self.ivf is not None:
            self.old, self.ivf.nprobe = self.ivf.nprobe, int(self.nprobe)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.ivf is not None:
            self.ivf.nprobe = self.old
