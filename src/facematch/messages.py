"""User-facing sentences in one place, so the CLI and the app say the same thing and can be translated.

The caveat is shown wherever a similarity score is shown: the people searched for in these
archives are Uyghurs and other Turkic minorities, often photographed years after the family's
photo, which is exactly where face recognition is known to be weakest.
"""

CAVEAT = (
    "These are candidates, not matches. Similar-looking strangers are common, and errors are much "
    "more likely when photos were taken years apart, are small or blurred, or show people from groups "
    "under-represented in the models' training data (published: a top model's true-accept rate at "
    "FAR 1e-6 falls from 97% overall to 75% on East Asian faces). The score is an uncalibrated "
    "similarity, not a probability. Only a person who compares the photos can confirm a match."
)

SCORE_LABEL = "uncalibrated similarity"

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


# -- calibrated strength (calibration.py) -------------------------------------------------------
#: How each band is said. Even the strongest never says "match": a person compares the photos.
BAND_TEXT = {
    "strong": "strong resemblance — still needs a person to compare",
    "possible": "possible resemblance — compare carefully; strangers this similar are not rare",
    "weak": "weak resemblance — no more similar than strangers in an archive this size",
}

UNCALIBRATED = "uncalibrated similarity (no calibration for this engine's exact weights, so no stranger count)"

CALIBRATION_NOTE = (
    "Stranger counts come from how often unrelated people in LFW (mostly white adults, photos taken "
    "without an age gap) score this high, times the number of faces in this archive. For the people in "
    "these archives, and for photos taken years apart, strangers tend to score higher: the real number "
    "is likely larger."
)
ARCHIVE_CALIBRATION_NOTE = (
    "Stranger counts come from this archive's own faces: how often two different faces in it score this "
    "high (counted where the archive has enough pairs, and for rarer scores read off a table measured on "
    "labelled photos, lined up with this archive), times the number of faces in it. So they follow the "
    "archive's own population. They are still estimates: for photos taken years apart, and for the rarest "
    "scores, strangers may score higher than this, and the real number may be larger."
)


def calibration_note(kind: str) -> str:
    """Where the stranger counts shown come from, for the estimate in use (calibration.py's `kind`)."""
    return ARCHIVE_CALIBRATION_NOTE if kind == "archive estimate" else CALIBRATION_NOTE


def strangers(expected: float, upper_bound: bool = False) -> str:
    """Expected strangers at least this similar, in words (always naming "strangers" and the archive)."""
    lead = "at most about" if upper_bound else "about"
    if expected >= 1.5:
        return f"{lead} {expected:,.0f} strangers in this archive would look this similar"
    if expected >= 0.5:
        return f"{lead} 1 stranger in this archive would look this similar"
    one_in = 1.0 / max(expected, 1e-12)
    return (
        f"{lead} {expected:.2g} strangers in this archive would look this similar "
        f"(a stranger this similar turns up in about 1 of {one_in:,.0f} searches)"
    )


def strength(band: str, expected: float, upper_bound: bool = False) -> str:
    """One line per candidate: the band's words, then the stranger count."""
    return f"{BAND_TEXT[band]}; {strangers(expected, upper_bound)}"


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


def birth_year_agrees(recorded: int, known: int, margin: int) -> str:
    if recorded == known:
        return f"same birth year ({recorded})"
    return f"birth year within {margin} years (record {recorded}, family {known})"


def birth_year_differs(recorded: int, known: int) -> str:
    return f"record says born {recorded}, {abs(recorded - known)} years from the family's {known}"


def county_differs(recorded: str, known: str) -> str:
    return f"record county {recorded}, the family's {known}"


def age_gap(
    family_year: int | None,
    family_age: int | None,
    archive_year: int | None,
    archive_age: int | None,
    years: int | None,
    large: bool,
) -> str:
    """The two photos' years (and ages, when a birth year is known), and a warning when they are far apart."""

    def when(year: int | None, age: int | None) -> str:
        if year is None:
            return "unknown"
        return f"about {year}" + (f" (age about {age})" if age is not None else "")

    text = f"Your photo: {when(family_year, family_age)}; archive photo: {when(archive_year, archive_age)}"
    if years is not None:
        text += f"; {abs(years)} years apart" if years else "; taken about the same year"
    if large:
        text += (
            ". Faces change a lot over such a gap (and from childhood to adulthood): face similarity is much "
            "less reliable here, so a low score does not rule this person out"
        )
    return text + "."


def child_photo(age: int) -> str:
    return (
        f"Your photo shows them at about age {max(age, 0)}. A child's face changes a great deal: face similarity "
        "to an adult's archive photo is much less reliable, so look at every candidate the records point to."
    )
