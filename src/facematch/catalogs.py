"""Keep the message catalogs in step with the code: ``python -m facematch.catalogs update|check``.

Why a module and not only ``pybabel`` commands: the extraction needs facematch's own keywords (``N_``,
``Nn_:1,2``, ``pgettext:1c,2``) every time, and Babel flags any message with a ``%`` in it as
``python-format`` (the caveat's "97% of the time" reads as a ``% o`` conversion), after which
``pybabel compile`` rejects every translation that writes "%97". facematch never formats messages with
``%``, so this drops that flag. The result is what ``pybabel extract`` + ``pybabel update`` give, with
those two fixes; README "Languages" shows both ways.

- ``update``: extract the strings from the package into ``locale/facematch.pot`` and merge it into every
  ``locale/<code>/LC_MESSAGES/facematch.po`` (new strings empty, changed ones fuzzy, gone ones dropped).
- ``check``: what ``pybabel compile`` would check (placeholders, plural forms), plus how many entries each
  language has translated; exit 1 if anything is missing or fuzzy.
- ``init CODE``: start a catalog for a new language.
- ``derive``: write ``ug_Latn`` (ULY) and ``ug_Cyrl`` from ``ug`` by transliteration (translit.py), so a fix to
  the Uyghur catalog reaches all three scripts; ``update`` runs it too, and ``check`` fails when they are stale.
  They are never edited by hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from . import i18n
from .names import translit

PACKAGE = Path(__file__).resolve().parent
POT = i18n.LOCALE_DIR / f"{i18n.DOMAIN}.pot"
KEYWORDS: dict[str, object] = {"_": None, "N_": None, "Nn_": (1, 2), "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
WIDTH = 100
#: Catalogs generated from another one: code -> (source code, script for translit.transliterate).
DERIVED: dict[str, tuple[str, str]] = {"ug_Latn": ("ug", "latn"), "ug_Cyrl": ("ug", "cyrl")}


def extract() -> Catalog:
    """Every marked string in the package, with flags fixed (no python-format: facematch uses {names})."""
    from . import __version__

    pot = Catalog(project="facematch", version=__version__, copyright_holder="the facematch authors", fuzzy=False)
    for _file, _line, message, comments, context in extract_from_dir(
        str(PACKAGE), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        pot.add(message, None, auto_comments=comments, context=context)
    for m in pot:
        if m.id:
            m.flags.discard("python-format")
    return pot


def _write(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=WIDTH, no_location=True, sort_output=True, ignore_obsolete=True)


def _read(path: Path, code: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=code, domain=i18n.DOMAIN)


def update() -> None:
    """Re-extract the template and merge it into every language's catalog."""
    pot = extract()
    if POT.exists():
        old = _read(POT)
        if {(m.context, m.id) for m in old if m.id} == {(m.context, m.id) for m in pot if m.id}:
            pot.creation_date = old.creation_date  # no new messages: no date-only churn (and merge conflicts)
    _write(POT, pot)
    for code in i18n.LANGUAGES:
        path = i18n.LOCALE_DIR / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
        if code == i18n.SOURCE or code in DERIVED or not path.exists():
            continue
        po = _read(path, code)
        po.update(pot, no_fuzzy_matching=False)
        for m in po:
            if m.id:
                m.flags.discard("python-format")
        _write(path, po)
        print(f"{code}: {path}")
    derive()


def _po_file(code: str) -> Path:
    return i18n.LOCALE_DIR / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def derived(code: str) -> Catalog:
    """The catalog of ``code`` (a key of DERIVED) as transliterated from its source catalog now."""
    source, script = DERIVED[code]
    src = _read(_po_file(source), source)
    po = Catalog(locale=code, domain=i18n.DOMAIN, project=src.project, version=src.version,
                 copyright_holder="the facematch authors", fuzzy=False)  # fmt: skip
    po.creation_date = src.creation_date
    po.revision_date = src.revision_date
    po.last_translator = f"derived from {source} by facematch.translit (python -m facematch.catalogs derive)"
    po.language_team = f"{code} (transliterated from {source}: machine-assisted, needs review by a native speaker)"
    for m in src:
        if not m.id:
            continue
        strings = m.string if isinstance(m.string, tuple | list) else (m.string,)
        english = m.id[0] if isinstance(m.id, tuple | list) else m.id
        upper = english.lstrip()[:1].isupper()  # a sentence, not a piece of one
        text = tuple(translit.transliterate(t, script, capitalize=upper) if t else t for t in strings)
        po.add(m.id, text if isinstance(m.id, tuple | list) else text[0], context=m.context,
               flags=m.flags - {"python-format"})  # fmt: skip
    return po


def derive() -> None:
    """Regenerate every derived catalog (ug_Latn, ug_Cyrl) from its source."""
    for code in DERIVED:
        path = _po_file(code)
        _write(path, derived(code))
        print(f"{code}: {path} (derived from {DERIVED[code][0]})")


def init(code: str) -> Path:
    """A new, empty catalog for ``code`` (plural forms from Babel's CLDR data)."""
    path = i18n.LOCALE_DIR / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
    if path.exists():
        raise SystemExit(f"{path} exists; use update")
    pot = _read(POT)
    po = Catalog(locale=code, domain=i18n.DOMAIN, project="facematch", copyright_holder="the facematch authors")
    po.language_team = f"{code} (machine-assisted, needs review by a native speaker)"
    po.update(pot)
    _write(path, po)
    return path


def check() -> list[str]:
    """Problems that would show a family English or a broken sentence; empty when every catalog is whole."""
    problems: list[str] = []
    template = {(m.context, m.id) for m in _read(POT) if m.id}
    for code in i18n.LANGUAGES:
        path = i18n.LOCALE_DIR / code / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"
        if code == i18n.SOURCE or not path.exists():
            continue
        po = _read(path, code)
        done = 0
        for m in po:
            if not m.id:
                continue
            strings = m.string if isinstance(m.string, tuple | list) else (m.string,)
            if m.fuzzy:
                problems.append(f"{code}: fuzzy: {m.id!r}")
            elif not all(strings):
                problems.append(f"{code}: untranslated: {m.id!r}")
            else:
                done += 1
        for m in po:
            if m.id:
                m.flags.discard("python-format")  # read_po adds it back from the "%" in "97%"
                problems += [f"{code}: {m.id!r}: {e}" for e in m.check(po)]
        if code in DERIVED:
            fresh = {(m.context, m.id): m.string for m in derived(code) if m.id}
            if {(m.context, m.id): m.string for m in po if m.id} != fresh:
                problems.append(f"{code}: stale or edited by hand (run: python -m facematch.catalogs derive)")
        missing = template - {(m.context, m.id) for m in po if m.id}
        problems += [f"{code}: missing (run update): {mid!r}" for _ctx, mid in missing]
        print(f"{code}: {done} of {len(template)} translated")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m facematch.catalogs", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("update", help="extract the strings and merge them into every catalog")
    sub.add_parser("check", help="every catalog complete, placeholders and plural forms right")
    i = sub.add_parser("init", help="start a catalog for a new language")
    i.add_argument("code")
    sub.add_parser("derive", help="write ug_Latn (ULY) and ug_Cyrl from ug by transliteration")
    args = p.parse_args(argv)
    if args.cmd == "update":
        update()
    elif args.cmd == "derive":
        derive()
    elif args.cmd == "init":
        print(init(args.code))
    problems = check()
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems and args.cmd == "check" else 0


if __name__ == "__main__":
    sys.exit(main())
