"""Indexing speed of facematch against a plain face_recognition-style dlib loop, on the same photos.

Why this exists: facematch's indexer does more per photo than the simplest possible script (hashing,
safe decoding, a padded retry when no face is found, extra upsampling of small photos, aligned chips,
a sharpness score, one SQLite transaction per photo, a FAISS file at the end), and it spreads the work
over worker processes. This script answers "what does all that cost, or gain, on this machine?" by
timing, in one run:

1. facematch's real indexer, ``facematch.indexer.index_folder``, into a fresh temporary index folder;
2. a baseline: one process, one loop, written the way the face_recognition library's CLI does it
   (PIL -> RGB numpy, HOG detector with 1 upsample, 5-point shape predictor,
   ``compute_face_descriptor(img, shape, 1)`` per face, embeddings kept in a Python list).

The baseline is always the dlib loop, whatever ``--engine`` says, so ``--engine sface`` compares
facematch-with-sface against dlib-the-simple-way. Runs alternate (baseline, facematch, baseline, ...)
and the median of each side is reported, because shared machines are noisy.

    python bench/index_speed.py [--photos DIR] [--n 200] [--engine dlib] [--workers N] [--repeats 2] [--out bench/out]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = REPO.parent / "shared/data/lfw/images"
DEFAULT_OUT = REPO / "bench" / "out"


@dataclass
class Run:
    """One timed pass over all photos by one side."""

    side: str  # "baseline" or "facematch"
    wall_s: float
    cpu_s: float  # user+sys of this process and of its reaped children (facematch's workers)
    photos: int
    faces: int
    photos_with_faces: int
    errors: int = 0
    #: CPU-seconds the rest of the machine used meanwhile (other processes, hypervisor steal); None off Linux.
    others_cpu_s: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def photos_per_s(self) -> float:
        return self.photos / self.wall_s if self.wall_s > 0 else float("nan")


def _cpu_seconds() -> float:
    """CPU time (user+sys) of this process plus its terminated, waited-for children (this process only off Unix)."""
    try:
        import resource
    except ImportError:  # Windows
        return time.process_time()
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _machine_busy_seconds() -> float | None:
    """CPU-seconds all CPUs have been busy (or stolen by the hypervisor) since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: already counted in user/nice]
    ticks = [int(v) for v in fields[1:9]]
    busy = ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
    return busy / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(max_wait_s: float, threshold_cpus: float = 0.25, window_s: float = 3.0) -> float | None:
    """Wait (up to max_wait_s) until the machine's other work uses under threshold_cpus; returns what it used last.

    A shared machine is rarely idle for long; starting each timed run in a quiet moment at least keeps
    the start-up, where a pool is most sensitive, from being measured against someone else's burst.
    """
    deadline = time.monotonic() + max_wait_s
    while True:
        b0 = _machine_busy_seconds()
        if b0 is None:
            return None
        time.sleep(window_s)
        used = (_machine_busy_seconds() - b0) / window_s
        if used < threshold_cpus or time.monotonic() >= deadline:
            return used


def _autogroup() -> bool:
    """Is Linux's per-session CPU sharing on (sched_autogroup)?"""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


# -- photos ---------------------------------------------------------------------------------------
def _image_suffixes() -> set[str]:
    from facematch import images

    return images.IMAGE_SUFFIXES


def copy_lfw_like(src: Path, dest: Path, n: int) -> list[Path]:
    """Copy the first n image files, person folders in sorted order, files sorted within each."""
    suffixes = _image_suffixes()
    chosen: list[Path] = []
    folders = sorted(p for p in src.iterdir() if p.is_dir())
    loose = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    chosen.extend(loose[:n])
    for folder in folders:
        if len(chosen) >= n:
            break
        chosen.extend(sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes))
    chosen = chosen[:n]
    out: list[Path] = []
    for p in chosen:
        target = dest / p.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
        out.append(target)
    return out


