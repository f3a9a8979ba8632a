"""Archive records: `records import` (CSV or XLSX into the index) and `records search` (by name, any
script)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import i18n, messages
from ..i18n import _, ngettext
from .args import default_index
from .present import dec, num, print_json


def add_parser(sub) -> None:
    """Register records (import, search): options are added once chosen (args.Parser)."""
    sub.add_parser(
        "records",
        help=_("archive records: import a CSV/XLSX file, search by name in any script"),
        build=_records_options,
    )


def _records_options(s) -> None:
    rsub = s.add_subparsers(title=_("records commands"))
    r = rsub.add_parser("import", help=_("load archive records (CSV or XLSX) into the index; re-importing updates"))
    r.add_argument("file", type=Path)
    r.add_argument("--index", type=Path, default=None)
    r.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="COLUMN=FIELD",
        help=_(
            "read a column as a field (record_id, name, birth_date, birth_year, sex, id_number, address, county, "
            "village, detention_date, charge, sentence, facility, photo, photo_date, source, keep, ignore); repeatable"
        ),
    )
    r.add_argument("--encoding", default=None, help=_("text encoding of a CSV (default: UTF-8, else GB18030)"))
    r.add_argument("--sheet", default=None, help=_("XLSX sheet (default: the first)"))
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_records_import)
    r = rsub.add_parser("search", help=_("records whose name agrees with a name in any script or spelling"))
    r.add_argument("names", nargs="+", help=_("one or more names (several spellings of one person: quote each)"))
    r.add_argument("--index", type=Path, default=None)
    r.add_argument("--threshold", type=float, default=None, help=_("name score needed, 0-100 (default 88)"))
    r.add_argument("--limit", type=int, default=50)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_records_search)
    s.set_defaults(func=lambda args: s.print_help())


def _records_index(args: argparse.Namespace, create: bool):
    from ..index import Index

    return Index.open(args.index or default_index(to_read=not create), create=create)


def cmd_records_import(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..records import import_file

    with _records_index(args, create=True) as index:
        report = import_file(index, args.file, args.map, encoding=args.encoding, sheet=args.sheet)
    if args.json:
        doc = asdict(report)
        doc["problems"] = [str(p) for p in report.problems]
        doc["warnings"] = [str(p) for p in report.warnings]
        print_json(doc)
        return 0
    print(
        _(
            "Records from {file}: {rows} rows read, {records} records ({new} new, {updated} updated); {with_photo} "
            "with a photo, {without_photo} without; {names} names.",
            file=report.file,
            rows=num(report.rows),
            records=num(report.records),
            new=num(report.new),
            updated=num(report.updated),
            with_photo=num(report.with_photo),
            without_photo=num(report.without_photo),
            names=num(report.names),
        )
    )
    fields = {f: [h for h, g in report.columns.items() if g == f] for f in dict.fromkeys(report.columns.values())}
    print(
        "  " + _("columns read as: {columns}", columns="; ".join(f"{f}: {', '.join(hs)}" for f, hs in fields.items()))
    )
    if report.problems:
        print("  " + ngettext("{n} row not read as it was:", "{n} rows not read as they were:", len(report.problems)))
        for p in report.problems:
            print(f"    - {p}")
    if report.warnings:
        print("  " + ngettext("{n} warning (kept as text):", "{n} warnings (kept as text):", len(report.warnings)))
        for p in report.warnings:
            print(f"    - {p}")
    return 0


def cmd_records_search(args: argparse.Namespace) -> int:
    from ..names import THRESHOLD
    from ..names import search as namesearch
    from ..records import record_lines

    threshold = THRESHOLD if args.threshold is None else args.threshold
    with _records_index(args, create=False) as index:
        hits = namesearch.search(index, args.names, threshold=threshold, limit=args.limit)
    if args.json:
        doc = {
            "names": args.names,
            "threshold": threshold,
            "caveat": messages.names_caveat(),
            "hits": [
                {"score": round(h.score, 1), "reason": messages.name_agrees(h.reason), "record": h.record} for h in hits
            ],
        }
        print_json(doc, default=str)
        return 0 if hits else 1
    print(
        ngettext(
            "{n} record with a name that agrees (name score >= {threshold} of 100):",
            "{n} records with a name that agrees (name score >= {threshold} of 100):",
            len(hits),
            threshold=format(threshold, "g") if i18n.current() == i18n.SOURCE else i18n.format_number(threshold),
        )
    )
    for h in hits:
        print(f"\n{dec(h.score):>5}  {messages.name_agrees(h.reason)}")
        for label, text in record_lines(h.record):
            print(f"       {label}: {text}")
        if not h.has_photo:
            print(f"       ({messages.no_photo()})")
    print("\n" + messages.names_caveat())
    return 0 if hits else 1
