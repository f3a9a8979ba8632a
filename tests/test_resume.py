"""A run killed with SIGKILL at random moments, then resumed, ends with exactly an uninterrupted run's index."""

from __future__ import annotations

import numpy as np

from conftest import variants
from crash import finish, kill_repeatedly
from facematch.indexing import index_folder
from test_index import assert_consistent, faces_in_db

KILLS = 10
N_PHOTOS = 80


def test_ten_sigkills_then_resume_give_the_uninterrupted_result(tmp_path):
    photos = tmp_path / "photos"
    variants(photos, N_PHOTOS)
    reference = tmp_path / "reference"
    index_folder(photos, reference, "sface", workers=2, progress=False)
    expected = faces_in_db(reference)
    assert len(expected) >= N_PHOTOS

    idx = tmp_path / "killed"
    run = kill_repeatedly(photos, idx, kills=KILLS, seed=20261123, n_photos=N_PHOTOS)
    # Every kill must land before the work is done, or it proves nothing about resuming.
    assert run.kills == KILLS and run.finished_early == 0, run
    assert run.at_scanned[0] == 0 and max(run.at_scanned) > N_PHOTOS // 2, run  # early and late kills
    done = finish(photos, idx)
    assert done.returncode == 0, done.stderr

    got = faces_in_db(idx)
    assert got.keys() == expected.keys()
    for key, emb in expected.items():
        np.testing.assert_allclose(got[key], emb, atol=1e-4)
    assert_consistent(idx)
