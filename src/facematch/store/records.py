"""Archive records (what the leaked documents say about a person), their names and their photos.

A record may have no photo (most of an archive), one, or several; a photo may belong to several
records (a group photo, or two lists naming the same detainee). Names are stored in the comparable
forms made at import (names.py), so a name search transliterates nothing when it opens. Reading and
mapping the files is records.py's job; this module only stores and fetches.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable

from .db import RECORD_FIELDS, Database
from .faces import chunks, face_numbers


class Records:
    """The records, record_names and record_photos tables of one index."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def count(self) -> int:
        return int(self.db.one("SELECT COUNT(*) FROM records"))

    def save(self, items: list[dict]) -> tuple[int, int]:
        """Insert or replace whole records by id, with their names and photo links; (new, updated).

        Each item: record_id, data (the columns as read), fields (RECORD_FIELDS), names (dicts with
        name, script, latin, plain, keys), photos (file names), photo_faces (file name -> the number of
        the face the record names in it, from the left; absent: the whole photo), kept (the columns that are no field,
        shown as they are), source_file, source_row. One transaction: an import is all there or not at
        all. The latest import of a record id wins.
        """
        new = updated = 0
        now = time.time()
        cols = ", ".join(RECORD_FIELDS)
        with self.db.write() as c:
            for it in items:
                rid = it["record_id"]
                exists = c.execute("SELECT 1 FROM records WHERE record_id = ?", (rid,)).fetchone() is not None
                fields = it.get("fields", {})
                photos = list(dict.fromkeys(it.get("photos", [])))
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
                        *[fields.get(f) for f in RECORD_FIELDS],
                        json.dumps(it.get("kept", []), ensure_ascii=False),
                        it.get("source_file"),
                        it.get("source_row"),
                        now,
                    ),
                )
                c.execute("DELETE FROM record_names WHERE record_id = ?", (rid,))
                c.execute("DELETE FROM record_photos WHERE record_id = ?", (rid,))
                c.executemany(
                    """INSERT INTO record_names(record_id, position, name, script, latin, plain, keys)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    [
                        (rid, pos, n["name"], n["script"], n["latin"], n["plain"], n["keys"])
                        for pos, n in enumerate(it.get("names", []))
                    ],
                )
                faces = it.get("photo_faces") or {}
                c.executemany(
                    "INSERT INTO record_photos(record_id, photo_file, face) VALUES (?, ?, ?)",
                    [(rid, p, faces.get(p)) for p in photos],
                )
                updated += exists
                new += not exists
            # A counter that changes with every import, so cached name indexes know they are stale.
            c.execute(
                """INSERT INTO meta(key, value) VALUES ('records_generation', '1')
                   ON CONFLICT(key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)"""
            )
        return new, updated

    def generation(self) -> int:
        return int(self.db.get_meta("records_generation") or 0)

    def unmapped(self) -> list[tuple[str, str | None, dict]]:
        """Records written by facematch 0.1 (columns only), to be mapped into fields and names."""
        rows = self.db.execute("SELECT record_id, photo_file, data FROM records WHERE mapped_at IS NULL")
        return [(r["record_id"], r["photo_file"], json.loads(r["data"])) for r in rows]

    def name_rows(self, record_ids: Iterable[str] | None = None) -> list[tuple[str, str, str, str, str]]:
        """(record_id, name, script, plain, keys) of every name of every record, for the name index; with
        record_ids, of those records only (the cross-check compares a block's records with each other)."""
        sql = "SELECT record_id, name, script, plain, keys FROM record_names"
        order = "ORDER BY record_id, position"
        if record_ids is None:
            return [tuple(r) for r in self.db.execute(f"{sql} {order}")]
        out: list[tuple[str, str, str, str, str]] = []
        for part in chunks(sorted(set(record_ids)), 500):  # sorted parts, each in order: the whole in order
            marks = ",".join("?" * len(part))
            out += [tuple(r) for r in self.db.execute(f"{sql} WHERE record_id IN ({marks}) {order}", part)]
        return out

    def known(self, record_ids: Iterable[str]) -> set[str]:
        """Which of these record ids are stored (what by_id would return, without reading the records)."""
        out: set[str] = set()
        for part in chunks(list(dict.fromkeys(record_ids)), 500):
            marks = ",".join("?" * len(part))
            out |= {r[0] for r in self.db.execute(f"SELECT record_id FROM records WHERE record_id IN ({marks})", part)}
        return out

    def by_id(self, record_ids: Iterable[str]) -> dict[str, dict]:
        """Records as plain dicts: record_id, names, name, the typed fields that are set, photos, columns."""
        ids = list(dict.fromkeys(record_ids))
        out: dict[str, dict] = {}
        for part in chunks(ids, 500):
            marks = ",".join("?" * len(part))
            names: dict[str, list[str]] = {}
            for r in self.db.execute(
                f"SELECT record_id, name FROM record_names WHERE record_id IN ({marks}) ORDER BY position", part
            ):
                names.setdefault(r["record_id"], []).append(r["name"])
            photos: dict[str, list[str]] = {}
            faces: dict[str, dict[str, int]] = {}
            for r in self.db.execute(
                f"SELECT record_id, photo_file, face FROM record_photos WHERE record_id IN ({marks}) ORDER BY rowid",
                part,
            ):
                photos.setdefault(r["record_id"], []).append(r["photo_file"])
                if r["face"] is not None:
                    faces.setdefault(r["record_id"], {})[r["photo_file"]] = r["face"]
            for r in self.db.execute(f"SELECT * FROM records WHERE record_id IN ({marks})", part):
                rid = r["record_id"]
                out[rid] = _record_dict(r, names.get(rid, []), photos.get(rid, []), faces.get(rid, {}))
        return {i: out[i] for i in ids if i in out}

    def for_files(self, filenames: Iterable[str]) -> dict[str, list[dict]]:
        """The records linked to each photo file name (a photo may belong to several records)."""
        links = []
        for part in chunks(sorted(set(filenames)), 500):
            marks = ",".join("?" * len(part))
            links += self.db.execute(
                f"SELECT record_id, photo_file FROM record_photos WHERE photo_file IN ({marks}) ORDER BY record_id",
                part,
            ).fetchall()
        records = self.by_id(r["record_id"] for r in links)
        out: dict[str, list[dict]] = {}
        for r in links:
            if r["record_id"] in records:
                out.setdefault(r["photo_file"], []).append(records[r["record_id"]])
        return out

    def face_ids(self, record_ids: Iterable[str], engine: str) -> dict[str, list[int]]:
        """Face ids (of one engine) in the photos linked to each record: only the named face where the
        record names one ("photo.jpg#2"), every face of the photo where it does not."""
        rows = []
        for part in chunks(list(dict.fromkeys(record_ids)), 500):
            marks = ",".join("?" * len(part))
            rows += self.db.execute(
                f"""SELECT rp.record_id, rp.face, f.id, f.photo_id FROM record_photos rp
                    JOIN photos p ON p.filename = rp.photo_file
                    JOIN faces f ON f.photo_id = p.id AND f.engine = ? WHERE rp.record_id IN ({marks})
                    ORDER BY f.id""",
                (engine, *part),
            ).fetchall()
        named = [r for r in rows if r["face"] is not None]
        numbers = face_numbers(self.db, (r["photo_id"] for r in named), engine) if named else {}
        out: dict[str, list[int]] = {}
        for r in rows:
            if r["face"] is None or numbers.get(r["id"], (0, 0))[0] == r["face"]:
                out.setdefault(r["record_id"], []).append(r["id"])
        return out


def _record_dict(row: sqlite3.Row, names: list[str], photos: list[str], faces: dict[str, int]) -> dict:
    """A record for display and JSON. Legacy (unmapped) records show their columns as they were.
    photo_faces: file name -> the face the record names in it (numbered from the left)."""
    data = json.loads(row["data"])
    if row["mapped_at"] is None:
        d = {"record_id": row["record_id"], **data}
        d.setdefault("names", [n for n in [data.get("name")] if n] or names)
        d["photos"] = photos
        d["photo_faces"] = faces
        return d
    d = {"record_id": row["record_id"], "names": names, "name": names[0] if names else ""}
    d.update({f: row[f] for f in RECORD_FIELDS if row[f] not in (None, "")})
    d["photos"] = photos
    d["photo_faces"] = faces
    d["columns"] = data
    kept = json.loads(row["kept_columns"] or "[]")
    d["other"] = {k: data[k] for k in kept if k in data}
    d.update({k: v for k, v in d["other"].items() if k not in d})  # as facematch 0.1 gave them, for scripts
    d["source_file"], d["source_row"] = row["source_file"], row["source_row"]
    return d
