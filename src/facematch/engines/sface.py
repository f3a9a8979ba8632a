"""sface: YuNet detector + SFace recognizer, both small permissive ONNX files run by OpenCV's DNN.

Quirks (see models/README.md): the int8 YuNet loads in OpenCV's DNN but not in onnxruntime; the
stripped SFace loads in both, takes RGB 0-255 pixels, and expects faces aligned to the ArcFace 5-point
template (insightface's norm_crop). OpenCV's FaceRecognizerSF gives the same vectors as onnxruntime on
the same chip (cosine 1.00000 on LFW chips) in half the time (22 vs 46 ms a chip on one core), which is
what pays for flip averaging.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .. import messages
from .align import norm_crop
from .base import Face, FaceEngine, merge_faces, preprocessing_text

DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNIZER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"
#: Up-scaling policies before YuNet, see SFaceEngine._detect.
UPSCALE_POLICIES = ("640", "none", "face", "both", "mean")
BORDER_POLICIES = ("miss", "edge", "both", "auto")


class SFaceEngine(FaceEngine):
    name = "sface"
    dim = 128
    #: YuNet is trained around 320-640 px inputs; policy "640" scales small photos up to this longest side.
    min_side = 640
    #: Policy "face": a face found natively smaller than this (px) is detected again on an up-scaled copy...
    small_face = 64
    #: ...scaled so that the face becomes about this size (px), the middle of YuNet's anchor range.
    face_target = 128

    #: The default pre-processing since issue 16, chosen on every dev set in bench/accuracy.py (docs/accuracy.md,
    #: "Accuracy on photos like families'"). The old policy is upscale="640", border="miss", flip=False.
    DEFAULTS = {"upscale": "both", "border": "edge", "flip": True}

    def __init__(
        self,
        folder: Path,
        score_threshold: float = 0.7,
        threads: int | None = None,
        *,
        upscale: str | None = None,
        border: str | None = None,
        flip: bool | None = None,
    ) -> None:
        upscale = self.DEFAULTS["upscale"] if upscale is None else upscale
        border = self.DEFAULTS["border"] if border is None else border
        flip = self.DEFAULTS["flip"] if flip is None else flip
        if upscale not in UPSCALE_POLICIES or border not in BORDER_POLICIES:
            raise ValueError(f"upscale must be one of {UPSCALE_POLICIES}, border one of {BORDER_POLICIES}")
        det, rec = self._files = self.files_in(folder)
        self.upscale, self.border, self.flip = upscale, border, flip
        # threads: OpenCV's DNN runs both models; its thread count is process-wide (cv2.setNumThreads),
        # which the indexer's workers set. The argument stays for the common engine signature.
        self.threads = threads
        self._detector = cv2.FaceDetectorYN.create(str(det), "", (320, 320), score_threshold, 0.3, 5000)
        self._recognizer = cv2.FaceRecognizerSF.create(str(rec), "")

    @staticmethod
    def files_in(folder: Path) -> list[Path]:
        """The detector and recognizer files, or the one clear error when one is missing (no model loaded)."""
        det, rec = folder / DETECTOR_FILE, folder / RECOGNIZER_FILE
        missing = [p.name for p in (det, rec) if not p.is_file()]
        if missing:
            raise FileNotFoundError(messages.missing_model("sface", str(folder), f"Missing: {', '.join(missing)}."))
        return [det, rec]

    def weight_files(self) -> list[Path]:
        return self._files

    def preprocessing(self) -> str:
        return self.preprocessing_of(self.upscale, self.border, self.flip)

    @staticmethod
    def preprocessing_of(upscale: str, border: str, flip: bool) -> str:
        """The fingerprint's pre-processing suffix for these options, without loading the models (engine_info):
        "" for the old policy (640 up-scaling, a border only on a miss, no flip), so old fingerprints stand."""
        pre = preprocessing_text(border, flip)
        if upscale == "640":
            return pre
        return f"up={upscale}" + (f"+{pre}" if pre else "")

    def _yunet(self, rgb: np.ndarray, factor: float) -> list[Face]:
        """YuNet on the photo scaled by `factor` (cubic when up), faces in the photo's own pixels."""
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        h, w = rgb.shape[:2]
        if factor != 1.0:
            interp = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
            bgr = cv2.resize(bgr, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=interp)
        self._detector.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, rows = self._detector.detect(bgr)
        faces = []
        for row in rows if rows is not None else []:
            x, y, bw, bh = row[:4]
            box = np.array([x, y, x + bw, y + bh], dtype=np.float32)
            faces.append(Face(box, row[4:14].reshape(5, 2).astype(np.float32), float(row[14])).scaled(factor))
        return faces

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        """YuNet with the up-scaling policy `upscale`.

        "640": any photo whose longest side is under 640 px is scaled up to 640 (the original policy);
        "none": the photo as it is; "face": as it is, then each face smaller than `small_face` px is
        detected again on an up-scaled cut-out around it (see `_refine_small`; "640" when nothing was found);
        "both": as it is and at 640, keeping per face the higher-scored detection; "mean": the same two
        detections with boxes and landmarks averaged.
        """
        h, w = rgb.shape[:2]
        up = self.min_side / max(h, w) if max(h, w) < self.min_side else 1.0
        if self.upscale == "640":
            return self._yunet(rgb, up)
        native = self._yunet(rgb, 1.0)
        if self.upscale == "none" or (up == 1.0 and self.upscale != "face"):
            return native
        if self.upscale == "face":
            if not native:
                return self._yunet(rgb, up) if up > 1.0 else native
            return [self._refine_small(rgb, f) if f.size < self.small_face else f for f in native]
        return merge_faces(native, self._yunet(rgb, up), how="mean" if self.upscale == "mean" else "score")

    def _refine_small(self, rgb: np.ndarray, face: Face) -> Face:
        """A small face detected again on a cut-out three faces wide, scaled so the face is `face_target` px.

        Cutting out rather than scaling the whole photo keeps the cost flat in a large group photo.
        The detection that overlaps the face most replaces it; when there is none the face stays.
        """
        h, w = rgb.shape[:2]
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        half = 1.5 * max(face.size, 1.0)
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return face
        cut = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        offset = np.array([x0, y0], dtype=np.float32)
        found = [
            Face(f.box + np.tile(offset, 2), f.landmarks + offset, f.score)
            for f in self._yunet(cut, self.face_target / max(face.size, 1.0))
        ]
        merged = merge_faces([face], found, how="second")
        return merged[0]

    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        return norm_crop(rgb, face.landmarks, 112)

    def _embed_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        # FaceRecognizerSF takes a BGR chip and swaps it to the RGB the network was trained on.
        out = [self._recognizer.feature(np.ascontiguousarray(chip[:, :, ::-1]))[0] for chip in chips]
        return np.array(out, dtype=np.float32)
