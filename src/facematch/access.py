"""Team mode: accounts, logins, sessions and who may open which case.

Served beyond one person's computer, facematch holds the cases of many families, and a leak of who is
searching for whom is itself harm. So in team mode (`facematch app --team`) every person has an account
in the index's own SQLite database (schema 4), and every case rule in review.py asks this module before it
reads or writes: the app and the CLI never decide access themselves.

Roles:

* **admin**: manages accounts and gives cases to accounts; may open every case.
* **caseworker**, **researcher**, **family**: may open the cases they created and the cases they were
  given (by an admin). A researcher therefore sees no family's photos unless a case was given to them.

Passwords are stored as argon2id hashes (argon2-cffi). Failed logins are counted in the database (a restart
resets nothing), per name from one client address, per name from every address and per address over every
name (a name that does not exist is counted too, and gets the same answer). Guessing is slowed, never stopped
for good: after a few failures each further attempt waits twice as long before it is judged, and failures
are forgotten as time passes, so someone who only knows a name cannot lock its owner out (see `Throttle`).
"""

from __future__ import annotations

import hmac
import os
import sqlite3
import time
import unicodedata
from dataclasses import dataclass
from hashlib import sha256

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .i18n import N_, _, ngettext
from .store import Database

ADMIN, CASEWORKER, RESEARCHER, FAMILY = "admin", "caseworker", "researcher", "family"
ROLES = (ADMIN, CASEWORKER, RESEARCHER, FAMILY)
ROLE_TEXT = {
    ADMIN: N_("manages accounts and gives cases to people; may open every case"),
    CASEWORKER: N_("works on the cases given to them (and those they create)"),
    RESEARCHER: N_("searches the archive in their own cases; sees a family's photos only when given the case"),
    FAMILY: N_("sees only the cases they created or were given"),
}
#: A session that has done nothing for this long must log in again (a shared or stolen laptop).
IDLE_SECONDS = 30 * 60
#: Failed logins a name may have from one client address (or, when the address is not known, from all unknown
#: addresses together) before each further attempt must wait. However many attempts arrive at once, at most
#: this many are judged: each claims its place in the count before its password is checked.
MAX_FAILURES = 5
#: Failed logins one client address may have over all names (someone trying many names) before it must wait.
ADDRESS_FREE_FAILURES = 20
#: Failed logins a name may have from all addresses together before every attempt on it must wait (many
#: addresses guessing one password). Well above MAX_FAILURES: a burst from one address slows that address,
#: not the name's owner logging in from elsewhere.
NAME_FREE_FAILURES = 30
#: Beyond the free failures each failure doubles the wait before the next attempt is judged: 2 s, 4 s, 8 s, ...
#: up to DELAY_CAP. Attempts that arrive sooner are refused without being judged or counted.
DELAY_BASE, DELAY_CAP = 2.0, 15 * 60.0
#: Failures are forgotten as time passes: one every FORGET_SECONDS. Someone trying one password every few minutes
#: slows no one down for long, and gets few guesses.
FORGET_SECONDS = 10 * 60.0
MIN_PASSWORD = 10

_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 low-memory profile
#: A real hash to verify against when the name does not exist, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("no such account: this hash is only compared against")


class AccessDenied(PermissionError):
    """This account may not do this. The message never says whether a case it cannot open exists."""


class LoginRefused(ValueError):
    """A login that failed, with the one message a person sees (it does not say which part was wrong)."""


class LoginThrottled(LoginRefused):
    """Too many failed logins lately (for this name from here, from this address, or for this name from
    everywhere): this attempt was not judged; `wait` seconds until the next one is."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.wait = wait


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    disabled: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


#: Who may use the archive cross-check (pairs of archive faces, no family photos): not a family account,
#: which sees only its own cases. A researcher's work is exactly this.
CROSS_CHECK_ROLES = (ADMIN, CASEWORKER, RESEARCHER)


def check_cross_check(account: Account | None) -> None:
    """Refuse the cross-check to accounts whose role does not include it (None: single-user mode, allowed)."""
    if account is not None and account.role not in CROSS_CHECK_ROLES:
        raise AccessDenied(_("The cross-check of the archive is for researchers, caseworkers and admins."))


@dataclass
class Session:
    """One browser session's login: which account, and when it last did something (for the idle timeout)."""

    account_id: int
    last_seen: float


