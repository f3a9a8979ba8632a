"""A million faces through the product's own path (issue 25): `facematch index`'s bookkeeping, search, the app's
upload to candidates, and `facematch link`, on one index folder, with records for a tenth of the faces.

What runs is the code a user runs, with two things bypassed:
- detection and embedding (and reading, hashing and decoding photos): `indexing.index_folder` is called with its
  `scan` hook (the one Ray uses) set to a generator of scan results holding synthetic sface-like embeddings
  (bench/search_scale.py's two-level Gaussian fitted to real sface embeddings of LFW, as bench/link_e2e.py and
  bench/neighbour_scale.py make them), with link_e2e's layout: every 500th face shares its photo with the next
  when that is the same synthetic person, every 1000th photo is a byte copy of the one before (same sha256,
  embedding plus noise of 1e-3);
- walking the folder: the photo files do not exist, so `indexer.walk_photos` is replaced by the list of their
  names (index_folder then stats each, fails, and treats it as new).
Everything after the scan is index_folder's own: one transaction per photo (Faces.save_scan), the FAISS build
(Index.vectors: the type `facematch index` chooses for that many faces), neighbour lists (neighbours.update) and
stranger rates, then the records file (records.import_file: a CSV naming the photo of every tenth face). Each is
timed inside the one index_folder call (perf_counter wrappers, put back after).

Then, on that index and on a 10,000-face index built the same way in the same run:
- the neighbour lists against exact ones (a sample of faces, flat search over every embedding): share equal and
  what r_g moves (only 1M: an IVF index's lists come from the list-major join, approximate in the lists probed);
- search: a real LFW photo, detect + embed + Searcher.search (k=50, warm, median of --repeats), and
  `facematch search PHOTO --index DIR` as a command (process start, model and index load included);
- the app's upload to candidates (upload_child: Streamlit AppTest, warm, as bench/app_latency.py's upload step:
  create a case, upload a photo, until the candidate grid is drawn; the archive's photos do not exist, so their
  thumbnails are what the app shows for a missing photo);
- `facematch link` end to end (bench/link_e2e.py's run_link in a child process, with its time split).
Ratios 1M / 10k are computed within the run.

    python bench/scale_e2e.py --faces 1000000 [--small 10000] [--cache DIR] [--work DIR] [--keep]

After a change to linking, `--relink records,bare --work DIR` links again the indexes a run with `--keep --skip link`
left in DIR, each on a fresh copy (the kept index stays as built), with records ("records") and with the copy's
records deleted ("bare"): the cost of the records in link is the difference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "bench"))

from link_e2e import LANDMARKS, Timers, layout, link_child  # noqa: E402
from link_scale import load, peak_mb  # noqa: E402
from neighbour_scale import real  # noqa: E402
from search_scale import LFW_IMAGES, fit, synthetic  # noqa: E402

from facematch import neighbours, selfjoin  # noqa: E402
from facematch.index import Index  # noqa: E402
from facematch.indexing import indexer  # noqa: E402
from facematch.store.faces import Faces  # noqa: E402
from facematch.store.neighbours import Neighbours  # noqa: E402

INSIDE = "lists/"

GIVEN = ["Adil", "Ablikim", "Aygul", "Gulnar", "Memet", "Nurmemet", "Patigul", "Rahile", "Tursun", "Zulpiye"]
FAMILY = ["Abdukerim", "Hoshur", "Islam", "Niyaz", "Osman", "Qadir", "Rozi", "Sawut", "Tohti", "Yasin"]


def stamp(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg} (load {load()})", flush=True)


def photos_of(vecs: np.ndarray, person: np.ndarray, first_photo: int) -> tuple[list[str], list[np.ndarray], list[str]]:
    """(file names, face rows per photo, sha256 per photo) of link_e2e's layout."""
    photo, copies = layout(person, 0)
    rng = np.random.default_rng(first_photo + 1)
    n_photos = int(photo[-1]) + 1
    bounds = np.searchsorted(photo, np.arange(n_photos + 1))
    rows = [np.arange(bounds[p], bounds[p + 1]) for p in range(n_photos)]
    sha = [hashlib.sha256(f"synthetic photo {first_photo + p}".encode()).hexdigest() for p in range(n_photos)]
    for p in np.flatnonzero(copies >= 0):  # the copy's face: the source photo's face, re-encoded
        sha[p] = sha[copies[p]]
        v = vecs[rows[copies[p]][0]] + rng.normal(0, 1e-3, vecs.shape[1]).astype(np.float32)
        vecs[rows[p][0]] = v / np.linalg.norm(v)
    names = [f"p{first_photo + p:08d}.jpg" for p in range(n_photos)]
    return names, rows, sha


