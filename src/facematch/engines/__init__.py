"""Face engines by name, in the spirit of insightface's `model_zoo.get_model`.

`get_engine("sface")`, `get_engine("dlib")`, `get_engine("insightface:buffalo_l")`. Nothing outside
this package imports dlib, onnxruntime or insightface's model code.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import Face, FaceEngine

#: The engine used when none is named: the best measured on age-gap and East Asian photos.
DEFAULT_ENGINE = "sface"

ENGINES = {
    "sface": "YuNet detector + SFace recognizer (ONNX, committed in models/sface; default)",
    "dlib": "dlib HOG detector + ResNet 128-d (weights from PyPI packages)",
    "insightface:<pack>": "an insightface model pack in models/<pack>/ (non-commercial research licence)",
}

__all__ = ["DEFAULT_ENGINE", "ENGINES", "Face", "FaceEngine", "get_engine", "models_dir"]


def models_dir() -> Path:
    """Where model files live: $FACEMATCH_MODELS, else the project's models/ folder, else ./models."""
    env = os.environ.get("FACEMATCH_MODELS")
    if env:
        return Path(env).expanduser()
    project = Path(__file__).resolve().parents[3] / "models"
    if project.is_dir():
        return project
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
        from .dlib_engine import DlibEngine

        return DlibEngine()
    if name.startswith("insightface:") and len(name) > len("insightface:"):
        from .insightface_engine import InsightFaceEngine

        return InsightFaceEngine(name.split(":", 1)[1], folder, threads=threads)
    raise ValueError(f"unknown engine '{name}'; choose one of: {', '.join(ENGINES)}")


def engine_slug(name: str) -> str:
    """A file-name-safe form of an engine name ("insightface:buffalo_l" -> "insightface-buffalo_l")."""
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)
