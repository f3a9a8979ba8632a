"""`facematch link` slowed down per block, and stopped at a chosen point, so a test can kill it with SIGKILL in
the middle of a real run, without a race against the clock.

Run as a script: python link_slow.py INDEX_DIR SECONDS_PER_BLOCK BLOCK HANG_AT. Each block is ranked by the real
code and then waits; once HANG_AT faces are linked (committed), the next block hangs until the process is
killed. So a kill lands after a known amount of work however loaded the machine is.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from pathlib import Path

from facematch.crosscheck.ranker import Ranker
from facematch.crosscheck.run import link
from facematch.store import DB_NAME

if __name__ == "__main__":
    index_dir, delay, block, hang_at = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    real = Ranker.rank

    def linked() -> int:
        con = sqlite3.connect(index_dir / DB_NAME, timeout=30)
        try:
            return con.execute("SELECT COUNT(*) FROM link_done").fetchone()[0]
        finally:
            con.close()

    def slow(self, *args, **kwargs):
        if linked() >= hang_at:
            time.sleep(3600)  # wait here for the SIGKILL
        out = real(self, *args, **kwargs)
        time.sleep(delay)
        return out

    Ranker.rank = slow
    link(index_dir, block=block, progress=False)
