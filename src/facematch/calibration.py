"""Turn a similarity into something a family can read: how many strangers in this archive look this similar.

A cosine similarity of 0.62 means nothing by itself; what it means depends on the engine and on how
many faces were searched. So for each engine we measure, on many pairs of *different* people, the
rate at which an unrelated face scores at least s (the false-positive rate, FPR(s)). Searching a
gallery of G faces for someone who is not in it, the expected number of faces scoring at least s is
FPR(s) x G: "about N strangers in this archive would look this similar". The table is stored per
engine with its exact fingerprint (calibration_data/<engine>.json, numbers only, no photos); a
different set of weights has no calibration and stays an "uncalibrated similarity".

Bands, from the expected number of strangers E = FPR(score) x gallery size (never from the raw
score alone, because the same score is far less telling in a million-face archive than in a
thousand-face one):

* **strong** when E < 0.01: fewer than one search in a hundred for an unrelated person would turn up
  a stranger this similar anywhere in the archive. The margin is deliberate: the calibration comes
  from LFW (mostly white adults, no age gap), and NIST's demographic study (FRVT part 3, NISTIR 8280)
  found false-match rates 10 to 100 times higher on East Asian faces for many algorithms. Even at 100
  times the LFW rate, E stays below 1 in this band.
* **possible** when 0.01 <= E < 1: less than one stranger expected, but not rare, and a 10-100x
  demographic shift would put several strangers here.
* **weak** when E >= 1: at least one stranger in the archive is expected to look this similar even at
  LFW's rates; the score alone does not single this face out.

Even "strong" never means a match: the wording is "strong resemblance — still needs a person to
compare" (messages.py).

The table's strangers are LFW's, of many populations; an archive's strangers are of the searched
person's own population and look more alike (on East Asian faces the table says up to 2-8x too few
at rates of 1e-3-1e-4, and 2x too many across two populations). from_archive estimates the rates
from the archive's own, unlabelled faces: counted where the archive has enough pairs, read off the
LFW table through a fitted score map beyond that (see from_archive and docs/calibration.md, "The
archive's own strangers"); for_archive falls back to the table for archives under MIN_ARCHIVE_FACES.

Queries fused from several photos use the same rates; that is an approximation (the fused vector
is still a unit vector in the same space, but its stranger distribution was measured for single
photos).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from .fingerprint import Fingerprint

#: Bands by expected strangers in the gallery (see the module docstring for why these cut points).
STRONG_BELOW = 0.01
WEAK_FROM = 1.0
BANDS = ("strong", "possible", "weak")
#: Scores are tabulated at this step from -1 to 1; rates between grid points are log-interpolated.
GRID_STEP = 0.0025
#: Impostor scores are counted in bins this fine before tabulation (dlib's strangers span only ~0.85-0.97).
_BIN = 0.0005
_NBINS = 4000
#: The score at the bottom of each bin (bins() puts a score in the bin whose bottom it reaches).
BIN_SCORES = np.arange(_NBINS + 1) * _BIN - 1.0
#: A calibration-check level counts as meaningful when the held-out half has at least this many
#: impostor pairs above it (Poisson relative error 10%, so +-25% is a 2.5-sigma band).
CHECK_MIN_COUNT = 100
CHECK_TOLERANCE = 0.25
CHECK_RATES = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
CALIBRATION_SCHEMA = 1


def band(expected_strangers: float) -> str:
    """strong / possible / weak from the expected number of strangers at least this similar."""
    if expected_strangers < STRONG_BELOW:
        return "strong"
    if expected_strangers < WEAK_FROM:
        return "possible"
    return "weak"


@dataclass(frozen=True)
class Strangers:
    """What a score means in an archive: how often a stranger reaches it, how many are expected, the band."""

    fpr: float  # rate at which an unrelated face scores at least the score
    expected: float  # fpr x faces in the archive searched
    band: str  # strong / possible / weak, from `expected`
    bound: bool  # the score is above every stranger measured: the rate is an upper bound


def strangers(cal: Calibration | ArchiveCalibration | None, score: float, gallery_size: int) -> Strangers | None:
    """The stranger count and band of a score in an archive of `gallery_size` faces (None when uncalibrated).
    The one place they are made: search candidates, the link's --min-band and its pairs all come here."""
    if cal is None:
        return None
    fpr = cal.fpr_at(score)
    expected = fpr * gallery_size
    return Strangers(fpr, expected, band(expected), at_floor(fpr, cal.floor))


#: band_ranks: an expected count this close (relative) to a band's cut point is made again by strangers(), one by
#: one (numpy's log and exp may differ from math's in the last bits; nothing else in the two differs).
_CUT_CLOSE = 1e-9


