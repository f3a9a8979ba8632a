"""A small real archive of two collections for the cross-check tests (LFW people split over two folders).

Collection "leak-a" holds the first photo of PEOPLE people who have two or more, and collection "leak-b"
their second photo (so every one of them is a known pair across the collections), plus single-photo
people in both as strangers, plus two copies of one leak-a photo in leak-b: re-encoded (JPEG quality 40)
and cropped (a tenth off each side), which must come out as duplicate images, not as persons.
Leak-a comes with a records file (names, birth dates); leak-b is photo-only.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from PIL import Image

PEOPLE = 10
STRANGERS = 12


def build(lfw_images: Path, dest: Path) -> dict:
    people = [p for p in sorted(lfw_images.iterdir()) if len(list(p.iterdir())) >= 2][:PEOPLE]
    singles = [p for p in sorted(lfw_images.iterdir()) if len(list(p.iterdir())) == 1][:STRANGERS]
    a, b = dest / "leak-a", dest / "leak-b"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    known = []
    for p in people:
        first, second = sorted(p.iterdir())[:2]
        shutil.copy(first, a / first.name)
        shutil.copy(second, b / second.name)
        known.append((first.name, second.name))
    for n, p in enumerate(singles):
        f = next(p.iterdir())
        shutil.copy(f, (a if n % 2 else b) / f.name)
    src = a / known[0][0]
    with Image.open(src) as im:
        im.convert("RGB").save(b / "copy-reencoded.jpg", quality=40)
        w, h = im.size
        im.crop((w // 10, h // 10, w - w // 10, h - h // 10)).convert("RGB").save(b / "copy-cropped.jpg", quality=92)
    records = dest / "leak-a-records.csv"
    with records.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "name", "birth_date", "county", "photo"])
        for n, (first, _) in enumerate(known):
            w.writerow(
                [
                    f"A{n:03d}",
                    first.rsplit("_", 1)[0].replace("_", " "),
                    f"19{60 + n}-01-0{1 + n % 9}",
                    "Kashgar",
                    first,
                ]
            )
    return {"a": a, "b": b, "known": known, "copied": known[0][0], "records": records}
