"""Hubness correction (CSLS-style) for open-set face search: pure scoring, no store access.

Why: in a large gallery a few faces (blurry, frontal-average, small) are close to everyone and show up
among the first candidates of unrelated searches. CSLS (Conneau et al. 2018, "Word translation without
parallel data") lowers each gallery face's scores by how crowded its own neighbourhood is:

    score'(q, g) = cos(q, g) - alpha * r_g,   r_g = mean cos(g, g') over g's k nearest other gallery faces

alpha = 1/2 is the symmetric CSLS form (2 cos - r_q - r_g) divided by 2 with the query's own r_q
dropped: r_q is the same for every candidate of one search, so it cannot change a ranking.
r_g is computed over the gallery only, as an index can (and must update when faces are added).
"""

from __future__ import annotations

import numpy as np

#: Neighbours averaged into r_g (measured on the dev sets: bench/accuracy.py).
DEFAULT_K = 10
DEFAULT_ALPHA = 0.5


def neighbour_means(gallery: np.ndarray, k: int = DEFAULT_K, valid: np.ndarray | None = None) -> np.ndarray:
    """r_g for every row of an L2-normalised gallery: mean similarity to its k nearest *other* rows.

    Rows marked invalid (no face) are neither neighbours nor given a value (their r_g is 0). Uses an
    exact FAISS inner-product search (k + 1 neighbours, the row itself removed).
    """
    import faiss

    gallery = np.ascontiguousarray(gallery, dtype=np.float32)
    n = len(gallery)
    valid = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    rows = np.flatnonzero(valid)
    out = np.zeros(n, dtype=np.float32)
    if len(rows) < 2:
        return out
    kk = min(k, len(rows) - 1)
    index = faiss.IndexFlatIP(gallery.shape[1])
    index.add(gallery[rows])
    sims, ids = index.search(gallery[rows], kk + 1)
    is_self = ids == np.arange(len(rows))[:, None]
    # Drop the row itself where it was returned; where a duplicate pushed it out, drop the last neighbour.
    drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), kk)
    keep = np.ones_like(sims, dtype=bool)
    keep[np.arange(len(rows)), drop] = False
    out[rows] = sims[keep].reshape(len(rows), kk).mean(axis=1)
    return out


def csls_scores(
    sims: np.ndarray,
    gallery: np.ndarray,
    k: int = DEFAULT_K,
    alpha: float = DEFAULT_ALPHA,
    valid: np.ndarray | None = None,
    r: np.ndarray | None = None,
) -> np.ndarray:
    """Hubness-corrected scores: sims (queries x gallery cosines) - alpha * r_g.

    Pass `r` when the index already keeps r_g; otherwise it is computed from `gallery`.
    """
    r = neighbour_means(gallery, k, valid) if r is None else r
    return np.asarray(sims, dtype=np.float32) - alpha * r[None, :]
