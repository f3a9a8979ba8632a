"""The worker pool for real: workers that really die, a parent that is really SIGKILLed, the real model.

- A photo on which the worker dies (SIGKILL from inside, or os._exit) is retried on a fresh worker,
  then recorded as an error with its reason after its second death; every other photo, including
  those in flight beside it, is indexed exactly as in an undisturbed run; a rerun does not try the
  killer again; touching it makes the next run try it again.
- `facematch index` killed with SIGKILL leaves no worker behind (PR_SET_PDEATHSIG on Linux), and
  the portable fallback (a thread watching the parent) alone also ends a worker whose parent died.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from procs import alive, children

import killer
from conftest import variants
from crash import index_cmd, scanned
from facematch.indexing import index_folder, scan_all
from facematch.indexing.workers import Pool, WorkerStartError
from test_index import assert_consistent, faces_in_db

N_PHOTOS = 18
SIGKILLED, EXITED, ONCE = "v004.jpg", "v009.jpg", "v013.jpg"


def _report_lines(report) -> str:
    lines = [f"scanned {report.scanned}, unchanged {report.unchanged}, faces {report.faces} in {report.with_faces}"]
    lines += [f"  error {Path(e.path).name}: {e.reason}" for e in report.errors]
    return "\n".join(lines)


def test_a_photo_that_kills_its_worker_twice_is_an_error_and_everything_else_is_indexed(tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    variants(photos, N_PHOTOS)
    reference = tmp_path / "reference"
    index_folder(photos, reference, "sface", workers=2, progress=False)
    expected = faces_in_db(reference)

    log = tmp_path / "deaths"
    log.mkdir()
    monkeypatch.setenv(killer.KILL_ON, f"{SIGKILLED}=sigkill,{EXITED}=exit,{ONCE}=once")
    monkeypatch.setenv(killer.KILL_LOG, str(log))
    dying = functools.partial(scan_all, task=killer.scan_or_die)
    idx = tmp_path / "index"
    report = index_folder(photos, idx, "sface", workers=2, progress=False, scan=dying)
    print("\nfirst run, workers die on", SIGKILLED, EXITED, "(always) and", ONCE, "(once):")
    print(_report_lines(report))

    # Each killer killed two workers, the passing one one; none of it stopped the run.
    assert [killer.deaths(log, n) for n in (SIGKILLED, EXITED, ONCE)] == [2, 2, 1]
    assert report.scanned == N_PHOTOS and not report.interrupted
    reasons = {Path(e.path).name: e.reason for e in report.errors}
    assert reasons == {
        SIGKILLED: "the face engine crashed on this photo twice (worker killed by signal 9 (SIGKILL)); "
        "it is skipped from now on: `touch` the file, then index again, to retry it",
        EXITED: "the face engine crashed on this photo twice (worker exited with code 3); "
        "it is skipped from now on: `touch` the file, then index again, to retry it",
    }
    # Everything else, the photo that killed a worker once included, holds exactly the undisturbed faces.
    got = faces_in_db(idx)
    assert got.keys() == {k for k in expected if k[0] not in (SIGKILLED, EXITED)}
    assert any(k[0] == ONCE for k in got)
    for key, emb in got.items():
        np.testing.assert_allclose(emb, expected[key], atol=1e-4)
    assert_consistent(idx)

    # A rerun (killers still armed) does not try them again: no new death.
    again = index_folder(photos, idx, "sface", workers=2, progress=False, scan=dying)
    print("rerun:", _report_lines(again))
    assert again.unchanged == N_PHOTOS and again.scanned == 0
    assert [killer.deaths(log, n) for n in (SIGKILLED, EXITED)] == [2, 2]

    # Touching a killer is how a person asks for a retry: here the engine no longer crashes on it.
    os.utime(photos / SIGKILLED)
    retried = index_folder(photos, idx, "sface", workers=2, progress=False)
    print("after touching", SIGKILLED, ":", _report_lines(retried))
    assert retried.scanned == 1 and retried.errors == []
    assert {k for k in faces_in_db(idx) if k[0] == SIGKILLED} == {k for k in expected if k[0] == SIGKILLED}


def test_a_worker_that_cannot_start_stops_the_run_with_its_reason():
    pool = Pool(2, task=print, on_failure=lambda *a: None, initializer=_load_unknown_engine)
    with pytest.raises(WorkerStartError, match="unknown engine 'no-such-engine'"), pool:
        list(pool.run(["a", "b"], lambda item: (item,)))


def _load_unknown_engine() -> None:
    from facematch.engines import get_engine

    get_engine("no-such-engine")


# -- no orphans -----------------------------------------------------------------------------------
def _kill_all(proc: subprocess.Popen, pids: list[int]) -> None:
    """After a test, whatever happened: the process group of `proc`, then every listed process still alive."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def _wait_gone(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds processes through Linux /proc")


