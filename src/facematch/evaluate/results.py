"""What every evaluation writes: its JSON (one schema version) and the score of a pair with a missing face."""

from __future__ import annotations

import json
import os
from pathlib import Path

#: Score given to a pair in which a face is missing: below every possible cosine similarity.
MISSING_SCORE = -1.0
#: Version of the JSON written by the evaluations; bump when a key changes meaning or disappears.
RESULT_SCHEMA = 1


def write_json(result: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)
    return path
