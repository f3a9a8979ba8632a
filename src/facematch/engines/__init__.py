"""Face engines by name, in the spirit of insightface's `model_zoo.get_model`.

`get_engine("sface")`, `get_engine("dlib")`, `get_engine("insightface:buffalo_l")`. Nothing outside
this package imports dlib, onnxruntime or insightface's model code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..extras import MissingExtra, require
from ..fingerprint import Fingerprint
from ..i18n import _
from .base import Face, FaceEngine, fingerprint_of

#: The engine used when none is named: the best measured on age-gap and East Asian photos.
DEFAULT_ENGINE = "sface"

ENGINES = {
    "sface": "YuNet detector + SFace recognizer (ONNX, committed in models/sface; default)",
    "dlib": "dlib HOG detector + ResNet 128-d (weights from PyPI packages)",
    "insightface:<pack>": "an insightface model pack in models/<pack>/ (non-commercial research licence)",
}

#: The cosine at or above which the model's authors call two faces the same person, per engine name. The hubness
#: correction leaves archive neighbours at or above it out of a face's r_g (neighbours.Scoring): they are most
#: likely the same person photographed again (repeat arrests), not a sign that the face is close to everyone.
#: Published values, not tuned on this project's sets:
#: - sface: OpenCV Zoo's SFace demo (models/face_recognition_sface/sface.py: `_threshold_cosine = 0.363`, beside
#:   its norm-L2 threshold 1.128), the threshold its authors report for LFW verification.
#: An engine missing here keeps the correction of facematch before issue 26 (every neighbour counts):
#: insightface packs (no threshold published for these packs by their authors) and dlib (the rule was measured
#: with sface only; docs/accuracy.md, "What changed: the hubness rule").
SAME_PERSON_COSINE: dict[str, float] = {"sface": 0.363}

__all__ = [
    "DEFAULT_ENGINE", "ENGINES", "SAME_PERSON_COSINE", "EngineInfo", "Face", "FaceEngine", "MissingExtra",
    "engine_info", "get_engine", "models_dir", "require", "same_person_cosine",
]  # fmt: skip


def same_person_cosine(engine: str) -> float | None:
    """SAME_PERSON_COSINE of an engine (a name or a fingerprint), None where none is published."""
    name = Fingerprint(engine).name if "@" in str(engine) else str(engine)
    return SAME_PERSON_COSINE.get(name)


def models_dir() -> Path:
    """Where model files live: $FACEMATCH_MODELS, else the project's models/ folder, else the copy installed
    with the package (sface only), else ./models."""
    env = os.environ.get("FACEMATCH_MODELS")
    if env:
        return Path(env).expanduser()
    project = Path(__file__).resolve().parents[3] / "models"
    if project.is_dir():
        return project
    packaged = Path(__file__).resolve().parents[1] / "models"  # a plain `pip install .` ships models/sface here
    if packaged.is_dir():
        return packaged
    return Path.cwd() / "models"


def get_engine(
    name: str = DEFAULT_ENGINE, threads: int | None = None, models: Path | None = None, **options: object
) -> FaceEngine:
    """Load an engine by name. Raises FileNotFoundError with one clear message if its files are missing.

    `options` are pre-processing settings of the sface engine (upscale, border, flip), for benchmarks
    that compare them; the defaults are the measured best.
    """
    folder = models or models_dir()
    if name == "sface":
        from .sface import SFaceEngine

        return SFaceEngine(folder / "sface", threads=threads, **options)  # type: ignore[arg-type]
    if options:
        raise ValueError(f"engine '{name}' takes no pre-processing options ({', '.join(options)})")
    if name == "dlib":
        require("dlib", "dlib", "face_recognition_models")
        from .dlib_engine import DlibEngine

        return DlibEngine()
    if name.startswith("insightface:") and len(name) > len("insightface:"):
        require("insightface", "insightface", "onnxruntime")
        from .insightface_engine import InsightFaceEngine

        return InsightFaceEngine(name.split(":", 1)[1], folder, threads=threads)
    raise ValueError(_("unknown engine '{name}'; choose one of: {engines}", name=name, engines=", ".join(ENGINES)))


@dataclass(frozen=True)
class EngineInfo:
    """What the indexer's main process needs of an engine: its name, fingerprint and embedding size."""

    name: str
    fingerprint: Fingerprint
    dim: int


def engine_info(name: str = DEFAULT_ENGINE, models: Path | None = None) -> EngineInfo:
    """An engine's EngineInfo, without loading its models where its weight files are known beforehand.

    The indexer's main process only needs the fingerprint; loading dlib's models for it cost about a
    second of CPU at start-up, taken from the workers loading theirs (bench/index_speed.py). Same
    errors as get_engine for a missing model or an unknown name.
    """
    folder = models or models_dir()
    if name == "sface":
        from .sface import SFaceEngine

        pre = SFaceEngine.preprocessing_of(**SFaceEngine.DEFAULTS)
        return EngineInfo(name, fingerprint_of(name, SFaceEngine.files_in(folder / "sface"), pre), SFaceEngine.dim)
    if name == "dlib":
        require("dlib", "dlib", "face_recognition_models")
        from .dlib_engine import DlibEngine

        return EngineInfo(name, fingerprint_of(name, DlibEngine.files()), DlibEngine.dim)
    engine = get_engine(name, models=models)  # insightface packs: the files and size come from the pack
    return EngineInfo(engine.name, engine.fingerprint, engine.dim)
