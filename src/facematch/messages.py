"""User-facing sentences in one place, so the CLI and the app say the same thing and can be translated.

The caveat is shown wherever a similarity score is shown: the people searched for in these
archives are Uyghurs and other Turkic minorities, often photographed years after the family's
photo, which is exactly where face recognition is known to be weakest.
"""

CAVEAT = (
    "These are candidates, not matches. Similar-looking strangers are common, and errors are much "
    "more likely when photos were taken years apart, are small or blurred, or show people from groups "
    "under-represented in the models' training data (published: a top model set to mistake a stranger for "
    "the person only once in a million comparisons finds the right person 97% of the time overall, but 75% "
    "on East Asian faces). The score is an uncalibrated "
    "similarity, not a probability. Only a person who compares the photos can confirm a match."
)

SCORE_LABEL = "uncalibrated similarity"

#: Added to the caveat wherever the archive cross-check (link.py) shows or exports pairs and groups.
LINK_CAVEAT = (
    "A pair or a group of archive faces is a suggestion that two photos may show the same person, found by "
    "face similarity: it is not an identification. Duplicate images are the same photo saved again, not "
    "evidence about a person. A reviewer's decision on a pair is recorded in the audit log; nothing is "
    "ever copied into an archive record."
)

NO_FACE_HINT = (
    "No face was found. A larger, sharper photo where the face looks at the camera helps; "
    "crop loosely around the head rather than tightly around the face."
)


def missing_model(engine: str, folder: str, what: str) -> str:
    """The one message for a model that is not where facematch looks for it."""
    return (
        f"The model files for engine '{engine}' were not found in {folder}. {what} "
        f"Put the files there (or set FACEMATCH_MODELS to the folder that holds them); "
        f"see models/README.md. facematch never downloads models while it runs."
    )


