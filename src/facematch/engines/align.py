"""ArcFace 5-point alignment (insightface's norm_crop), without importing insightface or scikit-image.

The same steps, in the same floating-point order, as insightface.utils.face_align.norm_crop (MIT
licence): the least-squares similarity transform from the 5 landmarks to the ArcFace template
(Umeyama's method, as scikit-image's SimilarityTransform computes it: `_umeyama` below is its code,
BSD-3-Clause licence), then cv2.warpAffine. Importing insightface for these lines cost each worker
process about 0.9 s of CPU at start-up (its whole model zoo), and scikit-image's transform module
another 0.45 s (it imports scipy); tests/test_speed_equivalence.py checks that the chips are
insightface's, pixel for pixel.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Landmarks of the ArcFace 112x112 template: eyes, nose tip, mouth corners (insightface's arcface_dst).
ARCFACE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def _umeyama(src: np.ndarray, dst: np.ndarray, estimate_scale: bool) -> np.ndarray:
    """scikit-image 0.26's skimage.transform._geometric._umeyama (Umeyama, PAMI 1991), names lower-cased."""
    num = src.shape[0]
    dim = src.shape[1]
    src_mean = src.mean(axis=0)
    dst_mean = dst.mean(axis=0)
    src_demean = src - src_mean
    dst_demean = dst - dst_mean
    a = dst_demean.T @ src_demean / num  # Eq. (38)
    d = np.ones((dim,), dtype=np.float64)  # Eq. (39)
    if np.linalg.det(a) < 0:
        d[dim - 1] = -1
    t = np.eye(dim + 1, dtype=np.float64)
    u, sv, v = np.linalg.svd(a)
    tol = sv.max() * np.max(a.shape) * np.finfo(float).eps  # rank from the SVD, as numpy's matrix_rank
    rank = np.count_nonzero(sv > tol)
    if rank == 0:
        return np.nan * t
    elif rank == dim - 1:  # Eq. (40) and (43)
        if np.linalg.det(u) * np.linalg.det(v) > 0:
            t[:dim, :dim] = u @ v
        else:
            s = d[dim - 1]
            d[dim - 1] = -1
            t[:dim, :dim] = u @ np.diag(d) @ v
            d[dim - 1] = s
    else:
        t[:dim, :dim] = u @ np.diag(d) @ v
    scale = 1.0 / src_demean.var(axis=0).sum() * (sv @ d) if estimate_scale else 1.0  # Eq. (41) and (42)
    t[:dim, dim] = dst_mean - scale * (t[:dim, :dim] @ src_mean.T)
    t[:dim, :dim] *= scale
    return t


def similarity_matrix(landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The 2x3 similarity transform taking the 5 landmarks onto the template scaled to `size`."""
    if size % 112 == 0:
        dst = ARCFACE_112 * (float(size) / 112.0)
    elif size % 128 == 0:
        dst = ARCFACE_112 * (float(size) / 128.0)
        dst[:, 0] += 8.0 * float(size) / 128.0
    else:
        raise ValueError(f"ArcFace chips are multiples of 112 or 128 px, not {size}")
    return _umeyama(np.asarray(landmarks), dst, True)[0:2, :]


def norm_crop(rgb: np.ndarray, landmarks: np.ndarray, size: int = 112) -> np.ndarray:
    """The aligned size x size chip, as insightface.utils.face_align.norm_crop cuts it."""
    return cv2.warpAffine(rgb, similarity_matrix(landmarks, size), (size, size), borderValue=0.0)
