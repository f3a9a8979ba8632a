"""Photo and name together: what the family knows (names, birth year, home county, when their photo
was taken) set beside what the archive says about each candidate.

Facts reorder, they never decide and never hide: a photo candidate whose record agrees with the
family's facts rises by a fixed, stated amount (FACT_LIFT per agreeing fact, NAME_LIFT for a name),
and the screen says why ("same county", "birth year within 2 years"). Records found by name that have
a photo are shown with their face's similarity to the family's photo, whatever its rank. Records with
no photo are listed as such. Disagreements are shown too ("born 1960, 19 years from 1979"), but cost
nothing: archives have wrong birth years. Filters that do hide are the app's visible, switchable ones.

The lifts are small against the spread of face similarity (sface: the same person mostly 0.4-0.8,
strangers mostly below 0.3): together at most 0.2, so facts reorder candidates whose faces look
about as similar, but never lift a clearly dissimilar face above a clearly similar one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from . import messages
from .engines import Face
from .i18n import _
from .names import THRESHOLD, NameIndex, normalise
from .names import search as namesearch
from .names.search import NameHit
from .search import Candidate, Searcher

NAME_LIFT = 0.10
FACT_LIFT = 0.05
#: Photo candidates searched to find the photo rank of a face found by name; beyond it, rank 0.
RANK_HORIZON = 1000
#: Years between the family's photo and the archive photo from which the screen warns.
LARGE_GAP_YEARS = 10
#: A family photo taken before this age is a child's face: far harder to compare with an adult's.
CHILD_AGE = 16


@dataclass(frozen=True)
class Facts:
    """What the family knows about the missing person (any part may be unknown)."""

    names: tuple[str, ...] = ()
    birth_year: int | None = None
    birth_year_margin: int = 2
    county: str = ""
    photo_year: int | None = None  # about when the family's photos were taken

    @classmethod
    def from_dict(cls, d: dict | None) -> Facts:
        if not d:
            return cls()
        return cls(
            names=tuple(n for n in d.get("names", []) if str(n).strip()),
            birth_year=d.get("birth_year"),
            birth_year_margin=int(d.get("birth_year_margin") or 0),
            county=d.get("county") or "",
            photo_year=d.get("photo_year"),
        )

    @property
    def empty(self) -> bool:
        return not (self.names or self.birth_year or self.county.strip())


@dataclass(frozen=True)
class AgeGap:
    """The years (and ages) of the family's photos and of the archive photo, each age from its own side: the
    family's photos with the family's birth year, the archive photo with its record's (never one birth
    year for both, which made the family photo's age change from card to card)."""

    family_years: tuple[int | None, ...]  # each family photo's year (None: not given)
    family_birth: int | None  # the family's birth year
    archive_year: int | None  # the record's photo date, else its detention date
    archive_birth: int | None  # the record's birth year

    @property
    def years(self) -> int | None:
        """The largest gap between a family photo and the archive photo (None when a year is unknown)."""
        known = [y for y in self.family_years if y is not None]
        if not known or self.archive_year is None:
            return None
        return max((self.archive_year - y for y in known), key=abs)

    @staticmethod
    def _age(year: int | None, birth: int | None) -> int | None:
        return None if year is None or birth is None else year - birth

    @property
    def family_ages(self) -> list[int | None]:
        return [self._age(y, self.family_birth) for y in self.family_years]

    @property
    def archive_age(self) -> int | None:
        return self._age(self.archive_year, self.archive_birth)

    @property
    def large(self) -> bool:
        child = any(a is not None and a < CHILD_AGE for a in self.family_ages)
        return (self.years is not None and abs(self.years) >= LARGE_GAP_YEARS) or child

    def text(self) -> str:
        family = list(zip(self.family_years, self.family_ages, strict=True))
        return messages.age_gap(family, self.archive_year, self.archive_age, self.years, self.large)


