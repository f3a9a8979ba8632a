"""One embedding per photo (its largest face), as indexing finds it, cached per engine fingerprint and file sha256.

Re-running an evaluation (or the calibration) on the same photos costs only hashing the files. Photos where
no face is found are counted and reported, never silently dropped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import images
from ..engines import get_engine
from ..fingerprint import Fingerprint, slug
from ..indexing import progress_bar, scan_all


@dataclass
class Scanned:
    """What the engine found in one photo: every face as `scan_photo` gives it (largest first), or why none."""

    faces: list[dict]  # box, landmarks, score, quality, embedding
    width: int | None = None
    height: int | None = None
    reason: str | None = None  # why there is no face (None when there are faces)


@dataclass
class Embeddings:
    """One embedding per photo (its largest face), zeros where no usable face was found."""

    engine: str
    paths: list[Path]
    vectors: np.ndarray  # (n, dim) float32
    found: np.ndarray  # (n,) bool
    problems: dict[str, str] = field(default_factory=dict)  # path -> why no embedding
    computed: int = 0  # how many photos were embedded now (not taken from the cache)
    seconds: float = 0.0
    scans: dict[Path, tuple[str, Scanned]] = field(default_factory=dict, repr=False)  # path -> (sha256, scan)

    def index_of(self) -> dict[Path, int]:
        return {p: i for i, p in enumerate(self.paths)}


def default_cache_dir() -> Path:
    """$FACEMATCH_CACHE, else ./evaluation/cache, beside the results: embeddings only, never photos.

    Not in the home folder: facematch writes only where a person points it (an index, a case, an
    evaluation's output), so nothing about the photos it saw is left anywhere else.
    """
    env = os.environ.get("FACEMATCH_CACHE")
    if env:
        return Path(env).expanduser()
    return Path("evaluation") / "cache"


def cache_file(cache_dir: Path, fingerprint: str) -> Path:
    return Path(cache_dir) / f"scans-{slug(Fingerprint(fingerprint).name)}.npz"


def _load_cache(path: Path, fingerprint: str) -> dict[str, Scanned]:
    """sha256 -> what was found; an unreadable cache, or one made with other weights, counts as empty."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["engine"]) != fingerprint:
                return {}
            shas, reasons, sizes = z["sha256"], z["reasons"], z["sizes"]
            owner, boxes, marks, scores, quality, vecs = (
                z["face_photo"], z["face_box"], z["face_landmarks"], z["face_score"], z["face_quality"], z["face_vec"]
            )  # fmt: skip
    except (OSError, KeyError, ValueError):
        return {}
    out = {str(s): Scanned([], int(w) or None, int(h) or None, str(r) or None) for s, r, (w, h) in zip(
        shas, reasons, sizes, strict=True
    )}  # fmt: skip
    for i in range(len(owner)):
        out[str(shas[owner[i]])].faces.append(
            {
                "box": boxes[i].tolist(),
                "landmarks": marks[i].reshape(5, 2).tolist(),
                "score": float(scores[i]),
                "quality": float(quality[i]),
                "embedding": np.array(vecs[i], dtype=np.float32),
            }
        )
    return out


def _save_cache(path: Path, fingerprint: str, dim: int, cache: dict[str, Scanned]) -> None:
    """Atomic write (temporary file + rename) so an interrupted run never leaves a broken cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shas = sorted(cache)
    faces = [(n, f) for n, s in enumerate(shas) for f in cache[s].faces]
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        engine=np.array(fingerprint),
        sha256=np.array(shas),
        reasons=np.array([cache[s].reason or "" for s in shas], dtype=str),
        sizes=np.array([(cache[s].width or 0, cache[s].height or 0) for s in shas], dtype=np.int64).reshape(-1, 2),
        face_photo=np.array([n for n, _ in faces], dtype=np.int64),
        face_box=np.array([f["box"] for _, f in faces], dtype=np.float32).reshape(-1, 4),
        face_landmarks=np.array([np.ravel(f["landmarks"]) for _, f in faces], dtype=np.float32).reshape(-1, 10),
        face_score=np.array([f["score"] for _, f in faces], dtype=np.float32),
        face_quality=np.array([f["quality"] for _, f in faces], dtype=np.float32),
        face_vec=np.array([f["embedding"] for _, f in faces], dtype=np.float32).reshape(-1, dim),
    )
    os.replace(tmp, path)


def embed_photos(
    paths: Sequence[Path],
    engine_name: str,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    models: Path | None = None,
) -> Embeddings:
    """Scan each photo as indexing does (every face), reusing cached scans of identical bytes.

    `vectors` holds each photo's largest face: what `facematch search` uses by default, so evaluating
    it measures the product as people use it (on LFW it is nearly always the labelled, centred face).
    """
    start = time.monotonic()
    engine = get_engine(engine_name, models=models)
    fp = engine.fingerprint
    cache_path = cache_file(cache_dir or default_cache_dir(), fp)
    cache = _load_cache(cache_path, fp)
    paths = [Path(p) for p in paths]
    shas: dict[Path, str | None] = {}
    problems: dict[str, str] = {}
    for p in dict.fromkeys(paths):
        try:
            shas[p] = images.sha256_bytes(images.read_file(p))
        except images.ImageError as e:
            shas[p] = None
            problems[str(p)] = str(e)
    todo, seen = [], set()
    for p, s in shas.items():
        if s is not None and s not in cache and s not in seen:
            seen.add(s)
            todo.append(p)
    computed = 0
    if todo:
        bar = progress_bar(len(todo), progress, f"Embedding ({engine.name})")
        last_save = time.monotonic()
        try:
            items = [(p, None) for p in todo]
            for (p, _), r in scan_all(items, engine, engine_name, workers or os.cpu_count() or 1, models):
                if r["sha256"] is not None and not r.get("transient"):
                    reason = None if r["status"] == "ok" else (r.get("reason") or r["status"])
                    cache[r["sha256"]] = Scanned(r["faces"], r["width"], r["height"], reason)
                    shas[Path(p)] = r["sha256"]
                else:
                    problems[str(p)] = r.get("reason") or "unreadable"
                computed += 1
                if bar is not None:
                    bar.update(1)
                if time.monotonic() - last_save > 60:
                    _save_cache(cache_path, fp, engine.dim, cache)
                    last_save = time.monotonic()
        finally:
            if bar is not None:
                bar.close()
            _save_cache(cache_path, fp, engine.dim, cache)
    vectors = np.zeros((len(paths), engine.dim), dtype=np.float32)
    found = np.zeros(len(paths), dtype=bool)
    scans: dict[Path, tuple[str, Scanned]] = {}
    for i, p in enumerate(paths):
        s = shas.get(p)
        if s is None or s not in cache:
            problems.setdefault(str(p), "unreadable")
            continue
        scans[p] = (s, cache[s])
        if cache[s].faces:
            vectors[i], found[i] = cache[s].faces[0]["embedding"], True
        else:
            problems[str(p)] = cache[s].reason or "no face found"
    return Embeddings(fp, paths, vectors, found, problems, computed, time.monotonic() - start, scans)
