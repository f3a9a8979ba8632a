"""The one interface every face engine implements.

An engine detects faces (box, 5 landmarks, score), aligns each to a fixed-size chip, and embeds
chips into L2-normalised vectors. Its fingerprint (name + sha256 of its weight files) goes with
every stored embedding, so vectors from different models can never be compared by mistake.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from ..faces import SAME_FACE_IOU, iou
from ..fingerprint import Fingerprint


@dataclass
class Face:
    """One detected face, in the pixel coordinates of the image it was detected in."""

    box: np.ndarray  # (4,) x1, y1, x2, y2
    landmarks: np.ndarray  # (5, 2)
    score: float
    embedding: np.ndarray | None = field(default=None, repr=False)
    quality: float = 0.0  # sharpness of the aligned chip (variance of the Laplacian)

    @property
    def size(self) -> float:
        """Shorter side of the box: the simplest predictor of how reliable the face is."""
        return float(min(self.box[2] - self.box[0], self.box[3] - self.box[1]))

    def scaled(self, factor: float) -> Face:
        """The same face in another image scale (detection may run on a scaled-down copy)."""
        return Face(self.box / factor, self.landmarks / factor, self.score, self.embedding, self.quality)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint_of(name: str, weight_files: list[Path], preprocessing: str = "") -> Fingerprint:
    """Engine name + a hash of its weight files' names and bytes (+ the pre-processing, when not the original):
    what every stored embedding carries.

    A function of the files and options alone, so engines.engine_info can compute it without loading the
    models. The weights' hash stays right after the "@", so a fingerprint reads name@weights[+pre-processing].
    """
    h = hashlib.sha256()
    for p in sorted(weight_files, key=lambda p: p.name):
        h.update(p.name.encode())
        h.update(sha256_file(p).encode())
    return Fingerprint.of(name, h.hexdigest()[:16] + (f"+{preprocessing}" if preprocessing else ""))


def preprocessing_text(border: str, flip: bool) -> str:
    """The pre-processing suffix for the border policy and flip averaging ("" for a border only on a miss, no flip)."""
    parts = [f"border={border}"] if border != "miss" else []
    return "+".join(parts + (["flip"] if flip else []))


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def sharpness(chip: np.ndarray) -> float:
    gray = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY) if chip.ndim == 3 else chip
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


class FaceEngine(ABC):
    """Base class: subclasses provide raw detection, alignment and embedding of chips.

    Detection here adds what every engine needs on real archive photos: a retry with a padded
    border for tight close-up crops (detectors need some context around a face), and clipping
    of boxes to the image.
    """

    #: Registry name, e.g. "dlib", "sface", "insightface:buffalo_l".
    name: str
    #: Embedding dimension.
    dim: int
    #: Fraction of the image size added on each side when the border policy pads a photo.
    pad_ratio: float = 0.3
    #: Border policy, see `detect`: "miss", "edge", "both" or "auto".
    border: str = "miss"
    #: Average the embeddings of each chip and its mirror image (see `embed`).
    flip: bool = False

    @abstractmethod
    def weight_files(self) -> list[Path]:
        """Files whose bytes determine the embeddings (hashed into the fingerprint)."""

    @abstractmethod
    def _detect(self, rgb: np.ndarray) -> list[Face]:
        """Detect faces in an RGB image."""

    @abstractmethod
    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """Cut out the face as the aligned RGB chip the recognizer expects."""

    @abstractmethod
    def _embed_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        """Raw (not yet normalised) embeddings of aligned chips, shape (n, dim)."""

    def preprocessing(self) -> str:
        """What besides the weights shapes the embeddings; "" for the original policy (padding on a miss, no flip).

        It goes into the fingerprint, so vectors made with another pre-processing are never mixed with
        these in one index, nor read with a stranger-rate table measured on another pipeline.
        """
        return preprocessing_text(self.border, self.flip)

    @cached_property
    def fingerprint(self) -> Fingerprint:
        return fingerprint_of(self.name, self.weight_files(), self.preprocessing())

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces sorted largest first, with the border policy (`border`) applied.

        Detectors need some context around a face: a tight crop (the face filling the photo, as in a
        cut-out from a family album) is often missed or badly landmarked. "miss" retries on a padded copy
        only when nothing was found; "edge" also when the largest face touches the photo's edge, and then
        takes the padded detection; "both" always detects with and without the border and keeps, face by
        face, the higher-scored detection; "auto" does that only when the largest face touches the edge
        (a tight crop), so photos with room around the face cost no second detection.
        """
        faces = self._detect(rgb)
        edge = self.border in ("edge", "auto") and bool(faces) and touches_edge(faces, rgb.shape)
        if self.border == "both" or not faces or edge:
            padded = self._detect_padded(rgb)
            faces = merge_faces(faces, padded, how="second" if self.border == "edge" else "score") if faces else padded
        h, w = rgb.shape[:2]
        for f in faces:
            f.box = np.array(
                [np.clip(f.box[0], 0, w), np.clip(f.box[1], 0, h), np.clip(f.box[2], 0, w), np.clip(f.box[3], 0, h)],
                dtype=np.float32,
            )
        faces = [f for f in faces if f.size >= 1]
        return sorted(faces, key=lambda f: -f.size)

    def _detect_padded(self, rgb: np.ndarray) -> list[Face]:
        """Detect on a copy with a grey border of `pad_ratio` of the size on each side, in the original's pixels."""
        if self.pad_ratio <= 0:
            return []
        h, w = rgb.shape[:2]
        py, px = int(h * self.pad_ratio), int(w * self.pad_ratio)
        padded = cv2.copyMakeBorder(rgb, py, py, px, px, cv2.BORDER_CONSTANT, value=(127, 127, 127))
        offset = np.array([px, py], dtype=np.float32)
        return [Face(f.box - np.tile(offset, 2), f.landmarks - offset, f.score) for f in self._detect(padded)]

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> list[Face]:
        """Fill in embedding and quality for each face (in place) and return them.

        With `flip`, each chip and its mirror image are embedded and the two vectors averaged: the
        recognizer is not exactly mirror-symmetric, and the average is steadier across pose and
        lighting (the test-time augmentation insightface and most face benchmarks use). Gallery and
        query both come through here, so both sides get the same treatment.
        """
        if not faces:
            return faces
        chips = [self.align(rgb, f) for f in faces]
        inputs = chips + [np.ascontiguousarray(c[:, ::-1]) for c in chips] if self.flip else chips
        vectors = normalise(self._embed_chips(inputs))
        if self.flip:
            vectors = normalise(vectors[: len(chips)] + vectors[len(chips) :])
        for f, chip, v in zip(faces, chips, vectors, strict=True):
            f.embedding = v
            f.quality = sharpness(chip)
        return faces

    def analyze(self, rgb: np.ndarray) -> list[Face]:
        """Detect and embed every face in an image."""
        return self.embed(rgb, self.detect(rgb))


