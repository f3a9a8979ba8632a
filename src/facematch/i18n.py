"""The message catalog: which language facematch speaks, per thread and per app session.

Why this shape:
- The words a family reads decide whether they understand that a candidate is not a match, so every
  user-facing sentence goes through one gettext catalog per language (``locale/<code>/LC_MESSAGES/
  facematch.po``), written and reviewed as a whole (see TRANSLATIONS.md and docs/glossary.md).
- The ``.po`` files are loaded directly with Babel at run time (compiled to an in-memory ``.mo`` once per
  language and process). There is no build step to forget, no binary ``.mo`` in git that can drift from
  its ``.po``, and ``pip install .`` (not editable) works because the ``.po`` files are package data.
  Parsing the four catalogs takes a few milliseconds.
- The active language is a ``contextvars.ContextVar``: the CLI sets it once; the Streamlit app (one
  thread per browser session, each starting with an empty context) sets it at the top of each run, so
  one family's choice never changes another's screen. Unset, it is English: code that has not chosen a
  language (the app until it is wired, the tests) says exactly what it said before the catalog existed.
- English is the source language: its msgids are the English text, so an untranslated or missing entry
  falls back to English, never to an empty string or a key.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

DOMAIN = "facematch"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE = "en"
#: The languages facematch speaks, in the order a picker shows them (the families' first languages first).
#: ug_Latn (ULY) and ug_Cyrl are derived from ug by transliteration (translit.py; catalogs.py derive).
LANGUAGES: tuple[str, ...] = ("ug", "ug_Latn", "ug_Cyrl", "tr", "zh_Hans", "en")
#: Uyghur in Latin and Cyrillic script: Babel's CLDR data knows only Arabic-script Uyghur (right to left, named
#: in Arabic script), so these two say their own name and direction; numbers and plurals are Uyghur's.
SCRIPT_VARIANTS: dict[str, tuple[str, str]] = {"ug_Latn": ("Uyghurche (ULY)", "ltr"), "ug_Cyrl": ("Уйғурчә", "ltr")}
#: Where gettext looks for the user's language, in its order.
ENV_VARS = ("LC_ALL", "LC_MESSAGES", "LANG")

_current: ContextVar[str] = ContextVar("facematch_language", default=SOURCE)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it (module-level constants, dict values).

    The constant keeps its English text, so existing imports (``messages.CAVEAT``) do not change; the
    translated text is looked up where it is shown, with ``_(CONSTANT)``.
    """
    return message


#: A language code facematch has no catalog for (said in the language already active).
UNKNOWN_LANGUAGE = N_("unknown language {code}; facematch speaks: {languages}")


