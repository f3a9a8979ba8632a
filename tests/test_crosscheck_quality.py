"""Junk must not lead (issue 25): low-quality faces (quality.py) are kept out of the cross-check's groups, listed
after the others of their band with the reason shown, and counted as set aside; on real LFW photos with the
default engine, plus the rules themselves on made-up faces.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image, ImageFilter

from conftest import LFW, skip_or_fail
from facematch import calibration, quality
from facematch.cli import main
from facematch.crosscheck import CrossCheck, pair_lines
from facematch.search import Searcher

#: A frontal face's landmarks (ArcFace's 112 px template): right eye, left eye, nose tip, mouth corners.
FRONTAL = [[38.3, 51.7], [73.5, 51.5], [56.0, 71.7], [41.5, 92.4], [70.7, 92.2]]


def test_the_rules_and_their_reasons():
    box = (10, 10, 110, 130)
    good = quality.assess(box, FRONTAL, 0.93, 150.0)
    assert not good.low and abs(good.yaw) < 3
    assert quality.assess(box, FRONTAL, 0.93, 5.0).text() == ["face is blurred"]
    assert quality.assess(box, FRONTAL, 0.81, 150.0).text() == ["low detector confidence (0.81)"]
    assert quality.assess((0, 0, 21, 30), FRONTAL, 0.93, 150.0).text() == ["face is small (21 px)"]
    turned = [list(p) for p in FRONTAL]
    turned[2][0] += 40  # the nose tip far to one side of the midline: a head turned away
    q = quality.assess(box, turned, 0.93, 150.0)
    assert q.tags() == ["turned"] and q.yaw > quality.TURNED_DEG
    # Blur and score limits were measured on sface's chip and YuNet's score: not applied to dlib's faces.
    assert not quality.assess(box, FRONTAL, 0.2, 5.0, engine="dlib@0123").low
    assert quality.assess((0, 0, 20, 20), FRONTAL, 0.2, 5.0, engine="dlib@0123").tags() == ["small"]


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict:
    images = LFW / "images"
    if not images.is_dir():
        skip_or_fail(f"LFW subset not found at {LFW} (it lives in ../shared, outside the project)")
    root = tmp_path_factory.mktemp("quality")
    a, b = root / "first", root / "second"
    a.mkdir()
    b.mkdir()
    folders = sorted(images.iterdir())
    people = [p for p in folders if len(list(p.iterdir())) >= 2][30:34]
    singles = [p for p in folders if len(list(p.iterdir())) == 1][60:68]
    known = []
    for p in people:
        first, second = sorted(p.iterdir())[:2]
        shutil.copy(first, a / first.name)
        shutil.copy(second, b / second.name)
        known.append((first.name, second.name))
    junk = []
    for n, p in enumerate(singles):  # the only photo of 8 people, blurred: every pair they make is false
        f = next(p.iterdir())
        with Image.open(f) as im:
            im.convert("RGB").filter(ImageFilter.GaussianBlur(8)).save((a if n % 2 else b) / f"blurred-{f.name}")
        junk.append(f"blurred-{f.name}")
    idx = root / "index"
    for folder in (a, b):
        assert main(["index", str(folder), "--index", str(idx), "--quiet", "--workers", "1"]) == 0
    assert main(["link", "--index", str(idx), "--across", "--min-band", "weak", "--quiet"]) == 0
    return {"index": idx, "known": known, "junk": junk}


def test_low_quality_faces_stay_out_of_groups_and_come_last_in_their_band(archive, capsys):
    capsys.readouterr()
    with Searcher(archive["index"]) as s:
        cc = CrossCheck(s)
        pairs = cc.pairs()
        names: dict[tuple[str, str], object] = {}
        for p in pairs:  # the strongest pair of two photos (a photo may hold background faces too)
            names.setdefault((p.a.filename, p.b.filename), p)
            names.setdefault((p.b.filename, p.a.filename), p)
        with_junk = [p for p in pairs if {p.a.filename, p.b.filename} & set(archive["junk"])]
        assert with_junk, "the blurred faces make pairs (they are close to everyone)"
        for p in with_junk:
            assert p.low
            side = "A" if p.a.filename in archive["junk"] else "B"
            lines = [x for x in pair_lines(p, cc.gallery_size) if x.startswith(f"face {side} set aside, low quality: ")]
            assert lines and "face is blurred" in lines[0]
        # the known people's faces are good, and their pairs are there
        assert all(k in names and not names[k].low for k in archive["known"])
        # within each band, no pair with a low-quality face before a pair of two good faces
        rank = {b: n for n, b in enumerate(calibration.BANDS)}
        keys = [(rank.get(p.band, 0), p.low) for p in pairs]
        assert keys == sorted(keys)
        # groups: never a low-quality face
        grouped = {f.filename for g in cc.groups() for p in g for f in (p.a, p.b)}
        assert grouped and not grouped & set(archive["junk"])
        aside = cc.set_aside()
        in_pairs = {f.filename for p in with_junk for f in (p.a, p.b)} & set(archive["junk"])
        low_faces = {f.id for p in pairs for f, q in zip((p.a, p.b), p.quality, strict=True) if q.low}
        assert aside.faces == len(low_faces) >= len(in_pairs)  # the junk, and background faces of low confidence
        assert aside.reasons["blurred"] == len(in_pairs) and aside.pairs == sum(p.low for p in pairs)
        # The picture: blurred faces of different people make strong mutual pairs with each other, which
        # would have led the groups; they are set aside and counted.
        would_group = [p for p in with_junk if p.band == "strong" and p.mutual]
        assert would_group and aside.from_groups >= len(would_group)

    assert main(["link", "review", "--index", str(archive["index"]), "--limit", "500"]) == 0
    out = capsys.readouterr().out
    assert "set aside, low quality: face is blurred" in out  # beside the pair, and counted below the list
    assert aside.text() in out and f"{aside.faces} faces of low quality set aside (blurred {len(in_pairs)}" in out
    assert main(["link", "review", "--index", str(archive["index"]), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["set_aside"]["faces"] == aside.faces
    assert main(["link", "groups", "--index", str(archive["index"])]) == 0
    assert "of low quality set aside" in capsys.readouterr().out


def test_a_detected_face_from_a_blurred_photo_is_low_quality(sface):
    """The stored signal itself: sface's chip sharpness of a blurred LFW photo is below BLUR_BELOW, of the
    original far above."""
    from conftest import rgb

    f = next((LFW / "images").iterdir())
    photo = rgb(next(f.iterdir()))
    blurred = np.asarray(Image.fromarray(photo).filter(ImageFilter.GaussianBlur(8)))
    sharp, soft = (sface.embed(x, sface.detect(x)[:1])[0] for x in (photo, blurred))
    assert sharp.quality > 3 * quality.BLUR_BELOW and soft.quality < quality.BLUR_BELOW


def test_review_next_n_goes_past_the_band_by_count_with_the_band_shown(archive, capsys):
    """The archive was linked with --min-band weak: the default queue stops at 'possible', `--next N` goes on."""
    idx = str(archive["index"])
    with Searcher(archive["index"]) as s:
        cc = CrossCheck(s)
        every = cc.pairs(undecided=True)
        within = cc.queue(band="possible")
        assert within and all(p.band in ("strong", "possible") for p in within)
        first_weak = next(n for n, p in enumerate(every, 1) if p.band == "weak")
        n = first_weak + 5
        assert [p.id for p in cc.queue(n)] == [p.id for p in every[:n]]
    capsys.readouterr()
    assert main(["link", "review", "--index", idx, "--limit", "500"]) == 0
    assert "[weak" not in (out := capsys.readouterr().out) and "weak resemblance" not in out
    assert main(["link", "review", "--index", idx, "--next", str(n)]) == 0
    out = capsys.readouterr().out
    bands = [p.band for p in every[:n]]
    assert out.startswith(f"The next {n} pairs no one has decided yet, strongest first: {bands.count('strong')} "
                          f"strong, {bands.count('possible')} possible, {bands.count('weak')} weak.")  # fmt: skip
    assert f"From #{first_weak} on they are past the band 'possible resemblance'" in out
    assert f"#{first_weak}  pair {every[first_weak - 1].id}" in out and "[weak resemblance]" in out
    assert main(["link", "review", "--index", idx, "--next", "100000"]) == 0
    assert f"Only {len(every)} undecided pairs are stored" in capsys.readouterr().out
    assert main(["link", "review", "--index", idx, "--next", str(n), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert len(got["pairs"]) == n and got["past_band_from"] == first_weak and got["band"] == "possible"
    assert [r["band"] for r in got["pairs"]] == bands


def test_the_apps_queue_goes_past_the_band_by_count_with_the_band_shown(archive, monkeypatch):
    """The app's queue (Cross-check page, Review queue tab) by default lists the pairs of at least 'possible', as
    `link review` does; "Go past the band by count" lists the next N most likely pairs, the same N pairs as
    `link review --next N` (CrossCheck.review), says how they spread over the bands and from which one they are
    past the band, and marks those. A decision on a pair past the band opens the next pair of that list, and the
    choice is kept on the way back to the queue. Real app, model and index."""
    from streamlit.testing.v1 import AppTest

    from conftest import ok, texts
    from facematch.app import crosscheck as page
    from facematch.app import serve

    monkeypatch.setattr(page, "PAGE", 1000)  # every pair on one page: the list itself is what is compared
    monkeypatch.setenv("FACEMATCH_INDEX", str(archive["index"]))
    with Searcher(archive["index"]) as s:
        cc = CrossCheck(s)
        every = cc.pairs(undecided=True)
        within = [p.id for p in cc.queue(band="possible")]
        first_weak = next(n for n, p in enumerate(every, 1) if p.band == "weak")
        n = first_weak + 3
        q = cc.review(n)
    assert [p.id for p in q.pairs] == [p.id for p in every[:n]] and q.past == first_weak

    at = AppTest.from_file(str(serve.APP), default_timeout=180)
    at.run()
    at.sidebar.radio(key="page").set_value("Cross-check")
    at.run()
    ok(at)

    def cards() -> list[str]:
        return [b.key.removeprefix("xcmp_") for b in at.button if b.key and b.key.startswith("xcmp_")]

    assert cards() == within and "weak resemblance" not in texts(at)
    at.toggle(key="xby_count_w").set_value(True)
    at.run()
    at.number_input(key="xcount_w").set_value(n)
    at.run()
    ok(at)
    assert cards() == [p.id for p in q.pairs]
    t = texts(at)
    bands = [p.band for p in q.pairs]
    assert (f"The next {n} pairs no one has decided yet, strongest first: {bands.count('strong')} strong, "
            f"{bands.count('possible')} possible, {bands.count('weak')} weak.") in t  # fmt: skip
    assert f"From #{first_weak} on they are past the band 'possible resemblance'" in t
    assert t.count("past the band you chose: less likely, shown by count") == n - first_weak + 1
    assert t.count("weak resemblance — no more similar than strangers") >= n - first_weak + 1  # each pair's band

    weak = q.pairs[first_weak - 1]
    next(b for b in at.button if b.key == f"xcmp_{weak.id}").click()
    at.run()
    at.radio(key="xdecision").set_value("unsure")
    at.text_input(key="xreviewer").input("Ayse")
    next(b for b in at.button if b.label == "Record decision").click()
    at.run()
    ok(at)
    assert (
        next(s.value for s in at.subheader if s.value.startswith("Compare pair"))
        == f"Compare pair {q.pairs[first_weak].id}"
    )
    next(b for b in at.button if b.key == "xback_top").click()
    at.run()
    ok(at)
    assert at.toggle(key="xby_count_w").value and at.number_input(key="xcount_w").value == n
    assert weak.id not in cards() and len(cards()) == n  # decided: out of the undecided queue, the next one comes in
