"""Cases (one missing person each), what the family knows, their kept photos, and the decision log.

Storage only: the rules (who may decide, what "confirmed" means, what a closed case refuses) are
review.py's. The decision log is append-only, enforced by the database's own triggers (db.py), and
each decision is committed durably (synchronous=FULL) in its own transaction.

In team mode (a `vault`, Index.unlock) everything a family told us or a reviewer wrote about a case is sealed on
write and opened on read, each value bound to its table, column, case and row (vault.place): case names and
notes, the family's names, birth year and county, the original names of kept photos, and each decision's note
and what the screen showed (which quotes the family's facts). What stays readable: ids, times, the account
behind each decision, the decision itself, scores and ranks, the sha256 and box of the decided archive face and
the path of its archive photo, and the sha256 of kept photos.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from ..faces import stored_box
from ..i18n import _
from ..vault import (
    BOUND,
    FILE_MAGIC,
    LEGACY_PREFIX,
    TEXT_PREFIX,
    Vault,
    VaultError,
    is_sealed,
    legacy_photo_place,
    photo_place,
    place,
)
from .db import Database

#: What a kept photo's original name shows where the key is not at hand (facematch check, backup).
SEALED_NAME = "(name encrypted)"

_CASE_COLUMNS = "id, name, notes, reviewer, created_at, closed_at, created_by, two_reviewers"
_DECISION_COLUMNS = (
    "id, case_id, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at, engine, score, rank, note, photo_path, "
    "shown, account_id"
)
#: Every sealed column: (table, the columns naming its row: case id first, then the row's own key, if any),
#: and per column the field name it was bound to before values were bound to their case and row (None: it was
#: not sealed then).
SEALED = {
    ("cases", ("id",)): {"name": "case.name", "notes": "case.notes"},
    ("case_facts", ("case_id",)): {"names": "facts.names", "birth_year": "facts.birth_year", "county": "facts.county"},
    ("case_photos", ("case_id", "sha256")): {"original_name": "photo.name"},
    ("decisions", ("case_id", "id")): {"note": None, "shown": None},
}


def _locked_message() -> str:
    return _(
        "the families' data of this index is encrypted: start the team server with its passphrase "
        "(facematch app --team)"
    )


class Cases:
    """The cases, case_facts, case_photos and decisions tables of one index."""

    def __init__(self, db: Database) -> None:
        self.db = db
        #: The key of the families' data (team mode, Index.unlock). None: stored as written (single-user mode on
        #: an index that was never encrypted; writing to an encrypted one without the key is refused).
        self.vault: Vault | None = None

    def _seal(self, value, table: str, column: str, case_id: int, row: object):
        """A value as stored: sealed and bound to its place in team mode, as is otherwise (None stays None)."""
        if self.vault is None:
            if value is not None and self.db.get_meta("vault") is not None:
                raise VaultError(_locked_message())  # never plaintext into an encrypted index
            return value
        return None if value is None else self.vault.seal_text(str(value), place(table, column, case_id, row))

    def _open(self, value, table: str, column: str, case_id: int, row: object):
        if self.vault is None:
            if is_sealed(value):
                raise VaultError(_locked_message())
            return value
        return None if value is None else self.vault.open_text(value, place(table, column, case_id, row))

    def _case(self, row) -> dict:
        d = dict(row)
        for column in ("name", "notes"):
            d[column] = self._open(d[column], "cases", column, d["id"], d["id"])
        return d

    # -- cases ------------------------------------------------------------------------------------
    def create(
        self, name: str, reviewer: str, notes: str, created_by: int | None = None, two_reviewers: bool = False
    ) -> dict:
        with self.db.write() as c:  # the id first (the sealed name is bound to it), then the values, in one go
            case_id = c.execute(
                """INSERT INTO cases(name, notes, reviewer, created_at, created_by, two_reviewers)
                   VALUES ('', '', ?, ?, ?, ?)""",
                (reviewer, time.time(), created_by, int(two_reviewers)),
            ).lastrowid
            c.execute(
                "UPDATE cases SET name = ?, notes = ? WHERE id = ?",
                (
                    self._seal(name, "cases", "name", case_id, case_id),
                    self._seal(notes, "cases", "notes", case_id, case_id),
                    case_id,
                ),
            )
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
        name = None if name is None else self._seal(name, "cases", "name", case_id, case_id)
        notes = None if notes is None else self._seal(notes, "cases", "notes", case_id, case_id)
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
        year = self._open(row["birth_year"], "case_facts", "birth_year", case_id, case_id)
        return {
            **dict(row),
            "names": json.loads(self._open(row["names"], "case_facts", "names", case_id, case_id)),
            "birth_year": None if year is None else int(year),
            "county": self._open(row["county"], "case_facts", "county", case_id, case_id),
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
                    self._seal(json.dumps(names, ensure_ascii=False), "case_facts", "names", case_id, case_id),
                    self._seal(birth_year, "case_facts", "birth_year", case_id, case_id),
                    birth_year_margin,
                    self._seal(county, "case_facts", "county", case_id, case_id),
                    photo_year,
                    time.time(),
                ),
            )

    # -- photos kept in a case --------------------------------------------------------------------
    def add_photo(self, case_id: int, path: str, sha256: str, original_name: str) -> None:
        sealed_name = self._seal(original_name, "case_photos", "original_name", case_id, sha256)
        with self.db.write() as c:
            c.execute(
                """INSERT OR IGNORE INTO case_photos(case_id, path, sha256, original_name, added_at)
                   VALUES (?, ?, ?, ?, ?)""",
                (case_id, path, sha256, sealed_name, time.time()),
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
            if self.vault is None and is_sealed(d["original_name"]):
                d["original_name"] = SEALED_NAME
            else:
                d["original_name"] = self._open(
                    d["original_name"], "case_photos", "original_name", d["case_id"], d["sha256"]
                )
            out.append(d)
        return out

    def seal_existing(self, folder: Path, record: dict) -> int:
        """Bring the families' data of an index into its sealed, bound form, from whatever state an earlier
        version, single-user mode or a crash left it in; returns how many values and files were sealed.

        1. Kept photo files not sealed yet are written sealed under keyed names beside the old ones (and files
           sealed before they were bound to their case are sealed again, bound).
        2. One transaction seals every value not sealed yet (plaintext, or `enc1:` bound only to a field name),
           points the photos at their sealed files and stores the vault `record` (new, or marked BOUND). So the
           first sealing and the key's record commit together: killed before, the index is as it was and the next
           start seals it all (with a new key); there is no moment where the key is recorded and plaintext left.
        3. Then the old files go, and so does every file in cases/ that no kept photo points at and that is not
           sealed (left by a kill after step 2), or that is an older leftover of a killed run.
        """
        vault = self.vault
        assert vault is not None
        folder = Path(folder)
        bound = record.get("bound") == BOUND
        moves, n = [], 0
        for r in self.db.execute("SELECT case_id, path, sha256 FROM case_photos").fetchall():
            old = folder / r["path"]
            if not old.is_file():
                continue
            data = old.read_bytes()
            where = photo_place(r["case_id"], r["sha256"])
            if data.startswith(FILE_MAGIC):
                if bound:
                    continue
                try:
                    vault.open_bytes(data, where)
                    continue  # bound already (by a run killed before its transaction)
                except VaultError:
                    data = vault.open_bytes(data, legacy_photo_place(r["sha256"]))
                new = old
            else:
                new = old.with_name(vault.file_name(r["sha256"]))
                moves.append((r["case_id"], r["sha256"], new.relative_to(folder).as_posix(), old))
            tmp = new.with_suffix(".tmp")
            tmp.write_bytes(vault.seal_bytes(data, where))
            tmp.replace(new)
            n += 1
        with self.db.write() as c:
            for (table, keys), columns in SEALED.items():
                n += self._seal_table(c, table, keys, columns, bound)
            for case_id, sha, rel, _old in moves:
                c.execute("UPDATE case_photos SET path = ? WHERE case_id = ? AND sha256 = ?", (rel, case_id, sha))
            if not bound:
                stored = json.dumps({**record, "bound": BOUND})
                c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('vault', ?)", (stored,))
        for move in moves:
            move[-1].unlink(missing_ok=True)
        self._sweep(folder)
        return n

    def _seal_table(self, c: sqlite3.Connection, table: str, keys: tuple, columns: dict, bound: bool) -> int:
        """Seal, bound to its place, every value of these columns not sealed yet; returns how many."""
        vault = self.vault
        assert vault is not None
        rows = c.execute(f"SELECT rowid, {', '.join(keys)}, {', '.join(columns)} FROM {table}").fetchall()
        updates = []
        for r in rows:
            case_id, row = r[1], r[len(keys)]
            sets = {}
            for column, legacy in columns.items():
                value = r[column]
                if value is None or (isinstance(value, str) and value.startswith(TEXT_PREFIX)):
                    continue
                if isinstance(value, str) and value.startswith(LEGACY_PREFIX):
                    if bound or legacy is None:
                        continue  # never accepted once bound: reading it says it is not sealed as it should be
                    value = vault.open_text(value, legacy, legacy=True)
                sets[column] = vault.seal_text(str(value), place(table, column, case_id, row))
            if sets:
                updates.append((r[0], sets))
        if not updates:
            return 0
        trigger = None
        if table == "decisions":  # the append-only trigger stands aside for this one transaction only
            trigger = c.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'decisions_no_update'"
            ).fetchone()
            c.execute("DROP TRIGGER IF EXISTS decisions_no_update")
        for rowid, sets in updates:
            assignments = ", ".join(f"{column} = ?" for column in sets)
            c.execute(f"UPDATE {table} SET {assignments} WHERE rowid = ?", (*sets.values(), rowid))
        if trigger is not None:
            c.execute(trigger[0])
        return sum(len(sets) for _, sets in updates)

    def _sweep(self, folder: Path, older_than: float = 600.0) -> None:
        """Remove what no kept photo points at in cases/: unsealed files at once (a family's photo in the clear,
        left by a kill between sealing and removing it), sealed and temporary files once they are older than
        `older_than` seconds (left by a killed run; a younger one may be a photo being kept right now)."""
        cases = folder / "cases"
        if not cases.is_dir():
            return
        kept = {folder / r[0] for r in self.db.execute("SELECT path FROM case_photos")}
        now = time.time()
        for f in cases.rglob("*"):
            if not f.is_file() or f in kept:
                continue
            with f.open("rb") as fh:
                sealed = fh.read(len(FILE_MAGIC)) == FILE_MAGIC
            if not sealed or now - f.stat().st_mtime > older_than:
                f.unlink(missing_ok=True)

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
        with self.db.write(durable=True) as c:
            if guard is not None:
                guard(c)
            # the id first: the sealed note and lines are bound to it (the log is append-only, so never updated)
            decision_id = c.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM decisions").fetchone()[0]
            row = (decision_id, case_id, photo_sha256, *box, decision, reviewer, time.time(), engine, score, rank)
            row += (
                self._seal(note, "decisions", "note", case_id, decision_id),
                photo_path,
                self._seal("\n".join(shown), "decisions", "shown", case_id, decision_id),
                account_id,
            )
            c.execute(
                """INSERT INTO decisions(id, case_id, photo_sha256, x1, y1, x2, y2, decision, reviewer, decided_at,
                                         engine, score, rank, note, photo_path, shown, account_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                row,
            )
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
            d["note"] = self._open(d["note"], "decisions", "note", d["case_id"], d["id"])
            shown = self._open(d.get("shown"), "decisions", "shown", d["case_id"], d["id"])
            d["shown"] = tuple(line for line in (shown or "").split("\n") if line)
            out.append(d)
        return out

    def decision_count(self) -> int:
        return int(self.db.one("SELECT COUNT(*) FROM decisions"))
