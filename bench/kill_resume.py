"""Kill indexing with SIGKILL 100 times (seeded), resume, and check every result against an uninterrupted run.

    .venv/bin/python bench/kill_resume.py [--kills 100] [--photos 200] [--seed 1]

Rounds: each round indexes into a fresh folder, killing the run at random moments until the
round's kill budget is spent, then lets it finish and compares the index with the reference
(same photos, boxes and embeddings; no duplicate ids; SQLite integrity_check; FAISS ids equal
the database's). Prints one line per round and a summary; exits 1 if any round differs.
The test suite runs the same harness with ten kills (tests/test_resume.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import variants  # noqa: E402
from crash import finish, kill_repeatedly  # noqa: E402
from facematch.indexing import index_folder  # noqa: E402
from test_index import assert_consistent, faces_in_db  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--per-round", type=int, default=10, help="kills per fresh index (default 10)")
    ap.add_argument("--photos", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="facematch-kill-") as tmp:
        tmp_path = Path(tmp)
        photos = tmp_path / "photos"
        variants(photos, args.photos)
        reference = tmp_path / "reference"
        index_folder(photos, reference, "sface", workers=2, progress=False)
        expected = faces_in_db(reference)
        print(f"reference: {args.photos} photos, {len(expected)} faces")
        total, rounds, bad, early = 0, 0, 0, 0
        t0 = time.monotonic()
        while total < args.kills:
            rounds += 1
            idx = tmp_path / f"round{rounds}"
            n = min(args.per_round, args.kills - total)
            run = kill_repeatedly(photos, idx, kills=n, seed=args.seed * 1000 + rounds, n_photos=args.photos)
            done = finish(photos, idx)
            ok = done.returncode == 0 and not run.failed
            if not ok:
                print(f"  a run failed (exit codes {run.failed}, final {done.returncode}): {done.stderr[-1500:]}")
            if ok:
                got = faces_in_db(idx)
                ok = got.keys() == expected.keys() and all(
                    np.allclose(got[k], v, atol=1e-4) for k, v in expected.items()
                )
                try:
                    assert_consistent(idx)
                except AssertionError:
                    ok = False
            total += run.kills
            early += run.finished_early
            bad += not ok
            print(
                f"round {rounds}: {run.kills} kills at {run.at_scanned} of {args.photos} photos scanned, "
                f"{run.finished_early} runs finished first; resumed index {'identical' if ok else 'DIFFERENT'}"
            )
        print(
            f"\n{total} SIGKILLs in {rounds} rounds, {early} runs finished before their kill; "
            f"{rounds - bad}/{rounds} resumed indexes identical to the uninterrupted run "
            f"({time.monotonic() - t0:.0f} s)"
        )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
