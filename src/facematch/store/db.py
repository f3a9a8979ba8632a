"""The connection to an index's SQLite file: schema, migrations, per-thread reads, one write path.

SQLite is the single source of truth of an index (the FAISS files are derived from it). Several
threads use one open index at once (each browser session of the app runs on its own thread), and
several processes may too (an indexing run beside the app). So, in the manner of datasette's
`Database`:

* each thread reads through its own connection (a sqlite3 connection must not be shared by threads
  that use it at the same time); in WAL mode readers never wait for the writer;
* every write goes through `write()`: one connection per process, one lock, `BEGIN IMMEDIATE`, so a
  write is one transaction that commits whole or not at all, and two threads never interleave
  statements. Other processes queue on SQLite's own lock (busy timeout 30 s).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..i18n import _

DB_NAME = "facematch.sqlite"
#: 1: photos, faces, records, cases, decisions. 2: typed archive records, record names, record photos,
#: case facts. 3: the face chosen in each kept case photo and the year it was taken, the face a record
#: names in a group photo, what the screen showed beside a candidate when a person decided; each face's
#: nearest other faces (hubness correction) and a log of deleted faces (tables in SCHEMA). 4: team mode:
#: accounts, failed logins, who may open a case, who created a case and whether it needs two reviewers,
#: the account behind each decision (SCHEMA_V4).
#: 5: collections (a name per indexed folder), the archive cross-check's candidate pairs, its progress,
#: perceptual hashes of faces (unused since issue 25), and the append-only log of pair decisions (SCHEMA_LINK).
#: 6: the language each team account chose in the app (accounts.language; NULL = not chosen yet).
#: 7: login throttling per name, per (name, client address) and per client address, with failures that decay
#: (login_throttle replaces login_failures, whose counts it takes over).
#: Without a version step (a table created where missing, which an older facematch leaves alone): case_settings,
#: what a case was asked once when it was created (keep the family's photos or not); face_neighbours.rule, how
#: r_g is made from a neighbour list (NULL: the mean of the k nearest, as every list an older facematch
#: writes), added where missing (_add_neighbour_rule); link_done.floor, the score of the k-th face of a linked
#: face's row (NULL: not known, as for faces an older facematch linked), added where missing (_add_link_floor).
SCHEMA_VERSION = 7

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
CREATE TABLE IF NOT EXISTS case_settings (
    case_id INTEGER PRIMARY KEY REFERENCES cases(id),
    keep_photos INTEGER
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
-- schema 3: each face's k nearest other faces of its engine (neighbours.py), and the faces deleted since
-- the lists were last brought in step (a list naming one of them is computed again).
CREATE TABLE IF NOT EXISTS face_neighbours (
    face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
    engine TEXT NOT NULL,
    k INTEGER NOT NULL,
    ids BLOB NOT NULL,
    sims BLOB NOT NULL,
    hub REAL NOT NULL,
    rule TEXT
);
CREATE INDEX IF NOT EXISTS face_neighbours_engine ON face_neighbours(engine, k);
CREATE TABLE IF NOT EXISTS faces_gone (id INTEGER PRIMARY KEY, engine TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS faces_gone_log AFTER DELETE ON faces
BEGIN INSERT OR IGNORE INTO faces_gone(id, engine) VALUES (old.id, old.engine); END;
-- a list written or removed, by any facematch or by hand, ends the note that every list is in step
-- (store/neighbours.py: the note spares each search's open the scans of both tables)
CREATE TRIGGER IF NOT EXISTS face_neighbours_note_add AFTER INSERT ON face_neighbours
BEGIN DELETE FROM meta WHERE key >= 'neighbours_in_step:' AND key < 'neighbours_in_step;'; END;
CREATE TRIGGER IF NOT EXISTS face_neighbours_note_change AFTER UPDATE ON face_neighbours
BEGIN DELETE FROM meta WHERE key >= 'neighbours_in_step:' AND key < 'neighbours_in_step;'; END;
CREATE TRIGGER IF NOT EXISTS face_neighbours_note_remove AFTER DELETE ON face_neighbours
BEGIN DELETE FROM meta WHERE key >= 'neighbours_in_step:' AND key < 'neighbours_in_step;'; END;
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


# -- schema 4: team mode (access.py). Accounts with argon2id hashes; failed logins per name (a name that does
# not exist counts too, so an attacker learns nothing from the answer) kept in the database so a restart does
# not reset a lock; which accounts were given which case.
SCHEMA_V4 = """
CREATE TABLE IF NOT EXISTS accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'caseworker', 'researcher', 'family')),
    pw_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    failures INTEGER NOT NULL,
    last_failure REAL NOT NULL,
    locked_until REAL NOT NULL DEFAULT 0
);  -- schema 7 moves its counts to login_throttle and drops it
CREATE TABLE IF NOT EXISTS case_access (
    case_id INTEGER NOT NULL REFERENCES cases(id),
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    granted_by TEXT NOT NULL,
    granted_at REAL NOT NULL,
    PRIMARY KEY (case_id, account_id)
);
CREATE INDEX IF NOT EXISTS case_access_account ON case_access(account_id);
"""
_V4_COLUMNS = {
    "cases": (("created_by", "INTEGER"), ("two_reviewers", "INTEGER NOT NULL DEFAULT 0")),
    "decisions": (("account_id", "INTEGER"),),  # NULL: decided in single-user mode (a typed name)
}


# -- schema 5 (link): the archive cross-checked against itself (crosscheck/). Pairs and progress rows go with
# their faces (ON DELETE CASCADE): a removed photo's pairs leave the queue. Pair decisions point at both
# photos' sha256 + box, not at face ids, and are append-only like the case decisions.
# face_phash held the face-box hashes of the duplicate rule issue 25 replaced (crosscheck/duplicates.py): unused
# since, and kept, so the schema stays additive and an older facematch finds what it expects.
SCHEMA_LINK = """
CREATE TABLE IF NOT EXISTS link_pairs (
    engine TEXT NOT NULL,
    a INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    b INTEGER NOT NULL REFERENCES faces(id) ON DELETE CASCADE,
    cosine REAL NOT NULL,
    score REAL NOT NULL,
    rank_ab INTEGER,
    rank_ba INTEGER,
    kind TEXT NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'duplicate')),
    duplicate TEXT NOT NULL DEFAULT '',
    reasons TEXT NOT NULL DEFAULT '[]',
    found_at REAL NOT NULL,
    PRIMARY KEY (engine, a, b),
    CHECK (a < b)
);
CREATE INDEX IF NOT EXISTS link_pairs_b ON link_pairs(b);
CREATE INDEX IF NOT EXISTS link_pairs_score ON link_pairs(engine, kind, score);
CREATE TABLE IF NOT EXISTS link_done (
    face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
    engine TEXT NOT NULL,
    k INTEGER NOT NULL,
    across INTEGER NOT NULL,
    floor REAL
);
CREATE TABLE IF NOT EXISTS face_phash (
    face_id INTEGER PRIMARY KEY REFERENCES faces(id) ON DELETE CASCADE,
    phash INTEGER,
    shape TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS link_decisions (
    id INTEGER PRIMARY KEY,
    a_sha256 TEXT NOT NULL,
    a_x1 REAL NOT NULL, a_y1 REAL NOT NULL, a_x2 REAL NOT NULL, a_y2 REAL NOT NULL,
    b_sha256 TEXT NOT NULL,
    b_x1 REAL NOT NULL, b_y1 REAL NOT NULL, b_x2 REAL NOT NULL, b_y2 REAL NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('same', 'different', 'unsure')),
    reviewer TEXT NOT NULL,
    decided_at REAL NOT NULL,
    engine TEXT NOT NULL,
    score REAL NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    a_path TEXT NOT NULL DEFAULT '',
    b_path TEXT NOT NULL DEFAULT '',
    shown TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS link_decisions_a ON link_decisions(a_sha256);
CREATE INDEX IF NOT EXISTS link_decisions_b ON link_decisions(b_sha256);
CREATE TRIGGER IF NOT EXISTS link_decisions_no_update BEFORE UPDATE ON link_decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS link_decisions_no_delete BEFORE DELETE ON link_decisions
BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END;
"""


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the settings every facematch connection needs (WAL, foreign keys, busy wait)."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=NORMAL")
    # What is deleted or overwritten is zeroed, not left in free pages: a family's name replaced by its
    # encrypted form (team mode) or a removed case photo's record must not linger in the file.
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    """Create or upgrade the schema in place (idempotent; an older index opens and is upgraded)."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)  # IF NOT EXISTS throughout; also re-creates the append-only triggers
    conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            _("this index was written by a newer facematch (schema {version}); update facematch", version=version)
        )
    _add_neighbour_rule(conn)
    _upgrade_to_v2(conn)
    _upgrade_to_v3(conn)
    _upgrade_to_v4(conn)
    _upgrade_to_v5(conn)
    _upgrade_to_v6(conn)
    _upgrade_to_v7(conn)
    _add_link_floor(conn)


