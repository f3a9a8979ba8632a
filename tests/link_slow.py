"""`facematch link` slowed down per block, so a test can kill it with SIGKILL in the middle of a real run.

Run as a script: python link_slow.py INDEX_DIR SECONDS_PER_BLOCK BLOCK. Each block is ranked by the real
code and then waits, so kills land between and inside the transactions of a real run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from facematch.crosscheck.ranker import Ranker
from facematch.crosscheck.run import link

if __name__ == "__main__":
    index_dir, delay, block = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    real = Ranker.rank

    def slow(self, *args, **kwargs):
        out = real(self, *args, **kwargs)
        time.sleep(delay)
        return out

    Ranker.rank = slow
    link(index_dir, block=block, progress=False)
