"""Duplicate images, apart from identity: the same image saved again is not evidence of the same person.

A copy must never count as a second photo of a person (issue 25). Two faces are one image saved again when
their photos are byte-identical (same sha256), or when the pixels around the faces are the same pixels
(`near_duplicate`): re-encoded, resized, cropped, a little rotated, bordered, greyed, or mirrored. The check
never looks at how alike the two faces are as faces, only at whether the photo around them is the same:

1. the region around each face (the box's longer side x REGION, centred on the box), in grey, at SIDE x SIDE
   pixels, so both faces come at about the same scale whatever the photos' sizes (`region`, once per face);
2. SIFT keypoints on each region, matched by Lowe's ratio test (a match moves less than MAX_MOVE: both
   regions are centred on the face);
3. a transform fitted to the matches by RANSAC, first a similarity, then if that is not enough a full affine
   one (a copy resized to another aspect ratio is stretched); a copy's transform is near identity, with at
   least FACE_INLIERS matches on the face itself (not only the background);
4. the pixel proof: region A moved onto region B and band-pass detail (a difference of Gaussians) correlated
   over the face box, whole and in a 4 x 4 grid of patches (eyes and mouth must agree too), at the resolution
   of the poorer face. Duplicate when the similarity fit's agreement (mean of the whole face and the
   25th-percentile patch) reaches AGREEMENT, or the affine fit's whole-face correlation AGREEMENT_AFFINE;
5. from MIRROR_COSINE on, the same again with A's region mirrored (a mirrored copy).

Which pairs are checked (blocks.py): every pair with cosine >= CHECK_COSINE, and every pair of band strong
(groups are made of those), each photo decoded once per link block and each face's region made once per
block (`Regions`). Deterministic: the lower face id's region goes first.

Measured for issue 25 (bench/copies.py measures it again with this module; tables in docs/crosscheck.md): of
5,500 copies of 250 LFW and east-asian-dev photos, 22 kinds and strengths (JPEG q10-70, resized to 50-90%,
central crops 70-95%, rotated 2-5 degrees, borders, thumbnails, grey, combinations), 5,496 found, where the
rule this replaced (a 64-bit DCT hash of the face box plus the landmarks' place in the box) found 2,684; no
false duplicate among 10,530 pairs of different photos of one person (LFW, east-asian-dev, age-gap-dev adults,
and "twins": another photo's face pasted into the same background). The closest non-copies are two frames of
one burst (agreement 0.80 and 0.85): booking photos of different days are far. tests/test_duplicates.py
checks the issue's kinds through `facematch link`.

Cost (one core): `region` ~18 ms a face plus decoding its photo, `near_duplicate` ~4-7 ms a pair (~26 ms with
the mirrored try). Nothing is stored per face: a Region is ~400 KB, held for one block only; the verdict is
stored with the pair (link_pairs.kind, .duplicate).
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..i18n import N_
from ..store import FaceRow

#: The rule's name, stored with the pairs it classified (store/links.py: duplicate_rule): `facematch link` makes
#: the verdicts of pairs stored under another rule again (run.recheck), without linking again. Change it when
#: the rule changes what it finds.
RULE = "pixels-1"
#: Pairs at least this similar (cosine) are checked, and every pair of band strong whatever its cosine.
#: Copies below 0.8 are heavy degradations (JPEG q10, 100 px thumbnails) that score like a second photo.
CHECK_COSINE = 0.8
#: From this cosine on, a mirrored copy is looked for too (it costs about 5x a plain check).
MIRROR_COSINE = 0.9

#: The region around a face: the face box's longer side times this, centred on the box.
REGION = 2.0
#: Side (px) of the grey region: SIFT and the pixel comparison work on it.
SIDE = 256
#: SIFT: keypoints kept per region, and its contrast threshold (lower than OpenCV's 0.04: faces are smooth).
FEATURES = 500
CONTRAST = 0.02
#: Lowe's ratio test; a match must also move less than MAX_MOVE region sides.
RATIO = 0.8
MAX_MOVE = 0.25
#: RANSAC: a match fits the transform within this many pixels of the SIDE region.
RANSAC_PX = 3.0
#: A copy's transform: scale within [1 / MAX_SCALE, MAX_SCALE], rotation within MAX_ROTATION degrees, the face
#: box's centre moved by at most MAX_SHIFT region sides; for the affine fit also MAX_STRETCH between the axes'
#: scales and MAX_SHEAR.
MAX_SCALE = 1.33
MAX_ROTATION = 20.0
MAX_SHIFT = 0.15
MAX_STRETCH = 1.2
MAX_SHEAR = 0.15
#: At least this many of the transform's inliers on the face box itself.
FACE_INLIERS = 5
#: The finest detail compared: a Gaussian of this sigma (px) on a face 128 px wide, widened for a smaller face.
SIGMA = 0.8
#: The pixel agreement a copy reaches: copies measured 0.85-1.00, different photos of one person at most 0.80
#: (two frames of one burst) after the similarity fit, 0.85 after the affine fit.
AGREEMENT = 0.85
AGREEMENT_AFFINE = 0.90
#: Regions held at once while a block's pairs are checked (~0.4 MB each); a face's region is dropped after its
#: last pair of the block, and beyond this the least recently used one (made again if needed: counted).
HELD = 512

#: Why a pair is a duplicate image (stored as this English message; shown through the catalog).
DUP_FILE = N_("the same file (identical sha256)")
DUP_PIXELS = N_("the same image saved again (re-encoded, resized or cropped)")
DUP_MIRRORED = N_("the same image saved again, mirrored")


@dataclass
class Region:
    """What one face brings to the check, from its photo alone (made once per face, reused for its pairs)."""

    face_px: float  # the face box's longer side in the photo (px): the resolution of its detail
    grey: np.ndarray  # (SIDE, SIDE) uint8: the region around the face
    valid: np.ndarray  # (SIDE, SIDE) bool: inside the photo (not padding)
    pts: np.ndarray  # (n, 2) float32 keypoints, in region sides (0..1)
    desc: np.ndarray  # (n, 128) float32 SIFT descriptors
    _mirror: Region | None = field(default=None, repr=False)

    def mirrored(self) -> Region:
        """The same region mirrored left-right (made once)."""
        if self._mirror is None:
            grey, valid = np.ascontiguousarray(self.grey[:, ::-1]), np.ascontiguousarray(self.valid[:, ::-1])
            pts, desc = _features(grey, valid)
            self._mirror = Region(self.face_px, grey, valid, pts, desc)
        return self._mirror


@dataclass
class Verdict:
    duplicate: bool
    mirrored: bool = False  # found through the mirrored region
    fit: str = ""  # "similarity" or "affine": the transform that made (or came closest to) the verdict
    inliers: int = 0
    face_inliers: int = 0
    agreement: float = 0.0  # the pixel agreement on the face (AGREEMENT, AGREEMENT_AFFINE)
    why: str = ""  # what failed, for measurement ("" for a duplicate)


def duplicate_kind(fa: FaceRow, fb: FaceRow, cosine: float, strong: bool, regions: Regions | None) -> str:
    """Why two faces (fa.id < fb.id) are one image saved again (DUP_FILE, DUP_PIXELS, DUP_MIRRORED), or ""."""
    if fa.sha256 and fa.sha256 == fb.sha256:
        return DUP_FILE
    if regions is None or not checked(cosine, strong):
        return ""
    ra, rb = regions.get(fa.id), regions.get(fb.id)
    if ra is None or rb is None:  # a photo gone or unreadable: never called a duplicate by its pixels
        return ""
    v = near_duplicate(ra, rb, mirrored=cosine >= MIRROR_COSINE)
    return "" if not v.duplicate else DUP_MIRRORED if v.mirrored else DUP_PIXELS


def checked(cosine: float, strong: bool) -> bool:
    """Is a pair's pixel check made (CHECK_COSINE, or band strong)?"""
    return cosine >= CHECK_COSINE or strong