def _add_neighbour_rule(conn: sqlite3.Connection) -> None:
    """face_neighbours.rule where missing (issue 26): the lists already there keep NULL (the k nearest, r_g their
    mean), so neighbours.update computes them again for an engine with a same-person cut."""
    _add_column(conn, "face_neighbours", "rule", "TEXT")


def _add_link_floor(conn: sqlite3.Connection) -> None:
    """link_done.floor where missing (issue 26): faces linked before keep NULL (floor not known), so an offer to
    one of them has its row ranked again (crosscheck.run.offer)."""
    _add_column(conn, "link_done", "floor", "REAL")


def _add_column(conn: sqlite3.Connection, table: str, column: str, kind: str) -> None:
    """A column added without a version step: an older facematch ignores it, and its rows read NULL ("not known")."""
    if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}:
        try:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except sqlite3.OperationalError as e:  # another process opening the same index added it first
            if "duplicate column" not in str(e):
                raise


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def _missing_columns(conn: sqlite3.Connection, columns: dict[str, tuple]) -> list[tuple[str, str, str]]:
    """(table, column, type) of each column a schema step adds that this file does not have yet."""
    return [
        (table, column, kind)
        for table, cols in columns.items()
        for column, kind in cols
        if column not in {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    ]


@contextmanager
def _step(conn: sqlite3.Connection, version: int):
    """One schema step in one transaction: all of it, with the version it reaches, or nothing. The version is
    never lowered: a new index is created at the newest version before the steps run."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version' AND CAST(value AS INTEGER) < ?",
            (str(version), version),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _upgrade_to_v2(conn: sqlite3.Connection) -> None:
    """Add the typed record columns and the v2 tables; link legacy records to their photo."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(records)")}
    missing = [c for c in _RECORD_EXTRA_COLUMNS if c not in have]
    if not missing and _version(conn) >= 2:
        return
    with _step(conn, 2):
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


