"""Backups of an index that can be taken while people are working in it, and restored.

The database is copied with SQLite's online backup API, which gives a consistent snapshot even
while the app or an indexing run is writing (a plain file copy of a WAL database can catch it
half-way). FAISS files are copied *before* the snapshot, so they hold at most the snapshot's faces
and are then caught up from the snapshot's own embeddings. Kept case photos are copied too. The
archive photos themselves are not: they are large, read-only evidence that lives elsewhere, and the
index finds them again by path and sha256.

A backup is written into a temporary folder and renamed when complete and checked, so a folder
with the backup's name is always a whole backup.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .check import CheckReport, check
from .i18n import _
from .index import Index, derived_files, no_index_message
from .store import DB_NAME

MANIFEST = "backup.json"


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead, with the reason and what to do."""


@dataclass
class BackupResult:
    dest: Path
    faces: int
    decisions: int
    case_photos: int
    seconds: float
    check: CheckReport


def backup(index_dir: Path, dest: Path) -> BackupResult:
    """Copy index_dir (database, FAISS files, kept case photos) into the new folder dest."""
    start = time.monotonic()
    index_dir, dest = Path(index_dir), Path(dest)
    if not Index.exists(index_dir):
        raise BackupError(no_index_message(index_dir))
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(_("{dest} already exists and is not empty; choose a new folder for the backup", dest=dest))
    if dest.resolve().is_relative_to(index_dir.resolve()):
        raise BackupError(_("the backup must go outside the index folder"))
    tmp = dest.with_name(f".{dest.name}.partial")
    if tmp.exists():
        shutil.rmtree(tmp)  # a backup that was interrupted earlier
    tmp.mkdir(parents=True)
    try:
        for f in derived_files(index_dir):
            shutil.copy2(f, tmp / f.name)
        _sqlite_copy(index_dir / DB_NAME, tmp / DB_NAME)
        n_case = _copy_case_photos(index_dir, tmp)
        with Index.open(tmp) as index:
            for fp, n in index.engines().items():
                if n:  # catch the FAISS copy up with the snapshot's faces
                    index.vectors(fp)
            faces = sum(index.engines().values())
            decisions = index.cases.decision_count()
        report = check(tmp, photos=False)
        if not report.ok:
            raise BackupError(
                _("the backup copy failed its check: {problems}", problems="; ".join(p.detail for p in report.problems))
            )
        manifest = {
            "facematch": __version__,
            "source": str(index_dir.resolve()),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "faces": faces,
            "decisions": decisions,
            "case_photos": n_case,
            "note": "archive photos are not in the backup; kept case photos are",
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        if dest.exists():
            dest.rmdir()
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report.index_dir = str(dest)
    return BackupResult(dest, faces, decisions, n_case, time.monotonic() - start, report)


def restore(backup_dir: Path, index_dir: Path, force: bool = False) -> Path | None:
    """Put a backup in place as index_dir; returns where the replaced index was moved, if any.

    Nothing is deleted: with force, an existing index is moved aside into index_dir/.replaced-<time>
    so a restore over the wrong folder can be undone.
    """
    backup_dir, index_dir = Path(backup_dir), Path(index_dir)
    if not (backup_dir / MANIFEST).is_file() or not (backup_dir / DB_NAME).is_file():
        raise BackupError(
            _("{folder} is not a complete facematch backup (no {manifest})", folder=backup_dir, manifest=MANIFEST)
        )
    report = check(backup_dir, photos=False)
    if not report.ok:
        raise BackupError(
            _("the backup failed its check: {problems}", problems="; ".join(p.detail for p in report.problems))
        )
    moved = None
    if (index_dir / DB_NAME).exists():
        if not force:
            raise BackupError(
                _("{folder} already holds an index; add --force to replace it (it is kept aside)", folder=index_dir)
            )
        moved = index_dir / f".replaced-{time.strftime('%Y%m%d-%H%M%S')}"
        moved.mkdir()
        for name in [DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", "cases"]:
            if (index_dir / name).exists():
                os.replace(index_dir / name, moved / name)
    stale = derived_files(index_dir)  # of the index replaced, or left behind by one: never beside the restored one
    if stale:
        moved = moved or index_dir / f".replaced-{time.strftime('%Y%m%d-%H%M%S')}"
        moved.mkdir(exist_ok=True)
        for f in stale:
            os.replace(f, moved / f.name)
    index_dir.mkdir(parents=True, exist_ok=True)
    for f in derived_files(backup_dir):
        shutil.copy2(f, index_dir / f".{f.name}.tmp")
        os.replace(index_dir / f".{f.name}.tmp", index_dir / f.name)
    if (backup_dir / "cases").is_dir():
        shutil.copytree(backup_dir / "cases", index_dir / "cases", dirs_exist_ok=True)
    tmp_db = index_dir / f".{DB_NAME}.restoring"
    _sqlite_copy(backup_dir / DB_NAME, tmp_db)
    os.replace(tmp_db, index_dir / DB_NAME)  # last: until here the folder holds no index to open
    return moved


def _sqlite_copy(src: Path, dst: Path) -> None:
    """SQLite's online backup: a consistent snapshot even while other processes write."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    target = sqlite3.connect(dst)
    try:
        # One step: a single read transaction. In WAL mode it does not block writers, and a stepwise copy
        # would restart whenever one of them commits (and might never finish under a busy app).
        source.backup(target, pages=-1)
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        target.close()
        source.close()


def _copy_case_photos(index_dir: Path, dest: Path) -> int:
    n = 0
    src = index_dir / "cases"
    if src.is_dir():
        for f in src.rglob("*"):
            if f.is_file() and f.suffix != ".tmp":
                out = dest / f.relative_to(index_dir)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, out)
                n += 1
    return n
