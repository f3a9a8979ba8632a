"""How close the neighbour lists of an IVF index come to the exact ones, by the number of lists the join probes
(issue 25): on an index folder built by bench/scale_e2e.py (--keep), a random sample of faces is joined as
neighbours._joined joins them (selfjoin.join over the index's own lists, the same tau and length) at several
nprobe values, and compared with a flat scan of every embedding (faces of one image left out): share of the exact
nearest found, r_g's correlation with the exact r_g, and the sd of what a shown score moves by. The sample's join time
is printed too, but a sample of 2,000 spreads over thousands of lists and says little about a whole block's time,
which grows with nprobe as the products do (docs/scale.md).

    python bench/lists_nprobe.py INDEX_DIR [--sample 2000] [--nprobe 32,64,128,256,512]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from facematch import neighbours, selfjoin  # noqa: E402
from facematch.index import Index  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("--sample", type=int, default=2000)
    ap.add_argument("--nprobe", default="32,64,128,256,512")
    ap.add_argument("--seed", type=int, default=25)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import faiss

    with Index.open(args.index) as index:
        (fp,) = index.engines()
        scoring = neighbours.Scoring.for_engine(fp)
        vectors = index.vectors(fp)
        ids, codes = index.faces.image_codes(fp)
        vecs = index.faces.all_embeddings(fp, ids, vectors.dim)
    lists = selfjoin.Lists.of(vectors.index, ids)
    length, wide = scoring.length, scoring.length + neighbours._SPARE
    tau = selfjoin.estimate_tau(vecs, wide, neighbours.JOIN_CROWD)
    rng = np.random.default_rng(args.seed)
    pick = np.sort(rng.choice(len(ids), size=min(args.sample, len(ids)), replace=False))
    flat = faiss.IndexFlatIP(vecs.shape[1])
    flat.add(vecs)
    sims, found = flat.search(vecs[pick], length + 40)
    exact_sets, hub_exact = [], []
    for row, i in enumerate(pick.tolist()):
        ok = (found[row] >= 0) & (codes[np.maximum(found[row], 0)] != codes[i])
        exact_sets.append(set(found[row][ok][:length].tolist()))
        hub_exact.append(scoring.hub(sims[row][ok][:length]))
    he = np.array(hub_exact)
    out = {"faces": len(ids), "sample": len(pick), "nlist": lists.nlist, "tuned_nprobe": vectors.spec.params.get(
        "nprobe"), "default_join_nprobe": neighbours._join_nprobe(vectors), "rows": []}  # fmt: skip
    for nprobe in [int(x) for x in args.nprobe.split(",")]:
        t = time.perf_counter()
        (_, cos, pos), _ = selfjoin.join(vecs[pick], vecs, lists, nprobe, wide, tau, None, args.threads)
        short = np.flatnonzero((pos >= 0).sum(1) < wide)  # as _joined: joined again without tau
        if len(short):
            (_, cs, ps), _ = selfjoin.join(vecs[pick[short]], vecs, lists, nprobe, wide, -np.inf, None, args.threads)
            cos[short], pos[short] = cs, ps
        seconds = time.perf_counter() - t
        got, hub = [], []
        for row, i in enumerate(pick.tolist()):
            ok = (pos[row] >= 0) & (codes[np.maximum(pos[row], 0)] != codes[i])
            got.append(set(pos[row][ok][:length].tolist()))
            hub.append(scoring.hub(cos[row][ok][:length]))
        hs = np.array(hub)
        drop = he - hs
        pairs = list(zip(got, exact_sets, strict=True))
        r = {
            "nprobe": nprobe, "ms_per_face": round(1000 * seconds / len(pick), 2),
            "found_of_exact": round(float(np.mean([len(a & b) / length for a, b in pairs])), 4),
            "lists_equal": round(float(np.mean([a == b for a, b in pairs])), 4),
            "r_g_correlation": round(float(np.corrcoef(he, hs)[0, 1]), 4),
            "shown_score_error_sd": round(float((scoring.alpha * (drop - drop.mean())).std()), 4),
        }  # fmt: skip
        out["rows"].append(r)
        print(json.dumps(r), flush=True)
    dest = REPO / "bench" / "out" / f"lists_nprobe-{len(ids)}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1))
    print(f"written: {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
