"""facematch check [--repair], backup and restore, on real indexes damaged in real ways."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from conftest import variants
from crash import scanned
from facematch import demo
from facematch.backup import BackupError, backup, restore
from facematch.check import check
from facematch.cli import main
from facematch.fingerprint import Fingerprint
from facematch.index import Index, derived_files
from facematch.indexing import index_folder
from facematch.review import Review
from facematch.search import Searcher
from facematch.store import DB_NAME
from facematch.vectors import FaceVectors
from test_decisions_durable import _go, _note_ok, _ready, _writer
from test_index import assert_consistent


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    idx = tmp_path_factory.mktemp("upkeep") / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    return idx


@pytest.fixture
def idx(built, tmp_path) -> Path:
    """A private copy of the demo index (photos included) to damage."""
    copy = tmp_path / "index"
    shutil.copytree(built, copy)
    with Index.open(copy) as st, st.db.write() as c:  # the photos moved with the copy: point the root at them
        c.execute("UPDATE roots SET path = ?", (str((copy / "photos").resolve()),))
    return copy


def _fp(idx: Path) -> str:
    with Index.open(idx) as st:
        (fp,) = st.engines()
    return fp


def test_a_sound_index_passes_and_says_what_it_checked(idx, capsys):
    r = check(idx)
    assert r.ok, r.problems
    (facts,) = r.facts["engines"].values()
    assert facts == {"faces": 11, "faiss": "ok", "index_type": "flat"}
    assert r.facts["photos_checked"] == 8 and r.facts["sqlite_integrity"] == "ok"
    assert main(["check", "--index", str(idx), "--quiet"]) == 0
    assert "The index is sound." in capsys.readouterr().out


@pytest.mark.parametrize("damage", ["deleted", "lacks faces", "wrong vectors"])
def test_faiss_damage_is_found_and_repaired_from_the_database(idx, damage, capsys):
    fp = _fp(idx)
    faiss_path, meta_path = FaceVectors.paths(idx, "sface")
    if damage == "deleted":
        faiss_path.unlink()
        expect = "missing"
    else:
        vecs = FaceVectors.load(idx, fp)
        if damage == "lacks faces":
            vecs.remove(vecs.ids()[:2])
            expect = "2 faces missing from the FAISS file"
        else:  # same ids, other vectors: what a bug or a bad disk would leave
            ids = vecs.ids()
            rng = np.random.default_rng(0)
            other = rng.normal(size=(len(ids), vecs.dim)).astype(np.float32)
            other /= np.linalg.norm(other, axis=1, keepdims=True)
            vecs.index = faiss.IndexIDMap2(faiss.IndexFlatIP(vecs.dim))
            vecs.add(ids, other)
            expect = "embeddings differ"
        vecs.save(idx)
    r = check(idx, photos=False)
    assert not r.ok and expect in r.problems[0].detail and "--repair" in r.problems[0].fix
    assert main(["check", "--index", str(idx), "--no-photos", "--quiet"]) == 1
    assert "PROBLEM (faiss)" in capsys.readouterr().out
    fixed = check(idx, photos=False, repair=True)
    assert fixed.ok and fixed.repaired and "rebuilt" in fixed.repaired[0]
    assert check(idx).ok
    assert_consistent(idx)


def test_changed_and_missing_photos_are_reported_not_repaired(idx):
    (idx / "photos" / "obama.jpg").write_bytes((idx / "photos" / "biden.jpg").read_bytes())
    (idx / "photos" / "obama3.jpg").unlink()
    r = check(idx, repair=True)
    details = " | ".join(p.detail for p in r.problems)
    assert "1 indexed photos cannot be read" in details and "obama3.jpg" in details
    assert "1 photos changed since indexing" in details and "obama.jpg" in details
    assert not r.repaired  # a photo is evidence: nothing is "fixed" behind the person's back


def test_lost_append_only_guard_and_leftover_temp_files(idx):
    con = sqlite3.connect(idx / DB_NAME)  # another program, not facematch (which re-creates the guard)
    con.execute("DROP TRIGGER decisions_no_delete")
    con.close()
    (idx / "faces-sface.faiss.tmp").write_bytes(b"half a save")
    r = check(idx, photos=False, repair=True)
    assert [p.what for p in r.problems] == ["database"] and "append-only" in r.problems[0].detail
    assert any("temporary files" in x for x in r.repaired) and not (idx / "faces-sface.faiss.tmp").exists()


def test_a_corrupt_database_is_a_clear_problem_not_a_traceback(idx, capsys):
    db = idx / DB_NAME
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the header's tail and the schema page
    db.write_bytes(bytes(data))
    for f in (idx / f"{DB_NAME}-wal", idx / f"{DB_NAME}-shm"):
        f.unlink(missing_ok=True)
    r = check(idx)
    assert not r.ok and r.problems[0].what == "database" and "backup" in r.problems[0].fix
    assert main(["check", "--index", str(idx), "--quiet"]) == 1
    assert "restore the latest backup" in capsys.readouterr().out


def test_backup_while_indexing_and_deciding_is_consistent_and_restores(idx, tmp_path, capsys):
    with Index.open(idx) as st:
        case_id = Review(st).create_case("Backup under load", "lead").id
    more = tmp_path / "more"
    variants(more, 30)
    writer = _writer(idx, case_id, "Ayse", 100_000)
    _ready(writer)
    _go(writer)
    before = scanned(idx)  # the demo's 8 photos
    indexer = subprocess.Popen(
        [sys.executable, "-m", "facematch.cli", "index", str(more), "--index", str(idx), "--workers", "1", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # Back up once the indexer has committed photos (by progress, not by the clock: on a loaded machine
        # a fixed sleep can end before the workers have loaded their model, or after the last photo).
        deadline = time.monotonic() + 300
        while scanned(idx) < before + 2 and indexer.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        dest = tmp_path / "backup"
        result = backup(idx, dest)
    finally:
        writer.kill()
        indexer.wait(timeout=300)
        writer.wait()
    assert indexer.returncode == 0, indexer.stderr.read()
    assert result.check.ok and result.decisions > 0
    # Indexing was running during the backup: its snapshot holds photos committed before it, and the live
    # index photos committed after it.
    in_backup, in_live = scanned(dest), scanned(idx)
    assert before + 2 <= in_backup < in_live == before + 30, (before, in_backup, in_live)
    assert json.loads((dest / "backup.json").read_text())["decisions"] == result.decisions
    assert not list(tmp_path.glob(".backup.partial"))
    assert_consistent(dest)
    # The backup holds a prefix of the live log: the same rows, none torn.
    with Index.open(dest) as b, Index.open(idx) as live:
        got, now = Review(b).log(case_id), Review(live).log(case_id)
    assert len(got) == result.decisions and got == now[: len(got)]
    assert all(_note_ok(d.note) for d in got)

    # Restore into a new folder: a working index.
    restored = tmp_path / "restored"
    restore(dest, restored)
    answers = []
    for folder in (dest, restored):
        with Searcher(folder) as s:
            cands = s.search([s.detect_file(demo.query_photo()).pick()], k=5)
        answers.append([(c.face.filename, c.face.box, round(c.similarity, 6)) for c in cands])
    assert answers[0] == answers[1] and answers[0][0][2] > 0.5  # the same Obama photos, same scores
    # Over an existing index: refused without --force; with it, the old one is kept aside.
    with pytest.raises(BackupError, match="--force"):
        restore(dest, idx)
    assert main(["restore", str(dest), str(idx), "--force"]) == 0
    out = capsys.readouterr().out
    aside = next(idx.glob(".replaced-*"))
    assert str(aside) in out and (aside / DB_NAME).is_file()
    with Index.open(idx) as st:
        assert len(Review(st).log(case_id)) == result.decisions


def test_backup_refuses_a_non_empty_destination_and_a_non_index(idx, tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        backup(idx, tmp_path / "full")
    assert main(["backup", str(tmp_path / "full"), str(tmp_path / "b")]) == 2
    assert "no facematch index" in capsys.readouterr().err
    con = sqlite3.connect(idx / DB_NAME)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()


def test_restore_over_an_index_leaves_none_of_its_derived_files_beside_the_restored_one(idx, tmp_path):
    dest = tmp_path / "backup"
    backup(idx, dest)
    # The index restored over has its own archive stranger estimate and FAISS file of another engine (as an
    # index of another archive would): none of them may stay beside the restored database.
    fp = Fingerprint(_fp(idx))
    stale = [idx / f"strangers-{fp.slug}.json", idx / "faces-dlib.faiss", idx / "faces-dlib.json"]
    for f in stale:
        f.write_text('{"of": "the index replaced"}')
    restore(dest, idx, force=True)
    aside = next(idx.glob(".replaced-*"))
    assert all(not f.exists() for f in stale), [f.name for f in stale if f.exists()]  # was: left in place
    assert all((aside / f.name).is_file() for f in stale)  # nothing deleted: kept aside with the old database
    assert sorted(f.name for f in derived_files(idx)) == sorted(f.name for f in derived_files(dest))
