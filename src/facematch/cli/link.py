"""The archive cross-checked against itself: `link` (the run) and its `review`, `decide`, `groups`,
`duplicates` and `export`."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import messages
from ..i18n import _, ngettext
from .args import default_index
from .present import dec, num, print_json


def add_parser(sub) -> None:
    """Register link (and review, decide, groups, duplicates, export): options are added once chosen (args.Parser)."""
    sub.add_parser(
        "link",
        help=_(
            "cross-check the archive against itself: candidate pairs of faces that may show the same person, "
            "duplicate images, groups; review them (`link review --next`, `link decide`)"
        ),
        build=_link_options,
    )


def _link_options(s) -> None:
    s.add_argument("--index", type=Path, default=None)
    s.add_argument(
        "--engine",
        default=None,
        help=_("engine to link (default: each engine of the index in turn, one after another)"),
    )
    s.add_argument("--across", action="store_true", help=_("only pairs between different collections"))
    s.add_argument("-k", type=int, default=20, help=_("nearest archive faces kept per face (default 20)"))
    s.add_argument(
        "--min-band",
        choices=["strong", "possible", "weak"],
        default="possible",
        help=_("keep pairs at least this strong (default possible; weak keeps all); duplicates are always kept"),
    )
    s.add_argument("--resume", action="store_true", help=_("continue an interrupted run (what every run does anyway)"))
    s.add_argument("--full", action="store_true", help=_("link every face again, not only those not linked yet"))
    s.add_argument("--nprobe", type=int, default=None, help=_("inverted lists visited on an approximate index"))
    s.add_argument(
        "--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
        help=_("rank the blocks of faces as Ray tasks (the 'cluster' extra): a private local Ray without ADDRESS"),
    )  # fmt: skip
    s.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_link)
    lsub = s.add_subparsers(title=_("review and export"))

    def common(c: argparse.ArgumentParser) -> None:
        c.add_argument("--index", type=Path, default=argparse.SUPPRESS)
        c.add_argument("--engine", default=argparse.SUPPRESS)
        c.add_argument("--json", action="store_true", default=argparse.SUPPRESS)

    c = lsub.add_parser("review", help=_("the review queue: pairs by strength (undecided first with --next)"))
    common(c)
    c.add_argument(
        "--next", nargs="?", type=int, const=1, default=None, metavar="N",
        help=_("the next N pairs no one has decided yet, strongest first, each with its band, going past --band "
               "when its pairs run out (without N: the strongest one)"),
    )  # fmt: skip
    c.add_argument(
        "--band", choices=["strong", "possible", "weak"], default="possible",
        help=_("list pairs of at least this band (default possible; --next N goes past it by count)"),
    )  # fmt: skip
    c.add_argument("--limit", type=int, default=20, help=_("pairs to list (default 20)"))
    c.add_argument("--all", action="store_true", help=_("decided pairs too"))
    c.set_defaults(func=cmd_link_review)
    c = lsub.add_parser("decide", help=_("record a decision on a pair: same, different or unsure (append-only log)"))
    common(c)
    c.add_argument("pair", help=_("the pair, as listed (two face ids joined by '-', e.g. 12-345)"))
    c.add_argument("decision", choices=["same", "different", "unsure"])
    c.add_argument("--reviewer", required=True, help=_("who decides (recorded with the decision)"))
    c.add_argument("--why", default="", help=_("why (recorded with the decision)"))
    c.set_defaults(func=cmd_link_decide)
    c = lsub.add_parser("groups", help=_("groups 'possibly the same person' (strong mutual pairs; never merged)"))
    common(c)
    c.set_defaults(func=cmd_link_groups)
    c = lsub.add_parser("duplicates", help=_("duplicate images (the same photo saved again), apart from persons"))
    common(c)
    c.set_defaults(func=cmd_link_duplicates)
    c = lsub.add_parser(
        "export", help=_("pairs, duplicates, groups and decisions as CSV and JSON lines, with the caveat")
    )
    common(c)
    c.add_argument("out", type=Path, help=_("folder to write into"))
    c.set_defaults(func=cmd_link_export)


def _link_engines(index_dir: Path, requested: str | None) -> list[str]:
    """The engines to link: the one asked for, else every engine of the index with faces, each on its own
    (embeddings of two engines are never compared)."""
    from ..index import Index

    with Index.open(index_dir) as index:
        if requested is not None:
            return [index.engine(requested)]
        return [fp for fp, n in index.engines().items() if n > 0] or [index.engine(None)]


def cmd_link(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..crosscheck.run import link

    index_dir = args.index or default_index()
    engines = _link_engines(index_dir, args.engine)
    reports = []
    for fp in engines:
        if len(engines) > 1 and not args.json:
            print(_("Engine {engine} (each engine is linked on its own; choose one with --engine):", engine=fp))
        r = link(
            index_dir, fp, k=args.k, across=args.across, min_band=args.min_band, full=args.full,
            progress=not (args.quiet or args.json), nprobe=args.nprobe, ray=args.ray,
        )  # fmt: skip
        reports.append(r)
        if not args.json:
            stopped = _(", interrupted: run again to continue") if r.interrupted else ""
            print("  " + _("{faces}: {linked} linked now, {already} already linked{stopped}; in {seconds} s",
                           faces=messages.count(r.faces, "face"), linked=num(r.linked), already=num(r.already),
                           stopped=stopped, seconds=dec(r.seconds))
                  + (f" (nprobe {r.nprobe})" if r.nprobe else ""))  # fmt: skip
            band = messages.band_text(args.min_band, decided=True)
            pairs, dups = r.pairs.get("person", 0), r.pairs.get("duplicate", 0)
            if args.across:
                text = ngettext(
                    "{n} candidate pair (may be the same person; between collections only, at least '{band}'), "
                    "{duplicates} duplicate images.",
                    "{n} candidate pairs (may be the same person; between collections only, at least '{band}'), "
                    "{duplicates} duplicate images.", pairs, band=band, duplicates=num(dups))  # fmt: skip
            else:
                text = ngettext(
                    "{n} candidate pair (may be the same person; at least '{band}'), {duplicates} duplicate images.",
                    "{n} candidate pairs (may be the same person; at least '{band}'), {duplicates} duplicate images.",
                    pairs, band=band, duplicates=num(dups))  # fmt: skip
            print("  " + text)
    if args.json:
        print_json([asdict(r) for r in reports], ascii=True)
    else:
        print(_("Review them with `facematch link review --next --index {index}`.", index=index_dir))
        print(messages.link_caveat())
    return 0


def _crosscheck(args: argparse.Namespace):
    """The open index and its pairs to read: reading, deciding and exporting pairs needs no face model."""
    from ..crosscheck import CrossCheck
    from ..index import Index

    index = Index.open(getattr(args, "index", None) or default_index())
    try:
        return index, CrossCheck(index, engine=getattr(args, "engine", None))
    except BaseException:
        index.close()
        raise


def _print_pair(cc, p, n: int | None = None) -> None:
    from ..crosscheck import pair_lines, record_summary

    kind = {"person": _("may be the same person"), "duplicate": _("duplicate image")}.get(p.kind, p.kind)
    head = _("pair {pair}  ({kind})", pair=p.id, kind=kind)
    if n is not None:
        band = messages.band_text(p.band, decided=True) if p.band else _("no band")
        head = f"#{num(n)}  {head}  [{band}]"
    print(head)
    for side, f in (("A", p.a), ("B", p.b)):
        print(f"  {side}: {f.path}  " + _("face box {box}", box=[round(v) for v in f.box])
              + f"  sha256 {(f.sha256 or '')[:16]}")  # fmt: skip
        print(f"     {record_summary(cc.index, f)}")
        for line in cc.linked_records(f):
            print(f"     {line}")
    for line in pair_lines(p, cc.gallery_size):
        print(f"  {line}")
    if p.copies:
        print(
            "  "
            + ngettext(
                "{n} more pair through copies of these images folded into this one",
                "{n} more pairs through copies of these images folded into this one",
                p.copies,
            )
        )
    if p.decision is not None:
        d = p.decision
        word = messages.decision_word(d["decision"])
        print("  " + _("decided: {decision} by {reviewer}", decision=word, reviewer=d["reviewer"])
              + (f" ({d['note']})" if d["note"] else ""))  # fmt: skip


def cmd_link_review(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..crosscheck import count_set_aside, pair_row

    index, cc = _crosscheck(args)
    with index:
        every = cc.pairs()
        aside = count_set_aside(every)
        q = cc.review(args.next, args.band, every=args.all, pairs=every)
        pairs = q.pairs if args.next is not None else q.pairs[: args.limit]
        if getattr(args, "json", False):
            print_json({"caveat": messages.full_link_caveat(), "pairs": [pair_row(p) for p in pairs],
                        "band": args.band, "past_band_from": q.past, "set_aside": asdict(aside)})  # fmt: skip
            return 0
        if not pairs:
            print(_("No undecided pairs. Run `facematch link` after indexing new photos."))
            return 0
        many = args.next is not None and args.next > 1
        if many:
            for line in q.lines(num):
                print(line)
            print()
        for n, p in enumerate(pairs, 1):
            _print_pair(cc, p, n if many else None)
            print()
        if many and (short := q.short(num)):
            print(short)
        if aside.faces:
            print(aside.text())
        print(_("Decide with `facematch link decide PAIR same|different|unsure --reviewer NAME [--why TEXT]`."))
        print(messages.link_caveat())
    return 0


def cmd_link_decide(args: argparse.Namespace) -> int:
    index, cc = _crosscheck(args)
    with index:
        d = cc.decide(args.pair, args.decision, args.reviewer, args.why)
    print(_("Recorded: pair {pair} '{decision}' by {reviewer} (decision {id} in the audit log).", pair=args.pair,
            decision=messages.decision_word(d["decision"]), reviewer=d["reviewer"], id=d["id"]))  # fmt: skip
    return 0


def cmd_link_groups(args: argparse.Namespace) -> int:
    from ..crosscheck import GROUP_BAND, pair_row

    index, cc = _crosscheck(args)
    with index:
        groups = cc.groups()
        if getattr(args, "json", False):
            print_json([[pair_row(p, n) for p in g] for n, g in enumerate(groups, 1)])
            return 0
        aside = cc.set_aside()
        print(ngettext(
            "{n} group 'possibly the same person': faces joined by mutual pairs of band '{band}' that no reviewer "
            "called different. Never merged: review each pair.",
            "{n} groups 'possibly the same person': faces joined by mutual pairs of band '{band}' that no reviewer "
            "called different. Never merged: review each pair.",
            len(groups), band=messages.band_text(GROUP_BAND, decided=True),
        ))  # fmt: skip
        for n, g in enumerate(groups, 1):
            faces = {f.id: f for p in g for f in (p.a, p.b)}
            print(_("group {n}: {faces}: {photos}", n=n, faces=messages.count(len(faces), "face"),
                    photos=", ".join(f.relpath for f in faces.values())))  # fmt: skip
            print("  " + _("pairs: {pairs}", pairs=", ".join(p.id for p in g)))
        if aside.faces:
            print(aside.text())
    return 0


def cmd_link_duplicates(args: argparse.Namespace) -> int:
    from ..crosscheck import pair_row

    index, cc = _crosscheck(args)
    with index:
        dups = cc.duplicates()
        if getattr(args, "json", False):
            print_json([pair_row(p) for p in dups])
            return 0
        print(
            ngettext(
                "{n} duplicate image: the same photo saved again, not evidence about a person.",
                "{n} duplicate images: the same photo saved again, not evidence about a person.",
                len(dups),
            )
        )
        for p in dups:
            print(f"  {p.a.path}  =  {p.b.path}  ({p.duplicate})")
    return 0


def cmd_link_export(args: argparse.Namespace) -> int:
    from ..crosscheck import export

    index, cc = _crosscheck(args)
    with index:
        written = export(cc, args.out)
    for path in written.values():
        print(f"  {path}")
    return 0
