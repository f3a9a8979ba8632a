"""Neighbour lists at scale (issue 26): what the same-person rule costs and does on a synthetic archive.

Issue 26 leaves a face's nearest neighbours at or above the engine's same-person cosine out of its r_g, at most
neighbours.SAME_PERSON_MAX of them, so lists hold k + 6 faces instead of k (neighbours.py). This builds one index
folder of N synthetic faces (bench/search_scale.py's two-level Gaussian fitted to real sface embeddings of LFW,
written through bench/link_e2e.py's insert_faces, the FAISS file `facematch index` would choose) and times, on it,
one after the other:

  1. old lists    neighbours.update with the rule before issue 26 (the k nearest), from none: an index made by
                  an older facematch
  2. upgrade      neighbours.update with the engine's rule on that index: every list computed again (the first
                  `facematch index`, search or link after upgrading), the progress bar's path
  3. +1% faces    N/100 new faces inserted, the FAISS file caught up, neighbours.update: the new faces' lists and
                  the older faces taking them in (what each later `facematch index` does)
  4. from none    the engine's rule on a fresh copy of the index, for the ratio to 1 (the same work as 2)

and, on a sample of faces, how many of their nearest reach the cut: the reason for the bound (without it, a face
would be searched that deep and r_g would sit just under the cut for everyone).

    python bench/neighbour_scale.py --faces 100000 [--cache DIR] [--kind auto|flat|ivf-sq8] [--work DIR]

--cache: the `facematch evaluate` embedding cache holding the LFW subset's sface embeddings (else the photos are
embedded, minutes on 2 cores). Writes bench/out/neighbour-scale-<faces>-<kind>-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from link_e2e import insert_faces, sface_fingerprint  # noqa: E402
from search_scale import LFW_IMAGES, RealSet, fit, synthetic  # noqa: E402

from facematch import neighbours  # noqa: E402
from facematch.index import Index  # noqa: E402


def real(cache: Path | None) -> RealSet:
    """The LFW subset's sface embeddings with person labels (through the evaluate cache when given)."""
    from facematch.evaluate import embed_photos

    people = sorted(p for p in LFW_IMAGES.iterdir() if p.is_dir())
    paths, labels = [], []
    for n, p in enumerate(people):
        for f in sorted(p.glob("*.jpg")):
            paths.append(f)
            labels.append(n)
    e = embed_photos(paths, "sface", cache, progress=False)
    return RealSet(e.vectors[e.found], np.array(labels)[e.found])


def timed(label: str, fn, out: dict):
    t = time.perf_counter()
    r = fn()
    out[label] = round(time.perf_counter() - t, 1)
    print(f"{label}: {out[label]} s ({r})", flush=True)
    return r


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, default=100_000)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--kind", default="auto", help="index type (auto: what facematch index chooses)")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "neighbour-scale")
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--sample", type=int, default=2000, help="faces whose depth above the cut is counted")
    args = ap.parse_args()
    import faiss

    rng = np.random.default_rng(args.seed)
    n, n_new = args.faces, max(1, args.faces // 100)
    vecs, person = synthetic(fit(real(args.cache)), n + n_new, rng)
    vecs = np.ascontiguousarray(vecs, np.float32)
    fp = sface_fingerprint()
    new, old = neighbours.Scoring.for_engine(fp), neighbours.Scoring(cut=None)
    res: dict = {"faces": n, "new_faces": n_new, "kind": args.kind, "rule": new.to_json(), "seconds": {}}
    sec = res["seconds"]
    if args.work.exists():
        shutil.rmtree(args.work)
    folder, fresh = args.work / "index", args.work / "fresh"
    with Index.open(folder, create=True) as index:
        roots = [index.faces.root_id(args.work / "a", "a"), index.faces.root_id(args.work / "b", "b")]
        insert_faces(index, fp, vecs[:n], person[:n], 0, roots, n // 2)
        if args.kind != "auto":
            from facematch.vectors import choose_type

            choose_type(index.db, fp, args.kind, None, vecs.shape[1])
        fv = timed("faiss_build", lambda: index.vectors(fp, vecs.shape[1]), sec)
        res["index"] = fv.spec.describe()
    shutil.copytree(folder, fresh)
    with Index.open(folder) as index:
        fv = index.vectors(fp)
        timed("1_old_lists_from_none", lambda: index.update_neighbours(fp, fv, old), sec)
        timed("2_upgrade_to_the_rule", lambda: index.update_neighbours(fp, fv, new), sec)
        assert index.neighbours.count(fp, *new.lists) == n and index.neighbours.count(fp, *old.lists) == 0
        insert_faces(index, fp, vecs[n:], person[n:], n, roots, 0)
        fv = timed("faiss_catch_up", lambda: index.vectors(fp), sec)
        timed("3_plus_1pct_faces", lambda: index.update_neighbours(fp, fv, new), sec)
        ids = index.faces.ids(fp)
        lists = index.neighbours.lists(ids, *new.lists)
        hub = index.neighbours.hub(ids, *new.lists)
    with Index.open(fresh) as index:
        fv = index.vectors(fp)
        timed("4_rule_from_none", lambda: index.update_neighbours(fp, fv, new), sec)
    sims = [s for _, s in lists.values()]
    above = np.array([int((s >= new.cut).sum()) for s in sims])
    plain = np.array([float(s[: new.k].mean()) for s in sims])
    res["lists"] = {
        "faces_with_a_neighbour_above_the_cut": float(np.mean(above > 0)),
        "faces_where_the_bound_applies": float(np.mean(above >= new.most)),
        "r_g_sd_rule": float(np.std(hub)),
        "r_g_sd_mean_of_k_nearest": float(np.std(plain)),
    }
    # How deep a face's neighbours reach the cut (exact, on a sample): what an unbounded rule would search.
    sample = rng.choice(len(vecs), size=min(args.sample, len(vecs)), replace=False)
    flat = faiss.IndexFlatIP(vecs.shape[1])
    flat.add(vecs)
    d, _ = flat.search(vecs[sample], 4097)
    depth = (d[:, 1:] >= new.cut).sum(1)
    res["depth_above_cut"] = {
        "mean": float(depth.mean()), "median": float(np.median(depth)), "p90": float(np.percentile(depth, 90)),
        "max_seen": int(depth.max()), "share_over_6": float(np.mean(depth > new.most)),
    }  # fmt: skip
    res["ratio_upgrade_over_old_lists"] = round(sec["2_upgrade_to_the_rule"] / sec["1_old_lists_from_none"], 2)
    res["ratio_rule_over_old_lists_from_none"] = round(sec["4_rule_from_none"] / sec["1_old_lists_from_none"], 2)
    print(json.dumps(res, indent=1))
    out = REPO / "bench" / "out" / f"neighbour-scale-{n}-{args.kind}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    shutil.rmtree(args.work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
