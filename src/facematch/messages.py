"""User-facing sentences in one place, so the CLI and the app say the same thing and can be translated.

The caveat is shown wherever a similarity score is shown: the people searched for in these
archives are Uyghurs and other Turkic minorities, often photographed years after the family's
photo, which is exactly where face recognition is known to be weakest.

Every sentence here goes through the message catalog (i18n.py, locale/*/LC_MESSAGES/facematch.po) in the
active language (i18n.set_language / i18n.language). The module-level constants keep their English text
(other modules read them at import time, and English output must not change); each has a function of the
same name in lower case that returns it in the active language: ``CAVEAT`` -> ``caveat()``. The functions
that build sentences (strength, strangers, age_gap, ...) speak the active language directly.
"""

from __future__ import annotations

from . import i18n
from .i18n import N_, Nn_, _, ngettext, pgettext

CAVEAT = N_(
    "These are candidates, not matches. Similar-looking strangers are common, and errors are much "
    "more likely when photos were taken years apart, are small or blurred, or show people from groups "
    "under-represented in the models' training data (published: a top model set to mistake a stranger for "
    "the person only once in a million comparisons finds the right person 97% of the time overall, but 75% "
    "on East Asian faces). The score is an uncalibrated "
    "similarity, not a probability. Only a person who compares the photos can confirm a match."
)

SCORE_LABEL = N_("uncalibrated similarity")

#: Added to the caveat wherever the archive cross-check (crosscheck/) shows or exports pairs and groups.
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


def caveat() -> str:
    """CAVEAT in the active language: shown wherever a score is shown."""
    return _(CAVEAT)


def score_label() -> str:
    """SCORE_LABEL in the active language."""
    return _(SCORE_LABEL)


def no_face_hint() -> str:
    """NO_FACE_HINT in the active language (the msgid is written out here, not N_() on the constant, only to
    keep the constant's lines as they were while other branches insert beside them; a test keeps both equal)."""
    return _(
        "No face was found. A larger, sharper photo where the face looks at the camera helps; "
        "crop loosely around the head rather than tightly around the face."
    )


def missing_model(engine: str, folder: str, what: str) -> str:
    """The one message for a model that is not where facematch looks for it."""
    return _(
        "The model files for engine '{engine}' were not found in {folder}. {what} "
        "Put the files there (or set FACEMATCH_MODELS to the folder that holds them); "
        "see models/README.md. facematch never downloads models while it runs.",
        engine=engine,
        folder=folder,
        what=what,
    )


# -- counting ------------------------------------------------------------------------------------
#: Nouns that are counted on screens, with their catalog entries (the plural forms are the language's).
_COUNTED: dict[str, tuple[str, str]] = {
    "face": Nn_("{n} face", "{n} faces"),
    "candidate": Nn_("{n} candidate", "{n} candidates"),
    "year": Nn_("{n} year", "{n} years"),
    "rejected candidate": Nn_("{n} rejected candidate", "{n} rejected candidates"),
    "search": Nn_("{n} search", "{n} searches"),
    "pair": Nn_("{n} pair", "{n} pairs"),
}


def count(n: int, noun: str) -> str:
    """ "1 face" / "2 faces" in the active language, for a noun in the catalog (see _COUNTED)."""
    one, many = _COUNTED[noun]
    return ngettext(one, many, n)


