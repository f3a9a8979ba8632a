"""Search at scale: the exact flat scan against the approximate indexes facematch can choose, side by side.

Why this exists: facematch keeps the exact scan for small archives and switches to an approximate
FAISS index (ann.py) for large ones. This script measures, in one run and on the same gallery and
queries, what each costs and how much it misses, at 10k, 100k and 1,000,000 faces, 128-d and
512-d; its numbers set ann.APPROX_THRESHOLD and fill docs/scale.md's "Search at scale" table.

For each gallery: build time, index memory (the serialised FAISS structure, which is what FAISS
holds in RAM), single-query latency (median and p95 over the queries, one at a time), batched
throughput (100 queries in one call, time per query), and recall@50 against the exact scan. The
approximate kinds go through facematch's own code (ann.build, FaceVectors.search) including the
exact re-rank of the shortlist; at bench scale the float embeddings for that re-rank come from a
memory-mapped .npy file (counted separately: it lives on disk, only the shortlist's rows are read),
and for the largest gallery also from a real SQLite faces table as the product does.

Where the vectors come from (stated in docs/scale.md too):
- 128-d: real dlib embeddings of the LFW photos in ../shared/data/lfw (largest face per photo).
- 512-d: no insightface pack is available here, so real 512-d vectors are made from two real
  models: each photo's dlib and sface embeddings (128 + 128, each L2-normalised, scaled by 1/sqrt 2)
  are mapped into 512-d by a fixed random orthonormal 512x256 matrix, and 20% of the energy is added
  as isotropic noise in the 256 orthogonal directions (so the data is truly 512-d, and noisier than
  either model alone), then L2-normalised.
- Synthetic faces follow the real ones with a two-level Gaussian fitted to them: the mean and the
  between-person covariance of the per-person mean embeddings, and the pooled within-person
  covariance of deviations from those means (people with 2+ photos). A synthetic person is drawn
  from the first, each of their photos adds a draw from the second, then L2-normalised; the number
  of photos per person follows LFW's. So the gallery holds realistic near-duplicate clusters
  ("same person"), not only independent points.
- Gallery = every real photo except the held-out queries, filled up with synthetic photos.
  Queries: half real held-out LFW photos of people in the gallery, half new synthetic photos of
  synthetic people in the gallery; recall is measured on all of them.

    python bench/search_scale.py [--sizes 10000,100000,1000000] [--dims 128,512]
                                 [--kinds flat,ivf-sq8,ivf-pq] [--queries 200] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import faiss
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from facematch import ann  # noqa: E402
from facematch.evaluate import embed_photos, people_photos  # noqa: E402
from facematch.vectors import FaceVectors, stored_vectors  # noqa: E402

LFW_IMAGES = REPO.parent / "shared" / "data" / "lfw" / "images"
DEFAULT_OUT = REPO / "bench" / "out"
K = 50
BATCH = 100


# -- data -----------------------------------------------------------------------------------------
@dataclass
class RealSet:
    """Real embeddings with person labels (one row per photo where a face was found)."""

    vectors: np.ndarray
    person: np.ndarray


def real_embeddings(workers: int | None, cache: Path | None = None) -> dict[int, RealSet]:
    """128-d dlib embeddings and the 512-d lift of dlib+sface, of every LFW photo (cached by sha256)."""
    people = people_photos(LFW_IMAGES)
    paths, labels = [], []
    for n, (_, files) in enumerate(sorted(people.items())):
        paths += files
        labels += [n] * len(files)
    labels = np.array(labels)
    dl = embed_photos(paths, "dlib", cache, workers=workers)
    sf = embed_photos(paths, "sface", cache, workers=workers)
    out = {128: RealSet(dl.vectors[dl.found], labels[dl.found])}
    both = dl.found & sf.found
    pair = np.concatenate([dl.vectors[both], sf.vectors[both]], axis=1) / np.sqrt(2.0)
    rng = np.random.default_rng(512)
    basis, _ = np.linalg.qr(rng.standard_normal((512, 512)))
    lifted = pair @ basis[:, :256].T * np.sqrt(0.8)
    noise = rng.standard_normal((len(pair), 256)) @ basis[:, 256:].T * np.sqrt(0.2 / 256)
    out[512] = RealSet(normalise(lifted + noise).astype(np.float32), labels[both])
    return out


def normalise(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@dataclass
class Model:
    """The two-level Gaussian: person = mean + L_b z, photo = person + L_w z (then normalised)."""

    mean: np.ndarray
    chol_between: np.ndarray
    chol_within: np.ndarray
    photos_per_person: np.ndarray  # the empirical distribution to draw from


def fit(real: RealSet) -> Model:
    d = real.vectors.shape[1]
    ids, counts = np.unique(real.person, return_counts=True)
    means = np.stack([real.vectors[real.person == i].mean(0) for i in ids])
    multi = set(ids[counts >= 2].tolist())
    dev = np.concatenate([real.vectors[real.person == i] - means[j] for j, i in enumerate(ids) if i in multi])
    within = np.cov(dev, rowvar=False) + 1e-6 * np.eye(d)
    between = np.cov(means, rowvar=False) + 1e-6 * np.eye(d)
    return Model(means.mean(0), np.linalg.cholesky(between), np.linalg.cholesky(within), counts)


def synthetic(model: Model, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n synthetic photos (grouped by person) and their synthetic person numbers."""
    d = len(model.mean)
    per = rng.choice(model.photos_per_person, size=n)  # more people than needed; cut below
    ends = np.cumsum(per)
    people = int(np.searchsorted(ends, n)) + 1
    per, ends = per[:people], np.minimum(ends[:people], n)
    person = np.repeat(np.arange(people), per)[:n]
    out = np.empty((n, d), np.float32)
    for p0 in range(0, people, 50_000):  # people in chunks, so memory stays flat at 1M photos
        p1 = min(people, p0 + 50_000)
        r0, r1 = (int(ends[p0 - 1]) if p0 else 0), int(ends[p1 - 1])
        centres = model.mean + rng.standard_normal((p1 - p0, d)) @ model.chol_between.T
        noise = rng.standard_normal((r1 - r0, d)) @ model.chol_within.T
        out[r0:r1] = normalise(centres[person[r0:r1] - p0] + noise)
    return out, person


