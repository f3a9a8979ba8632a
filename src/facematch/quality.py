"""A face's quality, from what the index stores for it (issue 25: "junk must not lead").

Blurred, pixelated and low-confidence faces carry little of a person's identity: their embeddings drift to the
crowded middle of face space, close to everyone and to each other. In the cross-check they made strong pairs
with strangers and led the groups ("possibly the same person": pixelated background faces of three people
each). `assess` says from the stored box, landmarks, detector score and sharpness (faces.x1..y2, landmarks,
det_score, quality) whether a face is of low quality and why, in words a person can read; nothing new is
stored and nothing is re-indexed:

- "face is small (21 px)": the box's shorter side in the photo below SMALL_PX;
- "face is blurred": the variance of the Laplacian of the aligned chip the recognizer sees (Face.quality)
  below BLUR_BELOW;
- "low detector confidence (0.84)": the detector's score below LOW_SCORE;
- "face is turned away (about 65 degrees)": the yaw read from the 5 landmarks beyond TURNED_DEG.

The blur and score limits were measured with the default engine (sface: YuNet's score, a 112 px chip), so they
apply to its faces only (SCORED_ENGINES): dlib's detector score is on another scale and its chip another size.
Size and pose are geometry and apply to every engine.

Measured for issue 25 (scripts outside this repository) on an archive of 11,649 faces: LFW and east-asian-dev
photos with their background faces, 1,436 degraded photos of known people and 1,389 junk faces (the only photo
of one-photo LFW people made tiny, pixelated or blurred, so every pair they make is false). Hubs (the 5% of
faces closest to their 10 nearest strangers) are 39% of faces with sharpness < 10, 24-27% of faces with a
detector score < 0.8 and 17% at 0.85-0.9, against 1-2% above. With these limits 26% of that archive is flagged
(under 1% of the data sets' main faces; 81% of the junk faces), holding 86% of the hubs; keeping them out of
groups leaves out 79% of the false strong and possible pairs (97% of those with a junk face), 0.8% of the true
strong pairs, and every group that joined junk faces of different people. Small and turned-away faces are not
hubs, but they find their own person rarely (none beyond 60 degrees made a true strong pair).

What low quality does (crosscheck/review.py): the face stays indexed, searchable and listed; it is kept out of
the cross-check's groups, its pairs come after the others of their band in the review queue with the reason
shown, and how many faces were set aside is said. Search is unchanged: a family's own photo may be poor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .i18n import N_, _

#: The aligned chip's Laplacian variance below this is blurred. Main faces of LFW, east-asian-dev and
#: age-gap-dev: 1st percentile 40, 1 of 10,757 below; faces below 10 are hubs about 25x as often as above 25.
BLUR_BELOW = 12.0
#: The detector's score below this is low confidence (YuNet; the engine keeps detections from 0.7; the data
#: sets' main faces score 0.90-0.96, 0.1-0.2% of them below 0.88).
LOW_SCORE = 0.88
#: A face whose box's shorter side is below this (px, in the photo) is small: faces of 20-30 px found their own
#: person at the strong band 5x less often than faces of 30-40 px, and made 5x the false possible pairs.
SMALL_PX = 28
#: The approximate yaw (degrees) beyond which a face is turned away.
TURNED_DEG = 60.0
#: Engines (fingerprint names) whose detector score and chip sharpness the limits above were measured on.
SCORED_ENGINES = ("sface",)

SMALL = N_("face is small ({px} px)")
BLURRED = N_("face is blurred")
LOW_CONFIDENCE = N_("low detector confidence ({score})")
TURNED = N_("face is turned away (about {deg} degrees)")


@dataclass
class Quality:
    """A face's quality signals and, when it is of low quality, why (English messages with their values)."""

    size: float  # the box's shorter side (px)
    sharpness: float  # variance of the Laplacian of the aligned chip
    det_score: float
    yaw: float  # approximate degrees (a 5-point proxy, not a head-pose model)
    reasons: list[dict] = field(default_factory=list)  # {"msg": English message, "args": {...}}

    @property
    def low(self) -> bool:
        return bool(self.reasons)

    def text(self) -> list[str]:
        """The reasons in the active language."""
        return [_(r["msg"], **r["args"]) for r in self.reasons]

    def tags(self) -> list[str]:
        """The reasons as short English keys (small, blurred, low_confidence, turned), for counts and exports."""
        return [_KEYS[r["msg"]] for r in self.reasons]


_KEYS = {SMALL: "small", BLURRED: "blurred", LOW_CONFIDENCE: "low_confidence", TURNED: "turned"}
#: The reason keys in the active language, without values (for counts: "blurred 3, small 2").
REASON_NAMES = {
    "small": N_("small"),
    "blurred": N_("blurred"),
    "low_confidence": N_("low detector confidence"),
    "turned": N_("turned away"),
}


def yaw(landmarks) -> float:
    """Approximate yaw in degrees from the 5 landmarks (right eye, left eye, nose tip, right and left mouth
    corner, as align.py's template; the subject's right eye is on the image's left).

    The landmarks are first turned so the eyes are level (roll). The face's midline runs from the eyes' midpoint
    to the mouth's; a turned head moves the nose tip (which stands out of the face) sideways off that line. Its
    offset in eye distances, d, is read as atan(d / 0.55): the nose tip stands about 0.55 eye distances in
    front of the eyes. Measured: LFW's main faces have a median of 0.6 degrees and 98% within +-40."""
    p = np.asarray(landmarks, np.float64).reshape(5, 2)
    eye_mid, mouth_mid = (p[0] + p[1]) / 2, (p[3] + p[4]) / 2
    d = p[1] - p[0]
    iod = float(np.hypot(*d))
    if iod < 1e-6:
        return 90.0
    a = -np.arctan2(d[1], d[0])
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    nose, mouth = rot @ (p[2] - eye_mid), rot @ (mouth_mid - eye_mid)
    mid_x = mouth[0] * nose[1] / mouth[1] if abs(mouth[1]) > 1e-6 else 0.0  # the midline at the nose's height
    return float(np.degrees(np.arctan2((nose[0] - mid_x) / iod, 0.55)))


def assess(box, landmarks, det_score: float, sharpness: float, engine: str = "sface") -> Quality:
    """A face's quality from what the index stores for it. `engine`: its fingerprint (or name); the blur and
    score limits apply to SCORED_ENGINES only."""
    x1, y1, x2, y2 = (float(v) for v in box)
    size = min(x2 - x1, y2 - y1)
    q = Quality(size, float(sharpness), float(det_score), yaw(landmarks) if len(landmarks) == 5 else 0.0)
    scored = str(engine).split("@")[0] in SCORED_ENGINES
    if size < SMALL_PX:
        q.reasons.append({"msg": SMALL, "args": {"px": str(int(round(size)))}})
    if scored and sharpness < BLUR_BELOW:
        q.reasons.append({"msg": BLURRED, "args": {}})
    if scored and det_score < LOW_SCORE:
        q.reasons.append({"msg": LOW_CONFIDENCE, "args": {"score": f"{det_score:.2f}"}})
    if abs(q.yaw) > TURNED_DEG:
        q.reasons.append({"msg": TURNED, "args": {"deg": str(int(round(abs(q.yaw) / 5) * 5))}})
    return q


def of_row(face) -> Quality:
    """assess() for a stored face (store.FaceRow)."""
    return assess(face.box, face.landmarks, face.det_score, face.quality, face.engine)
