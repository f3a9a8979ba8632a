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

from . import messages, namesearch
from .engines import Face
from .names import THRESHOLD, NameIndex, normalise
from .namesearch import NameHit
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
    family_year: int | None
    archive_year: int | None
    birth_year: int | None
    birth_from: str  # "record" or "family"

    @property
    def years(self) -> int | None:
        if self.family_year is None or self.archive_year is None:
            return None
        return self.archive_year - self.family_year

    def age_at(self, year: int | None) -> int | None:
        return None if year is None or self.birth_year is None else year - self.birth_year

    @property
    def large(self) -> bool:
        child = (a := self.age_at(self.family_year)) is not None and a < CHILD_AGE
        return (self.years is not None and abs(self.years) >= LARGE_GAP_YEARS) or child

    def text(self) -> str:
        return messages.age_gap(
            self.family_year,
            self.age_at(self.family_year),
            self.archive_year,
            self.age_at(self.archive_year),
            self.years,
            self.large,
        )


@dataclass
class Combined:
    """One line of the combined list: a face candidate with its records, or a record without a usable face."""

    candidate: Candidate | None
    records: list[dict]
    found_by: str  # "photo", "name", "photo and name"
    agrees: list[str] = field(default_factory=list)  # reasons it rose
    differs: list[str] = field(default_factory=list)  # facts that do not agree (shown, cost nothing)
    name_hit: NameHit | None = None
    lift: float = 0.0
    age_gap: AgeGap | None = None
    note: str = ""  # why there is no face: "no photo in the archive", ...
    archive_faces: list = field(default_factory=list)  # FaceRows of its photos, to show when there is no query

    @property
    def similarity(self) -> float | None:
        return None if self.candidate is None else self.candidate.similarity

    @property
    def order_score(self) -> float:
        return (self.similarity or 0.0) + self.lift


@dataclass
class CombinedResult:
    faces: list[Combined]  # face candidates (by photo, by name, or both), in display order
    no_face: list[Combined]  # records found by name with no usable photo
    name_hits: list[NameHit]
    facts: Facts
    used_facts: bool


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
        return messages.SAME_COUNTY
    agreement = NameIndex([(0, normalise(b))]).search(normalise(a), threshold=THRESHOLD, limit=1)
    if agreement:
        return f"{messages.SAME_COUNTY} ({agreement[0][1].reason()})"
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


def age_gap(records: list[dict], facts: Facts) -> AgeGap | None:
    """Years between the family's photo and the archive photo (its date, or else the detention date);
    None unless both years are known. Ages use the record's birth year, else the family's."""
    rec = next((r for r in records if r.get("photo_year") or r.get("detention_year")), None)
    if rec is None or facts.photo_year is None:
        return None
    birth = rec.get("birth_year")
    birth_from = "record" if birth else "family"
    return AgeGap(
        facts.photo_year, rec.get("photo_year") or rec.get("detention_year"), birth or facts.birth_year, birth_from
    )


def family_photo_note(facts: Facts) -> str | None:
    """A warning when the family's photo shows a child (known birth year and photo year)."""
    if facts.photo_year is None or facts.birth_year is None:
        return None
    age = facts.photo_year - facts.birth_year
    return messages.child_photo(age) if age < CHILD_AGE else None


# -- the combined list ----------------------------------------------------------------------------
def _annotate(item: Combined, facts: Facts, hits: dict[str, NameHit], use_facts: bool) -> Combined:
    best: tuple[list[str], list[str], float] = ([], [], 0.0)
    for r in item.records:
        verdict = judge(r, facts)
        hit = hits.get(r["record_id"])
        if hit is not None and (item.name_hit is None or hit.score > item.name_hit.score):
            item.name_hit = hit
        if verdict[2] > best[2] or not best[0] and not best[1]:
            best = verdict
    item.agrees, item.differs = list(best[0]), list(best[1])
    lift = best[2]
    if item.name_hit is not None:
        item.agrees.insert(0, messages.name_agrees(item.name_hit.reason))
        lift += NAME_LIFT
    item.lift = lift if use_facts else 0.0
    item.age_gap = age_gap(item.records, facts)
    return item


def combine(
    searcher: Searcher,
    faces: list[Face],
    candidates: list[Candidate],
    facts: Facts,
    use_facts: bool = True,
    name_threshold: float = THRESHOLD,
) -> CombinedResult:
    """Photo candidates and name hits as one list, with reasons; faces may be empty (search by name only)."""
    index = searcher.index
    hits = namesearch.search(index, facts.names, threshold=name_threshold) if facts.names else []
    by_record = {h.record["record_id"]: h for h in hits}
    items = [_annotate(Combined(c, c.records, "photo"), facts, by_record, use_facts) for c in candidates]
    for it in items:
        if it.name_hit is not None:
            it.found_by = "photo and name"
    shown_faces = {c.face.id for c in candidates}
    seen_records = {r["record_id"] for c in candidates for r in c.records}
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
            item = Combined(best, best.records or [h.record], "name")
            items.append(_annotate(item, facts, by_record, use_facts))
        else:
            note = messages.NO_PHOTO if not h.has_photo else _photo_note(searcher, h, bool(faces))
            shown = list(index.faces.by_id(face_ids.get(rid, [])).values())
            item = Combined(None, [h.record], "name", note=note, archive_faces=shown)
            no_face.append(_annotate(item, facts, by_record, use_facts))
    items.sort(key=lambda it: -(it.order_score if use_facts else (it.similarity or 0.0)))
    no_face.sort(key=lambda it: (-(it.name_hit.score if it.name_hit else 0.0), -it.lift))
    return CombinedResult(items, no_face, hits, facts, use_facts)


def _photo_note(searcher: Searcher, hit: NameHit, have_query: bool) -> str:
    indexed = searcher.index.faces.indexed_filenames(hit.record.get("photos", []))
    if not indexed:
        return messages.PHOTO_NOT_INDEXED
    if not searcher.index.records.face_ids([hit.record["record_id"]], searcher.fingerprint):
        return messages.PHOTO_NO_FACE
    return messages.PHOTO_NO_QUERY if not have_query else messages.PHOTO_NO_FACE


def _face_candidates(searcher: Searcher, faces: list[Face], face_ids: set[int]) -> dict[int, Candidate]:
    """Candidates for faces found by name: their similarity to the family's photo, through the same
    ranking path as every photo candidate, and their photo rank (0 when beyond the first RANK_HORIZON)."""
    if not faces or not face_ids:
        return {}
    return searcher.candidates_for(faces, face_ids, searcher.search(faces, k=RANK_HORIZON))
