"""Recall and precision of name search on a set of name variants with known answers.

The set (tests/data/name_variants.csv) holds invented people, each written several ways. Every
variant is searched for among all the others: the other variants of the same person should be
found (recall), and what is found should be that person (precision). People are split into two
halves by their number (odd: development, used to choose the rules and the threshold; even: held
out), so the reported held-out figures are not tuned to themselves.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .names import NameIndex, normalise


@dataclass(frozen=True)
class Variant:
    person: str
    name: str
    script: str
    how: str


@dataclass(frozen=True)
class Result:
    threshold: float
    queries: int
    expected: int  # same-person pairs that should be found
    found: int  # of those, found
    returned: int  # hits returned in all
    recall: float
    precision: float
    misses: tuple[tuple[str, str, float], ...]  # (query, expected variant, score), worst first
    false_hits: tuple[tuple[str, str, float], ...]  # (query, other person's variant, score), worst first


def load_variants(path: Path) -> list[Variant]:
    with open(path, encoding="utf-8", newline="") as f:
        return [Variant(r["person"], r["name"], r["script"], r["how"]) for r in csv.DictReader(f)]


def half(person: str) -> str:
    """ "dev" for odd person numbers, "held-out" for even ones."""
    digits = "".join(ch for ch in person if ch.isdigit())
    return "dev" if int(digits or 0) % 2 else "held-out"


def score_matrix(variants: list[Variant]) -> np.ndarray:
    """scores[i, j]: variant j (as an archive name) scored against variant i (as the query)."""
    index = NameIndex((j, normalise(v.name)) for j, v in enumerate(variants))
    assert len(index) == len(variants), "every variant must be readable as a name"
    return np.stack([index.scores(normalise(v.name)) for v in variants])


def evaluate(
    variants: list[Variant], thresholds: Iterable[float], subset: str | None = None, scores: np.ndarray | None = None
) -> list[Result]:
    """One Result per threshold; queries from one half ("dev" / "held-out") or all, against all variants."""
    s = score_matrix(variants) if scores is None else scores
    people = np.array([v.person for v in variants])
    queries = [i for i, v in enumerate(variants) if subset is None or half(v.person) == subset]
    out = []
    for t in thresholds:
        expected = found = returned = 0
        misses, false_hits = [], []
        for i in queries:
            same = people == people[i]
            same[i] = False
            hit = s[i] >= t
            hit[i] = False
            expected += int(same.sum())
            found += int((hit & same).sum())
            returned += int(hit.sum())
            misses += [(variants[i].name, variants[j].name, float(s[i, j])) for j in np.flatnonzero(same & ~hit)]
            false_hits += [(variants[i].name, variants[j].name, float(s[i, j])) for j in np.flatnonzero(hit & ~same)]
        out.append(
            Result(
                threshold=float(t),
                queries=len(queries),
                expected=expected,
                found=found,
                returned=returned,
                recall=found / expected if expected else 0.0,
                precision=found / returned if returned else 1.0,
                misses=tuple(sorted(misses, key=lambda m: m[2])),
                false_hits=tuple(sorted(false_hits, key=lambda m: -m[2])),
            )
        )
    return out
