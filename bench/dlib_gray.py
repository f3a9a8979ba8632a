"""Would dlib find the same faces if its HOG detector ran on a grayscale copy? (Measured: no; not adopted.)

dlib's HOG detector on an RGB image takes, at each pixel, the gradient of the strongest channel; on a
grayscale copy it does a third of that work. This script runs facematch's dlib engine both ways on the
same LFW photos (landmarks and embeddings always from the RGB image, as the engine does) and reports
the detection time, the photos whose face count differs, and, for the largest face, the box overlap
(IoU) and the cosine between the two embeddings.

    python bench/dlib_gray.py [--photos DIR] [--n 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_PHOTOS = REPO.parent / "shared/data/lfw/images"


def first_photos(folder: Path, n: int) -> list[Path]:
    out: list[Path] = []
    for person in sorted(p for p in folder.iterdir() if p.is_dir()):
        out += sorted(person.glob("*.jpg"))
        if len(out) >= n:
            break
    return out[:n]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, default=DEFAULT_PHOTOS)
    ap.add_argument("--n", type=int, default=1000)
    args = ap.parse_args(argv)
    if not args.photos.is_dir():
        raise SystemExit(f"photo folder not found: {args.photos}")

    from facematch import images
    from facematch.engines import get_engine
    from facematch.engines.base import Face

    engine = get_engine("dlib")

    def detect_gray(rgb: np.ndarray) -> list[Face]:
        rects, scores, _ = engine._detector.run(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), engine.upsample, 0.0)
        faces = []
        for r, s in zip(rects, scores, strict=True):
            pts = np.array([[p.x, p.y] for p in engine._shape(rgb, r).parts()], dtype=np.float32)
            faces.append(Face(np.array([r.left(), r.top(), r.right(), r.bottom()], dtype=np.float32), pts, float(s)))
        return faces

    rgb_detect = engine._detect
    paths = first_photos(args.photos, args.n)
    t_rgb = t_gray = 0.0
    n_rgb = n_gray = 0
    differ: list[tuple[str, int, int]] = []
    ious, cosines = [], []
    for p in paths:
        rgb = images.decode(images.read_file(p)).rgb
        t = time.process_time()
        a = engine.detect(rgb)
        t_rgb += time.process_time() - t
        engine._detect = detect_gray
        try:
            t = time.process_time()
            b = engine.detect(rgb)
            t_gray += time.process_time() - t
        finally:
            engine._detect = rgb_detect
        n_rgb, n_gray = n_rgb + len(a), n_gray + len(b)
        if len(a) != len(b):
            differ.append((p.name, len(a), len(b)))
        if a and b:
            engine.embed(rgb, a[:1])
            engine.embed(rgb, b[:1])
            ious.append(iou(a[0].box, b[0].box))
            cosines.append(float(a[0].embedding @ b[0].embedding))
    n = len(paths)
    print(f"{n} LFW photos, dlib HOG upsample={engine.upsample}, CPU ms per photo for detect (with the padded retry):")
    print(f"  RGB  {1000 * t_rgb / n:6.1f} ms   faces {n_rgb}")
    print(f"  gray {1000 * t_gray / n:6.1f} ms   faces {n_gray}")
    print(f"photos whose face count differs: {len(differ)} ({100 * len(differ) / n:.1f}%): {differ[:10]}")
    ious_a, cos_a = np.array(ious), np.array(cosines)
    print(
        f"largest face, both found: IoU min {ious_a.min():.3f}, 1st percentile {np.percentile(ious_a, 1):.3f}, "
        f"median {np.median(ious_a):.3f}; embedding cosine min {cos_a.min():.4f}, "
        f"1st percentile {np.percentile(cos_a, 1):.4f}; different largest face (IoU < 0.5): {(ious_a < 0.5).sum()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
