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


def fingerprint_of(name: str, weight_files: list[Path]) -> Fingerprint:
    """Engine name + a hash of its weight files' names and bytes: what every stored embedding carries.

    A function of the files alone, so engines.engine_info can compute it without loading the models.
    """
    h = hashlib.sha256()
    for p in sorted(weight_files, key=lambda p: p.name):
        h.update(p.name.encode())
        h.update(sha256_file(p).encode())
    return Fingerprint.of(name, h.hexdigest()[:16])


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
    #: Fraction of the image size added on each side when a first detection finds nothing.
    pad_ratio: float = 0.3

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

    @cached_property
    def fingerprint(self) -> Fingerprint:
        return fingerprint_of(self.name, self.weight_files())

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces sorted largest first; retries on a padded copy if the first pass finds none."""
        faces = self._detect(rgb)
        if not faces and self.pad_ratio > 0:
            h, w = rgb.shape[:2]
            py, px = int(h * self.pad_ratio), int(w * self.pad_ratio)
            padded = cv2.copyMakeBorder(rgb, py, py, px, px, cv2.BORDER_CONSTANT, value=(127, 127, 127))
            offset = np.array([px, py], dtype=np.float32)
            faces = [Face(f.box - np.tile(offset, 2), f.landmarks - offset, f.score) for f in self._detect(padded)]
        h, w = rgb.shape[:2]
        for f in faces:
            f.box = np.array(
                [np.clip(f.box[0], 0, w), np.clip(f.box[1], 0, h), np.clip(f.box[2], 0, w), np.clip(f.box[3], 0, h)],
                dtype=np.float32,
            )
        faces = [f for f in faces if f.size >= 1]
        return sorted(faces, key=lambda f: -f.size)

    def embed(self, rgb: np.ndarray, faces: list[Face]) -> list[Face]:
        """Fill in embedding and quality for each face (in place) and return them."""
        if not faces:
            return faces
        chips = [self.align(rgb, f) for f in faces]
        vectors = normalise(self._embed_chips(chips))
        for f, chip, v in zip(faces, chips, vectors, strict=True):
            f.embedding = v
            f.quality = sharpness(chip)
        return faces

    def analyze(self, rgb: np.ndarray) -> list[Face]:
        """Detect and embed every face in an image."""
        return self.embed(rgb, self.detect(rgb))
