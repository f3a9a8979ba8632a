"""`facematch link` end to end on a synthetic index folder of N faces (issue 17): time, time split, memory.

Why this exists: bench/link_scale.py times only Ranker (the join). The issue's target is the whole
self-join, i.e. everything `facematch link` does, in at most 15 minutes at 1M faces and under 2 GB. Beyond
the join that is: opening the index (Searcher: FAISS file, neighbour lists, stranger rates), loading every
embedding from SQLite (Ranker.of), turning each block's ranked lists into pairs (BlockPairs.pairs: same-photo
skip, bands, duplicate check, record reasons), offering new faces' pairs to older faces (run.offer) and
writing each block's pairs and progress (Links.save_block). This measures exactly run.link(), the call
behind `facematch link`, on a real index folder.

The index folder is built through facematch's own store and index code, in bulk:
- faces: bench/search_scale.py's synthetic faces (two-level Gaussian) fitted to real sface embeddings of
  LFW, as bench/link_scale.py does (its functions). One photos/scans row per synthetic photo, one face
  each, except: every 500th face shares its photo with the next face when that is the same synthetic
  person (two faces in one photo, so the same-photo skip fires on a pair the join ranks first), and every
  1000th photo (row 7 mod 1000) is a byte-identical copy of the photo before it (same sha256, the same
  embedding with noise of 1e-3), so duplicate images (kind 'duplicate') are found and stored. Two
  collections (two indexed folders: the first and second half of the faces). Bulk executemany in one
  transaction (the indexer writes photo by photo, which is indexing's cost, not linking's).
- the FAISS file: Index.vectors(), i.e. vectors.sync building it from the database with the type
  `facematch index` chooses for that many faces (ann.auto_spec).
- neighbour lists (hubness r_g): the library's own neighbours.update (Index.update_neighbours), as `facematch
  index` runs it, timed apart (indexing's cost): on an IVF index the list-major join over the index's lists (issue
  25; before, this bench built the lists with its own join because one FAISS search per face would have taken
  hours at 1M on 2 cores). For the 1% added later, the same call: the new faces' lists, and the older faces
  taking in the new ones.
- stranger rates: Index.stranger_rates, as the indexer computes them after indexing (timed apart).
- photo files do not exist on disk. Pairs with cosine >= duplicates.CHECK_COSINE (or of band strong) get the
  pixel check (duplicates.duplicate_kind: each photo decoded once per block); a missing photo has no region
  (never a duplicate by its pixels), so its cost here is the failed open, not the decode + SIFT (~18 ms a face,
  plus the decode) and the check (~5 ms a pair) a real archive pays. Byte-identical copies are still found
  (same sha256).
- no records: the record reasons (reasons.records_about) are a query returning nothing here.

Then `run.link(index, progress=False)` runs in a child process (its own peak memory, VmHWM, is the peak
of a process that only links) with perf_counter wrappers around the calls that make up its time
(restored after; crosscheck/ is unchanged): Searcher open, Ranker.of, the join (Ranker.rank), BlockPairs.pairs,
run.offer, Links.save_block. The join's own time in the same run is the baseline: "end to end = X.Xx the
join". Then 1% new faces are added (indexed as above: insert, FAISS catch-up, neighbour lists) and linked
again (incremental: only the new faces, plus offers to older faces).

    python bench/link_e2e.py --faces 1000000 [--new 0.01] [--work DIR] [--out bench/out] [--keep]
"""

from __future__ import annotations

import argparse
import functools
import gc
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from link_scale import DEFAULT_CACHE, load, peak_mb, real_sface  # noqa: E402
from search_scale import fit, synthetic  # noqa: E402

from facematch import neighbours  # noqa: E402
from facematch.crosscheck import blocks, run  # noqa: E402
from facematch.crosscheck.ranker import Ranker  # noqa: E402
from facematch.index import Index  # noqa: E402
from facematch.store import DB_NAME  # noqa: E402