def records_csv(path: Path, names: list[str], rows: list[np.ndarray], seed: int) -> int:
    """A records file naming the photo of every tenth face (one record per such photo): names, birth dates."""
    rng = np.random.default_rng(seed)
    starts = np.array([r[0] for r in rows])
    with path.open("w", encoding="utf-8") as f:
        f.write("record_id,name,birth_date,county,photo\n")
        n = 0
        for p in np.flatnonzero(starts % 10 == 3):
            g, fam = GIVEN[rng.integers(len(GIVEN))], FAMILY[rng.integers(len(FAMILY))]
            f.write(f"R{p:08d},{g} {fam},{rng.integers(1950, 2005)}-0{rng.integers(1, 10)}-1{rng.integers(0, 9)},"
                    f"County {rng.integers(1, 40)},{names[p]}\n")  # fmt: skip
            n += 1
    return n


def build(folder: Path, index_dir: Path, vecs: np.ndarray, person: np.ndarray, seed: int) -> dict:
    """index_folder on synthetic scans (see the module docstring), with its stages timed."""
    folder.mkdir(parents=True, exist_ok=True)
    names, rows, sha = photos_of(vecs, person, 0)
    csv = folder.parent / f"records-{len(vecs)}.csv"
    n_records = records_csv(csv, names, rows, seed)
    at = {n: i for i, n in enumerate(names)}

    made = [0.0]  # seconds spent making the synthetic scans: what detection and embedding are in a real run

    def scan(todo, engine, engine_name, workers, models):
        for item in todo:
            t0 = time.perf_counter()
            p = at[item[0].name]
            faces = [
                {"box": [40.0 + 150 * i, 50.0, 140.0 + 150 * i, 170.0], "landmarks": LANDMARKS, "score": 0.9,
                 "quality": 100.0, "embedding": vecs[r]}
                for i, r in enumerate(rows[p])
            ]  # fmt: skip
            result = {"status": "ok", "sha256": sha[p], "size": 50_000, "mtime_ns": 0, "width": 400, "height": 500,
                      "faces": faces}  # fmt: skip
            made[0] += time.perf_counter() - t0
            yield item, result

    walk = indexer.walk_photos
    indexer.walk_photos = lambda f, skipped: (f / n for n in names)
    try:
        with Timers() as t:
            t.wrap(Faces, "save_scans", "save_scans (a batch of photos per transaction)")
            t.wrap(Index, "vectors", "FAISS build (Index.vectors)")
            t.wrap(Index, "update_neighbours", "neighbour lists (neighbours.update)")
            t.wrap(Index, "stranger_rates", "stranger rates")
            t.wrap(indexer, "import_file", "records import")
            # inside the lists (not added to the split's sum): where neighbours.update's time goes
            t.wrap(selfjoin, "join", INSIDE + "the join (selfjoin.join)")
            t.wrap(selfjoin, "estimate_tau", INSIDE + "tau")
            t.wrap(selfjoin.Lists, "of", INSIDE + "the IVF lists read (Lists.of)")
            t.wrap(Faces, "image_codes", INSIDE + "image codes")
            t.wrap(Faces, "all_embeddings", INSIDE + "embeddings read")
            t.wrap(neighbours, "_keep", INSIDE + "keep (other images, length)")
            t.wrap(neighbours, "_search", INSIDE + "FAISS search (faces the join left short)")
            t.wrap(Neighbours, "save", INSIDE + "lists saved (Neighbours.save)")
            t.wrap(Neighbours, "missing", INSIDE + "missing (SQL)")
            t.wrap(Neighbours, "other_kinds", INSIDE + "other kinds (SQL)")
            start = time.perf_counter()
            report = indexer.index_folder(folder, index_dir, "sface", workers=1, records_csv=csv, progress=False,
                                          scan=scan)  # fmt: skip
            total = time.perf_counter() - start
    finally:
        indexer.walk_photos = walk
    split = {k: round(v, 1) for k, v in t.seconds.items() if not k.startswith(INSIDE)}
    split["synthetic scans (bypassed: detection and embedding)"] = round(made[0], 1)
    split["the rest (walk list, stat of each name, report, progress)"] = round(total - sum(split.values()), 1)
    inside = {k[len(INSIDE) :]: round(v, 1) for k, v in t.seconds.items() if k.startswith(INSIDE)}
    with Index.open(index_dir) as index:
        (fp,) = index.engines()
        spec = index.vectors(fp).spec.describe()
    return {
        "faces": report.faces, "photos": len(names), "records": report.records, "records_written": n_records,
        "record_problems": report.record_problems[:5], "seconds": round(total, 1), "split": split,
        "lists_split": inside, "index": spec, "peak_mb": round(peak_mb() or 0),
    }  # fmt: skip