def Nn_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 (gettext's naming)
    """Mark a singular/plural pair for extraction (``pybabel extract -k Nn_:1,2``); ngettext picks the form."""
    return singular, plural


def available() -> tuple[str, ...]:
    """The language codes with a catalog (and English, the source), picker order."""
    return tuple(c for c in LANGUAGES if c == SOURCE or _po_path(c).exists())


def normalize(code: str | None) -> str | None:
    """A language code as the catalogs name it, or None if facematch does not speak it.

    Accepts what users and environments write: ``tr_TR.UTF-8``, ``tr-TR``, ``zh_CN``, ``zh-Hans``, ``zh``
    (Simplified Chinese: the script of the archives and of mainland China), ``ug_CN``, ``ug-Arab``,
    ``ug-Latn`` (ULY), ``ug-Cyrl``, ``ug_KZ.UTF-8@cyrillic`` (Cyrillic, as glibc writes scripts), ``en_US``. ``C`` and
    ``POSIX`` are English.
    """
    if not code:
        return None
    code, _at, modifier = code.strip().partition("@")
    code = code.split(".", 1)[0].replace("-", "_")
    if modifier.lower().startswith(("cyrillic", "latin")) and code.lower().startswith("ug"):
        code = "ug_Cyrl" if modifier.lower().startswith("cyrillic") else "ug_Latn"
    if code in ("C", "POSIX"):
        return SOURCE
    lower = {c.lower(): c for c in LANGUAGES}
    if code.lower() in lower:
        return lower[code.lower()]
    parts = code.split("_")
    lang = parts[0].lower()
    if lang == "zh":
        rest = {p.lower() for p in parts[1:]}
        # Traditional Chinese is not Simplified: better English than the wrong script.
        return None if rest & {"hant", "tw", "hk", "mo"} else "zh_Hans"
    if lang == "ug":
        rest = {p.lower() for p in parts[1:]}
        if "latn" in rest:
            return "ug_Latn"  # ULY
        return "ug_Cyrl" if "cyrl" in rest else "ug"
    return lower.get(lang)


def from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language the environment asks for (LC_ALL, then LC_MESSAGES, then LANG, as gettext reads them),
    or English. A variable naming a language facematch does not speak is skipped, as gettext does with
    LANGUAGE lists, rather than ending in English when a later one would do."""
    env = os.environ if environ is None else environ
    for var in ENV_VARS:
        value = env.get(var, "")
        if value:
            code = normalize(value)
            if code is not None:
                return code
            if var == "LC_ALL":  # LC_ALL overrides the rest even when we cannot follow it
                return SOURCE
    return SOURCE


def choose(cli_lang: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """``--lang`` if given, else the environment, else English (the CLI's rule)."""
    if cli_lang:
        code = normalize(cli_lang)
        if code is None:
            raise ValueError(_(UNKNOWN_LANGUAGE, code=repr(cli_lang), languages=", ".join(available())))
        return code
    return from_environment(environ)


def current() -> str:
    """The active language of this thread / app session."""
    return _current.get()


def set_language(code: str | None) -> str:
    """Make ``code`` the active language of this context (thread, Streamlit session run) and return it.

    An unknown code raises ValueError rather than silently showing English to someone who asked for
    Uyghur. ``None`` means English.
    """
    norm = SOURCE if code is None else normalize(code)
    if norm is None:
        raise ValueError(_(UNKNOWN_LANGUAGE, code=repr(code), languages=", ".join(available())))
    _current.set(norm)
    return norm


@contextlib.contextmanager
def language(code: str | None) -> Iterator[str]:
    """``with language("tr"): ...``: speak ``code`` inside the block, then what was active before
    (a report written in the family's language from an app shown in the caseworker's)."""
    norm = SOURCE if code is None else normalize(code)
    if norm is None:
        raise ValueError(_(UNKNOWN_LANGUAGE, code=repr(code), languages=", ".join(available())))
    token = _current.set(norm)
    try:
        yield norm
    finally:
        _current.reset(token)


def locale(code: str | None = None) -> Locale:
    """Babel's Locale for ``code`` (default: the active language): plural rules, number and date formats."""
    return _locale(code or current())


@functools.cache
def _locale(code: str) -> Locale:
    try:
        return Locale.parse(code)
    except (UnknownLocaleError, ValueError):
        return Locale.parse(SOURCE)


def is_rtl(code: str | None = None) -> bool:
    """Whether ``code`` (default: the active language) is written right to left (Uyghur in Arabic script)."""
    code = code or current()
    if code in SCRIPT_VARIANTS:
        return SCRIPT_VARIANTS[code][1] == "rtl"
    return locale(code).character_order == "right-to-left"


def direction(code: str | None = None) -> str:
    """``"rtl"`` or ``"ltr"``, for HTML's ``dir`` attribute."""
    return "rtl" if is_rtl(code) else "ltr"


def html_lang(code: str | None = None) -> str:
    """The BCP 47 tag for HTML's ``lang`` attribute (``zh-Hans``, ``ug``), so browsers pick the right font."""
    return (code or current()).replace("_", "-")


def display_name(code: str) -> str:
    """A language's name in itself (ئۇيغۇرچە, Türkçe, 中文 (简体), English), for a picker."""
    if code in SCRIPT_VARIANTS:
        return SCRIPT_VARIANTS[code][0]
    return _locale(code).display_name or code


def _po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(code: str) -> NullTranslations:
    """The compiled catalog of ``code``, parsed from its ``.po`` once per process (English: none needed).

    Fuzzy entries are left out: a translation a person marked as doubtful shows the English instead.
    """
    path = _po_path(code)
    if code == SOURCE or not path.exists():
        return NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=code, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


def _t() -> NullTranslations:
    return translations(current())


def _(message: str, /, **kwargs: object) -> str:
    """The active language's text for ``message``, with named ``{placeholders}`` filled in after translation
    (so a translator can move them; positional ``%s`` cannot be reordered)."""
    text = _t().gettext(message)
    return text.format(**kwargs) if kwargs else text


gettext = _


def ngettext(singular: str, plural: str, n: int, /, **kwargs: object) -> str:
    """The form of the message for ``n`` by the language's plural rule (CLDR, via the catalog's
    Plural-Forms: Chinese has one form, Turkish and Uyghur two). ``{n}`` is filled with ``n`` formatted
    for the language unless given."""
    text = _t().ngettext(singular, plural, n)
    kwargs.setdefault("n", format_number(n))
    return text.format(**kwargs)


def pgettext(context: str, message: str, /, **kwargs: object) -> str:
    """``_`` with a context, for one English phrase that other languages say differently by where it
    stands (Turkish cases: "in this archive" and "searches of this archive" differ)."""
    text = _t().pgettext(context, message)
    return text.format(**kwargs) if kwargs else text


def format_number(n: float, code: str | None = None) -> str:
    """A number with the language's digit grouping (1,204 / 1.204): Babel's CLDR data."""
    from babel.numbers import format_decimal

    code = code or current()
    if code == SOURCE and isinstance(n, int):
        return f"{n:,}"  # exactly what English said before the catalog
    return format_decimal(n, locale=_locale(code))


def format_date(when: float, code: str | None = None, fmt: str = "medium") -> str:
    """A date (from a Unix time) as the language writes it (29 Kas 2026, 2026年11月29日)."""
    import datetime as dt

    from babel.dates import format_date as babel_format_date

    day = dt.datetime.fromtimestamp(when).date()
    return babel_format_date(day, format=fmt, locale=_locale(code or current()))