#: Layout of the synthetic photos (see the module docstring).
TWO_FACES_EVERY = 500
COPY_EVERY, COPY_AT = 1000, 7
BOX = (40.0, 50.0, 140.0, 170.0)
LANDMARKS = [[70.0, 95.0], [110.0, 95.0], [90.0, 120.0], [74.0, 145.0], [106.0, 145.0]]


# -- building the index folder ----------------------------------------------------------------------
def sface_fingerprint():
    from facematch.engines import get_engine

    return get_engine("sface").fingerprint


def layout(person: np.ndarray, first_row: int) -> tuple[np.ndarray, np.ndarray]:
    """(photo number of each face, 0-based within this batch; the face that photo copies or -1 per photo).

    Faces r, r+1 share a photo when r % TWO_FACES_EVERY == 0 and both are the same synthetic person.
    A photo whose first face is row COPY_AT mod COPY_EVERY copies the previous photo (same sha256)."""
    n = len(person)
    photo = np.empty(n, np.int64)
    p = -1
    r = 0
    while r < n:
        p += 1
        photo[r] = p
        g = first_row + r
        if g % TWO_FACES_EVERY == 0 and r + 1 < n and person[r] == person[r + 1]:
            photo[r + 1] = p
            r += 2
        else:
            r += 1
    copies = np.full(p + 1, -1, np.int64)
    size = np.bincount(photo, minlength=p + 1)
    for r in np.flatnonzero((first_row + np.arange(n)) % COPY_EVERY == COPY_AT):
        if r > 0 and photo[r] - photo[r - 1] == 1 and size[photo[r]] == 1:
            copies[photo[r]] = photo[r - 1]
    return photo, copies


def insert_faces(
    index: Index, fp: str, vecs: np.ndarray, person: np.ndarray, first_row: int, roots: list[int], half: int
) -> dict:
    """Photos, scans and faces of a batch of synthetic faces, in one transaction (executemany).

    Face ids continue from the highest id; photo ids from the highest photo id. Copies get their source
    photo's sha256 and its face's embedding (plus noise of 1e-3). Returns counts."""
    photo, copies = layout(person, first_row)
    rng = np.random.default_rng(first_row + 1)
    for p in np.flatnonzero(copies >= 0):  # the copy's face: the source photo's face, re-encoded
        src, dst = np.flatnonzero(photo == copies[p])[0], np.flatnonzero(photo == p)[0]
        v = vecs[src] + rng.normal(0, 1e-3, vecs.shape[1]).astype(np.float32)
        vecs[dst] = v / np.linalg.norm(v)
    with index.db.write() as c:
        photo0 = int(c.execute("SELECT COALESCE(MAX(id), 0) FROM photos").fetchone()[0]) + 1
        face0 = int(c.execute("SELECT COALESCE(MAX(id), 0) FROM faces").fetchone()[0]) + 1
        n_photos = int(photo[-1]) + 1
        sha = [hashlib.sha256(f"synthetic photo {photo0 + p}".encode()).hexdigest() for p in range(n_photos)]
        for p in np.flatnonzero(copies >= 0):
            sha[p] = sha[copies[p]]
        per_photo = np.bincount(photo, minlength=n_photos)
        now = time.time()
        first_of = np.flatnonzero(np.r_[True, photo[1:] != photo[:-1]])
        c.executemany(
            """INSERT INTO photos(id, root_id, relpath, filename, sha256, size, mtime_ns, width, height)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                (photo0 + p, roots[int(first_row + first_of[p] >= half)], f"p{photo0 + p:08d}.jpg",
                 f"p{photo0 + p:08d}.jpg", sha[p], 50_000, 0, 400, 500)
                for p in range(n_photos)
            ],
        )  # fmt: skip
        c.executemany(
            "INSERT INTO scans(photo_id, engine, status, reason, n_faces, scanned_at) VALUES (?, ?, 'ok', NULL, ?, ?)",
            [(photo0 + p, fp, int(per_photo[p]), now) for p in range(n_photos)],
        )
        lm = json.dumps(LANDMARKS)
        second = np.r_[False, photo[1:] == photo[:-1]]  # the second face of a two-face photo sits to the right
        for s in range(0, len(vecs), 100_000):
            c.executemany(
                """INSERT INTO faces(id, photo_id, engine, x1, y1, x2, y2, landmarks, det_score, quality, embedding)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    (face0 + r, photo0 + int(photo[r]), fp, BOX[0] + 150 * second[r], BOX[1],
                     BOX[2] + 150 * second[r], BOX[3], lm, 0.9, 100.0, vecs[r].tobytes())
                    for r in range(s, min(len(vecs), s + 100_000))
                ],
            )  # fmt: skip
        c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('face_id_high', ?)", (str(face0 + len(vecs) - 1),))
    keys = np.array([photo0 + int(copies[p]) if copies[p] >= 0 else photo0 + p for p in photo], np.int64)
    return {
        "faces": len(vecs), "photos": n_photos, "two_face_photos": int((per_photo == 2).sum()),
        "copied_photos": int((copies >= 0).sum()), "face0": face0, "image_keys": keys,
    }  # fmt: skip