def against_exact(index_dir: Path, sample: int, seed: int) -> dict:
    """A sample's stored lists against exact ones (a flat scan of every embedding, faces of one image skipped)."""
    import faiss

    with Index.open(index_dir) as index:
        (fp,) = index.engines()
        scoring = neighbours.Scoring.for_engine(fp)
        ids, codes = index.faces.image_codes(fp)
        vecs = index.faces.all_embeddings(fp, ids, index.faces.embedding_dim(fp))
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(ids), size=min(sample, len(ids)), replace=False))
        flat = faiss.IndexFlatIP(vecs.shape[1])
        flat.add(vecs)
        sims, found = flat.search(vecs[pick], scoring.length + 40)
        stored = index.neighbours.lists(ids[pick], *scoring.lists)
        hub_all = index.neighbours.hub(ids, *scoring.lists)
    equal, hub_exact, hub_stored, overlap = [], [], [], []
    for row, i in enumerate(pick.tolist()):
        ok = (found[row] >= 0) & (codes[np.maximum(found[row], 0)] != codes[i])
        want = ids[found[row][ok][: scoring.length]]
        got_ids, got_sims = stored[int(ids[i])]
        equal.append(set(want.tolist()) == set(got_ids.tolist()))
        overlap.append(len(set(want.tolist()) & set(got_ids.tolist())) / scoring.length)
        hub_exact.append(scoring.hub(sims[row][ok][: scoring.length]))
        hub_stored.append(scoring.hub(got_sims))
    he, hs = np.array(hub_exact), np.array(hub_stored)
    drop = he - hs
    off_err = scoring.alpha * (drop - drop.mean())  # what a shown score moves by: an even drop changes no offset
    return {
        "sample": len(pick), "lists_equal": round(float(np.mean(equal)), 4),
        "neighbours_found_of_exact": round(float(np.mean(overlap)), 4),
        "r_g_drop_mean": round(float(drop.mean()), 4), "r_g_drop_sd": round(float(drop.std()), 4),
        "r_g_sd_exact": round(float(he.std()), 4), "r_g_correlation": round(float(np.corrcoef(he, hs)[0, 1]), 4),
        "shown_score_error_sd": round(float(off_err.std()), 4),
        "shown_score_error_p99": round(float(np.percentile(np.abs(off_err), 99)), 4),
        "r_g_mean_archive": round(float(np.nanmean(hub_all)), 4),
    }  # fmt: skip


def query_photos(n: int) -> list[Path]:
    return sorted(LFW_IMAGES.glob("*/*.jpg"))[::997][:n]


