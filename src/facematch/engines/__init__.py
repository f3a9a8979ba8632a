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

__all__ = [
    "DEFAULT_ENGINE", "ENGINES", "EngineInfo", "Face", "FaceEngine", "MissingExtra", "engine_info", "get_engine",
    "models_dir", "require",
]  # fmt: skip


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
