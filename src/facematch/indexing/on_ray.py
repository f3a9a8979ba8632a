"""Indexing a photo collection on a Ray cluster, with Ray Data doing the distribution.

Each Ray actor loads the engine once and runs scan.scan_photo (the same per-photo function the
one-machine pool runs) on its share of the photos; the results stream back to this process, which
writes them through the normal indexer (indexer.index_folder with this module's scanner). See
cluster.py for how a cluster is joined.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..cluster import LOCAL, connect, session
from ..engines import DEFAULT_ENGINE, FaceEngine
from .indexer import IndexReport, index_folder
from .scan import _init_worker, scan_photo

#: One Ray Data batch: a few photos per call, so one slow photo does not hold back many others.
BATCH_PHOTOS = 4


class _PhotoScanner:
    """A Ray actor: loads the engine once, then scans batches of photos with indexer.scan_photo."""

    def __init__(self, engine_name: str, models: str | None) -> None:
        _init_worker(engine_name, models, 1)  # the one-machine workers' setup: same engine, 1 thread

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        results = []
        for path, known in zip(batch["path"], batch["known"], strict=True):
            results.append(pickle.dumps(scan_photo(str(path), str(known) or None)))
        return {"path": [str(p) for p in batch["path"]], "result": results}


def ray_scanner(address: str | None = LOCAL, num_cpus: int | None = None):
    """A drop-in for indexer.scan_all that runs scan_photo on a Ray cluster through Ray Data."""

    def scan(
        todo: list[tuple[Path, str | None]], engine: FaceEngine, engine_name: str, workers: int, models: Path | None
    ) -> Iterator[tuple[tuple[Path, str | None], dict]]:
        if not todo:
            return
        ray = connect(address, num_cpus)
        from ray.data import DataContext

        ctx = DataContext.get_current()
        ctx.enable_progress_bars = False  # facematch shows its own progress bar
        ctx.print_on_execution_start = False
        actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        by_path = {str(p): (p, known) for p, known in todo}
        ds = ray.data.from_items([{"path": str(p), "known": known or ""} for p, known in todo])
        ds = ds.map_batches(
            _PhotoScanner,
            fn_constructor_kwargs={"engine_name": engine_name, "models": str(models) if models else None},
            batch_size=BATCH_PHOTOS,
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=1,
        )
        for row in ds.iter_rows():
            yield by_path[row["path"]], pickle.loads(row["result"])

    return scan


def index_folder_on_ray(
    folder: Path,
    index_dir: Path,
    engine_name: str = DEFAULT_ENGINE,
    address: str | None = LOCAL,
    num_cpus: int | None = None,
    records_csv: Path | None = None,
    progress: bool = True,
    models: Path | None = None,
    reindex: bool = False,
    collection: str | None = None,
) -> IndexReport:
    """index_folder with the per-photo work spread over a Ray cluster (see the module docstring)."""
    with session(address, num_cpus):
        return index_folder(
            folder,
            index_dir,
            engine_name,
            records_csv=records_csv,
            progress=progress,
            models=models,
            scan=ray_scanner(address, num_cpus),
            reindex=reindex,
            collection=collection,
        )
