"""The work on one photo, as a worker process does it: read, hash, decode, detect, embed.

Kept apart from indexer.py so that a worker process imports only this, the images module and
its engine, not the database or FAISS: worker start-up is on the critical path of every run.
"""

from __future__ import annotations

import contextlib
import signal
import time
from pathlib import Path

from .. import images
from ..engines import FaceEngine, get_engine

_ENGINE: FaceEngine | None = None


def _init_worker(engine_name: str, models: str | None, threads: int | None) -> None:
    """Load the engine once per worker process (also run by cluster.py's Ray actors)."""
    global _ENGINE
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us cleanly
    import cv2

    cv2.setNumThreads(threads or 0)
    _ENGINE = get_engine(engine_name, threads=threads, models=Path(models) if models else None)


def scan_photo(path: str, known_sha256: str | None = None, engine: FaceEngine | None = None) -> dict:
    """Everything the database needs about one photo. Never raises for a bad photo: says why instead.

    `seconds` says where this photo's time went (read+hash, decode, detect+embed): bench/index_speed.py
    adds them up into its profile; the database ignores them.
    """
    engine = engine or _ENGINE
    assert engine is not None
    p = Path(path)
    out: dict = {"sha256": None, "size": None, "mtime_ns": None, "width": None, "height": None, "faces": []}
    out["engine"] = engine.fingerprint  # the indexer checks it is the one it writes under
    seconds = out["seconds"] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = now - clock
        clock = now

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
        lap("read")
        if known_sha256 is not None and out["sha256"] == known_sha256:
            return {**out, "status": "unchanged"}
        dec = images.decode(data)
        out["width"], out["height"] = dec.width, dec.height
        lap("decode")
        faces = engine.analyze(dec.rgb)
        lap("faces")
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


def _scan_in_worker(path: str, known_sha256: str | None) -> dict:
    return scan_photo(path, known_sha256)


def crashed_result(item: tuple[Path, str | None], how: str, deaths: int) -> dict:
    """The result for a photo the worker pool gave up on: an error the index keeps, so no rerun retries it.

    Its size and modification time are stored (that is what makes a rerun skip it) but no sha256, so
    touching the file (a new modification time) is enough to have the next run try it again.
    """
    out: dict = {"sha256": None, "size": None, "mtime_ns": None, "width": None, "height": None, "faces": []}
    with contextlib.suppress(OSError):
        st = item[0].stat()
        out["size"], out["mtime_ns"] = st.st_size, st.st_mtime_ns
    if deaths:
        reason = (
            f"the face engine crashed on this photo {'twice' if deaths == 2 else f'{deaths} times'} (worker {how}); "
            "it is skipped from now on: `touch` the file, then index again, to retry it"
        )
    else:
        reason = f"face detection failed ({how})"
    return {**out, "status": "error", "reason": reason}