def search_times(index_dir: Path, repeats: int) -> dict:
    """detect + embed + Searcher.search (k=50), warm, median of `repeats` photos; then the CLI as a command."""
    from facematch.search import Searcher

    photos = query_photos(repeats)
    t = time.perf_counter()
    s = Searcher(index_dir)
    open_s = time.perf_counter() - t
    got: dict[str, list[float]] = {"detect": [], "search": [], "both": []}
    for p in photos:
        t0 = time.perf_counter()
        q = s.detect_file(p)
        t1 = time.perf_counter()
        if q.faces:
            s.search([q.largest()], k=50)
        t2 = time.perf_counter()
        got["detect"].append(t1 - t0)
        got["search"].append(t2 - t1)
        got["both"].append(t2 - t0)
    s.close()
    cli = []
    for p in photos[:3]:
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", "import sys; from facematch.cli import main; sys.exit(main(sys.argv[1:]))",
             "search", str(p), "--index", str(index_dir), "--json"],
            check=True, capture_output=True, env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
        )  # fmt: skip
        cli.append(time.perf_counter() - t)
    return {
        "open_searcher_s": round(open_s, 2), **{f"{k}_s": round(statistics.median(v), 4) for k, v in got.items()},
        "cli_search_s": round(statistics.median(cli), 2), "cli_runs": [round(x, 2) for x in cli],
    }  # fmt: skip


def upload_child(index_dir: Path, repeats: int) -> dict:
    """In this process: the app (Streamlit AppTest, the server side) on this index, warm (model and index loaded,
    as on a running server); per repeat a new session creates a case and uploads a photo, timed until the
    candidate grid is drawn (bench/app_latency.py's upload step; its compare step needs the archive photo, which
    does not exist here). upload_s: the median of the uploads that drew candidates (two of the five LFW photos
    drew none in this flow; their times are in upload_runs, candidates_shown says which)."""
    os.environ["FACEMATCH_INDEX"] = str(index_dir)
    from streamlit.testing.v1 import AppTest

    from facematch.app import serve

    app = str(Path(serve.APP))
    warm = AppTest.from_file(app, default_timeout=900)
    t = time.perf_counter()
    warm.run()
    first = time.perf_counter() - t
    assert not warm.exception, [e.value for e in warm.exception]
    photos, times, shown = query_photos(repeats), [], []
    for i, q in enumerate(photos):
        at = AppTest.from_file(app, default_timeout=900)
        at.run()
        at.sidebar.text_input(key="reviewer").input("bench")
        at.sidebar.text_input(key="new_case_name").input(f"scale {i}")
        next(b for b in at.sidebar.button if b.label == "Create case").click()
        at.run()
        at.file_uploader[0].set_value((f"{i}-{q.name}", q.read_bytes(), "image/jpeg"))
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
        assert not at.exception, [e.value for e in at.exception]
        shown.append(len([b for b in at.button if b.key and b.key.startswith("cmp_")]))
    drew = [t for t, n in zip(times, shown, strict=True) if n] or times
    return {"first_page_warm_s": round(first, 2), "upload_s": round(statistics.median(drew), 3),
            "upload_runs": [round(x, 3) for x in times], "candidates_shown": shown}  # fmt: skip


def upload_times(index_dir: Path, repeats: int) -> dict:
    """upload_child in a fresh process (its own model and index load, as a server has)."""
    out = index_dir.parent / "upload.json"
    cmd = [sys.executable, __file__, "--upload-child", str(index_dir), "--repeats", str(repeats), "--result", str(out)]
    proc = subprocess.run(cmd, env=dict(os.environ, PYTHONPATH=str(REPO / "src")), capture_output=True, text=True)
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    return json.loads(out.read_text())


