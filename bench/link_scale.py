"""The archive self-join (`facematch link`) at scale: time, memory, recall of same-person pairs, batch speed-up.

Why this exists: issue 17 asks that an archive of 1,000,000 faces x 128-d link on one 2-core machine in at
most 15 minutes, under 2 GB, finding >= 0.99 of the same-person pairs an exact self-join finds in the top
k, with batched queries >= 5x faster per query than one at a time. This measures exactly that, through
facematch's own code: the FAISS index is built by ann.build (the type `facematch index` would choose for
that many faces, or the one given), and every face is ranked by Ranker in its blocks, as `facematch
link` does: on a flat index FAISS's blocked search (search.rank_ids), on an IVF index the list-major join
of selfjoin.py at link's nprobe (the tuned nprobe / NPROBE_SHARE), asking k + run.SPARE per face.

Galleries: bench/search_scale.py's synthetic faces (a two-level Gaussian fitted to real embeddings of
LFW: realistic same-person clusters, LFW's photos-per-person distribution), here fitted to real sface
embeddings (the default engine; a cached scan of LFW is used when given, else the photos are scanned).
Every row has a person label, so "same-person pairs" are known.

Measured, per gallery:
- recall: on a random sample of faces, the same-person pairs among each face's exact top k (a flat
  inner-product scan: the exact self-join) that linking found, from either face's side (the sample face's
  own row, or the other face's), and from the sample face's side only. The other faces' rows come from
  linking the sample's *closure* (the sample and every face in its exact top k), so recall both ways is
  known without the whole self-join, for every nprobe of the sweep (time per face too, and the join's
  candidates per face and share of faces with fewer than k candidates above tau).
- one face at a time: the sample ranked one face per FAISS call at link's nprobe (what a search costs,
  with the exact re-rank of its shortlist), against the join's time per face: the batching ratio.
- the whole self-join (unless --sample-only): time, peak memory (ru_maxrss of this process, which also
  holds the gallery, the FAISS index and the exact sample scan), recall again from the whole run.
Scores are plain cosines here (no hubness offsets: they need every face's neighbours first, i.e. this very
self-join); which faces are candidates, which is what can miss, is the same either way.
The machine is shared: every timing is printed with the load average; compare ratios within one run.

    python bench/link_scale.py [--sizes 100000,1000000] [--kind auto|flat|ivf-sq8] [--sample 5000]
                               [--sweep 64,128,256] [--sample-only] [--real-cache PATH.npz] [--out bench/out]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from search_scale import LFW_IMAGES, RealSet, fit, synthetic  # noqa: E402

from facematch import ann, selfjoin  # noqa: E402
from facematch.crosscheck import run  # noqa: E402
from facematch.crosscheck.ranker import NPROBE_SHARE, Ranker, joins, probing  # noqa: E402
from facematch.search import rank_ids  # noqa: E402
from facematch.vectors import FaceVectors  # noqa: E402

DEFAULT_CACHE = Path("/tmp/acc/cal2/cache/embeddings-sface-2c2ff7efdec19291-up-both-border-edge-flip.npz")
K = run.K
WIDE = K + run.SPARE


def real_sface(cache: Path | None) -> RealSet:
    """Real 128-d sface embeddings of LFW with person labels: from a cached scan (sha256 -> vector) if
    given and present, else by scanning the photos (minutes on 2 cores)."""
    people = sorted(p for p in LFW_IMAGES.iterdir() if p.is_dir())
    paths, labels = [], []
    for n, p in enumerate(people):
        for f in sorted(p.iterdir()):
            paths.append(f)
            labels.append(n)
    labels = np.array(labels)
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as z:
            by_sha = {str(s): i for i, s in enumerate(z["sha256"]) if z["found"][i]}
            vecs = z["vectors"]
        rows, keep = [], []
        for i, f in enumerate(paths):
            j = by_sha.get(hashlib.sha256(f.read_bytes()).hexdigest())
            if j is not None:
                rows.append(vecs[j])
                keep.append(i)
        return RealSet(np.asarray(rows, np.float32), labels[keep])
    from facematch.evaluate import embed_photos

    e = embed_photos(paths, "sface", None)
    return RealSet(e.vectors[e.found], labels[e.found])


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> bool:
    """Start counting peak memory again (Linux: writing 5 to clear_refs resets VmHWM), so the join's own
    peak is known apart from generating the gallery and the exact sample scan. False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def peak_mb() -> float | None:
    """VmHWM (peak resident memory since the last reset_peak) in MB, None where /proc is not there."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def load() -> str:
    """The machine's load average (1, 5, 15 min): the machine is shared, so every timing says it."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def build(vectors: np.ndarray, kind: str) -> FaceVectors:
    n, d = vectors.shape
    spec = ann.auto_spec(n, d) if kind == "auto" else ann.user_spec(kind, {}, n, d)

    def batches(step: int = 50_000):
        for s in range(0, n, step):
            yield np.arange(s + 1, min(n, s + step) + 1, dtype=np.int64), vectors[s : s + step]

    index, spec = ann.build(spec, d, batches, n)
    return FaceVectors("bench", index, spec)