#: Columns schema 3 adds (ALTER TABLE, so a schema-2 index is upgraded in place and keeps every row).
_V3_COLUMNS = {
    "case_photos": (("face_box", "TEXT"), ("photo_year", "INTEGER")),  # the chosen face (JSON box), photo's year
    "record_photos": (("face", "INTEGER"),),  # which face of the photo the record names (NULL: the photo)
    "decisions": (("shown", "TEXT NOT NULL DEFAULT ''"),),  # the reasons on screen when the person decided
}


def _add_columns(conn: sqlite3.Connection, version: int, columns) -> None:
    """A schema step that only adds columns (the ones missing), in one _step. Adding a column is no UPDATE,
    so the append-only triggers do not object, and every row is kept."""
    todo = _missing_columns(conn, columns)
    if not todo and _version(conn) >= version:
        return
    with _step(conn, version):
        for table, column, kind in todo:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _upgrade_to_v3(conn: sqlite3.Connection) -> None:
    """Add the schema-3 columns."""
    _add_columns(conn, 3, _V3_COLUMNS)


def _upgrade_to_v4(conn: sqlite3.Connection) -> None:
    """Add the team-mode tables and columns; a schema-3 index keeps every row (local mode never uses them)."""
    todo = _missing_columns(conn, _V4_COLUMNS)
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not todo and {"accounts", "case_access"} <= have and _version(conn) >= 4:
        return
    with _step(conn, 4):
        for statement in SCHEMA_V4.split(";"):
            if statement.strip():
                conn.execute(statement)
        for table, column, kind in todo:
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _upgrade_to_v5(conn: sqlite3.Connection) -> None:
    """Schema 5 (link): the collection name of each folder (a column: NULL = the folder's own name) and the
    cross-check tables. Idempotent, like every step: the triggers are re-created if missing."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(roots)")}
    if "collection" in have and _version(conn) >= 5:
        conn.executescript(SCHEMA_LINK)
        return
    with _step(conn, 5):
        if "collection" not in have:
            conn.execute("ALTER TABLE roots ADD COLUMN collection TEXT")
        for statement in SCHEMA_LINK.split(";\n"):
            if statement.strip():
                conn.execute(statement)  # a trigger's body ends "; END", which this split keeps whole


#: Columns schema 6 adds: the app's language per team account, so a family or caseworker who chose Uyghur
#: finds it again after logging out and in, on any browser (i18n.LANGUAGES codes; NULL = not chosen).
_V6_COLUMNS = {"accounts": (("language", "TEXT"),)}


def _upgrade_to_v6(conn: sqlite3.Connection) -> None:
    """Add the schema-6 column (every account is kept, with no language chosen yet)."""
    _add_columns(conn, 6, _V6_COLUMNS)


# -- schema 7: login throttling (access.py). One row per (kind, name, address): kind 'pair' is a name tried from
# one client address ('?' when the address is not known), 'name' a name from every address, 'address' one
# address trying any name. Failures decay (one forgotten every access.FORGET_SECONDS); no attempt is judged
# before next_at. Addresses are stored as a keyed hash (meta 'throttle_salt'), never as typed.
SCHEMA_V7 = """
CREATE TABLE IF NOT EXISTS login_throttle (
    kind TEXT NOT NULL CHECK (kind IN ('pair', 'name', 'address')),
    name TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    failures REAL NOT NULL,
    updated_at REAL NOT NULL,
    next_at REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, name, address)
)
"""


def _upgrade_to_v7(conn: sqlite3.Connection) -> None:
    """The login_throttle table; the failures login_failures counted carry over (as attempts from an unknown
    address, and for the name), so an upgrade lifts no one's slow-down; login_failures goes."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "login_throttle" in have and "login_failures" not in have and _version(conn) >= 7:
        return
    with _step(conn, 7):
        conn.execute(SCHEMA_V7)
        if "login_failures" in have:
            for kind, address in (("pair", "?"), ("name", "")):
                conn.execute(
                    """INSERT OR IGNORE INTO login_throttle(kind, name, address, failures, updated_at, next_at)
                       SELECT ?, lower(trim(name)), ?, failures, last_failure, locked_until FROM login_failures""",
                    (kind, address),
                )
            conn.execute("DROP TABLE login_failures")