class Regions:
    """The regions of one block's faces to check: each photo decoded once, each face's region made once.

    `need` counts, per face, the pairs of the block it will be checked in; `done(face)` after each, and a face's
    region is dropped after its last one. At most HELD regions are held (least recently used dropped first;
    `again` counts regions made a second time, zero when a block's pairs fit)."""

    def __init__(self, rows: dict[int, FaceRow], need: Counter) -> None:
        self.rows, self.need = rows, need
        self.by_photo: dict[int, list[int]] = {}
        for f in sorted(need):
            self.by_photo.setdefault(rows[f].photo_id, []).append(f)
        self.held: OrderedDict[int, Region | None] = OrderedDict()
        self.made: set[int] = set()
        self.decoded = self.again = 0

    def get(self, face: int) -> Region | None:
        if face in self.held:
            self.held.move_to_end(face)
            return self.held[face]
        row = self.rows[face]
        rgb = self._decode(row.path)
        self.decoded += 1
        # every face of this photo the block still needs, from this one decode
        for other in [face] + [f for f in self.by_photo.get(row.photo_id, []) if f != face]:
            if other in self.held or (other != face and self.need.get(other, 0) <= 0):
                continue
            self.again += other in self.made
            self.made.add(other)
            self.held[other] = None if rgb is None else region(rgb, self.rows[other].box)
        self.held.move_to_end(face)  # last: never the one dropped below
        while len(self.held) > HELD:
            self.held.popitem(last=False)
        return self.held[face]

    def done(self, face: int) -> None:
        self.need[face] -= 1
        if self.need[face] <= 0:
            self.held.pop(face, None)

    @staticmethod
    def _decode(path: Path) -> np.ndarray | None:
        from ..thumbs import load_full

        try:
            return load_full(path)
        except Exception:  # a photo gone or unreadable: no region, so never a duplicate by its pixels
            return None


