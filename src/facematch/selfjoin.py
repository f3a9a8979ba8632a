"""The archive self-join on an IVF index as matrix products over the index's own lists (issue 17's scale).

Why not FAISS's batched search: an IVF index scans its lists one query at a time (a dot product per
stored code), so a block of queries is hardly faster per query than one search (measured: 1.9x for a
batch of 100, 31 minutes for 1M faces). A self-join asks every face at once, so it can turn the work
around, list-major:

1. every query face's `nprobe` nearest lists (its probes, exactly as its own IVF search would choose
   them: the largest inner products with the coarse centroids), one matrix product per chunk of faces;
2. the probes inverted: for each list, the query faces that probe it;
3. for each list, one matrix product (its queries x its member faces, exact float32 embeddings): a
   real GEMM, which runs near the CPU's peak where FAISS's per-query scan does not;
4. no per-row sort of those products: only cosines >= `tau` are kept, where `tau` is the cosine that a
   random pair of this archive exceeds with probability TAU_CROWD x wide / N. Why: a face in another
   face's exact top `wide` has fewer than `wide` faces above it, and strangers above a cosine are about
   N x (their rate) in number, so for a typical face its top `wide` sit above the stranger quantile
   ~wide/N; TAU_CROWD gives room for faces in sparse regions. A pair below `tau` is one that
   ~TAU_CROWD x wide strangers of this archive resemble as much: band 'weak' (calibration.band, as far
   as the calibration's stranger rates describe this archive), which linking drops unless --min-band
   weak. Faces with fewer than k candidates above `tau` are counted (JoinStats.short): at 1M
   sface-like faces, 6.8% (bench/link_scale.py); their lists end early, with weak pairs missing. Unlike
   search.rank_ids, no face below tau is brought back by its hubness offset.
5. per query face: the kept candidates scored as search.rank_ids scores them (cosine minus the other
   face's hubness offset), the best `wide`, best first: the same arrays ranker.Ranker.rank returns, so
   pairs, bands, duplicates and resuming downstream are unchanged.

Every cosine is exact (float32 embeddings, not the index's 8-bit codes), so only the choice of lists
is approximate, as in a search. A face's answer depends only on itself, its probes and the lists, not
on which other faces share its block: blocks (and Ray tasks, on_ray.rank_blocks_on_ray) give the same
answer; the kept cosines are recomputed one pair at a time so they do not depend on GEMM blocking.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from .scores import shown_score

#: tau is the cosine a random pair of the archive exceeds with probability TAU_CROWD x wide / faces.
TAU_CROWD = 8
#: Random pairs drawn to estimate tau (seeded: the same archive gives the same tau on every machine).
TAU_PAIRS = 2_000_000
#: Query faces whose probes are computed in one centroid product (8192 x 4096 lists: 128 MB).
PROBE_CHUNK = 8192


def joins(vectors) -> bool:
    """Does work over a whole index (linking, neighbour lists) go through this list-major join (an IVF index),
    or through FAISS's own search (a flat or HNSW one)? `vectors`: a vectors.FaceVectors."""
    return vectors.spec.kind.startswith("ivf")


@dataclass
class Lists:
    """An IVF index's coarse centroids and which faces each list holds (positions in the Ranker's ids).

    Plain arrays (picklable: a Ray task gets them as they are)."""

    centroids: np.ndarray  # (nlist, d) float32
    members: np.ndarray  # positions into ids, grouped by list
    bounds: np.ndarray  # list L holds members[bounds[L]:bounds[L + 1]]

    @classmethod
    def of(cls, index, ids: np.ndarray) -> Lists:
        """From a built FAISS IVF index whose ids are face ids; `ids` sorted (faces missing from it are skipped)."""
        import faiss
        from faiss.contrib.inspect_tools import get_invlist

        ivf = faiss.extract_index_ivf(index)
        centroids = ivf.quantizer.reconstruct_n(0, ivf.nlist).astype(np.float32)
        parts, sizes = [], []
        for lst in range(ivf.nlist):
            got = get_invlist(ivf.invlists, lst)[0] if ivf.invlists.list_size(lst) else np.empty(0, np.int64)
            pos = np.clip(np.searchsorted(ids, got), 0, max(0, len(ids) - 1))
            pos = pos[ids[pos] == got] if len(ids) else pos[:0]
            parts.append(pos.astype(np.int64))
            sizes.append(len(pos))
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        members = np.concatenate(parts) if parts else np.empty(0, np.int64)
        return cls(centroids, members, bounds)

    @property
    def nlist(self) -> int:
        return len(self.centroids)


