"""How many strangers look this similar? The LFW table vs the archive's own estimate vs the strangers counted.

Issue 16, item 5. The stranger counts families read come from a table measured on LFW (mixed
populations); in an archive the strangers are of the searched person's own population. This bench
runs the whole comparison in one go, with every table built in the same run from the same embeddings:

1. per population, at full size: the rate at which labelled strangers reach a score (counted), what
   the LFW table says there, what the archive estimate says (calibration.from_archive, from the same
   photos with the labels unused), and the alternatives it was chosen over:
     no-exclusion   the same map, without leaving out each face's nearest neighbours
     shift-only     the map restricted to a shift (s_ref = s + b)
     face-normals   a parametric tail: a normal through each query face's own 10% and 1% points,
                    averaged over faces (no reference table at all)
   populations: within Japanese, within Chinese, across, all of east-asian-dev (the LFW table is the
   reference); all of LFW (its own table, the brief's "LFW as an unlabelled archive", down to 1e-6);
   LFW half B with the table of half A (people split by a hash of the name; nobody in both).
2. per archive size: random sub-archives of each population; the estimate against the rate counted
   on the whole population, at 1e-2 / 1e-3 / 1e-4: the smallest archive the estimate can be trusted on.
3. hubness-corrected scores (s - beta x mean of the archive face's 10 nearest): the estimate follows the
   scores actually shown; the raw table does not apply to them.

Ratios are the measure (predicted / counted), so a noisy machine changes nothing. Writes
bench/out/strangers.json and bench/out/strangers.png. One command, re-run after any change to the
engine's pre-processing (embeddings are cached by fingerprint and file hash):

    .venv/bin/python bench/strangers.py [--engine sface] [--draws 10]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

from facematch import calibration as C
from facematch.evaluate import (  # noqa: E402
    compare_levels,
    counted_rates,
    embed_photos,
    figure,
    labelled_photos,
)

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
LEVELS = (1e-1, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
SIZE_LEVELS = (1e-2, 1e-3, 1e-4)
SIZES = (200, 300, 400, 500, 700, 1000, 2000)
GOAL = (0.65, 1.5)  # the goal for the rates shown to users
HUBNESS_K = 10
HUBNESS_BETAS = (0.5, 1.0)


# -- data ---------------------------------------------------------------------------------------
def load(images: Path, engine: str, cache: Path, identity_from: str, workers: int) -> dict:
    lab = labelled_photos(images, identity_from)
    emb = embed_photos(lab.paths, engine, cache, workers, progress=True)
    f = emb.found
    return {
        "engine": emb.engine,
        "v": emb.vectors[f],
        "ids": np.asarray(lab.identities)[f],
        "groups": np.asarray(lab.groups)[f],
        "keys": np.asarray([str(p) for p in lab.paths])[f],
        "missing": int((~f).sum()),
    }


# -- the alternatives the archive estimate was chosen over --------------------------------------
class Curve:
    """A rate curve given as a function, answering like a Calibration for compare_levels."""

    def __init__(self, fn):
        self.fpr_at = fn


def alternative(pairs: C.ArchivePairs, ref: C.Calibration, how: str) -> Curve | None:
    r_lo = C.counted_range(pairs.pairs, pairs.faces, C.NEIGHBOURS)
    if r_lo >= C.FIT_TOP / 3:
        return None
    if how == "no-exclusion":
        a, b, _ = C.fit_score_map(pairs.at_least() / pairs.pairs, ref, r_lo)
        return Curve(lambda s: ref.fpr_at(a * s + b))
    curve, _, _ = C.strangers_curve(pairs, ref, r_lo)
    if how == "shift-only":
        n = int(round(math.log10(C.FIT_TOP / r_lo) * 10)) + 1
        rs = np.logspace(math.log10(C.FIT_TOP), math.log10(r_lo), n)
        b = float(np.mean([C._reference_score(ref, r) - C.score_at_rate(C.BIN_SCORES, curve, r) for r in rs]))
        return Curve(lambda s: ref.fpr_at(s + b))
    raise ValueError(how)


def face_normals(v: np.ndarray, keys: np.ndarray, adjust=None, q_lo: float = 0.1, q_hi: float = 0.01) -> Curve:
    """Parametric tail: each query face's scores against the archive as a normal through its top 10% and 1%."""
    n = len(v)
    codes = C._photo_codes(keys)
    rows = np.arange(n) if n <= C.MAX_ROWS else np.sort(np.random.default_rng(0).choice(n, C.MAX_ROWS, replace=False))
    z_lo, z_hi = NormalDist().inv_cdf(1 - q_lo), NormalDist().inv_cdf(1 - q_hi)
    mus, sds = [], []
    for start in range(0, len(rows), 512):
        r = rows[start : start + 512]
        s = v[r] @ v.T
        drop = (codes[r][:, None] == codes[None, :]) | (s >= C.DUPLICATE_ABOVE)
        if adjust is not None:
            adjust.apply(s, r)
        s[drop] = -np.inf
        hi, lo = np.quantile(s, [1 - q_hi, 1 - q_lo], axis=1)
        sd = np.maximum((hi - lo) / (z_hi - z_lo), 1e-4)
        mus.append(lo - z_lo * sd)
        sds.append(sd)
    mu, sd = np.concatenate(mus), np.concatenate(sds)
    nd = NormalDist()
    return Curve(lambda s: float(np.mean([1 - nd.cdf(z) for z in (s - mu) / sd])))


