"""Recall and precision of name search on a set of name variants with known answers.

The set (tests/data/name_variants.csv) holds invented people, each written several ways. People are
split into two halves by their number (odd: development, used to choose the rules, the costs and the
threshold; even: held out), so the reported held-out figures are not tuned to themselves. Two
measures:
  - all against all (`evaluate`): every variant is searched for among all the others; the other
    variants of the same person should be found (recall), and what is found should be that person
    (precision);
  - the way families search (`evaluate_archive`): each person's record is their name in Chinese
    characters, in an archive that also holds distractor records (common names of the name table,
    paired at random); every family-side spelling (Latin in any convention, Uyghur Arabic script,
    Cyrillic, pinyin) is searched for, and the right record's rank among the hits is counted, per
    kind of spelling (`kind`).
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facematch.names import THRESHOLD, NameIndex, normalise


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


# -- the way families search: family-side spellings against Chinese-script records ----------------
#: Kinds of family-side spelling, in the order reports list them.
KINDS = (
    "Uyghur Latin (ULY)",
    "Turkish spelling",
    "English spelling",
    "Uyghur Arabic script",
    "Cyrillic",
    "pinyin",
    "-jan / -xan ending",
    "standard transcription",
)


def kind(v: Variant) -> str:
    """The kind of a family-side spelling, from the set's "how" column; "" for a record-side form.

    A spelling with an ending the record lacks counts as an ending case even when its name also has a
    conventional transcription (both rules must work for it to be found); one whose name Chinese writes
    by convention (司马义 for Ismayil) counts as a standard-transcription case whatever its script.
    """
    how = v.how
    if v.script == "han":
        return ""
    if "-jan ending" in how or "-xan ending" in how:
        return "-jan / -xan ending"
    if "standard transcription" in how:
        return "standard transcription"
    for k in KINDS[:6]:
        if how.startswith(k.split(" (")[0]) or (k == "Uyghur Arabic script" and v.script == "arabic"):
            return k
    return "Uyghur Latin (ULY)" if how.startswith("Uyghur Latin") else how


@dataclass(frozen=True)
class KindResult:
    kind: str
    queries: int
    at1: int  # right record ranked first among the hits
    at10: int  # right record within the first 10 hits
    shown: int  # hits at or above the threshold, all queries together
    right_shown: int  # of those, the right record

    @property
    def recall1(self) -> float:
        return self.at1 / self.queries if self.queries else 0.0

    @property
    def recall10(self) -> float:
        return self.at10 / self.queries if self.queries else 0.0

    @property
    def precision(self) -> float:
        return self.right_shown / self.shown if self.shown else 1.0


def archive_records(variants: list[Variant]) -> dict[str, str]:
    """Each person's record: their name in Chinese characters with the name dot."""
    return {v.person: v.name for v in variants if v.how == "Chinese characters"}


def distractors(variants: list[Variant], n: int = 10_000, seed: int = 7) -> list[str]:
    """n Chinese-script names of other people (given name, father's name), as an archive is full of.

    Half are common names of the name table paired at random; the other half are names the table does
    not know, each word spliced from two of its transcriptions (the start of one, the end of another:
    阿力 + 尔逊), so that the table's knowledge of which names differ does not make the archive easy.
    A pair that names one of the set's people (the same two names, or one with -jan added) is left
    out: no name search can tell namesakes apart.
    """
    from facematch.names.readings import table

    rows = table().rows
    rng = random.Random(seed)

    def ident(zh: str) -> str:
        found = table().by_han.get(zh)
        return found[0].uly.removesuffix("jan") if found else zh

    def unknown() -> str:
        while True:
            a, b = rng.choice(rng.choice(rows).chinese), rng.choice(rng.choice(rows).chinese)
            word = a[: rng.randint(1, max(1, len(a) - 1))] + b[rng.randint(1, max(1, len(b) - 1)) :]
            if len(word) >= 2 and word not in table().by_han:
                return word

    taken = {tuple(ident(w) for w in name.split("·")) for name in archive_records(variants).values()}
    out: list[str] = []
    while len(out) < n:
        if len(out) % 2:
            za, zb = unknown(), unknown()
        else:
            za, zb = rng.choice(rng.choice(rows).chinese), rng.choice(rng.choice(rows).chinese)
        if (ident(za), ident(zb)) not in taken:
            out.append(f"{za}·{zb}")
    return out


def evaluate_archive(
    variants: list[Variant],
    subset: str | None = None,
    threshold: float = THRESHOLD,
    readings: bool = True,
    n_distractors: int = 10_000,
    seed: int = 7,
) -> dict[str, KindResult]:
    """Per kind of family-side spelling: how often the right record is the first hit and within the first
    10, and the precision of the hits shown.

    Hits are the records scoring at or above the threshold, best first; a record tied with the right
    one counts as ranked above it (the worst case). Precision is micro-averaged: of all the hits shown
    for the queries of a kind, the share that are the right person's record. With readings=False the
    name table and the endings are not used (how facematch searched before them).
    """
    records = archive_records(variants)
    names = [(pid, rec) for pid, rec in records.items()]
    names += [(f"D{i}", rec) for i, rec in enumerate(distractors(variants, n_distractors, seed))]
    index = NameIndex((i, normalise(rec)) for i, (_, rec) in enumerate(names))
    owners = np.array([pid for pid, _ in names])
    counts: dict[str, list[int]] = {}
    for v in variants:
        k = kind(v)
        if not k or v.person not in records or (subset is not None and half(v.person) != subset):
            continue
        s = index.scores(normalise(v.name), threshold, readings)
        right = np.flatnonzero(owners == v.person)
        shown = s >= threshold
        best_right = float(s[right].max())
        rank = 1 + int(np.sum(shown & (owners != v.person) & (s >= best_right))) if best_right >= threshold else 0
        c = counts.setdefault(k, [0, 0, 0, 0, 0])
        c[0] += 1
        c[1] += int(rank == 1)
        c[2] += int(1 <= rank <= 10)
        c[3] += int(shown.sum())
        c[4] += int(shown[right].sum())
    out = {k: KindResult(k, *counts[k]) for k in KINDS if k in counts}
    total = [sum(c[i] for c in counts.values()) for i in range(5)]
    out["all"] = KindResult("all", *total)
    return out


def kind_table(before: dict[str, KindResult], after: dict[str, KindResult]) -> list[str]:
    """evaluate_archive without and with the name table and endings, side by side per kind: the table the
    bench prints and the README shows, and the test prints beside its assertions."""
    lines = ["kind | queries | before r@1 | r@10 | precision | after r@1 | r@10 | precision"]
    for k, a in after.items():
        b = before[k]
        lines.append(
            f"{k} | {a.queries} | {b.recall1:.3f} | {b.recall10:.3f} | {b.precision:.3f} "
            f"| {a.recall1:.3f} | {a.recall10:.3f} | {a.precision:.3f}"
        )
    return lines