def band_ranks(
    cal: Calibration | ArchiveCalibration | None, scores: np.ndarray, gallery_size: int
) -> np.ndarray | None:
    """The band of each score as its position in BANDS (0: strong), as strangers() gives it one score at a
    time, for many scores at once (the cross-check bands every pair of a million faces: a call per pair
    cost more than the rest of its bookkeeping). None when uncalibrated. Exact: the rates are read as
    interpolate_rate reads them, and a score whose expected count falls within a hair of a cut point is
    banded by strangers() itself."""
    if cal is None:
        return None
    s = np.asarray(scores, dtype=np.float64).ravel()
    expected = interpolate_rates(*cal.rate_curve(), s) * gallery_size
    ranks = np.where(expected < STRONG_BELOW, 0, np.where(expected < WEAK_FROM, 1, 2))
    cut = np.zeros(len(s), dtype=bool)
    for at in (STRONG_BELOW, WEAK_FROM):
        cut |= np.abs(expected - at) <= _CUT_CLOSE * at
    for i in np.flatnonzero(cut).tolist():
        ranks[i] = BANDS.index(strangers(cal, float(s[i]), gallery_size).band)  # type: ignore[union-attr]
    return ranks


def at_floor(rate: float, floor: float) -> bool:
    """Is a rate the smallest the measurements can show (the score is above every stranger measured)?"""
    return rate <= floor * 1.000001


# -- score bins ---------------------------------------------------------------------------------
def bins(scores: np.ndarray) -> np.ndarray:
    """The bin of each score on [-1, 1] (NBINS + 1 bins of _BIN): the one way scores are binned. In float64
    and with a hair of slack: a score exactly on a bin edge (e.g. 0.0) must not fall one bin low."""
    return np.clip(np.floor((np.asarray(scores, dtype=np.float64) + 1.0) / _BIN + 1e-6).astype(np.int64), 0, _NBINS)


def histogram(scores: np.ndarray) -> np.ndarray:
    """How many scores fall in each bin (bins())."""
    return np.bincount(bins(scores), minlength=_NBINS + 1)


def grid_bin(score: float | np.ndarray) -> np.ndarray:
    """The bin a score of the tabulation grid (a multiple of the bin width) starts: pairs scoring at least it are
    at_least[grid_bin(score)] for at_least = the cumulative histogram from the top."""
    return np.clip(np.round((np.asarray(score, dtype=np.float64) + 1.0) / _BIN).astype(np.int64), 0, _NBINS)


@dataclass(frozen=True)
class Calibration:
    """Score -> rate at which an unrelated face scores at least that high, for one engine fingerprint."""

    engine: str
    scores: np.ndarray  # ascending grid
    counts: np.ndarray  # impostor pairs with score >= grid point
    impostor_pairs: int
    source: str
    scoring: dict = field(default_factory=dict)  # neighbours.Scoring.to_json() of the scores; {} = plain cosine

    @property
    def fpr(self) -> np.ndarray:
        return self.counts / self.impostor_pairs

    @property
    def floor(self) -> float:
        """The smallest rate these pairs can show: above every measured impostor we say "at most" this."""
        return 1.0 / self.impostor_pairs

    @property
    def kind(self) -> str:
        """Which estimate this is, for the JSON and the app: a table measured on labelled photos."""
        return "reference table"

    def fpr_at(self, score: float) -> float:
        """Rate at which an unrelated face scores >= score (log-linear between grid points, >= floor)."""
        return interpolate_rate(*self.rate_curve(), score)

    def rate_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(score grid, rate at each) that fpr_at reads: the measured rates, none under the floor."""
        return self.scores, np.maximum(self.fpr, self.floor)

    def is_bound(self, score: float) -> bool:
        """True when the score is above every measured stranger: the rate is then an upper bound."""
        return at_floor(self.fpr_at(score), self.floor)

    def expected_strangers(self, score: float, gallery_size: int) -> float:
        return self.fpr_at(score) * gallery_size

    def to_json(self) -> dict:
        keep = self.counts > 0  # leading grid points all have rate 1, trailing ones 0: keep what says something
        first = max(0, int(np.argmax(self.counts < self.impostor_pairs)) - 1)
        last = int(np.nonzero(keep)[0][-1]) + 1 if keep.any() else 0
        sl = slice(first, min(len(self.scores), last + 1))
        return {
            "schema": CALIBRATION_SCHEMA,
            "engine": self.engine,
            "what": "fpr[i] = share of pairs of different people whose similarity is >= score[i]",
            "source": self.source,
            "scoring": self.scoring,
            "impostor_pairs": self.impostor_pairs,
            "score": [round(float(s), 4) for s in self.scores[sl]],
            "count": [int(c) for c in self.counts[sl]],
            "fpr": [float(f"{c / self.impostor_pairs:.4g}") for c in self.counts[sl]],
        }

    @classmethod
    def from_json(cls, data: dict) -> Calibration:
        if data.get("schema") != CALIBRATION_SCHEMA:
            raise ValueError(f"unsupported calibration schema {data.get('schema')!r}")
        return cls(
            engine=str(data["engine"]),
            scores=np.asarray(data["score"], dtype=np.float64),
            counts=np.asarray(data["count"], dtype=np.float64),
            impostor_pairs=int(data["impostor_pairs"]),
            source=str(data["source"]),
            scoring=dict(data.get("scoring") or {}),
        )

    def save(self, path: Path, extra: dict | None = None) -> Path:
        """Write the table (plus e.g. the held-out check, so whoever reads the file sees how far to trust it)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**self.to_json(), **(extra or {})}, indent=0) + "\n")
        return path


