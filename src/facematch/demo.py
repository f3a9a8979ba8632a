"""The built-in demo: a small gallery from committed public-domain photos and package sample images.

It exists so that a newcomer sees the whole job (index, then search) on a fresh machine with no
download and no private photos. See demo_photos/SOURCES.md for every file's provenance.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent / "demo_photos"

#: (package, path inside it) of sample images copied into the demo gallery.
PACKAGE_IMAGES = [
    ("insightface", "data/images/t1.jpg"),
    ("insightface", "data/images/Tom_Hanks_54745.png"),
    ("skimage", "data/astronaut.png"),
    ("skimage", "data/chelsea.png"),
    ("skimage", "data/coffee.png"),
]


def query_photo() -> Path:
    return DEMO_DIR / "query" / "obama2.jpg"


def records_csv() -> Path:
    return DEMO_DIR / "records.csv"


def build_gallery(dest: Path) -> Path:
    """Assemble the demo gallery folder (idempotent: unchanged files keep their mtime)."""
    dest.mkdir(parents=True, exist_ok=True)
    sources = sorted((DEMO_DIR / "gallery").iterdir())
    for package, rel in PACKAGE_IMAGES:
        sources.append(Path(str(resources.files(package).joinpath(rel))))
    for src in sources:
        target = dest / src.name
        if not target.exists() or target.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, target)
    return dest
