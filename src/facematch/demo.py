"""The built-in demo: a small gallery of committed photos whose terms allow it (public domain, CC0, MIT).

It exists so that a newcomer sees the whole job (index, then search) on a fresh machine with no
download and no private photos. See demo_photos/SOURCES.md for every file's provenance.
"""

from __future__ import annotations

import shutil
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent / "demo_photos"


def query_photo() -> Path:
    return DEMO_DIR / "query" / "obama2.jpg"


def records_csv() -> Path:
    return DEMO_DIR / "records.csv"


def build_gallery(dest: Path) -> Path:
    """Assemble the demo gallery folder (idempotent: unchanged files keep their mtime)."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted((DEMO_DIR / "gallery").iterdir()):
        target = dest / src.name
        if not target.exists() or target.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, target)
    return dest
