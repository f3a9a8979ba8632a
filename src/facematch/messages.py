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
