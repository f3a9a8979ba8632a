"""Walks a photo folder and indexes every face, in worker processes, resumably.

Workers read, hash, decode, detect and embed; the main process alone writes, one transaction per
photo, so the database is valid after a kill at any moment and a rerun skips what is done. The
FAISS file is brought in line with the database at the end (and on any later open).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from . import images
from .engines import DEFAULT_ENGINE, FaceEngine, get_engine
from .index import Index
from .neighbours import Scoring
from .records import import_file


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class IndexReport:
    engine: str = ""
    seen: int = 0
    unchanged: int = 0
    scanned: int = 0
    with_faces: int = 0
    faces: int = 0
    no_face: list[Skipped] = field(default_factory=list)
    errors: list[Skipped] = field(default_factory=list)
    records: int = 0
    record_problems: list[str] = field(default_factory=list)  # rows of the records file not read as they were
    interrupted: bool = False
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        return len(self.no_face) + len(self.errors)


# -- the per-photo work, run in a worker process ------------------------------------------------
_ENGINE: FaceEngine | None = None


def _init_worker(engine_name: str, models: str | None, threads: int | None) -> None:
    global _ENGINE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us cleanly
    import cv2

    cv2.setNumThreads(threads or 0)
    _ENGINE = get_engine(engine_name, threads=threads, models=Path(models) if models else None)


def scan_photo(path: str, known_sha256: str | None = None, engine: FaceEngine | None = None) -> dict:
    """Everything the database needs about one photo. Never raises for a bad photo: says why instead."""
    engine = engine or _ENGINE
    assert engine is not None
    p = Path(path)
    out: dict = {"sha256": None, "size": None, "mtime_ns": None, "width": None, "height": None, "faces": []}
    try:
        before = p.stat()
        out["size"], out["mtime_ns"] = before.st_size, before.st_mtime_ns
        data = images.read_file(p)
        after = p.stat()
        if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(data) != after.st_size:
            return {
                **out,
                "status": "error",
                "transient": True,
                "reason": "the file changed while it was being read; it will be read again next run",
            }
        out["sha256"] = images.sha256_bytes(data)
        if known_sha256 is not None and out["sha256"] == known_sha256:
            return {**out, "status": "unchanged"}
        dec = images.decode(data)
        out["width"], out["height"] = dec.width, dec.height
        faces = engine.analyze(dec.rgb)
    except images.ImageError as e:
        return {**out, "status": "error", "reason": str(e)}
    except OSError as e:
        return {**out, "status": "error", "reason": f"cannot read the file ({e.strerror or e})"}
    except Exception as e:  # a model failure on one odd photo must not stop a batch of thousands
        return {**out, "status": "error", "reason": f"face detection failed ({type(e).__name__}: {e})"}
    if not faces:
        return {**out, "status": "no_face", "reason": "no face found"}
    out["faces"] = [
        {
            "box": (f.box / dec.scale).tolist(),
            "landmarks": (f.landmarks / dec.scale).tolist(),
            "score": f.score,
            "quality": f.quality,
            "embedding": f.embedding,
        }
        for f in faces
    ]
    return {**out, "status": "ok", "reason": None}


def _scan_in_worker(args: tuple[str, str | None]) -> dict:
    return scan_photo(*args)


# -- walking ------------------------------------------------------------------------------------
def walk_photos(folder: Path, skipped: list[Skipped]) -> Iterator[Path]:
    """Image files under folder, in a stable order. Symlinked folders are not followed (loops)."""

    def onerror(e: OSError) -> None:
        skipped.append(Skipped(str(e.filename), f"cannot list the folder ({e.strerror})"))

    for dirpath, dirnames, filenames in os.walk(folder, onerror=onerror, followlinks=False):
        d = Path(dirpath)
        for name in sorted(dirnames):
            if (d / name).is_symlink():
                skipped.append(Skipped(str(d / name), "link to a folder, not followed"))
        dirnames[:] = sorted(n for n in dirnames if not n.startswith(".") and not (d / n).is_symlink())
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in images.IMAGE_SUFFIXES:
                continue
            yield d / name


# -- the run ------------------------------------------------------------------------------------
ProgressFactory = Callable[[int], object]


def index_folder(
    folder: Path,
    index_dir: Path,
    engine_name: str = DEFAULT_ENGINE,
    workers: int | None = None,
    records_csv: Path | None = None,
    progress: bool = True,
    models: Path | None = None,
    scan: Callable[..., Iterator[tuple[tuple[Path, str | None], dict]]] | None = None,
) -> IndexReport:
    """Index every face under folder into index_dir. Safe to interrupt and rerun.

    `scan` replaces the local worker pool (scan_all) with another way of running scan_photo over
    the photos, e.g. cluster.ray_scanner; everything else, and so the result, stays the same.
    """
    start = time.monotonic()
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"photo folder not found: {folder}")
    workers = max(1, workers or os.cpu_count() or 1)
    engine = get_engine(engine_name, models=models)
    fp = engine.fingerprint
    report = IndexReport(engine=fp)
    with Index.open(Path(index_dir), create=True) as index:
        index.refuse_other_weights(fp)
        root_id = index.faces.root_id(folder)
        known = index.faces.known_photos(root_id, fp)
        walk_skipped: list[Skipped] = []
        todo: list[tuple[Path, str | None]] = []
        for p in walk_photos(folder, walk_skipped):
            report.seen += 1
            rel = p.relative_to(folder).as_posix()
            prev = known.get(rel)
            try:
                st = p.stat()
                now: tuple[int | None, int | None] = (st.st_size, st.st_mtime_ns)
            except OSError:
                now = (None, None)  # unreadable (e.g. a dangling link): unchanged while it stays so
            if prev is not None and (prev.size, prev.mtime_ns) == now:
                report.unchanged += 1
                continue
            todo.append((p, prev.sha256 if prev else None))
        report.errors.extend(walk_skipped)

        bar = progress_bar(len(todo), progress)
        try:
            for (p, _), result in (scan or scan_all)(todo, engine, engine_name, workers, models):
                rel = p.relative_to(folder).as_posix()
                status = result["status"]
                if status == "unchanged":
                    report.unchanged += 1
                    index.faces.touch_photo(root_id, rel, result["size"], result["mtime_ns"])
                elif result.get("transient"):
                    report.errors.append(Skipped(str(p), result["reason"]))
                else:
                    report.scanned += 1
                    index.faces.save_scan(
                        root_id,
                        rel,
                        fp,
                        sha256=result["sha256"],
                        size=result["size"],
                        mtime_ns=result["mtime_ns"],
                        width=result["width"],
                        height=result["height"],
                        status=status,
                        reason=result.get("reason"),
                        faces=result["faces"],
                    )
                    if status == "ok":
                        report.with_faces += 1
                        report.faces += len(result["faces"])
                    elif status == "no_face":
                        report.no_face.append(Skipped(str(p), result["reason"]))
                    else:
                        report.errors.append(Skipped(str(p), result["reason"]))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(faces=report.faces, skipped=report.skipped, refresh=False)
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            if bar is not None:
                bar.close()
        vectors = index.vectors(fp, engine.dim)
        if not report.interrupted:  # else the next run, or the first search, brings these up to date
            index.update_neighbours(fp, vectors)
            index.stranger_rates(fp, Scoring())
        if records_csv is not None:
            imported = import_file(index, Path(records_csv))
            report.records = imported.records
            report.record_problems = [str(p) for p in imported.problems + imported.warnings]
    report.seconds = time.monotonic() - start
    return report


def scan_all(
    todo: list[tuple[Path, str | None]], engine: FaceEngine, engine_name: str, workers: int, models: Path | None
) -> Iterator[tuple[tuple[Path, str | None], dict]]:
    """Yield (item, scan_photo result) as photos finish; in-process for one worker, else a process pool.

    Shared by indexing and evaluation, so both read, decode and embed photos the same way.
    """
    if workers == 1 or len(todo) <= 1:
        for item in todo:
            yield item, scan_photo(str(item[0]), item[1], engine)
        return
    ctx = get_context("spawn")  # fork after onnxruntime/OpenCV threads start can deadlock
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(engine_name, str(models) if models else None, 1),
    )
    pending: dict[Future, tuple[Path, str | None]] = {}
    items = iter(todo)
    window = workers * 4
    try:
        while True:
            while len(pending) < window:
                item = next(items, None)
                if item is None:
                    break
                pending[pool.submit(_scan_in_worker, (str(item[0]), item[1]))] = item
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                item = pending.pop(fut)
                try:
                    result = fut.result()
                except Exception as e:  # a worker died (e.g. out of memory on one photo)
                    result = {
                        "sha256": None,
                        "size": None,
                        "mtime_ns": None,
                        "width": None,
                        "height": None,
                        "faces": [],
                        "status": "error",
                        "transient": True,
                        "reason": f"worker failed ({type(e).__name__}: {e}); it will be retried next run",
                    }
                yield item, result
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def progress_bar(total: int, enabled: bool, desc: str = "Indexing"):
    """A tqdm bar over photos (ETA included), or None when disabled or there is nothing to do."""
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="photo", desc=desc, dynamic_ncols=True)