# -- populations --------------------------------------------------------------------------------
def population_rows(name: str, v, ids, keys, ref, other=None, adjust_counted=None) -> dict:
    """Counted vs LFW table vs archive estimate vs alternatives, at every level with enough pairs."""
    curve, total = counted_rates(v, ids, other) if adjust_counted is None else adjust_counted
    out = {"population": name, "photos": int(len(v) + (0 if other is None else len(other[0]))), "pairs": total}
    if other is not None:  # pairs across two groups: no archive of their own
        out["levels"] = compare_levels(curve, total, ref, None, LEVELS)
        return out
    t0 = time.monotonic()
    try:
        est = C.from_archive(v, keys, ref)
        out["estimate"] = {"method": est.method, "seconds": round(time.monotonic() - t0, 2)}
    except C.ArchiveTooSmall as e:
        est = None
        out["no_estimate"] = str(e)
    out["levels"] = compare_levels(curve, total, ref, est, LEVELS)
    pairs = C.archive_pairs(v, keys)
    alts = {how: alternative(pairs, ref, how) for how in ("no-exclusion", "shift-only")}
    alts["face-normals"] = face_normals(v, keys)
    for row in out["levels"]:
        for how, alt in alts.items():
            row[f"{how}_over_counted"] = None if alt is None else round(alt.fpr_at(row["score"]) / row["rate"], 3)
    return out


def sizes(name: str, v, ids, keys, ref, draws: int, rng) -> dict:
    """The estimate from random sub-archives, against the rate counted on the whole population."""
    curve, total = counted_rates(v, ids)
    levels = [(r, C.score_at_rate(C.BIN_SCORES, curve, r)) for r in SIZE_LEVELS if r * total >= C.CHECK_MIN_COUNT]
    rows = []
    for n in SIZES:
        if n >= len(v):
            continue
        ratios, small = [], 0
        for _ in range(draws):
            sel = np.sort(rng.choice(len(v), n, replace=False))
            try:
                est = C.from_archive(v[sel], keys[sel], ref, min_faces=2)
            except C.ArchiveTooSmall:
                small += 1
                continue
            ratios.append([est.fpr_at(s) / r for r, s in levels])
        row = {"faces": n, "draws": draws, "too_small": small, "levels": []}
        x = np.asarray(ratios)
        for j, (r, _) in enumerate(levels):
            if not len(x):
                break
            col = x[:, j]
            row["levels"].append(
                {
                    "rate": r,
                    "median": round(float(np.median(col)), 3),
                    "p10": round(float(np.quantile(col, 0.1)), 3),
                    "p90": round(float(np.quantile(col, 0.9)), 3),
                    "within_25pct": round(float(np.mean(np.abs(col - 1) <= C.CHECK_TOLERANCE)), 3),
                    "within_goal": round(float(np.mean((col >= GOAL[0]) & (col <= GOAL[1]))), 3),
                }
            )
        rows.append(row)
    return {
        "population": name,
        "photos": len(v),
        "table_at_levels": [round(r / ref.fpr_at(s), 3) for r, s in levels],
        "sizes": rows,
    }