def touches_edge(faces: list[Face], shape: tuple[int, ...], margin: float = 0.02) -> bool:
    """Whether the largest face's box reaches within `margin` (of the photo's size) of an edge."""
    h, w = shape[:2]
    f = max(faces, key=lambda f: f.size)
    mx, my = margin * w, margin * h
    return bool(f.box[0] <= mx or f.box[1] <= my or f.box[2] >= w - mx or f.box[3] >= h - my)


def merge_faces(
    first: list[Face], second: list[Face], how: str = "score", min_iou: float = SAME_FACE_IOU
) -> list[Face]:
    """One list from two detections of the same photo: the same face (IoU >= min_iou) once.

    how="score" keeps the higher-scored detection of a face, how="second" the second list's; how="mean"
    averages the two detections' boxes and landmarks (two looks at one face: the landmark noise of each
    partly cancels).
    Faces found by only one detection are kept.
    """
    out, used = [], set()
    for f in first:
        best, best_iou = None, min_iou
        for j, g in enumerate(second):
            if j not in used and (v := iou(f.box, g.box)) >= best_iou:
                best, best_iou = j, v
        if best is None:
            out.append(f)
            continue
        used.add(best)
        g = second[best]
        if how == "mean":
            out.append(Face((f.box + g.box) / 2, (f.landmarks + g.landmarks) / 2, max(f.score, g.score)))
        elif how == "second":
            out.append(g)
        else:
            out.append(f if f.score >= g.score else g)
    return out + [g for j, g in enumerate(second) if j not in used]
