"""Cases (one missing person each), what the family knows, their kept photos, and the decision log.

Storage only: the rules (who may decide, what "confirmed" means, what a closed case refuses) are
review.py's. The decision log is append-only, enforced by the database's own triggers (db.py), and
each decision is committed durably (synchronous=FULL) in its own transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

from .db import Database

_CASE_COLUMNS = "id, name, notes, reviewer, created_at, closed_at, created_by, two_reviewers"
_DECISION_COLUMNS = (
    "id, case_id, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at, engine, score, rank, note, photo_path, "
    "shown, account_id"
)


class Cases:
    """The cases, case_facts, case_photos and decisions tables of one index."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- cases ------------------------------------------------------------------------------------
    def create(
        self, name: str, reviewer: str, notes: str, created_by: int | None = None, two_reviewers: bool = False
    ) -> dict:
        with self.db.write() as c:
            case_id = c.execute(
                """INSERT INTO cases(name, notes, reviewer, created_at, created_by, two_reviewers)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (name, notes, reviewer, time.time(), created_by, int(two_reviewers)),
            ).lastrowid
        return self.get(case_id)  # type: ignore[return-value]

    def get(self, case_id: int) -> dict | None:
        row = self.db.execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,)).fetchone()
        return dict(row) if row else None

    def list(self, include_closed: bool) -> list[dict]:
        where = "" if include_closed else "WHERE closed_at IS NULL"
        return [dict(r) for r in self.db.execute(f"SELECT {_CASE_COLUMNS} FROM cases {where} ORDER BY id")]

    def update(
        self,
        case_id: int,
        *,
        name: str | None = None,
        notes: str | None = None,
        reviewer: str | None = None,
        closed_at: float | None = None,
        reopen: bool = False,
        two_reviewers: bool | None = None,
    ) -> None:
        sets, args = [], []
        two = None if two_reviewers is None else int(two_reviewers)
        for column, value in (
            ("name", name), ("notes", notes), ("reviewer", reviewer), ("closed_at", closed_at), ("two_reviewers", two)
        ):  # fmt: skip
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        if reopen:
            sets.append("closed_at = NULL")
        if sets:
            with self.db.write() as c:
                c.execute(f"UPDATE cases SET {', '.join(sets)} WHERE id = ?", (*args, case_id))

    # -- what the family knows --------------------------------------------------------------------
    def facts(self, case_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT names, birth_year, birth_year_margin, county, photo_year FROM case_facts WHERE case_id = ?",
            (case_id,),
        ).fetchone()
        if row is None:
            return None
        return {**dict(row), "names": json.loads(row["names"])}

    def set_facts(
        self, case_id: int, *, names: list[str], birth_year: int | None, birth_year_margin: int, county: str,
        photo_year: int | None,
    ) -> None:  # fmt: skip
        with self.db.write() as c:
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

    # -- photos kept in a case --------------------------------------------------------------------
    def add_photo(self, case_id: int, path: str, sha256: str, original_name: str) -> None:
        with self.db.write() as c:
            c.execute(
                """INSERT OR IGNORE INTO case_photos(case_id, path, sha256, original_name, added_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (case_id, path, sha256, original_name, time.time()),
            )

    def set_photo_choice(self, case_id: int, sha256: str, face_box: tuple | None, photo_year: int | None) -> None:
        """The face a person chose in a kept photo (its box) and about when the photo was taken."""
        box = None if face_box is None else json.dumps([round(float(v), 1) for v in face_box])
        with self.db.write() as c:
            c.execute(
                "UPDATE case_photos SET face_box = ?, photo_year = ? WHERE case_id = ? AND sha256 = ?",
                (box, photo_year, case_id, sha256),
            )

    def remove_photo(self, case_id: int, sha256: str) -> str | None:
        """Forget a kept photo; returns its stored path (relative to the index folder) to delete the file."""
        with self.db.write() as c:
            row = c.execute(
                "SELECT path FROM case_photos WHERE case_id = ? AND sha256 = ?", (case_id, sha256)
            ).fetchone()
            c.execute("DELETE FROM case_photos WHERE case_id = ? AND sha256 = ?", (case_id, sha256))
        return None if row is None else row[0]

    def photos(self, case_id: int | None = None) -> list[dict]:
        """Kept photos (path relative to the index folder, sha256, original name, chosen face box or None,
        photo year or None), of one case or all, oldest first."""
        where, args = ("WHERE case_id = ?", (case_id,)) if case_id is not None else ("", ())
        rows = self.db.execute(
            f"""SELECT case_id, path, sha256, original_name, face_box, photo_year FROM case_photos {where}
                ORDER BY added_at""",
            args,
        )
        out = []
        for r in rows:
            d = dict(r)
            d["face_box"] = None if d["face_box"] is None else tuple(json.loads(d["face_box"]))
            out.append(d)
        return out

    # -- the decision log -------------------------------------------------------------------------
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
        shown: list[str] | tuple[str, ...] = (),
        account_id: int | None = None,
        guard: Callable[[sqlite3.Connection], None] | None = None,
    ) -> dict:
        """One INSERT in its own durable transaction: a kill leaves the whole decision or none of it.

        `guard` runs inside the same transaction before the INSERT (it may raise to refuse): a rule that
        depends on earlier decisions (one account cannot confirm twice) then holds even when two sessions
        decide at the same moment, since the write lock and BEGIN IMMEDIATE serialise them.
        """
        row = (case_id, photo_sha256, *box, decision, reviewer, time.time(), engine, score, rank, note, photo_path)
        row += ("\n".join(shown), account_id)
        with self.db.write(durable=True) as c:
            if guard is not None:
                guard(c)
            decision_id = c.execute(
                """INSERT INTO decisions(case_id, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at,
                                         engine, score, rank, note, photo_path, shown, account_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                row,
            ).lastrowid
        return self.decisions(decision_id=decision_id)[0]

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
        for r in self.db.execute(sql + " ORDER BY id", args):
            d = dict(r)
            d["box"] = (d.pop("x1"), d.pop("y1"), d.pop("x2"), d.pop("y2"))
            d["shown"] = tuple(line for line in (d.get("shown") or "").split("\n") if line)
            out.append(d)
        return out

    def decision_count(self) -> int:
        return int(self.db.one("SELECT COUNT(*) FROM decisions"))
