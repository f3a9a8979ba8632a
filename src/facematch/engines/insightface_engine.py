"""insightface:<pack>: an insightface model pack (SCRFD detector + ArcFace recognizer) from models/<pack>/.

The packs are licensed for non-commercial research only and cannot be fetched on machines without
internet, so facematch never downloads one implicitly: a missing pack is a clear error, and
`facematch models fetch PACK` is the one explicit, opt-in path through insightface's own downloader.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .. import messages
from ..i18n import _
from .base import Face, FaceEngine

KNOWN_PACKS = ("buffalo_l", "buffalo_m", "buffalo_s", "buffalo_sc", "antelopev2")


class InsightFaceEngine(FaceEngine):
    dim = 512

    def __init__(self, pack: str, models_dir: Path, det_size: int = 640, threads: int | None = None) -> None:
        import onnxruntime as ort
        from insightface.app import FaceAnalysis

        self.name = f"insightface:{pack}"
        folder = models_dir / pack
        onnx_files = sorted(folder.glob("*.onnx")) if folder.is_dir() else []
        if not onnx_files:
            raise FileNotFoundError(
                messages.missing_model(
                    self.name,
                    str(folder),
                    f"With internet access, `facematch models fetch {pack}` downloads the pack "
                    "through insightface (non-commercial research licence).",
                )
            )
        ort.set_default_logger_severity(3)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        # A folder path (not a pack name) makes FaceAnalysis load from it and never download.
        self._app = FaceAnalysis(
            name=str(folder.resolve()),
            allowed_modules=["detection", "recognition"],
            providers=["CPUExecutionProvider"],
            sess_options=opts,
        )
        if "recognition" not in self._app.models:
            raise FileNotFoundError(
                messages.missing_model(self.name, str(folder), "The pack has no recognition model.")
            )
        self._app.prepare(ctx_id=-1, det_size=(det_size, det_size))
        self._rec = self._app.models["recognition"]
        self._files = [Path(m.model_file) for m in self._app.models.values()]
        self.dim = int(self._rec.session.get_outputs()[0].shape[1])
        self._chip = int(self._rec.input_size[0])

    def weight_files(self) -> list[Path]:
        return self._files

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        boxes, kpss = self._app.det_model.detect(bgr, max_num=0)
        faces = []
        for i in range(boxes.shape[0]):
            kps = kpss[i] if kpss is not None else _box_landmarks(boxes[i, :4])
            faces.append(Face(boxes[i, :4].astype(np.float32), kps.astype(np.float32), float(boxes[i, 4])))
        return faces

    def align(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        from insightface.utils import face_align

        return face_align.norm_crop(rgb, face.landmarks, self._chip)

    def _embed_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        bgr = [cv2.cvtColor(c, cv2.COLOR_RGB2BGR) for c in chips]
        batch = self._rec.session.get_inputs()[0].shape[0]
        if isinstance(batch, int) and batch == 1:
            return np.concatenate([self._rec.get_feat([c]) for c in bgr]).astype(np.float32)
        return np.asarray(self._rec.get_feat(bgr), dtype=np.float32)


def _box_landmarks(box: np.ndarray) -> np.ndarray:
    """Rough 5 points from a box, for detectors that give none (alignment is then approximate)."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    rel = np.array([[0.34, 0.46], [0.66, 0.46], [0.5, 0.64], [0.37, 0.82], [0.63, 0.82]])
    return np.stack([x1 + rel[:, 0] * w, y1 + rel[:, 1] * h], axis=1)


def fetch_pack(pack: str, models_dir: Path) -> Path:
    """Download a pack with insightface's own downloader into models_dir/<pack> (needs internet).

    insightface stores packs under <root>/models/<pack>; we pass models_dir's parent as root when
    the folder is called "models", so the pack lands exactly where facematch looks for it.
    """
    from ..extras import require

    require("insightface", "insightface", "onnxruntime")
    from insightface.utils import storage

    models_dir = models_dir.resolve()
    if models_dir.name != "models":
        raise ValueError(
            _("the models folder must be named 'models' for insightface's downloader: {folder}", folder=models_dir)
        )
    folder = Path(storage.download("models", pack, force=False, root=str(models_dir.parent)))
    # Some packs (antelopev2) zip a folder of the same name: lift its files to where we look.
    nested = folder / pack
    if not any(folder.glob("*.onnx")) and nested.is_dir():
        for f in nested.iterdir():
            f.replace(folder / f.name)
        nested.rmdir()
    return folder
