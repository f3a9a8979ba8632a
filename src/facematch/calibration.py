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
compare" (messages.py). Queries fused from several photos use the same table; that is an
approximation (the fused vector is still a unit vector in the same space, but its stranger
distribution was measured for single photos).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
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
class Calibration:
    """Score -> rate at which an unrelated face scores at least that high, for one engine fingerprint."""

    engine: str
    scores: np.ndarray  # ascending grid
    counts: np.ndarray  # impostor pairs with score >= grid point
    impostor_pairs: int
    source: str

    @property
    def fpr(self) -> np.ndarray:
        return self.counts / self.impostor_pairs

    @property
    def floor(self) -> float:
        """The smallest rate these pairs can show: above every measured impostor we say "at most" this."""
        return 1.0 / self.impostor_pairs

    def fpr_at(self, score: float) -> float:
        """Rate at which an unrelated face scores >= score (log-linear between grid points, >= floor)."""
        rates = np.maximum(self.fpr, self.floor)
        s = float(score)
        if s <= self.scores[0]:
            return float(rates[0])
        if s >= self.scores[-1]:
            return float(rates[-1])
        i = int(np.searchsorted(self.scores, s, side="right")) - 1
        frac = (s - self.scores[i]) / (self.scores[i + 1] - self.scores[i])
        if rates[i] == rates[i + 1]:
            return float(rates[i])
        lo, hi = math.log(rates[i]), math.log(rates[i + 1])
        return float(min(rates[i], max(rates[i + 1], math.exp(lo + frac * (hi - lo)))))  # no float-noise bumps

    def is_bound(self, score: float) -> bool:
        """True when the score is above every measured stranger: the rate is then an upper bound."""
        return self.fpr_at(score) <= self.floor * 1.000001

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
        )

    def save(self, path: Path, extra: dict | None = None) -> Path:
        """Write the table (plus e.g. the held-out check, so whoever reads the file sees how far to trust it)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**self.to_json(), **(extra or {})}, indent=0) + "\n")
        return path


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
        # float64 and a hair of slack: a score exactly on a bin edge (e.g. 0.0) must not fall one bin low
        b = np.clip(np.floor((s[keep].astype(np.float64) + 1.0) / _BIN + 1e-6).astype(np.int64), 0, _NBINS)
        hist += np.bincount(b, minlength=_NBINS + 1)
        total += int(keep.sum())
    return hist, total


def from_histogram(hist: np.ndarray, total: int, engine: str, source: str) -> Calibration:
    if total < 1:
        raise ValueError("no pairs of different people to calibrate with (need photos of two or more people)")
    at_least = np.cumsum(hist[::-1])[::-1]  # at_least[b] = pairs in bins >= b
    scores = np.round(np.arange(-1.0, 1.0 + GRID_STEP / 2, GRID_STEP), 4)
    bins = np.clip(np.round((scores + 1.0) / _BIN).astype(np.int64), 0, _NBINS)
    return Calibration(engine, scores, at_least[bins].astype(np.float64), int(total), source)


def build(vectors: np.ndarray, labels: Sequence[str], engine: str, source: str) -> Calibration:
    hist, total = impostor_histogram(vectors, np.asarray(labels))
    return from_histogram(hist, total, engine, source)


def half_of(person: str) -> int:
    """A stable split of people into two halves (by a hash of the name, not by order or chance)."""
    return hashlib.sha256(person.encode()).digest()[0] & 1


def check(vectors: np.ndarray, labels: Sequence[str], engine: str) -> dict:
    """Calibrate on one half of the people, count on the other: is predicted = counted within +-25%?

    Levels are the scores at which the calibration half's rate first drops to 1e-1, 1e-2, ... ; a
    level is judged only where the held-out half has at least CHECK_MIN_COUNT impostor pairs above it.
    """
    labels = np.asarray(labels)
    halves = np.array([half_of(str(p)) for p in labels])
    a, b = halves == 0, halves == 1
    cal = build(vectors[a], labels[a], engine, "check: calibration half")
    hist_b, total_b = impostor_histogram(vectors[b], labels[b])
    at_least_b = np.cumsum(hist_b[::-1])[::-1]
    rows = []
    for rate in CHECK_RATES:
        idx = np.nonzero(cal.fpr <= rate)[0]
        if not len(idx):
            continue
        score = float(cal.scores[idx[0]])
        predicted = cal.fpr_at(score) * total_b
        counted = int(at_least_b[int(round((score + 1.0) / _BIN))])
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
