"""The same face: what identifies an archive face across re-indexing, other engines and time.

A face is its photo's content (sha256) and its box. Decisions, kept photos and pair decisions point at
that, never at a face id, so re-indexing or changing engines never orphans a decision. Two boxes in one
photo are the same face when they overlap enough (IoU >= SAME_FACE_IOU): another engine, another
pre-processing or a re-index finds the same face with a slightly different box. Measured on the demo
photos: IoU 0.59-0.78 between the sface and dlib boxes of one face, ~0 between two faces.

Everything that asks "is this the same face?" calls this module: the case decisions (review.py), the
cross-check's pair decisions (crosscheck/), merging two detections of one photo (engines/base.py) and
the app's kept photos.
"""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]
#: (photo sha256, box as stored)
FaceKey = tuple[str, Box]

#: Two boxes of one photo overlapping at least this much (intersection over union) are one face.
SAME_FACE_IOU = 0.4


def stored_box(box: Sequence[float]) -> Box:
    """A box as the database keeps it: x1, y1, x2, y2 rounded to 0.1 px (sub-pixel digits are noise)."""
    x1, y1, x2, y2 = (round(float(v), 1) for v in box)
    return (x1, y1, x2, y2)


def key(sha256: str | None, box: Sequence[float]) -> FaceKey:
    """How a decision finds its face again: the photo's content and the box as stored."""
    return sha256 or "", stored_box(box)


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two x1, y1, x2, y2 boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def same_box(a: Sequence[float], b: Sequence[float]) -> bool:
    """Are two boxes of one photo the same face?"""
    return iou(a, b) >= SAME_FACE_IOU


def same_face(sha_a: str | None, box_a: Sequence[float], sha_b: str | None, box_b: Sequence[float]) -> bool:
    """The same photo content and overlapping boxes: the same face."""
    return (sha_a or "") == (sha_b or "") and same_box(box_a, box_b)


def find_same(box: Sequence[float], boxes: Sequence[Sequence[float]]) -> int | None:
    """Which of `boxes` (the faces found again in the same photo) is the face `box` marks: the position of the one
    that overlaps it most, when that one is the same face; None when none is (or there are no boxes)."""
    overlap = [(iou(box, b), i) for i, b in enumerate(boxes)]
    if not overlap:
        return None
    best, i = max(overlap)
    return i if best >= SAME_FACE_IOU else None
