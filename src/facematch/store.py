"""The SQLite database of an index: the single source of truth, and every SQL statement.

Tables: roots (indexed folders), photos (one row per file, by path relative to its root, with
sha256), scans (per photo and engine fingerprint: ok / no_face / error + reason), faces (box,
landmarks, detector score, quality, embedding, engine fingerprint) and records (archive metadata,
joined to photos by file name). The FAISS files are derived from the faces table and can always
be rebuilt from it. Each photo's results are written in one transaction, so a process killed at
any moment leaves either all of a photo or none of it.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCHEMA_VERSION = 2  # 2: typed archive records, record_names, record_photos, case_facts
DB_NAME = "facematch.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS photos (
    id INTEGER PRIMARY KEY,
    root_id INTEGER NOT NULL REFERENCES roots(id),
    relpath TEXT NOT NULL,
    filename TEXT NOT NULL,
    sha256 TEXT,
    size INTEGER,
    mtime_ns INTEGER,
    width INTEGER,
    height INTEGER,
    UNIQUE (root_id, relpath)
);
CREATE INDEX IF NOT EXISTS photos_filename ON photos(filename);
CREATE INDEX IF NOT EXISTS photos_sha256 ON photos(sha256);
CREATE TABLE IF NOT EXISTS scans (
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    engine TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'no_face', 'error')),
    reason TEXT,
    n_faces INTEGER NOT NULL DEFAULT 0,
    scanned_at REAL NOT NULL,
    PRIMARY KEY (photo_id, engine)
);
CREATE TABLE IF NOT EXISTS faces (
    id INTEGER PRIMARY KEY,
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    engine TEXT NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    landmarks TEXT NOT NULL,
    det_score REAL NOT NULL,
    quality REAL NOT NULL,
    embedding BLOB NOT NULL,
    UNIQUE (photo_id, engine, x1, y1, x2, y2)
);
CREATE INDEX IF NOT EXISTS faces_engine ON faces(engine, id);
CREATE TABLE IF NOT EXISTS records (
    record_id TEXT PRIMARY KEY,
    photo_file TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_photo ON records(photo_file);
CREATE TABLE IF NOT EXISTS cases (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    reviewer TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    closed_at REAL
);
CREATE TABLE IF NOT EXISTS case_photos (
    case_id INTEGER NOT NULL REFERENCES cases(id),
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    original_name TEXT NOT NULL,
    added_at REAL NOT NULL,
    PRIMARY KEY (case_id, sha256)
);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases(id),
    photo_sha256 TEXT NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('confirm', 'reject', 'unsure')),
    reviewer TEXT NOT NULL,
    decided_at REAL NOT NULL,
    engine TEXT NOT NULL,
    score REAL NOT NULL,
    rank INTEGER NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    photo_path TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS decisions_case ON decisions(case_id, id);
-- The audit log is append-only: the database itself refuses edits and deletions.
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""

# -- schema 2: archive records with typed fields, their names in comparable forms, many-to-many photos,
# and what a family knows for a case. Added to schema-1 databases by _upgrade_to_v2 (columns by ALTER
# TABLE, so records imported by facematch 0.1 stay and are mapped again on first use).
RECORD_FIELDS = (
    "birth_date", "birth_year", "birth_source", "sex", "id_number", "address", "county", "village",
    "detention_date", "detention_year", "charge", "sentence", "facility", "photo_date", "photo_year", "source",
)  # fmt: skip
_RECORD_INT_FIELDS = {"birth_year", "detention_year", "photo_year"}
_RECORD_EXTRA_COLUMNS = (*RECORD_FIELDS, "kept_columns", "source_file", "source_row", "mapped_at")
SCHEMA_V2 = """
CREATE TABLE IF NOT EXISTS record_names (
    record_id TEXT NOT NULL REFERENCES records(record_id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    script TEXT NOT NULL,
    latin TEXT NOT NULL,
    plain TEXT NOT NULL,
    keys TEXT NOT NULL,
    PRIMARY KEY (record_id, position)
);
CREATE TABLE IF NOT EXISTS record_photos (
    record_id TEXT NOT NULL REFERENCES records(record_id) ON DELETE CASCADE,
    photo_file TEXT NOT NULL,
    PRIMARY KEY (record_id, photo_file)
);
CREATE INDEX IF NOT EXISTS record_photos_file ON record_photos(photo_file);
CREATE INDEX IF NOT EXISTS records_county ON records(county);
CREATE INDEX IF NOT EXISTS records_birth_year ON records(birth_year);
CREATE TABLE IF NOT EXISTS case_facts (
    case_id INTEGER PRIMARY KEY REFERENCES cases(id),
    names TEXT NOT NULL DEFAULT '[]',
    birth_year INTEGER,
    birth_year_margin INTEGER NOT NULL DEFAULT 2,
    county TEXT NOT NULL DEFAULT '',
    photo_year INTEGER,
    updated_at REAL NOT NULL
);
"""


def _upgrade_to_v2(conn: sqlite3.Connection) -> None:
    """Idempotent: add the typed record columns and the v2 tables; link legacy records to their photo."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(records)")}
    missing = [c for c in _RECORD_EXTRA_COLUMNS if c not in have]
    if not missing and conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "2":
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        have = {r[1] for r in conn.execute("PRAGMA table_info(records)")}
        for column in _RECORD_EXTRA_COLUMNS:
            if column not in have:
                kind = "INTEGER" if column in _RECORD_INT_FIELDS or column == "source_row" else "TEXT"
                kind = "REAL" if column == "mapped_at" else kind
                conn.execute(f"ALTER TABLE records ADD COLUMN {column} {kind}")
        for statement in SCHEMA_V2.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            """INSERT OR IGNORE INTO record_photos(record_id, photo_file)
               SELECT record_id, photo_file FROM records WHERE photo_file IS NOT NULL AND photo_file != ''"""
        )
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '2')")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