class Database:
    """An index's SQLite file, open for reading on any thread and writing through one path."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / DB_NAME
        self._lock = threading.RLock()
        self._depth = 0  # writes open on the write connection (nested ones are savepoints)
        self._durable = False  # the outermost open write commits with synchronous=FULL
        self._writer = connect(self.path)
        try:
            migrate(self._writer)
        except BaseException:
            self._writer.close()
            raise
        self._readers: dict[int, sqlite3.Connection] = {}
        self._readers_lock = threading.Lock()
        self._closed = False

    # -- reading ----------------------------------------------------------------------------------
    def read(self) -> sqlite3.Connection:
        """This thread's own read connection (opened on first use, closed with the database)."""
        tid = threading.get_ident()
        conn = self._readers.get(tid)
        if conn is not None:
            return conn
        if self._closed:
            raise RuntimeError(f"{self.path} is closed")
        conn = connect(self.path)
        with self._readers_lock:
            alive = {t.ident for t in threading.enumerate()}
            for gone in [t for t in self._readers if t not in alive]:  # threads that ended (app reruns)
                self._readers.pop(gone).close()
            self._readers[tid] = conn
        return conn

    def execute(self, sql: str, args: tuple | list = ()) -> sqlite3.Cursor:
        return self.read().execute(sql, args)

    def one(self, sql: str, args: tuple | list = ()):
        """The first column of the first row (None when there is no row)."""
        row = self.read().execute(sql, args).fetchone()
        return None if row is None else row[0]

    # -- writing ----------------------------------------------------------------------------------
    @contextmanager
    def write(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction on the one write connection: BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error.

        `durable` commits with synchronous=FULL: indexing can afford to redo a photo after a power cut,
        but a person's decision, once acknowledged, must survive one.
        """
        with self._lock:
            c = self._writer
            if self._depth:  # a write inside a write (same thread: the lock is re-entrant): a savepoint
                if durable and not self._durable:
                    raise RuntimeError("a durable write cannot run inside a non-durable one (SQLite fixes the "
                                       "safety level when the outer transaction begins)")  # fmt: skip
                yield from self._savepoint(c)
                return
            if durable:
                c.execute("PRAGMA synchronous=FULL")
            self._depth, self._durable = 1, durable
            try:
                c.execute("BEGIN IMMEDIATE")
                try:
                    yield c
                    c.execute("COMMIT")
                except BaseException:
                    if c.in_transaction:  # also when COMMIT itself failed (busy, disk full): never left open
                        c.execute("ROLLBACK")
                    raise
            finally:
                self._depth, self._durable = 0, False
                if durable:
                    c.execute("PRAGMA synchronous=NORMAL")

    def _savepoint(self, c: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """A nested write: its own savepoint, rolled back alone on error; the outer transaction commits it."""
        name = f"nested_{self._depth}"
        self._depth += 1
        try:
            c.execute(f"SAVEPOINT {name}")
            try:
                yield c
            except BaseException:
                c.execute(f"ROLLBACK TO {name}")
                c.execute(f"RELEASE {name}")
                raise
            c.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    def checkpoint(self) -> None:
        """Move the WAL into the main file and truncate it, on the write connection, holding the write lock."""
        with self._lock:
            self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- meta -------------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        return self.one("SELECT value FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str | None) -> None:
        """Set a key (None deletes it)."""
        with self.write() as c:
            if value is None:
                c.execute("DELETE FROM meta WHERE key = ?", (key,))
            else:
                c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- life -------------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock, self._readers_lock:
            self._closed = True
            for conn in self._readers.values():
                conn.close()
            self._readers.clear()
            self._writer.close()