@dataclass
class Combined:
    """One line of the combined list: a face candidate with its records, or a record without a usable face."""

    candidate: Candidate | None
    records: list[dict]  # records about this face (weighed against the family's facts)
    found_by: str  # "photo", "name", "photo and name"
    agrees: list[str] = field(default_factory=list)  # reasons it rose
    differs: list[str] = field(default_factory=list)  # facts that do not agree (shown, cost nothing)
    name_hit: NameHit | None = None
    lift: float = 0.0
    age_gap: AgeGap | None = None
    note: str = ""  # why there is no face: "no photo in the archive", ...
    archive_faces: list = field(default_factory=list)  # FaceRows of its photos, to show when there is no query
    photo_records: list[dict] = field(default_factory=list)  # records of its group photo, not said to be its own
    photo_records_weighed: bool = False  # the person asked to weigh those too

    @property
    def similarity(self) -> float | None:
        return None if self.candidate is None else self.candidate.similarity

    @property
    def order_score(self) -> float:
        return (self.similarity or 0.0) + self.lift

    def reason_lines(self) -> list[str]:
        """What the screen says about this candidate beyond its face and record, one sentence per line: how
        it was found, what agrees and what does not with the family's facts, and the photos' years. The same
        lines go with a decision into the audit log and into the case report."""
        lines = []
        if self.found_by == "name" and self.candidate is not None:
            c = self.candidate
            lines.append(
                _("found by name; photo rank {rank}", rank=c.rank) if c.rank
                else _("found by name; beyond the first {n} by photo", n=RANK_HORIZON)
            )  # fmt: skip
        if self.photo_records and self.candidate is not None:
            n = self.candidate.faces_in_photo
            lines.append(messages.photo_records_weighed(n) if self.photo_records_weighed else messages.photo_records(n))
        if self.agrees:
            lines.append(messages.agrees() + "; ".join(self.agrees))
        if self.differs:
            lines.append(messages.differs() + "; ".join(self.differs))
        if self.age_gap is not None:
            lines.append(self.age_gap.text())
        return lines


@dataclass
class CombinedResult:
    faces: list[Combined]  # face candidates (by photo, by name, or both), in display order
    no_face: list[Combined]  # records found by name with no usable photo
    name_hits: list[NameHit]
    facts: Facts
    used_facts: bool
    name_threshold: float = THRESHOLD


# -- facts against one record ----------------------------------------------------------------------
_PLACE_WORDS = re.compile(
    r"\((?:demo|invented)[^)]*\)|\b(county|city|district|prefecture|village|township|nahiyisi|nahiye|shehiri|"
    r"yézisi|kenti)\b|[县市区乡镇村]$",
    re.IGNORECASE,
)


def _place(text: str) -> str:
    return _PLACE_WORDS.sub(" ", str(text or "")).strip()


def county_agrees(known: str, recorded: str) -> str | None:
    """The reason text if the family's county and the record's agree, in any script; else None."""
    a, b = _place(known), _place(recorded)
    if not a or not b:
        return None
    if a.casefold() == b.casefold():
        return messages.same_county()
    # places are not given names: no name table, no endings set aside ("Turpan" is no Tur + -pan)
    agreement = NameIndex([(0, normalise(b))]).search(normalise(a), threshold=THRESHOLD, limit=1, readings=False)
    if agreement:
        return f"{messages.same_county()} ({agreement[0][1].reason()})"
    return None


def judge(record: dict, facts: Facts) -> tuple[list[str], list[str], float]:
    """(agreeing reasons, differing facts, lift) of one record against the family's facts (names apart)."""
    agrees, differs, lift = [], [], 0.0
    by = record.get("birth_year")
    if isinstance(by, str) and by.isdigit():
        by = int(by)
    if facts.birth_year and isinstance(by, int):
        gap = abs(by - facts.birth_year)
        if gap <= facts.birth_year_margin:
            agrees.append(messages.birth_year_agrees(by, facts.birth_year, facts.birth_year_margin))
            lift += FACT_LIFT
        else:
            differs.append(messages.birth_year_differs(by, facts.birth_year))
    if facts.county.strip() and record.get("county"):
        reason = county_agrees(facts.county, record["county"])
        if reason:
            agrees.append(reason)
            lift += FACT_LIFT
        else:
            differs.append(messages.county_differs(record["county"], facts.county))
    return agrees, differs, lift


def age_gap(records: list[dict], facts: Facts, photo_years: list[int | None] | tuple = ()) -> AgeGap | None:
    """The family's photos' years and ages (from the family's birth year) beside the archive photo's (its photo
    date, else its detention date, and the record's birth year). None when no year at all is known; when
    only one side is, the other is said to be unknown."""
    years = tuple(photo_years) or ((facts.photo_year,) if facts.photo_year is not None else ())
    rec = next((r for r in records if r.get("photo_year") or r.get("detention_year")), None)
    archive_year = None if rec is None else rec.get("photo_year") or rec.get("detention_year")
    if archive_year is None and all(y is None for y in years):
        return None
    birth = _int(rec.get("birth_year")) if rec is not None else None
    if birth is None:
        birth = next((b for r in records if (b := _int(r.get("birth_year"))) is not None), None)
    return AgeGap(years or (None,), facts.birth_year, archive_year, birth)


def _int(v: object) -> int | None:
    if isinstance(v, int):
        return v
    return int(v) if isinstance(v, str) and v.isdigit() else None


def family_photo_note(facts: Facts, photo_year: int | None = None, photo: str = "") -> str | None:
    """A warning when the family's photo shows a child (known birth year and photo year)."""
    year = photo_year if photo_year is not None else facts.photo_year
    if year is None or facts.birth_year is None:
        return None
    age = year - facts.birth_year
    return messages.child_photo(age, photo) if age < CHILD_AGE else None