def relink(work: Path, kinds: list[str], threads: int, save) -> dict:
    """link_child on a fresh copy of each index kept in `work` (unlinked: a run with --keep --skip link), per kind:
    "records" as built, "bare" with the copy's records deleted (the same faces and pairs, no reasons to make)."""
    res: dict = {}
    for label in ("small", "large"):
        kept = work / label / "index"
        if not kept.is_dir():
            continue
        with Index.open(kept) as index:
            if index.db.one("SELECT COUNT(*) FROM link_done"):
                raise SystemExit(f"{kept} is linked already: --relink needs an index kept with --skip link")
        for kind in kinds:
            copy = work / label / f"relink-{kind}" / "index"
            shutil.rmtree(copy.parent, ignore_errors=True)
            shutil.copytree(kept, copy)
            if kind == "bare":
                with Index.open(copy) as index, index.db.write() as c:
                    for table in ("record_photos", "record_names", "records"):
                        c.execute(f"DELETE FROM {table}")
            r = res.setdefault(label, {})[kind] = link_child(copy, threads)
            shutil.rmtree(copy.parent)
            stamp(f"{label} link ({kind}): {r['seconds']} s, classify {r['split'].get('pairs: of which classify')} s")
            save(res)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000, help="the index the search and upload times are compared to")
    ap.add_argument("--cache", type=Path, default=None, help="the evaluate cache of LFW sface scans")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "scale_e2e-work")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sample", type=int, default=2000, help="faces whose lists are compared with exact ones")
    ap.add_argument("--seed", type=int, default=25)
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: upload, link, exact")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--relink", default="", help="records,bare: link the indexes kept in --work again (see above)")
    ap.add_argument("--upload-child", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.upload_child is not None:
        args.result.write_text(json.dumps(upload_child(args.upload_child, args.repeats)))
        return 0
    skip = set(filter(None, args.skip.split(",")))
    import faiss

    faiss.omp_set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"scale_e2e-{args.faces}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    res: dict = {"faces": args.faces, "small": args.small, "threads": args.threads, "machine": f"{os.cpu_count()} CPUs",
                 "load_start": load()}  # fmt: skip

    def save() -> None:
        (args.out / f"{name}.json").write_text(json.dumps(res, indent=1))

    if args.relink:
        kinds = [k for k in args.relink.split(",") if k]
        if not set(kinds) <= {"records", "bare"}:
            raise SystemExit("--relink takes records, bare or both")
        out = args.out / f"scale_e2e-relink-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
        got = relink(args.work, kinds, args.threads, lambda r: out.write_text(json.dumps({**res, "relink": r})))
        print(json.dumps(got, indent=1))
        print(f"written: {out}")
        return 0
    if args.work.exists():
        shutil.rmtree(args.work)
    model = fit(real(args.cache))
    rng = np.random.default_rng(args.seed)
    sizes = {"small": args.small, "large": args.faces}
    for label, n in sizes.items():
        t = time.perf_counter()
        vecs, person = synthetic(model, n, rng)
        vecs = np.ascontiguousarray(vecs, np.float32)
        stamp(f"{label}: {n:,} synthetic faces in {time.perf_counter() - t:.1f} s")
        r = res[label] = {"index": build(args.work / label / "photos", args.work / label / "index", vecs, person,
                                         args.seed)}  # fmt: skip
        del vecs, person
        stamp(f"{label} indexed: {json.dumps(r['index'])}")
        save()
    for label in sizes:
        r, idx = res[label], args.work / label / "index"
        if "exact" not in skip:
            r["lists_vs_exact"] = against_exact(idx, args.sample, args.seed)
            stamp(f"{label} lists vs exact: {r['lists_vs_exact']}")
        r["search"] = search_times(idx, args.repeats)
        stamp(f"{label} search: {r['search']}")
        save()
        if "upload" not in skip:
            r["app"] = upload_times(idx, args.repeats)
            stamp(f"{label} app: {r['app']}")
            save()
    for label in sizes:
        if "link" not in skip:
            res[label]["link"] = link_child(args.work / label / "index", args.threads)
            stamp(f"{label} link: {json.dumps(res[label]['link'])}")
            save()
    ratio = {}
    for key in ("search_s", "both_s", "cli_search_s"):
        ratio[key] = round(res["large"]["search"][key] / max(res["small"]["search"][key], 1e-9), 2)
    if "upload_s" in res["large"].get("app", {}) and "upload_s" in res["small"].get("app", {}):
        ratio["app_upload"] = round(res["large"]["app"]["upload_s"] / res["small"]["app"]["upload_s"], 2)
    res["ratio_large_over_small"] = ratio
    res["load_end"] = load()
    save()
    print(json.dumps(res, indent=1))
    print(f"written: {args.out / name}.json")
    if not args.keep:
        shutil.rmtree(args.work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
