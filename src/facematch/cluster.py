"""Indexing a photo collection on a Ray cluster, with Ray Data doing the distribution.

Nothing about faces is re-implemented here: each Ray actor loads the engine once and runs
indexer.scan_photo (the same per-photo function the one-machine pool runs) on its share of the
photos; the results stream back to this process, which writes them through the normal indexer
(indexer.index_folder with this module's scanner), one SQLite transaction per photo, then brings
the FAISS file in step. So a cluster run gives the same database as a one-machine run: same
photos, scan results, boxes, landmarks, embeddings; only the order in which faces get their ids
follows the order in which photos finish. Interrupting and re-running resumes as usual.

Requirements on a real cluster: facematch with the `cluster` extra installed on every node (same
version, same model weights), and the photo folder mounted at the same path on every node (workers
read the photos themselves, as the one-machine workers do). The index folder only needs to exist
where this command runs.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .engines import DEFAULT_ENGINE, FaceEngine
from .indexer import IndexReport, index_folder

#: One Ray Data batch: a few photos per call, so one slow photo does not hold back many others.
BATCH_PHOTOS = 4
LOCAL = "local"


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


def connect(address: str | None = LOCAL, num_cpus: int | None = None):
    """Start a private local Ray instance ('local'), or join a running cluster (an address, or 'auto').

    Usage statistics are switched off before Ray is imported (privacy: nothing leaves the machine),
    and so is the dashboard. Returns the ray module, initialised.
    """
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    if address not in (None, LOCAL) and not _reachable(address):  # Ray would retry for minutes
        raise RuntimeError(
            f"cannot reach the Ray cluster at {address}: nothing answers there. Start its head with "
            "`ray start --head` and give its address (host:6379, or ray://host:10001 for Ray Client)."
        )
    if not ray_available():
        raise RuntimeError(
            "indexing on a Ray cluster needs Ray Data: install it with `pip install -e '.[cluster]'` "
            "(or `pip install 'ray[data]'`)"
        )
    import ray

    if ray.is_initialized():
        return ray
    kwargs: dict = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
    if address in (None, LOCAL):
        os.environ.pop("RAY_ADDRESS", None)  # 'local' means a private instance, not whatever is configured
        # Ray runs its workers at nice 15; in a private instance they do all the work, and on a busy
        # machine that starved actor start-up past Ray's 60 s registration timeout (measured: 66 s
        # to the first result at nice 15, 7 s at nice 0). Same priority as the one-machine pool.
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, _node_ip_address="127.0.0.1", **kwargs)
    else:
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise RuntimeError(f"cannot reach the Ray cluster at {address}: {e}") from None
    return ray


def _reachable(address: str, timeout: float = 3.0) -> bool:
    """Does something listen at host:port? ('auto' and other forms are left to Ray to resolve.)"""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return True
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except OSError:
        return False


class _PhotoScanner:
    """A Ray actor: loads the engine once, then scans batches of photos with indexer.scan_photo."""

    def __init__(self, engine_name: str, models: str | None) -> None:
        from .indexer import _init_worker

        _init_worker(engine_name, models, 1)  # the one-machine workers' setup: same engine, 1 thread

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list]:
        from .indexer import scan_photo

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
    already_up = "ray" in sys.modules and sys.modules["ray"].is_initialized()
    ray = connect(address, num_cpus)
    try:
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
    finally:
        if not already_up:
            ray.shutdown()  # leaves a cluster we joined running; stops the private instance we started


# -- the archive cross-check's self-join as a Ray job over query blocks (link.py) ----------------------
def _rank_block(index_bytes, spec_json: dict, ids, vecs, offsets, lists, spread: float, nprobe, tau, block, wide: int):
    """One block of archive faces ranked against the whole archive on a Ray worker: the same link.Ranker
    (FAISS index or the IVF lists of the list-major join, exact embeddings, hubness offsets, the join's tau
    fixed on the driver) as on one machine, so the same pairs."""
    import faiss

    from .ann import IndexSpec, apply_search_params
    from .link import Ranker
    from .vectors import FaceVectors

    faiss.omp_set_num_threads(1)  # Ray runs one task per CPU: FAISS threads would fight over them
    index = faiss.deserialize_index(np.asarray(index_bytes))
    spec = IndexSpec.from_json(spec_json)
    apply_search_params(index, spec)
    ranker = Ranker(FaceVectors("", index, spec), ids, vecs, offsets, spread, nprobe, lists, 1, tau)
    return ranker.rank(block, wide)


def rank_blocks_on_ray(ranker, blocks: list, wide: int, address: str | None = LOCAL):
    """Yield link.Ranker.rank(block) for each block, computed as Ray tasks and returned in the order given
    (so progress and resuming work as on one machine). The FAISS index, the IVF lists, the exact embeddings
    and the hubness offsets go into Ray's object store once; each task ranks one block."""
    import faiss

    if not blocks:
        return
    already_up = "ray" in sys.modules and sys.modules["ray"].is_initialized()
    ray = connect(address)
    try:
        data = (faiss.serialize_index(ranker.vectors.index), ranker.ids, ranker.vecs, ranker.offsets_all, ranker.lists)
        refs = [ray.put(x) for x in data]
        spec = ranker.vectors.spec.to_json()
        task = ray.remote(num_cpus=1)(_rank_block)
        pending = [
            task.remote(refs[0], spec, *refs[1:], ranker.spread, ranker.nprobe, ranker.tau, b, wide) for b in blocks
        ]
        for ref in pending:
            yield ray.get(ref)
    finally:
        if not already_up:
            ray.shutdown()