def knn_mean(v: np.ndarray, k: int = HUBNESS_K) -> np.ndarray:
    """Each face's mean similarity to its k nearest other faces (the CSLS-style hubness term)."""
    out = np.empty(len(v))
    for start in range(0, len(v), 1024):
        s = v[start : start + 1024] @ v.T
        s[np.arange(len(s)), np.arange(start, start + len(s))] = -np.inf
        out[start : start + 1024] = np.partition(s, s.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
    return out


def counted_adjusted(v: np.ndarray, ids: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, int]:
    """Counted rates of s(q, g) - offset[g] over ordered pairs of different people (the shown scores)."""
    hist = C.histogram(np.empty(0))
    total = 0
    for start in range(0, len(v), 1024):
        s = (v[start : start + 1024] @ v.T - offset[None, :]).astype(np.float64)
        keep = ids[start : start + 1024][:, None] != ids[None, :]
        hist += C.histogram(s[keep])
        total += int(keep.sum())
    return np.cumsum(hist[::-1])[::-1] / total, total


def hubness(name: str, v, ids, keys, ref, adjusted_refs: dict) -> list[dict]:
    """The estimate on hubness-corrected scores, extrapolated with the raw LFW table and with LFW's corrected table."""
    out = []
    r = knn_mean(v)
    for beta in HUBNESS_BETAS:
        adj = C.ScoreAdjustment(gallery=beta * r)
        curve, total = counted_adjusted(v, ids, beta * r)
        est = C.from_archive(v, keys, ref, adj)
        est_adj = C.from_archive(v, keys, adjusted_refs[beta], adj)
        levels = compare_levels(curve, total, ref, est, LEVELS)
        for row in levels:
            row["estimate_adjusted_ref_over_counted"] = round(est_adj.fpr_at(row["score"]) / row["rate"], 3)
        out.append({"population": name, "beta": beta, "k": HUBNESS_K, "levels": levels, "map": est.method["map"]})
    return out


# -- printing and plotting ----------------------------------------------------------------------
def fmt(x) -> str:
    return "    -" if x is None else f"{x:5.2f}"


def print_populations(pops: list[dict]) -> None:
    print("\n== Strangers at full size: predicted / counted (counted / table for the LFW table column)")
    print("   * = judged (>= 100 pairs counted). Goal for the numbers shown to users: 0.65-1.5.")
    cols = ("cnt/LFW", "ESTIM", "noexcl", "shift", "normals")
    print(f"  {'population':<28} {'rate':>6} {'pairs':>9}  " + " ".join(f"{c:>7}" for c in cols))
    for p in pops:
        for r in p["levels"]:
            print(
                f"  {p['population']:<28} {r['rate']:>6g} {r['counted_pairs']:>9,}{'*' if r['judged'] else ' '}"
                f" {r['counted_over_table']:>6.2f} {fmt(r.get('estimate_over_counted')):>6}"
                f" {fmt(r.get('no-exclusion_over_counted')):>6} {fmt(r.get('shift-only_over_counted')):>6}"
                f" {fmt(r.get('face-normals_over_counted')):>7}"
            )
        if p.get("no_estimate"):
            print(f"  {p['population']:<28} no archive estimate: {p['no_estimate']}")


def print_sizes(rows: list[dict]) -> None:
    print("\n== Archive size: estimate / counted on the whole population (median [10%-90%], share within the goal)")
    for pop in rows:
        print(
            f"  {pop['population']} ({pop['photos']} photos); LFW table counted/table at "
            f"{', '.join(f'{r:g}' for r in SIZE_LEVELS[: len(pop['table_at_levels'])])}: {pop['table_at_levels']}"
        )
        for row in pop["sizes"]:
            cells = "  ".join(
                f"{c['rate']:g}: {c['median']:.2f} [{c['p10']:.2f}-{c['p90']:.2f}] goal {c['within_goal']:.0%}"
                for c in row["levels"]
            )
            print(f"    {row['faces']:>5} faces: too small {row['too_small']}/{row['draws']}  {cells}")


def print_hubness(rows: list[dict]) -> None:
    print(
        "\n== Hubness-corrected scores (s - beta x mean of the 10 nearest): estimate / counted, extrapolated with "
        "the raw LFW table / with LFW's table on corrected scores; [raw table / counted]"
    )
    for h in rows:
        cells = "  ".join(
            f"{r['rate']:g}{'*' if r['judged'] else ''}: {r['estimate_over_counted']:.2f}/"
            f"{r['estimate_adjusted_ref_over_counted']:.2f} [{r['table_rate'] / r['rate']:.2g}]"
            for r in h["levels"]
        )
        print(f"  {h['population']:<14} beta {h['beta']}: {cells}")


def plot(pops: list[dict], size_rows: list[dict], path: Path, engine: str) -> Path:
    full = [p for p in pops if p["levels"]]
    cols = max(len(full), len(size_rows))
    title = f"Strangers: LFW table vs archive estimate vs counted, {engine}"
    with figure(path, 2, cols, (3.6 * cols, 7.4), title) as (_, axes):
        for ax, p in zip(axes[0], full, strict=False):
            lv = p["levels"]
            x = np.array([r["rate"] for r in lv])
            ax.fill_between(
                [x.min() / 3, 1],
                [x.min() / 3 * GOAL[0], GOAL[0]],
                [x.min() / 3 * GOAL[1], GOAL[1]],
                color="0.9",
                label="goal 0.65-1.5x",
            )
            ax.plot([x.min() / 3, 1], [x.min() / 3, 1], color="0.5", lw=1)
            ax.plot(x, [r["table_rate"] for r in lv], "o-", label="LFW table")
            if "estimate_rate" in lv[0]:
                ax.plot(x, [r["estimate_rate"] for r in lv], "s-", label="archive estimate")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{p['population']}\n({p['photos']} photos)", fontsize=9)
            ax.set_xlabel("counted rate")
            ax.grid(True, which="both", alpha=0.3)
        axes[0][0].set_ylabel("predicted rate")
        axes[0][0].legend(fontsize=7)
        for ax, pop in zip(axes[1], size_rows, strict=False):
            for j, r in enumerate(SIZE_LEVELS[: len(pop["table_at_levels"])]):
                pts = [(row["faces"], row["levels"][j]) for row in pop["sizes"] if len(row["levels"]) > j]
                if not pts:
                    continue
                xs = [p[0] for p in pts]
                ax.errorbar(
                    xs,
                    [p[1]["median"] for p in pts],
                    yerr=[[p[1]["median"] - p[1]["p10"] for p in pts], [p[1]["p90"] - p[1]["median"] for p in pts]],
                    marker="o",
                    capsize=3,
                    label=f"rate {r:g}",
                )
            ax.axhspan(*GOAL, color="0.9")
            ax.axhline(1, color="0.5", lw=1)
            ax.set_xscale("log")
            ax.set_title(f"{pop['population']}: estimate / counted", fontsize=9)
            ax.set_xlabel("faces in the archive")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        for i, used in enumerate((len(full), len(size_rows))):
            for ax in axes[i][used:]:
                ax.axis("off")
    return path


# -- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", default="sface")
    ap.add_argument("--draws", type=int, default=10, help="random sub-archives per size")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=OUT / "cache")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if not (SHARED / "lfw" / "images").is_dir() or not (SHARED / "east-asian-dev" / "images").is_dir():
        print(f"needs LFW and east-asian-dev under {SHARED}", file=sys.stderr)
        return 2
    start = time.monotonic()
    lfw = load(SHARED / "lfw" / "images", args.engine, args.cache, "folder", args.workers)
    ea = load(SHARED / "east-asian-dev" / "images", args.engine, args.cache, "filename", args.workers)
    engine = lfw["engine"]
    # Every table in this run is built from these embeddings (so the bench stays right after a change
    # of pre-processing); the shipped one is compared only to say whether it needs rebuilding.
    table = C.build(lfw["v"], lfw["ids"], engine, "LFW, all pairs of different people (this run)")
    shipped = C.for_engine(engine)
    half = np.array([C.half_of(p) for p in lfw["ids"]])
    a, b = half == 0, half == 1
    table_a = C.build(lfw["v"][a], lfw["ids"][a], engine, "LFW half A (this run)")
    state = (
        "matches"
        if shipped is not None
        else "is MISSING for this fingerprint: `facematch evaluate calibrate --install`"
    )
    print(
        f"engine {engine}; LFW {len(lfw['v'])} faces ({table.impostor_pairs:,} pairs), "
        f"east-asian-dev {len(ea['v'])}; the shipped table {state}"
    )

    g = ea["groups"]
    pops = []
    for grp in ("japanese", "chinese"):
        m = g == grp
        pops.append(population_rows(f"within {grp}", ea["v"][m], ea["ids"][m], ea["keys"][m], table))
    j, c = g == "japanese", g == "chinese"
    pops.append(
        population_rows(
            "across chinese x japanese", ea["v"][c], ea["ids"][c], None, table, other=(ea["v"][j], ea["ids"][j])
        )
    )
    pops.append(population_rows("all east-asian-dev", ea["v"], ea["ids"], ea["keys"], table))
    pops.append(population_rows("LFW as archive (own table)", lfw["v"], lfw["ids"], lfw["keys"], table))
    pops.append(population_rows("LFW half B (table of A)", lfw["v"][b], lfw["ids"][b], lfw["keys"][b], table_a))
    print_populations(pops)

    rng = np.random.default_rng(16)
    size_rows = [
        sizes("within japanese", ea["v"][j], ea["ids"][j], ea["keys"][j], table, args.draws, rng),
        sizes("all east-asian-dev", ea["v"], ea["ids"], ea["keys"], table, args.draws, rng),
        sizes("LFW half B", lfw["v"][b], lfw["ids"][b], lfw["keys"][b], table_a, args.draws, rng),
    ]
    print_sizes(size_rows)

    hub = []
    lfw_r = knn_mean(lfw["v"])
    adjusted_refs = {
        beta: C.build(
            lfw["v"], lfw["ids"], engine, f"LFW, corrected beta={beta}", C.ScoreAdjustment(gallery=beta * lfw_r)
        )
        for beta in HUBNESS_BETAS
    }
    for name, m in (("within japanese", j), ("all east-asian", np.ones(len(g), bool))):
        hub += hubness(name, ea["v"][m], ea["ids"][m], ea["keys"][m], table, adjusted_refs)
    hub += hubness("LFW", lfw["v"], lfw["ids"], lfw["keys"], table, adjusted_refs)
    print_hubness(hub)

    args.out.mkdir(parents=True, exist_ok=True)
    result = {
        "engine": engine,
        "settings": {
            "neighbours": C.NEIGHBOURS,
            "floor_share": C.FLOOR_SHARE,
            "fit_margin": C.FIT_MARGIN,
            "fit_top": C.FIT_TOP,
            "min_archive_faces": C.MIN_ARCHIVE_FACES,
            "max_rows": C.MAX_ROWS,
        },
        "populations": pops,
        "sizes": size_rows,
        "hubness": hub,
        "seconds": round(time.monotonic() - start, 1),
    }
    (args.out / "strangers.json").write_text(json.dumps(result, indent=1))
    png = plot(pops, size_rows, args.out / "strangers.png", engine)
    print(f"\nwritten: {args.out / 'strangers.json'}, {png} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
