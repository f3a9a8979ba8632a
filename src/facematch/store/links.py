"""The archive cross-check's storage: candidate pairs, which faces are linked, pair decisions.

Storage only; crosscheck/ holds the rules. A pair is two faces of one engine (a < b), with the cosine, the
score searches show, each face's rank in the other's list (both known = a mutual pair), its kind
('person': may be the same person; 'duplicate': the same image saved again) and the reasons from
records. Pairs and progress rows are deleted with their faces (ON DELETE CASCADE), so a removed or
changed photo's pairs leave the queue; pair decisions point at both photos' sha256 + box and are
append-only (db.py's triggers), so they stay.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable

import numpy as np

from .db import Database
from .faces import chunks

_PAIR_COLUMNS = "engine, a, b, cosine, score, rank_ab, rank_ba, kind, duplicate, reasons, found_at"
_DECISION_COLUMNS = (
    "id, a_sha256, a_x1, a_y1, a_x2, a_y2, b_sha256, b_x1, b_y1, b_x2, b_y2, decision, reviewer, decided_at, "
    "engine, score, note, a_path, b_path, shown"
)


class Links:
    """The link_pairs, link_done and link_decisions tables of one index."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- progress ---------------------------------------------------------------------------------
    def todo(self, engine: str, k: int, across: bool) -> np.ndarray:
        """Faces of an engine not yet linked with these settings (new, or linked with another k / --across)."""
        rows = self.db.execute(
            """SELECT f.id FROM faces f LEFT JOIN link_done d ON d.face_id = f.id AND d.k = ? AND d.across = ?
               WHERE f.engine = ? AND d.face_id IS NULL ORDER BY f.id""",
            (k, int(across), engine),
        ).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64)

    def save_block(
        self,
        engine: str,
        k: int,
        across: bool,
        faces: Iterable[int],
        pairs: list[dict],
        ranks: Iterable[tuple[int, int, str, int | None]] = (),
        floors: dict[int, float] | None = None,
    ) -> None:
        """One block's pairs and the faces it linked, in one transaction: a kill leaves all of it or none.

        A pair found again (from its other face, or by a rerun) is updated in place, never duplicated: it
        keeps the rank each side found, so a pair found from both sides is known to be mutual. `ranks`:
        (a, b, 'rank_ab' or 'rank_ba', rank or None) set afterwards (an older face's ranks after new faces
        were offered to it, crosscheck.run.offer); a pair left ranked by neither face is deleted. `floors`: each
        linked face's floor, and that of an older face whose row was ranked again (the score of its row's k-th
        face; NaN or missing: not known, stored as NULL).
        """
        floors = {int(f): (None if v is None or math.isnan(v) else float(v)) for f, v in (floors or {}).items()}
        now = time.time()
        linked = {int(f) for f in faces}  # once: a block is 32,768 faces, tested against every face of its pairs
        with self.db.write() as c:
            alive = set()
            ids = sorted(linked | {p["a"] for p in pairs} | {p["b"] for p in pairs})
            for part in chunks(ids):
                alive |= {
                    r[0] for r in c.execute(f"SELECT id FROM faces WHERE id IN ({','.join('?' * len(part))})", part)
                }
            c.executemany(
                """INSERT INTO link_pairs(engine, a, b, cosine, score, rank_ab, rank_ba, kind, duplicate, reasons,
                                          found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(engine, a, b) DO UPDATE SET cosine = excluded.cosine, score = excluded.score,
                       rank_ab = COALESCE(excluded.rank_ab, link_pairs.rank_ab),
                       rank_ba = COALESCE(excluded.rank_ba, link_pairs.rank_ba),
                       kind = excluded.kind, duplicate = excluded.duplicate, reasons = excluded.reasons""",
                [
                    (engine, p["a"], p["b"], p["cosine"], p["score"], p.get("rank_ab"), p.get("rank_ba"), p["kind"],
                     p["duplicate"], json.dumps(p["reasons"], ensure_ascii=False), now)
                    for p in pairs
                    if p["a"] in alive and p["b"] in alive
                ],
            )  # fmt: skip
            ranks = list(ranks)
            for column in ("rank_ab", "rank_ba"):  # two fixed statements: a column name is never data
                c.executemany(
                    f"UPDATE link_pairs SET {column} = ? WHERE engine = ? AND a = ? AND b = ?",
                    [(r, engine, a, b) for a, b, col, r in ranks if col == column],
                )
            c.executemany(
                "DELETE FROM link_pairs WHERE engine = ? AND a = ? AND b = ? AND rank_ab IS NULL AND rank_ba IS NULL",
                [(engine, a, b) for a, b, _, r in ranks if r is None],
            )
            c.executemany(
                "INSERT OR REPLACE INTO link_done(face_id, engine, k, across, floor) VALUES (?, ?, ?, ?, ?)",
                [(f, engine, k, int(across), floors.get(f)) for f in ids if f in alive and f in linked],
            )
            c.executemany(
                "UPDATE link_done SET floor = ? WHERE face_id = ? AND engine = ?",
                [(v, f, engine) for f, v in floors.items() if f not in linked],
            )

    def floors(self, engine: str, faces: Iterable[int]) -> dict[int, float]:
        """Each linked face's floor where known: the score of the k-th face of its row when it was linked (a face
        scoring below it cannot enter its first k). Faces linked by an older facematch have none."""
        out: dict[int, float] = {}
        for part in chunks(sorted({int(f) for f in faces})):
            marks = ",".join("?" * len(part))
            for face, floor in self.db.execute(
                f"SELECT face_id, floor FROM link_done WHERE engine = ? AND floor IS NOT NULL AND face_id IN ({marks})",
                (engine, *part),
            ):
                out[face] = float(floor)
        return out

    def ranked(self, engine: str, faces: Iterable[int]) -> dict[int, list[int]]:
        """For each face: the faces of the pairs it ranked itself (its own k nearest, as stored)."""
        out: dict[int, list[int]] = {}
        for part in chunks(sorted({int(f) for f in faces}), 400):  # twice in the query: under SQLite's 999
            marks = ",".join("?" * len(part))
            for face, other in self.db.execute(
                f"""SELECT a, b FROM link_pairs WHERE engine = ? AND rank_ab IS NOT NULL AND a IN ({marks})
                    UNION ALL
                    SELECT b, a FROM link_pairs WHERE engine = ? AND rank_ba IS NOT NULL AND b IN ({marks})""",
                (engine, *part, engine, *part),
            ):
                out.setdefault(face, []).append(other)
        return out

    def forget_settings(self, engine: str, k: int, across: bool) -> None:
        """Linked with other settings (k, --across): those pairs describe another question; start again."""
        with self.db.write() as c:
            other = c.execute(
                "SELECT COUNT(*) FROM link_done WHERE engine = ? AND (k != ? OR across != ?)", (engine, k, int(across))
            ).fetchone()[0]
            if other:
                c.execute("DELETE FROM link_done WHERE engine = ?", (engine,))
                c.execute("DELETE FROM link_pairs WHERE engine = ?", (engine,))

    def done_count(self, engine: str) -> int:
        return int(self.db.one("SELECT COUNT(*) FROM link_done WHERE engine = ?", (engine,)))

    # -- pairs ------------------------------------------------------------------------------------
    def pairs(self, engine: str | None = None, kind: str | None = None) -> list[dict]:
        """Every stored pair (optionally of one engine / kind), strongest first."""
        where, args = [], []
        if engine is not None:
            where.append("engine = ?")
            args.append(engine)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        sql = f"SELECT {_PAIR_COLUMNS} FROM link_pairs" + (" WHERE " + " AND ".join(where) if where else "")
        out = []
        for r in self.db.execute(sql + " ORDER BY score DESC, a, b", args):
            d = dict(r)
            d["reasons"] = json.loads(d["reasons"])
            out.append(d)
        return out

    def count(self, engine: str | None = None) -> dict[str, int]:
        sql = "SELECT kind, COUNT(*) FROM link_pairs" + (" WHERE engine = ?" if engine else "") + " GROUP BY kind"
        return {r[0]: r[1] for r in self.db.execute(sql, (engine,) if engine else ())}

    # -- which duplicate rule classified the stored pairs (crosscheck/duplicates.py: RULE) --------------
    def duplicate_rule(self, engine: str) -> str | None:
        return self.db.get_meta(f"link_duplicate_rule:{engine}")

    def set_duplicate_rule(self, engine: str, rule: str) -> None:
        self.db.set_meta(f"link_duplicate_rule:{engine}", rule)

    def set_kinds(self, engine: str, verdicts: list[tuple[int, int, str]]) -> None:
        """Stored pairs classified again: (a, b, why they are one image saved again, or '' for a person pair)."""
        with self.db.write() as c:
            c.executemany(
                "UPDATE link_pairs SET kind = ?, duplicate = ? WHERE engine = ? AND a = ? AND b = ?",
                [("duplicate" if why else "person", why, engine, a, b) for a, b, why in verdicts],
            )

    # -- the pair decision log ----------------------------------------------------------------------
    def append_decision(
        self,
        *,
        a: tuple[str, tuple],
        b: tuple[str, tuple],
        decision: str,
        reviewer: str,
        engine: str,
        score: float,
        note: str,
        a_path: str,
        b_path: str,
        shown: list[str] | tuple[str, ...] = (),
    ) -> dict:
        """One INSERT in its own durable transaction (a person's decision must survive a power cut)."""
        row = (a[0], *a[1], b[0], *b[1], decision, reviewer, time.time(), engine, score, note, a_path, b_path)
        with self.db.write(durable=True) as c:
            new_id = c.execute(
                f"INSERT INTO link_decisions({_DECISION_COLUMNS.removeprefix('id, ')}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, "\n".join(shown)),
            ).lastrowid
        return self.decisions(decision_id=new_id)[0]

    def decisions(self, decision_id: int | None = None, sha256: str | None = None) -> list[dict]:
        """Pair decisions, oldest first (one, or those touching a photo's sha256, or all)."""
        sql, args = f"SELECT {_DECISION_COLUMNS} FROM link_decisions", ()
        if decision_id is not None:
            sql, args = sql + " WHERE id = ?", (decision_id,)
        elif sha256 is not None:
            sql, args = sql + " WHERE a_sha256 = ? OR b_sha256 = ?", (sha256, sha256)
        out = []
        for r in self.db.execute(sql + " ORDER BY id", args):
            d = dict(r)
            d["a_box"] = tuple(d.pop(f"a_{c}") for c in ("x1", "y1", "x2", "y2"))
            d["b_box"] = tuple(d.pop(f"b_{c}") for c in ("x1", "y1", "x2", "y2"))
            d["shown"] = tuple(line for line in (d.get("shown") or "").split("\n") if line)
            out.append(d)
        return out
