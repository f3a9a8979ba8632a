"""A run killed with SIGKILL at random moments, then resumed, ends with exactly an uninterrupted run's index."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np

from conftest import variants
from facematch.indexer import index_folder
from test_index import assert_consistent, faces_in_db


def _index_cmd(photos, idx) -> list[str]:
    return [
        sys.executable,
        "-m",
        "facematch.cli",
        "index",
        str(photos),
        "--index",
        str(idx),
        "--workers",
        "2",
        "--quiet",
    ]


def test_sigkill_then_resume_gives_the_uninterrupted_result(tmp_path):
    photos = tmp_path / "photos"
    variants(photos, 48)
    reference = tmp_path / "reference"
    index_folder(photos, reference, "sface", workers=1, progress=False)
    expected = faces_in_db(reference)
    assert len(expected) >= 48

    idx = tmp_path / "killed"
    rng = random.Random(20261123)
    kills = 0
    for _ in range(4):
        proc = subprocess.Popen(
            _index_cmd(photos, idx), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.3, 2.5))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the parent and its workers, mid-write or not
            kills += 1
        proc.wait()
    assert kills >= 2, "runs finished before they could be killed: the test proves nothing"
    done = subprocess.run(_index_cmd(photos, idx), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    got = faces_in_db(idx)
    assert got.keys() == expected.keys()
    for key, emb in expected.items():
        np.testing.assert_allclose(got[key], emb, atol=1e-4)
    assert_consistent(idx)
