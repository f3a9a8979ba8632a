"""One block's ranked rows turned into the pairs to store: skips, ranks, offers, duplicates, reasons, bands.

Faces of the same photo are never paired (a photo shows different people); with --across, neither are
faces of the same collection. A pair's score is the score a search from either face would show for the
other, the lower of the two (cosine - HUB_ALPHA x (r - mean r) for the other face's r); its stranger count
(how many strangers in this archive are expected to look this similar) and band come from the archive's
stranger rates, as in search.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from .. import calibration
from ..neighbours import pair_score
from ..search import Searcher
from ..store import FaceRow
from .duplicates import CHECK_COSINE, Regions, checked, duplicate_kind
from .reasons import NameHits, record_reasons, records_about

BANDS = calibration.BANDS  # strongest first: --min-band keeps this band and those before it

#: The first cut of BlockPairs.pairs keeps entries this far below what could be kept (a pair's cosine and
#: score, computed from each of its faces' sides, may differ in the last float bits).
_MARGIN = 1e-3


class BlockPairs:
    """What turning one block's ranked lists into pairs needs: faces, photos, collections, records."""

    def __init__(self, s: Searcher, k: int, across: bool, min_band: str) -> None:
        self.s, self.k, self.across = s, k, across
        self.min_rank = BANDS.index(min_band)
        self._name_hits = NameHits(s.index)
        self._lowest: float | None = None
        self.checked = self.decoded = self.again = 0  # pairs given the pixel check, photos decoded, regions remade

    def pairs(
        self,
        q_ids: np.ndarray,
        scores: np.ndarray,
        cos: np.ndarray,
        ids: np.ndarray,
        old: Callable[[int], bool] | None = None,
    ) -> list[dict]:
        """The block's pairs: each query face's first k (after skipping its own photo and, with --across, its
        collection), classified, at least min_band. With `old` (faces linked before this run): a pair with an
        older face is also marked "offer" (that face), anywhere in the query's `wide` row, so offer() can
        rank it from the older face's side too.

        A block is 32,768 faces x `wide` candidates (~1M entries): the skips, ranks and a first cut by score
        are array operations, and only entries that can be kept become pair dicts (about one in ten at 1M
        faces, bench/link_e2e.py). The cut keeps every entry that min_band, or a duplicate check, could keep
        (with a margin: a pair's score from its two sides may differ in the last float bits); min_band
        itself is then applied to each pair as before, so the pairs are those of the per-entry loop."""
        faces = self.s.index.faces
        everyone, image, q_pos, g_pos, keep = self._kept(q_ids, ids)
        ranks = np.cumsum(keep, axis=1)
        ranked = keep & (ranks <= self.k)
        offers = np.zeros_like(keep)
        if old is not None:
            at = np.nonzero(keep)
            offers[at] = [old(int(g)) for g in ids[at].tolist()]
        off = self.s.offsets(everyone).astype(np.float64) if self.s.alpha else np.zeros(len(everyone))
        score = pair_score(cos.astype(np.float64), off[q_pos][:, None], off[g_pos])
        could = (
            (score >= self._lowest_score()) | (cos >= CHECK_COSINE - _MARGIN) | (image[g_pos] == image[q_pos][:, None])
        )
        found: dict[tuple[int, int], dict] = {}
        rows_at, cols_at = np.nonzero((ranked | offers) & could)  # row-major: each query's row in order
        for i, j, c, sc, r, o in zip(
            rows_at.tolist(), cols_at.tolist(), cos[rows_at, cols_at].tolist(), score[rows_at, cols_at].tolist(),
            ranks[rows_at, cols_at].tolist(), offers[rows_at, cols_at].tolist(), strict=True,
        ):  # fmt: skip
            q, g = int(q_ids[i]), int(ids[i, j])
            a, b = (q, g) if q < g else (g, q)
            pair = {"a": a, "b": b, "cosine": c, "score": sc}
            if r <= self.k:
                pair["rank_ab" if q == a else "rank_ba"] = r
            if o:
                pair["offer"] = g
            found[(a, b)] = {**found.get((a, b), {}), **pair}
        pairs = list(found.values())
        rows = faces.by_id({f for p in pairs for f in (p["a"], p["b"])})
        pairs = [p for p in pairs if p["a"] in rows and p["b"] in rows]
        self.classify(pairs, rows)
        enough = self._strong_enough_all(pairs)
        return [p for p, ok in zip(pairs, enough.tolist(), strict=True) if p["kind"] == "duplicate" or ok]

    def _kept(self, q_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, ...]:
        """Which entries of the ranked rows count (an archive face of another photo and, with --across, of
        another collection; not a face gone meanwhile): (every face of the rows, their images, the positions of
        the query and archive faces among them, the mask)."""
        faces = self.s.index.faces
        everyone = np.unique(np.concatenate([q_ids, ids[ids >= 0]]))
        photo, image = faces.photos_of(everyone)  # -1: a face gone meanwhile
        q_pos, g_pos = np.searchsorted(everyone, q_ids), np.searchsorted(everyone, np.maximum(ids, 0))
        keep = (ids >= 0) & (ids != q_ids[:, None]) & (photo[g_pos] >= 0) & (photo[q_pos] >= 0)[:, None]
        keep &= photo[g_pos] != photo[q_pos][:, None]
        if self.across:
            coll = faces.collection_of(everyone)
            _, code = np.unique(np.array([coll.get(int(f), "") for f in everyone], dtype=object), return_inverse=True)
            keep &= code[g_pos] != code[q_pos][:, None]
        return everyone, image, q_pos, g_pos, keep

    def row_ranks(self, q_ids: np.ndarray, scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each ranked row's ranks as pairs() numbers them (0: an entry that does not count) and its floor: the
        score of its k-th counted entry, below which no other face can enter its first k (NaN: fewer than k
        entries count, so any face could)."""
        keep = self._kept(q_ids, ids)[-1]
        ranks = np.where(keep, np.cumsum(keep, axis=1), 0)
        at = ranks == self.k
        floor = np.full(len(q_ids), np.nan)
        rows, cols = np.nonzero(at)
        floor[rows] = scores[rows, cols]
        return ranks, floor

    def _lowest_score(self) -> float:
        """A score below which no pair is strong enough for min_band (-inf when every score is): the bands
        only fall as the score falls (rates of strangers), read on a grid of 0.001 with a margin."""
        if self._lowest is None:
            grid = np.arange(-1.0, 2.0, 0.001)
            ok = [g for g in grid.tolist() if self._strong_enough(g)]
            self._lowest = -np.inf if not ok or ok[0] == grid[0] else ok[0] - 0.001 - _MARGIN
        return self._lowest

    def _strong_enough(self, score: float) -> bool:
        if self.s.calibration is None or self.min_rank == len(BANDS) - 1:
            return True
        st = calibration.strangers(self.s.calibration, score, self.s.gallery_size)
        return BANDS.index(st.band) <= self.min_rank  # type: ignore[union-attr]

    def _strong_enough_all(self, pairs: list[dict]) -> np.ndarray:
        """_strong_enough of every pair at once (calibration.band_ranks: the same bands)."""
        if self.s.calibration is None or self.min_rank == len(BANDS) - 1:
            return np.ones(len(pairs), dtype=bool)
        return self._band_ranks(pairs) <= self.min_rank  # type: ignore[operator]

    def band(self, score: float) -> str | None:
        st = calibration.strangers(self.s.calibration, score, self.s.gallery_size)
        return None if st is None else st.band

    def _band_ranks(self, pairs: list[dict]) -> np.ndarray | None:
        """Each pair's band as its position in BANDS (None uncalibrated): band() for all pairs at once."""
        scores = np.array([p["score"] for p in pairs], dtype=np.float64)
        return calibration.band_ranks(self.s.calibration, scores, self.s.gallery_size)

    def classify(self, pairs: list[dict], rows: dict[int, FaceRow]) -> None:
        """Duplicates (the same file, or the same pixels around the faces: duplicates.py) apart from possible same
        persons; reasons. Pairs with cosine >= CHECK_COSINE or of band strong get the pixel check, in the order
        of their faces (a < b): each photo is decoded once and each face's region made once for the block."""
        ranks = self._band_ranks(pairs)
        at = (ranks == 0).tolist() if ranks is not None else [False] * len(pairs)
        strong = {(p["a"], p["b"]): s for p, s in zip(pairs, at, strict=True)}
        todo = sorted(
            (p for p in pairs if checked(p["cosine"], strong[(p["a"], p["b"])])
             and not (rows[p["a"]].sha256 and rows[p["a"]].sha256 == rows[p["b"]].sha256)),
            key=lambda p: (p["a"], p["b"]),
        )  # fmt: skip
        regions = Regions(rows, Counter(f for p in todo for f in (p["a"], p["b"]))) if todo else None
        keys = {(p["a"], p["b"]) for p in todo}
        recs = records_about(self.s.index, rows)
        both = [p for p in pairs if p["a"] in recs and p["b"] in recs]  # a reason needs records on both faces
        self._name_hits.prepare((recs[p["a"]], recs[p["b"]]) for p in both)
        for p in sorted(pairs, key=lambda p: (p["a"], p["b"])):
            fa, fb = rows[p["a"]], rows[p["b"]]
            dup = duplicate_kind(fa, fb, p["cosine"], strong[(p["a"], p["b"])], regions)
            if (p["a"], p["b"]) in keys:
                regions.done(p["a"])  # type: ignore[union-attr]
                regions.done(p["b"])  # type: ignore[union-attr]
            p["kind"], p["duplicate"] = ("duplicate" if dup else "person"), dup
            p["reasons"] = []
        for p in both:
            p["reasons"] = record_reasons(recs[p["a"]], recs[p["b"]], self._name_hits)
        if regions is not None:
            self.checked += len(todo)
            self.decoded += regions.decoded
            self.again += regions.again
