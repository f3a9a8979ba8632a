"""Decisions are never lost: two reviewers writing at once, and a writer killed mid-decision.

Both run real processes deciding on real candidates from a real search of the demo index, through
the same Review.decide the app calls.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from facematch import demo
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.review import Review
from facematch.store import DB_NAME

# A reviewer process: search the demo query, then decide on the candidates in turn, N times.
# The note carries the writer, the sequence number and a checksum of its own padding, so a torn
# row would show.
_WRITER = textwrap.dedent(
    """
    import hashlib, sys, time
    from pathlib import Path
    from facematch import demo
    from facematch.review import Review
    from facematch.search import Searcher

    idx, case_id, who, n, pad = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    with Searcher(idx) as s:
        cands = s.search([s.detect_file(demo.query_photo()).pick()], k=50)
        review = Review(s.index)
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":  # start together with the other reviewer
            sys.exit("no go")
        for i in range(n):
            body = f"{who}:{i}:" + "x" * pad
            note = body + ":" + hashlib.sha256(body.encode()).hexdigest()
            review.decide(case_id, cands[i % len(cands)], ("confirm", "reject", "unsure")[i % 3], who, note)
            print(i, flush=True)
            time.sleep(0.002)  # a person takes time between decisions; without it SQLite's busy handler
            # (which polls) can leave the other writer waiting until this one is done, on a loaded machine
    """
)


@pytest.fixture(scope="module")
def demo_index(tmp_path_factory) -> Path:
    idx = tmp_path_factory.mktemp("decisions") / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    return idx


def _writer(idx: Path, case_id: int, who: str, n: int, pad: int = 0) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(idx), str(case_id), who, str(n), str(pad)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    return proc


def _ready(proc: subprocess.Popen) -> None:
    """Wait until a writer has loaded its model and searched, ready to write."""
    line = proc.stdout.readline().strip()
    assert line == "ready", proc.stderr.read()[-2000:]


def _go(*procs: subprocess.Popen) -> None:
    for proc in procs:
        proc.stdin.write("go\n")
        proc.stdin.flush()


def _note_ok(note: str) -> bool:
    body, _, digest = note.rpartition(":")
    return hashlib.sha256(body.encode()).hexdigest() == digest


def test_two_reviewers_deciding_at_once_lose_nothing(demo_index):
    n = 300
    with Index.open(demo_index) as store:
        case_id = Review(store).create_case("Two reviewers", "lead").id
    writers = {who: _writer(demo_index, case_id, who, n) for who in ("Ayse", "Dilnur")}
    for proc in writers.values():
        _ready(proc)
    _go(*writers.values())  # both load first, then write at the same moment
    for proc in writers.values():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
    with Index.open(demo_index) as store:
        log = Review(store).log(case_id)
    assert len(log) == 2 * n  # none lost
    seen = [tuple(d.note.split(":")[:2]) for d in log]
    assert len(set(seen)) == 2 * n  # none duplicated
    assert {(w, str(i)) for w in writers for i in range(n)} == set(seen)
    assert all(_note_ok(d.note) for d in log)
    # They really overlapped: each wrote while the other was writing (SQLite's busy handler lets a
    # writer keep the lock for bursts, so the log alternates in blocks, not row by row).
    spans = {w: [d.decided_at for d in log if d.reviewer == w] for w in writers}
    assert max(t[0] for t in spans.values()) < min(t[-1] for t in spans.values()), "the writers never overlapped"
    switches = sum(a.reviewer != b.reviewer for a, b in zip(log, log[1:], strict=False))
    assert switches >= 2, f"only {switches} switches: one reviewer wrote everything before the other"
    # Each reviewer's own decisions are in the order they were made.
    for who in writers:
        mine = [int(d.note.split(":")[1]) for d in log if d.reviewer == who]
        assert mine == list(range(n))


def test_a_writer_killed_mid_decision_leaves_whole_decisions_only(demo_index):
    """SIGKILL a writer ten times at seeded moments; every row is complete, nothing half-written.

    Kills go by progress, not by the clock (as tests/crash.py does for indexing): the first as the
    writer starts, the nine others once it has acknowledged a seeded number of decisions, then a random
    part of a write later, so they land among and inside writes on a fast machine and a slow one alike.
    """
    with Index.open(demo_index) as store:
        case_id = Review(store).create_case("Killed writer", "lead").id
    rng = random.Random(6)
    targets = [0] + [rng.randrange(1, 40) for _ in range(9)]  # decisions acknowledged before each kill
    acknowledged: dict[str, int] = {}  # per writer: decisions it said were recorded before it died
    for k, target in enumerate(targets):
        proc = _writer(demo_index, case_id, f"w{k}", 100_000, pad=200_000)  # big rows: slow writes
        _ready(proc)
        _go(proc)
        seen = 0
        while seen < target and proc.stdout.readline():
            seen += 1
        time.sleep(rng.uniform(0.0, 0.005))  # into the next decision or two (each: ~2 ms write + 2 ms pause)
        os.killpg(proc.pid, signal.SIGKILL)
        out = proc.stdout.read()  # not communicate(): it would skip what readline() already buffered
        proc.wait()
        assert seen == target, f"writer {k} stopped by itself after {seen} decisions: {proc.stderr.read()[-2000:]}"
        acknowledged[f"w{k}"] = seen + len(out.split())
    con = sqlite3.connect(demo_index / DB_NAME)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    with Index.open(demo_index) as store:
        log = Review(store).log(case_id)
    assert all(_note_ok(d.note) for d in log)  # a torn write would break the checksum
    per_writer: dict[str, list[int]] = {}
    for d in log:
        per_writer.setdefault(d.reviewer, []).append(int(d.note.split(":")[1]))
    assert all(seq == list(range(len(seq))) for seq in per_writer.values())  # no gaps, no repeats
    kept = {w: len(per_writer.get(w, [])) for w in acknowledged}
    # Everything acknowledged is there; at most one more per writer (committed, killed before saying so).
    assert all(acknowledged[w] <= kept[w] <= acknowledged[w] + 1 for w in acknowledged), (acknowledged, kept)
    assert sum(kept[f"w{k}"] >= t > 0 for k, t in enumerate(targets)) == 9  # nine kills came after writes
    with (
        Index.open(demo_index) as store,
        pytest.raises(sqlite3.IntegrityError, match="append-only"),
        store.db.write() as c,
    ):
        c.execute("DELETE FROM decisions WHERE case_id = ?", (case_id,))
