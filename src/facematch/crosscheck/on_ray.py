"""The archive cross-check's self-join as Ray tasks over blocks of faces (run.link's `ray=` argument).

Each task runs the same ranker.Ranker as one machine does (FAISS index or the IVF lists of the list-major
join, exact embeddings, hubness offsets, the join's tau fixed on the driver), so a cluster gives the same
pairs. See cluster.py for how a cluster is joined.
"""

from __future__ import annotations

import numpy as np

from ..cluster import LOCAL, session


def _rank_block(index_bytes, spec_json: dict, ids, vecs, offsets, lists, spread: float, nprobe, tau, block, wide: int):
    """One block of archive faces ranked against the whole archive on a Ray worker: the same ranker.Ranker
    (FAISS index or the IVF lists of the list-major join, exact embeddings, hubness offsets, the join's tau
    fixed on the driver) as on one machine, so the same pairs."""
    import faiss

    from ..ann import IndexSpec, apply_search_params
    from ..vectors import FaceVectors
    from .ranker import Ranker

    faiss.omp_set_num_threads(1)  # Ray runs one task per CPU: FAISS threads would fight over them
    index = faiss.deserialize_index(np.asarray(index_bytes))
    spec = IndexSpec.from_json(spec_json)
    apply_search_params(index, spec)
    ranker = Ranker(FaceVectors("", index, spec), ids, vecs, offsets, spread, nprobe, lists, 1, tau)
    return ranker.rank(block, wide)


def rank_blocks_on_ray(ranker, blocks: list, wide: int, address: str | None = LOCAL):
    """Yield Ranker.rank(block) for each block, computed as Ray tasks and returned in the order given
    (so progress and resuming work as on one machine). The FAISS index, the IVF lists, the exact embeddings
    and the hubness offsets go into Ray's object store once; each task ranks one block."""
    import faiss

    if not blocks:
        return
    with session(address) as ray:
        data = (faiss.serialize_index(ranker.vectors.index), ranker.ids, ranker.vecs, ranker.offsets_all, ranker.lists)
        refs = [ray.put(x) for x in data]
        spec = ranker.vectors.spec.to_json()
        task = ray.remote(num_cpus=1)(_rank_block)
        pending = [
            task.remote(refs[0], spec, *refs[1:], ranker.spread, ranker.nprobe, ranker.tau, b, wide) for b in blocks
        ]
        for ref in pending:
            yield ray.get(ref)