def ranker_for(fv: FaceVectors, vectors: np.ndarray, nprobe: int | None, threads: int) -> Ranker:
    """Ranker as `facematch link` builds it (ids = row + 1; plain cosines, see the module docstring)."""
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    lists = selfjoin.Lists.of(fv.index, ids) if joins(fv) else None
    return Ranker(fv, ids, vectors, None, 0.0, nprobe, lists, threads).prepare(WIDE, K)


def self_join(ranker: Ranker, rows: np.ndarray, progress: bool) -> tuple[np.ndarray, float]:
    """Each face of `rows` (0-based) ranked against all by Ranker in its blocks, as `facematch link` does,
    asking k + run.SPARE: (each face's K nearest other faces as ids = row + 1, in the order of `rows`; seconds)."""
    out = np.full((len(rows), K), -1, np.int64)
    start = last = time.perf_counter()
    done = 0
    for block in ranker.plan(rows.astype(np.int64) + 1):
        ids, (_, _, found) = ranker.rank(block, WIDE)
        for j, (q, row) in enumerate(zip(ids.tolist(), found, strict=True)):
            row = row[(row != q) & (row >= 0)]
            out[done + j, : min(K, len(row))] = row[:K]
        done += len(ids)
        if progress and time.perf_counter() - last > 30:
            last = time.perf_counter()
            eta = (last - start) / done * (len(rows) - done)
            print(f"    {done:,}/{len(rows):,} faces, {last - start:.0f} s, ETA {eta:.0f} s, load {load()}", flush=True)
    return out, time.perf_counter() - start


def one_at_a_time(fv: FaceVectors, vectors: np.ndarray, rows: np.ndarray, nprobe: int | None) -> float:
    """Seconds per face when each face is ranked on its own, as a search does (FAISS per query, same nprobe,
    exact re-rank of its shortlist): what one face costs without the join."""

    def exact(u: np.ndarray) -> np.ndarray:
        return vectors[u - 1]

    start = time.perf_counter()
    with probing(fv.index, nprobe):
        for r in rows:
            rank_ids(fv, vectors[r : r + 1], WIDE, exact, None, 0.0)
    return (time.perf_counter() - start) / len(rows)


