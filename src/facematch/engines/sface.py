"""sface: YuNet detector (OpenCV) + SFace recognizer (onnxruntime), both small permissive ONNX files.

Quirks (see models/README.md): the int8 YuNet loads in OpenCV's DNN but not in onnxruntime;
the stripped SFace loads in onnxruntime with a fixed batch of 1, takes RGB 0-255 pixels, and
expects faces aligned to the ArcFace 5-point template (insightface's norm_crop).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .. import messages
from .align import norm_crop
from .base import Face, FaceEngine

DETECTOR_FILE = "face_detection_yunet_2023mar_int8bq.onnx"
RECOGNIZER_FILE = "face_recognition_sface_2021dec_int8bq.onnx"


class SFaceEngine(FaceEngine):
    name = "sface"
    dim = 128
    #: YuNet is trained around 320-640 px inputs; small photos are scaled up to this longest side.
    min_side = 640

    def __init__(self, folder: Path, score_threshold: float = 0.7, threads: int | None = None) -> None:
        import onnxruntime as ort

        det, rec = self._files = self.files_in(folder)
        self._detector = cv2.FaceDetectorYN.create(str(det), "", (320, 320), score_threshold, 0.3, 5000)
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        # The int8 file stores weights as DequantizeLinear nodes, which onnxruntime keeps (for QDQ
        # kernels it has none of here) and so runs on every call. Folding them into float weights once,
        # at load: 48 -> 31 ms per face at 1 thread, embeddings within 2e-6 (bench/index_speed.py).
        opts.add_session_config_entry("session.disable_quant_qdq", "1")
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(rec), opts, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

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

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        h, w = rgb.shape[:2]
        factor = 1.0
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if max(h, w) < self.min_side:
            factor = self.min_side / max(h, w)
            bgr = cv2.resize(bgr, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_CUBIC)
        self._detector.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, rows = self._detector.detect(bgr)
        faces = []
        for row in rows if rows is not None else []:
            x, y, bw, bh = row[:4]
            box = np.array([x, y, x + bw, y + bh], dtype=np.float32)
            faces.append(Face(box, row[4:14].reshape(5, 2).astype(np.float32), float(row[14])).scaled(factor))
        return faces

    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        return norm_crop(rgb, face.landmarks, 112)

    def _embed_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        out = []
        for chip in chips:
            blob = np.ascontiguousarray(chip.transpose(2, 0, 1)[None].astype(np.float32))
            out.append(self._session.run(None, {self._input: blob})[0][0])
        return np.array(out, dtype=np.float32)
