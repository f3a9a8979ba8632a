"""Turning a folder of photos into an index: resumable, in worker processes, or on a Ray cluster.

- `scan`: the work on one photo, as a worker does it (read, hash, decode, detect, embed);
- `workers`: a process pool that survives dead workers and dies with its parent;
- `indexer`: the run (walk the folder, scan in the pool, write one transaction per photo, bring FAISS
  and the neighbour lists in step);
- `on_ray`: the same per-photo function on a Ray cluster.
"""

from .indexer import IndexReport, index_folder, progress_bar, scan_all

__all__ = ["IndexReport", "index_folder", "progress_bar", "scan_all"]