def exact_topk(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The exact self-join's top k for the sample (flat inner-product scan over all faces), as ids = row + 1."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    _, ids = flat.search(vectors[rows], K + 1)
    out = np.full((len(rows), K), -1, np.int64)
    for j, (q, row) in enumerate(zip(rows, ids, strict=True)):
        row = row[row != q]
        out[j] = row[:K] + 1
    return out


def recall(truth: np.ndarray, rows: np.ndarray, person: np.ndarray, got: dict[int, set]) -> tuple[float, float, int]:
    """(found from either side, found from the sample face's own side, pairs): the share of the same-person
    pairs (q, g) among each sample face's exact top k that the link run found. `got`: row -> its K ids."""
    want = both = one = 0
    for j, q in enumerate(rows.tolist()):
        for g in truth[j].tolist():
            if g < 0 or person[g - 1] != person[q]:
                continue
            want += 1
            mine = g in got[q]
            one += mine
            both += mine or ((q + 1) in got[g - 1])
    return (both / want if want else 1.0), (one / want if want else 1.0), want


def closure(truth: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The sample and every face in its exact top k (0-based): what recall from either side needs linked."""
    return np.unique(np.concatenate([rows, truth[truth > 0] - 1]))


def sweep_row(ranker: Ranker, around: np.ndarray, truth, rows, person) -> dict:
    """Recall both ways and time per face of the join at the ranker's nprobe, on the sample's closure."""
    ranker.stats = selfjoin.JoinStats()
    got, secs = self_join(ranker, around, False)
    sets = {int(r): set(g.tolist()) for r, g in zip(around, got, strict=True)}
    both, one, _ = recall(truth, rows, person, sets)
    st = ranker.stats
    return {
        "nprobe": ranker.nprobe, "ms_per_face": round(secs / len(around) * 1e3, 4), "recall": round(both, 4),
        "recall_one_side": round(one, 4), "candidates_per_face": round(st.candidates / max(st.faces, 1), 1),
        "short_share": round(st.short / max(st.faces, 1), 4), "load": load(),
    }  # fmt: skip


def measure(
    size: int, kind: str, model, sample: int, seed: int, progress: bool, full: bool, threads: int, sweep: list[int]
) -> dict:
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    vectors, person = synthetic(model, size, rng)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    gen_s = time.perf_counter() - t
    t = time.perf_counter()
    fv = build(vectors, kind)
    build_s = time.perf_counter() - t
    nprobe_tuned = fv.spec.params.get("nprobe") if fv.spec.kind.startswith("ivf") else None
    nprobe = max(1, int(nprobe_tuned) // NPROBE_SHARE) if nprobe_tuned else None
    print(f"  {size:,} faces: generated in {gen_s:.0f} s, {fv.spec.describe()} built in {build_s:.0f} s; "
          f"link nprobe {nprobe}; load {load()}", flush=True)  # fmt: skip
    rows = np.sort(rng.choice(size, size=min(sample, size), replace=False))
    t = time.perf_counter()
    truth = exact_topk(vectors, rows)
    exact_s = time.perf_counter() - t
    around = closure(truth, rows)
    ranker = ranker_for(fv, vectors, nprobe, threads)
    tau = ranker.tau
    # First on the sample's closure alone (so a 1M run that is stopped still says something): per nprobe,
    # the join's time per face and the recall both ways; then one face at a time through FAISS.
    probes = sorted({nprobe, *[p for p in sweep if nprobe and p <= int(fv.spec.params.get("nlist", 0))]} - {None})
    rows_sweep = []
    for p in probes or [None]:
        ranker.nprobe = p
        rows_sweep.append(sweep_row(ranker, around, truth, rows, person))
        print(f"    sweep {rows_sweep[-1]}", flush=True)
    ranker.nprobe = nprobe
    single_ms = one_at_a_time(fv, vectors, rows[: min(300, len(rows))], nprobe) * 1e3
    at_link = next(r for r in rows_sweep if r["nprobe"] == nprobe)
    speedup = single_ms / at_link["ms_per_face"]
    print(f"  closure of the sample ({len(around):,} faces): join {at_link['ms_per_face']:.3f} ms/face, one at a "
          f"time {single_ms:.3f} ms/face ({speedup:.1f}x); load {load()}", flush=True)  # fmt: skip
    row = {
        "faces": size, "dim": vectors.shape[1], "index": fv.spec.describe(), "nprobe_tuned": nprobe_tuned,
        "nprobe_link": nprobe, "tau": None if tau is None else round(tau, 4), "build_s": round(build_s, 1),
        "ms_per_face_single": round(single_ms, 4), "sweep": rows_sweep, "sample": len(rows),
        "closure": len(around), "exact_sample_s": round(exact_s, 1), "k": K, "wide": WIDE, "threads": threads,
        "block": ranker.block,
    }  # fmt: skip
    if not full:  # the sample's numbers only; the whole self-join's time is then extrapolated from them
        row.update(
            full_self_join=False, self_join_s_extrapolated=round(at_link["ms_per_face"] * size / 1e3),
            batch_speedup_sample=round(single_ms / at_link["ms_per_face"], 1), peak_rss_mb=round(rss_mb()),
        )  # fmt: skip
        print("  " + json.dumps(row), flush=True)
        return row
    ranker.stats = selfjoin.JoinStats()
    load_before = load()
    gc.collect()
    reset = reset_peak()
    got, join_s = self_join(ranker, np.arange(size), progress)
    mem = rss_mb()
    join_mem = peak_mb() if reset else None
    st = ranker.stats
    print(f"  self-join: {join_s:.0f} s ({join_s / size * 1e3:.3f} ms/face), peak RSS {mem:.0f} MB (during the join: "
          f"{join_mem} MB); load {load()}", flush=True)  # fmt: skip
    sets = {int(r): set(got[r].tolist()) for r in around}
    both, one, want = recall(truth, rows, person, sets)
    batch_ms = join_s / size * 1e3
    row.update(
        full_self_join=True, self_join_s=round(join_s, 1), total_s=round(build_s + join_s, 1),
        ms_per_face_batched=round(batch_ms, 4), batch_speedup=round(single_ms / batch_ms, 1), peak_rss_mb=round(mem),
        peak_during_join_mb=None if join_mem is None else round(join_mem),
        recall_same_person=round(both, 4), recall_one_side=round(one, 4), same_person_pairs_in_sample=want,
        candidates_per_face=round(st.candidates / max(st.faces, 1), 1), short_faces=st.short,
        join_seconds={k: round(v, 1) for k, v in st.seconds.items()}, load_before=load_before, load_after=load(),
    )  # fmt: skip
    print("  " + json.dumps(row), flush=True)
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--kind", default="auto", choices=["auto", "flat", "ivf-sq8", "ivf-pq"])
    ap.add_argument("--sample", type=int, default=5000, help="faces whose exact top k is computed for recall")
    ap.add_argument("--real-cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--sample-only", action="store_true", help="measure on the sample only (no whole self-join)")
    ap.add_argument("--sweep", default="64,128,256,512", help="nprobe values measured on the sample (IVF)")
    args = ap.parse_args()
    faiss.omp_set_num_threads(args.threads)
    real = real_sface(args.real_cache)
    model = fit(real)
    print(f"fitted to {len(real.vectors):,} real sface embeddings of {len(set(real.person.tolist())):,} people")
    rows = [
        measure(
            int(s),
            args.kind,
            model,
            args.sample,
            args.seed,
            not args.quiet,
            not args.sample_only,
            args.threads,
            [int(x) for x in args.sweep.split(",") if x],
        )
        for s in args.sizes.split(",")
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = args.out / f"link_scale-{args.kind}-{stamp}.json"
    meta = {"machine": platform.platform(), "cpus": os.cpu_count(), "faiss": faiss.__version__}
    path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