@dataclass
class JoinStats:
    """What one join saw: faces joined, candidates kept above tau, faces with fewer than k such candidates."""

    faces: int = 0
    candidates: int = 0
    short: int = 0
    tau: float = float("nan")
    seconds: dict = field(default_factory=lambda: {"probes": 0.0, "lists": 0.0, "select": 0.0})

    def add(self, other: JoinStats) -> None:
        self.faces += other.faces
        self.candidates += other.candidates
        self.short += other.short
        self.tau = other.tau
        for key, value in other.seconds.items():
            self.seconds[key] = self.seconds.get(key, 0.0) + value


def estimate_tau(vecs: np.ndarray, wide: int, crowd: float = TAU_CROWD, pairs: int = TAU_PAIRS) -> float:
    """The cosine random pairs of these faces exceed with probability crowd x wide / N (-inf when that is >= 1:
    a small archive keeps every candidate). Seeded, so every machine computes the same tau."""
    n = len(vecs)
    share = crowd * wide / max(n, 1)
    if n < 2 or share >= 1:
        return float("-inf")
    rng = np.random.default_rng(17)
    cos = []
    for start in range(0, pairs, 250_000):
        m = min(250_000, pairs - start)
        i, j = rng.integers(0, n, m), rng.integers(0, n, m)
        keep = i != j
        cos.append(rowdot(vecs, i[keep], vecs, j[keep]))
    return float(np.quantile(np.concatenate(cos), 1.0 - share))


def probes(q: np.ndarray, centroids: np.ndarray, nprobe: int) -> np.ndarray:
    """Each query's `nprobe` lists with the largest centroid inner products (what an IVF search probes):
    FAISS's exact flat search over the centroids (a blocked GEMM and a heap per row, on all threads)."""
    import faiss

    nprobe = min(nprobe, len(centroids))
    flat = faiss.IndexFlatIP(centroids.shape[1])
    flat.add(centroids)
    out = np.empty((len(q), nprobe), np.int32)
    for s in range(0, len(q), PROBE_CHUNK):
        out[s : s + PROBE_CHUNK] = flat.search(q[s : s + PROBE_CHUNK], nprobe)[1]
    return out