def interpolate_rate(scores: np.ndarray, rates: np.ndarray, score: float) -> float:
    """A falling rate curve on an ascending score grid, read at any score (log-linear between grid points)."""
    s = float(score)
    if s <= scores[0]:
        return float(rates[0])
    if s >= scores[-1]:
        return float(rates[-1])
    i = int(np.searchsorted(scores, s, side="right")) - 1
    frac = (s - scores[i]) / (scores[i + 1] - scores[i])
    if rates[i] == rates[i + 1]:
        return float(rates[i])
    lo, hi = math.log(rates[i]), math.log(rates[i + 1])
    return float(min(rates[i], max(rates[i + 1], math.exp(lo + frac * (hi - lo)))))  # no float-noise bumps


def interpolate_rates(scores: np.ndarray, rates: np.ndarray, at: np.ndarray) -> np.ndarray:
    """interpolate_rate at many scores at once, step for step (but numpy's log and exp for math's)."""
    out = np.empty(len(at), dtype=np.float64)
    low, high = at <= scores[0], at >= scores[-1]
    out[low], out[high & ~low] = rates[0], rates[-1]
    mid = np.flatnonzero(~low & ~high)
    s = at[mid]
    i = np.searchsorted(scores, s, side="right") - 1
    r0, r1 = rates[i], rates[i + 1]
    frac = (s - scores[i]) / (scores[i + 1] - scores[i])
    flat = r0 == r1
    with np.errstate(divide="ignore", invalid="ignore"):
        lo, hi = np.log(r0), np.log(r1)
        v = np.minimum(r0, np.maximum(r1, np.exp(lo + frac * (hi - lo))))
    out[mid] = np.where(flat, r0, v)
    return out


# -- loading the shipped tables -----------------------------------------------------------------
def data_dir() -> Path:
    return Path(str(resources.files("facematch").joinpath("calibration_data")))


def data_file(engine_name: str) -> Path:
    slug = "".join(c if c.isalnum() or c in "._-" else "-" for c in engine_name)
    return data_dir() / f"{slug}.json"


@lru_cache(maxsize=16)
def for_engine(fingerprint: str) -> Calibration | None:
    """The shipped calibration for exactly these weights, or None (then scores stay uncalibrated)."""
    path = data_file(Fingerprint(fingerprint).name)
    try:
        cal = Calibration.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError):
        return None
    return cal if cal.engine == fingerprint else None


# -- building -----------------------------------------------------------------------------------
def impostor_histogram(vectors: np.ndarray, labels: np.ndarray, block: int = 1024) -> tuple[np.ndarray, int]:
    """Counts of all cross-person pair scores in bins of 0.0005 on [-1, 1], and the number of pairs.

    Every unordered pair of photos of different people counts once: with thousands of people that is
    millions of pairs, enough to measure rates down to about 1e-7.
    """
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    labels = np.asarray(labels)
    hist = np.zeros(_NBINS + 1, dtype=np.int64)
    n = len(v)
    total = 0
    for start in range(0, n, block):
        stop = min(n, start + block)
        s = v[start:stop] @ v[start:].T  # rows start..stop against columns start..n
        rows = np.arange(start, stop)[:, None]
        cols = np.arange(start, n)[None, :]
        keep = (cols > rows) & (labels[start:stop][:, None] != labels[start:][None, :])
        hist += histogram(s[keep])
        total += int(keep.sum())
    return hist, total


def from_histogram(hist: np.ndarray, total: int, engine: str, source: str) -> Calibration:
    if total < 1:
        raise ValueError("no pairs of different people to calibrate with (need photos of two or more people)")
    at_least = np.cumsum(hist[::-1])[::-1]  # at_least[b] = pairs in bins >= b
    scores = np.round(np.arange(-1.0, 1.0 + GRID_STEP / 2, GRID_STEP), 4)
    return Calibration(engine, scores, at_least[grid_bin(scores)].astype(np.float64), int(total), source)


def build(
    vectors: np.ndarray,
    labels: Sequence[str],
    engine: str,
    source: str,
    adjust: ScoreAdjustment | None = None,
    scoring: dict | None = None,
) -> Calibration:
    """The table from all pairs of different people; with `adjust`, on the adjusted (e.g. hubness-corrected)
    scores, over ordered pairs (query, gallery face), since the adjustment is not symmetric. `scoring`
    names the scores the table describes (neighbours.Scoring.to_json()), so a search uses it only for those."""
    if adjust is None:
        hist, total = impostor_histogram(vectors, np.asarray(labels))
    else:
        hist, total = adjusted_impostor_histogram(vectors, np.asarray(labels), adjust)
    return replace(from_histogram(hist, total, engine, source), scoring=dict(scoring or {}))


