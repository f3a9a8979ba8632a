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

from ..faces import stored_box
from ..vault import FILE_MAGIC, Vault, VaultError, is_sealed
from .db import Database

#: What a kept photo's original name shows where the key is not at hand (facematch check, backup).
SEALED_NAME = "(name encrypted)"

_CASE_COLUMNS = "id, name, notes, reviewer, created_at, closed_at, created_by, two_reviewers"
_DECISION_COLUMNS = (
    "id, case_id, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at, engine, score, rank, note, photo_path, "
    "shown, account_id"
)


class Cases:
    """The cases, case_facts, case_photos and decisions tables of one index."""

    def __init__(self, db: Database) -> None:
        self.db = db
        #: The key of the families' data (team mode, Index.unlock): case names, notes, facts and the names
        #: of kept photos are sealed on write and opened on read. None: stored as written (single-user mode).
        self.vault: Vault | None = None

    def _seal(self, value, field: str):
        if self.vault is None or value is None:
            return value
        return self.vault.seal_text(str(value), field)

    def _open(self, value, field: str):
        if not is_sealed(value):
            return value
        if self.vault is None:
            raise VaultError(
                "the families' data of this index is encrypted: start the team server with its passphrase "
                "(facematch app --team, or FACEMATCH_PASSPHRASE)"
            )
        return self.vault.open_text(value, field)

    def _case(self, row) -> dict:
        d = dict(row)
        d["name"], d["notes"] = self._open(d["name"], "case.name"), self._open(d["notes"], "case.notes")
        return d

    # -- cases ------------------------------------------------------------------------------------
    def create(
        self, name: str, reviewer: str, notes: str, created_by: int | None = None, two_reviewers: bool = False
    ) -> dict:
        with self.db.write() as c:
            case_id = c.execute(
                """INSERT INTO cases(name, notes, reviewer, created_at, created_by, two_reviewers)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                (
                    self._seal(name, "case.name"),
                    self._seal(notes, "case.notes"),
                    reviewer,
                    time.time(),
                    created_by,
                    int(two_reviewers),
                ),  # fmt: skip
            ).lastrowid
        return self.get(case_id)  # type: ignore[return-value]

    def get(self, case_id: int) -> dict | None:
        row = self.db.execute(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = ?", (case_id,)).fetchone()
        return self._case(row) if row else None

    def list(self, include_closed: bool) -> list[dict]:
        where = "" if include_closed else "WHERE closed_at IS NULL"
        return [self._case(r) for r in self.db.execute(f"SELECT {_CASE_COLUMNS} FROM cases {where} ORDER BY id")]

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
        name, notes = self._seal(name, "case.name"), self._seal(notes, "case.notes")
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

    def keep_photos(self, case_id: int) -> bool | None:
        """Whether the family said to keep its photos in this case (None: never asked, an older case)."""
        value = self.db.one("SELECT keep_photos FROM case_settings WHERE case_id = ?", (case_id,))
        return None if value is None else bool(value)

    def set_keep_photos(self, case_id: int, keep: bool) -> None:
        with self.db.write() as c:
            c.execute(
                "INSERT INTO case_settings(case_id, keep_photos) VALUES (?, ?) "
                "ON CONFLICT(case_id) DO UPDATE SET keep_photos = excluded.keep_photos",
                (case_id, int(bool(keep))),
            )

    # -- what the family knows --------------------------------------------------------------------
    def facts(self, case_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT names, birth_year, birth_year_margin, county, photo_year FROM case_facts WHERE case_id = ?",
            (case_id,),
        ).fetchone()
        if row is None:
            return None
        year = self._open(row["birth_year"], "facts.birth_year")
        return {
            **dict(row),
            "names": json.loads(self._open(row["names"], "facts.names")),
            "birth_year": None if year is None else int(year),
            "county": self._open(row["county"], "facts.county"),
        }

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
                    self._seal(json.dumps(names, ensure_ascii=False), "facts.names"),
                    self._seal(birth_year, "facts.birth_year"),
                    birth_year_margin,
                    self._seal(county, "facts.county"),
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
                (case_id, path, sha256, self._seal(original_name, "photo.name"), time.time()),
            )

    def set_photo_choice(self, case_id: int, sha256: str, face_box: tuple | None, photo_year: int | None) -> None:
        """The face a person chose in a kept photo (its box) and about when the photo was taken."""
        box = None if face_box is None else json.dumps(list(stored_box(face_box)))
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
            if is_sealed(d["original_name"]):
                d["original_name"] = (
                    SEALED_NAME if self.vault is None else self.vault.open_text(d["original_name"], "photo.name")
                )
            out.append(d)
        return out

    def seal_existing(self, folder) -> int:
        """Encrypt what was written before this index was encrypted (case names, notes, facts, kept photos and
        their names); returns how many values and files were sealed. Photo files are written sealed first
        (under keyed names), then the database points at them in one transaction, then the old files go."""
        vault = self.vault
        assert vault is not None
        moves = []
        for r in self.db.execute("SELECT case_id, path, sha256 FROM case_photos"):
            old = folder / r["path"]
            if not old.is_file() or old.read_bytes().startswith(FILE_MAGIC):
                continue
            new = old.with_name(vault.file_name(r["sha256"]))
            tmp = new.with_suffix(".tmp")
            tmp.write_bytes(vault.seal_bytes(old.read_bytes(), f"photo:{r['sha256']}"))
            tmp.replace(new)
            moves.append((r["case_id"], r["sha256"], new.relative_to(folder).as_posix(), old))
        n = 0
        with self.db.write() as c:
            for table, key, fields in (
                ("cases", "id", (("name", "case.name"), ("notes", "case.notes"))),
                ("case_facts", "case_id", (("names", "facts.names"), ("birth_year", "facts.birth_year"),
                                           ("county", "facts.county"))),
            ):  # fmt: skip
                for row in c.execute(f"SELECT {key}, {', '.join(f for f, _ in fields)} FROM {table}").fetchall():
                    for i, (column, field) in enumerate(fields, start=1):
                        if row[i] is not None and not is_sealed(row[i]):
                            sealed = vault.seal_text(str(row[i]), field)
                            c.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (sealed, row[0]))
                            n += 1
            for case_id, sha, name in c.execute("SELECT case_id, sha256, original_name FROM case_photos").fetchall():
                if not is_sealed(name):
                    c.execute(
                        "UPDATE case_photos SET original_name = ? WHERE case_id = ? AND sha256 = ?",
                        (vault.seal_text(name, "photo.name"), case_id, sha),
                    )
                    n += 1
            for case_id, sha, rel, _ in moves:
                c.execute("UPDATE case_photos SET path = ? WHERE case_id = ? AND sha256 = ?", (rel, case_id, sha))
        for *_, old in moves:
            old.unlink(missing_ok=True)
        return n + len(moves)

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
