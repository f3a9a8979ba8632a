"""Measuring an engine on labelled photos: `evaluate verification`, `evaluate search`, `evaluate calibrate`
(with the stranger check's table)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import messages
from ..i18n import _
from .present import dec, num


def add_parser(sub) -> None:
    """Register evaluate (verification, search, calibrate): options are added once chosen (args.Parser)."""
    sub.add_parser(
        "evaluate",
        help=_("measure an engine on labelled photos (LFW protocol, open-set search)"),
        build=_evaluate_options,
    )


def _evaluate_options(s) -> None:
    from ..engines import DEFAULT_ENGINE

    esub = s.add_subparsers(title=_("evaluations"))

    def common(e: argparse.ArgumentParser, kind: str) -> None:
        e.add_argument("--images", type=Path, required=True, help=_("folder with one subfolder per person"))
        e.add_argument(
            "--engine", default=DEFAULT_ENGINE, help=_("face engine (default: {engine})", engine=DEFAULT_ENGINE)
        )
        e.add_argument(
            "--out", type=Path, default=None, help=_("output folder (default: ./evaluation/{kind}-ENGINE)", kind=kind)
        )
        e.add_argument(
            "--cache",
            type=Path,
            default=None,
            help=_("embedding cache folder (default: cache/ beside the --out folder)"),
        )
        e.add_argument("--workers", type=int, default=None, help=_("worker processes (default: one per CPU core)"))
        e.add_argument("--quiet", action="store_true", help=_("no progress bar"))

    e = esub.add_parser("verification", help=_("LFW protocol: 10-fold accuracy, TAR at FAR, ROC"))
    e.add_argument("--pairs", type=Path, required=True, help=_("pairs.txt in the LFW format (first line `10 300`)"))
    common(e, "verification")
    e.set_defaults(func=cmd_evaluate_verification)

    e = esub.add_parser("search", help=_("open-set search: rank-1..50 hit rates and FNIR at FPIR, with distractors"))
    common(e, "search")
    e.add_argument("--people", type=int, default=None, help=_("use only the first N people (sorted by name)"))
    e.add_argument(
        "--plain-cosine", action="store_true", help=_("rank by plain cosine (default: hubness-corrected, as search)")
    )
    e.set_defaults(func=cmd_evaluate_search)

    e = esub.add_parser(
        "calibrate",
        help=_(
            "(re)build an engine's stranger-rate table from all cross-person pairs, and check the shipped table "
            "and the archive estimate against the strangers counted in the folder, per population group"
        ),
    )
    common(e, "calibrate")
    e.add_argument(
        "--install", action="store_true", help=_("also install the table into the package's calibration_data")
    )
    e.add_argument(
        "--plain-cosine",
        action="store_true",
        help=_("measure plain cosine scores (default: the hubness-corrected scores searches show)"),
    )
    e.add_argument("--source", default=None, help=_("how to name the photos in the table's source field"))
    e.add_argument(
        "--identity-from",
        choices=["folder", "filename"],
        default="folder",
        help=_(
            "folder: one subfolder per person (LFW); filename: <identity>-<n>.jpg, with one subfolder per "
            "population group (e.g. east-asian-dev/images/chinese, .../japanese)"
        ),
    )
    e.add_argument(
        "--identities",
        type=Path,
        default=None,
        help=_("a TSV with the columns identity, images (comma-separated, relative to --images) and optionally group"),
    )
    e.set_defaults(func=cmd_evaluate_calibrate)


def _eval_out(args: argparse.Namespace, kind: str) -> Path:
    from ..fingerprint import slug

    return args.out or Path("evaluation") / f"{kind}-{slug(args.engine)}"


def _eval_cache(args: argparse.Namespace, kind: str) -> Path:
    """Beside the results (./evaluation/cache by default): facematch writes only where it is pointed."""
    return args.cache or _eval_out(args, kind).parent / "cache"


def _print_written(r: dict) -> None:
    """Where an evaluation wrote its results (the folder of its plots)."""
    print("  " + _("written: {folder}", folder=Path(r["plots"][0]).parent))


def cmd_evaluate_verification(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate_verification

    r = evaluate_verification(
        args.pairs,
        args.images,
        args.engine,
        _eval_out(args, "verification"),
        _eval_cache(args, "verification"),
        args.workers,
        not args.quiet,
    )
    acc = r["accuracy"]
    print("\n" + _("Verification, {engine}: {pairs} pairs in {folds} folds", engine=r["engine"], pairs=num(r["pairs"]),
                    folds=r["folds"]))  # fmt: skip
    print("  " + _("accuracy {mean} +- {std} (std over folds)", mean=messages.percent(acc["mean"], 2),
                   std=messages.percent(acc["std"], 2)))  # fmt: skip
    print("  " + _("{photos} photos without a face; {pairs} pairs scored -1", photos=num(len(r["photos_without_face"])),
                   pairs=num(r["pairs_with_missing_face"])))  # fmt: skip
    threshold = _("threshold")
    print(f"  {'FAR':>8}  {'TAR':>7}  {threshold}")
    for row in r["tar_at_far"]:
        tar = "-" if row["tar"] is None else f"{row['tar']:.4f}"
        thr = row.get("note") or f"{row['threshold']:.4f}"
        print(f"  {row['far']:>8g}  {tar:>7}  {thr}")
    _print_written(r)
    return 0


def cmd_evaluate_search(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate_search
    from ..neighbours import PLAIN

    r = evaluate_search(
        args.images,
        args.engine,
        _eval_out(args, "search"),
        _eval_cache(args, "search"),
        args.workers,
        not args.quiet,
        args.people,
        scoring=PLAIN if args.plain_cosine else None,
    )
    print("\n" + _(
        "Open-set search, {engine} ({scores}): gallery of {faces} ({people} people searched for + {distractors} "
        "distractors), {searches} ({no_face} query photos without a face count as misses)",
        engine=r["engine"], scores=r["scores"], faces=messages.count(r["gallery_size"], "face"),
        people=num(r["gallery_people_with_queries"]), distractors=num(r["distractors"]),
        searches=messages.count(r["queries"], "search"), no_face=num(r["queries_without_face"]),
    ))  # fmt: skip
    print("  " + "  ".join(f"rank-{k}: {dec(v, 3)}" for k, v in r["rank_hit_rate"].items()))
    for row in r["fnir_at_fpir"]:
        fnir = "-" if row["fnir"] is None else dec(row["fnir"], 4)
        print(f"  FNIR at FPIR {row['fpir']:g}: {fnir}" + (f" ({row['note']})" if row.get("note") else ""))
    _print_written(r)
    return 0


def cmd_evaluate_calibrate(args: argparse.Namespace) -> int:
    from ..evaluate import evaluate_calibration
    from ..neighbours import PLAIN

    r = evaluate_calibration(
        args.images,
        args.engine,
        _eval_out(args, "calibrate"),
        _eval_cache(args, "calibrate"),
        args.workers,
        not args.quiet,
        install=args.install,
        source=args.source,
        identity_from=args.identity_from,
        identities=args.identities,
        scoring=PLAIN if args.plain_cosine else None,
    )
    print("\n" + _("Calibration, {engine}: {pairs} pairs of different people ({people} people)", engine=r["engine"],
                    pairs=num(r["impostor_pairs"]), people=num(r["people"])))  # fmt: skip
    print("  " + _("scores: {scoring}", scoring=r["scoring"]))
    for rate, score in r["score_at_rate"].items():
        print("  " + _("a stranger scores >= {score} at rate {rate}", score=score, rate=rate))
    chk = r["check"]
    print("  " + _("held-out check (predicted vs counted impostor pairs, tolerance +-{tolerance}):",
                   tolerance=messages.percent(chk["tolerance"], 0)))  # fmt: skip
    for row in chk["levels"]:
        err = "-" if row["relative_error"] is None else f"{row['relative_error']:+.1%}"
        mark = (
            _("ok") if row["within_tolerance"] else (_("too few to judge") if not row["meaningful"] else _("OUTSIDE"))
        )
        score, predicted, counted = format(row["score"], ">7"), dec(row["predicted"]).rjust(12), num(row["counted"])
        line = _("score {score}: predicted {predicted}  counted {counted}", score=score, predicted=predicted,
                 counted=counted.rjust(10))  # fmt: skip
        print(f"    {line}  {err:>7}  {mark}")
    print(
        "  " + (_("check passed; table: {table}", table=r["table"]) if chk["passed"]
                else _("check FAILED; table: {table}", table=r["table"]))
        + (_("; installed: {path}", path=r["installed"]) if r["installed"] else "")
    )  # fmt: skip
    if r["strangers"] is not None:
        _print_strangers(r["strangers"])
    _print_written(r)
    return 0 if chk["passed"] else 1


def _print_strangers(check: dict) -> None:
    """The stranger check as a table: counted vs the shipped table vs the archive's own estimate."""
    print("\n" + _(
        "Strangers counted in this folder vs the shipped table ({pairs} pairs) and the archive estimate (same "
        "photos, labels unused); judged where >= {min_count} pairs are counted",
        pairs=num(check["table"]["impostor_pairs"]), min_count=num(check["min_count"]),
    ))  # fmt: skip
    print(f"  {'population':<26} {'rate':>6} {'score':>6} {'pairs':>8} {'counted/table':>13} {'estimate/counted':>16}")
    for pop in check["populations"]:
        for row in pop["levels"]:
            est = row.get("estimate_over_counted")
            est_text = "-" if est is None else f"{est:.2f}" + ("" if row["estimate_within_tolerance"] else " !")
            mark = "" if row["judged"] else "  " + _("(few pairs)")
            print(
                f"  {pop['population']:<26} {row['rate']:>6g} {row['score']:>6.3f} {row['counted_pairs']:>8,} "
                f"{row['counted_over_table']:>13.2f} {est_text:>16}{mark}"
            )
        if pop["no_estimate"]:
            print(f"  {pop['population']:<26} " + _("no archive estimate: {why}", why=pop["no_estimate"]))
