"""What the command groups share about their arguments: the default index folder."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_INDEX = Path("index")


def default_index() -> Path:
    return Path(os.environ.get("FACEMATCH_INDEX", DEFAULT_INDEX))
