"""Cases and decisions: the record of what people decided, and the rules of "confirmed".

A case is one missing person. A decision is a person's judgement on one candidate face, appended
to an audit log that is never updated or deleted: a change of mind is a new entry, and the latest
entry is the current state. Decisions point at the archive photo's sha256 and the face box, not
at a face id, so they survive re-indexing and a change of engine.

Only a person's "confirm" makes a candidate confirmed; nothing here or in any screen calls a
candidate a match before that.

In team mode a Review is bound to one logged-in account (access.py): every case method first checks
that the account may open the case (AccessDenied otherwise, with no hint whether the case exists), the
reviewer of a decision is the account, and a case may need two reviewers: a candidate is "confirmed" only
when two different accounts confirmed it, each without seeing the other's decision first (the log a
reviewer reads hides other reviewers' decisions on a face until they have decided on it themselves).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from . import faces, images, messages
from .access import ADMIN, CASEWORKER, FAMILY, AccessDenied, Account, Accounts
from .combined import Facts
from .i18n import _, ngettext
from .index import Index
from .messages import CONFIRM, REJECT
from .search import Candidate
from .vault import FILE_MAGIC, VaultError, photo_place

DECISIONS = messages.CASE_DECISIONS


@dataclass(frozen=True)
class Case:
    id: int
    name: str
    notes: str
    reviewer: str
    created_at: float
    closed_at: float | None
    created_by: int | None = None  # the account that opened it (team mode)
    two_reviewers: bool = False  # "confirmed" needs two different accounts' confirmations

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class Decision:
    id: int
    case_id: int
    photo_sha256: str
    box: tuple[float, float, float, float]
    decision: str
    reviewer: str
    decided_at: float
    engine: str
    score: float
    rank: int
    note: str
    photo_path: str
    shown: tuple[str, ...] = ()  # what the screen said beside the candidate when the person decided
    account_id: int | None = None  # team mode: the logged-in account (None: a typed name, single-user mode)

    @property
    def who(self) -> str:
        """The identity two-reviewer rules count: the account, else the typed name."""
        return f"#{self.account_id}" if self.account_id is not None else self.reviewer.strip().casefold()

    @property
    def key(self) -> tuple[str, tuple[float, float, float, float]]:
        return self.photo_sha256, self.box

    def when(self) -> str:
        """When it was decided, as the active language writes dates (ISO in English)."""
        return messages.moment(self.decided_at)


class KeptPhoto(NamedTuple):
    """A family photo kept in a case (a copy without EXIF), with the face chosen in it and its year."""

    path: Path
    original_name: str
    sha256: str
    face_box: tuple[float, float, float, float] | None = None  # None: not chosen yet (the largest is used)
    photo_year: int | None = None


_KEEP = object()  # "leave this as it is" for optional updates


def face_key(c: Candidate) -> faces.FaceKey:
    """How a decision finds its candidate again: photo content + face box as stored (faces.py)."""
    return faces.key(c.face.sha256, c.face.box)


@dataclass(frozen=True)
class Verdict:
    """Where a candidate face stands in a case that needs two reviewers, as this reviewer may see it."""

    state: str  # one of the states below
    decisions: tuple[Decision, ...]  # each reviewer's latest decision, as far as this reviewer may see them
    keys: tuple[tuple[str, tuple], ...] = ()  # the face (photo sha256, box) of every decision on it, to find it

    def text(self) -> str:
        """Where the face stands, in the active language: the one wording the app, the CLI and the case report
        show (names and dates isolated in a right-to-left language)."""
        confirmed = [d for d in self.decisions if d.decision == CONFIRM]
        names = _(", ").join(f"{messages.isolate(d.reviewer)} ({messages.moment(d.decided_at)})" for d in confirmed)
        if self.state == CONFIRMED and len(confirmed) == 2:  # the usual case, said in words
            return _("Confirmed by two reviewers: {names}", names=names)
        if self.state == CONFIRMED:
            return ngettext(
                "Confirmed by {n} reviewer: {names}", "Confirmed by {n} reviewers: {names}", len(confirmed), names=names
            )
        if self.state == NEEDS_SECOND:
            return _("Confirmed by {names}; a second reviewer must confirm independently before it counts", names=names)
        if self.state == DISAGREE:
            each = _(", ").join(
                f"{messages.isolate(d.reviewer)}: {messages.decision_word(d.decision)}" for d in self.decisions
            )
            return _("Reviewers disagree ({each}): a third reviewer should decide", each=each)
        if self.state == WAITING:
            return _("Another reviewer has decided on this face; you see their decision after you record yours")
        if self.state == IN_REVIEW:
            return _(
                "Reviewers are deciding on this face. You see their outcome here once two reviewers have confirmed it "
                "(or rejected it)."
            )
        return "; ".join(messages.decided_by(d.decision, d.reviewer, d.decided_at) for d in self.decisions)


CONFIRMED, NEEDS_SECOND, DISAGREE, WAITING, REJECTED, UNSURE_STATE, IN_REVIEW = (
    "confirmed", "needs_second", "disagree", "waiting", "rejected", "unsure", "in_review",
)  # fmt: skip


class Review:
    """Cases and the append-only decision log, in the index's own database: every case rule lives here,
    so the app and the CLI only ask and show.

    With an `account` (team mode) every case method checks access first; without one (single-user mode
    on a person's own computer) every case is theirs, as before.
    """

    def __init__(self, index: Index, account: Account | None = None) -> None:
        self.index = index
        self._cases = index.cases
        self.account = account
        self.accounts = Accounts(index.db)

    @property
    def team(self) -> bool:
        return self.account is not None

    def _guard(self, case_id: int) -> None:
        """Refuse a case this account may not open, with the same words whether or not it exists."""
        if self.account is not None and not self.accounts.may_open(self.account, int(case_id)):
            raise AccessDenied(_("you have no case {case_id} to open", case_id=case_id))

    # -- cases ----------------------------------------------------------------------------------
    def create_case(
        self, name: str, reviewer: str = "", notes: str = "", two_reviewers: bool | None = None,
        keep_photos: bool | None = None,
    ) -> Case:  # fmt: skip
        """A new case; in team mode it belongs to the account that opened it and needs two reviewers unless
        asked otherwise. `keep_photos`: the family's answer, asked once, whether its photos are kept in the case."""
        name = name.strip()
        if not name:
            raise ValueError(_("a case needs a name (or an alias)"))
        if self.account is not None:
            reviewer = self.account.name
        two = self.team if two_reviewers is None else bool(two_reviewers)
        row = self._cases.create(
            name, reviewer.strip(), notes, created_by=self.account.id if self.account else None, two_reviewers=two
        )
        if keep_photos is not None:
            self._cases.set_keep_photos(row["id"], keep_photos)
        return Case(**row)

    def cases(self, include_closed: bool = False) -> list[Case]:
        rows = self._cases.list(include_closed)
        if self.account is not None:
            allowed = self.accounts.case_ids(self.account)
            rows = [r for r in rows if r["id"] in allowed]
        return [Case(**row) for row in rows]

    def has_case(self, case_id: int) -> bool:
        if self.account is not None:
            return self.accounts.may_open(self.account, int(case_id))
        return self._cases.get(case_id) is not None

    def case(self, case_id: int) -> Case:
        self._guard(case_id)
        row = self._cases.get(case_id)
        if row is None:
            raise ValueError(_("there is no case {case_id}", case_id=case_id))
        return Case(**row)

    def rename_case(self, case_id: int, name: str) -> Case:
        self._guard(case_id)
        if not name.strip():
            raise ValueError(_("a case needs a name (or an alias)"))
        self._cases.update(case_id, name=name.strip())
        return self.case(case_id)

    def set_two_reviewers(self, case_id: int, on: bool) -> Case:
        """Whether "confirmed" needs two different accounts in this case (team mode turns it on by default); in
        team mode only an admin or a caseworker may change it (a family cannot waive the second reviewer)."""
        self._guard(case_id)
        if self.account is not None and self.account.role not in (ADMIN, CASEWORKER):
            raise AccessDenied(_("only an admin or a caseworker can change the two-reviewer rule of a case"))
        self._cases.update(case_id, two_reviewers=bool(on))
        return self.case(case_id)

    def close_case(self, case_id: int) -> Case:
        self._guard(case_id)
        self._cases.update(case_id, closed_at=time.time())
        return self.case(case_id)

    def reopen_case(self, case_id: int) -> Case:
        self._guard(case_id)
        self._cases.update(case_id, closed_at=None, reopen=True)
        return self.case(case_id)

    def give_case(self, case_id: int, account_name: str) -> None:
        """Give a case to another account (admin only, checked in access.py; a family's case is never given to
        another family account)."""
        self._guard(case_id)
        self.accounts.grant(case_id, account_name, self.account)

    def take_back(self, case_id: int, account_name: str) -> None:
        """Take a case back from an account it was given to (admin only, checked in access.py)."""
        self._guard(case_id)
        self.accounts.revoke(case_id, account_name, self.account)

    def people(self, case_id: int) -> list[Account]:
        """Team mode: the accounts that have this case, the one that created it first (its owner)."""
        self._guard(case_id)
        return self.accounts.holders(case_id)

    def owner(self, case_id: int) -> Account | None:
        """The account that created the case (None: single-user mode, or made on the command line)."""
        created_by = self.case(case_id).created_by
        return None if created_by is None else self.accounts.by_id(created_by)

    def reviews(self, case_id: int) -> bool:
        """Does this account review (decide on candidates) in this case? In a case that needs two reviewers a
        family account does not: it sees the outcome once the rule is met (verdicts), and never votes. In any
        other case, and in single-user mode, whoever opens the case decides."""
        case = self.case(case_id)
        return not (case.two_reviewers and self.account is not None and self.account.role == FAMILY)

    def keep_photos(self, case_id: int) -> bool | None:
        """What the family said when the case was created: keep the photos it adds (None: not asked)."""
        self._guard(case_id)
        return self._cases.keep_photos(case_id)

    def set_keep_photos(self, case_id: int, keep: bool) -> None:
        self._guard(case_id)
        self._cases.set_keep_photos(case_id, keep)

    # -- what the family knows ------------------------------------------------------------------
    def facts(self, case_id: int) -> Facts:
        self._guard(case_id)
        return Facts.from_dict(self._cases.facts(case_id))

    def set_facts(
        self, case_id: int, *, names: list[str], birth_year: int | str | None, birth_year_margin: int, county: str,
        photo_year: int | str | None | object = _KEEP, notes: str | None = None,
    ) -> Facts:  # fmt: skip
        """Keep what the family knows with the case; years may be typed text ("1979", or empty).

        The notes are the case's own notes (one place for everything the family knows). The case-wide
        photo year is kept for indexes written before each photo had its own year; new screens give the
        year per photo (keep_photo / choose_face), so by default it is left as it is.
        """
        self._guard(case_id)
        old = self.facts(case_id) if photo_year is _KEEP else None
        self.case(case_id)
        year = old.photo_year if old is not None else parse_year(photo_year, "Year of the family's photos")  # type: ignore[arg-type]
        self._cases.set_facts(
            case_id,
            names=[n.strip() for n in names if n.strip()],
            birth_year=parse_year(birth_year, "Birth year"),
            birth_year_margin=int(birth_year_margin),
            county=county.strip(),
            photo_year=year,
        )
        if notes is not None:
            self._cases.update(case_id, notes=notes.strip())
        return self.facts(case_id)

    # -- photos kept in a case --------------------------------------------------------------------
    def case_folder(self, case_id: int) -> Path:
        return self.index.folder / "cases" / str(case_id)

    def keep_photo(
        self, case_id: int, data: bytes, name: str, face_box: tuple | None = None, photo_year: int | str | None = None
    ) -> KeptPhoto:
        """Store a query photo in the case, re-encoded without EXIF (GPS, camera serial, ...), with the face
        chosen in it and its year when known, so a family that comes back finds its search as it left it.
        The file is named by its content, never by `name` (which only shows), so no upload name reaches the disk."""
        self._guard(case_id)
        images.check_upload(data)
        vault = self._cases.vault
        if vault is None and self.index.encrypted:  # before any file is written: never a plain copy there
            raise VaultError(_("this case's photos are encrypted: start the team server with its passphrase"))
        year = parse_year(photo_year, "Year the photo was taken")
        clean, scale = images.kept_copy(data)
        if face_box is not None and scale < 1:  # the box was chosen on the upload; the kept copy is smaller
            face_box = tuple(float(v) * scale for v in face_box)
        sha = images.sha256_bytes(clean)
        folder = self.case_folder(case_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (f"{sha[:16]}.jpg" if vault is None else vault.file_name(sha))
        if not path.exists():  # encrypted (team mode): under a keyed name that does not reveal the hash
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(clean if vault is None else vault.seal_bytes(clean, photo_place(case_id, sha)))
            tmp.replace(path)
        self._cases.add_photo(case_id, path.relative_to(self.index.folder).as_posix(), sha, Path(name).name)
        if face_box is not None or year is not None:
            self._cases.set_photo_choice(case_id, sha, face_box, year)
        return next(p for p in self.case_photos(case_id) if p.sha256 == sha)

    def choose_face(self, case_id: int, sha256: str, face_box: tuple | None, photo_year: int | str | None) -> None:
        """Remember which face of a kept photo is the missing person, and about when the photo was taken."""
        self._guard(case_id)
        self._cases.set_photo_choice(case_id, sha256, face_box, parse_year(photo_year, "Year the photo was taken"))

    def remove_photo(self, case_id: int, sha256: str) -> None:
        """Stop keeping a photo in a case (a wrong photo must not go on shaping the search); its file goes too,
        unless another case keeps the same photo."""
        self._guard(case_id)
        rel = self._cases.remove_photo(case_id, sha256)
        if rel is not None and not any(p["path"] == rel for p in self._cases.photos()):
            (self.index.folder / rel).unlink(missing_ok=True)

    def case_photos(self, case_id: int) -> list[KeptPhoto]:
        """The photos kept in a case, oldest first, with the face chosen in each and its year."""
        self._guard(case_id)
        return [
            KeptPhoto(self.index.folder / p["path"], p["original_name"], p["sha256"], p["face_box"], p["photo_year"])
            for p in self._cases.photos(case_id)
        ]

    def photo_bytes(self, case_id: int, sha256: str) -> bytes:
        """The bytes of a photo kept in a case (decrypted in team mode): the only way the app reads one, so
        access is checked here and no kept photo is ever served from its path."""
        kept = next((k for k in self.case_photos(case_id) if k.sha256 == sha256), None)
        if kept is None:
            raise AccessDenied(_("you have no such photo in case {case_id}", case_id=case_id))
        data = kept.path.read_bytes()
        if self._cases.vault is not None:  # sealed and bound to this case, or refused
            return self._cases.vault.open_bytes(data, photo_place(case_id, sha256))
        if data.startswith(FILE_MAGIC):
            raise VaultError(_("this kept photo is encrypted: start the team server with its passphrase"))
        return data

    def last_reviewer(self, case_id: int) -> str:
        """Who last decided in this case (else who opened it): the name to offer someone coming back."""
        if self.account is not None:
            return self.account.name
        log = self.log(case_id)
        return log[-1].reviewer if log else self.case(case_id).reviewer

    # -- decisions --------------------------------------------------------------------------------
    def decide(
        self, case_id: int, candidate: Candidate, decision: str, reviewer: str, note: str = "", shown: list[str] = ()
    ) -> Decision:
        """Append a person's decision; `shown` is what the screen said beside the candidate (strength, what
        agrees or differs, ages), kept with the decision so a report months later shows what they saw."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
        self._guard(case_id)
        if not self.reviews(case_id):
            raise AccessDenied(
                _("in this case two reviewers decide; a family account sees their outcome and does not vote")
            )
        if self.account is not None:  # team mode: the logged-in account decides, whatever name was typed
            reviewer = self.account.name
        if not reviewer.strip():
            raise ValueError(_("say who is deciding: every decision records its reviewer"))
        case = self.case(case_id)
        sha, box = face_key(candidate)
        account_id = self.account.id if self.account is not None else None

        def rules(c: sqlite3.Connection) -> None:
            """The case's rules, checked inside the write transaction, so a case closed (or switched to two
            reviewers) by another session a moment ago is seen: the case must be open, and in a two-reviewer
            case one reviewer cannot confirm twice."""
            closed_at, two_reviewers = c.execute(
                "SELECT closed_at, two_reviewers FROM cases WHERE id = ?", (case_id,)
            ).fetchone()
            if closed_at is not None:
                raise ValueError(_("case '{case}' is closed; reopen it to record decisions", case=case.name))
            if not two_reviewers or decision != CONFIRM:
                return
            me = f"#{account_id}" if account_id is not None else reviewer.strip().casefold()
            rows = c.execute(
                "SELECT x1, y1, x2, y2, decision, reviewer, account_id FROM decisions "
                "WHERE case_id = ? AND photo_sha256 = ? ORDER BY id",
                (case_id, sha),
            ).fetchall()
            mine = [
                r[4] for r in rows
                if (f"#{r[6]}" if r[6] is not None else str(r[5]).strip().casefold()) == me
                and faces.same_box(tuple(r[:4]), box)
            ]  # fmt: skip
            if mine and mine[-1] == CONFIRM:
                raise ValueError(
                    "you have already confirmed this candidate; a second, different reviewer must confirm it"
                )

        row = self._cases.append_decision(
            case_id=case_id,
            photo_sha256=sha,
            box=box,
            decision=decision,
            reviewer=reviewer.strip(),
            engine=candidate.face.engine,
            score=candidate.similarity,
            rank=candidate.rank,
            note=note.strip(),
            photo_path=candidate.face.relpath,
            shown=list(shown),
            account_id=account_id,
            guard=rules,
        )
        return Decision(**row)

    def _me(self, reviewer: str = "") -> str | None:
        return f"#{self.account.id}" if self.account is not None else None

    def log(self, case_id: int | None = None) -> list[Decision]:
        """Every decision this reader may see, oldest first: the audit log.

        In team mode: only the cases the account may open, and in a two-reviewer case another reviewer's
        decisions on a face only once this account has decided on that face itself (independent review).
        """
        if case_id is not None:
            self._guard(case_id)
        log = [Decision(**row) for row in self._cases.decisions(case_id)]
        if self.account is None:
            return log
        allowed = self.accounts.case_ids(self.account)
        blind = {c.id for c in self.cases(include_closed=True) if c.two_reviewers}
        me = self._me()
        mine = [d for d in log if d.who == me]
        settled: dict[int, list[Decision]] = {}  # a family in a two-reviewer case: the decisions of an outcome
        if self.account.role == FAMILY:
            for cid in blind & allowed & {d.case_id for d in log}:
                settled[cid] = [d for v in self.verdicts(cid) if v.state in (CONFIRMED, REJECTED) for d in v.decisions]

        def visible(d: Decision) -> bool:
            if d.case_id not in allowed:
                return False
            if d.case_id in settled:
                return any(d.id == s.id for s in settled[d.case_id])
            own = [m for m in mine if m.case_id == d.case_id]
            return d.case_id not in blind or d.who == me or _same_face_any(d, own)

        return [d for d in log if visible(d)]

    def verdicts(self, case_id: int) -> list[Verdict]:
        """Per decided face, where it stands under the two-reviewer rule, as this reader may see it.

        Each reviewer's latest decision counts. Two different reviewers confirming (and more confirming than
        rejecting) make CONFIRMED; one confirmation is NEEDS_SECOND; confirm against reject is DISAGREE (a
        third should decide). A face another reviewer decided that this reader has not is WAITING, and their
        decision is not shown.
        """
        case = self.case(case_id)
        full = [Decision(**row) for row in self._cases.decisions(case_id)]
        me = self._me()
        per_face: list[list[Decision]] = []
        for d in full:
            group = next((g for g in per_face if _same_face_any(d, g)), None)
            if group is None:
                per_face.append([d])
            else:
                group.append(d)
        out = []
        for group in per_face:
            latest: dict[str, Decision] = {}
            for d in group:
                latest[d.who] = d
            decided = list(latest.values())
            keys = tuple(d.key for d in group)
            if case.two_reviewers and self.account is not None and self.account.role == FAMILY:
                out.append(_outcome(decided, keys))  # not a reviewer: the outcome once the rule is met
                continue
            if case.two_reviewers and self.account is not None and me not in latest:
                out.append(Verdict(WAITING, (), keys))
                continue
            out.append(Verdict(_state(decided, case.two_reviewers), tuple(decided), keys))
        return out

    def verdict_for(self, case_id: int, candidate: Candidate, verdicts: list[Verdict] | None = None) -> Verdict | None:
        """The verdict on this candidate's face (None: nobody decided on it)."""
        sha, box = face_key(candidate)
        for v in self.verdicts(case_id) if verdicts is None else verdicts:
            if any(faces.same_face(k_sha, k_box, sha, box) for k_sha, k_box in v.keys):
                return v
        return None

    def current(self, case_id: int) -> dict[tuple, Decision]:
        """The latest decision per candidate face: what the person decided last."""
        latest: dict[tuple, Decision] = {}
        for d in self.log(case_id):
            latest[d.key] = d
        return latest

    def annotate(self, case_id: int, candidates: list[Candidate]) -> list[tuple[Candidate, Decision | None]]:
        """Each candidate with the latest decision on its face.

        A decision applies to a candidate that is the same face (faces.py: same photo, boxes overlapping).
        """
        by_photo: dict[str, list[Decision]] = {}
        for d in self.current(case_id).values():
            by_photo.setdefault(d.photo_sha256, []).append(d)
        out = []
        for c in candidates:
            sha, box = face_key(c)
            same = [d for d in by_photo.get(sha, []) if faces.same_box(d.box, box)]
            out.append((c, max(same, key=lambda d: d.id) if same else None))
        return out


