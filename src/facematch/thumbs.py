"""Pictures shown to people: photos with numbered face boxes, face crops, and aligned face pairs.

Kept apart from the app so the app holds no image logic and the report draws the same pictures.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from . import images

BOX_COLOURS = [(230, 57, 70), (29, 53, 87), (42, 157, 143), (233, 196, 106), (244, 162, 97), (69, 123, 157)]


#: The face a person chose, or the candidate's own face: always this colour, and thicker; every other face is boxed
#: thin in OTHER_COLOUR, so the one that matters is never confused with "the red box" of another face.
CHOSEN_COLOUR = (230, 57, 70)
OTHER_COLOUR = (29, 53, 87)


def draw_faces(rgb: np.ndarray, boxes: list, chosen: int | None = None, max_side: int = 900) -> np.ndarray:
    """The photo scaled to max_side with every face boxed and numbered from 1 in the order given (callers give
    them from the left: store.faces.face_numbers, search.from_the_left). The chosen one (a number from 1) is red
    and thick; the others are thin and dark. Without a choice each face has its own colour, to tell them apart.

    Numbers are sized to the picture, not only to the face: small faces in a group photo still get a
    number that can be read (and tapped) when the picture is shown large.
    """
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    out = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))) if scale < 1 else rgb.copy()
    side = max(out.shape[:2])
    for n, box in enumerate(boxes, start=1):
        x1, y1, x2, y2 = (int(round(float(v) * scale)) for v in box)
        if chosen is None:
            colour = BOX_COLOURS[(n - 1) % len(BOX_COLOURS)]
        else:
            colour = CHOSEN_COLOUR if chosen == n else OTHER_COLOUR
        thick = max(2, side // 250) * (2 if chosen == n else 1)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        label = str(n)
        size = max(0.6, (x2 - x1) / 120, side / 700)
        weight = max(2, round(size * 2))
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, size, weight)
        cv2.rectangle(out, (x1, max(0, y1 - th - 8)), (x1 + tw + 8, max(th + 8, y1)), colour, -1)
        cv2.putText(out, label, (x1 + 4, max(th + 4, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, size, (255, 255, 255), weight)
    return out


def crop(rgb: np.ndarray, box, margin: float = 0.35, size: int = 224) -> np.ndarray:
    """A square crop around a face with some context (hair, ears), as people compare faces."""
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = max(x2 - x1, y2 - y1) * (0.5 + margin)
    h, w = rgb.shape[:2]
    a, b = int(max(0, cx - half)), int(max(0, cy - half))
    c, d = int(min(w, cx + half)), int(min(h, cy + half))
    if c <= a or d <= b:
        return np.full((size, size, 3), 200, np.uint8)
    return cv2.resize(np.ascontiguousarray(rgb[b:d, a:c]), (size, size), interpolation=cv2.INTER_AREA)


def load_full(path: Path) -> np.ndarray:
    """An archive photo at full resolution, upright: the coordinates stored in the index refer to this."""
    dec, _ = images.load(Path(path), max_side=10**9)
    return dec.rgb


def jpeg_bytes(rgb: np.ndarray, quality: int = 88) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def face_at(boxes: list, x: float, y: float) -> int | None:
    """The number (from 1) of the face a click at (x, y) points at: the box that holds it (the smallest if
    several do), else the nearest box centre within a face's width; None when the click is nowhere near a face."""
    inside = [(float(b[2] - b[0]) * float(b[3] - b[1]), n) for n, b in enumerate(boxes, start=1)
              if b[0] <= x <= b[2] and b[1] <= y <= b[3]]  # fmt: skip
    if inside:
        return min(inside)[1]
    best = None
    for n, b in enumerate(boxes, start=1):
        cx, cy, w = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2, float(b[2] - b[0])
        d = ((cx - x) ** 2 + (cy - y) ** 2) ** 0.5
        if d <= w and (best is None or d < best[0]):
            best = (d, n)
    return None if best is None else best[1]


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 8) -> np.ndarray:
    """Two face crops of the same height next to each other with a white gap: a pair of archive faces seen
    at a glance, kept together on a narrow screen where separate columns would stack."""
    h = max(left.shape[0], right.shape[0])
    pad = np.full((h, gap, 3), 255, np.uint8)
    return np.hstack([left, pad, right])
