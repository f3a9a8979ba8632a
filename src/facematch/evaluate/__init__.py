"""Measuring an engine on photos whose identities are known: verification (LFW protocol), open-set search
with distractors, and the stranger-rate calibration check (`facematch evaluate`).
"""

from .core import *  # noqa: F403
from .core import (
    embed_photos,
    evaluate_calibration,
    evaluate_search,
    evaluate_verification,
    identity_from_filename,
    labelled_photos,
    people_photos,
    stranger_check,
)

__all__ = [
    "embed_photos",
    "evaluate_calibration",
    "evaluate_search",
    "evaluate_verification",
    "identity_from_filename",
    "labelled_photos",
    "people_photos",
    "stranger_check",
]
