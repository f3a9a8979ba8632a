"""Is an index sound? SQLite against itself, FAISS against SQLite, stored hashes against the photos.

People act on what an index shows, so after a crash, a copy to another disk or a restore from a
backup they need one command that says whether it can be trusted, and what to do if not. Only the
FAISS files are derived data that `--repair` can safely rebuild (from the embeddings SQLite keeps);
a damaged database or a changed photo is reported with the next step, never "fixed" silently.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from . import images
from .fingerprint import Fingerprint
from .i18n import N_
from .index import Index, no_index_message
from .store import DB_NAME
from .vault import FILE_MAGIC


@dataclass
class Problem:
    what: str  # "database", "faiss", "photo", "case photo", "temp file"
    detail: str
    fix: str  # what a person should do next


@dataclass
class CheckReport:
    index_dir: str
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # what was checked, with counts

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, what: str, detail: str, fix: str) -> None:
        self.problems.append(Problem(what, detail, fix))


def check(index_dir: Path, photos: bool = True, repair: bool = False, progress: bool = False) -> CheckReport:
    """Check an index folder; with repair, rebuild FAISS files that disagree with the database."""
    index_dir = Path(index_dir)
    report = CheckReport(str(index_dir))
    if not Index.exists(index_dir):
        report.add("database", no_index_message(index_dir), "check the folder name, or build it with facematch index")
        return report
    if not _database_sound(index_dir / DB_NAME, report):
        return report  # nothing else can be trusted; the fix is a backup, not a rebuild
    with Index.open(index_dir) as index:
        report.facts["decisions"] = index.cases.decision_count()
        for fp in index.engines():
            _check_faiss(index, fp, report, repair)
        if photos:
            _check_photos(index, report, progress)
        _check_case_photos(index, report)
    _check_temp_files(index_dir, report, repair)
    return report


def _database_sound(db: Path, report: CheckReport) -> bool:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            result = [r[0] for r in con.execute("PRAGMA integrity_check")]
            fk = con.execute("PRAGMA foreign_key_check").fetchall()
            triggers = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
        finally:
            con.close()
    except sqlite3.DatabaseError as e:
        report.add("database", f"cannot be read: {e}", "restore the latest backup (facematch restore)")
        return False
    report.facts["sqlite_integrity"] = result[0] if result == ["ok"] else "; ".join(result[:5])
    if result != ["ok"]:
        report.add("database", "integrity_check: " + "; ".join(result[:5]), "restore the latest backup")
        return False
    if fk:
        report.add("database", f"{len(fk)} rows point at rows that do not exist", "restore the latest backup")
    missing = {"decisions_no_update", "decisions_no_delete"} - triggers
    if missing:  # checked before facematch opens the file, since opening it re-creates them
        report.add(
            "database",
            f"the decisions log had lost its append-only guard ({', '.join(sorted(missing))})",
            "another program edited the database: compare the decisions with the latest backup",
        )
    return True


def _check_faiss(index: Index, fp: Fingerprint, report: CheckReport, repair: bool) -> None:
    """Every face id in both, same count, sampled embeddings equal and found by their own search."""
    now = index.vectors_state(fp, thorough=True)
    facts = report.facts.setdefault("engines", {}).setdefault(fp, {"faces": now.faces})
    facts["faiss"] = now.problem or "ok"
    if now.vectors is not None:
        facts["index_type"] = now.vectors.spec.describe()
    if now.in_step:
        return
    trouble = now.problem
    if repair and now.faces:
        rebuilt = index.vectors(fp, rebuild=True)
        again = index.vectors_state(fp, thorough=True)
        if again.in_step:
            report.repaired.append(f"{fp.name}: FAISS file rebuilt from {rebuilt.count} stored embeddings ({trouble})")
            facts["faiss"] = "rebuilt"
            return
        trouble = again.problem
    report.add("faiss", f"{fp.name}: {trouble}", "run facematch check --repair (rebuilds it from the database)")


def _check_photos(index: Index, report: CheckReport, progress: bool) -> None:
    """Photos still there and unchanged: a decision points at the content its reviewer saw."""
    from .indexing import progress_bar

    rows = index.faces.photo_hashes()
    bar = progress_bar(len(rows), progress, desc=N_("Checking photos"))
    missing, changed = [], []
    for path, sha256 in rows:
        try:
            if images.sha256_bytes(images.read_file(path)) != sha256:
                changed.append(str(path))
        except images.ImageError:
            missing.append(str(path))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    report.facts["photos_checked"] = len(rows)
    if missing:
        report.add(
            "photo",
            f"{len(missing)} indexed photos cannot be read any more, e.g. {missing[0]}",
            "reconnect the archive disk, or index the folder where the photos now are",
        )
    if changed:
        report.add(
            "photo",
            f"{len(changed)} photos changed since indexing, e.g. {changed[0]}",
            "run facematch index on their folder again (decisions stay with the old content)",
        )


def _check_case_photos(index: Index, report: CheckReport) -> None:
    bad = []
    for r in index.cases.photos():
        try:
            data = images.read_file(index.folder / r["path"])
            if data.startswith(FILE_MAGIC):  # encrypted (team mode): AES-GCM checks it when it is opened
                continue
            if images.sha256_bytes(data) != r["sha256"]:
                bad.append(r["path"])
        except images.ImageError:
            bad.append(r["path"])
    if bad:
        report.add(
            "case photo", f"{len(bad)} kept case photos are missing or changed, e.g. {bad[0]}", "restore a backup"
        )


def _check_temp_files(index_dir: Path, report: CheckReport, repair: bool) -> None:
    """Leftovers of a save that was killed before its rename: harmless, but they take space."""
    leftovers = [p for p in [*index_dir.glob("*.tmp"), *index_dir.glob("cases/*/*.tmp")] if p.is_file()]
    if not leftovers:
        return
    if repair:
        for p in leftovers:
            p.unlink()
        report.repaired.append(f"removed {len(leftovers)} temporary files left by an interrupted save")
    else:
        report.add(
            "temp file", f"{len(leftovers)} left by an interrupted save", "facematch check --repair removes them"
        )
