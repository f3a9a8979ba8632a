"""Each face's nearest other faces and its hub value r_g (neighbours.py keeps them in step).

Stored as one row per face (the neighbour ids and similarities as float32/int64 blobs, and their mean,
r_g), removed with the face; faces deleted since the last update are logged by a trigger (db.py), so the
update finds the lists that name one of them without loading every list. A list is of one kind, (k, rule):
r_g is made from it by that rule (neighbours.Scoring.lists; rule NULL: the mean of the k nearest, every list
made before issue 26). Every method takes the kind it means; a list of another kind counts as missing.

Finding out that every list is in step takes scans of both tables (a second and a half at a million faces, on
every open of a search); so when an update leaves them in step it writes what it found to meta (`mark_in_step`:
the faces' highest id and count, r_g's mean and minimum), and a trigger removes it when any list is written or
removed (db.py: whoever writes, in the same transaction). A face added changes the highest id and the count
(ids are never reused: faces.py), a face deleted the count and faces_gone: `in_step` trusts the note only
while none of that happened.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

import numpy as np

from .db import Database
from .faces import chunks

#: hub() of more faces than this reads the whole table once
WHOLE = 100_000

#: meta keys of the in-step notes (one per engine and kind of list; db.py's triggers remove this key range)
NOTE = "neighbours_in_step:"


def _note_key(engine: str, k: int, rule: str | None) -> str:
    return f"{NOTE}{engine}:{k}:{rule}"


class Neighbours:
    """The face_neighbours and faces_gone tables of one index."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def in_step(self, engine: str, k: int, rule: str | None, top: int, count: int) -> tuple[float, float] | None:
        """(mean, smallest) r_g if the last update left every list of this kind in step and nothing changed since
        (the faces' highest id `top` and `count` as noted, no face gone, no list written); else None."""
        raw = self.db.get_meta(_note_key(engine, k, rule))
        if raw is None:
            return None
        note = json.loads(raw)
        if note["top"] != top or note["count"] != count:
            return None
        if self.db.one("SELECT 1 FROM faces_gone WHERE engine = ? LIMIT 1", (engine,)) is not None:
            return None
        return float(note["hub_mean"]), float(note["hub_min"])

    def mark_in_step(self, engine: str, k: int, rule: str | None, top: int, count: int) -> tuple[float, float]:
        """Note that every list of this kind is in step with faces up to `top` (`count` of them); (mean, smallest)
        r_g, noted with it. Written only if no list changed meanwhile (a concurrent run), checked in the write."""
        with self.db.write() as c:  # read inside the write: no other run's list can be saved in between
            row = c.execute(
                "SELECT AVG(hub), MIN(hub) FROM face_neighbours WHERE engine = ? AND k = ? AND rule IS ?",
                (engine, k, rule),
            ).fetchone()
            hub = (float(row[0]), float(row[1])) if row[0] is not None else (0.0, 0.0)
            now = c.execute("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM faces WHERE engine = ?", (engine,)).fetchone()
            if tuple(now) == (top, count):
                note = json.dumps({"top": top, "count": count, "hub_mean": hub[0], "hub_min": hub[1]})
                c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (_note_key(engine, k, rule), note))
        return hub

    def missing(self, engine: str, k: int, rule: str | None) -> np.ndarray:
        """Faces of an engine with no list of this kind (new since the last update, or with a list of another
        kind: `other_kinds`)."""
        rows = self.db.execute(
            """SELECT f.id FROM faces f LEFT JOIN face_neighbours n ON n.face_id = f.id AND n.k = ? AND n.rule IS ?
               WHERE f.engine = ? AND n.face_id IS NULL ORDER BY f.id""",
            (k, rule, engine),
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def other_kinds(self, engine: str, k: int, rule: str | None) -> np.ndarray:
        """Faces of an engine whose list is of another kind than (k, rule) (made by an older facematch)."""
        rows = self.db.execute(
            "SELECT face_id FROM face_neighbours WHERE engine = ? AND NOT (k = ? AND rule IS ?) ORDER BY face_id",
            (engine, k, rule),
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def gone(self, engine: str) -> set[int]:
        return {r[0] for r in self.db.execute("SELECT id FROM faces_gone WHERE engine = ?", (engine,))}

    def naming(self, engine: str, gone: set[int], batch: int = 20_000) -> list[int]:
        """Faces whose list names a face that is gone (streamed: lists are never all held at once)."""
        if not gone:
            return []
        dead = np.fromiter(gone, dtype=np.int64)
        out, last = [], 0
        while True:
            rows = self.db.execute(
                "SELECT face_id, ids FROM face_neighbours WHERE engine = ? AND face_id > ? ORDER BY face_id LIMIT ?",
                (engine, last, batch),
            ).fetchall()
            if not rows:
                return out
            out += [r[0] for r in rows if np.isin(np.frombuffer(r[1], np.int64), dead).any()]
            last = rows[-1][0]

    def lists(self, ids: Iterable[int], k: int, rule: str | None) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """face id -> (neighbour ids, similarities), best first, for the faces that have a list of this kind."""
        out = {}
        for part in chunks(sorted({int(i) for i in ids})):
            marks = ",".join("?" * len(part))
            for r in self.db.execute(
                f"SELECT face_id, ids, sims FROM face_neighbours WHERE k = ? AND rule IS ? AND face_id IN ({marks})",
                (k, rule, *part),
            ):
                out[r[0]] = (np.frombuffer(r[1], np.int64).copy(), np.frombuffer(r[2], np.float32).copy())
        return out

    def save(
        self,
        engine: str,
        k: int,
        rule: str | None,
        lists: dict[int, tuple[np.ndarray, np.ndarray]],
        forget: set[int],
        hub: Callable[[np.ndarray], float] | None = None,
    ) -> None:
        """Write lists of kind (k, rule) with their r_g, `hub` of their similarities (by default their mean: the
        rule of lists without one), one transaction per batch, and forget the gone faces they were computed without.

        A face deleted meanwhile (a concurrent indexing run) has no row to point at: it is skipped.
        """
        items = sorted(lists.items())
        for part in chunks(items, 5000):
            with self.db.write() as c:
                alive = {r[0] for r in c.execute(
                    f"SELECT id FROM faces WHERE id IN ({','.join('?' * len(part))})", [fid for fid, _ in part]
                )}  # fmt: skip
                c.executemany(
                    """INSERT OR REPLACE INTO face_neighbours(face_id, engine, k, rule, ids, sims, hub)
                       VALUES (?, ?, ?, ?, ?, ?, ?)""",
                    [
                        (fid, engine, k, rule, ids.astype(np.int64).tobytes(), sims.astype(np.float32).tobytes(),
                         hub(sims) if hub is not None else float(sims.mean()) if len(sims) else 0.0)
                        for fid, (ids, sims) in part
                        if fid in alive
                    ],
                )  # fmt: skip
        if forget:
            with self.db.write() as c:
                c.executemany("DELETE FROM faces_gone WHERE id = ?", [(i,) for i in forget])

    def hub(self, ids: np.ndarray, k: int, rule: str | None) -> np.ndarray:
        """r_g of these faces in the order given (NaN for a face without a list of this kind). An id may come more
        than once (a block of queries shares faces between its shortlists): each place gets the value."""
        unique, place = np.unique(np.asarray(ids, dtype=np.int64).ravel(), return_inverse=True)
        out = np.full(len(unique), np.nan, dtype=np.float32)
        if len(unique) > WHOLE:  # most of the archive: one pass over the table beats lookups by id
            for r in self.db.execute(
                "SELECT face_id, hub FROM face_neighbours WHERE k = ? AND rule IS ?", (k, rule)
            ):  # fmt: skip
                at = int(np.searchsorted(unique, r[0]))
                if at < len(unique) and unique[at] == r[0]:
                    out[at] = r[1]
            return out[place.ravel()]
        where = {int(i): n for n, i in enumerate(unique)}
        for part in chunks(list(where)):
            marks = ",".join("?" * len(part))
            for r in self.db.execute(
                f"SELECT face_id, hub FROM face_neighbours WHERE k = ? AND rule IS ? AND face_id IN ({marks})",
                (k, rule, *part),
            ):
                out[where[r[0]]] = r[1]
        return out[place.ravel()]

    def hub_range(self, engine: str, k: int, rule: str | None) -> tuple[float, float]:
        """(mean, smallest) r_g of the archive: scores are corrected by each face's r_g relative to the mean,
        and the smallest bounds how far a face outside a shortlist can rise."""
        row = self.db.execute(
            "SELECT AVG(hub), MIN(hub) FROM face_neighbours WHERE engine = ? AND k = ? AND rule IS ?", (engine, k, rule)
        ).fetchone()
        return (float(row[0]), float(row[1])) if row[0] is not None else (0.0, 0.0)

    def count(self, engine: str, k: int, rule: str | None) -> int:
        return int(
            self.db.one(
                "SELECT COUNT(*) FROM face_neighbours WHERE engine = ? AND k = ? AND rule IS ?", (engine, k, rule)
            )
        )