@dataclass
class Gallery:
    vectors: np.ndarray  # (n, d) float32, row i has face id i + 1
    queries: np.ndarray  # (q, d)
    real_in_gallery: int
    mates: list[np.ndarray]  # per query: face ids of the same person in the gallery


def make_gallery(real: RealSet, model: Model, n: int, n_queries: int, seed: int) -> Gallery:
    rng = np.random.default_rng(seed)
    ids, counts = np.unique(real.person, return_counts=True)
    multi = ids[counts >= 2]
    held_people = rng.choice(multi, size=min(len(multi), n_queries // 2), replace=False)
    held = np.array([np.flatnonzero(real.person == p)[-1] for p in held_people])
    keep = np.setdiff1d(np.arange(len(real.vectors)), held)
    if len(keep) > n:
        keep = np.sort(rng.choice(keep, size=n, replace=False))
    fill, fill_person = synthetic(model, n - len(keep) + n_queries, rng) if n > len(keep) else (None, None)
    parts = [real.vectors[keep]]
    q_parts = [real.vectors[held]]
    labels, q_labels = [real.person[keep]], [real.person[held]]
    syn = 10**8  # synthetic people get labels far from the real ones
    if fill is not None:
        # The last photo of the last few synthetic people with 2+ photos becomes a query.
        n_syn_q = n_queries - len(held)
        order = np.arange(len(fill))
        last_of = np.flatnonzero(np.r_[fill_person[1:] != fill_person[:-1], True])
        multi_last = [i for i in last_of if i > 0 and fill_person[i - 1] == fill_person[i]][-n_syn_q:]
        q_parts.append(fill[multi_last])
        q_labels.append(fill_person[multi_last] + syn)
        gallery_rows = np.setdiff1d(order, multi_last)[: n - len(keep)]
        parts.append(fill[gallery_rows])
        labels.append(fill_person[gallery_rows] + syn)
    vectors = np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
    perm = rng.permutation(len(vectors))  # real and synthetic faces interleaved, as ids would be
    label = np.concatenate(labels)[perm]
    order_l = np.argsort(label, kind="stable")
    sorted_l = label[order_l]
    mates = []
    for ql in np.concatenate(q_labels):
        lo, hi = np.searchsorted(sorted_l, ql), np.searchsorted(sorted_l, ql, side="right")
        mates.append(order_l[lo:hi] + 1)
    queries = np.ascontiguousarray(np.concatenate(q_parts), dtype=np.float32)
    return Gallery(vectors[perm], queries, len(keep), mates)


# -- measuring ----------------------------------------------------------------------------------
@dataclass
class Row:
    dim: int
    size: int
    kind: str
    chosen: bool
    params: dict
    build_s: float
    memory_mb: float
    single_ms_median: float
    single_ms_p95: float
    batch_ms_per_query: float
    batch_speedup: float
    recall_at_50: float
    same_person_at_50: float  # queries whose same-person gallery photo is among the 50 shown
    speedup_vs_flat: float = 1.0
    notes: dict = field(default_factory=dict)


def timed_single(fv: FaceVectors, queries: np.ndarray, exact) -> tuple[float, float, np.ndarray]:
    times, ids = [], []
    fv.search(queries[:1], K, exact=exact)  # warm-up
    for q in queries:
        t = time.perf_counter()
        _, i = fv.search(q[None, :], K, exact=exact)
        times.append(time.perf_counter() - t)
        ids.append(i[0])
    return float(np.median(times) * 1e3), float(np.percentile(times, 95) * 1e3), np.stack(ids)


def timed_batch(fv: FaceVectors, queries: np.ndarray, exact, repeats: int = 3) -> float:
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        fv.search(queries[:BATCH], K, exact=exact)
        best.append(time.perf_counter() - t)
    return float(np.median(best) * 1e3 / min(BATCH, len(queries)))


def recall(got: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(g.tolist()) & set(t.tolist())) / K for g, t in zip(got, truth, strict=True)]))