def adjusted_impostor_histogram(
    vectors: np.ndarray, labels: np.ndarray, adjust: ScoreAdjustment, block: int = 1024
) -> tuple[np.ndarray, int]:
    """Like impostor_histogram, for adjusted scores: every ordered pair of photos of different people."""
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    hist = np.zeros(_NBINS + 1, dtype=np.int64)
    total = 0
    for start in range(0, len(v), block):
        rows = np.arange(start, min(len(v), start + block))
        s = adjust.apply(v[rows] @ v.T, rows).astype(np.float64)
        keep = labels[rows][:, None] != labels[None, :]
        hist += histogram(s[keep])
        total += int(keep.sum())
    return hist, total


def half_of(person: str) -> int:
    """A stable split of people into two halves (by a hash of the name, not by order or chance)."""
    return hashlib.sha256(person.encode()).digest()[0] & 1


def check(vectors: np.ndarray, labels: Sequence[str], engine: str, offsets: np.ndarray | None = None) -> dict:
    """Calibrate on one half of the people, count on the other: is predicted = counted within +-25%?

    Levels are the scores at which the calibration half's rate first drops to 1e-1, 1e-2, ... ; a
    level is judged only where the held-out half has at least CHECK_MIN_COUNT impostor pairs above it.
    With `offsets` (per photo, taken off its scores as a gallery face: a hubness correction), both
    halves are measured on the corrected scores.
    """
    labels = np.asarray(labels)
    halves = np.array([half_of(str(p)) for p in labels])
    a, b = halves == 0, halves == 1
    adjust_a = None if offsets is None else ScoreAdjustment(gallery=np.asarray(offsets)[a])
    cal = build(vectors[a], labels[a], engine, "check: calibration half", adjust_a)
    if offsets is None:
        hist_b, total_b = impostor_histogram(vectors[b], labels[b])
    else:
        hist_b, total_b = adjusted_impostor_histogram(
            vectors[b], labels[b], ScoreAdjustment(gallery=np.asarray(offsets)[b])
        )
    at_least_b = np.cumsum(hist_b[::-1])[::-1]
    rows = []
    for rate in CHECK_RATES:
        idx = np.nonzero(cal.fpr <= rate)[0]
        if not len(idx):
            continue
        score = float(cal.scores[idx[0]])
        predicted = cal.fpr_at(score) * total_b
        counted = int(at_least_b[grid_bin(score)])
        meaningful = counted >= CHECK_MIN_COUNT
        err = (predicted - counted) / counted if counted else None
        rows.append(
            {
                "rate": rate,
                "score": round(score, 4),
                "predicted": round(predicted, 1),
                "counted": counted,
                "relative_error": round(err, 4) if err is not None else None,
                "meaningful": meaningful,
                "within_tolerance": bool(meaningful and err is not None and abs(err) <= CHECK_TOLERANCE),
            }
        )
    judged = [r for r in rows if r["meaningful"]]
    return {
        "method": "people split in two halves by a hash of the name; calibrated on half A, "
        "impostor pairs counted on half B; predicted = FPR_A(score) x pairs_B",
        "people": [int(len(set(labels[a]))), int(len(set(labels[b])))],
        "impostor_pairs": [cal.impostor_pairs, total_b],
        "tolerance": CHECK_TOLERANCE,
        "min_count": CHECK_MIN_COUNT,
        "levels": rows,
        "passed": bool(judged) and all(r["within_tolerance"] for r in judged),
    }