def _same_face_any(d: Decision, others: list[Decision]) -> bool:
    """Is d on the same archive face as one of the others (same photo, boxes overlapping)?"""
    return any(faces.same_face(o.photo_sha256, o.box, d.photo_sha256, d.box) for o in others)


def _outcome(latest: list[Decision], keys: tuple) -> Verdict:
    """Where a face stands for someone who does not review it (a family account in a two-reviewer case): the
    outcome once the rule is met (two confirmations; or two reviewers rejecting and none confirming), with who
    decided and when; before that only that reviewers are deciding, and nothing of their decisions."""
    state = _state(latest, True)
    if state == CONFIRMED:
        return Verdict(CONFIRMED, tuple(d for d in latest if d.decision == CONFIRM), keys)
    if state == REJECTED and sum(d.decision == REJECT for d in latest) >= 2:
        return Verdict(REJECTED, tuple(d for d in latest if d.decision == REJECT), keys)
    return Verdict(IN_REVIEW, (), keys)


def _state(latest: list[Decision], two_reviewers: bool) -> str:
    """The two-reviewer rule on each reviewer's latest decision on one face."""
    confirms = sum(d.decision == CONFIRM for d in latest)
    rejects = sum(d.decision == REJECT for d in latest)
    if not two_reviewers:
        last = max(latest, key=lambda d: d.id).decision
        return {CONFIRM: CONFIRMED, REJECT: REJECTED}.get(last, UNSURE_STATE)
    if confirms >= 2 and confirms > rejects:
        return CONFIRMED
    if confirms and rejects:
        return DISAGREE
    if confirms:
        return NEEDS_SECOND
    return REJECTED if rejects else UNSURE_STATE


def parse_year(value: int | str | None, what: str) -> int | None:
    """A year typed by a person ("1979", " 1979 ", "" for unknown), or a clear message saying what to write."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1880 <= int(text) <= 2100:
        raise ValueError(_("{what}: write a year such as 1979, or leave it empty", what=what))
    return int(text)