def library_neighbours(index: Index, fp: str, fv) -> dict:
    """neighbours.update through Index.update_neighbours, as `facematch index` calls it, timed."""
    start = time.perf_counter()
    report = index.update_neighbours(fp, fv, neighbours.Scoring.for_engine(fp))
    return {"seconds": round(time.perf_counter() - start, 1), "computed": report.computed, "older": report.updated}


def db_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob(DB_NAME + "*")) / 2**20


def counts(folder: Path, fp: str) -> dict:
    with Index.open(folder) as index:
        return {
            "pairs": index.links.count(fp),
            "link_done": index.links.done_count(fp),
            "same_photo_pairs": int(  # the same-photo skip: must be 0
                index.db.one(
                    "SELECT COUNT(*) FROM link_pairs l JOIN faces fa ON fa.id = l.a JOIN faces fb ON fb.id = l.b "
                    "WHERE fa.photo_id = fb.photo_id"
                )
            ),
            "db_mb": round(db_mb(folder)),
        }


# -- the link run, in a child process ---------------------------------------------------------------
class Timers:
    """perf_counter around named callables (class attributes or module functions), put back on exit."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._undo: list[tuple[object, str, object]] = []

    def wrap(self, owner: object, attr: str, name: str) -> None:
        raw = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        is_cm = isinstance(raw, classmethod)
        fn = raw.__func__ if is_cm else raw

        @functools.wraps(fn)
        def timed(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t
                self.calls[name] = self.calls.get(name, 0) + 1

        setattr(owner, attr, classmethod(timed) if is_cm else timed)
        self._undo.append((owner, attr, raw))

    def __enter__(self) -> Timers:
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, attr, raw in reversed(self._undo):
            setattr(owner, attr, raw)


def run_link(folder: Path, threads: int) -> dict:
    """run.link on the folder, as `facematch link` calls it, with its time split and this process's peak."""
    from facematch import search
    from facematch.store.links import Links

    before = load()
    with Timers() as t:
        t.wrap(search.Searcher, "__init__", "open_searcher")
        t.wrap(Index, "vectors", "open: FAISS file (sync)")
        t.wrap(Index, "update_neighbours", "open: neighbour lists")
        t.wrap(Index, "stranger_rates", "open: stranger rates")
        t.wrap(Links, "todo", "todo")
        t.wrap(Ranker, "of", "load: Ranker.of")
        t.wrap(Ranker, "prepare", "join: tau (prepare)")
        t.wrap(Ranker, "rank", "join: Ranker.rank")
        t.wrap(blocks.BlockPairs, "pairs", "pairs: BlockPairs.pairs")
        t.wrap(blocks.BlockPairs, "classify", "pairs: of which classify")
        t.wrap(blocks, "duplicate_kind", "pairs: of which duplicate_kind")  # the name blocks.py calls
        t.wrap(run, "offer", "offer")
        t.wrap(Links, "save_block", "save_block")
        start = time.perf_counter()
        report = run.link(folder, progress=False, threads=threads)
        total = time.perf_counter() - start
    return {
        "seconds": round(total, 1), "split": {k: round(v, 1) for k, v in t.seconds.items()}, "calls": t.calls,
        "linked": report.linked, "already": report.already, "faces": report.faces, "pairs": report.pairs,
        "nprobe": report.nprobe, "settings": report.settings, "peak_mb": round(peak_mb() or 0),
        "load_before": before,
        "load_after": load(),
    }  # fmt: skip