def plural(n: int, one: str, many: str | None = None) -> str:
    """ "1 candidate", "2 candidates", "1,204 searches": every count on every screen goes through here.

    A noun the catalog knows (face, candidate, year, search, rejected candidate) is said in the active
    language with its plural rule; any other noun is English, as before (translate it by adding it to
    _COUNTED and the catalogs)."""
    if one in _COUNTED and (many is None or many == _COUNTED[one][1].removeprefix("{n} ")):
        return count(n, one)
    if many is None:
        many = one + ("es" if one.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{n:,} {one if n == 1 else many}"


def round_number(x: float) -> str:
    """A count as people say it: 2 significant digits, rounded to a whole number, words for millions ("1,600",
    "3.2 million"; "1.600", "3,2 milyon"; "1,600", "320万"). Rounded, not cut: 1.7 is "2", so a sentence that
    says "about {n} strangers" for 1.5 and more never reads "about 1 strangers"."""
    lang = i18n.current()
    two = float(f"{x:.2g}")
    if lang != i18n.SOURCE:
        from babel.numbers import format_compact_decimal, format_decimal

        big = 1e4 if lang.startswith("zh") else 1e6  # Chinese counts in 万 (ten thousand) and 亿
        if two >= big:
            return format_compact_decimal(two, format_type="long", fraction_digits=1, locale=i18n.locale())
        return format_decimal(int(two + 0.5), locale=i18n.locale())
    if x >= 1e9:
        return f"{float(f'{x / 1e9:.2g}'):g} billion"
    if x >= 1e6:
        return f"{float(f'{x / 1e6:.2g}'):g} million"
    return f"{int(two + 0.5):,}"


def _nice_floor(x: float) -> float:
    """x rounded *down* to 1, 2 or 5 times a power of ten, so "fewer than 1 in N" stays true.

    A relative tolerance of 1e-9 keeps a float just under a power of ten (1 / 1e-5 = 99999.99999999999,
    which "{:e}" rounds up to 1e5) from finding no step at all."""
    y = x * (1 + 1e-9)
    k = 10 ** int(f"{y:e}".split("e")[1])
    return max(m for m in (1, 2, 5) if m * k <= y) * k


# -- decisions: the one vocabulary ------------------------------------------------------------------
# A person's decision on a candidate face of a case (review.py) or on a pair of archive faces (crosscheck/):
# the stored values, and every way a screen, a report or the CLI says them. Nothing else names a decision.
CONFIRM, REJECT, UNSURE = "confirm", "reject", "unsure"
SAME, DIFFERENT = "same", "different"
CASE_DECISIONS = (CONFIRM, REJECT, UNSURE)
PAIR_DECISIONS = (SAME, DIFFERENT, UNSURE)

#: The short word (inside a sentence or a list, the CLI's "decided: ...").
DECISION_WORDS = {
    CONFIRM: N_("confirm"), REJECT: N_("reject"), UNSURE: N_("unsure"),
    SAME: N_("same person"), DIFFERENT: N_("different people"),
}  # fmt: skip
#: The choices of a decision form.
DECISION_CHOICES = {
    CONFIRM: N_("Confirm: this is the same person"), REJECT: N_("Reject: not the same person"),
    UNSURE: N_("Unsure: cannot tell"), SAME: N_("Same person"), DIFFERENT: N_("Different people"),
}  # fmt: skip
#: A case decision as a state (the report's table).
DECISION_LABELS = {CONFIRM: N_("Confirmed by a person"), REJECT: N_("Rejected"), UNSURE: N_("Unsure")}
#: Who decided, and when.
DECIDED_BY = {
    CONFIRM: N_("Confirmed by {who} on {when}"), REJECT: N_("Rejected by {who} on {when}"),
    UNSURE: N_("Marked unsure by {who} on {when}"), SAME: N_("Decided the same person by {who} on {when}"),
    DIFFERENT: N_("Decided different people by {who} on {when}"),
}  # fmt: skip


def decision_word(decision: str) -> str:
    """ "confirm" / "reject" / "unsure" / "same person" / "different people" in the active language."""
    return _(DECISION_WORDS[decision]) if decision in DECISION_WORDS else decision


def decision_choice(decision: str) -> str:
    """A decision form's choice ("Confirm: this is the same person") in the active language."""
    return _(DECISION_CHOICES[decision])


def decision_label(decision: str) -> str:
    """ "Confirmed by a person" / "Rejected" / "Unsure" in the active language."""
    return _(DECISION_LABELS[decision])


def decided_by(decision: str, who: str, ts: float) -> str:
    """ "Confirmed by Ayşe on 29 Kas 2026 14:05": the decision, its reviewer (isolated) and its moment."""
    return _(DECIDED_BY[decision], who=isolate(who), when=moment(ts))


def isolate(text: object) -> str:
    """A name, file name, year or number inside a sentence. In a right-to-left language it is isolated (Unicode
    FSI ... PDI: the <bdi> of plain text, which also works in widget labels, alerts and terminals), so "Alim
    Ahmat, 1972" keeps its own order inside Uyghur and does not pull the punctuation around it to the wrong side."""
    return f"\u2068{text}\u2069" if i18n.is_rtl() else str(text)


def moment(ts: float) -> str:
    """A date and time as the language writes dates (29 Kas 2026 14:05, 2026年11月29日 14:05); English keeps the
    ISO form (2026-11-29 14:05). Isolated inside a right-to-left sentence."""
    import time

    if i18n.current() == i18n.SOURCE:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
    return isolate(f"{i18n.format_date(ts)} {time.strftime('%H:%M', time.localtime(ts))}")


# -- documents (report.py) --------------------------------------------------------------------------


def html_lang_dir() -> str:
    """``lang="ug" dir="rtl"`` for a document's <html> element in the active language, so that browsers lay
    Uyghur out right to left and pick fonts by language (zh-Hans forms, not Japanese ones)."""
    return f'lang="{i18n.html_lang()}" dir="{i18n.direction()}"'


# -- search output (cli.py) ------------------------------------------------------------------------
def faces_found(photo: str, n: int) -> str:
    """ "family.jpg: 2 faces found" (one sentence, so the count's grammar is the language's)."""
    return _("{photo}: {faces} found", photo=photo, faces=count(n, "face"))


def search_summary(candidates: int, gallery: int, engine: str, fused: bool = False, lifted: bool = False) -> str:
    """The line above the candidate list: how many, from how many faces, how, and what the score is."""
    return _(
        "{candidates} from {faces} in the index{fused}{lifted}; score = {score}, engine {engine}",
        candidates=count(candidates, "candidate"),
        faces=count(gallery, "face"),
        fused=_(" (the photos are combined into one query)") if fused else "",
        lifted=_(", lifted a little where records agree with what the family knows") if lifted else "",
        score=score_label(),
        engine=engine,
    )


# -- calibrated strength (calibration.py) -------------------------------------------------------
#: How each band is said. Even the strongest never says "match": a person compares the photos.
BAND_TEXT = {
    "strong": N_("strong resemblance — still needs a person to compare"),
    "possible": N_("possible resemblance — compare carefully; strangers this similar are not rare"),
    "weak": N_("weak resemblance — no more similar than strangers in an archive this size"),
}
#: The same once a person has decided on the candidate (the advice to compare is done).
BAND_DECIDED = {
    "strong": N_("strong resemblance"),
    "possible": N_("possible resemblance"),
    "weak": N_("weak resemblance"),
}


def band_text(band: str, decided: bool = False) -> str:
    """A band's words in the active language (BAND_TEXT, or BAND_DECIDED once a person has decided)."""
    return _((BAND_DECIDED if decided else BAND_TEXT)[band])


UNCALIBRATED = N_("uncalibrated similarity (no calibration for this engine's exact weights, so no stranger count)")


def uncalibrated() -> str:
    """UNCALIBRATED in the active language."""
    return _(UNCALIBRATED)


#: Where the counts come from, when the calibration does not say (the shipped tables: LFW).
DEFAULT_SOURCE = N_("unrelated people in LFW (mostly white adults, photos taken without an age gap)")
ARCHIVE_CALIBRATION_NOTE = N_(
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
    gives the note for counts estimated from the archive itself (calibration.ArchiveCalibration). A source
    other than the default is shown as given (it comes from the calibration file, in English).
    """
    if source == "archive estimate":
        return _(ARCHIVE_CALIBRATION_NOTE)
    if source == "reference table":
        source = None
    return _(
        "How often a stranger looks this similar is counted on {source}, scaled to the "
        "number of faces in this archive. For the people in these archives, and for photos taken years apart, "
        "strangers tend to look more alike: the real number is likely larger.",
        source=source or _(DEFAULT_SOURCE),
    )


CALIBRATION_NOTE = calibration_note()  # English: computed at import, before any language is chosen


#: What each engine is, in a family's words (the app shows it beside the scores).
ENGINE_WORDS = {
    "sface": N_("sface (YuNet + SFace: free models that come with facematch)"),
    "dlib": N_("dlib (an older, free model; less accurate than sface on East Asian faces and across years)"),
}
STRONGER_PACK = "buffalo_l"


def engine_note(engine: str, calibrated: bool = True) -> str:
    """Which model compared the faces, and how a stronger one is added.

    Why: accuracy depends on the model more than on anything else; a caseworker justifying a decision
    must be able to say which one produced the scores, and an organisation should know a stronger
    model exists, what it takes (internet once, a non-commercial licence) and the three commands.
    """
    name = engine.split("@", 1)[0]
    if name.startswith("insightface:"):
        words = _("insightface {pack} (ArcFace; non-commercial research licence)", pack=name.split(":", 1)[1])
        stronger = ""
    else:
        words = _(ENGINE_WORDS[name]) if name in ENGINE_WORDS else name
        p = STRONGER_PACK
        stronger = " " + _(
            "A stronger model (insightface {pack}, non-commercial licence) can be added by someone with "
            "internet once: `facematch models fetch {pack}`, then `facematch evaluate calibrate --images "
            "LFW_DIR --engine insightface:{pack} --install`, then `facematch index PHOTO_DIR --engine "
            "insightface:{pack}`.",
            pack=p,
        )
    uncal = "" if calibrated else " " + _("This model has no stranger counts yet, so no strengths are shown.")
    return _("Faces compared with {words}.", words=words) + uncal + stronger


def strangers(
    expected: float, fpr: float | None = None, bound: bool = False, gallery: int | None = None,
    upper_bound: bool = False,
) -> str:  # fmt: skip
    """Strangers at least this similar, in words and rounded numbers (never "6.1e-06").

    `expected` = fpr x faces in the archive (`gallery`); `bound` says the score is above every stranger
    measured, so the rate is an upper bound (`upper_bound`: the same, by its earlier name). Always names
    "strangers" and the archive; the caveat about where the counts come from is calibration_note, shown
    once beside them.

    One scale throughout, strangers in this archive ("about 3", "about 1", "fewer than 1 ... (about a 1 in 20
    chance that one would)"), so a family can compare two cards. Whole sentences are in the catalog (not pieces
    glued in English order); "this archive" carries the context "in" (Turkish and Uyghur mark it with a case
    ending).
    """
    bound = bound or upper_bound
    faces = count(gallery, "face") if gallery else ""

    def archive(where: str) -> str:  # a literal context, so that pybabel extracts it
        return pgettext("in", "this archive of {faces}", faces=faces) if gallery else pgettext("in", "this archive")

    if expected >= 1.5:
        n = round_number(expected)
        if bound:
            return _("at most about {n} strangers in {archive} would look this similar", n=n, archive=archive("in"))
        return _("about {n} strangers in {archive} would look this similar", n=n, archive=archive("in"))
    if expected >= 0.5:
        if bound:
            return _("at most about 1 stranger in {archive} would look this similar", archive=archive("in"))
        return _("about 1 stranger in {archive} would look this similar", archive=archive("in"))
    # Below one stranger: still counted in strangers in this archive, so neighbouring cards read on one scale
    # ("about 1 stranger", "fewer than 1 stranger"), with the odds that even one would look this similar.
    one_in = 1.0 / max(expected, 1e-12)
    if one_in < 10:
        return _(
            "fewer than 1 stranger in {archive} would look this similar (about a 1 in {n} chance that one would)",
            n=i18n.format_number(round(one_in)),
            archive=archive("in"),
        )
    nice = _nice_floor(one_in)
    n = round_number(nice)
    if not bound and nice >= one_in * 0.99:  # 1 in 1,000 exactly: "about"
        return _("fewer than 1 stranger in {archive} would look this similar (about a 1 in {n} chance that one would)",
                 n=n, archive=archive("in"))  # fmt: skip
    return _(
        "fewer than 1 stranger in {archive} would look this similar (less than a 1 in {n} chance that one would)",
        n=n, archive=archive("in"),
    )  # fmt: skip


def candidate_strength(c: object, gallery: int | None = None, decided: bool = False) -> str:
    """The strength line of a search candidate (search.Candidate), or the uncalibrated label: what the CLI,
    the app and the report print for it."""
    band, expected = getattr(c, "band", None), getattr(c, "expected_strangers", None)
    if band is None or expected is None:
        return uncalibrated()
    return strength(band, expected, bool(getattr(c, "bound", False)), fpr=getattr(c, "fpr", None), gallery=gallery,
                    decided=decided)  # fmt: skip


def strength(
    band: str, expected: float, bound: bool = False, *, fpr: float | None = None, gallery: int | None = None,
    decided: bool = False,
) -> str:  # fmt: skip
    """One line per candidate: the band's words, then the stranger count. Once a person has decided on the
    candidate, the band says only how strong the resemblance is (no "still needs a person to compare")."""
    return _("{band}; {strangers}", band=band_text(band, decided), strangers=strangers(expected, fpr, bound, gallery))


# -- records, names and facts (records.py, names.py, combined.py) ---------------------------------
#: A name that agrees is a reason to look, never a "match".
NAME_AGREES = N_("name agrees: {reason}")
NO_PHOTO = N_("no photo in the archive")
PHOTO_NOT_INDEXED = N_("the archive names a photo for this record, but that photo is not in this index")
PHOTO_NO_QUERY = N_("has a photo in the archive: upload a photo of your relative to compare the faces")
PHOTO_NO_FACE = N_("no face was found in this record's archive photo")
SAME_COUNTY = N_("same county")
FACTS_NOTE = N_(
    "What the family knows lifts a candidate a little (0.10 for a name that agrees, 0.05 for the same county "
    "or a birth year within the margin) and says why. It never hides a candidate, never changes a decision, "
    "and is no substitute for comparing the faces: archive records can be wrong, and many people share a name."
)
NAMES_CAVEAT = N_(
    "Names are compared by how they sound across scripts and spellings. Many people share a name, and a "
    "Chinese transcription can fit several Uyghur names: a name that agrees is a reason to look, not an answer."
)


def no_photo() -> str:
    """NO_PHOTO in the active language."""
    return _(NO_PHOTO)


def photo_not_indexed() -> str:
    """PHOTO_NOT_INDEXED in the active language."""
    return _(PHOTO_NOT_INDEXED)


def photo_no_query() -> str:
    """PHOTO_NO_QUERY in the active language."""
    return _(PHOTO_NO_QUERY)


def photo_no_face() -> str:
    """PHOTO_NO_FACE in the active language."""
    return _(PHOTO_NO_FACE)


def same_county() -> str:
    """SAME_COUNTY in the active language."""
    return _(SAME_COUNTY)


def facts_note() -> str:
    """FACTS_NOTE in the active language."""
    return _(FACTS_NOTE)


def names_caveat() -> str:
    """NAMES_CAVEAT in the active language."""
    return _(NAMES_CAVEAT)


def name_agrees(reason: str) -> str:
    return _(NAME_AGREES, reason=reason)


def name_reason(reason: str) -> str:
    """A name among other agreeing facts (the line already says "agrees")."""
    return _("name ({reason})", reason=reason)


AGREES = N_("Agrees with what the family knows: ")
DIFFERS = N_("Does not agree with what the family knows: ")


def agrees() -> str:
    """AGREES in the active language (a lead-in: the facts follow it)."""
    return _(AGREES)


def differs() -> str:
    """DIFFERS in the active language (a lead-in: the facts follow it)."""
    return _(DIFFERS)


def no_name_hits(names: list[str] | tuple[str, ...], threshold: float, records: int | None = None) -> str:
    """Why the family's names found no record: the archive has none (`records` == 0), or none close enough."""
    if records == 0:
        return _("This archive has no records (names, dates) to look names up in: only the faces are compared.")
    shown = ", ".join(isolate(n) for n in names)
    closeness = f"{threshold:g}" if i18n.current() == i18n.SOURCE else i18n.format_number(threshold)
    return _(
        "No archive record has a name close enough to {names} (closeness {threshold} of 100). Try other "
        "spellings (as a Chinese clerk may have written it, or in Uyghur script), or ask for less close names.",
        names=shown,
        threshold=closeness,
    )


def photo_records(n_faces: int) -> str:
    """A record of a whole group photo that does not say which face is its person."""
    return _(
        "record for this photo, which shows {faces}: it may be about someone else in it, so "
        "it is not compared with what the family knows",
        faces=count(n_faces, "face"),
    )


def photo_record_only(n_faces: int) -> str:
    """A face of a group photo whose record does not say which face it is about (the cross-check's wording)."""
    return _(
        "record for this photo, which shows {faces} (it may be about someone else in it)", faces=count(n_faces, "face")
    )


def photo_records_weighed(n_faces: int) -> str:
    return _(
        "record for this photo, which shows {faces} (compared with what the family knows, as asked)",
        faces=count(n_faces, "face"),
    )


def birth_year_agrees(recorded: int, known: int, margin: int) -> str:
    if recorded == known:
        return _("same birth year ({year})", year=recorded)
    return _(
        "birth year within {margin} years (record {recorded}, family {known})",
        margin=margin,
        recorded=recorded,
        known=known,
    )


def birth_year_differs(recorded: int, known: int) -> str:
    return _(
        "record says born {recorded}, {years} years from the family's {known}",
        recorded=recorded,
        years=abs(recorded - known),
        known=known,
    )


def county_differs(recorded: str, known: str) -> str:
    return _("record county {recorded}, the family's {known}", recorded=recorded, known=known)


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

    def when(year: int | None, age: int | None, family_side: bool) -> str:
        if year is None:
            return _("year unknown")
        if age is None:
            if family_side:
                return _("about {year} (age unknown: the family gives no birth year)", year=year)
            return _("about {year} (age unknown: the record gives no birth year)", year=year)
        return _("about {year} (age about {age})", year=year, age=max(age, 0))

    if not family:
        family = [(None, None)]
    sep = _(", ")
    mine = sep.join(when(y, a, True) for y, a in family)
    if all(y is None for y, _y in family):
        mine = _("year unknown (add it beside the photo)")
    archive = when(archive_year, archive_age, False)
    if len(family) == 1:
        text = _("Your photo: {mine}; archive photo: {archive}", mine=mine, archive=archive)
    else:
        text = _("Your photos: {mine}; archive photo: {archive}", mine=mine, archive=archive)
    if years is not None:
        if years:
            text += _("; {years} apart", years=count(abs(years), "year"))
        else:
            text += _("; taken about the same year")
    if large:
        text += _(
            ". Faces change a lot over such a gap (and from childhood to adulthood): face similarity is much "
            "less reliable here, so a low score does not rule this person out"
        )
    return text + _(".")


def child_photo(age: int, photo: str = "") -> str:
    if photo:
        return _(
            "Your photo {photo} shows them at about age {age}. A child's face changes a great deal: face "
            "similarity to an adult's archive photo is much less reliable, so look at every candidate the "
            "records point to.",
            photo=photo,
            age=max(age, 0),
        )
    return _(
        "Your photo shows them at about age {age}. A child's face changes a great deal: face "
        "similarity to an adult's archive photo is much less reliable, so look at every candidate the "
        "records point to.",
        age=max(age, 0),
    )


# --- cli, report, exports ---
def link_caveat() -> str:
    """LINK_CAVEAT in the active language: added to the caveat wherever the archive cross-check shows or
    exports pairs and groups."""
    return _(
        "A pair or a group of archive faces is a suggestion that two photos may show the same person, found by "
        "face similarity: it is not an identification. Duplicate images are the same photo saved again, not "
        "evidence about a person. A reviewer's decision on a pair is recorded in the audit log; nothing is "
        "ever copied into an archive record."
    )


def full_link_caveat() -> str:
    """The caveat and the cross-check caveat together, as exports and `link review --json` begin."""
    return f"{caveat()} {link_caveat()}"


def decimal(x: float, digits: int = 1) -> str:
    """A decimal number with a fixed number of digits in the language's way (3.2 / 3,2); English as before."""
    if i18n.current() == i18n.SOURCE:
        return f"{x:,.{digits}f}"
    from babel.numbers import format_decimal

    return format_decimal(round(x, digits), format="#,##0." + "0" * digits if digits else "#,##0", locale=i18n.locale())


def percent(x: float, digits: int = 1) -> str:
    """A fraction as a percentage in the language's way (97.5% / %97,5 / 97.5%); English as before."""
    if i18n.current() == i18n.SOURCE:
        return f"{x:.{digits}%}"
    from babel.numbers import format_percent

    fmt = "#,##0." + "0" * digits + "%" if digits else "#,##0%"
    return format_percent(x, format=fmt, locale=i18n.locale())


def number(n: int) -> str:
    """A count with the language's digit grouping (1,204 / 1.204)."""
    return i18n.format_number(n)


def day(when: float) -> str:
    """A date as the language writes it (29 Nov 2026, 29 Kas 2026, 2026年11月29日); ISO in English as before."""
    if i18n.current() == i18n.SOURCE:
        import time

        return time.strftime("%Y-%m-%d", time.localtime(when))
    return i18n.format_date(when)


#: What a record's fields are called on screens and in reports (records.LABELS keeps these English keys).
RECORD_LABELS = {
    "record": N_("record"),
    "names": N_("names"),
    "born": N_("born"),
    "sex": N_("sex"),
    "ID number": N_("ID number"),
    "address": N_("address"),
    "county": N_("county"),
    "village": N_("village"),
    "detained": N_("detained"),
    "charge": N_("charge"),
    "sentence": N_("sentence"),
    "facility": N_("facility"),
    "photo taken": N_("photo taken"),
    "photos": N_("photos"),
    "source": N_("source"),
}


def record_label(label: str) -> str:
    """A record field's label in the active language (an archive's own column names stay as they were)."""
    return _(RECORD_LABELS[label]) if label in RECORD_LABELS else label


#: Column names of the CSV exports (audit log, cross-check): stable English identifiers in English, translated
#: otherwise, so a caseworker opening one in a spreadsheet reads their language. Programs read the JSON lines,
#: whose keys never change (README, Languages: "Exports and JSON"). Coordinates (x1..y2) and unknown columns stay
#: as they are.
COLUMNS = {
    "decision_id": N_("decision_id"),
    "case_id": N_("case_id"),
    "decided_at_utc": N_("decided_at_utc"),
    "decided_at": N_("decided_at"),
    "reviewer": N_("reviewer"),
    "decision": N_("decision"),
    "photo_sha256": N_("photo_sha256"),
    "photo_path": N_("photo_path"),
    "engine": N_("engine"),
    "similarity_uncalibrated": N_("similarity_uncalibrated"),
    "rank": N_("rank"),
    "note": N_("note"),
    "shown_on_screen": N_("shown_on_screen"),
    "shown": N_("shown"),
    "group": N_("group"),
    "pair": N_("pair"),
    "kind": N_("kind"),
    "score": N_("score"),
    "cosine": N_("cosine"),
    "expected_strangers": N_("expected_strangers"),
    "band": N_("band"),
    "mutual": N_("mutual"),
    "collection_a": N_("collection_a"),
    "collection_b": N_("collection_b"),
    "photo_a": N_("photo_a"),
    "box_a": N_("box_a"),
    "photo_b": N_("photo_b"),
    "box_b": N_("box_b"),
    "reasons": N_("reasons"),
    "duplicate": N_("duplicate"),
    "copies_folded": N_("copies_folded"),
    "low_quality_a": N_("low_quality_a"),
    "low_quality_b": N_("low_quality_b"),
    "why": N_("why"),
}


def column(name: str) -> str:
    """A CSV export's column name in the active language (the name itself when it has no entry)."""
    return _(COLUMNS[name]) if name in COLUMNS else name


AUDIT_COLUMNS = (
    "decision_id", "case_id", "decided_at_utc", "reviewer", "decision", "photo_sha256", "x1", "y1", "x2", "y2",
    "photo_path", "engine", "similarity_uncalibrated", "rank", "note", "shown_on_screen",
)  # fmt: skip


def audit_header() -> list[str]:
    """The audit CSV's header row in the active language."""
    return [column(c) for c in AUDIT_COLUMNS]
