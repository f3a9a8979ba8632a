"""Which query-side tricks actually help search? Measured in one run, each against the same baseline.

Open-set search on a subset of LFW (default 300 people with two or more photos, plus 300 distractors
with one photo): photo 1 of each person goes into the gallery, photos 2 and 3 search. Every variant
uses the same gallery, the same searches, and counts a query without a face as a miss.

Variants (the issue's list; keep as a default only what helps):
  baseline       what facematch does: detect, retry on a padded copy only if nothing was found
  pad-always     always detect on a padded copy (more context around tight crops)
  upsample       a face smaller than UPSAMPLE_BELOW px is detected and aligned again on a 2x
                 (cubic) upscaled photo
  flip           embed the aligned chip and its mirror image and average (gallery and query)
  small/*        the same, on query photos shrunk to SMALL_SIDE px (faces of ~40 px, like an old
                 family snapshot), where upsampling should matter if anywhere
  fuse-mean/max  people with 3+ photos searched with photos 2 and 3 together: mean embedding
                 (what facematch does) vs best score over the photos, against photo 2 alone

    /tmp/venv/bin/python bench/improvements.py --people 300 --engine sface
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from facematch import images
from facematch.engines import Face, FaceEngine, get_engine
from facematch.engines.base import normalise
from facematch.evaluate import people_photos

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw" / "images"
UPSAMPLE_BELOW = 80
SMALL_SIDE = 100
VARIANTS = ("baseline", "pad-always", "upsample", "flip", "small/baseline", "small/upsample", "small/flip")

_ENGINE: FaceEngine | None = None


def _init(engine: str) -> None:
    global _ENGINE
    cv2.setNumThreads(1)
    _ENGINE = get_engine(engine, threads=1)


def _embed(engine: FaceEngine, rgb: np.ndarray, face: Face, flip: bool = False) -> np.ndarray:
    chip = engine.align(rgb, face)
    if not flip:
        return normalise(engine._embed_chips([chip]))[0]
    both = normalise(engine._embed_chips([chip, np.ascontiguousarray(chip[:, ::-1])]))
    return normalise(both.mean(axis=0))


def _padded_detect(engine: FaceEngine, rgb: np.ndarray) -> list[Face]:
    h, w = rgb.shape[:2]
    py, px = int(h * engine.pad_ratio), int(w * engine.pad_ratio)
    padded = cv2.copyMakeBorder(rgb, py, py, px, px, cv2.BORDER_CONSTANT, value=(127, 127, 127))
    off = np.array([px, py], dtype=np.float32)
    faces = [Face(f.box - np.tile(off, 2), f.landmarks - off, f.score) for f in engine._detect(padded)]
    return sorted(faces, key=lambda f: -f.size)


def _variants_of(engine: FaceEngine, rgb: np.ndarray, prefix: str = "") -> dict[str, np.ndarray | None]:
    out: dict[str, np.ndarray | None] = {}
    faces = engine.detect(rgb)
    base = faces[0] if faces else None
    out[prefix + "baseline"] = _embed(engine, rgb, base) if base else None
    out[prefix + "flip"] = _embed(engine, rgb, base, flip=True) if base else None
    if not prefix:
        padded = _padded_detect(engine, rgb)
        out["pad-always"] = _embed(engine, rgb, padded[0]) if padded else None
    if base is None or base.size < UPSAMPLE_BELOW:
        big = cv2.resize(rgb, (rgb.shape[1] * 2, rgb.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
        up = engine.detect(big)
        out[prefix + "upsample"] = _embed(engine, big, up[0]) if up else out[prefix + "baseline"]
    else:
        out[prefix + "upsample"] = out[prefix + "baseline"]
    return out


def work(task: tuple[str, bool]) -> tuple[str, dict[str, np.ndarray | None]]:
    """All variants of one photo: (path, variant -> embedding or None when no face)."""
    path, is_query = task
    engine = _ENGINE
    assert engine is not None
    rgb = images.load(Path(path))[0].rgb
    out = _variants_of(engine, rgb)
    if is_query:
        h, w = rgb.shape[:2]
        f = SMALL_SIDE / max(h, w)
        small = cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        out.update(_variants_of(engine, small, "small/"))
    return path, out


def ranks(queries: list[np.ndarray | None], mates: list[int], gallery: np.ndarray) -> np.ndarray:
    """Rank of each query's mate in the gallery (inf when the query has no face)."""
    out = np.full(len(queries), np.inf)
    for i, (q, m) in enumerate(zip(queries, mates, strict=True)):
        if q is None:
            continue
        s = gallery @ q if q.ndim == 1 else (gallery @ q.T).max(axis=1)  # 2-d: best score over photos
        out[i] = 1 + int(np.sum(s > s[m]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=Path, default=LFW)
    ap.add_argument("--engine", default="sface")
    ap.add_argument("--people", type=int, default=300)
    ap.add_argument("--distractors", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    args = ap.parse_args()
    if not args.images.is_dir():
        print(f"no image folder at {args.images}", file=sys.stderr)
        return 2
    people = people_photos(args.images)
    multi = [n for n, f in people.items() if len(f) >= 2]
    single = [n for n, f in people.items() if len(f) == 1]
    # Spread over the alphabet rather than the first N names (LFW's names cluster by nationality).
    chosen = multi[:: max(1, len(multi) // args.people)][: args.people]
    distract = single[:: max(1, len(single) // args.distractors)][: args.distractors]
    gallery_paths = [people[n][0] for n in chosen] + [people[n][0] for n in distract]
    query_sets = {n: people[n][1:3] for n in chosen}
    tasks = [(str(p), False) for p in gallery_paths] + [(str(p), True) for qs in query_sets.values() for p in qs]
    start = time.monotonic()
    ctx = get_context("spawn")
    results: dict[str, dict[str, np.ndarray | None]] = {}
    from tqdm import tqdm

    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init, initargs=(args.engine,)) as pool:
        for path, out in tqdm(pool.map(work, tasks, chunksize=4), total=len(tasks), desc="Embedding variants"):
            results[path] = out
    seconds = time.monotonic() - start

    def gallery_for(variant: str) -> np.ndarray:
        key = "flip" if variant.endswith("flip") else "baseline"
        rows = [results[str(p)][key] for p in gallery_paths]
        return np.stack([r if r is not None else np.zeros_like(next(x for x in rows if x is not None)) for r in rows])

    table = []
    single_q = [(n, qs[0]) for n, qs in query_sets.items()]
    mates = [chosen.index(n) for n, _ in single_q]
    for variant in VARIANTS:
        r = ranks([results[str(q)][variant] for _, q in single_q], mates, gallery_for(variant))
        table.append(
            {
                "variant": variant,
                "searches": len(r),
                "rank1": float(np.mean(r <= 1)),
                "rank20": float(np.mean(r <= 20)),
                "no_face": int(np.sum(~np.isfinite(r))),
            }
        )
    fusable = [(n, qs) for n, qs in query_sets.items() if len(qs) >= 2]
    fmates = [chosen.index(n) for n, _ in fusable]
    g = gallery_for("baseline")
    embs = [[results[str(q)]["baseline"] for q in qs] for _, qs in fusable]
    options = {
        "fuse: photo 2 alone": [e[0] for e in embs],
        "fuse: mean of photos 2+3": [
            normalise(np.mean([x for x in e if x is not None], axis=0)) if any(x is not None for x in e) else None
            for e in embs
        ],
        "fuse: best score over 2+3": [
            np.stack([x for x in e if x is not None]) if any(x is not None for x in e) else None for e in embs
        ],
    }
    for name, qs in options.items():
        r = ranks(qs, fmates, g)
        table.append(
            {
                "variant": name,
                "searches": len(r),
                "rank1": float(np.mean(r <= 1)),
                "rank20": float(np.mean(r <= 20)),
                "no_face": int(np.sum(~np.isfinite(r))),
            }
        )

    print(
        f"\n{args.engine}: gallery {len(gallery_paths)} ({len(chosen)} people + {len(distract)} distractors), "
        f"{len(tasks)} photos embedded in {seconds:.0f} s"
    )
    print(f"{'variant':<28} {'searches':>8} {'rank-1':>7} {'rank-20':>7} {'no face':>7}")
    for row in table:
        print(
            f"{row['variant']:<28} {row['searches']:>8} {row['rank1']:>7.3f} {row['rank20']:>7.3f} {row['no_face']:>7}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"improvements-{args.engine}-p{len(chosen)}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(
        json.dumps(
            {
                "engine": get_engine(args.engine).fingerprint,
                "people": len(chosen),
                "distractors": len(distract),
                "gallery": len(gallery_paths),
                "small_side": SMALL_SIDE,
                "upsample_below": UPSAMPLE_BELOW,
                "seconds": round(seconds),
                "table": table,
            },
            indent=1,
        )
    )
    print(f"written: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
