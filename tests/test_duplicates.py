"""A copy is never evidence (issue 25): copies of a photo come out of `facematch link` as duplicate images, and
two different photos of one person do not, on real LFW photos with the real default engine.

Collection "originals" holds the first photo of a few LFW people; collection "later" holds their second photo
(a different photo of the same person: a real pair, never a duplicate) and four copies of each first photo
made here: JPEG quality 40 after a resize to 90%, the central 85%, a 3 degree rotation (corners filled black,
as a scan), and a white border of 10%. Two frames of one burst (LFW Britney_Spears 1 and 2, a blink apart: the
closest non-copy measured for crosscheck/duplicates.py) are in both collections and must stay a person pair.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from conftest import LFW, skip_or_fail
from facematch.cli import main
from facematch.crosscheck import CrossCheck
from facematch.crosscheck.duplicates import DUP_PIXELS, near_duplicate, region
from facematch.search import Searcher

PEOPLE = 3
STRANGERS = 6
BURST = ("Britney_Spears_0001.jpg", "Britney_Spears_0002.jpg")


def _copies(src: Path, dest: Path) -> dict[str, Path]:
    """The issue's kinds of copy of one photo, saved as new files (other bytes, other sizes)."""
    stem = src.stem
    out = {}
    with Image.open(src) as im0:
        im = im0.convert("RGB")
    w, h = im.size
    out["jpeg40+90%"] = dest / f"{stem}-q40r90.jpg"
    im.resize((round(w * 0.9), round(h * 0.9)), Image.Resampling.LANCZOS).save(out["jpeg40+90%"], quality=40)
    out["crop85"] = dest / f"{stem}-crop85.jpg"
    dx, dy = round(w * 0.075), round(h * 0.075)
    im.crop((dx, dy, w - dx, h - dy)).save(out["crop85"], quality=92)
    out["rotate3"] = dest / f"{stem}-rot3.jpg"
    im.rotate(3, resample=Image.Resampling.BICUBIC, fillcolor=(0, 0, 0)).save(out["rotate3"], quality=90)
    out["border10"] = dest / f"{stem}-border.jpg"
    framed = Image.new("RGB", (round(w * 1.2), round(h * 1.2)), (255, 255, 255))
    framed.paste(im, (round(w * 0.1), round(h * 0.1)))
    framed.save(out["border10"], quality=90)
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict:
    images = LFW / "images"
    if not images.is_dir():
        skip_or_fail(f"LFW subset not found at {LFW} (it lives in ../shared, outside the project)")
    root = tmp_path_factory.mktemp("dups")
    a, b = root / "originals", root / "later"
    a.mkdir()
    b.mkdir()
    folders = sorted(images.iterdir())
    people = [p for p in folders if len(list(p.iterdir())) >= 2 and p.name != "Britney_Spears"][20 : 20 + PEOPLE]
    singles = [p for p in folders if len(list(p.iterdir())) == 1][40 : 40 + STRANGERS]
    originals, seconds, copies = [], [], {}
    for p in people:
        first, second = sorted(p.iterdir())[:2]
        shutil.copy(first, a / first.name)
        shutil.copy(second, b / second.name)
        originals.append(first.name)
        seconds.append((first.name, second.name))
        for kind, path in _copies(first, b).items():
            copies[(first.name, path.name)] = kind
    for n, p in enumerate(singles):
        f = next(p.iterdir())
        shutil.copy(f, (a if n % 2 else b) / f.name)
    shutil.copy(images / "Britney_Spears" / BURST[0], a / BURST[0])
    shutil.copy(images / "Britney_Spears" / BURST[1], b / BURST[1])
    idx = root / "index"
    for folder in (a, b):
        assert main(["index", str(folder), "--index", str(idx), "--quiet", "--workers", "1"]) == 0
    return {"index": idx, "copies": copies, "seconds": seconds + [BURST]}


def test_copies_are_duplicates_and_second_photos_are_not(archive, capsys):
    assert main(["link", "--index", str(archive["index"]), "--across", "--quiet"]) == 0
    capsys.readouterr()
    with Searcher(archive["index"]) as s:
        cc = CrossCheck(s)
        dups = {(p.a.filename, p.b.filename): p for p in cc.duplicates()}
        persons = {(p.a.filename, p.b.filename): p for p in cc.pairs(fold=False)}

    def pair(x: str, y: str) -> tuple[str, str]:
        return (x, y) if (x, y) in dups or (x, y) in persons else (y, x)

    # Every copy of every kind is a duplicate image of its original, never a person pair with it.
    missed = [(key, kind) for key, kind in archive["copies"].items() if pair(*key) not in dups]
    assert not missed, missed
    assert not [key for key in archive["copies"] if pair(*key) in persons]
    assert {dups[pair(*key)].duplicate for key in archive["copies"]} == {DUP_PIXELS}
    # A second photo of the same person (and two frames of one burst) is a person pair, not a duplicate.
    flagged = [key for key in archive["seconds"] if pair(*key) in dups]
    assert not flagged, flagged
    assert all(pair(*key) in persons for key in archive["seconds"]), set(archive["seconds"]) - set(persons)


def test_near_duplicate_is_deterministic_and_never_about_likeness(sface):
    """The check itself on the burst frames and a crop: the same verdict both times, and its numbers say why."""
    from conftest import rgb

    images = LFW / "images" / "Britney_Spears"
    if not images.is_dir():
        skip_or_fail(f"LFW subset not found at {LFW}")
    one, two = (rgb(images / n) for n in BURST)
    fa, fb = sface.detect(one)[0], sface.detect(two)[0]
    ra, rb = region(one, fa.box), region(two, fb.box)
    v1, v2 = near_duplicate(ra, rb), near_duplicate(ra, rb)
    assert not v1.duplicate and v1 == v2
    h, w = one.shape[:2]
    dx, dy = round(w * 0.075), round(h * 0.075)
    cropped = one[dy : h - dy, dx : w - dx].copy()
    fc = max(sface.detect(cropped), key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
    v = near_duplicate(ra, region(cropped, fc.box))
    assert v.duplicate and v.agreement >= 0.85 and v.face_inliers >= 5


def test_pairs_stored_under_an_older_rule_are_classified_again_without_relinking(archive, tmp_path):
    """An index linked by an older facematch (its copies stored as person pairs, no rule recorded): the next
    `facematch link` makes their verdicts again, links nothing again, and records the rule so it does it once."""
    import sqlite3

    from facematch.crosscheck.run import link
    from facematch.store import DB_NAME

    idx = tmp_path / "index"
    shutil.copytree(archive["index"], idx)
    first = link(idx, across=True, progress=False)
    assert first.settings["duplicates_rechecked"] == {"checked": 0, "changed": 0}  # nothing stored yet
    con = sqlite3.connect(idx / DB_NAME)
    with con:
        n = con.execute("UPDATE link_pairs SET kind = 'person', duplicate = '' WHERE kind = 'duplicate'").rowcount
        con.execute("DELETE FROM meta WHERE key LIKE 'link_duplicate_rule:%'")
    con.close()
    assert n >= len(archive["copies"])
    again = link(idx, across=True, progress=False)
    assert again.linked == 0 and again.settings["duplicates_rechecked"]["changed"] == n
    assert again.pairs == first.pairs
    assert link(idx, across=True, progress=False).settings["duplicates_rechecked"] == {"checked": 0, "changed": 0}
