"""Photos, their scans and their faces: what indexing writes and what a search result points at.

Photos are kept by path relative to the folder (root) they were indexed from, with the sha256 of their
bytes; each engine's scan of a photo says ok / no_face / error (with a reason a person can read); each
face has its box, landmarks, detector score, sharpness and embedding, tagged with the engine
fingerprint. One photo's results are written in one transaction, so a process killed at any moment
leaves all of a photo or none of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..faces import stored_box
from ..fingerprint import Fingerprint
from .db import Database

#: SQLite refuses statements with more bound parameters than this (999 in old builds): chunk IN (...) lists.
CHUNK = 900


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


def _next_face_id(c) -> int:
    """The next face id, never one used before: a deleted face's id (its photo changed, an engine was
    re-indexed) must not come back for another face, or a FAISS file, a neighbour list or a screen still
    holding the old id would take one face for another. (SQLite alone reuses the highest id once it is
    deleted; the highest id ever given is kept in meta.)"""
    high = c.execute("SELECT value FROM meta WHERE key = 'face_id_high'").fetchone()
    top = c.execute("SELECT COALESCE(MAX(id), 0) FROM faces").fetchone()[0]
    return max(int(high[0]) if high else 0, int(top)) + 1


def chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def face_numbers(db: Database, photo_ids: Iterable[int], engine: str) -> dict[int, tuple[int, int]]:
    """face id -> (its number in its photo, faces in that photo), numbered from the left as a caption
    reads a group photo ("from left: ..."): records name a face that way (records.py, "photo.jpg#2"), and
    the app draws the same numbers. Ties (one face above another) go top first."""
    by_photo: dict[int, list[tuple[float, float, int]]] = {}
    for part in chunks(sorted({int(p) for p in photo_ids})):
        marks = ",".join("?" * len(part))
        for r in db.execute(
            f"SELECT id, photo_id, x1, y1, x2, y2 FROM faces WHERE engine = ? AND photo_id IN ({marks})",
            (engine, *part),
        ):
            by_photo.setdefault(r["photo_id"], []).append(((r["x1"] + r["x2"]) / 2, (r["y1"] + r["y2"]) / 2, r["id"]))
    out: dict[int, tuple[int, int]] = {}
    for faces in by_photo.values():
        for n, (_, _, fid) in enumerate(sorted(faces), start=1):
            out[fid] = (n, len(faces))
    return out


def collection_name(root: str, name: str | None) -> str:
    """A folder's collection: the name given at indexing, else the folder's own name."""
    return name or Path(root).name or root


class Faces:
    """The photos, scans and faces tables of one index."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- indexing writes --------------------------------------------------------------------------
    def root_id(self, root: Path, collection: str | None = None) -> int:
        """The id of an indexed folder; `collection` names (or renames) the collection it belongs to."""
        path = str(Path(root).resolve())
        with self.db.write() as c:
            c.execute("INSERT OR IGNORE INTO roots(path) VALUES (?)", (path,))
            if collection is not None and collection.strip():
                c.execute("UPDATE roots SET collection = ? WHERE path = ?", (collection.strip(), path))
            return int(c.execute("SELECT id FROM roots WHERE path = ?", (path,)).fetchone()["id"])

    def collections(self) -> list[dict]:
        """Each collection (a leak, a county list: one or more indexed folders under one name, by default
        the folder's own name) with its folders, photos and faces per engine, in the order first indexed."""
        out: dict[str, dict] = {}
        for r in self.db.execute("SELECT id, path, collection FROM roots ORDER BY id"):
            name = collection_name(r["path"], r["collection"])
            c = out.setdefault(name, {"name": name, "folders": [], "photos": 0, "faces": {}})
            c["folders"].append(r["path"])
            c["photos"] += int(self.db.one("SELECT COUNT(*) FROM photos WHERE root_id = ?", (r["id"],)))
            for e in self.db.execute(
                "SELECT f.engine, COUNT(*) AS n FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.root_id = ? "
                "GROUP BY f.engine",
                (r["id"],),
            ):
                c["faces"][e["engine"]] = c["faces"].get(e["engine"], 0) + e["n"]
        return list(out.values())

    def photos_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(photo id, image number) of each face of `ids` (sorted, unique), as arrays in that order: -1 for a
        face that does not exist. Faces of byte-identical photos (same sha256) share an image number. What
        linking needs of every candidate of a block (~1M faces) without building a FaceRow for each."""
        found: list[tuple[int, int, str | None]] = []
        for part in chunks(ids.tolist()):
            marks = ",".join("?" * len(part))
            found += self.db.execute(
                f"SELECT f.id, f.photo_id, p.sha256 FROM faces f JOIN photos p ON p.id = f.photo_id "
                f"WHERE f.id IN ({marks})",
                part,
            ).fetchall()
        photo = np.full(len(ids), -1, np.int64)
        image = -1 - np.arange(len(ids))  # a face that does not exist is an image of its own
        at = np.searchsorted(ids, np.array([r[0] for r in found], np.int64))
        photo[at] = [r[1] for r in found]
        number: dict[str, int] = {}  # a dict, not np.unique over ~1M strings: ~10x faster
        image[at] = [number.setdefault(r[2] or f"photo {r[1]}", len(number)) for r in found]
        return photo, image

    def collection_of(self, ids: Iterable[int]) -> dict[int, str]:
        """face id -> the name of the collection its photo was indexed in."""
        out: dict[int, str] = {}
        for part in chunks(sorted({int(i) for i in ids})):
            marks = ",".join("?" * len(part))
            for r in self.db.execute(
                f"""SELECT f.id, r.path, r.collection FROM faces f JOIN photos p ON p.id = f.photo_id
                    JOIN roots r ON r.id = p.root_id WHERE f.id IN ({marks})""",
                part,
            ):
                out[r[0]] = collection_name(r[1], r[2])
        return out

    def known_photos(self, root_id: int, engine: str) -> dict[str, StoredPhoto]:
        """Photos under a root already scanned by this engine, by relative path."""
        rows = self.db.execute(
            """SELECT p.id, p.relpath, p.sha256, p.size, p.mtime_ns FROM photos p
               JOIN scans s ON s.photo_id = p.id AND s.engine = ? WHERE p.root_id = ?""",
            (engine, root_id),
        )
        return {r["relpath"]: StoredPhoto(r["id"], r["sha256"], r["size"], r["mtime_ns"]) for r in rows}

    def save_scan(self, root_id: int, relpath: str, engine: str, **scan) -> list[int]:
        """Write one photo's result atomically, replacing any earlier result of the same engine (`scan`: the
        keyword arguments of _save_one: sha256, size, mtime_ns, width, height, status, reason, faces).

        If the file's content changed, faces of *every* engine for the old content are dropped:
        they describe pixels that no longer exist.
        """
        return self.save_scans(root_id, engine, [{"relpath": relpath, **scan}])[0]

    def save_scans(self, root_id: int, engine: str, scans: list[dict]) -> list[list[int]]:
        """Write several photos' results (save_scan's keyword arguments and `relpath`, one dict each) in one
        transaction: each photo is still all or nothing, and a commit per photo cost 0.63 ms of a million-photo
        run's 0.7 (the indexer writes what arrived within a tenth of a second at once; an interrupted run redoes at
        most that)."""
        with self.db.write() as c:
            ids: list[list[int]] = []
            next_id = _next_face_id(c)
            for scan in scans:
                ids.append(self._save_one(c, root_id, engine, next_id, **scan))
                next_id += len(ids[-1])
            if any(ids):  # the highest id given, once per batch (not per photo)
                c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('face_id_high', ?)", (str(next_id - 1),))
            return ids

    def _save_one(
        self,
        c,
        root_id: int,
        engine: str,
        next_id: int,
        *,
        relpath: str,
        sha256: str | None,
        size: int | None,
        mtime_ns: int | None,
        width: int | None,
        height: int | None,
        status: str,
        reason: str | None,
        faces: Iterable[dict],
    ) -> list[int]:
        faces = list(faces)
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
                    """INSERT INTO faces(id, photo_id, engine, x1, y1, x2, y2, landmarks, det_score, quality,
                                         embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        next_id + len(ids),
                        photo_id,
                        engine,
                        *stored_box(f["box"]),
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
        with self.db.write() as c:
            c.execute(
                "UPDATE photos SET size = ?, mtime_ns = ? WHERE root_id = ? AND relpath = ?",
                (size, mtime_ns, root_id, relpath),
            )

    # -- faces ------------------------------------------------------------------------------------
    def engines(self) -> dict[Fingerprint, int]:
        """Engine fingerprints present in this index (scanned with, even if no face was found), with face counts."""
        found = {Fingerprint(r["engine"]): r["n"] for r in self.db.execute(
            "SELECT engine, COUNT(*) AS n FROM faces GROUP BY engine"
        )}  # fmt: skip
        for r in self.db.execute("SELECT DISTINCT engine FROM scans"):
            found.setdefault(Fingerprint(r["engine"]), 0)
        return found

    def engine_names(self) -> list[Fingerprint]:
        """Engines with at least one face, without counting them: a walk over the faces_engine index that jumps
        from one engine to the next (a GROUP BY reads every face: a quarter second at a million, on every open)."""
        rows = self.db.execute(
            """WITH RECURSIVE e(name) AS (SELECT MIN(engine) FROM faces
                 UNION ALL SELECT (SELECT MIN(engine) FROM faces WHERE engine > e.name) FROM e WHERE e.name IS NOT NULL)
               SELECT name FROM e WHERE name IS NOT NULL"""
        ).fetchall()
        return [Fingerprint(r[0]) for r in rows]

    def count(self, engine: str) -> int:
        return int(self.db.one("SELECT COUNT(*) FROM faces WHERE engine = ?", (engine,)))

    def max_id(self, engine: str) -> int:
        return int(self.db.one("SELECT COALESCE(MAX(id), 0) FROM faces WHERE engine = ?", (engine,)))

    def ids(self, engine: str) -> np.ndarray:
        """Every face id of an engine, sorted: to find what the FAISS file lacks or holds in excess."""
        rows = self.db.execute("SELECT id FROM faces WHERE engine = ? ORDER BY id", (engine,)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def image_codes(self, engine: str) -> tuple[np.ndarray, np.ndarray]:
        """(every face id of an engine, sorted; a number per face, equal for faces of one image or of identical
        copies: photo_keys as small integers, in one query, for work over the whole archive)."""
        rows = self.db.execute(
            "SELECT f.id, p.sha256 FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.engine = ? ORDER BY f.id",
            (engine,),
        ).fetchall()
        code: dict[str, int] = {}
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        codes = np.fromiter((code.setdefault(r[1], len(code)) for r in rows), dtype=np.int64, count=len(rows))
        return ids, codes

    def iter_embeddings(
        self, engine: str, after_id: int = 0, batch: int = 50_000
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, embeddings) in id order, in batches, for (re)building the FAISS index."""
        last = after_id
        while True:
            rows = self.db.execute(
                "SELECT id, embedding FROM faces WHERE engine = ? AND id > ? ORDER BY id LIMIT ?",
                (engine, last, batch),
            ).fetchall()
            if not rows:
                return
            ids = np.array([r["id"] for r in rows], dtype=np.int64)
            vecs = np.stack([np.frombuffer(r["embedding"], dtype=np.float32) for r in rows])
            yield ids, vecs
            last = int(ids[-1])

    def by_id(self, ids: Iterable[int]) -> dict[int, FaceRow]:
        """Faces with their photo, by face id (ids that do not exist are left out)."""
        out: dict[int, FaceRow] = {}
        for part in chunks([int(i) for i in ids]):
            marks = ",".join("?" * len(part))
            rows = self.db.execute(
                f"""SELECT f.id, f.photo_id, f.engine, f.x1, f.y1, f.x2, f.y2, f.landmarks, f.det_score, f.quality,
                           r.path AS root, p.relpath, p.filename, p.sha256, p.width, p.height
                    FROM faces f JOIN photos p ON p.id = f.photo_id JOIN roots r ON r.id = p.root_id
                    WHERE f.id IN ({marks})""",
                part,
            )
            for row in rows:
                out[row["id"]] = FaceRow(
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
        return out

    def numbers(self, rows: Iterable[FaceRow]) -> dict[int, tuple[int, int]]:
        """(number from the left, faces in the photo) of each face (see face_numbers)."""
        rows = list(rows)
        out: dict[int, tuple[int, int]] = {}
        for engine in {r.engine for r in rows}:
            out.update(face_numbers(self.db, (r.photo_id for r in rows if r.engine == engine), engine))
        return out

    def in_photo(self, photo_id: int, engine: str) -> list[FaceRow]:
        """Every face of one photo (one engine), numbered from the left: index 0 is face 1."""
        ids = [
            r[0] for r in self.db.execute("SELECT id FROM faces WHERE photo_id = ? AND engine = ?", (photo_id, engine))
        ]
        numbers = face_numbers(self.db, [photo_id], engine)
        return sorted(self.by_id(ids).values(), key=lambda f: numbers[f.id][0])

    def embeddings(self, ids: Iterable[int]) -> dict[int, np.ndarray]:
        """Stored float32 embeddings by face id: the exact vectors every shown score is computed from."""
        out: dict[int, np.ndarray] = {}
        for part in chunks([int(i) for i in ids]):
            marks = ",".join("?" * len(part))
            for r in self.db.execute(f"SELECT id, embedding FROM faces WHERE id IN ({marks})", part):
                out[r["id"]] = np.frombuffer(r["embedding"], dtype=np.float32)
        return out

    def all_embeddings(self, engine: str, ids: np.ndarray, dim: int) -> np.ndarray:
        """Every embedding of an engine as rows in the order of `ids` (all its face ids, sorted: ids() or
        image_codes()), read in one pass in id order: work over the whole archive (seconds at a million faces,
        where embedding_matrix's lookups by id take tens)."""
        out = np.empty((len(ids), dim), np.float32)
        for part_ids, part in self.iter_embeddings(engine):
            out[np.searchsorted(ids, part_ids)] = part
        return out

    def embedding_matrix(self, ids: np.ndarray, dim: int) -> np.ndarray:
        """Embeddings of `ids` as rows of one matrix, in the order given; NaN rows for unknown ids."""
        out = np.full((len(ids), dim), np.nan, dtype=np.float32)
        where = {int(i): n for n, i in enumerate(ids)}
        for fid, emb in self.embeddings(ids).items():
            out[where[fid]] = emb
        return out

    def photo_keys(self, ids: Iterable[int]) -> dict[int, str]:
        """face id -> its photo's sha256: faces of one image (or of identical copies) share a key."""
        out: dict[int, str] = {}
        for part in chunks(sorted({int(i) for i in ids})):
            marks = ",".join("?" * len(part))
            for r in self.db.execute(
                f"SELECT f.id, p.sha256 FROM faces f JOIN photos p ON p.id = f.photo_id WHERE f.id IN ({marks})", part
            ):
                out[r[0]] = r[1]
        return out

    def embedding_dim(self, engine: str) -> int | None:
        """Dimensions of an engine's stored embeddings (None if it has no face): rebuilding FAISS
        from the database must not need the model itself."""
        n = self.db.one("SELECT length(embedding) FROM faces WHERE engine = ? LIMIT 1", (engine,))
        return None if n is None else int(n) // 4  # float32

    # -- photos and summaries ---------------------------------------------------------------------
    def indexed_filenames(self, filenames: Iterable[str]) -> set[str]:
        """Which of these photo file names are in the index (a record's photo may not have been indexed)."""
        found: set[str] = set()
        for part in chunks(sorted(set(filenames))):
            marks = ",".join("?" * len(part))
            found |= {r[0] for r in self.db.execute(f"SELECT filename FROM photos WHERE filename IN ({marks})", part)}
        return found

    def status_counts(self, engine: str) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) AS n FROM scans WHERE engine = ? GROUP BY status", (engine,))
        return {r["status"]: r["n"] for r in rows}

    def problems(self, engine: str) -> list[tuple[str, str, str]]:
        """(path, status, reason) of every photo that gave no usable face with this engine."""
        rows = self.db.execute(
            """SELECT r.path AS root, p.relpath, s.status, s.reason FROM scans s
               JOIN photos p ON p.id = s.photo_id JOIN roots r ON r.id = p.root_id
               WHERE s.engine = ? AND s.status != 'ok' ORDER BY p.relpath""",
            (engine,),
        )
        return [(str(Path(r["root"]) / r["relpath"]), r["status"], r["reason"] or "") for r in rows]

    def photo_count(self) -> int:
        return int(self.db.one("SELECT COUNT(*) FROM photos"))

    def roots(self) -> list[str]:
        return [r["path"] for r in self.db.execute("SELECT path FROM roots ORDER BY id")]

    def photo_hashes(self) -> list[tuple[Path, str]]:
        """(path, sha256) of every indexed photo, to check the files are still the ones indexed."""
        rows = self.db.execute(
            "SELECT r.path AS root, p.relpath, p.sha256 FROM photos p JOIN roots r ON r.id = p.root_id "
            "WHERE p.sha256 IS NOT NULL ORDER BY p.id"
        )
        return [(Path(r["root"]) / r["relpath"], r["sha256"]) for r in rows]

    def photo_path_by_sha(self, sha256: str) -> Path | None:
        """Where a photo with this content is now (decisions point at content, not at a path)."""
        row = self.db.execute(
            "SELECT r.path AS root, p.relpath FROM photos p JOIN roots r ON r.id = p.root_id WHERE p.sha256 = ? "
            "ORDER BY p.id LIMIT 1",
            (sha256,),
        ).fetchone()
        return Path(row["root"]) / row["relpath"] if row else None
