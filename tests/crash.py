"""Kill an indexing run with SIGKILL at seeded random moments, then let it finish: shared by the test and bench.

The tests run ten kills; bench/kill_resume.py runs a hundred. Both compare the result with an
uninterrupted run of the same photos.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path


def index_cmd(photos: Path, idx: Path) -> list[str]:
    cli = [sys.executable, "-m", "facematch.cli"]
    return [*cli, "index", str(photos), "--index", str(idx), "--workers", "2", "--quiet"]


@dataclass
class KillRun:
    kills: int = 0  # runs killed while still working
    finished_early: int = 0  # runs that ended before their kill time came
    delays: list[float] = field(default_factory=list)


def kill_repeatedly(photos: Path, idx: Path, kills: int, seed: int, max_delay: float = 3.0) -> KillRun:
    """Start indexing and SIGKILL it (parent and workers) after a random delay, `kills` times.

    Delays are drawn up to max_delay seconds, so kills land during start-up, scanning, database
    writes and the FAISS save. A run that finishes first is counted, and the next run starts.
    """
    rng = random.Random(seed)
    run = KillRun()
    attempts = 0
    while run.kills < kills and attempts < kills * 3:
        attempts += 1
        proc = subprocess.Popen(
            index_cmd(photos, idx), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        delay = rng.uniform(0.2, max_delay)
        time.sleep(delay)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, mid-write or not
            run.kills += 1
            run.delays.append(delay)
        else:
            run.finished_early += 1
        proc.wait()
    return run


def finish(photos: Path, idx: Path) -> subprocess.CompletedProcess:
    return subprocess.run(index_cmd(photos, idx), capture_output=True, text=True, timeout=600)
