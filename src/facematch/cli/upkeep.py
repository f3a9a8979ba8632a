"""Keeping an index and its engines in order: `check`, `backup`, `restore`, `models` (and `models fetch`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import messages
from ..i18n import _, ngettext
from .args import default_index
from .present import dec, num, print_json


def add_parser(sub) -> None:
    """Register check, backup, restore and models: options are added once chosen (args.Parser)."""
    sub.add_parser(
        "check",
        help=_("is the index sound? SQLite, FAISS against SQLite, photos against their hashes"),
        build=_check_options,
    )
    sub.add_parser(
        "backup", help=_("copy an index (database, FAISS, kept case photos) while it is in use"), build=_backup_options
    )
    sub.add_parser(
        "restore", help=_("put a backup in place as an index (an existing one is kept aside)"), build=_restore_options
    )
    sub.add_parser(
        "models", help=_("list face engines, or fetch an insightface pack (needs internet)"), build=_models_options
    )


def _check_options(s) -> None:
    s.add_argument("--index", type=Path, default=None)
    s.add_argument("--repair", action="store_true", help=_("rebuild FAISS files that disagree with the database"))
    s.add_argument("--no-photos", action="store_true", help=_("skip re-hashing every indexed photo (fast)"))
    s.add_argument("--json", action="store_true")
    s.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    s.set_defaults(func=cmd_check)


def _backup_options(s) -> None:
    s.add_argument("index", type=Path)
    s.add_argument("dest", type=Path, help=_("a new folder for the backup"))
    s.set_defaults(func=cmd_backup)


def _restore_options(s) -> None:
    s.add_argument("backup", type=Path)
    s.add_argument("index", type=Path)
    s.add_argument("--force", action="store_true", help=_("replace an existing index (moved into .replaced-<time>)"))
    s.set_defaults(func=cmd_restore)


def _models_options(s) -> None:
    msub = s.add_subparsers()
    f = msub.add_parser(
        "fetch", help=_("download an insightface pack into models/<pack> with insightface's downloader")
    )
    f.add_argument("pack")
    f.set_defaults(func=cmd_models_fetch)
    s.set_defaults(func=cmd_models)


def cmd_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..check import check

    index_dir = args.index or default_index()
    r = check(index_dir, photos=not args.no_photos, repair=args.repair, progress=not (args.quiet or args.json))
    if args.json:
        print_json({"ok": r.ok, **asdict(r)}, default=str)
        return 0 if r.ok else 1
    print(_("Checked {index}:", index=index_dir))
    for fp, facts in r.facts.get("engines", {}).items():
        state = {"ok": _("ok"), "rebuilt": _("rebuilt")}.get(facts["faiss"], _("PROBLEM, see below"))
        print(f"  {fp}: " + _("{faces}; FAISS file: {state}", faces=messages.count(facts["faces"], "face"), state=state)
              + _type_note(facts))  # fmt: skip
    if "photos_checked" in r.facts:
        print("  " + ngettext("{n} photo re-hashed", "{n} photos re-hashed", r.facts["photos_checked"]))
    if "decisions" in r.facts:
        print("  " + ngettext("{n} decision; the log is append-only", "{n} decisions; the log is append-only",
                              r.facts["decisions"]))  # fmt: skip
    for line in r.repaired:
        print("  " + _("repaired: {what}", what=line))
    for p in r.problems:
        print("  " + _("PROBLEM ({what}): {detail}", what=p.what, detail=p.detail))
        print("    " + _("what to do: {fix}", fix=p.fix))
    print(_("The index is sound.") if r.ok else ngettext("{n} problem found.", "{n} problems found.", len(r.problems)))
    return 0 if r.ok else 1


def _type_note(facts: dict) -> str:
    return f" ({facts['index_type']})" if facts.get("index_type") else ""


def cmd_backup(args: argparse.Namespace) -> int:
    from ..backup import backup

    r = backup(args.index, args.dest)
    print(_("Backup written to {dest} in {seconds} s: {faces}, {decisions} decisions, {photos} kept case photos; "
            "checked, sound.", dest=r.dest, seconds=dec(r.seconds), faces=messages.count(r.faces, "face"),
            decisions=num(r.decisions), photos=num(r.case_photos)))  # fmt: skip
    print(_("The archive photos themselves are not in the backup; keep them safe separately."))
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from ..backup import restore

    moved = restore(args.backup, args.index, force=args.force)
    print(_("Restored {backup} into {index}.", backup=args.backup, index=args.index))
    if moved is not None:
        print(_("The index that was there is kept in {folder}.", folder=moved))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from ..engines import ENGINES, models_dir

    print(_("Face engines (model folder: {folder}):", folder=models_dir()))
    for name, what in ENGINES.items():
        print(f"  {name:<20} {what}")  # the engines' own descriptions (technical; English)
    return 0


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from ..engines import models_dir
    from ..engines.insightface_engine import fetch_pack

    path = fetch_pack(args.pack, models_dir())
    name = f"insightface:{args.pack}"
    print(_("insightface pack '{pack}' is in {path} (non-commercial research licence).", pack=args.pack, path=path))
    print(_("Next, so that its scores come with stranger counts and its accuracy is known:"))
    steps = [
        (f"facematch evaluate calibrate --images LFW_DIR --engine {name} --install", _("its stranger-rate table")),
        (f"facematch evaluate search --images LFW_DIR --engine {name}", _("its accuracy, beside sface's")),
        (f"facematch index PHOTO_DIR --engine {name}", _("its faces, beside the others")),
    ]
    for command, what in steps:
        print(f"  {command:<78} # {what}")
    return 0
