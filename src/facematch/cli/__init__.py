"""The `facematch` command line: parses arguments, calls the library, prints the result.

No face, index or search logic lives here; the app calls the same library functions. `main` is the
console script's entry point (`facematch = facematch.cli:main`) and `python -m facematch.cli`.

This module owns what is common to every command: the language (from --lang, else the environment,
chosen before the parser is built so that --help speaks it), the top parser assembling each command
group's subparsers in the order `--help` lists them, and how a command ends (exit codes, the library's
messages, Ctrl-C). The groups: `search` (index, retrain, search, info, demo), `team` (app, users),
`evaluate`, `records`, `link`, `upkeep` (check, backup, restore, models); `present` formats what several
commands show; `args` holds what their arguments share. Each command's options are added only when it
is chosen (`args.Parser`), so `facematch --help` imports no face engine, FAISS or Streamlit.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__, i18n
from ..i18n import _
from . import evaluate, link, records, search, team, upkeep
from .args import Parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        lang = i18n.choose(_lang_arg(argv))  # --lang, else LC_ALL / LC_MESSAGES / LANG, else English
    except ValueError as e:
        _parser().error(str(e))
    with i18n.language(lang):  # restored afterwards: main() is also called in-process (tests)
        parser = _parser()  # built in the language, so that --help speaks it too
        args = parser.parse_args(argv)
        return _run(parser, args)


def _lang_arg(argv: list[str]) -> str | None:
    """--lang's value, read before argparse (whose help texts are written in the language it names)."""
    for i, a in enumerate(argv):
        if a == "--":
            break
        if a == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--lang="):
            return a.split("=", 1)[1]
    return None


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(
            "\n" + _("Stopped. Everything finished so far is saved; run the same command again to continue."),
            file=sys.stderr,
        )
        return 130
    except (FileNotFoundError, ValueError, RuntimeError, PermissionError) as e:  # VaultError is a RuntimeError
        print(f"facematch: {e}", file=sys.stderr)  # library messages are already in the active language
        return 2


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="facematch",
        description=_(
            "Suggest candidate faces from a photo archive for a person to review. The tool suggests; people decide."
        ),
    )
    p.add_argument("--version", action="version", version=f"facematch {__version__}")
    p.add_argument(
        "--lang",
        default=None,
        metavar="CODE",
        help=_(
            "language of the messages: {codes} (default: LC_ALL / LC_MESSAGES / LANG, else en)",
            codes=", ".join(i18n.LANGUAGES),
        ),  # fmt: skip
    )
    sub = p.add_subparsers(title=_("commands"))

    search.add_parser(sub)
    team.add_parser(sub)
    evaluate.add_parser(sub)
    records.add_parser(sub)
    link.add_parser(sub)
    upkeep.add_parser(sub)
    return p
