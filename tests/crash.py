"""Kill an indexing run with SIGKILL at seeded random moments, then let it finish: shared by the test and bench.

Kill moments are spread over the whole run rather than drawn from a clock: the k-th kill waits
until the database holds a seeded random number of scanned photos (increasing from kill to kill),
then a random fraction of a second more, so kills land in the middle of writes and near the end
(the FAISS save). The first kill lands during start-up, also by progress: the moment the run has
created its database file (schema being written, workers not yet started). A clock alone would, on
a loaded machine, kill every run before its workers had started and prove nothing about resuming,
and on a fast one let the start-up kill come after the first photo. The tests run ten kills;
bench/kill_resume.py runs a hundred.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from facematch.store import DB_NAME


def index_cmd(photos: Path, idx: Path) -> list[str]:
    cli = [sys.executable, "-m", "facematch.cli"]
    return [*cli, "index", str(photos), "--index", str(idx), "--workers", "2", "--quiet"]


def scanned(idx: Path) -> int:
    """Photos the database has committed so far (0 before it exists)."""
    try:
        con = sqlite3.connect(f"file:{idx / DB_NAME}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM scans").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@dataclass
class KillRun:
    kills: int = 0  # runs killed while still working
    finished_early: int = 0  # runs that ended before their kill moment came
    failed: list[int] = field(default_factory=list)  # exit codes of those that ended with an error
    at_scanned: list[int] = field(default_factory=list)  # photos committed when each kill landed


def kill_repeatedly(photos: Path, idx: Path, kills: int, seed: int, n_photos: int) -> KillRun:
    """Start indexing and SIGKILL it (parent and workers) `kills` times at seeded moments."""
    rng = random.Random(seed)
    # Scans are committed a batch at a time (indexer._Writes, a tenth of a second's photos): a target in the last
    # eighth could be reached only by the final commit, after which an 80-photo run ends before its kill comes.
    targets = sorted(rng.randrange(0, n_photos * 7 // 8) for _ in range(kills))
    targets[0] = 0  # one kill during start-up, before anything is written
    run = KillRun()
    for target in targets:
        proc = subprocess.Popen(
            index_cmd(photos, idx), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if target == 0:  # start-up: as soon as the database file exists (the first photo is seconds away)
            while proc.poll() is None and not (idx / DB_NAME).exists():
                time.sleep(0.005)
        else:
            while proc.poll() is None and scanned(idx) < target:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, mid-write or not
            run.kills += 1
            run.at_scanned.append(scanned(idx))
        else:
            run.finished_early += 1
            if proc.returncode:
                run.failed.append(proc.returncode)
        proc.wait()
    return run


def finish(photos: Path, idx: Path) -> subprocess.CompletedProcess:
    return subprocess.run(index_cmd(photos, idx), capture_output=True, text=True, timeout=600)