def same_person(got: np.ndarray, mates: list[np.ndarray]) -> float:
    """Share of queries (with a same-person photo in the gallery) that get one in their top 50."""
    hits = [bool(np.intersect1d(g, m).size) for g, m in zip(got, mates, strict=True) if len(m)]
    return float(np.mean(hits)) if hits else float("nan")


def sweep(fv: FaceVectors, gallery: Gallery, exact, truth: np.ndarray, flat_ms: float) -> list[dict]:
    """Speed against recall for smaller nprobe than the tuned one: what a person gives up for speed."""
    ivf = faiss.extract_index_ivf(fv.index)
    tuned = ivf.nprobe
    out = []
    for nprobe in sorted({max(1, tuned // d) for d in (16, 8, 4, 2)} - {tuned}):
        ivf.nprobe = nprobe
        med, _, got = timed_single(fv, gallery.queries, exact)
        out.append(
            {
                "nprobe": nprobe,
                "single_ms": round(med, 3),
                "vs_flat": round(flat_ms / med, 1),
                "recall_at_50": round(recall(got, truth), 4),
                "same_person_at_50": round(same_person(got, gallery.mates), 4),
            }
        )
        print(
            f"{'':>24}nprobe {nprobe:>5}: single {med:8.3f} ms (x{flat_ms / med:.1f} vs flat)  "
            f"recall@50 {out[-1]['recall_at_50']:.4f}  same person in top 50 {out[-1]['same_person_at_50']:.4f}",
            flush=True,
        )
    ivf.nprobe = tuned
    return out


def index_mb(index: faiss.Index, tmp: Path) -> float:
    path = tmp / "size.faiss"
    faiss.write_index(index, str(path))
    size = path.stat().st_size
    path.unlink()
    return size / 2**20


def measure(dim: int, size: int, gallery: Gallery, kinds: list[str], tmp: Path, sqlite_rerank: bool) -> list[Row]:
    n = len(gallery.vectors)
    ids = np.arange(1, n + 1, dtype=np.int64)
    npy = tmp / f"gallery-{dim}-{n}.npy"
    np.save(npy, gallery.vectors)
    mm = np.load(npy, mmap_mode="r")

    def exact(u: np.ndarray) -> np.ndarray:
        return np.asarray(mm[u - 1])

    def batches(step: int = 50_000):
        return ((ids[s : s + step], gallery.vectors[s : s + step]) for s in range(0, n, step))

    chosen = ann.auto_spec(n, dim)
    rows: list[Row] = []
    truth = None
    flat_single = None
    for kind in kinds:
        spec = ann.IndexSpec("flat") if kind == "flat" else ann.user_spec(kind, {}, n, dim)
        t = time.perf_counter()
        index, spec = ann.build(spec, dim, batches, n)
        build_s = time.perf_counter() - t
        fv = FaceVectors("bench@0", index, spec)
        mem = index_mb(index, tmp)
        med, p95, got = timed_single(fv, gallery.queries, exact)
        per_q = timed_batch(fv, gallery.queries, exact)
        if kind == "flat":
            truth, flat_single = got, med
        row = Row(
            dim,
            n,
            kind,
            kind == chosen.kind,
            {k: v for k, v in spec.params.items() if k != "build_seconds"},
            round(build_s, 1),
            round(mem, 1),
            round(med, 3),
            round(p95, 3),
            round(per_q, 3),
            round(med / per_q, 1),
            round(recall(got, truth), 4),
            round(same_person(got, gallery.mates), 4),
            round(flat_single / med, 1),
        )
        row.notes["load_avg_1m"] = round(os.getloadavg()[0], 2)  # other processes share these 2 cores
        if sqlite_rerank and not spec.exact:
            row.notes["sqlite_rerank"] = sqlite_single(fv, gallery, tmp)
        rows.append(row)
        print(_fmt(row), flush=True)
        if kind == "ivf-sq8":
            row.notes["sweep"] = sweep(fv, gallery, exact, truth, flat_single)
        del index, fv
    npy.unlink()  # the memory map stays readable until it is dropped
    return rows


def sqlite_single(fv: FaceVectors, gallery: Gallery, tmp: Path) -> dict:
    """The product's re-rank path: shortlist embeddings fetched from a real SQLite faces table."""
    from facematch.index import Index

    folder = tmp / "sqlite"
    shutil.rmtree(folder, ignore_errors=True)
    t = time.perf_counter()
    with Index.open(folder, create=True) as store:
        with store.db.write() as c:
            c.execute("INSERT INTO roots(id, path) VALUES (1, '/bench')")
            c.execute("INSERT INTO photos(id, root_id, relpath, filename) VALUES (1, 1, 'x.jpg', 'x.jpg')")
            for s in range(0, len(gallery.vectors), 50_000):
                block = gallery.vectors[s : s + 50_000]
                c.executemany(
                    "INSERT INTO faces(id, photo_id, engine, x1, y1, x2, y2, landmarks, det_score, quality, embedding)"
                    " VALUES (?, 1, 'bench@0', ?, 0, 1, 1, '[]', 1, 1, ?)",
                    ((s + j + 1, float(s + j), v.tobytes()) for j, v in enumerate(block)),
                )
        fill_s = time.perf_counter() - t
        exact = stored_vectors(store.faces, fv.dim)
        med, p95, _ = timed_single(fv, gallery.queries, exact)
        per_q = timed_batch(fv, gallery.queries, exact)
    size_mb = (folder / "facematch.sqlite").stat().st_size / 2**20
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "single_ms_median": round(med, 3),
        "single_ms_p95": round(p95, 3),
        "batch_ms_per_query": round(per_q, 3),
        "sqlite_mb": round(size_mb),
        "fill_s": round(fill_s, 1),
    }


def _fmt(r: Row) -> str:
    mark = "*" if r.chosen else " "
    p = ",".join(f"{k}={v}" for k, v in r.params.items() if k in ("nlist", "nprobe", "m"))
    extra = ""
    if "sqlite_rerank" in r.notes:
        extra = f"  [re-rank from SQLite: single {r.notes['sqlite_rerank']['single_ms_median']:.2f} ms]"
    return (
        f"{r.dim:>4} {r.size:>9,} {mark}{r.kind:<8} {p:<26} build {r.build_s:>7.1f}s  mem {r.memory_mb:>8.1f} MB  "
        f"single {r.single_ms_median:>8.3f} ms (p95 {r.single_ms_p95:>8.3f})  batch {r.batch_ms_per_query:>7.3f} ms/q "
        f"(x{r.batch_speedup:<5})  recall@50 {r.recall_at_50:.4f}  same person {r.same_person_at_50:.4f}  "
        f"vs flat x{r.speedup_vs_flat}{extra}"
    )


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dims = sorted({r.dim for r in rows})
    fig, axes = plt.subplots(len(dims), 3, figsize=(15, 4.2 * len(dims)), squeeze=False)
    for a, dim in zip(axes, dims, strict=True):
        for kind in dict.fromkeys(r.kind for r in rows):
            rs = sorted((r for r in rows if r.dim == dim and r.kind == kind), key=lambda r: r.size)
            if not rs:
                continue
            x = [r.size for r in rs]
            a[0].plot(x, [r.single_ms_median for r in rs], "o-", label=kind)
            a[1].plot(x, [r.memory_mb for r in rs], "o-", label=kind)
            a[2].plot(x, [r.recall_at_50 for r in rs], "o-", label=kind)
        for ax, title in zip(a, ("single-query latency (ms)", "index memory (MB)", "recall@50 vs exact"), strict=True):
            ax.set_xscale("log")
            ax.set_title(f"{dim}-d: {title}")
            ax.set_xlabel("faces in the gallery")
            ax.grid(alpha=0.3)
            ax.legend()
        a[0].set_yscale("log")
        a[1].set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dims", default="128,512")
    ap.add_argument("--kinds", default="flat,ivf-sq8,ivf-pq")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--workers", type=int, default=None, help="processes for embedding LFW (first run only)")
    ap.add_argument("--cache", type=Path, default=None, help="embedding cache (default: ~/.cache/facematch)")
    ap.add_argument("--no-sqlite", action="store_true", help="skip the SQLite re-rank measurement")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--merge", type=Path, nargs="+", help="only re-plot and re-print saved result JSONs together")
    args = ap.parse_args()
    if args.merge:
        rows = [Row(**r) for f in args.merge for r in json.loads(f.read_text())["rows"]]
        for r in sorted(rows, key=lambda r: (r.dim, r.size)):
            print(_fmt(r))
        args.out.mkdir(parents=True, exist_ok=True)
        plot(rows, args.out / "search_scale-merged.png")
        print(f"written: {args.out}/search_scale-merged.png")
        return 0
    if not LFW_IMAGES.is_dir():
        print(f"LFW not found at {LFW_IMAGES}; this benchmark needs its real embeddings", file=sys.stderr)
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    dims = [int(d) for d in args.dims.split(",")]
    kinds = [k.strip() for k in args.kinds.split(",")]
    if kinds[0] != "flat":
        kinds = ["flat"] + [k for k in kinds if k != "flat"]
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    real = real_embeddings(args.workers, args.cache)
    print(
        f"real embeddings: {', '.join(f'{d}-d {len(r.vectors):,}' for d, r in real.items())} "
        f"({time.perf_counter() - t0:.0f} s); FAISS threads {faiss.omp_get_max_threads()}",
        flush=True,
    )
    rows: list[Row] = []
    tmp = Path(tempfile.mkdtemp(prefix="facematch-scale-"))
    try:
        for dim in dims:
            model = fit(real[dim])
            for size in sizes:
                t = time.perf_counter()
                g = make_gallery(real[dim], model, size, args.queries, seed=size + dim)
                print(
                    f"-- {dim}-d, {size:,} faces ({g.real_in_gallery:,} real), "
                    f"{len(g.queries)} queries, made in {time.perf_counter() - t:.1f} s",
                    flush=True,
                )
                sqlite = not args.no_sqlite and size == max(sizes)
                rows += measure(dim, size, g, kinds, tmp, sqlite)
                del g
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "when": stamp,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "faiss": faiss.__version__},
        "k": K,
        "batch": BATCH,
        "queries": args.queries,
        "threshold": ann.APPROX_THRESHOLD,
        "target_recall": ann.TARGET_RECALL,
        "rows": [asdict(r) for r in rows],
    }
    (args.out / f"search_scale-{stamp}.json").write_text(json.dumps(result, indent=1))
    plot(rows, args.out / f"search_scale-{stamp}.png")
    print(f"\nwritten: {args.out}/search_scale-{stamp}.json and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