def _clean_name(name: str) -> str:
    name = unicodedata.normalize("NFC", name).strip()
    if not name or len(name) > 64 or any(unicodedata.category(ch)[0] == "C" for ch in name):
        raise ValueError(_("an account name is 1 to 64 printable characters"))
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValueError(_("a password needs at least {n} characters (a short phrase is good)", n=MIN_PASSWORD))


class Accounts:
    """The accounts, failed logins and case grants of one index (tables of schema 4)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- accounts ---------------------------------------------------------------------------------
    def add(self, name: str, role: str, password: str) -> Account:
        name = _clean_name(name)
        if role not in ROLES:
            raise ValueError(_("role must be one of {roles}", roles=", ".join(ROLES)))
        _check_password(password)
        if self.get(name) is not None:
            raise ValueError(_("there is already an account named {name}", name=name))
        with self.db.write() as c:
            c.execute(
                "INSERT INTO accounts(name, role, pw_hash, created_at) VALUES (?, ?, ?, ?)",
                (name, role, _hasher.hash(password), time.time()),
            )
        return self.get(name)  # type: ignore[return-value]

    def get(self, name: str) -> Account | None:
        sql = "SELECT id, name, role, disabled FROM accounts WHERE name = ?"
        row = self.db.execute(sql, (name.strip(),)).fetchone()
        return None if row is None else Account(row["id"], row["name"], row["role"], bool(row["disabled"]))

    def by_id(self, account_id: int) -> Account | None:
        row = self.db.execute("SELECT id, name, role, disabled FROM accounts WHERE id = ?", (account_id,)).fetchone()
        return None if row is None else Account(row["id"], row["name"], row["role"], bool(row["disabled"]))

    def list(self) -> list[Account]:
        rows = self.db.execute("SELECT id, name, role, disabled FROM accounts ORDER BY name")
        return [Account(r["id"], r["name"], r["role"], bool(r["disabled"])) for r in rows]

    def count(self, role: str | None = None, enabled_only: bool = True) -> int:
        sql, args = "SELECT COUNT(*) FROM accounts WHERE 1", []
        if role:
            sql, args = sql + " AND role = ?", [role]
        if enabled_only:
            sql += " AND disabled = 0"
        return int(self.db.one(sql, args))

    def _must(self, name: str) -> Account:
        account = self.get(name)
        if account is None:
            raise ValueError(_("there is no account named {name}", name=name))
        return account

    def disable(self, name: str) -> Account:
        """Refuse this account's logins from now on (and end its open sessions at their next click).
        Accounts are disabled, never deleted: decisions keep pointing at who made them."""
        account = self._must(name)
        with self.db.write() as c:
            c.execute("UPDATE accounts SET disabled = 1 WHERE id = ?", (account.id,))
        return self._must(name)

    def enable(self, name: str) -> Account:
        """Allow an account again; also lifts any login slow-down on its name (from every address)."""
        account = self._must(name)
        with self.db.write() as c:
            c.execute("UPDATE accounts SET disabled = 0 WHERE id = ?", (account.id,))
            Throttle.clear(c, account.name)
        return self._must(name)

    def reset_password(self, name: str, password: str) -> Account:
        """A new password; it also lifts the login slow-down on the name (an admin has checked who is asking)."""
        account = self._must(name)
        _check_password(password)
        with self.db.write() as c:
            c.execute("UPDATE accounts SET pw_hash = ? WHERE id = ?", (_hasher.hash(password), account.id))
            Throttle.clear(c, account.name)
        return account

    # -- logging in -------------------------------------------------------------------------------
    def authenticate(self, name: str, password: str, now: float | None = None, address: str | None = None) -> Account:
        """The account for this name and password, or LoginRefused with what a person may be told.

        `address`: the client's address when the front door knows it (None: not known; all such attempts on a
        name then count as one address). Wrong name and wrong password get the same message and take the same
        time. Before the password is checked, the attempt claims its place among the failures in one write
        transaction (Throttle.claim): too many lately and it is refused unjudged (LoginThrottled, saying how
        long to wait), so parallel attempts cannot all be judged. A right password gives the claim back.
        """
        key = name.strip()
        with self.db.write() as c:  # the time is read inside the transaction: claims are in time order
            Throttle(c, time.time() if now is None else now).claim(key, address)
        row = self.db.execute("SELECT id, pw_hash, disabled FROM accounts WHERE name = ?", (key,)).fetchone()
        ok = False
        try:
            ok = _hasher.verify(row["pw_hash"] if row else _DUMMY_HASH, password) and row is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or row["disabled"]:  # the claimed failure stays counted
            if row is not None and row["disabled"] and ok:
                raise LoginRefused(_("This account is disabled. Ask an admin."))
            raise LoginRefused(_("Wrong name or password."))
        with self.db.write() as c:
            Throttle(c, time.time() if now is None else now).give_back(key, address)
            if _hasher.check_needs_rehash(row["pw_hash"]):
                c.execute("UPDATE accounts SET pw_hash = ? WHERE id = ?", (_hasher.hash(password), row["id"]))
        return self.by_id(row["id"])  # type: ignore[return-value]

    def throttled(self, now: float | None = None) -> dict[str, dict]:
        """Names whose logins are being slowed (for `facematch users list`), by name as tried (lower case): its
        failures lately from every address (decayed), from how many addresses, and the longest wait before an
        attempt on it is judged (from the address that waits longest; other addresses may wait less)."""
        now = time.time() if now is None else now
        out: dict[str, dict] = {}
        for r in self.db.execute("SELECT kind, name, failures, updated_at, next_at FROM login_throttle"):
            left = Throttle.decayed(r["failures"], r["updated_at"], now)
            if r["kind"] == "address" or (left < 0.05 and r["next_at"] <= now):
                continue
            d = out.setdefault(r["name"], {"failures": 0.0, "addresses": 0, "wait": 0.0})
            d["wait"] = max(d["wait"], r["next_at"] - now)
            if r["kind"] == "name":
                d["failures"] = left
            else:
                d["addresses"] += 1
        return out

    def throttle_of(self, name: str, now: float | None = None) -> dict | None:
        """throttled() for one name (None: its logins are not being slowed)."""
        return self.throttled(now).get(name_key(name))

    def login_verified(self, name: str, now: float | None = None) -> Session:
        """A session for someone an identity provider has already verified (OpenID Connect, `st.login`): the
        facematch account of that name (the provider's email claim) must exist and be enabled; it still
        carries the role and the cases given. No account, no session: the provider says who, not what."""
        account = self.get(name) if name.strip() else None
        if account is None:
            raise LoginRefused(
                _("{name} has no facematch account. Ask an admin to create one.", name=name)
                if name
                else _("This identity has no facematch account. Ask an admin to create one.")
            )
        if account.disabled:
            raise LoginRefused(_("This account is disabled. Ask an admin."))
        return Session(account.id, time.time() if now is None else now)

    def login(self, name: str, password: str, now: float | None = None, address: str | None = None) -> Session:
        """A session for this name and password (authenticate); `address`: the client's, when known."""
        account = self.authenticate(name, password, now, address)
        return Session(account.id, time.time() if now is None else now)

    def resume(self, session: Session, now: float | None = None, idle: float = IDLE_SECONDS) -> Account:
        """The account of a session that is still valid (and mark it active), else AccessDenied: idle too long,
        or the account was disabled since it logged in."""
        now = time.time() if now is None else now
        if now - session.last_seen > idle:
            raise AccessDenied(_("Your session ended after a while without activity. Please log in again."))
        account = self.by_id(session.account_id)
        if account is None or account.disabled:
            raise AccessDenied(_("This account is disabled. Ask an admin."))
        session.last_seen = now
        return account

    # -- the app's language per account (schema 6) ---------------------------------------------------
    def language(self, account: Account) -> str | None:
        """The language this account last chose in the app (an i18n code), or None if it never chose one."""
        row = self.db.execute("SELECT language FROM accounts WHERE id = ?", (account.id,)).fetchone()
        return None if row is None else row["language"]

    def set_language(self, account: Account, code: str) -> None:
        """Remember the account's language, so it is there after logging out and in, on any browser."""
        with self.db.write() as c:
            c.execute("UPDATE accounts SET language = ? WHERE id = ?", (code, account.id))

    # -- who may open which case ------------------------------------------------------------------
    def grant(self, case_id: int, name: str, by: Account | None) -> None:
        """Give a case to an account (only an admin may; None is the command line, run by the server's owner)."""
        if by is not None and not by.is_admin:
            raise AccessDenied(_("only an admin can give a case to someone"))
        account = self._must(name)
        if self.db.one("SELECT id FROM cases WHERE id = ?", (case_id,)) is None:
            raise ValueError(_("there is no case {case_id}", case_id=case_id))
        families = [a for a in self.holders(case_id) if a.role == FAMILY and a.id != account.id]
        if account.role == FAMILY and families:  # one family's search is never shown to another family
            raise AccessDenied(
                _(
                    "case {case_id} belongs to the family account {owner}: it cannot be given to another family "
                    "account (take it back from {owner} first if it was given by mistake)",
                    case_id=case_id, owner=families[0].name,
                )
            )  # fmt: skip
        with self.db.write() as c:
            c.execute(
                "INSERT OR IGNORE INTO case_access(case_id, account_id, granted_by, granted_at) VALUES (?, ?, ?, ?)",
                (case_id, account.id, by.name if by else "command line", time.time()),
            )

    def revoke(self, case_id: int, name: str, by: Account | None) -> None:
        if by is not None and not by.is_admin:
            raise AccessDenied(_("only an admin can take a case away from someone"))
        account = self._must(name)
        with self.db.write() as c:
            c.execute("DELETE FROM case_access WHERE case_id = ? AND account_id = ?", (case_id, account.id))

    def holders(self, case_id: int) -> list[Account]:
        """The accounts that have this case: the one that created it first, then those it was given to."""
        owner = self.db.one("SELECT created_by FROM cases WHERE id = ?", (case_id,))
        given = [self.get(n) for n in self.given(case_id)]
        first = [self.by_id(owner)] if owner is not None else []
        return [a for a in first + [g for g in given if g is not None and g.id != owner] if a is not None]

    def given(self, case_id: int) -> list[str]:
        rows = self.db.execute(
            """SELECT a.name FROM case_access g JOIN accounts a ON a.id = g.account_id
               WHERE g.case_id = ? ORDER BY a.name""",
            (case_id,),
        )
        return [r[0] for r in rows]

    def may_open(self, account: Account, case_id: int) -> bool:
        if account.disabled:
            return False
        if account.is_admin:
            return self.db.one("SELECT id FROM cases WHERE id = ?", (case_id,)) is not None
        return (
            self.db.one(
                """SELECT 1 FROM cases WHERE id = ? AND (created_by = ? OR EXISTS
                   (SELECT 1 FROM case_access WHERE case_id = cases.id AND account_id = ?))""",
                (case_id, account.id, account.id),
            )
            is not None
        )

    def case_ids(self, account: Account) -> set[int]:
        """Every case this account may open."""
        if account.disabled:
            return set()
        if account.is_admin:
            return {r[0] for r in self.db.execute("SELECT id FROM cases")}
        rows = self.db.execute(
            """SELECT id FROM cases WHERE created_by = ?
               UNION SELECT case_id FROM case_access WHERE account_id = ?""",
            (account.id, account.id),
        )
        return {r[0] for r in rows}


def name_key(name: str) -> str:
    """A tried name as the throttle counts it: one row for every spelling that logs into the same account."""
    return unicodedata.normalize("NFC", name).strip().casefold()[:80]


class Throttle:
    """Failed logins, counted inside one write transaction (its connection `c`, at time `now`).

    Three counts apply to an attempt: the name from this address ('pair'; every attempt whose address is not
    known shares the address '?'), the name from every address ('name') and the address over every name
    ('address', only when known). Each count has its free failures (MAX_FAILURES, NAME_FREE_FAILURES,
    ADDRESS_FREE_FAILURES); beyond them every failure doubles the wait before the next attempt of that count is
    judged (DELAY_BASE up to DELAY_CAP), and failures are forgotten, one every FORGET_SECONDS. An attempt that
    comes before a wait is over is refused without being judged or counted, so a person's own retries do not
    make their wait longer, and someone hammering a name from one address slows only that address.
    """

    FREE = {"pair": MAX_FAILURES, "name": NAME_FREE_FAILURES, "address": ADDRESS_FREE_FAILURES}

    def __init__(self, c: sqlite3.Connection, now: float) -> None:
        self.c, self.now = c, now

    @staticmethod
    def decayed(failures: float, updated_at: float, now: float) -> float:
        return max(0.0, failures - max(0.0, now - updated_at) / FORGET_SECONDS)

    @staticmethod
    def delay(failures: float, free: int) -> float:
        """Seconds before the next attempt is judged, after `failures` (0 while they are fewer than the free ones:
        failures decay continuously, so the free-th failure of a burst counts a hair under `free`)."""
        return 0.0 if failures <= free - 1 else min(DELAY_CAP, DELAY_BASE * 2 ** (failures - free))

    def _keys(self, name: str, address: str | None) -> list[tuple[str, str, str]]:
        who = name_key(name)
        if address is None:
            return [("pair", who, "?"), ("name", who, "")]
        hashed = self._address(address)
        return [("pair", who, hashed), ("name", who, ""), ("address", "", hashed)]

    def _address(self, address: str) -> str:
        """A client address as stored: keyed with this index's own random salt, so the file lists no addresses."""
        salt = self.c.execute("SELECT value FROM meta WHERE key = 'throttle_salt'").fetchone()
        if salt is None:
            salt = (os.urandom(16).hex(),)
            self.c.execute("INSERT INTO meta(key, value) VALUES ('throttle_salt', ?)", salt)
        return hmac.new(bytes.fromhex(salt[0]), address.strip().encode(), sha256).hexdigest()[:32]

    def _rows(self, keys) -> dict[tuple, tuple[float, float]]:
        out = {}
        for key in keys:
            r = self.c.execute(
                "SELECT failures, updated_at, next_at FROM login_throttle WHERE kind = ? AND name = ? AND address = ?",
                key,
            ).fetchone()
            out[key] = (0.0, 0.0) if r is None else (self.decayed(r[0], r[1], self.now), r[2])
        return out

    def _store(self, key: tuple[str, str, str], failures: float, next_at: float) -> None:
        if failures <= 0 and next_at <= self.now:
            self.c.execute("DELETE FROM login_throttle WHERE kind = ? AND name = ? AND address = ?", key)
            return
        self.c.execute(
            """INSERT INTO login_throttle(kind, name, address, failures, updated_at, next_at) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(kind, name, address) DO UPDATE SET failures = excluded.failures,
               updated_at = excluded.updated_at, next_at = excluded.next_at""",
            (*key, failures, self.now, next_at),
        )

    def claim(self, name: str, address: str | None) -> None:
        """Count this attempt as a failure before its password is checked, or refuse it (LoginThrottled) while a
        wait is not over. Forgotten rows are removed on the way."""
        self.c.execute(
            "DELETE FROM login_throttle WHERE next_at <= ? AND updated_at + failures * ? <= ?",
            (self.now, FORGET_SECONDS, self.now),
        )
        rows = self._rows(self._keys(name, address))
        wait = max(next_at - self.now for _, next_at in rows.values())
        if wait > 0:
            raise LoginThrottled(_wait_message(wait), wait)
        for key, (failures, _next) in rows.items():
            failures += 1
            delay = self.delay(failures, self.FREE[key[0]])
            self._store(key, failures, self.now + delay if delay > 0 else 0.0)

    def give_back(self, name: str, address: str | None) -> None:
        """The attempt's password was right: it was no failure, so each count loses the failure it claimed. The
        failures before it stay counted (they decay): parallel wrong guesses beside a right one still get no
        more than their share judged."""
        for key, (failures, next_at) in self._rows(self._keys(name, address)).items():
            failures = max(0.0, failures - 1)
            self._store(key, failures, next_at if failures >= self.FREE[key[0]] else 0.0)

    @staticmethod
    def clear(c: sqlite3.Connection, name: str) -> None:
        """Lift every slow-down on a name (an admin's `users enable` or `users reset-password`)."""
        c.execute("DELETE FROM login_throttle WHERE kind IN ('pair', 'name') AND name = ?", (name_key(name),))


def _wait_message(wait: float) -> str:
    """What a person is told when an attempt came too soon (it does not say whether the name exists)."""
    if wait < 90:
        n = max(1, int(wait + 0.999))
        return ngettext(
            "Too many failed logins: wait {n} second, then try again.",
            "Too many failed logins: wait {n} seconds, then try again.",
            n,
        )
    n = max(1, int(wait / 60 + 0.999))
    return ngettext(
        "Too many failed logins: wait {n} minute, then try again (an admin can lift this at once).",
        "Too many failed logins: wait {n} minutes, then try again (an admin can lift this at once).",
        n,
    )
