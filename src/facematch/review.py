"""Cases and decisions: the record of what people decided, and the rules of "confirmed".

A case is one missing person. A decision is a person's judgement on one candidate face, appended
to an audit log that is never updated or deleted: a change of mind is a new entry, and the latest
entry is the current state. Decisions point at the archive photo's sha256 and the face box, not
at a face id, so they survive re-indexing and a change of engine.

Only a person's "confirm" makes a candidate confirmed; nothing here or in any screen calls a
candidate a match before that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from . import images
from .combined import Facts
from .index import Index
from .search import Candidate

CONFIRM, REJECT, UNSURE = "confirm", "reject", "unsure"
DECISIONS = (CONFIRM, REJECT, UNSURE)


@dataclass(frozen=True)
class Case:
    id: int
    name: str
    notes: str
    reviewer: str
    created_at: float
    closed_at: float | None

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

    @property
    def key(self) -> tuple[str, tuple[float, float, float, float]]:
        return self.photo_sha256, self.box

    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(self.decided_at))


class KeptPhoto(NamedTuple):
    """A family photo kept in a case (a copy without EXIF), with the face chosen in it and its year."""

    path: Path
    original_name: str
    sha256: str
    face_box: tuple[float, float, float, float] | None = None  # None: not chosen yet (the largest is used)
    photo_year: int | None = None


_KEEP = object()  # "leave this as it is" for optional updates


def face_key(c: Candidate) -> tuple[str, tuple[float, float, float, float]]:
    """How a decision finds its candidate again: photo content + face box (rounded as stored)."""
    return c.face.sha256, tuple(round(float(v), 1) for v in c.face.box)  # type: ignore[return-value]


class Review:
    """Cases and the append-only decision log, in the index's own database: every case rule lives here,
    so the app and the CLI only ask and show."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._cases = index.cases

    # -- cases ----------------------------------------------------------------------------------
    def create_case(self, name: str, reviewer: str, notes: str = "") -> Case:
        name = name.strip()
        if not name:
            raise ValueError("a case needs a name (or an alias)")
        return Case(**self._cases.create(name, reviewer.strip(), notes))

    def cases(self, include_closed: bool = False) -> list[Case]:
        return [Case(**row) for row in self._cases.list(include_closed)]

    def has_case(self, case_id: int) -> bool:
        return self._cases.get(case_id) is not None

    def case(self, case_id: int) -> Case:
        row = self._cases.get(case_id)
        if row is None:
            raise ValueError(f"there is no case {case_id}")
        return Case(**row)

    def rename_case(self, case_id: int, name: str) -> Case:
        if not name.strip():
            raise ValueError("a case needs a name (or an alias)")
        self._cases.update(case_id, name=name.strip())
        return self.case(case_id)

    def update_case(self, case_id: int, *, notes: str | None = None, reviewer: str | None = None) -> Case:
        self._cases.update(case_id, notes=notes, reviewer=reviewer)
        return self.case(case_id)

    def close_case(self, case_id: int) -> Case:
        self._cases.update(case_id, closed_at=time.time())
        return self.case(case_id)

    def reopen_case(self, case_id: int) -> Case:
        self._cases.update(case_id, closed_at=None, reopen=True)
        return self.case(case_id)

    # -- what the family knows ------------------------------------------------------------------
    def facts(self, case_id: int) -> Facts:
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
        chosen in it and its year when known, so a family that comes back finds its search as it left it."""
        year = parse_year(photo_year, "Year the photo was taken")
        clean = images.strip_metadata(data)
        sha = images.sha256_bytes(clean)
        folder = self.case_folder(case_id)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{sha[:16]}.jpg"
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(clean)
            tmp.replace(path)
        self._cases.add_photo(case_id, path.relative_to(self.index.folder).as_posix(), sha, Path(name).name)
        if face_box is not None or year is not None:
            self._cases.set_photo_choice(case_id, sha, face_box, year)
        return next(p for p in self.case_photos(case_id) if p.sha256 == sha)

    def choose_face(self, case_id: int, sha256: str, face_box: tuple | None, photo_year: int | str | None) -> None:
        """Remember which face of a kept photo is the missing person, and about when the photo was taken."""
        self._cases.set_photo_choice(case_id, sha256, face_box, parse_year(photo_year, "Year the photo was taken"))

    def remove_photo(self, case_id: int, sha256: str) -> None:
        """Stop keeping a photo in a case (a wrong photo must not go on shaping the search); its file goes too,
        unless another case keeps the same photo."""
        rel = self._cases.remove_photo(case_id, sha256)
        if rel is not None and not any(p["path"] == rel for p in self._cases.photos()):
            (self.index.folder / rel).unlink(missing_ok=True)

    def case_photos(self, case_id: int) -> list[KeptPhoto]:
        """The photos kept in a case, oldest first, with the face chosen in each and its year."""
        return [
            KeptPhoto(self.index.folder / p["path"], p["original_name"], p["sha256"], p["face_box"], p["photo_year"])
            for p in self._cases.photos(case_id)
        ]

    def last_reviewer(self, case_id: int) -> str:
        """Who last decided in this case (else who opened it): the name to offer someone coming back."""
        log = self._cases.decisions(case_id)
        return log[-1]["reviewer"] if log else self.case(case_id).reviewer

    # -- decisions --------------------------------------------------------------------------------
    def decide(
        self, case_id: int, candidate: Candidate, decision: str, reviewer: str, note: str = "", shown: list[str] = ()
    ) -> Decision:
        """Append a person's decision; `shown` is what the screen said beside the candidate (strength, what
        agrees or differs, ages), kept with the decision so a report months later shows what they saw."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
        if not reviewer.strip():
            raise ValueError("say who is deciding: every decision records its reviewer")
        case = self.case(case_id)
        if not case.is_open:
            raise ValueError(f"case '{case.name}' is closed; reopen it to record decisions")
        sha, box = face_key(candidate)
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
        )
        return Decision(**row)

    def log(self, case_id: int | None = None) -> list[Decision]:
        """Every decision, oldest first: the audit log."""
        return [Decision(**row) for row in self._cases.decisions(case_id)]

    def current(self, case_id: int) -> dict[tuple, Decision]:
        """The latest decision per candidate face: what the person decided last."""
        latest: dict[tuple, Decision] = {}
        for d in self.log(case_id):
            latest[d.key] = d
        return latest

    def annotate(self, case_id: int, candidates: list[Candidate]) -> list[tuple[Candidate, Decision | None]]:
        """Each candidate with the latest decision on its face.

        A decision applies to a candidate in the same photo (sha256) whose box overlaps the decided box
        (IoU >= 0.4): another engine, or a re-index, finds the same face with a slightly different box.
        Measured on the demo photos: 0.59-0.78 between sface and dlib boxes of one face, ~0 between two.
        """
        by_photo: dict[str, list[Decision]] = {}
        for d in self.current(case_id).values():
            by_photo.setdefault(d.photo_sha256, []).append(d)
        out = []
        for c in candidates:
            sha, box = face_key(c)
            same = [d for d in by_photo.get(sha, []) if iou(d.box, box) >= 0.4]
            out.append((c, max(same, key=lambda d: d.id) if same else None))
        return out


def parse_year(value: int | str | None, what: str) -> int | None:
    """A year typed by a person ("1979", " 1979 ", "" for unknown), or a clear message saying what to write."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1880 <= int(text) <= 2100:
        raise ValueError(f"{what}: write a year such as 1979, or leave it empty")
    return int(text)


def iou(a: tuple, b: tuple) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0
