"""The cross-check's record reasons and bands, made at once per block (issue: `facematch link` at a million faces
with records), are those of the plain path, one pair at a time: on a real archive of two collections with records
on both sides (real photos, real models), in several scripts, with ID numbers, birth dates, counties, a record on
two photos, records naming single faces of a group photo, and a name so common that the name search's first 200
leave a record out.

The plain path, written out here as link had it before: each face's records read on their own
(records.for_files, faces.numbers, search.split_records), each record's names searched with the name search
(names.search.search, its first 200 records), each score banded by calibration.strangers.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import linkdata
import numpy as np
import pytest

from conftest import LFW, demo_photo, skip_or_fail
from facematch import calibration
from facematch.calibration import BANDS, ArchiveCalibration, Calibration
from facematch.crosscheck.reasons import (
    NAMES_AGREE,
    SAME_BIRTH,
    SAME_COUNTY,
    SAME_ID,
    SAME_RECORD,
    NameHits,
    record_reasons,
    records_about,
)
from facematch.crosscheck.run import link
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.names import search as namesearch
from facematch.records import import_file
from facematch.search import Searcher, split_records
from facematch.store import DB_NAME

#: Names of the people of linkdata (first photo in leak-a, second in leak-b): the same person's two records agree
#: across scripts and spellings, or do not (another name), as archives write them.
A_NAMES = ["Abduweli Ayup", "Shöhret Yasin", "Ismayil Hesen", "Alimjan Memet", "Tursun Memet", "Nurgül Memet",
           "Gulnar Niyaz", "Patigul Osman", "Zulpiye Islam", "Adil Qadir"]  # fmt: skip
B_NAMES = ["阿布都外力·阿尤普", "شۆھرەت ياسىن", "Ismail Hasan", "Alim Memet", "Tursun Memet", "Meryemgül Tursun",
           "Gulnar Niyaz", "Rahile Sawut", "Zulpiye Islam", "Adil Kadir"]  # fmt: skip
#: Strangers' records: names that agree with some of the people's, so pairs within a collection agree too.
STRANGER_NAMES = ["Memet Tursun", "Tursun Memet", "Abduweli Ayup", "Ismail Hasan", "Gulnar Niyaz", "Adil Qadir"]
#: Records named "Tursun Memet" with no photo, sorting before B004: the name search's first 200 for "Tursun Memet"
#: (A004's name) end before B004, so the pair of person 4's photos has no "names agree" although both say Tursun.
FILLERS = 210
HEADER = ["record_id", "name", "name_2", "birth_date", "id_number", "county", "photo"]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict:
    if not (LFW / "images").is_dir():
        skip_or_fail(f"LFW subset not found at {LFW} (it lives in ../shared, outside the project)")
    root = tmp_path_factory.mktemp("reasons")
    info = linkdata.build(LFW / "images", root / "photos")
    shutil.copy(demo_photo("t1.jpg"), info["b"] / "t1.jpg")  # a group photo of six
    known = info["known"]
    firsts, seconds = {f for f, _ in known}, {s for _, s in known}
    strangers_a = sorted(p.name for p in info["a"].iterdir() if p.name not in firsts)
    strangers_b = sorted(p.name for p in info["b"].iterdir() if p.name not in seconds and p.suffix == ".jpg")
    strangers_b = [n for n in strangers_b if not n.startswith("copy-") and n != "t1.jpg"]
    rows_a, rows_b = [], []
    for n, (first, second) in enumerate(known):
        birth = f"19{60 + n}-0{1 + n % 9}-15"
        rows_a.append([f"A{n:03d}", A_NAMES[n], "", birth, f"ID {6000 + n}" if n in (0, 6) else "",
                       "Kashgar" if n % 2 == 0 else "Hotan", first])  # fmt: skip
        other = birth if n in (0, 2, 7) else f"1999-0{1 + n % 9}-01"
        rows_b.append([f"B{n:03d}", B_NAMES[n], "", other, f"id{6000 + n}" if n in (0, 6) else "",
                       " kashgar" if n % 3 == 0 else "Yarkand", second])  # fmt: skip
    for n, name in enumerate(strangers_a):
        rows_a.append([f"SA{n}", STRANGER_NAMES[n % len(STRANGER_NAMES)], "", "1970-01-01", "", "Hotan", name])
    for n, name in enumerate(strangers_b[:4]):
        rows_b.append([f"SB{n}", STRANGER_NAMES[(n + 3) % len(STRANGER_NAMES)], "", "1970-01-01", "", "Hotan", name])
    rows_b += [
        ["G001", "Ismail Hasan", "", "1962-03-15", "", "Kashgar", "t1.jpg#2"],  # one face of the group photo
        ["G002", "Tursun Memet", "", "", "", "Hotan", "t1.jpg#5"],
        ["G003", "Adil Qadir", "", "", "", "Hotan", "t1.jpg"],  # the whole photo: about none of its faces
        ["C001", A_NAMES[0], "", "", "ID 6000", "Kashgar", "copy-reencoded.jpg"],
    ]
    fillers = [[f"AF{n:03d}", "Tursun Memet", "", "", "", "", ""] for n in range(FILLERS)]
    idx = root / "index"
    index_folder(info["a"], idx, "sface", workers=2, records_csv=write(root / "a.csv", rows_a), progress=False,
                 collection="leak-a")  # fmt: skip
    index_folder(info["b"], idx, "sface", workers=2, records_csv=write(root / "b.csv", rows_b), progress=False,
                 collection="leak-b")  # fmt: skip
    with Index.open(idx) as index:
        assert import_file(index, write(root / "fillers.csv", fillers)).new == FILLERS
        # one record on both photos of a person whose photos show one face each (a record on a photo of two
        # faces is about neither): their pair is "both faces are in record S..."
        single = {r[0] for r in index.db.execute("SELECT p.filename FROM photos p JOIN faces f ON f.photo_id = p.id "
                                                 "GROUP BY p.id HAVING COUNT(*) = 1")}  # fmt: skip
        n = next(n for n, (f, s) in enumerate(known) if {f, s} <= single and n not in (0, 4))
        shared = [[f"S{n:03d}", "Gulnar Niyaz", "古丽娜尔·尼亚孜", "1966-07-15", "", "Kashgar", ";".join(known[n])]]
        assert import_file(index, write(root / "shared.csv", shared)).new == 1
    linked = {}
    for band in ("weak", "possible"):  # weak: every pair of the first k; possible: the default
        linked[band] = root / f"linked-{band}"
        shutil.copytree(idx, linked[band])
        link(linked[band], min_band=band, progress=False)
    return {**info, "index": idx, "linked": linked, "shared": f"S{n:03d}"}


def stored(idx: Path) -> list[tuple]:
    con = sqlite3.connect(idx / DB_NAME)
    try:
        return con.execute(
            "SELECT engine, a, b, cosine, score, rank_ab, rank_ba, kind, duplicate, reasons FROM link_pairs "
            "ORDER BY engine, a, b"
        ).fetchall()
    finally:
        con.close()


def plain_records(index: Index, face_ids: list[int]) -> dict[int, list[dict]]:
    """Records about each face, as records_about read them before (every face numbered, one by one)."""
    rows = index.faces.by_id(face_ids)
    faces = list(rows.values())
    by_file = index.records.for_files({f.filename for f in faces})
    numbers = index.faces.numbers(faces)
    out = {}
    for f in faces:
        number, count = numbers.get(f.id, (1, 1))
        own, _ = split_records(by_file.get(f.filename, []), f.filename, number, count)
        if own:
            out[f.id] = own
    return out


def plain_names_agree(index: Index) -> Callable[[dict, dict], bool]:
    """Is y among the records the name search finds for x's names (its first 200)? Searched each time."""

    def agree(x: dict, y: dict) -> bool:
        names = [n for n in x.get("names", []) if n]
        return bool(names) and str(y["record_id"]) in {
            str(h.record["record_id"]) for h in namesearch.search(index, names)
        }

    return agree


