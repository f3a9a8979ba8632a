"""A process that protects itself from orphanhood with workers.watch_parent only (no prctl): test helper."""

from __future__ import annotations

import os
import time

from facematch.indexing.workers import watch_parent


def main() -> None:
    watch_parent(os.getppid())
    time.sleep(600)  # only the watching thread can end this before the test gives up
