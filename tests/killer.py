"""Scan functions that really kill their worker process on chosen photos, for the worker-pool tests.

They run inside spawned workers, so they are told what to do through the environment (inherited by
the workers): FACEMATCH_TEST_KILL_ON="v005.jpg=sigkill,v011.jpg=exit,v017.jpg=once" and a folder
FACEMATCH_TEST_KILL_LOG where each death is written down before it happens (one file per photo,
one line per death), so a test can count how often each photo was tried.

- sigkill: the worker sends itself SIGKILL (as the OOM killer would);
- exit: the worker ends with os._exit(3) (as a native abort would, without Python's clean-up);
- once: SIGKILL on the first try only (a passing failure): the retry must index the photo.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from facematch.indexing.scan import scan_photo

KILL_ON = "FACEMATCH_TEST_KILL_ON"
KILL_LOG = "FACEMATCH_TEST_KILL_LOG"


def plan() -> dict[str, str]:
    spec = os.environ.get(KILL_ON, "")
    return dict(part.split("=", 1) for part in spec.split(",") if part)


def deaths(log: Path, name: str) -> int:
    """How many times a worker died on this photo so far."""
    f = log / f"{name}.log"
    return len(f.read_text().splitlines()) if f.exists() else 0


def scan_or_die(path: str, known_sha256: str | None) -> dict:
    """scan_photo, except on the photos named in FACEMATCH_TEST_KILL_ON, where the worker dies."""
    name = Path(path).name
    how = plan().get(name)
    if how is not None:
        log = Path(os.environ[KILL_LOG])
        if how != "once" or deaths(log, name) == 0:
            with open(log / f"{name}.log", "a") as f:
                f.write(f"{os.getpid()} {how}\n")
            if how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
    return scan_photo(path, known_sha256)
