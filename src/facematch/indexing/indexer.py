"""Walks a photo folder and indexes every face, in worker processes, resumably.

Workers read, hash, decode, detect and embed; the main process alone writes, one transaction per
photo, so the database is valid after a kill at any moment and a rerun skips what is done. The
FAISS file is brought in line with the database at the end (and on any later open).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import images
from ..engines import DEFAULT_ENGINE, EngineInfo, FaceEngine, engine_info, get_engine
from ..i18n import _
from ..index import Index
from ..neighbours import Scoring
from ..progress import progress_bar
from ..records import import_file
from .scan import _init_worker, _scan_in_worker, crashed_result, scan_photo
from .workers import Pool

__all__ = ["IndexReport", "Skipped", "index_folder", "scan_all", "scan_photo", "start_pool", "walk_photos"]


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
    replaced: list[str] = field(default_factory=list)  # fingerprints whose faces --reindex removed

    @property
    def skipped(self) -> int:
        return len(self.no_face) + len(self.errors)


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
    reindex: bool = False,
    collection: str | None = None,
) -> IndexReport:
    """Index every face under folder into index_dir. Safe to interrupt and rerun.

    `collection` names the collection the folder belongs to (a leak, a county list; default: the folder's
    own name): the archive cross-check (crosscheck/) says which collections a pair joins.

    `reindex` first removes what this engine made with other weights or pre-processing (an index built
    by an older facematch): without it such an index is refused, since the two kinds of vectors cannot
    be compared.

    `scan` replaces the local worker pool (scan_all) with another way of running scan_photo over
    the photos, e.g. on_ray.ray_scanner; everything else, and so the result, stays the same.
    """
    start = time.monotonic()
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(_("photo folder not found: {folder}", folder=folder))
    workers = max(1, workers or os.cpu_count() or 1)
    # Workers start first: they import and load the engine while this process hashes its files and walks.
    pool = start_pool(engine_name, models, workers) if scan is None and workers > 1 else None
    try:
        engine = engine_info(engine_name, models)  # the fingerprint without loading the models: workers do that
        fp = engine.fingerprint
        report = IndexReport(engine=fp)
        index = Index.open(Path(index_dir), create=True)
    except BaseException:
        if pool is not None:
            pool.close(abort=True)
        raise
    try:
        if reindex:
            report.replaced = index.drop_other_weights(fp)
        index.refuse_other_weights(fp)
        root_id = index.faces.root_id(folder, collection)
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
        writes = _Writes(index, root_id, fp)
        try:
            for (p, _pos), result in (scan or functools.partial(scan_all, pool=pool))(
                todo, engine, engine_name, workers, models
            ):
                rel = p.relative_to(folder).as_posix()
                status = result["status"]
                if status == "unchanged":
                    report.unchanged += 1
                    writes.flush()  # in the order they came
                    index.faces.touch_photo(root_id, rel, result["size"], result["mtime_ns"])
                elif result.get("transient"):
                    report.errors.append(Skipped(str(p), result["reason"]))
                else:
                    report.scanned += 1
                    writes.add(
                        relpath=rel,
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
            writes.flush()  # what arrived is kept, interrupted or not
            if bar is not None:
                bar.close()
        vectors = index.vectors(fp, engine.dim)
        if not report.interrupted:  # else the next run, or the first search, brings these up to date
            scoring = Scoring.for_engine(fp)
            index.update_neighbours(fp, vectors, scoring, progress)
            index.stranger_rates(fp, scoring)
        if records_csv is not None:
            imported = import_file(index, Path(records_csv))
            report.records = imported.records
            report.record_problems = [str(p) for p in imported.problems + imported.warnings]
    finally:
        index.close()
        if pool is not None:
            pool.close()
    report.seconds = time.monotonic() - start
    return report


class _Writes:
    """Scan results written a batch at a time (Faces.save_scans: one transaction for up to BATCH photos or what
    arrived within WAIT seconds). Each photo stays all or nothing; an interrupted run loses at most the
    batch in the air, which the next run scans again, as it would any photo not yet saved. WAIT is short:
    at a real run's pace (tens of photos a second) a commit every tenth of a second costs nothing, and what
    is committed follows the work closely (a second's wait made a short run commit only at its end); a
    fast stream (the 1M bench) fills BATCH first."""

    BATCH = 1000
    WAIT = 0.1

    def __init__(self, index: Index, root_id: int, engine: str) -> None:
        self.index, self.root_id, self.engine = index, root_id, engine
        self.pending: list[dict] = []
        self.since = time.monotonic()

    def add(self, **scan) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append(scan)
        if len(self.pending) >= self.BATCH or time.monotonic() - self.since >= self.WAIT:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.index.faces.save_scans(self.root_id, self.engine, self.pending)
            self.pending = []


def start_pool(
    engine_name: str, models: Path | None, workers: int, task: Callable[..., dict] = _scan_in_worker
) -> Pool:
    """Start worker processes now (they import and load the engine in the background) for scan_all(pool=...)."""
    return Pool(
        workers,
        task,
        on_failure=crashed_result,
        initializer=_init_worker,
        initargs=(engine_name, str(models) if models else None, 1),
    ).start()


def scan_all(
    todo: list[tuple[Path, str | None]],
    engine: FaceEngine | EngineInfo,
    engine_name: str,
    workers: int,
    models: Path | None,
    *,
    task: Callable[..., dict] = _scan_in_worker,
    pool: Pool | None = None,
) -> Iterator[tuple[tuple[Path, str | None], dict]]:
    """Yield (item, scan_photo result) as photos finish; in-process for one worker, else a worker pool.

    Shared by indexing and evaluation, so both read, decode and embed photos the same way. The pool
    survives a worker that dies (workers.Pool): a photo that killed two workers comes back as an
    error result (crashed_result); the photos beside it are retried and come back as usual. `pool`
    is one already started (start_pool), kept open for the caller; `task` replaces scan_photo in the
    workers (tests use it to kill a worker on a chosen photo).
    """
    if pool is None and (workers == 1 or len(todo) <= 1) and task is _scan_in_worker:
        if todo and not isinstance(engine, FaceEngine):
            engine = get_engine(engine_name, models=models)
        for item in todo:
            yield item, scan_photo(str(item[0]), item[1], engine)
        return
    own = pool is None
    pool = pool or start_pool(engine_name, models, workers, task)
    try:
        for item, result in pool.run(todo, lambda item: (str(item[0]), item[1])):
            if result.get("engine", engine.fingerprint) != engine.fingerprint:  # engine_info and the model disagree
                raise RuntimeError(
                    f"the workers loaded {result['engine']} but this index is written for {engine.fingerprint}"
                )
            yield item, result
    finally:
        if own:
            pool.close()
