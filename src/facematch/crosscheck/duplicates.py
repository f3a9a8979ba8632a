"""Duplicate images, apart from identity: the same image saved again is not evidence of the same person.

Two faces of byte-identical photos (same sha256), or very similar faces (cosine >= DUP_COSINE) whose face
regions have nearly the same perceptual hash (64-bit DCT hash of the face crop, at most DUP_BITS apart) and
sit the same way in their boxes (landmarks relative to the box within DUP_SHAPE), are one image re-encoded,
resized or cropped. Such pairs are stored as kind 'duplicate', listed apart and folded (review.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..i18n import N_
from ..index import Index
from ..store import FaceRow

#: Pairs at least this similar get their face regions hashed and compared.
DUP_COSINE = 0.9
#: Perceptual hashes (64 bits) this close (Hamming distance) show the same pixels...
DUP_BITS = 10
#: ... if the face also sits the same way in its box (landmarks relative to the box, in box widths).
DUP_SHAPE = 0.05

#: Why a pair is a duplicate image (stored as this English message; shown through the catalog).
DUP_FILE = N_("the same file (identical sha256)")
DUP_PIXELS = N_("the same image saved again (re-encoded, resized or cropped)")


def duplicate_kind(fa: FaceRow, fb: FaceRow, cosine: float, hashes: dict[int, tuple[int | None, str]]) -> str:
    """Why two faces are one image saved again (DUP_FILE, DUP_PIXELS), or "" when they are not."""
    if fa.sha256 and fa.sha256 == fb.sha256:
        return DUP_FILE
    if cosine >= DUP_COSINE and same_pixels(hashes.get(fa.id), hashes.get(fb.id)):
        return DUP_PIXELS
    return ""


def face_hashes(index: Index, faces: list[FaceRow]) -> dict[int, tuple[int | None, str]]:
    """Perceptual hash and shape of each face (computed once from the photo, then kept in face_phash)."""
    have = index.links.hashes(f.id for f in faces)
    todo = [f for f in faces if f.id not in have]
    new: dict[int, tuple[int | None, str]] = {}
    by_path: dict[Path, list[FaceRow]] = {}
    for f in todo:
        by_path.setdefault(Path(f.path), []).append(f)
    from ..thumbs import load_full

    for path, fs in by_path.items():
        try:
            rgb = load_full(path)
        except Exception:  # a photo gone or unreadable: no hash, so never called a duplicate by pixels
            rgb = None
        for f in fs:
            new[f.id] = (None if rgb is None else phash(rgb, f.box), json.dumps(shape(f)))
    if new:
        index.links.save_hashes(new)
    return {**have, **new}


def phash(rgb: np.ndarray, box: tuple) -> int:
    """64-bit DCT perceptual hash of the face region (the box, squared, in grey at 32 x 32): equal or
    close for the same pixels re-encoded, resized or cropped around the face; far for another photo."""
    import cv2

    from ..thumbs import crop

    grey = cv2.cvtColor(crop(rgb, box, margin=0.0, size=32), cv2.COLOR_RGB2GRAY).astype(np.float32)
    low = cv2.dct(grey)[:8, :8].ravel()[1:]  # the lowest frequencies, without the mean (brightness)
    bits = low > np.median(low)
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def shape(f: FaceRow) -> list[float]:
    """The face's landmarks relative to its box (0..1) and the box's aspect ratio: unchanged by resizing or
    cropping the photo around the face, different between two photos of one person (pose, expression)."""
    x1, y1, x2, y2 = f.box
    w, h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
    pts = [((x - x1) / w, (y - y1) / h) for x, y in f.landmarks]
    return [round(v, 4) for xy in pts for v in xy] + [round(h / w, 4)]


def same_pixels(a: tuple[int | None, str] | None, b: tuple[int | None, str] | None) -> bool:
    if a is None or b is None or a[0] is None or b[0] is None:
        return False
    if bin(int(a[0]) ^ int(b[0])).count("1") > DUP_BITS:
        return False
    sa, sb = np.array(json.loads(a[1])), np.array(json.loads(b[1]))
    return sa.shape == sb.shape and float(np.abs(sa - sb).max()) <= DUP_SHAPE