def test_stored_reasons_are_those_of_the_plain_path(archive):
    seen: set[str] = set()
    met: set[tuple[str, str]] = set()  # (record of face a, record of face b) of the stored pairs
    for band, idx in archive["linked"].items():
        pairs = stored(idx)
        with Index.open(idx) as index:
            recs = plain_records(index, sorted({f for p in pairs for f in (p[1], p[2])}))
            assert records_about(index, index.faces.by_id(list(recs) + [p[1] for p in pairs])) == recs
            agree = plain_names_agree(index)
            both = 0
            for p in pairs:
                want = record_reasons(recs.get(p[1], []), recs.get(p[2], []), agree)
                assert json.loads(p[9]) == want, (band, p)
                seen |= {r["msg"] for r in want}
                both += p[1] in recs and p[2] in recs
                met |= {(x["record_id"], y["record_id"]) for x in recs.get(p[1], []) for y in recs.get(p[2], [])}
        assert both >= {"weak": 40, "possible": 10}[band], (band, both)  # records on both faces: read at once
    assert seen == {SAME_RECORD, SAME_ID, SAME_BIRTH, NAMES_AGREE, SAME_COUNTY}
    # The cases the test is for are there: the group photo's named faces, a record on a copy, and the first-200 cut
    # of the name search (person 4's records have the same name and do not agree: 200 others come first).
    records = {r for pair in met for r in pair}
    assert {"G001", "G002", "C001", archive["shared"]} <= records and "G003" not in records
    assert ("A004", "B004") in met
    with Index.open(archive["index"]) as index:
        a4, b4 = index.records.by_id(["A004", "B004"]).values()
        assert a4["names"] == b4["names"] and not plain_names_agree(index)(a4, b4)


