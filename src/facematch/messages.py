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