def join(
    q: np.ndarray,
    vecs: np.ndarray,
    lists: Lists,
    nprobe: int,
    wide: int,
    tau: float,
    offsets: np.ndarray | None = None,
    threads: int = 1,
    k: int | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], JoinStats]:
    """((scores, cosines, positions), stats) of each query's `wide` best faces among its probed lists, best first.

    `q`: the query faces' unit embeddings; `vecs`: every face's (positions index it); `offsets`: what
    hubness correction takes off each face's cosine (by position; None: plain cosines). Empty slots
    hold -inf and position -1. `threads` lists are multiplied at once (numpy releases the GIL in GEMM).
    """
    import time

    stats = JoinStats(faces=len(q), tau=tau)
    t = time.perf_counter()
    pr = probes(q, lists.centroids, nprobe)
    p = pr.shape[1]
    flat = pr.ravel()
    order = np.argsort(flat, kind="stable")  # radix sort on small ints: fast
    starts = np.searchsorted(flat[order], np.arange(lists.nlist + 1))
    query_of = (order // p).astype(np.int64)
    del flat, order, pr
    stats.seconds["probes"] = time.perf_counter() - t

    t = time.perf_counter()

    def one_range(lo: int, hi: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        found = []
        for lst in range(lo, hi):
            qs = query_of[starts[lst] : starts[lst + 1]]
            mem = lists.members[lists.bounds[lst] : lists.bounds[lst + 1]]
            if not len(qs) or not len(mem):
                continue
            s = q[qs] @ vecs[mem].T
            r, c = np.nonzero(s >= tau)
            if len(r):
                found.append((qs[r], mem[c], s[r, c]))
        return found

    cuts = np.linspace(0, lists.nlist, max(1, threads) * 8 + 1).astype(int)
    ranges = list(zip(cuts[:-1], cuts[1:], strict=True))
    # One BLAS thread per product, `threads` products at once: BLAS threads inside each of our threads
    # would oversubscribe the cores, and OpenBLAS's spinning threads are then several times slower
    # (measured on a loaded 2-core machine, 100k faces: the lists' products 3.2-3.7 s with one BLAS thread
    # against 4.6-26 s with two).
    with threadpool_limits(limits=1, user_api="blas"):
        if threads > 1:
            with ThreadPoolExecutor(threads) as pool:
                parts = [x for part in pool.map(lambda r: one_range(*r), ranges) for x in part]
        else:
            parts = [x for r in ranges for x in one_range(*r)]
    stats.seconds["lists"] = time.perf_counter() - t

    t = time.perf_counter()
    if parts:
        qi, gi, cos = (np.concatenate([part[i] for part in parts]) for i in range(3))
    else:
        qi, gi, cos = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    del parts
    out = select(q, vecs, qi, gi, cos, wide, offsets)
    stats.candidates = len(qi)
    counts = np.bincount(qi, minlength=len(q))
    stats.short = int(np.sum(counts - 1 < (k if k is not None else wide)))  # minus the face itself
    stats.seconds["select"] = time.perf_counter() - t
    return out, stats


def select(
    q: np.ndarray,
    vecs: np.ndarray,
    qi: np.ndarray,
    gi: np.ndarray,
    cos: np.ndarray,
    wide: int,
    offsets: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates (query row qi, face position gi, GEMM cosine) -> each query's `wide` best by score, best first.

    One sort of all candidates by (query, score) as a single float64 key; the kept cosines are then
    recomputed pair by pair (so they do not depend on how the GEMMs were blocked) and each row put in
    order again, ties to the lower position: the same answer whatever the blocking."""
    n = len(q)
    scores = np.full((n, wide), -np.inf, np.float32)
    cosines = np.full((n, wide), -np.inf, np.float32)
    pos = np.full((n, wide), -1, np.int64)
    if not len(qi):
        return scores, cosines, pos
    score = shown_score(cos, offsets[gi] if offsets is not None else None)
    key = qi.astype(np.float64) * 16.0 + (8.0 - score.astype(np.float64))  # |score| < 4: rows never overlap
    order = np.argsort(key)
    qi, gi = qi[order], gi[order]
    first = np.searchsorted(qi, np.arange(n))
    rank = np.arange(len(qi)) - first[qi]
    keep = rank < wide
    rows, cols, gi = qi[keep], rank[keep], gi[keep]
    exact = rowdot(q, rows, vecs, gi)
    pos[rows, cols], cosines[rows, cols] = gi, exact
    scores[rows, cols] = shown_score(exact, offsets[gi] if offsets is not None else None)
    again = np.lexsort((np.where(pos >= 0, pos, np.iinfo(np.int64).max), -scores), axis=1)
    return tuple(np.take_along_axis(a, again, 1) for a in (scores, cosines, pos))  # type: ignore[return-value]


def rowdot(a: np.ndarray, ia: np.ndarray, b: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """a[ia] . b[ib] row by row, gathered in small chunks: gathering millions of rows at once spends most of
    its time faulting in fresh pages (measured: 3.7 s for 2M x 128, against 0.1 s for the products)."""
    out = np.empty(len(ia), np.float32)
    step = 16384
    for s in range(0, len(ia), step):
        out[s : s + step] = np.einsum("ij,ij->i", a[ia[s : s + step]], b[ib[s : s + step]])
    return out