# -- from the archive itself ---------------------------------------------------------------------
@dataclass(frozen=True)
class ScoreAdjustment:
    """How the scores shown differ from raw cosine similarity: s'(q, g) = s(q, g) - query[q] - gallery[g].

    A hubness correction (CSLS-style) lowers the score of an archive face g that is close to
    everyone by beta x r_g; the stranger rate must be measured on the scores actually shown, so the
    archive estimate applies the same offsets. Offsets are per archive face (the query side is an
    archive face too when the archive is searched against itself); None means no offset on that side.
    """

    gallery: np.ndarray | None = None
    query: np.ndarray | None = None

    def apply(self, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Adjust a block of scores (rows = query faces `rows`, columns = every archive face), in place."""
        if self.gallery is not None:
            scores -= np.asarray(self.gallery, dtype=scores.dtype)[None, :]
        if self.query is not None:
            scores -= np.asarray(self.query, dtype=scores.dtype)[rows][:, None]
        return scores


@dataclass(frozen=True)
class ArchivePairs:
    """Scores of pairs of different archive faces (query face x archive face), binned like impostor_histogram.

    `hist` counts every pair except the same photo and the same photo saved twice; each query
    face's TOP_KEPT highest scores are kept aside in `top`, so the rule "leave out each face's
    nearest few above a floor" can be applied afterwards with any number and floor (kept()).
    """

    hist: np.ndarray
    pairs: int  # ordered pairs in hist (query face, archive face)
    faces: int  # faces in the archive
    rows: int  # archive faces used as queries (all of them, or a random sample in a large archive)
    left_out: dict  # pairs left out of hist, by reason
    top: np.ndarray  # (rows, TOP_KEPT): each query face's highest scores, descending (-inf when fewer)

    def at_least(self) -> np.ndarray:
        return np.cumsum(self.hist[::-1])[::-1]

    def kept(self, neighbours: int, floor: float) -> tuple[np.ndarray, int]:
        """(at_least, pairs) without each query face's `neighbours` nearest faces scoring >= floor."""
        near = self.top[:, :neighbours]
        # -inf marks "no pair" (a face with fewer than `neighbours` scores kept, or a dropped one): not a pair
        # to leave out. Counted as one, it was cast to an integer bin (a NumPy warning) and taken off the total.
        near = near[np.isfinite(near) & (near >= floor)].astype(np.float64)
        hist = self.hist - histogram(near)
        return np.cumsum(hist[::-1])[::-1], self.pairs - len(near)


#: Highest scores kept per query face, for leaving out its nearest neighbours (at most this many).
TOP_KEPT = 8
#: Query faces scored against the whole archive; more cost time, fewer make the rates noisier.
MAX_ROWS = 4000


def _photo_codes(photo_keys: Sequence) -> np.ndarray:
    """Photo keys (e.g. sha256) -> small integers, so 'same photo' is one integer comparison."""
    codes: dict = {}
    return np.array([codes.setdefault(k, len(codes)) for k in photo_keys], dtype=np.int64)


#: Archives larger than this bin only their pairs' upper tail (rates below LOW_RATE) one by one: the rest
#: is only counted, which saves most of the time of a large archive and loses nothing the estimate reads.
BIN_ALL_BELOW = 20_000
LOW_RATE = 0.15  # above FIT_TOP (0.1), the highest rate the estimate reads, with room for the first block's error


def _block_pairs(s: np.ndarray, dropped: int, k_top: int, low: float, top_from: float) -> tuple[np.ndarray, np.ndarray]:
    """(bin counts, top k_top scores per row) of one block of scores; left-out pairs are -inf.

    Scores below `low` go into bin 0 without being binned one by one; each row's top scores are
    looked for only above `top_from` (a row with fewer there gets -inf for the rest).
    """
    rows = len(s)
    if np.isfinite(top_from):
        r, c = np.nonzero(s >= top_from)
        vals = s[r, c]
        order = np.lexsort((-vals, r))
        r, vals = r[order], vals[order]
        first = np.searchsorted(r, np.arange(rows))
        rank = np.arange(len(r)) - first[r]
        top = np.full((rows, k_top), -np.inf, dtype=np.float32)
        keep = rank < k_top
        top[r[keep], rank[keep]] = vals[keep]
    else:
        n = s.shape[1]
        top = -np.sort(-np.partition(s, n - k_top, axis=1)[:, n - k_top :], axis=1)
    upper = s[s >= low] if np.isfinite(low) else s[np.isfinite(s)]
    counts = histogram(upper)
    counts[0] += s.size - dropped - len(upper)
    return counts, top


def archive_pairs(
    vectors: np.ndarray,
    photo_keys: Sequence,
    adjust: ScoreAdjustment | None = None,
    duplicate_above: float = 0.95,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
) -> ArchivePairs:
    """Score archive faces against the whole archive, as a search would, and bin the pairs.

    Each archive face in turn (or, in a larger archive, max_rows faces drawn at random: the rates
    are averages over query faces, and 4,000 of them x a million faces count rates down to 1e-8)
    is scored against every archive face. Left out: the same photo (the face itself and the other
    faces in it) and the same photo saved twice (raw similarity >= duplicate_above): neither is a
    stranger. Scores are the shown scores (`adjust`); duplicates are judged on raw ones.
    Cost: rows x faces dot products and one pass over them, in blocks of ~128 MB (about a minute
    for a million faces on two cores).
    """
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(v)
    codes = _photo_codes(photo_keys)
    if len(codes) != n:
        raise ValueError(f"{n} embeddings but {len(codes)} photo keys")
    if n < 3:
        raise ValueError("an archive needs at least 3 faces to count pairs of strangers")
    rng = np.random.default_rng(seed)
    rows_all = np.arange(n) if n <= max_rows else np.sort(rng.choice(n, max_rows, replace=False))
    block = max(1, min(1024, (1 << 25) // n))
    counts = np.zeros(_NBINS + 1, dtype=np.int64)
    same_photo = duplicates = 0
    k_top = min(TOP_KEPT, n - 1)
    tops = []
    low = top_from = -np.inf  # set after the first block (see _block_pairs)
    by_code = np.argsort(codes, kind="stable")
    sorted_codes = codes[by_code]
    for start in range(0, len(rows_all), block):
        rows = rows_all[start : start + block]
        s = v[rows] @ v.T
        # Left out, found sparsely (a full rows x faces mask took a third of the time at a million faces):
        # the faces of the row's own photo (itself included), and raw duplicates of another photo.
        same_r, same_c = _same_photo(rows, codes, by_code, sorted_codes)
        same_photo += len(same_r) - len(rows)  # not counting each face against itself
        dup_r, dup_c = np.nonzero(s >= duplicate_above)
        other = codes[rows[dup_r]] != codes[dup_c]
        dup_r, dup_c = dup_r[other], dup_c[other]
        duplicates += len(dup_r)
        if adjust is not None:
            adjust.apply(s, rows)
        s[same_r, same_c] = -np.inf
        s[dup_r, dup_c] = -np.inf
        c, top = _block_pairs(s, len(same_r) + len(dup_r), k_top, low, top_from)
        counts += c
        tops.append(top)
        if start == 0 and n > BIN_ALL_BELOW:
            low = score_at_rate(BIN_SCORES, np.cumsum(c[::-1])[::-1] / c.sum(), LOW_RATE) or -np.inf
            top_from = float(np.quantile(top[:, -1], 0.01))
    return ArchivePairs(
        counts,
        int(counts.sum()),
        n,
        len(rows_all),
        {"same_photo": same_photo, "duplicates": duplicates},
        np.concatenate(tops),
    )


def _same_photo(
    rows: np.ndarray, codes: np.ndarray, by_code: np.ndarray, sorted_codes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row positions, face positions) of every face sharing a photo code with each of `rows` (itself too):
    `by_code` sorts the codes into `sorted_codes`."""
    lo = np.searchsorted(sorted_codes, codes[rows], "left")
    hi = np.searchsorted(sorted_codes, codes[rows], "right")
    size = hi - lo
    r = np.repeat(np.arange(len(rows)), size)
    at = np.arange(int(size.sum())) - np.repeat(np.cumsum(size) - size, size) + np.repeat(lo, size)
    return r, by_code[at]


def score_at_rate(scores: np.ndarray, rates: np.ndarray, rate: float) -> float | None:
    """The score at which a falling rate curve crosses `rate` (log-linear between grid points), or None."""
    rates = np.asarray(rates, dtype=np.float64)
    below = np.nonzero(rates <= rate)[0]
    if not len(below) or below[0] == 0 or rates[below[0] - 1] <= 0:
        return None
    i = below[0]
    hi, lo = rates[i - 1], rates[i]
    if lo <= 0:
        return float(scores[i])
    frac = (math.log(hi) - math.log(rate)) / (math.log(hi) - math.log(lo)) if hi > lo else 1.0
    return float(scores[i - 1] + frac * (scores[i] - scores[i - 1]))


class ArchiveTooSmall(ValueError):
    """The archive has too few faces (or pairs) to count its own strangers; use the reference table."""


@dataclass(frozen=True)
class ArchiveCalibration:
    """Stranger rates estimated from an archive's own, unlabelled faces (see from_archive).

    Answers like Calibration (fpr_at, is_bound, expected_strangers), so a Searcher can hold either.
    """

    engine: str
    scores: np.ndarray  # ascending grid, as in Calibration
    rates: np.ndarray  # estimated rate at which a stranger from this archive scores >= scores[i]
    floor: float  # the smallest rate the estimate can show: above that it is an upper bound
    impostor_pairs: int  # pairs of different archive faces counted (after leaving out possible same-person)
    faces: int
    source: str
    method: dict  # how it was made: the map onto the reference, the counted range, the fit's residuals

    @property
    def kind(self) -> str:
        return "archive estimate"

    def fpr_at(self, score: float) -> float:
        return interpolate_rate(*self.rate_curve(), score)

    def rate_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(score grid, rate at each) that fpr_at reads."""
        return self.scores, self.rates

    def is_bound(self, score: float) -> bool:
        return at_floor(self.fpr_at(score), self.floor)

    def expected_strangers(self, score: float, gallery_size: int) -> float:
        return self.fpr_at(score) * gallery_size

    @property
    def scoring(self) -> dict:
        """The scores this estimate describes (those of the reference it was mapped onto)."""
        return dict(self.method.get("scoring") or {})

    def needs_update(self, faces_now: int) -> bool:
        """True when the archive has grown or shrunk by more than ARCHIVE_STALE since this estimate."""
        return abs(faces_now - self.faces) > ARCHIVE_STALE * self.faces

    def to_json(self) -> dict:
        keep = (self.rates < 1.0) & (self.rates > self.floor)
        idx = np.nonzero(keep)[0]
        sl = slice(max(0, idx[0] - 1), min(len(self.scores), idx[-1] + 2)) if len(idx) else slice(0, 0)
        return {
            "schema": CALIBRATION_SCHEMA,
            "kind": self.kind,
            "engine": self.engine,
            "what": "fpr[i] = estimated share of pairs of different people in this archive with similarity >= score[i]",
            "source": self.source,
            "impostor_pairs": self.impostor_pairs,
            "faces": self.faces,
            "floor": self.floor,
            "method": self.method,
            "score": [round(float(s), 4) for s in self.scores[sl]],
            "fpr": [float(f"{r:.4g}") for r in self.rates[sl]],
        }

    def save(self, path: Path) -> Path:
        """Write the estimate (atomically: a search reading it never sees half a file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=0) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path, fingerprint: str) -> ArchiveCalibration | None:
        """A saved estimate for exactly these weights, or None (missing, unreadable, other weights)."""
        try:
            est = cls.from_json(json.loads(Path(path).read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return est if est.engine == fingerprint else None

    @classmethod
    def from_json(cls, data: dict) -> ArchiveCalibration:
        if data.get("schema") != CALIBRATION_SCHEMA or data.get("kind") != "archive estimate":
            raise ValueError("not an archive estimate of a supported schema")
        scores = np.asarray(data["score"], dtype=np.float64)
        rates = np.asarray(data["fpr"], dtype=np.float64)
        # Outside the stored range the curve is flat: 1 below it, the floor above it.
        scores = np.concatenate([[-1.0 - GRID_STEP], scores, [scores[-1] + GRID_STEP]]) if len(scores) else scores
        rates = np.concatenate([[1.0], rates, [float(data["floor"])]]) if len(rates) else rates
        return cls(
            engine=str(data["engine"]),
            scores=scores,
            rates=rates,
            floor=float(data["floor"]),
            impostor_pairs=int(data["impostor_pairs"]),
            faces=int(data["faces"]),
            source=str(data["source"]),
            method=dict(data["method"]),
        )


#: An archive estimate is redone when the archive's size has changed by more than this share.
ARCHIVE_STALE = 0.1
#: The counted range starts at this rate: rarer than 1 in 10, the strangers' tail, not their bulk.
FIT_TOP = 1e-1
#: ... and ends where at least this many pairs are counted (Poisson error 10%) ...
FIT_MIN_COUNT = 100
#: ... and where each face has on average at least this many strangers per left-out neighbour, so
#: leaving out each face's nearest few removes at most a small share of the strangers counted.
FIT_MARGIN = 3.0
#: Fewer faces than this: no estimate from the archive (measured by subsampling, see bench/strangers.py).
MIN_ARCHIVE_FACES = 500
#: Each face's nearest few left out as possibly the same person (bench/strangers.py compared 1-5).
NEIGHBOURS = 3
#: ... but only those above the score the archive's strangers reach at this share of the rarest rate
#: counted, so that at most this share of the strangers counted there can be left out (strangers_curve).
FLOOR_SHARE = 0.03
DUPLICATE_ABOVE = 0.95


def _reference_score(reference: Calibration, rate: float) -> float | None:
    return score_at_rate(reference.scores, np.maximum(reference.fpr, reference.floor), rate)


def fit_score_map(
    curve: np.ndarray, reference: Calibration, r_lo: float, r_hi: float = FIT_TOP, per_decade: int = 10
) -> tuple[float, float, float]:
    """(a, b, rms): the affine map s_ref = a x s_archive + b that lines up two rate curves on [r_lo, r_hi].

    `curve` is the archive's rate on the bin grid. At every rate in the range (log-spaced) the
    archive's score and the reference's score at that rate form one point; a straight line through
    them says how the archive's strangers' scores are stretched and shifted against the reference's.
    rms is the line's residual in score units.
    """
    n = max(2, int(round(math.log10(r_hi / r_lo) * per_decade)) + 1)
    x, y = [], []
    for r in np.logspace(math.log10(r_hi), math.log10(r_lo), n):
        xs, ys = score_at_rate(BIN_SCORES, curve, float(r)), _reference_score(reference, float(r))
        if xs is not None and ys is not None:
            x.append(xs)
            y.append(ys)
    if len(x) < 2:
        raise ArchiveTooSmall("too few rates counted in both the archive and the reference to line them up")
    a, b = np.polyfit(np.asarray(x), np.asarray(y), 1)
    rms = float(np.sqrt(np.mean((a * np.asarray(x) + b - np.asarray(y)) ** 2)))
    return float(a), float(b), rms


def counted_range(pairs: int, faces: int, neighbours: int, margin: float = FIT_MARGIN) -> float:
    """The rarest rate an archive's own pairs measure well (see FIT_MIN_COUNT and FIT_MARGIN)."""
    return max(FIT_MIN_COUNT / max(pairs, 1), margin * max(neighbours, 1) / max(faces, 1))


def strangers_curve(pairs: ArchivePairs, reference: Calibration, r_lo: float, fit_top: float = FIT_TOP):
    """(rate curve, pairs, floor): the archive's pairs without each face's nearest few that may be the same person.

    Leaving out each face's NEIGHBOURS nearest faces removes a second or third photo of the same
    person, and also some strangers: at a rate r, at most NEIGHBOURS / (r x faces) of the strangers
    counted (the reason for FIT_MARGIN). Only neighbours above a floor are left out, so that at the
    rates used (>= r_lo) far fewer strangers are lost: the floor is the score the archive's strangers
    reach at FLOOR_SHARE x r_lo, read off a first map fitted with every face's nearest few left out,
    so at most FLOOR_SHARE of the strangers counted at r_lo can be left out. The floor is in the shown
    scores' own units (raw or hubness-corrected) and follows the archive's population. Second photos
    of a person scoring below the floor, and a fifth photo of anyone, stay in: the estimate errs
    towards more strangers, the cautious side for a family.
    """
    at_least, n = pairs.kept(NEIGHBOURS, -np.inf)
    a, b, _ = fit_score_map(at_least / n, reference, r_lo, fit_top)
    if a <= 0:
        raise ArchiveTooSmall("the archive's rate curve does not line up with the reference's")
    floor = (_reference_score(reference, max(FLOOR_SHARE * r_lo, 10 * reference.floor)) - b) / a
    at_least, n = pairs.kept(NEIGHBOURS, floor)
    return at_least / n, n, float(floor)


def estimate(pairs: ArchivePairs, reference: Calibration, fit_top: float = FIT_TOP) -> ArchiveCalibration:
    """The archive estimate from its scored pairs (see from_archive); ArchiveTooSmall when it cannot be made."""
    r_lo = counted_range(pairs.pairs, pairs.faces, NEIGHBOURS)
    if r_lo >= fit_top / 3:
        raise ArchiveTooSmall(
            f"{pairs.faces:,} faces are too few to count strangers' rates much below {fit_top:g} "
            f"(they count down to {r_lo:.2g}; at least {MIN_ARCHIVE_FACES:,} faces are needed)"
        )
    curve, n_pairs, floor = strangers_curve(pairs, reference, r_lo, fit_top)
    a, b, rms = fit_score_map(curve, reference, r_lo, fit_top)
    if a <= 0:
        raise ArchiveTooSmall("the archive's rate curve does not line up with the reference's")
    grid = np.round(np.arange(-1.0, 1.0 + GRID_STEP / 2, GRID_STEP), 4)
    rates = np.array([reference.fpr_at(a * s + b) for s in grid])
    method = {
        "map": {"a": round(a, 5), "b": round(b, 5), "rms": round(rms, 5)},
        "counted_rates": [fit_top, float(f"{r_lo:.3g}")],
        "neighbours_left_out": NEIGHBOURS,
        "neighbour_floor": round(floor, 4),
        "rows": pairs.rows,
        "left_out": pairs.left_out,
        "reference": {"engine": reference.engine, "impostor_pairs": reference.impostor_pairs},
        "scoring": reference.scoring,  # the archive's scores are mapped onto the reference's: the same kind
    }
    source = (
        f"estimated from this archive's own faces: {n_pairs:,} pairs of different faces among {pairs.faces:,} "
        f"({pairs.rows:,} searched against all), counted down to a rate of {r_lo:.1e}; rarer rates read off "
        f"the reference table ({reference.impostor_pairs:,} labelled pairs) through a map fitted on the counted range"
    )
    return ArchiveCalibration(reference.engine, grid, rates, reference.floor, n_pairs, pairs.faces, source, method)


def from_archive(
    vectors: np.ndarray,
    photo_keys: Sequence,
    reference: Calibration,
    adjust: ScoreAdjustment | None = None,
    *,
    duplicate_above: float = DUPLICATE_ABOVE,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
    min_faces: int = MIN_ARCHIVE_FACES,
) -> ArchiveCalibration:
    """Estimate how often strangers *from this archive's population* reach each score, from its own faces.

    Sketch (docs/calibration.md has the measurements):
    1. Count pairs of different archive faces (archive_pairs) without the pairs that are not
       strangers: the same photo, the same photo twice, and each face's nearest few neighbours
       scoring above a floor (possibly the same person photographed again; strangers_curve).
    2. Those counts are trustworthy only from FIT_TOP down to counted_range(): below it there are
       too few pairs, or leaving out neighbours has removed a noticeable share of the strangers.
    3. Rarer rates cannot be counted. Line the archive's rate curve up with the reference table's
       (an affine map of scores fitted on the counted range) and read rarer rates off the reference
       through that map: the tail keeps the reference's measured shape but follows this archive's
       scores.
    Raises ArchiveTooSmall when the archive is too small to count from (then use the reference).
    """
    n = len(vectors)
    if n < min_faces:
        raise ArchiveTooSmall(
            f"{n:,} faces: an archive needs at least {min_faces:,} faces to estimate its own stranger rates"
        )
    pairs = archive_pairs(vectors, photo_keys, adjust, duplicate_above, max_rows, seed)
    return estimate(pairs, reference)


def for_archive(
    vectors: np.ndarray,
    photo_keys: Sequence,
    reference: Calibration | None,
    adjust: ScoreAdjustment | None = None,
    **kwargs,
) -> Calibration | ArchiveCalibration | None:
    """What a search over this archive should use: its own estimate, else the reference table, else None.

    The reference table (calibration_data/<engine>.json) is the fallback for archives too small to
    count from; its source then says so. Without a reference for these weights there is nothing to
    extrapolate with, and the scores stay uncalibrated (None). The reference must describe the same
    kind of scores as those shown: a table measured on plain cosines does not describe hubness-corrected
    scores (`adjust`), nor the reverse (its `scoring` says which it is); otherwise None too.
    """
    if reference is None or bool(reference.scoring) != (adjust is not None):
        return None  # the reference describes other scores than these: nothing to extrapolate with
    try:
        return from_archive(vectors, photo_keys, reference, adjust, **kwargs)
    except ArchiveTooSmall as e:
        return replace(reference, source=f"{reference.source}. Used as is: {e}")
