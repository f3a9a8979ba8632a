"""Name search: recall and precision on the committed variant set, and speed at archive scale.

    python bench/names.py [--sizes 10000,100000,830000] [--queries 20]

1. Recall / precision of name search on tests/data/name_variants.csv (invented people written in
   several scripts and spellings; every variant searched among all the others), per threshold, for
   the development half (odd person numbers, used to choose the rules and the threshold) and the
   held-out half.
1b. The way families search: each family-side spelling against the people's Chinese-script records
   among 10,000 distractor records (half common names of the name table, half names it does not
   know); recall@1, recall@10 and precision per kind of spelling, before (no name table, no endings:
   facematch before issue 15) and after, on each half, and the spread over other distractor draws.
2. Speed: synthetic archives of N names (first and second words of the variant set, paired at random,
   so every script is present), loaded from their stored forms as `facematch records search` does;
   query time against a baseline measured in the same run: a plain Python loop that calls
   rapidfuzz's ratio on each name's key (what one would write without the vectorised index).
3. Import speed of a 20,000-row CSV with names in several scripts into a real index database.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rapidfuzz import fuzz

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the evaluation lives with its data
import name_eval  # noqa: E402

from facematch import names  # noqa: E402
from facematch.index import Index  # noqa: E402
from facematch.records import import_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ROOT / "tests" / "data" / "name_variants.csv"


def quality() -> None:
    v = name_eval.load_variants(VARIANTS)
    scores = name_eval.score_matrix(v)
    thresholds = (70, 75, 80, 85, names.THRESHOLD, 90, 92, 95)
    print(f"Variant set: {len(v)} names of {len({x.person for x in v})} invented people")
    print("threshold | dev recall | dev precision | held-out recall | held-out precision")
    dev = name_eval.evaluate(v, thresholds, "dev", scores)
    held = name_eval.evaluate(v, thresholds, "held-out", scores)
    for d, h in zip(dev, held, strict=True):
        mark = "  <- default" if d.threshold == names.THRESHOLD else ""
        print(f"{d.threshold:>9.0f} | {d.recall:.3f} | {d.precision:.3f} | {h.recall:.3f} | {h.precision:.3f}{mark}")
    best = max(dev, key=lambda r: 5 * r.recall * r.precision / (4 * r.precision + r.recall or 1))
    print(f"dev F2 (recall weighted twice) is highest at threshold {best.threshold:.0f}")
    worst = name_eval.evaluate(v, [names.THRESHOLD], None, scores)[0]
    print("misses at the default (query -> expected, score):")
    for q, e, s in worst.misses[:8]:
        print(f"  {q} -> {e}: {s:.1f}")
    print("other people found at the default:")
    for q, e, s in worst.false_hits[:8]:
        print(f"  {q} -> {e}: {s:.1f}")


def per_kind() -> None:
    v = name_eval.load_variants(VARIANTS)
    for subset in ("held-out", "dev"):
        before = name_eval.evaluate_archive(v, subset, readings=False)
        after = name_eval.evaluate_archive(v, subset)
        print(f"\nFamily spellings against Chinese records + 10,000 distractors, {subset} half, threshold 88")
        print("\n".join(name_eval.kind_table(before, after)))
        for seed in (1, 2):  # other draws of the distractors: how much precision depends on the draw
            b = name_eval.evaluate_archive(v, subset, readings=False, seed=seed)
            a = name_eval.evaluate_archive(v, subset, seed=seed)
            worst = min(a.values(), key=lambda r: (r.precision, r.recall10))
            print(
                f"  distractor draw {seed}: all before r@10 {b['all'].recall10:.3f} "
                f"precision {b['all'].precision:.3f}; "
                f"after r@10 {a['all'].recall10:.3f} precision {a['all'].precision:.3f}; "
                f"lowest kind after: {worst.kind} r@10 {worst.recall10:.3f} precision {worst.precision:.3f}"
            )


def synthetic_rows(n: int, seed: int = 1, pool: int = 40_000) -> list[tuple[str, str, str, str, str]]:
    """(ref, written, script, plain words, keys) of n names, as stored by an import.

    Words come from the variant set (all scripts) plus `pool` spelling mutants of its Latin-script
    words (a letter changed, doubled or dropped), so the archive has tens of thousands of distinct
    words, as a real one would; each name pairs two words of one script, more common words more often.
    """
    rng = random.Random(seed)
    by_script: dict[str, list[names.Token]] = {}
    latin = []
    for v in name_eval.load_variants(VARIANTS):
        for t in names.normalise(v.name).tokens:
            by_script.setdefault(t.script, []).append(t)
            if t.script == "latin":
                latin.append(t.written)
    letters = "abdeghiklmnopqrstuyz"
    seen: set[str] = set()
    for _ in range(pool * 20):
        if len(seen) >= pool:
            break
        w = list(rng.choice(latin).lower())
        for _ in range(rng.choice((1, 2, 3))):
            i = rng.randrange(len(w))
            op = rng.random()
            if op < 0.4:
                w[i] = rng.choice(letters)
            elif op < 0.7:
                w.insert(i, w[i])
            elif len(w) > 3:
                del w[i]
        word = "".join(w).capitalize()
        if word not in seen:
            seen.add(word)
            t = names.normalise(word).tokens
            if t:
                by_script["latin"].append(t[0])
    scripts = sorted(by_script)
    rows = []
    for i in range(n):
        words = by_script[scripts[i % len(scripts)]]
        a, b = (
            rng.choice(words) if rng.random() < 0.7 else words[min(int(rng.paretovariate(1.0)) - 1, len(words) - 1)]
            for _ in range(2)
        )
        rows.append((f"S{i}", f"{a.written} {b.written}", a.script, f"{a.plain} {b.plain}", f"{a.key} {b.key}"))
    return rows


def speed(sizes: list[int], n_queries: int) -> None:
    queries = [v.name for v in name_eval.load_variants(VARIANTS)][::7][:n_queries]
    print(f"\nSpeed ({n_queries} queries, one process):")
    print("names | load s | query median ms | query p95 ms | baseline loop ms | ratio")
    for n in sizes:
        rows = synthetic_rows(n)
        t = time.perf_counter()
        idx = names.NameIndex.from_stored(rows)
        load = time.perf_counter() - t
        t = time.perf_counter()
        idx.search(queries[0])  # the first search also finds which archive words are names of the table
        first = time.perf_counter() - t
        old = []
        for q in queries:  # without the name table and endings (before issue 15)
            t = time.perf_counter()
            idx.search(q, readings=False)
            old.append(time.perf_counter() - t)
        times = []
        for q in queries:
            t = time.perf_counter()
            idx.search(q)
            times.append(time.perf_counter() - t)
        med, p95 = statistics.median(times) * 1e3, sorted(times)[int(0.95 * (len(times) - 1))] * 1e3
        old_med = statistics.median(old) * 1e3
        print(f"   (first search {first:.2f} s; median without the table and endings {old_med:.0f} ms)")
        # baseline: the obvious loop, one key comparison per name in Python (less work than the index does)
        sample = rows[: min(n, 100_000)]
        t = time.perf_counter()
        for q in queries[:5]:
            key = names.normalise(q).key
            _ = [fuzz.ratio(key, r[4].replace(" ", "")) for r in sample]
        loop = (time.perf_counter() - t) / 5 * (n / len(sample)) * 1e3
        print(f"{n:>9,} | {load:.2f} | {med:.0f} | {p95:.0f} | {loop:.0f} | {loop / med:.1f}x")


def import_speed(rows: int = 20_000) -> None:
    synthetic = synthetic_rows(rows, seed=2)
    with tempfile.TemporaryDirectory() as d:
        csv = Path(d) / "archive.csv"
        lines = ["record_id,name,birth_date,county,photo"]
        for i, r in enumerate(synthetic):
            lines.append(
                f"R{i},{r[1]},{1950 + i % 50}-0{1 + i % 9}-1{i % 10},County {i % 40},{'' if i % 3 else f'p{i}.jpg'}"
            )
        csv.write_text("\n".join(lines), encoding="utf-8")
        with Index.open(Path(d) / "index", create=True) as store:
            t = time.perf_counter()
            report = import_file(store, csv)
            first = time.perf_counter() - t
            t = time.perf_counter()
            import_file(store, csv)
            again = time.perf_counter() - t
    print(
        f"\nImport of {rows:,} rows ({report.names:,} names, {report.with_photo:,} with a photo): "
        f"{first:.1f} s ({rows / first:,.0f} rows/s); re-import (all updates) {again:.1f} s"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="10000,100000,830000")
    p.add_argument("--queries", type=int, default=20)
    p.add_argument("--import-rows", type=int, default=20_000)
    a = p.parse_args()
    quality()
    per_kind()
    speed([int(x) for x in a.sizes.split(",")], a.queries)
    import_speed(a.import_rows)


if __name__ == "__main__":
    main()
