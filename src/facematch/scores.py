"""The one place a score is made from a cosine (a core module of its own so that both the neighbour lists and the
list-major join can use it without importing each other)."""

from __future__ import annotations

import numpy as np


def shown_score(cos: np.ndarray, offsets: np.ndarray | None) -> np.ndarray:
    """The score shown for an archive face: its cosine minus its offset (Scoring.offsets), or the cosine itself
    when scores are plain (offsets None). The one place a score is made from a cosine: search.rank_ids, the
    link's join (selfjoin.select) and offers (run.offer) all call it."""
    return cos if offsets is None else cos - offsets


def pair_score(cos: np.ndarray, offset_a: np.ndarray, offset_b: np.ndarray) -> np.ndarray:
    """The score of a pair of archive faces: what a search from either face would show for the other, the lower
    of the two (the cosine minus the larger offset)."""
    return shown_score(cos, np.maximum(offset_a, offset_b))