def build_demo_photos(dest: Path, n: int) -> list[Path]:
    """The demo gallery, repeated up to n photos; each repeat is re-encoded so its sha256 differs."""
    from PIL import Image

    from facematch.demo import build_gallery

    gallery = build_gallery(dest.parent / "demo_gallery")
    suffixes = _image_suffixes()
    sources = sorted(p for p in gallery.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if not sources:
        raise SystemExit(f"the demo gallery at {gallery} holds no photos")
    dest.mkdir(parents=True, exist_ok=True)
    seen: set[bytes] = set()
    out: list[Path] = []
    for i in range(n):
        src = sources[i % len(sources)]
        rnd = i // len(sources)
        if rnd == 0:
            target = dest / f"r000_{src.name}"
            data = src.read_bytes()
        else:
            # Different JPEG quality per round; a comment guarantees distinct bytes if two qualities collide.
            with Image.open(src) as im:
                rgb = im.convert("RGB")
            buf = io.BytesIO()
            rgb.save(buf, format="JPEG", quality=95 - (rnd % 40), comment=f"copy {rnd}".encode())
            data = buf.getvalue()
            target = dest / f"r{rnd:03d}_{src.stem}.jpg"
        key = hashlib.sha256(data).digest()
        if key in seen:  # the comment makes this unreachable in practice; checked all the same
            raise SystemExit(f"duplicate photo bytes for {target.name}")
        seen.add(key)
        target.write_bytes(data)
        out.append(target)
    return out


# -- the two sides ---------------------------------------------------------------------------------
def run_baseline(paths: list[Path]) -> Run:
    """face_recognition's CLI, inlined: load_image_file + face_encodings(num_jitters=1, model='small').

    Not copied from the CLI: its 1600 px thumbnail of large *unknown* photos (irrelevant for 250 px LFW)
    and its optional --cpus process pool (off by default).
    """
    import dlib
    import face_recognition_models as frm
    import numpy as np
    import PIL.Image

    wall0, cpu0, proc0 = time.perf_counter(), _cpu_seconds(), time.process_time()
    # Models are loaded inside the timed region: face_recognition loads them at import, once per run.
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    load_s = time.perf_counter() - wall0
    encodings: list[np.ndarray] = []
    with_faces = errors = 0
    for p in paths:
        try:
            img = np.array(PIL.Image.open(p).convert("RGB"))
        except Exception:  # face_recognition's CLI would crash; count it and go on
            errors += 1
            continue
        rects = detector(img, 1)
        shapes = [predictor(img, r) for r in rects]
        found = [np.array(encoder.compute_face_descriptor(img, s, 1)) for s in shapes]
        with_faces += bool(found)
        encodings.extend(found)
    wall = time.perf_counter() - wall0
    return Run(
        side="baseline",
        wall_s=wall,
        cpu_s=_cpu_seconds() - cpu0,
        photos=len(paths),
        faces=len(encodings),
        photos_with_faces=with_faces,
        errors=errors,
        extra={"model_load_s": load_s, "process_time_s": time.process_time() - proc0},
    )


# -- where the time goes ---------------------------------------------------------------------------
#: Rows of the facematch run's breakdown: (Profile attribute, label). Wall seconds of the main process,
#: except the worker rows, which add up CPU-bound time inside the workers over all photos.
BREAKDOWN = [
    ("spawn_s", "main: spawn the worker processes"),
    ("engine_load_s", "main: engine fingerprint (model loaded, or files hashed)"),
    ("walk_s", "main: walk the folder, stat, compare"),
    ("first_wait_s", "main: waiting for the first result"),
    ("wait_s", "main: waiting for results after the first"),
    ("write_s", "main: SQLite writes (save_scan)"),
    ("sync_s", "main: FAISS sync"),
    ("after_s", "main: neighbour lists (hubness) + the archive's stranger rates"),
    ("close_s", "main: stopping the workers"),
    ("other_s", "main: everything else"),
    ("total_s", "total wall"),
    ("ready_at_s", "  (first worker ready, from the start)"),
    ("first_result_at_s", "  (first result, from the start)"),
    ("w_read_s", "workers: read + sha256 (sum)"),
    ("w_decode_s", "workers: decode (sum)"),
    ("w_faces_s", "workers: detect + align + embed (sum)"),
]
#: Rows that add up to the total wall time.
SUMMED = ("spawn_s", "engine_load_s", "walk_s", "first_wait_s", "wait_s", "write_s", "sync_s", "after_s", "close_s")


@dataclass
class Profile:
    """Where one facematch run's time went, measured by wrapping the indexer's parts from outside."""

    spawn_s: float = 0.0
    engine_load_s: float = 0.0
    walk_s: float = 0.0
    first_wait_s: float = 0.0
    wait_s: float = 0.0
    write_s: float = 0.0
    sync_s: float = 0.0
    after_s: float = 0.0
    close_s: float = 0.0
    other_s: float = 0.0
    total_s: float = 0.0
    ready_at_s: float | None = None
    first_result_at_s: float | None = None
    w_read_s: float | None = None
    w_decode_s: float | None = None
    w_faces_s: float | None = None


class _Instrument:
    """Wraps facematch.indexer's engine loading, walk, scan, writes, FAISS sync and pool stop, then restores them.

    Works on any version of the indexer that has these names (missing ones are left out), so the same
    bench profiles the code before and after a change.
    """

    def __init__(self) -> None:
        self.prof = Profile()
        self._undo: list[tuple[object, str, object]] = []
        self._pools: list = []

    def _patch(self, owner: object, name: str, make) -> None:
        if hasattr(owner, name):
            orig = getattr(owner, name)
            self._undo.append((owner, name, orig))
            setattr(owner, name, make(orig))

    def _timed(self, attr: str):
        prof = self.prof

        def make(fn):
            def wrapper(*a, **k):
                t = time.perf_counter()
                try:
                    return fn(*a, **k)
                finally:
                    setattr(prof, attr, getattr(prof, attr) + time.perf_counter() - t)

            return wrapper

        return make

    def __enter__(self) -> _Instrument:
        import facematch.indexing.indexer as ix

        self.t0 = time.perf_counter()
        prof, t0 = self.prof, self.t0
        for name in ("get_engine", "engine_info"):
            self._patch(ix, name, self._timed("engine_load_s"))
        self._patch(ix, "sync", self._timed("sync_s"))  # an indexer from before the Index object
        self._patch(ix, "start_pool", self._timed("spawn_s"))
        try:  # the Index object: writes through index.faces, FAISS through Index.vectors
            from facematch.index import Index
            from facematch.store import Faces as Writes
        except ImportError:  # an older checkout (bench --before): one Store class
            from facematch.store import Store as Writes

            Index = None
        if Index is not None:
            self._patch(Index, "vectors", self._timed("sync_s"))
            self._patch(Index, "update_neighbours", self._timed("after_s"))
            self._patch(Index, "stranger_rates", self._timed("after_s"))
        self._patch(Writes, "save_scan", self._timed("write_s"))
        self._patch(Writes, "touch_photo", self._timed("write_s"))

        def walk(fn):
            def wrapper(*a, **k):
                it = fn(*a, **k)
                while True:
                    t = time.perf_counter()
                    try:
                        item = next(it)
                    except StopIteration:
                        prof.walk_s += time.perf_counter() - t
                        return
                    prof.walk_s += time.perf_counter() - t
                    yield item

            return wrapper

        self._patch(ix, "walk_photos", walk)

        def scan(fn):
            def wrapper(*a, **k):
                gen = fn(*a, **k)
                t = time.perf_counter()
                for item, result in gen:
                    now = time.perf_counter()
                    if prof.first_result_at_s is None:
                        prof.first_result_at_s = now - t0
                        prof.first_wait_s += now - t
                    else:
                        prof.wait_s += now - t
                    for stage, sec in (result.get("seconds") or {}).items():
                        attr = f"w_{stage}_s"
                        setattr(prof, attr, (getattr(prof, attr) or 0.0) + sec)
                    yield item, result
                    t = time.perf_counter()
                prof.close_s += time.perf_counter() - t  # the generator's end: a pool it owns stops here

            return wrapper

        self._patch(ix, "scan_all", scan)
        try:
            from facematch.indexing import workers

            pools = self._pools

            def track(fn):
                def wrapper(pool, *a, **k):
                    pools.append(pool)
                    return fn(pool, *a, **k)

                return wrapper

            self._patch(workers.Pool, "start", track)
            self._patch(workers.Pool, "close", self._timed("close_s"))
        except ImportError:  # the indexer before workers.py: ProcessPoolExecutor, stopped inside scan_all
            pass
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, orig in reversed(self._undo):
            setattr(owner, name, orig)
        p = self.prof
        p.total_s = time.perf_counter() - self.t0
        ready = [pool.first_ready_at - self.t0 for pool in self._pools if pool.first_ready_at]
        p.ready_at_s = ready[0] if ready else None
        p.other_s = p.total_s - sum(getattr(p, attr) for attr in SUMMED)


def stage_profile(paths: list[Path], engine_name: str, n: int = 60) -> dict[str, dict[str, float]]:
    """CPU ms per photo by stage, one process, on the first n photos: the baseline's steps and the engine's.

    A pool's run hides how the per-photo time splits between detection and embedding; this untimed
    pass shows it, for both sides, on the same photos.
    """
    import dlib
    import face_recognition_models as frm
    import numpy as np
    import PIL.Image

    from facematch import images
    from facematch.engines import get_engine

    sample = paths[:n]
    out: dict[str, dict[str, float]] = {}
    clock = time.process_time
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    encoder = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    acc = dict.fromkeys(("decode", "detect", "embed"), 0.0)
    for p in sample:
        t = clock()
        img = np.array(PIL.Image.open(p).convert("RGB"))
        acc["decode"] += clock() - t
        t = clock()
        shapes = [predictor(img, r) for r in detector(img, 1)]
        acc["detect"] += clock() - t
        t = clock()
        for shape in shapes:
            encoder.compute_face_descriptor(img, shape, 1)
        acc["embed"] += clock() - t
    out["baseline (dlib loop)"] = {k: 1000 * v / len(sample) for k, v in acc.items()}
    engine = get_engine(engine_name, threads=1)
    acc = dict.fromkeys(("read+hash", "decode", "detect", "embed"), 0.0)
    for p in sample:
        t = clock()
        data = images.read_file(p)
        images.sha256_bytes(data)
        acc["read+hash"] += clock() - t
        t = clock()
        rgb = images.decode(data).rgb
        acc["decode"] += clock() - t
        t = clock()
        faces = engine.detect(rgb)
        acc["detect"] += clock() - t
        t = clock()
        engine.embed(rgb, faces)
        acc["embed"] += clock() - t
    out[f"facematch {engine_name}"] = {k: 1000 * v / len(sample) for k, v in acc.items()}
    return out


def print_stage_profile(stages: dict[str, dict[str, float]]) -> None:
    cols = ["read+hash", "decode", "detect", "embed"]
    print("\nCPU ms per photo by stage, one process, 1 thread (untimed pass):")
    print(f"  {'':28s}" + "".join(f"{c:>10s}" for c in cols) + f"{'total':>10s}")
    for side, row in stages.items():
        cells = "".join(f"{row[c]:10.1f}" if c in row else f"{'-':>10s}" for c in cols)
        print(f"  {side:28s}{cells}{sum(row.values()):10.1f}")


def print_breakdown(profiles: list[Profile], n_photos: int) -> None:
    """Median of each row over the repeats, in seconds and as a share of the total wall time."""
    total = statistics.median(p.total_s for p in profiles)
    print(f"\nWhere a facematch run's time goes (median of {len(profiles)} runs, {n_photos} photos):")
    for attr, label in BREAKDOWN:
        values = [getattr(p, attr) for p in profiles if getattr(p, attr) is not None]
        if not values:
            print(f"  {label:52s} {'n/a':>8s}")
            continue
        v = statistics.median(values)
        share = f"{1000 * v / n_photos:6.1f} ms/photo" if attr.startswith("w_") else f"{100 * v / total:5.1f}%"
        print(f"  {label:52s} {v:8.2f} s  {share}")


def run_facematch(folder: Path, work: Path, engine: str, workers: int | None, n_photos: int, i: int) -> Run:
    """facematch's real indexer into a fresh index folder (removed afterwards)."""
    from facematch.indexing import index_folder

    index_dir = work / f"index_{i}"
    wall0, cpu0 = time.perf_counter(), _cpu_seconds()
    with _Instrument() as inst:
        report = index_folder(folder, index_dir, engine, workers=workers, progress=False)
    wall = time.perf_counter() - wall0
    cpu = _cpu_seconds() - cpu0  # the pool is shut down (workers reaped) when index_folder returns
    shutil.rmtree(index_dir, ignore_errors=True)
    if report.seen != n_photos:
        print(f"  warning: facematch saw {report.seen} photos, expected {n_photos}", file=sys.stderr)
    return Run(
        side="facematch",
        wall_s=wall,
        cpu_s=cpu,
        photos=report.seen,
        faces=report.faces,
        photos_with_faces=report.with_faces,
        errors=len(report.errors),
        extra={
            "report_seconds": report.seconds,
            "no_face": len(report.no_face),
            "engine_fingerprint": report.engine,
            "interrupted": report.interrupted,
            "profile": asdict(inst.prof),
        },
    )


# -- the run ---------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--photos", type=Path, default=None, help=f"photo folder (default: {DEFAULT_PHOTOS})")
    ap.add_argument("--n", type=int, default=200, help="number of photos (default 200)")
    ap.add_argument("--engine", default="dlib", help="facematch engine (default dlib); the baseline is always dlib")
    ap.add_argument("--workers", type=int, default=None, help="facematch worker processes (default: CPU count)")
    ap.add_argument("--repeats", type=int, default=2, help="timed runs of each side, alternating (default 2)")
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        help="before each timed run, wait up to this many seconds for other work to drop under 0.25 CPUs",
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"folder for the JSON result (default {DEFAULT_OUT})")
    args = ap.parse_args(argv)
    if args.n < 1 or args.repeats < 1:
        ap.error("--n and --repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_start = os.getloadavg()
    source: str
    with tempfile.TemporaryDirectory(prefix="facematch-bench-") as tmp:
        work = Path(tmp)
        photo_dir = work / "photos"
        photo_dir.mkdir()
        if args.photos is not None:
            if not args.photos.is_dir():
                raise SystemExit(f"photo folder not found: {args.photos}")
            paths = copy_lfw_like(args.photos, photo_dir, args.n)
            source = str(args.photos)
        elif DEFAULT_PHOTOS.is_dir():
            paths = copy_lfw_like(DEFAULT_PHOTOS, photo_dir, args.n)
            source = str(DEFAULT_PHOTOS)
        else:
            print(f"note: {DEFAULT_PHOTOS} not found; using the demo gallery, re-encoded copies up to {args.n} photos")
            paths = build_demo_photos(photo_dir, args.n)
            source = "facematch demo gallery (repeated, re-encoded)"
        if len(paths) < args.n:
            print(f"note: only {len(paths)} photos available in {source}")
        n = len(paths)
        if n == 0:
            raise SystemExit("no photos to index")

        # Warm-up, untimed: imports and a first read of every model file, so run 1 of either side does
        # not alone pay for a cold disk. (Spawned facematch workers still import everything themselves.)
        from facematch.engines import get_engine

        get_engine("dlib")
        if args.engine != "dlib":
            get_engine(args.engine)
        stages = stage_profile(paths, args.engine)
        print_stage_profile(stages)
        workers_eff = max(1, args.workers or os.cpu_count() or 1)

        print(
            f"{n} photos from {source}; facematch engine={args.engine} workers={workers_eff}; "
            f"baseline = face_recognition-style dlib loop, 1 process; {args.repeats} alternating repeats; "
            f"load average at start {load_start[0]:.2f} on {os.cpu_count()} CPUs"
        )
        runs: list[Run] = []
        for i in range(args.repeats):
            for side in ("baseline", "facematch"):
                if args.wait_quiet > 0:
                    wait_until_quiet(args.wait_quiet)
                busy0 = _machine_busy_seconds()
                if side == "baseline":
                    r = run_baseline(paths)
                else:
                    r = run_facematch(photo_dir, work, args.engine, args.workers, n, i)
                busy1 = _machine_busy_seconds()
                if busy0 is not None and busy1 is not None:
                    r.others_cpu_s = max(0.0, busy1 - busy0 - r.cpu_s)
                runs.append(r)
                others = "" if r.others_cpu_s is None else f"  others used {r.others_cpu_s / r.wall_s:4.2f} CPUs"
                print(
                    f"  [{i + 1}/{args.repeats}] {side:9s} {r.wall_s:7.2f} s  {r.photos_per_s:6.2f} photos/s  "
                    f"cpu/wall {r.cpu_s / r.wall_s:4.2f}  faces {r.faces}{others}",
                    flush=True,
                )

    base = [r for r in runs if r.side == "baseline"]
    fm = [r for r in runs if r.side == "facematch"]
    base_pps = statistics.median(r.photos_per_s for r in base)
    fm_pps = statistics.median(r.photos_per_s for r in fm)
    ratio = fm_pps / base_pps
    base_cpu = statistics.median(1000 * r.cpu_s / r.photos for r in base)
    fm_cpu = statistics.median(1000 * r.cpu_s / r.photos for r in fm)
    base_label = "baseline (dlib, face_recognition-style, 1 proc)"
    fm_label = f"facematch ({args.engine}, {workers_eff} workers)"
    width = max(len(base_label), len(fm_label))
    print()
    print(
        f"{'side':{width}s}  {'photos/s':>9s}  {'median s':>9s}  {'cpu/wall':>8s}  {'cpu ms/photo':>12s}  "
        f"{'faces':>6s}  {'w/ face':>7s}"
    )
    for label, rs in ((base_label, base), (fm_label, fm)):
        print(
            f"{label:{width}s}  {statistics.median(r.photos_per_s for r in rs):9.2f}  "
            f"{statistics.median(r.wall_s for r in rs):9.2f}  "
            f"{statistics.median(r.cpu_s / r.wall_s for r in rs):8.2f}  "
            f"{statistics.median(1000 * r.cpu_s / r.photos for r in rs):12.1f}  "
            f"{rs[-1].faces:6d}  {rs[-1].photos_with_faces:7d}"
        )
    pair_ratios = [f.photos_per_s / b.photos_per_s for b, f in zip(base, fm, strict=True)]
    print(
        f"ratio facematch / baseline (photos/s, medians): {ratio:.2f}x; per repeat (each against the baseline "
        f"run just before it): {', '.join(f'{r:.2f}' for r in pair_ratios)} (spread {min(pair_ratios):.2f}-"
        f"{max(pair_ratios):.2f})"
    )
    print(f"CPU time per photo, facematch / baseline (less sensitive to a busy machine): {fm_cpu / base_cpu:.2f}x")
    busy = [r.others_cpu_s / r.wall_s for r in runs if r.others_cpu_s is not None]
    others_max = max(busy) if busy else None
    if others_max is not None and others_max > 0.25:
        print(
            f"warning: other work used up to {others_max:.2f} of {os.cpu_count()} CPUs during a run; a multi-process "
            "indexer loses more to that than a one-process loop, so rerun on an idle machine before trusting the ratio."
        )
        if _autogroup():
            print(
                "  (Linux shares CPU time between sessions here (sched_autogroup), not between processes: while "
                "other sessions are busy, this run's workers together get about what one process would, so the "
                "ratio tends to the CPU-per-photo ratio and says nothing about the pool.)"
            )
    print_breakdown([Profile(**r.extra["profile"]) for r in fm], n)
    if args.engine != "dlib":
        print(f"note: facematch used '{args.engine}' but the baseline is the dlib loop; faces found differ by model.")
    for name, rs in (("baseline", base), ("facematch", fm)):
        if len({r.faces for r in rs}) > 1:
            print(f"warning: {name} found different face counts across repeats: {[r.faces for r in rs]}")

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "photos_source": source,
        "n_photos": n,
        "engine": args.engine,
        "baseline": "dlib HOG upsample=1 + 5-point + compute_face_descriptor(img, shape, 1), one process",
        "workers": workers_eff,
        "repeats": args.repeats,
        "baseline_photos_per_s_median": base_pps,
        "facematch_photos_per_s_median": fm_pps,
        "ratio_facematch_over_baseline": ratio,
        "ratios_per_repeat": pair_ratios,
        "stage_profile_cpu_ms_per_photo": stages,
        "baseline_cpu_ms_per_photo_median": base_cpu,
        "facematch_cpu_ms_per_photo_median": fm_cpu,
        "others_cpus_max": others_max,
        "baseline_faces": base[-1].faces,
        "facematch_faces": fm[-1].faces,
        "runs": [{**asdict(r), "photos_per_s": r.photos_per_s} for r in runs],
        "machine": {
            "cpu_count": os.cpu_count(),
            "loadavg_start": load_start,
            "loadavg_end": os.getloadavg(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "dlib": _version("dlib"),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out_file = args.out / f"index_speed-{args.engine.replace(':', '-')}-n{n}-{stamp}.json"
    out_file.write_text(json.dumps(result, indent=2) + "\n")
    print(f"saved {out_file}")
    return 0


def _version(module: str) -> str | None:
    try:
        return str(__import__(module).__version__)
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