# -- counting ------------------------------------------------------------------------------------
def plural(n: int, one: str, many: str | None = None) -> str:
    """ "1 candidate", "2 candidates", "1,204 searches": every count on every screen goes through here."""
    if many is None:
        many = one + ("es" if one.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{n:,} {one if n == 1 else many}"


def round_number(x: float) -> str:
    """A count as people say it: 2 significant digits, words for millions ("1,600", "3.2 million")."""
    if x >= 1e9:
        return f"{float(f'{x / 1e9:.2g}'):g} billion"
    if x >= 1e6:
        return f"{float(f'{x / 1e6:.2g}'):g} million"
    return f"{int(float(f'{x:.2g}')):,}"


def _nice_floor(x: float) -> float:
    """x rounded *down* to 1, 2 or 5 times a power of ten, so "fewer than 1 in N" stays true."""
    k = 10 ** int(f"{x:e}".split("e")[1])
    return max(m for m in (1, 2, 5) if m * k <= x) * k


# -- calibrated strength (calibration.py) -------------------------------------------------------
#: How each band is said. Even the strongest never says "match": a person compares the photos.
BAND_TEXT = {
    "strong": "strong resemblance — still needs a person to compare",
    "possible": "possible resemblance — compare carefully; strangers this similar are not rare",
    "weak": "weak resemblance — no more similar than strangers in an archive this size",
}
#: The same once a person has decided on the candidate (the advice to compare is done).
BAND_DECIDED = {"strong": "strong resemblance", "possible": "possible resemblance", "weak": "weak resemblance"}

UNCALIBRATED = "uncalibrated similarity (no calibration for this engine's exact weights, so no stranger count)"

#: Where the counts come from, when the calibration does not say (the shipped tables: LFW).
DEFAULT_SOURCE = "unrelated people in LFW (mostly white adults, photos taken without an age gap)"
ARCHIVE_CALIBRATION_NOTE = (
    "How often a stranger looks this similar is estimated from this archive's own faces: how often two "
    "different faces in it look this alike (counted where the archive has enough pairs; for rarer scores, "
    "read off a table measured on labelled photos, lined up with this archive), scaled to the number of "
    "faces in it. So the counts follow the archive's own people. They are still estimates: for photos "
    "taken years apart, and for the rarest scores, strangers may look more alike than this, and the real "
    "number may be larger."
)


def calibration_note(source: str | None = None) -> str:
    """The caveat that goes with every stranger count: what they were measured on, and which way they err.

    `source` is what the reference table was measured on, or the calibration's kind: "archive estimate"
    gives the note for counts estimated from the archive itself (calibration.ArchiveCalibration).
    """
    if source == "archive estimate":
        return ARCHIVE_CALIBRATION_NOTE
    if source == "reference table":
        source = None
    return (
        f"How often a stranger looks this similar is counted on {source or DEFAULT_SOURCE}, scaled to the "
        "number of faces in this archive. For the people in these archives, and for photos taken years apart, "
        "strangers tend to look more alike: the real number is likely larger."
    )


CALIBRATION_NOTE = calibration_note()


def strangers(
    expected: float, fpr: float | None = None, bound: bool = False, gallery: int | None = None,
    upper_bound: bool = False,
) -> str:  # fmt: skip
    """Strangers at least this similar, in words and rounded numbers (never "6.1e-06").

    `expected` = fpr x faces in the archive (`gallery`); `bound` says the score is above every stranger
    measured, so the rate is an upper bound (`upper_bound`: the same, by its earlier name). Always names
    "strangers" and the archive; the caveat about where the counts come from is calibration_note, shown
    once beside them.
    """
    bound = bound or upper_bound
    archive = f"this archive of {plural(gallery, 'face')}" if gallery else "this archive"
    lead = "at most about" if bound else "about"
    if expected >= 1.5:
        return f"{lead} {round_number(expected)} strangers in {archive} would look this similar"
    if expected >= 0.5:
        return f"{lead} 1 stranger in {archive} would look this similar"
    one_in = 1.0 / max(expected, 1e-12)
    if one_in < 10:
        return f"a stranger this similar would turn up in about 1 in {round(one_in)} searches of {archive}"
    nice = _nice_floor(one_in)
    how = "about" if not bound and nice >= one_in * 0.99 else "fewer than"  # 1 in 1,000 exactly: "about"
    return f"a stranger this similar would turn up in {how} 1 in {round_number(nice)} searches of {archive}"


def candidate_strength(c: object, gallery: int | None = None, decided: bool = False) -> str:
    """The strength line of a search candidate (search.Candidate), or the uncalibrated label: what the CLI,
    the app and the report print for it."""
    band, expected = getattr(c, "band", None), getattr(c, "expected_strangers", None)
    if band is None or expected is None:
        return UNCALIBRATED
    return strength(band, expected, bool(getattr(c, "bound", False)), fpr=getattr(c, "fpr", None), gallery=gallery,
                    decided=decided)  # fmt: skip


def strength(
    band: str, expected: float, bound: bool = False, *, fpr: float | None = None, gallery: int | None = None,
    decided: bool = False,
) -> str:  # fmt: skip
    """One line per candidate: the band's words, then the stranger count. Once a person has decided on the
    candidate, the band says only how strong the resemblance is (no "still needs a person to compare")."""
    words = (BAND_DECIDED if decided else BAND_TEXT)[band]
    return f"{words}; {strangers(expected, fpr, bound, gallery)}"


# -- records, names and facts (records.py, names.py, combined.py) ---------------------------------
#: A name that agrees is a reason to look, never a "match".
NAME_AGREES = "name agrees: {reason}"
NO_PHOTO = "no photo in the archive"
PHOTO_NOT_INDEXED = "the archive names a photo for this record, but that photo is not in this index"
PHOTO_NO_QUERY = "has a photo in the archive: upload a photo of your relative to compare the faces"
PHOTO_NO_FACE = "no face was found in this record's archive photo"
SAME_COUNTY = "same county"
FACTS_NOTE = (
    "What the family knows lifts a candidate a little (0.10 for a name that agrees, 0.05 for the same county "
    "or a birth year within the margin) and says why. It never hides a candidate, never changes a decision, "
    "and is no substitute for comparing the faces: archive records can be wrong, and many people share a name."
)
NAMES_CAVEAT = (
    "Names are compared by how they sound across scripts and spellings. Many people share a name, and a "
    "Chinese transcription can fit several Uyghur names: a name that agrees is a reason to look, not an answer."
)


def name_agrees(reason: str) -> str:
    return NAME_AGREES.format(reason=reason)


def name_reason(reason: str) -> str:
    """A name among other agreeing facts (the line already says "agrees")."""
    return f"name ({reason})"


AGREES = "Agrees with what the family knows: "
DIFFERS = "Does not agree with what the family knows: "


def no_name_hits(names: list[str] | tuple[str, ...], threshold: float) -> str:
    shown = ", ".join(names)
    return (
        f"No archive record has a name close enough to {shown} (closeness {threshold:g} of 100). Try other "
        "spellings (as a Chinese clerk may have written it, or in Uyghur script), or ask for less close names."
    )


def photo_records(n_faces: int) -> str:
    """A record of a whole group photo that does not say which face is its person."""
    return (
        f"record for this photo, which shows {plural(n_faces, 'face')}: it may be about someone else in it, so "
        "it is not compared with what the family knows"
    )


def photo_record_only(n_faces: int) -> str:
    """A face of a group photo whose record does not say which face it is about (the cross-check's wording)."""
    return f"record for this photo, which shows {plural(n_faces, 'face')} (it may be about someone else in it)"


def photo_records_weighed(n_faces: int) -> str:
    return (
        f"record for this photo, which shows {plural(n_faces, 'face')} (compared with what the family knows, as asked)"
    )


def birth_year_agrees(recorded: int, known: int, margin: int) -> str:
    if recorded == known:
        return f"same birth year ({recorded})"
    return f"birth year within {margin} years (record {recorded}, family {known})"


def birth_year_differs(recorded: int, known: int) -> str:
    return f"record says born {recorded}, {abs(recorded - known)} years from the family's {known}"


def county_differs(recorded: str, known: str) -> str:
    return f"record county {recorded}, the family's {known}"


def age_gap(
    family: list[tuple[int | None, int | None]],
    archive_year: int | None,
    archive_age: int | None,
    years: int | None,
    large: bool,
) -> str:
    """The photos' years and ages, each from its own side: the family's photos with the family's birth year,
    the archive photo with its record's. Says what is unknown, and warns when the photos are far apart.

    `family`: (year, age) of each family photo; `years`: the largest gap between a family photo and the
    archive photo (None when a year is missing).
    """

    def when(year: int | None, age: int | None, whose: str) -> str:
        if year is None:
            return "year unknown"
        if age is None:
            return f"about {year} (age unknown: {whose} gives no birth year)"
        return f"about {year} (age about {max(age, 0)})"

    if not family:
        family = [(None, None)]
    lead = "Your photo" if len(family) == 1 else "Your photos"
    mine = ", ".join(when(y, a, "the family") for y, a in family)
    if all(y is None for y, _ in family):
        mine = "year unknown (add it beside the photo)"
    text = f"{lead}: {mine}; archive photo: {when(archive_year, archive_age, 'the record')}"
    if years is not None:
        text += f"; {plural(abs(years), 'year')} apart" if years else "; taken about the same year"
    if large:
        text += (
            ". Faces change a lot over such a gap (and from childhood to adulthood): face similarity is much "
            "less reliable here, so a low score does not rule this person out"
        )
    return text + "."


def child_photo(age: int, photo: str = "") -> str:
    which = f"Your photo {photo}" if photo else "Your photo"
    return (
        f"{which} shows them at about age {max(age, 0)}. A child's face changes a great deal: face similarity "
        "to an adult's archive photo is much less reliable, so look at every candidate the records point to."
    )