def test_min_band_keeps_the_pairs_banded_one_by_one(archive):
    """The pairs kept at --min-band possible are those kept at weak whose band (strangers(), per pair) is strong or
    possible, and the duplicates: the bands made at once keep the same pairs."""
    weak, possible = stored(archive["linked"]["weak"]), stored(archive["linked"]["possible"])
    with Searcher(archive["linked"]["weak"]) as s:
        cal, size = s.calibration, s.gallery_size
    assert cal is not None
    want = [p for p in weak if p[7] == "duplicate" or calibration.strangers(cal, p[4], size).band != "weak"]
    assert possible == want and 0 < len(possible) < len(weak)


def test_name_hits_are_the_name_search(archive):
    """NameHits (ids only, once per names, after a small index of the block's records) says of every two records
    what the name search says; hit_ids gives search()'s records in its order."""
    with Index.open(archive["index"]) as index:
        rids = [r[0] for r in index.db.execute("SELECT record_id FROM records ORDER BY record_id")]
        recs = list(index.records.by_id(rids).values())
        plain = plain_names_agree(index)
        fillers = [r for r in recs if r["record_id"].startswith("AF")]
        people = [r for r in recs if not r["record_id"].startswith("AF")] + fillers[:: FILLERS // 5]
        pairs = [(x, y) for x in people for y in people if x["record_id"] != y["record_id"]]
        want = [plain(x, y) for x, y in pairs]
        assert 10 < sum(want) < len(pairs) - 10
        hits = NameHits(index)
        hits.prepare(([x], [y]) for x, y in pairs[::2])  # half the pairs: the others are searched without
        assert [hits(x, y) for x, y in pairs] == want
        for query in [*A_NAMES, *B_NAMES, "Tursun", ["Gulnar Niyaz", "古丽娜尔·尼亚孜"], "", "  "]:
            assert namesearch.hit_ids(index, query) == [h.record["record_id"] for h in namesearch.search(index, query)]


def test_bands_at_once_are_the_bands_one_by_one(archive):
    """calibration.band_ranks against strangers(), on both kinds of calibration, on a fine grid and on the floats
    around each band's cut point (where numpy's log and exp could part from math's in the last bit)."""
    with Searcher(archive["index"]) as s:
        table = s.calibration
    assert isinstance(table, Calibration)
    curve = np.maximum(table.fpr, table.floor)
    curve = np.where(np.arange(len(curve)) % 7 == 3, np.roll(curve, 1), curve)  # flat steps, as an estimate has
    estimate = ArchiveCalibration(table.engine, table.scores, np.minimum.accumulate(curve), table.floor, 1, 1, "", {})
    assert calibration.band_ranks(None, np.array([0.5]), 10) is None
    for cal in (table, estimate):
        for size in (10, 48, 10_000, 1_000_000):
            scores = [np.linspace(-1.5, 1.5, 30_001), cal.scores, *(_around_cut(cal, size, cut) for cut in (0.01, 1.0))]
            s = np.concatenate(scores)
            want = [BANDS.index(calibration.strangers(cal, float(x), size).band) for x in s]
            assert calibration.band_ranks(cal, s, size).tolist() == want, (cal.kind, size)


def _around_cut(cal: Calibration | ArchiveCalibration, size: int, cut: float, ulps: int = 64) -> np.ndarray:
    """The floats around the score where the expected count crosses `cut` (bisection down to adjacent floats)."""
    lo, hi = -1.5, 1.5
    if not cal.expected_strangers(lo, size) >= cut > cal.expected_strangers(hi, size):
        return np.zeros(0)
    while np.nextafter(lo, hi) < hi:
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if cal.expected_strangers(mid, size) >= cut else (lo, mid)
    out = [lo]
    for step in (-np.inf, np.inf):
        x = lo
        for _ in range(ulps):
            x = np.nextafter(x, step)
            out.append(x)
    return np.array(out)
