"""Team mode: accounts, logins, sessions and who may open which case.

Served beyond one person's computer, facematch holds the cases of many families, and a leak of who is
searching for whom is itself harm. So in team mode (`facematch app --team`) every person has an account
in the index's own SQLite database (schema 4), and every case rule in review.py asks this module before it
reads or writes: the app and the CLI never decide access themselves.

Roles:

* **admin**: manages accounts and gives cases to accounts; may open every case.
* **caseworker**, **researcher**, **family**: may open the cases they created and the cases they were
  given (by an admin). A researcher therefore sees no family's photos unless a case was given to them.

Passwords are stored as argon2id hashes (argon2-cffi). Failed logins are counted per name in the
database (a name that does not exist is counted too, and gets the same answer), slow down the next
attempt and lock the name for a while after MAX_FAILURES, so a restart does not reset a lock.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .i18n import N_, _
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
#: After this many failed logins in a row a name is locked for LOCK_SECONDS (stored: survives a restart).
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
#: Each failed attempt before the lock waits a little longer before answering (seconds, capped).
SLOWDOWN_BASE, SLOWDOWN_CAP = 0.5, 4.0
MIN_PASSWORD = 10

_hasher = PasswordHasher()  # argon2id with argon2-cffi's RFC 9106 low-memory profile
#: A real hash to verify against when the name does not exist, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("no such account: this hash is only compared against")


class AccessDenied(PermissionError):
    """This account may not do this. The message never says whether a case it cannot open exists."""


class LoginRefused(ValueError):
    """A login that failed, with the one message a person sees (it does not say which part was wrong)."""


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
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
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
        account = self._must(name)
        with self.db.write() as c:
            c.execute("UPDATE accounts SET disabled = 0 WHERE id = ?", (account.id,))
        return self._must(name)

    def reset_password(self, name: str, password: str) -> Account:
        """A new password; it also lifts a login lock on the name (an admin has checked who is asking)."""
        account = self._must(name)
        _check_password(password)
        with self.db.write() as c:
            c.execute("UPDATE accounts SET pw_hash = ? WHERE id = ?", (_hasher.hash(password), account.id))
            c.execute("DELETE FROM login_failures WHERE name = ?", (account.name,))
        return account

    # -- logging in -------------------------------------------------------------------------------
    def authenticate(self, name: str, password: str, now: float | None = None, sleep=time.sleep) -> Account:
        """The account for this name and password, or LoginRefused with what a person may be told.

        Wrong name and wrong password get the same message and take the same time; each failure makes the
        next answer slower; MAX_FAILURES in a row lock the name for LOCK_SECONDS (stored in the database).
        """
        now = time.time() if now is None else now
        key = name.strip()
        fail = self.db.execute("SELECT failures, locked_until FROM login_failures WHERE name = ?", (key,)).fetchone()
        failures = fail["failures"] if fail else 0
        if fail and fail["locked_until"] > now:
            minutes = max(1, round((fail["locked_until"] - now) / 60))
            raise LoginRefused(
                f"Too many failed logins for this name: locked for about {minutes} more minutes. "
                "An admin can reset the password (facematch users reset-password) to unlock it now."
            )
        if failures:
            sleep(min(SLOWDOWN_CAP, SLOWDOWN_BASE * 2 ** (failures - 1)))
        row = self.db.execute("SELECT id, pw_hash, disabled FROM accounts WHERE name = ?", (key,)).fetchone()
        ok = False
        try:
            ok = _hasher.verify(row["pw_hash"] if row else _DUMMY_HASH, password) and row is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok or row["disabled"]:
            failures += 1
            locked = now + LOCK_SECONDS if failures >= MAX_FAILURES else 0.0
            with self.db.write() as c:
                c.execute(
                    """INSERT INTO login_failures(name, failures, last_failure, locked_until) VALUES (?, ?, ?, ?)
                       ON CONFLICT(name) DO UPDATE SET failures = excluded.failures,
                       last_failure = excluded.last_failure, locked_until = excluded.locked_until""",
                    (key, failures, now, locked),
                )
            if row is not None and row["disabled"] and ok:
                raise LoginRefused("This account is disabled. Ask an admin.")
            raise LoginRefused("Wrong name or password.")
        if fail:
            with self.db.write() as c:
                c.execute("DELETE FROM login_failures WHERE name = ?", (key,))
        if _hasher.check_needs_rehash(row["pw_hash"]):
            with self.db.write() as c:
                c.execute("UPDATE accounts SET pw_hash = ? WHERE id = ?", (_hasher.hash(password), row["id"]))
        return self.by_id(row["id"])  # type: ignore[return-value]

    def login_verified(self, name: str, now: float | None = None) -> Session:
        """A session for someone an identity provider has already verified (OpenID Connect, `st.login`): the
        facematch account of that name (the provider's email claim) must exist and be enabled; it still
        carries the role and the cases given. No account, no session: the provider says who, not what."""
        account = self.get(name) if name.strip() else None
        if account is None:
            raise LoginRefused(f"{name or 'This identity'} has no facematch account. Ask an admin to create one.")
        if account.disabled:
            raise LoginRefused("This account is disabled. Ask an admin.")
        return Session(account.id, time.time() if now is None else now)

    def login(self, name: str, password: str, now: float | None = None) -> Session:
        account = self.authenticate(name, password, now)
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