_sift = None
_matcher = None


def _features(grey: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    global _sift
    if _sift is None:
        _sift = cv2.SIFT_create(nfeatures=FEATURES, contrastThreshold=CONTRAST)
    mask = cv2.erode(valid.astype(np.uint8) * 255, np.ones((5, 5), np.uint8))  # not on the photo's own edge
    kps, desc = _sift.detectAndCompute(grey, mask)
    pts = np.array([k.pt for k in kps], np.float32).reshape(-1, 2) / SIDE
    return pts, (desc if desc is not None else np.zeros((0, 128), np.float32))


def region(rgb: np.ndarray, box) -> Region:
    """The region around a face box (x1, y1, x2, y2, in the photo's pixels) of an RGB (or grey) photo."""
    import cv2

    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    x1, y1, x2, y2 = (float(v) for v in box)
    face = max(x2 - x1, y2 - y1, 1.0)
    s = SIDE / (REGION * face)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    m = np.array([[s, 0, SIDE / 2 - s * cx], [0, s, SIDE / 2 - s * cy]], np.float32)
    if s < 1:  # shrinking: blur first against aliasing
        grey = cv2.GaussianBlur(grey, (0, 0), 0.5 / s)
    out = cv2.warpAffine(grey, m, (SIDE, SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    valid = cv2.warpAffine(np.full(grey.shape, 255, np.uint8), m, (SIDE, SIDE), flags=cv2.INTER_NEAREST) > 0
    pts, desc = _features(out, valid)
    return Region(face, out, valid, pts, desc)


def near_duplicate(a: Region, b: Region, mirrored: bool = True) -> Verdict:
    """Are these two faces the same image saved again (mirrored too with `mirrored`)? Never by the faces'
    likeness: only by their pixels. Deterministic for a given order: pass a pair's lower face id first."""
    v = _compare(a, b)
    if not v.duplicate and mirrored:
        w = _compare(a.mirrored(), b)
        if w.duplicate:
            w.mirrored = True
            return w
    return v


def _compare(a: Region, b: Region) -> Verdict:
    import cv2

    global _matcher
    if len(a.pts) < 4 or len(b.pts) < 4:
        return Verdict(False, why="too few keypoints")
    if _matcher is None:
        _matcher = cv2.BFMatcher(cv2.NORM_L2)
    good = [
        m[0] for m in _matcher.knnMatch(a.desc, b.desc, k=2) if len(m) == 2 and m[0].distance < RATIO * m[1].distance
    ]
    pa = np.array([a.pts[m.queryIdx] for m in good], np.float32).reshape(-1, 2)
    pb = np.array([b.pts[m.trainIdx] for m in good], np.float32).reshape(-1, 2)
    near = np.linalg.norm(pa - pb, axis=1) < MAX_MOVE
    pa, pb = pa[near], pb[near]
    if len(pa) < FACE_INLIERS:
        return Verdict(False, why="too few corresponding keypoints")
    best = Verdict(False, why="no transform")
    for fit, estimate, threshold in (
        ("similarity", cv2.estimateAffinePartial2D, AGREEMENT),
        ("affine", cv2.estimateAffine2D, AGREEMENT_AFFINE),
    ):
        m, inl = estimate(pa, pb, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX / SIDE, maxIters=2000,
                          confidence=0.995, refineIters=10)  # fmt: skip
        if m is None:
            continue
        inl = inl.ravel().astype(bool)
        on_face = inl & (np.abs(pb - 0.5) < 0.25).all(axis=1)
        v = Verdict(False, fit=fit, inliers=int(inl.sum()), face_inliers=int(on_face.sum()))
        if not _near_identity(m):
            v.why = "transform far from a copy's"
        elif v.face_inliers < FACE_INLIERS:
            v.why = "too few corresponding keypoints on the face"
        else:
            whole, mixed = agreement(a, b, m)
            # the affine fit can bend a second photo a little towards the first: judged on the whole face, higher
            v.agreement = mixed if fit == "similarity" else whole
            v.duplicate = v.agreement >= threshold
            v.why = "" if v.duplicate else "face pixels differ"
        if v.duplicate:
            return v
        if v.agreement >= best.agreement or best.why == "no transform":
            best = v
    return best


def _near_identity(m: np.ndarray) -> bool:
    """A copy's transform between the two face-centred regions is near identity (MAX_SCALE ... MAX_SHEAR)."""
    q, r = np.linalg.qr(m[:, :2].astype(np.float64))
    d = np.sign(np.diag(r))
    q, r = q * d, (r.T * d).T  # r with a positive diagonal: m = q (a rotation, or a reflection) @ r
    if np.linalg.det(q) < 0:
        return False  # a mirror image: near_duplicate's mirrored try, not here
    scale = float(np.sqrt(abs(np.linalg.det(r))))
    rotation = float(np.degrees(np.arctan2(q[1, 0], q[0, 0])))
    stretch = float(max(r[0, 0], r[1, 1]) / max(min(r[0, 0], r[1, 1]), 1e-9))
    shear = float(abs(r[0, 1]) / max(r[1, 1], 1e-9))
    shift = float(np.linalg.norm(m[:, :2] @ np.array([0.5, 0.5]) + m[:, 2] - 0.5))
    return (1 / MAX_SCALE <= scale <= MAX_SCALE and abs(rotation) <= MAX_ROTATION and shift <= MAX_SHIFT
            and stretch <= MAX_STRETCH and shear <= MAX_SHEAR)  # fmt: skip


def agreement(a: Region, b: Region, m: np.ndarray) -> tuple[float, float]:
    """How well region A, moved by `m` (2x3, in region sides), reproduces the face of region B: band-pass detail
    at the resolution of the poorer face, correlated over the face box. Returns (the whole box's correlation,
    its mean with the 25th percentile of a 4 x 4 grid of patches)."""
    import cv2

    mp = m.astype(np.float64).copy()
    mp[:, 2] *= SIDE
    wa = cv2.warpAffine(a.grey.astype(np.float32), mp, (SIDE, SIDE), flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    va = cv2.warpAffine(a.valid.astype(np.uint8), mp, (SIDE, SIDE), flags=cv2.INTER_NEAREST) > 0
    q = SIDE // 4
    mask = np.zeros((SIDE, SIDE), bool)
    mask[q : 3 * q, q : 3 * q] = True
    mask &= va & b.valid
    if mask.sum() < 500:
        return 0.0, 0.0
    sigma = SIGMA * (SIDE / REGION) / min(a.face_px, b.face_px, SIDE / REGION)
    fb = b.grey.astype(np.float32)
    da = cv2.GaussianBlur(wa, (0, 0), sigma) - cv2.GaussianBlur(wa, (0, 0), 4 * sigma)
    db = cv2.GaussianBlur(fb, (0, 0), sigma) - cv2.GaussianBlur(fb, (0, 0), 4 * sigma)
    whole = _ncc(da[mask], db[mask])
    step = 2 * q // 4
    energy = float((db[mask] ** 2).mean())
    patches = []
    for i in range(4):
        for j in range(4):
            pm = np.zeros_like(mask)
            pm[q + i * step : q + (i + 1) * step, q + j * step : q + (j + 1) * step] = True
            pm &= mask
            # a patch with hardly any detail (a plain cheek) has nothing to compare
            if pm.sum() >= 50 and float((db[pm] ** 2).mean()) >= 0.05 * energy:
                patches.append(_ncc(da[pm], db[pm]))
    if not patches:
        return whole, 0.0
    return whole, float((whole + np.percentile(patches, 25)) / 2)


def _ncc(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x.astype(np.float64) - x.mean(), y.astype(np.float64) - y.mean()
    d = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / d) if d > 0 else 0.0