# -- the combined list ----------------------------------------------------------------------------
def _annotate(
    item: Combined, facts: Facts, hits: dict[str, NameHit], use_facts: bool, photo_years: tuple, weigh_photo: bool
) -> Combined:
    """Judge the item's records against the facts: its own records always, its group photo's records only when
    the person asked (they may be about someone else in the photo)."""
    judged = item.records + (item.photo_records if weigh_photo else [])
    item.photo_records_weighed = weigh_photo and bool(item.photo_records)
    best: tuple[list[str], list[str], float] = ([], [], 0.0)
    for r in judged:
        verdict = judge(r, facts)
        hit = hits.get(r["record_id"])
        if hit is not None and (item.name_hit is None or hit.score > item.name_hit.score):
            item.name_hit = hit
        if verdict[2] > best[2] or not best[0] and not best[1]:
            best = verdict
    item.agrees, item.differs = list(best[0]), list(best[1])
    lift = best[2]
    if item.name_hit is not None:
        item.agrees.insert(0, messages.name_reason(item.name_hit.reason))
        lift += NAME_LIFT
    item.lift = lift if use_facts else 0.0
    item.age_gap = age_gap(judged, facts, photo_years)
    return item


def combine(
    searcher: Searcher,
    faces: list[Face],
    candidates: list[Candidate],
    facts: Facts,
    use_facts: bool = True,
    name_threshold: float = THRESHOLD,
    photo_years: list[int | None] | tuple = (),
    weigh_photo_records: bool = False,
) -> CombinedResult:
    """Photo candidates and name hits as one list, with reasons; faces may be empty (search by name only).

    photo_years: the year of each family photo searched with (ages and gaps; else the case-wide year).
    weigh_photo_records: also judge records of a group photo that do not say which face is theirs.
    """
    index = searcher.index
    years = tuple(photo_years)
    hits = namesearch.search(index, facts.names, threshold=name_threshold) if facts.names else []
    by_record = {h.record["record_id"]: h for h in hits}

    def annotate(item: Combined) -> Combined:
        return _annotate(item, facts, by_record, use_facts, years, weigh_photo_records)

    items = [annotate(Combined(c, c.records, "photo", photo_records=c.photo_records)) for c in candidates]
    for it in items:
        if it.name_hit is not None:
            it.found_by = "photo and name"
    shown_faces = {c.face.id for c in candidates}
    seen_records = {r["record_id"] for c in candidates for r in c.records + c.photo_records}
    no_face: list[Combined] = []
    pending = [h for h in hits if h.record["record_id"] not in seen_records]
    face_ids = index.records.face_ids((h.record["record_id"] for h in pending), searcher.fingerprint)
    extra = _face_candidates(searcher, faces, {fid for ids in face_ids.values() for fid in ids} - shown_faces)
    for h in pending:
        rid = h.record["record_id"]
        ids = [i for i in face_ids.get(rid, []) if i in extra]
        if ids and faces:
            best = max((extra[i] for i in ids), key=lambda c: c.similarity)
            if best.face.id in shown_faces:
                continue
            shown_faces.add(best.face.id)
            items.append(annotate(Combined(best, best.records, "name", photo_records=best.photo_records)))
        else:
            note = messages.no_photo() if not h.has_photo else _photo_note(searcher, h, bool(faces))
            shown = list(index.faces.by_id(face_ids.get(rid, [])).values())
            item = Combined(None, [h.record], "name", note=note, archive_faces=shown)
            no_face.append(annotate(item))
    items.sort(key=lambda it: -(it.order_score if use_facts else (it.similarity or 0.0)))
    no_face.sort(key=lambda it: (-(it.name_hit.score if it.name_hit else 0.0), -it.lift))
    return CombinedResult(items, no_face, hits, facts, use_facts, name_threshold)


def _photo_note(searcher: Searcher, hit: NameHit, have_query: bool) -> str:
    indexed = searcher.index.faces.indexed_filenames(hit.record.get("photos", []))
    if not indexed:
        return messages.photo_not_indexed()
    if not searcher.index.records.face_ids([hit.record["record_id"]], searcher.fingerprint):
        return messages.photo_no_face()
    return messages.photo_no_query() if not have_query else messages.photo_no_face()


def _face_candidates(searcher: Searcher, faces: list[Face], face_ids: set[int]) -> dict[int, Candidate]:
    """Candidates for faces found by name: their similarity to the family's photo, through the same
    ranking path as every photo candidate, and their photo rank (0 when beyond the first RANK_HORIZON)."""
    if not faces or not face_ids:
        return {}
    return searcher.candidates_for(faces, face_ids, searcher.search(faces, k=RANK_HORIZON))