@needs_proc
def test_workers_exit_when_facematch_index_is_killed(tmp_path):
    photos = tmp_path / "photos"
    variants(photos, 80)
    idx = tmp_path / "index"
    proc = subprocess.Popen(
        index_cmd(photos, idx), start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    family: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and scanned(idx) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # workers up and busy: their results are being written
        family = children(proc.pid)
        assert proc.poll() is None and scanned(idx) >= 2, "indexing ended or stalled before the kill"
        assert len(family) >= 2, family  # two workers (and multiprocessing's resource tracker)
        os.kill(proc.pid, signal.SIGKILL)  # the parent only: its workers are left to fend for themselves
        proc.wait()
        left = _wait_gone(family, 5.0)
        print(
            f"\nkilled facematch index (pid {proc.pid}) after {scanned(idx)} photos; its children {family}; "
            f"alive 5 s later: {left}"
        )
        assert left == []
    finally:
        _kill_all(proc, family + children(proc.pid))  # so that a failure here leaves no orphan either


@needs_proc
def test_ctrl_c_stops_indexing_at_once_keeps_what_is_done_and_leaves_no_worker(tmp_path):
    """Ctrl-C in a terminal sends SIGINT to the whole process group: workers ignore it, the parent stops them."""
    photos = tmp_path / "photos"
    variants(photos, 80)
    idx = tmp_path / "index"
    proc = subprocess.Popen(
        index_cmd(photos, idx), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    family: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and scanned(idx) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        family = children(proc.pid)
        assert proc.poll() is None and len(family) >= 2, "indexing ended or stalled before Ctrl-C"
        os.killpg(proc.pid, signal.SIGINT)
        t = time.monotonic()
        out, _ = proc.communicate(timeout=60)
        stopped_in = time.monotonic() - t
        done = scanned(idx)
        print(f"\nCtrl-C after {done} photos: stopped in {stopped_in:.1f} s, exit code {proc.returncode}")
        assert proc.returncode == 0 and "Interrupted: what was finished is saved" in out, out
        # How fast is measured, not asserted (about 1 s; printed above): what must hold is that the workers
        # are killed rather than waited for, so the run stops long before the folder is done.
        assert _wait_gone(family, 5.0) == []
        assert 2 <= done < 80
    finally:
        _kill_all(proc, family)


@needs_proc
def test_the_watching_thread_alone_ends_a_worker_whose_parent_died(tmp_path):
    """The fallback for systems without PR_SET_PDEATHSIG: a parent (not facematch) spawns a process
    that only runs workers.watch_parent, then is SIGKILLed; the process must follow it."""
    script = (
        "import multiprocessing as mp, time, sys\n"
        "import watch_only\n"
        "if __name__ == '__main__':\n"
        "    p = mp.get_context('spawn').Process(target=watch_only.main, daemon=True)\n"
        "    p.start()\n"
        "    print(p.pid, flush=True)\n"
        "    time.sleep(600)\n"
    )
    (tmp_path / "parent.py").write_text(script)
    # watch_only.py beside this file, and the facematch this process runs (not whichever one is installed)
    here, src = Path(__file__).parent, Path(sys.modules["facematch"].__file__).parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(here), str(src)])}
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "parent.py")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    family: list[int] = []
    try:
        family = [int(proc.stdout.readline())]
        time.sleep(1.0)  # let it start its watching thread
        assert alive(family[0])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        left = _wait_gone(family, 5.0)
        print(f"\nparent {proc.pid} killed; its watching child {family[0]} alive 5 s later: {bool(left)}")
        assert left == []
    finally:
        _kill_all(proc, family)