_CASE_COLUMNS = "id, name, notes, reviewer, created_at, closed_at"
_DECISION_COLUMNS = (
    "id, case_id, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at, engine, score, rank, note, photo_path"
)


@dataclass(frozen=True)
class FaceRow:
    """A stored face, joined with its photo: what a search result points at."""

    id: int
    photo_id: int
    engine: str
    box: tuple[float, float, float, float]
    landmarks: list[list[float]]
    det_score: float
    quality: float
    root: str
    relpath: str
    filename: str
    sha256: str
    width: int
    height: int

    @property
    def path(self) -> Path:
        return Path(self.root) / self.relpath


@dataclass(frozen=True)
class StoredPhoto:
    id: int
    sha256: str | None
    size: int | None
    mtime_ns: int | None


class Store:
    """One connection to an index's database. Use as a context manager or call close()."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.path = folder / DB_NAME
        self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.executescript(SCHEMA)  # idempotent (IF NOT EXISTS)
        self.conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        version = int(self.get_meta("schema_version") or SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} was written by a newer facematch (schema {version})")
        _upgrade_to_v2(self.conn)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    # -- transactions ---------------------------------------------------------------------------
    class _Tx:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type: object, *rest: object) -> None:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")

    def transaction(self) -> Store._Tx:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        return Store._Tx(self.conn)

    # -- meta -----------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- photos ---------------------------------------------------------------------------------
    def root_id(self, root: Path) -> int:
        path = str(root.resolve())
        with self.transaction() as c:
            c.execute("INSERT OR IGNORE INTO roots(path) VALUES (?)", (path,))
            return int(c.execute("SELECT id FROM roots WHERE path = ?", (path,)).fetchone()["id"])

    def known_photos(self, root_id: int, engine: str) -> dict[str, StoredPhoto]:
        """Photos under a root already scanned by this engine, by relative path."""
        rows = self.conn.execute(
            """SELECT p.id, p.relpath, p.sha256, p.size, p.mtime_ns FROM photos p
               JOIN scans s ON s.photo_id = p.id AND s.engine = ? WHERE p.root_id = ?""",
            (engine, root_id),
        )
        return {r["relpath"]: StoredPhoto(r["id"], r["sha256"], r["size"], r["mtime_ns"]) for r in rows}

    def save_scan(
        self,
        root_id: int,
        relpath: str,
        engine: str,
        *,
        sha256: str | None,
        size: int | None,
        mtime_ns: int | None,
        width: int | None,
        height: int | None,
        status: str,
        reason: str | None,
        faces: Iterable[dict],
    ) -> list[int]:
        """Write one photo's result atomically, replacing any earlier result of the same engine.

        If the file's content changed, faces of *every* engine for the old content are dropped:
        they describe pixels that no longer exist.
        """
        faces = list(faces)
        with self.transaction() as c:
            row = c.execute(
                "SELECT id, sha256 FROM photos WHERE root_id = ? AND relpath = ?", (root_id, relpath)
            ).fetchone()
            if row is None:
                photo_id = c.execute(
                    """INSERT INTO photos(root_id, relpath, filename, sha256, size, mtime_ns, width, height)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    (root_id, relpath, Path(relpath).name, sha256, size, mtime_ns, width, height),
                ).lastrowid
            else:
                photo_id = row["id"]
                if row["sha256"] != sha256:
                    c.execute("DELETE FROM faces WHERE photo_id = ?", (photo_id,))
                    c.execute("DELETE FROM scans WHERE photo_id = ?", (photo_id,))
                c.execute(
                    "UPDATE photos SET sha256=?, size=?, mtime_ns=?, width=?, height=? WHERE id=?",
                    (sha256, size, mtime_ns, width, height, photo_id),
                )
            c.execute("DELETE FROM faces WHERE photo_id = ? AND engine = ?", (photo_id, engine))
            ids = []
            for f in faces:
                ids.append(
                    c.execute(
                        """INSERT INTO faces(photo_id, engine, x1, y1, x2, y2, landmarks, det_score, quality,
                                             embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                        (
                            photo_id,
                            engine,
                            *[round(float(v), 1) for v in f["box"]],
                            json.dumps(np.round(np.asarray(f["landmarks"], dtype=float), 1).tolist()),
                            float(f["score"]),
                            float(f["quality"]),
                            np.asarray(f["embedding"], dtype=np.float32).tobytes(),
                        ),
                    ).lastrowid
                )
            c.execute(
                """INSERT OR REPLACE INTO scans(photo_id, engine, status, reason, n_faces, scanned_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (photo_id, engine, status, reason, len(ids), time.time()),
            )
        return ids

    def touch_photo(self, root_id: int, relpath: str, size: int, mtime_ns: int) -> None:
        """Remember new size/mtime for a file whose content (sha256) did not change."""
        self.conn.execute(
            "UPDATE photos SET size = ?, mtime_ns = ? WHERE root_id = ? AND relpath = ?",
            (size, mtime_ns, root_id, relpath),
        )

    # -- faces ----------------------------------------------------------------------------------
    def engines(self) -> dict[str, int]:
        """Engine fingerprints present in this index, with their face counts."""
        rows = self.conn.execute("SELECT engine, COUNT(*) AS n FROM faces GROUP BY engine")
        found = {r["engine"]: r["n"] for r in rows}
        for r in self.conn.execute("SELECT DISTINCT engine FROM scans"):
            found.setdefault(r["engine"], 0)
        return found

    def face_count(self, engine: str) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM faces WHERE engine = ?", (engine,)).fetchone()[0])

    def max_face_id(self, engine: str) -> int:
        return int(
            self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM faces WHERE engine = ?", (engine,)).fetchone()[0]
        )

    def face_ids(self, engine: str) -> np.ndarray:
        """Every face id of an engine, sorted: to find what the FAISS file lacks or holds in excess."""
        rows = self.conn.execute("SELECT id FROM faces WHERE engine = ? ORDER BY id", (engine,)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def iter_embeddings(
        self, engine: str, after_id: int = 0, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, embeddings) in id order, in batches, for (re)building the FAISS index."""
        last = after_id
        while True:
            rows = self.conn.execute(
                "SELECT id, embedding FROM faces WHERE engine = ? AND id > ? ORDER BY id LIMIT ?",
                (engine, last, batch),
            ).fetchall()
            if not rows:
                return
            ids = np.array([r["id"] for r in rows], dtype=np.int64)
            vecs = np.stack([np.frombuffer(r["embedding"], dtype=np.float32) for r in rows])
            yield ids, vecs
            last = int(ids[-1])

    def faces_by_id(self, ids: Iterable[int]) -> dict[int, FaceRow]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(
            f"""SELECT f.id, f.photo_id, f.engine, f.x1, f.y1, f.x2, f.y2, f.landmarks, f.det_score, f.quality,
                       r.path AS root, p.relpath, p.filename, p.sha256, p.width, p.height
                FROM faces f JOIN photos p ON p.id = f.photo_id JOIN roots r ON r.id = p.root_id
                WHERE f.id IN ({marks})""",
            ids,
        )
        return {
            row["id"]: FaceRow(
                id=row["id"],
                photo_id=row["photo_id"],
                engine=row["engine"],
                box=(row["x1"], row["y1"], row["x2"], row["y2"]),
                landmarks=json.loads(row["landmarks"]),
                det_score=row["det_score"],
                quality=row["quality"],
                root=row["root"],
                relpath=row["relpath"],
                filename=row["filename"],
                sha256=row["sha256"],
                width=row["width"],
                height=row["height"],
            )
            for row in rows
        }

    def embeddings_by_id(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT id, embedding FROM faces WHERE id IN ({marks})", ids)
        return {r["id"]: np.frombuffer(r["embedding"], dtype=np.float32) for r in rows}

    def embedding_dim(self, engine: str) -> int | None:
        """Dimensions of an engine's stored embeddings (None if it has no face): rebuilding FAISS
        from the database must not need the model itself."""
        row = self.conn.execute("SELECT length(embedding) FROM faces WHERE engine = ? LIMIT 1", (engine,)).fetchone()
        return int(row[0]) // 4 if row else None  # float32

    # -- summaries ------------------------------------------------------------------------------
    def status_counts(self, engine: str) -> dict[str, int]:
        rows = self.conn.execute("SELECT status, COUNT(*) AS n FROM scans WHERE engine = ? GROUP BY status", (engine,))
        return {r["status"]: r["n"] for r in rows}

    def problems(self, engine: str) -> list[tuple[str, str, str]]:
        """(path, status, reason) of every photo that gave no usable face with this engine."""
        rows = self.conn.execute(
            """SELECT r.path AS root, p.relpath, s.status, s.reason FROM scans s
               JOIN photos p ON p.id = s.photo_id JOIN roots r ON r.id = p.root_id
               WHERE s.engine = ? AND s.status != 'ok' ORDER BY p.relpath""",
            (engine,),
        )
        return [(str(Path(r["root"]) / r["relpath"]), r["status"], r["reason"] or "") for r in rows]

    def counts(self) -> dict[str, int]:
        c = self.conn
        return {
            "roots": c.execute("SELECT COUNT(*) FROM roots").fetchone()[0],
            "photos": c.execute("SELECT COUNT(*) FROM photos").fetchone()[0],
            "records": c.execute("SELECT COUNT(*) FROM records").fetchone()[0],
        }

    def roots(self) -> list[str]:
        return [r["path"] for r in self.conn.execute("SELECT path FROM roots ORDER BY id")]

    def photo_path_by_sha(self, sha256: str) -> Path | None:
        """Where a photo with this content is now (decisions point at content, not at a path)."""
        row = self.conn.execute(
            "SELECT r.path AS root, p.relpath FROM photos p JOIN roots r ON r.id = p.root_id WHERE p.sha256 = ? "
            "ORDER BY p.id LIMIT 1",
            (sha256,),
        ).fetchone()
        return Path(row["root"]) / row["relpath"] if row else None

    # -- records --------------------------------------------------------------------------------
    def upsert_records(self, rows: Iterable[tuple[str, str | None, dict]]) -> int:
        """Insert or update records by record id (re-importing a file never duplicates)."""
        n = 0
        with self.transaction() as c:
            for record_id, photo_file, data in rows:
                c.execute(
                    """INSERT INTO records(record_id, photo_file, data) VALUES (?, ?, ?)
                       ON CONFLICT(record_id) DO UPDATE SET photo_file = excluded.photo_file, data = excluded.data""",
                    (record_id, photo_file, json.dumps(data, ensure_ascii=False)),
                )
                c.execute("UPDATE records SET mapped_at = NULL WHERE record_id = ?", (record_id,))
                c.execute("DELETE FROM record_photos WHERE record_id = ?", (record_id,))
                if photo_file:
                    c.execute("INSERT INTO record_photos(record_id, photo_file) VALUES (?, ?)", (record_id, photo_file))
                n += 1
            self._bump_records_generation(c)
        return n

    def records_for_files(self, filenames: Iterable[str]) -> dict[str, list[dict]]:
        """The records linked to each photo file name (a photo may belong to several records)."""
        names = sorted(set(filenames))
        if not names:
            return {}
        marks = ",".join("?" * len(names))
        links = self.conn.execute(
            f"SELECT record_id, photo_file FROM record_photos WHERE photo_file IN ({marks}) ORDER BY record_id", names
        ).fetchall()
        records = self.records_by_id(r["record_id"] for r in links)
        out: dict[str, list[dict]] = {}
        for r in links:
            if r["record_id"] in records:
                out.setdefault(r["photo_file"], []).append(records[r["record_id"]])
        return out

    # -- archive records, schema 2 (mapping and names in records.py / names.py) --------------------
    def save_records(self, items: list[dict]) -> tuple[int, int]:
        """Insert or replace whole records by id, with their names and photo links; (new, updated).

        Each item: record_id, data (the columns as read), fields (RECORD_FIELDS), names (dicts with
        name, script, latin, plain, keys), photos (file names), kept (the columns that are no field,
        shown as they are), source_file, source_row. One
        transaction: an import is all there or not at all. The latest import of a record id wins.
        """
        new = updated = 0
        now = time.time()
        with self.transaction() as c:
            for it in items:
                rid = it["record_id"]
                exists = c.execute("SELECT 1 FROM records WHERE record_id = ?", (rid,)).fetchone() is not None
                fields = it.get("fields", {})
                values = [fields.get(f) for f in RECORD_FIELDS]
                photos = list(dict.fromkeys(it.get("photos", [])))
                cols = ", ".join(RECORD_FIELDS)
                c.execute(
                    f"""INSERT INTO records(record_id, photo_file, data, {cols}, kept_columns, source_file, source_row,
                                            mapped_at)
                        VALUES (?, ?, ?, {", ".join("?" * len(RECORD_FIELDS))}, ?, ?, ?, ?)
                        ON CONFLICT(record_id) DO UPDATE SET photo_file = excluded.photo_file, data = excluded.data,
                        {", ".join(f"{f} = excluded.{f}" for f in RECORD_FIELDS)}, kept_columns = excluded.kept_columns,
                        source_file = excluded.source_file, source_row = excluded.source_row,
                        mapped_at = excluded.mapped_at""",
                    (
                        rid,
                        photos[0] if photos else None,
                        json.dumps(it.get("data", {}), ensure_ascii=False),
                        *values,
                        json.dumps(it.get("kept", []), ensure_ascii=False),
                        it.get("source_file"),
                        it.get("source_row"),
                        now,
                    ),
                )
                c.execute("DELETE FROM record_names WHERE record_id = ?", (rid,))
                c.execute("DELETE FROM record_photos WHERE record_id = ?", (rid,))
                for pos, n in enumerate(it.get("names", [])):
                    c.execute(
                        """INSERT INTO record_names(record_id, position, name, script, latin, plain, keys)
                           VALUES (?, ?, ?, ?, ?, ?, ?)""",
                        (rid, pos, n["name"], n["script"], n["latin"], n["plain"], n["keys"]),
                    )
                c.executemany(
                    "INSERT INTO record_photos(record_id, photo_file) VALUES (?, ?)", [(rid, p) for p in photos]
                )
                updated += exists
                new += not exists
            self._bump_records_generation(c)
        return new, updated

    def _bump_records_generation(self, c: sqlite3.Connection) -> None:
        """A counter that changes with every import, so cached name indexes know they are stale."""
        c.execute(
            """INSERT INTO meta(key, value) VALUES ('records_generation', '1')
               ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"""
        )

    def records_generation(self) -> int:
        return int(self.get_meta("records_generation") or 0)

    def unmapped_records(self) -> list[tuple[str, str | None, dict]]:
        """Records written by facematch 0.1 (columns only), to be mapped into fields and names."""
        rows = self.conn.execute("SELECT record_id, photo_file, data FROM records WHERE mapped_at IS NULL")
        return [(r["record_id"], r["photo_file"], json.loads(r["data"])) for r in rows]

    def record_name_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(record_id, name, script, plain, keys) of every name of every record, for the name index."""
        return [
            tuple(r)
            for r in self.conn.execute(
                "SELECT record_id, name, script, plain, keys FROM record_names ORDER BY record_id, position"
            )
        ]

    def records_by_id(self, record_ids: Iterable[str]) -> dict[str, dict]:
        """Records as plain dicts: record_id, names, name, the typed fields that are set, photos, columns."""
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, dict] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            names: dict[str, list[str]] = {}
            for r in self.conn.execute(
                f"SELECT record_id, name FROM record_names WHERE record_id IN ({marks}) ORDER BY position", chunk
            ):
                names.setdefault(r["record_id"], []).append(r["name"])
            photos: dict[str, list[str]] = {}
            for r in self.conn.execute(
                f"SELECT record_id, photo_file FROM record_photos WHERE record_id IN ({marks}) ORDER BY rowid", chunk
            ):
                photos.setdefault(r["record_id"], []).append(r["photo_file"])
            for r in self.conn.execute(f"SELECT * FROM records WHERE record_id IN ({marks})", chunk):
                out[r["record_id"]] = _record_dict(r, names.get(r["record_id"], []), photos.get(r["record_id"], []))
        return {i: out[i] for i in ids if i in out}

    def record_face_ids(self, record_ids: Iterable[str], engine: str) -> dict[str, list[int]]:
        """Face ids (of one engine) in the photos linked to each record."""
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, list[int]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.conn.execute(
                f"""SELECT rp.record_id, f.id FROM record_photos rp JOIN photos p ON p.filename = rp.photo_file
                    JOIN faces f ON f.photo_id = p.id AND f.engine = ? WHERE rp.record_id IN ({marks})
                    ORDER BY f.id""",
                (engine, *chunk),
            ):
                out.setdefault(r["record_id"], []).append(r["id"])
        return out

    def indexed_filenames(self, filenames: Iterable[str]) -> set[str]:
        """Which of these photo file names are in the index (a record's photo may not have been indexed)."""
        names = sorted(set(filenames))
        found: set[str] = set()
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.conn.execute(f"SELECT filename FROM photos WHERE filename IN ({marks})", chunk)
            found |= {r[0] for r in rows}
        return found

    def get_case_facts(self, case_id: int) -> dict | None:
        row = self.conn.execute(
            "SELECT names, birth_year, birth_year_margin, county, photo_year FROM case_facts WHERE case_id = ?",
            (case_id,),
        ).fetchone()
        if row is None:
            return None
        return {**dict(row), "names": json.loads(row["names"])}

    def set_case_facts(
        self, case_id: int, *, names: list[str], birth_year: int | None, birth_year_margin: int, county: str,
        photo_year: int | None,
    ) -> None:  # fmt: skip
        with self.transaction() as c:
            c.execute(
                """INSERT INTO case_facts(case_id, names, birth_year, birth_year_margin, county, photo_year, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(case_id) DO UPDATE SET names = excluded.names, birth_year = excluded.birth_year,
                   birth_year_margin = excluded.birth_year_margin, county = excluded.county,
                   photo_year = excluded.photo_year, updated_at = excluded.updated_at""",
                (
                    case_id,
                    json.dumps(names, ensure_ascii=False),
                    birth_year,
                    birth_year_margin,
                    county,
                    photo_year,
                    time.time(),
                ),
            )

    # -- cases and decisions (rules in review.py) -------------------------------------------------
    def create_case(self, name: str, reviewer: str, notes: str) -> dict:
        with self.transaction() as c:
            case_id = c.execute(
                "INSERT INTO cases(name, notes, reviewer, created_at) VALUES (?, ?, ?, ?)",
                (name, notes, reviewer, time.time()),
            ).lastrowid
        return self.get_case(case_id)  # type: ignore[return-value]

    def get_case(self, case_id: int) -> dict | None:
        row = self.conn.execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,)).fetchone()
        return dict(row) if row else None

    def list_cases(self, include_closed: bool) -> list[dict]:
        where = "" if include_closed else "WHERE closed_at IS NULL"
        return [dict(r) for r in self.conn.execute(f"SELECT {_CASE_COLUMNS} FROM cases {where} ORDER BY id")]

    def update_case(
        self,
        case_id: int,
        *,
        name: str | None = None,
        notes: str | None = None,
        reviewer: str | None = None,
        closed_at: float | None = None,
        reopen: bool = False,
    ) -> None:
        sets, args = [], []
        for column, value in (("name", name), ("notes", notes), ("reviewer", reviewer), ("closed_at", closed_at)):
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        if reopen:
            sets.append("closed_at = NULL")
        if sets:
            with self.transaction() as c:
                c.execute(f"UPDATE cases SET {', '.join(sets)} WHERE id = ?", (*args, case_id))

    def add_case_photo(self, case_id: int, path: str, sha256: str, original_name: str) -> None:
        with self.transaction() as c:
            c.execute(
                """INSERT OR IGNORE INTO case_photos(case_id, path, sha256, original_name, added_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (case_id, path, sha256, original_name, time.time()),
            )

    def case_photos(self, case_id: int) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT path, original_name FROM case_photos WHERE case_id = ? ORDER BY added_at", (case_id,)
        )
        return [(r["path"], r["original_name"]) for r in rows]

    def append_decision(
        self,
        *,
        case_id: int,
        photo_sha256: str,
        box: tuple,
        decision: str,
        reviewer: str,
        engine: str,
        score: float,
        rank: int,
        note: str,
        photo_path: str,
    ) -> dict:
        """One INSERT in its own transaction: a kill leaves the whole decision or none of it.

        Written with synchronous=FULL: indexing can afford to redo a photo after a power cut (NORMAL),
        but a person's decision, once acknowledged, must survive one.
        """
        row = (case_id, photo_sha256, *box, decision, reviewer, time.time(), engine, score, rank, note, photo_path)
        self.conn.execute("PRAGMA synchronous=FULL")
        try:
            with self.transaction() as c:
                decision_id = c.execute(
                    """INSERT INTO decisions(case_id, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at,
                                             engine, score, rank, note, photo_path)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    row,
                ).lastrowid
        finally:
            self.conn.execute("PRAGMA synchronous=NORMAL")
        return self.decisions(case_id, decision_id=decision_id)[0]

    def decisions(self, case_id: int | None = None, decision_id: int | None = None) -> list[dict]:
        where, args = [], []
        if case_id is not None:
            where.append("case_id = ?")
            args.append(case_id)
        if decision_id is not None:
            where.append("id = ?")
            args.append(decision_id)
        sql = f"SELECT {_DECISION_COLUMNS} FROM decisions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        out = []
        for r in self.conn.execute(sql + " ORDER BY id", args):
            d = dict(r)
            d["box"] = (d.pop("x1"), d.pop("y1"), d.pop("x2"), d.pop("y2"))
            out.append(d)
        return out


def _record_dict(row: sqlite3.Row, names: list[str], photos: list[str]) -> dict:
    """A record for display and JSON. Legacy (unmapped) records show their columns as they were."""
    data = json.loads(row["data"])
    if row["mapped_at"] is None:
        d = {"record_id": row["record_id"], **data}
        d.setdefault("names", [n for n in [data.get("name")] if n] or names)
        d["photos"] = photos
        return d
    d = {"record_id": row["record_id"], "names": names, "name": names[0] if names else ""}
    d.update({f: row[f] for f in RECORD_FIELDS if row[f] not in (None, "")})
    d["photos"] = photos
    d["columns"] = data
    kept = json.loads(row["kept_columns"] or "[]")
    d["other"] = {k: data[k] for k in kept if k in data}
    d.update({k: v for k, v in d["other"].items() if k not in d})  # as facematch 0.1 gave them, for scripts
    d["source_file"], d["source_row"] = row["source_file"], row["source_row"]
    return d