def link_child(folder: Path, threads: int) -> dict:
    """run_link in a fresh process: its peak memory is that of a process that only links."""
    out = folder.parent / f"link-{time.time_ns()}.json"
    subprocess.run(
        [sys.executable, __file__, "--link-only", str(folder), "--threads", str(threads), "--result", str(out)],
        check=True,
    )
    res = json.loads(out.read_text())
    out.unlink()
    return res


# -- the whole measurement ------------------------------------------------------------------------------
def stamp(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg} (load {load()})", flush=True)


def measure(n: int, new_share: float, work: Path, threads: int, seed: int, cache: Path | None, kind: str, save) -> dict:
    """Build the index folder, link it, add new_share more faces, link again; `save(res)` after each step
    (a run stopped at the deadline still leaves what it measured)."""
    import faiss

    faiss.omp_set_num_threads(threads)
    rng = np.random.default_rng(seed)
    n_new = max(1, round(n * new_share))
    real = real_sface(cache)
    model = fit(real)
    t = time.perf_counter()
    vecs, person = synthetic(model, n + n_new, rng)
    vecs = np.ascontiguousarray(vecs, np.float32)
    res: dict = {
        "faces": n, "new_faces": n_new, "threads": threads, "generate_s": round(time.perf_counter() - t, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }  # fmt: skip
    stamp(f"{n + n_new:,} synthetic faces in {res['generate_s']} s")
    if work.exists():
        shutil.rmtree(work)
    folder = work / "index"
    fp = sface_fingerprint()
    indexing: dict = {}
    with Index.open(folder, create=True) as index:
        roots = [index.faces.root_id(work / "county-a", "county A"), index.faces.root_id(work / "county-b", "county B")]
        t = time.perf_counter()
        made = insert_faces(index, fp, vecs[:n], person[:n], 0, roots, n // 2)
        indexing["insert_s"] = round(time.perf_counter() - t, 1)
        res["layout"] = {k: v for k, v in made.items() if k not in ("image_keys", "face0")}
        stamp(f"inserted {made['faces']:,} faces in {made['photos']:,} photos: {indexing['insert_s']} s")
        if kind != "auto":  # as `facematch index --index-type KIND` records it
            from facematch.vectors import choose_type

            choose_type(index.db, fp, kind, None, vecs.shape[1])
        t = time.perf_counter()
        fv = index.vectors(fp, vecs.shape[1])
        indexing["faiss_build_s"] = round(time.perf_counter() - t, 1)
        res["index"] = fv.spec.describe()
        stamp(f"FAISS file {fv.spec.describe()}: {indexing['faiss_build_s']} s")
        indexing["neighbours"] = library_neighbours(index, fp, fv)
        stamp(f"neighbour lists (neighbours.update): {indexing['neighbours']}")
        t = time.perf_counter()
        cal = index.stranger_rates(fp, neighbours.Scoring.for_engine(fp))
        indexing["stranger_rates_s"] = round(time.perf_counter() - t, 1)
        indexing["calibration"] = type(cal).__name__
        stamp(f"stranger rates: {indexing['stranger_rates_s']} s ({indexing['calibration']})")
    res["indexing"] = indexing
    save(res)
    del fv
    gc.collect()
    stamp("link (full) ...")
    res["link"] = link_child(folder, threads)
    res["link"]["stored"] = counts(folder, fp)
    stamp(f"link: {json.dumps(res['link'])}")
    save(res)
    # -- 1% new faces, indexed as above, then linked again --------------------------------------------
    inc: dict = {}
    with Index.open(folder) as index:
        t = time.perf_counter()
        made = insert_faces(index, fp, vecs[n:], person[n:], n, roots, 0)
        inc["insert_s"] = round(time.perf_counter() - t, 1)
        del vecs
        gc.collect()
        t = time.perf_counter()
        fv = index.vectors(fp)
        inc["faiss_catch_up_s"] = round(time.perf_counter() - t, 1)
        scoring = neighbours.Scoring.for_engine(fp)
        inc["neighbours"] = library_neighbours(index, fp, fv)
        t = time.perf_counter()
        index.stranger_rates(fp, scoring)
        inc["stranger_rates_s"] = round(time.perf_counter() - t, 1)
    res["incremental_indexing"] = inc
    stamp(f"+{n_new:,} faces indexed: {inc}")
    save(res)
    del fv
    gc.collect()
    res["link_incremental"] = link_child(folder, threads)
    res["link_incremental"]["stored"] = counts(folder, fp)
    stamp(f"incremental link: {json.dumps(res['link_incremental'])}")
    return res


def ratio(run: dict) -> float | None:
    join = run["split"].get("join: Ranker.rank", 0.0) + run["split"].get("join: tau (prepare)", 0.0)
    return round(run["seconds"] / join, 2) if join else None


def markdown(res: dict) -> str:
    """The table docs/scale.md quotes: one row per link run, then the split of each."""
    lines = [
        f"`facematch link` end to end, {res['faces']:,} synthetic sface faces ({res['index']}), "
        f"{res['threads']} threads, {res['machine']}",
        "",
        "| run | faces linked | end to end | the join | end to end / join | peak memory | pairs stored "
        "(person / duplicate) | link_done | SQLite file | load before / after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    runs = [(n, k) for n, k in (("full", "link"), (f"+{res['new_faces']:,} new faces", "link_incremental")) if k in res]
    for name, key in runs:
        r = res[key]
        join = r["split"].get("join: Ranker.rank", 0.0) + r["split"].get("join: tau (prepare)", 0.0)
        p = r["stored"]["pairs"]
        lines.append(
            f"| {name} | {r['linked']:,} | {r['seconds']:.0f} s | {join:.0f} s | {ratio(r)}x | {r['peak_mb']:.0f} MB | "
            f"{p.get('person', 0):,} / {p.get('duplicate', 0):,} | {r['stored']['link_done']:,} | "
            f"{r['stored']['db_mb']:,} MB | {r['load_before']} / {r['load_after']} |"
        )
    for name, key in runs:
        lines += ["", f"Time split ({name} run), seconds:", "", "| part | s | calls |", "|---|---|---|"]
        r = res[key]
        lines += [f"| {k} | {v} | {r['calls'].get(k, '')} |" for k, v in r["split"].items()]
    ix = res["indexing"]
    lines += [
        "",
        f"Indexing (not linking): insert {ix['insert_s']} s, FAISS build {ix['faiss_build_s']} s, neighbour "
        f"lists (neighbours.update) {ix['neighbours']['seconds']} s, stranger rates "
        f"{ix['stranger_rates_s']} s. +{res['new_faces']:,} faces: {json.dumps(res.get('incremental_indexing'))}",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=int, default=1_000_000)
    ap.add_argument("--new", type=float, default=0.01, help="share of faces added before the incremental run")
    ap.add_argument("--work", type=Path, default=None, help="where the index folder is built (default: under --out)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--kind", default="auto", help="index type (auto: what `facematch index` chooses for N faces)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--real-cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--keep", action="store_true", help="keep the index folder afterwards")
    ap.add_argument("--link-only", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.link_only is not None:  # the child process: link once, write the result
        args.result.write_text(json.dumps(run_link(args.link_only, args.threads)))
        return 0
    work = args.work or args.out / f"link_e2e-work-{args.faces}"
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"link_e2e-{args.faces}-{datetime.now(UTC):%Y%m%dT%H%M%S}"

    def save(res: dict) -> None:
        (args.out / f"{name}.json").write_text(json.dumps(res, indent=1))
        if "link" in res:
            (args.out / f"{name}.md").write_text(markdown(res))

    res = measure(args.faces, args.new, work, args.threads, args.seed, args.real_cache, args.kind, save)
    save(res)
    print(markdown(res))
    print(f"written: {args.out / name}.json, .md")
    if not args.keep:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
