"""Joining a Ray cluster (or starting a private local Ray): what indexing and the cross-check share.

Indexing on Ray is indexing/on_ray.py; the cross-check's ranking as Ray tasks is crosscheck/on_ray.py.
Both run facematch's own per-photo and per-block functions on the workers, so a cluster run gives the
same results as one machine. How indexing uses it:

Nothing about faces is re-implemented here: each Ray actor loads the engine once and runs
scan.scan_photo (the same per-photo function the one-machine pool runs) on its share of the
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
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from .i18n import _

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
            raise RuntimeError(
                _("cannot reach the Ray cluster at {address}: {error}", address=address, error=e)
            ) from None
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


@contextmanager
def session(address: str | None = LOCAL, num_cpus: int | None = None) -> Iterator:
    """Ray, connected for the duration of a job: a private instance started here is stopped after it; a
    cluster that was already joined (or a Ray this process had started) is left running."""
    already_up = "ray" in sys.modules and sys.modules["ray"].is_initialized()
    ray = connect(address, num_cpus)
    try:
        yield ray
    finally:
        if not already_up:
            ray.shutdown()
