"""The `facematch` command line: parses arguments, calls the library, prints the result.

No face, index or search logic lives here; the Streamlit app calls the same functions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .. import __version__, i18n, messages
from ..engines import DEFAULT_ENGINE, ENGINES
from ..i18n import _, ngettext

num = messages.number  # counts in the language's digit grouping
dec = messages.decimal  # decimals likewise (3.2 / 3,2)

DEFAULT_INDEX = Path("index")


def _default_index() -> Path:
    return Path(os.environ.get("FACEMATCH_INDEX", DEFAULT_INDEX))


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
    p = argparse.ArgumentParser(
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

    s = sub.add_parser("index", help=_("index every face in a folder of photos (resumable, incremental)"))
    s.add_argument("photo_dir", type=Path)
    s.add_argument("--index", type=Path, default=None, help=_("index folder (default: ./index)"))
    s.add_argument(
        "--engine",
        default=DEFAULT_ENGINE,
        help=_("face engine (default: {engine}); see `facematch models`", engine=DEFAULT_ENGINE),  # fmt: skip
    )
    s.add_argument("--records", type=Path, help=_("CSV of archive records, joined to photos by file name"))
    s.add_argument("--workers", type=int, default=None, help=_("worker processes (default: one per CPU core)"))
    s.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    s.add_argument(
        "--collection",
        default=None,
        metavar="NAME",
        help=_(
            "the collection this folder belongs to (a leak, a county list; default: the folder's name); "
            "`facematch link` says which collections a pair joins"
        ),
    )
    s.add_argument(
        "--reindex",
        action="store_true",
        help=_(
            "replace faces this engine made with other weights or pre-processing (an index from an older "
            "facematch); cases, decisions and records are kept"
        ),
    )
    _index_type_args(s)
    s.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help=_(
            "run the per-photo work on Ray (needs the 'cluster' extra): a private local Ray without ADDRESS, "
            "else a running cluster (e.g. 'auto' on a cluster node, or ray://HEAD:10001)"
        ),
    )
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("retrain", help=_("rebuild the FAISS index from the database, choosing its type again"))
    s.add_argument("--index", type=Path, default=None)
    s.add_argument("--engine", default=None, help=_("engine (default: the one the index was built with)"))
    _index_type_args(s)
    s.set_defaults(func=cmd_retrain)

    s = sub.add_parser("search", help=_("find candidate faces for the person in one or more photos (and by name)"))
    s.add_argument(
        "photos", type=Path, nargs="*", help=_("photos of the same person (several are fused into one query)")
    )
    s.add_argument("--index", type=Path, default=None)
    s.add_argument("--engine", default=None, help=_("engine (default: the one the index was built with)"))
    s.add_argument(
        "--face",
        type=int,
        action="append",
        help=_(
            "which face to use (numbers as listed; default the largest); give once for all photos or once per photo"
        ),
    )
    s.add_argument("-k", type=int, default=50, help=_("how many candidates (default 50)"))
    s.add_argument("--json", action="store_true", help=_("machine-readable output"))
    facts = s.add_argument_group(
        _("what the family knows"),
        _("archive records that agree lift a candidate a little and say why (as in the app)"),
    )
    facts.add_argument("--name", action="append", default=[], help=_("a name, in any script or spelling; repeatable"))
    facts.add_argument("--born", default=None, help=_("birth year (about)"))
    facts.add_argument("--born-margin", type=int, default=2, help=_("years either side of --born (default 2)"))
    facts.add_argument("--county", default="", help=_("home county, in any script"))
    facts.add_argument(
        "--photo-year", action="append", default=[], help=_("about when a photo was taken; once for all, or per photo")
    )
    facts.add_argument("--threshold", type=float, default=None, help=_("name score needed, 0-100 (default 88)"))
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("info", help=_("what is in an index"))
    s.add_argument("--index", type=Path, default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("demo", help=_("build the demo index from the built-in photos and run a demo search"))
    s.add_argument("--index", type=Path, default=None, help=_("where to put the demo index (default: ./index/demo)"))
    s.add_argument("--engine", default=DEFAULT_ENGINE)
    s.add_argument("--workers", type=int, default=None)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("app", help=_("open the review workbench in your browser (this computer only)"))
    s.add_argument("--index", type=Path, default=None, help=_("index folder (default: the demo index)"))
    s.add_argument("--port", type=int, default=8501)
    s.add_argument(
        "--address", default="localhost", help=_("serve on another address (needs --team: accounts and a login)")
    )
    s.add_argument(
        "--team", action="store_true", help=_("team server: a login page, accounts (facematch users), access per case")
    )
    s.add_argument(
        "--oidc",
        action="store_true",
        help=_(
            "with --team: log in through the organisation's OpenID Connect provider (st.login; [auth] in "
            ".streamlit/secrets.toml of the folder you start from, and pip install Authlib)"
        ),
    )
    s.add_argument("--check", action="store_true", help=_("start, check the app answers, stop (for CI)"))
    s.set_defaults(func=cmd_app)
    _users_parser(sub)

    _evaluate_parser(sub)
    _records_parser(sub)
    _link_parser(sub)
    _upkeep_parser(sub)

    s = sub.add_parser("models", help=_("list face engines, or fetch an insightface pack (needs internet)"))
    msub = s.add_subparsers()
    f = msub.add_parser(
        "fetch", help=_("download an insightface pack into models/<pack> with insightface's downloader")
    )
    f.add_argument("pack")
    f.set_defaults(func=cmd_models_fetch)
    s.set_defaults(func=cmd_models)
    return p


# -- commands -----------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    from ..indexing import index_folder

    index_dir = args.index or _default_index()
    _choose_index_type(args, index_dir, args.engine)
    if args.ray:
        from ..indexing.on_ray import index_folder_on_ray

        report = index_folder_on_ray(
            args.photo_dir,
            index_dir,
            args.engine,
            args.ray,
            args.workers,
            args.records,
            progress=not args.quiet,
            reindex=args.reindex,
            collection=args.collection,
        )
    else:
        report = index_folder(
            args.photo_dir,
            index_dir,
            args.engine,
            workers=args.workers,
            records_csv=args.records,
            progress=not args.quiet,
            reindex=args.reindex,
            collection=args.collection,
        )
    _print_index_report(report, index_dir)
    _print_vectors(index_dir, report.engine)
    return 0


# -- FAISS index type (ann.py, vectors.py) --------------------------------------------------------
def _index_type_args(s: argparse.ArgumentParser) -> None:
    from ..ann import KINDS

    s.add_argument(
        "--index-type",
        choices=KINDS,
        default=None,
        help=_(
            "FAISS structure: auto (default: exact flat scan for small archives, ivf-sq8 for large ones), "
            "or force one; the choice is kept in the index"
        ),
    )
    s.add_argument(
        "--index-params", default=None, help=_("e.g. nlist=4096,nprobe=32,rerank=2 (ivf), m=64 (ivf-pq), M=32 (hnsw)")
    )


def _choose_index_type(args: argparse.Namespace, index_dir: Path, engine: str) -> None:
    """Record --index-type/--index-params before any work, so a bad value stops the command at once."""
    if args.index_type is None:
        if args.index_params:
            raise ValueError(_("--index-params needs --index-type"))
        return
    from ..engines import get_engine
    from ..fingerprint import Fingerprint
    from ..index import Index
    from ..vectors import choose_type

    name = Fingerprint(engine).name if "@" in engine else engine
    with Index.open(Path(index_dir), create=True) as index:
        choose_type(index.db, name, args.index_type, args.index_params, get_engine(name).dim)


def _print_vectors(index_dir: Path, engine: str) -> None:
    from ..vectors import FaceVectors

    vecs = FaceVectors.load(Path(index_dir), engine)
    if vecs is None:
        return
    print(
        "  " + _("FAISS index: {kind}, {faces}.", kind=vecs.spec.describe(), faces=messages.count(vecs.count, "face"))
    )
    advice = vecs.retrain_advice()
    if advice:
        print("  " + _("A retrain would help: {advice}. Run `facematch retrain --index {index}`.", advice=advice,
                       index=index_dir))  # fmt: skip


def cmd_retrain(args: argparse.Namespace) -> int:
    from ..index import Index

    index_dir = args.index or _default_index()
    with Index.open(index_dir) as index:
        fp = index.engine(args.engine)
    _choose_index_type(args, index_dir, fp)
    with Index.open(index_dir) as index:
        vecs = index.vectors(fp, rebuild=True)
    seconds = dec(float(vecs.spec.params.get("build_seconds", 0)))
    print(_("Rebuilt the FAISS index of {engine} in {seconds} s.", engine=fp, seconds=seconds))
    recall = vecs.spec.params.get("measured_recall")
    if recall is not None:
        print("  " + _("Its shortlist holds {recall} of the exact top 50 on a sample of stored faces; shown scores "
                       "are exact.", recall=messages.percent(recall)))  # fmt: skip
    _print_vectors(index_dir, fp)
    return 0


def _print_index_report(report, index_dir: Path) -> None:
    print("\n" + _("Index: {index}  (engine {engine})", index=index_dir, engine=report.engine))
    for fp in getattr(report, "replaced", []):
        print("  " + _("Replaced the faces made by {engine}: cases, decisions and records are kept.", engine=fp))
    print("  " + ngettext(
        "{n} photo file seen: {scanned} read now, {unchanged} unchanged since the last run; {faces} found in "
        "{photos} photos, in {seconds} s.",
        "{n} photo files seen: {scanned} read now, {unchanged} unchanged since the last run; {faces} found in "
        "{photos} photos, in {seconds} s.",
        report.seen, scanned=num(report.scanned), unchanged=num(report.unchanged),
        faces=messages.count(report.faces, "face"), photos=num(report.with_faces), seconds=dec(report.seconds),
    ))  # fmt: skip
    if report.records:
        print("  " + ngettext("{n} archive record imported.", "{n} archive records imported.", report.records))
    for problem in getattr(report, "record_problems", []):
        print("    " + _("records file, {problem}", problem=problem))
    if report.no_face:
        print("  " + ngettext("{n} photo with no face found:", "{n} photos with no face found:", len(report.no_face)))
        for s in report.no_face:
            print(f"    - {s.path}")
    if report.errors:
        print("  " + ngettext("{n} file skipped:", "{n} files skipped:", len(report.errors)))
        for s in report.errors:
            print(f"    - {s.path}: {s.reason}")
    if report.interrupted:
        print("  " + _("Interrupted: what was finished is saved; run the same command again to continue."))


def cmd_search(args: argparse.Namespace) -> int:
    from ..search import Searcher

    facts = _search_facts(args)
    if not args.photos and not facts.names:
        raise ValueError(_("give one or more photos, or a --name to search the records by"))
    index_dir = args.index or _default_index()
    with Searcher(index_dir, args.engine) as searcher:
        queries = [searcher.detect_file(p) for p in args.photos]
        picks = args.face or []
        if len(picks) not in (0, 1, len(queries)):
            raise ValueError(_("give --face once for all photos, or once for each photo"))
        years = args.photo_year or []
        if len(years) not in (0, 1, len(queries)):
            raise ValueError(_("give --photo-year once for all photos, or once for each photo"))
        chosen, chosen_years = [], []
        for i, q in enumerate(queries):
            if q.error or not q.faces:
                continue
            number = picks[0] if len(picks) == 1 else (picks[i] if picks else None)
            chosen.append((q, q.pick(number)))
            chosen_years.append(_year(years[0] if len(years) == 1 else (years[i] if years else None)))
        candidates = searcher.search([face for _, face in chosen], k=args.k) if chosen else []
        result = None
        if not facts.empty:
            from .. import combined
            from ..names import THRESHOLD

            result = combined.combine(
                searcher, [f for _, f in chosen], candidates, facts, photo_years=chosen_years,
                name_threshold=THRESHOLD if args.threshold is None else args.threshold,
            )  # fmt: skip
        if args.json:
            print(json.dumps(_search_json(searcher, queries, chosen, candidates, result), indent=1, ensure_ascii=False))
        else:
            _print_search(searcher, queries, chosen, candidates, result)
    found = bool(chosen) or bool(result and (result.faces or result.no_face))
    return 0 if found else 1


def _year(text: str | None) -> int | None:
    from ..review import parse_year

    return parse_year(text, "--photo-year")


def _search_facts(args: argparse.Namespace):
    from ..combined import Facts
    from ..review import parse_year

    return Facts(
        names=tuple(n for n in args.name if n.strip()),
        birth_year=parse_year(args.born, "--born"),
        birth_year_margin=args.born_margin,
        county=args.county or "",
    )


def _search_json(searcher, queries, chosen, candidates, result=None) -> dict:
    chosen_ids = {id(face) for _, face in chosen}
    items = result.faces if result is not None else [None] * len(candidates)
    listed = [it.candidate for it in result.faces] if result is not None else candidates
    from ..crosscheck.link import CrossCheck

    linked = CrossCheck(searcher)
    doc = {
        "engine": searcher.engine.fingerprint,
        "gallery_faces": searcher.gallery_size,
        "score": messages.score_label(),
        "caveat": messages.caveat(),
        "queries": [
            {
                "photo": q.name,
                "error": q.error,
                "faces": [
                    {
                        "number": n,
                        "box": [round(float(v), 1) for v in f.box],
                        "size": round(f.size),
                        "detector_score": round(f.score, 3),
                        "used": id(f) in chosen_ids,
                    }
                    for n, f in enumerate(q.faces, start=1)
                ],
            }
            for q in queries
        ],
        "candidates": [
            {
                "rank": c.rank,
                "similarity": round(c.similarity, 4),
                "cosine": None if c.cosine is None else round(c.cosine, 4),
                "photo": str(c.face.path),
                "sha256": c.face.sha256,
                "box": [round(v, 1) for v in c.face.box],
                "face_id": c.face.id,
                "face_number": c.face_number,
                "faces_in_photo": c.faces_in_photo,
                "records": c.records,
                "photo_records": c.photo_records,
                "linked_by_reviewers": [] if c.records else linked.linked_records(c.face),
                **_strength_json(searcher, c),
                **_facts_json(it),
            }
            for c, it in zip(listed, items, strict=True)
        ],
        "calibration": _calibration_json(searcher),
    }
    if result is not None:  # searched with what the family knows: records found by name with no face too
        doc["records_without_face"] = [
            {"record": it.records[0], "note": it.note, "reasons": it.reason_lines()} for it in result.no_face
        ]
    return doc


def _facts_json(item) -> dict:
    if item is None:
        return {}
    return {"found_by": item.found_by, "lift": round(item.lift, 2), "reasons": item.reason_lines()}


def _print_search(searcher, queries, chosen, candidates, result=None) -> None:
    from ..records import record_lines

    chosen_ids = {id(face) for _, face in chosen}
    for q in queries:
        if q.error:
            print(_("{photo}: cannot use this photo: {why}", photo=q.name, why=q.error))
            continue
        if not q.faces:
            print(f"{q.name}: {messages.no_face_hint()}")
            continue
        print(messages.faces_found(q.name, len(q.faces)))
        for n, f in enumerate(q.faces, start=1):
            x1, y1, x2, y2 = (round(float(v)) for v in f.box)
            mark = "  <- " + _("used") if id(f) in chosen_ids else ""
            box = f"({x1},{y1})-({x2},{y2})"
            line = _("face {n}: box {box}, {size} px, detector score {score}", n=n, box=box, size=round(f.size),
                     score=dec(f.score, 2))  # fmt: skip
            print(f"  {line}{mark}")
    if result is not None and result.facts.names and not result.name_hits:
        print("\n" + messages.no_name_hits(result.facts.names, result.name_threshold))
    if chosen:
        print("\n" + messages.search_summary(len(candidates), searcher.gallery_size, searcher.engine.fingerprint,
                                            fused=len(chosen) > 1, lifted=result is not None))  # fmt: skip
        rank, similarity, rest = _("rank"), _("similarity"), _("photo / face box / record")
        print(f"{rank:>4}  {similarity:>10}  {rest}")
    elif result is None:
        print(_("Nothing to search with."))
        return
    items = result.faces if result is not None else [None] * len(candidates)
    listed = [it.candidate for it in result.faces] if result is not None else candidates
    from ..crosscheck.link import CrossCheck

    linked = CrossCheck(searcher)
    for c, it in zip(listed, items, strict=True):
        x1, y1, x2, y2 = (round(v) for v in c.face.box)
        rank = str(c.rank) if c.rank else _("name")
        print(f"{rank:>4}  {dec(c.similarity, 3):>10}  {c.face.path}  ({x1},{y1})-({x2},{y2})")
        print(f"{'':>18}{messages.candidate_strength(c, searcher.gallery_size)}")
        for r in c.records:
            skip = (messages.record_label("record"), messages.record_label("photos"))
            shown = ", ".join(f"{k}: {v}" for k, v in record_lines(r) if k not in skip)
            print(f"{'':>18}" + _("record {id}: {fields}", id=r.get("record_id", ""), fields=shown))
        for line in [] if c.records else linked.linked_records(c.face):  # a cross-check reviewer's link, no record
            print(f"{'':>18}{line}")
        for line in it.reason_lines() if it is not None else []:
            print(f"{'':>18}{line}")
    if result is not None and result.no_face:
        print("\n" + _("Records found by name without a face to compare ({n}):", n=num(len(result.no_face))))
        for it in result.no_face:
            print(f"  {it.records[0].get('record_id', '')}: {it.note}")
            for line in it.reason_lines():
                print(f"      {line}")
    if searcher.calibration is not None and chosen:
        print("\n" + messages.calibration_note(searcher.calibration.kind))
    if result is not None:
        print("\n" + messages.facts_note())
    print("\n" + messages.caveat())


# -- calibrated strength in search output (calibration.py) ---------------------------------------
def _strength_text(searcher, c) -> str:
    return messages.candidate_strength(c, searcher.gallery_size)


def _strength_json(searcher, c) -> dict:
    return {
        "fpr": None if c.fpr is None else float(f"{c.fpr:.4g}"),
        "expected_strangers": None if c.expected_strangers is None else float(f"{c.expected_strangers:.4g}"),
        "band": c.band,
        "strength": _strength_text(searcher, c),
    }


def _calibration_json(searcher) -> dict | None:
    cal = searcher.calibration
    if cal is None:
        return None
    return {
        "kind": cal.kind,  # "archive estimate" (from this index's own faces) or "reference table" (LFW)
        "engine": cal.engine,
        "scores": searcher.scoring.describe(),
        "source": cal.source,
        "impostor_pairs": cal.impostor_pairs,
        "faces": getattr(cal, "faces", None),
        "note": messages.calibration_note(cal.kind),
    }


# -- evaluate -----------------------------------------------------------------------------------
# -- records ------------------------------------------------------------------------------------
def _records_parser(sub) -> None:
    s = sub.add_parser("records", help=_("archive records: import a CSV/XLSX file, search by name in any script"))
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

    return Index.open(args.index or _default_index(), create=create)


def cmd_records_import(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..records import import_file

    with _records_index(args, create=True) as index:
        report = import_file(index, args.file, args.map, encoding=args.encoding, sheet=args.sheet)
    if args.json:
        doc = asdict(report)
        doc["problems"] = [str(p) for p in report.problems]
        doc["warnings"] = [str(p) for p in report.warnings]
        print(json.dumps(doc, indent=1, ensure_ascii=False))
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
        print(json.dumps(doc, indent=1, ensure_ascii=False, default=str))
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


def _evaluate_parser(sub) -> None:
    s = sub.add_parser("evaluate", help=_("measure an engine on labelled photos (LFW protocol, open-set search)"))
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
    print("  " + _("written: {folder}", folder=Path(r["plots"][0]).parent))
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
    print("  " + _("written: {folder}", folder=Path(r["plots"][0]).parent))
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
    print("  " + _("written: {folder}", folder=Path(r["plots"][0]).parent))
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


def cmd_info(args: argparse.Namespace) -> int:
    from ..index import Index

    index_dir = args.index or _default_index()
    with Index.open(index_dir) as index:
        info = index.summary()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(_("Index {index}", index=info["index"]))
    print("  " + _("{photos} photos in {folders} folder(s); {records} archive records", photos=num(info["photos"]),
                   folders=num(info["roots"]), records=num(info["records"])))  # fmt: skip
    for c in info["collections"]:
        faces = ", ".join(f"{messages.count(n, 'face')} ({fp.split('@')[0]})" for fp, n in c["faces"].items())
        print("  " + _("collection {name}: {photos} photos, {faces}", name=c["name"], photos=num(c["photos"]),
                       faces=faces or _("no faces")))  # fmt: skip
        for folder in c["folders"]:
            print("    " + _("folder: {folder}", folder=folder))
    for fp, e in info["engines"].items():
        st = e["photos"]
        print("  " + _(
            "engine {engine}: {faces}; photos ok {ok}, no face {no_face}, unreadable {error}; FAISS file {faiss}",
            engine=fp, faces=messages.count(e["faces"], "face"), ok=num(st.get("ok", 0)),
            no_face=num(st.get("no_face", 0)), error=num(st.get("error", 0)),
            faiss=_("in step") if e["faiss_file"] == "in step" else e["faiss_file"],
        ))  # fmt: skip
        if e["index_type"] is not None:
            from ..ann import IndexSpec

            print("    " + _("FAISS index: {kind}", kind=IndexSpec.from_json(e["index_type"]).describe()))
        if e["retrain_hint"]:
            print("    " + _("A retrain would help: {advice}. Run `facematch retrain --index {index}`.",
                             advice=e["retrain_hint"], index=index_dir))  # fmt: skip
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .. import demo
    from ..indexing import index_folder

    index_dir = args.index or (_default_index() / "demo")
    gallery = demo.build_gallery(index_dir / "photos")
    print(_("Building the demo index in {index} from {gallery} (public-domain and package sample photos).",
            index=index_dir, gallery=gallery))  # fmt: skip
    report = index_folder(gallery, index_dir, args.engine, workers=args.workers, records_csv=demo.records_csv())
    _print_index_report(report, index_dir)
    print(
        "\n" + _("Demo search with {photo} (a photo that is not in the gallery):", photo=demo.query_photo().name) + "\n"
    )
    return cmd_search(
        argparse.Namespace(
            photos=[demo.query_photo()],
            index=index_dir,
            engine=None,
            face=None,
            k=10,
            json=False,
            name=[],
            born=None,
            born_margin=2,
            county="",
            photo_year=[],
            threshold=None,
        )
    )


def cmd_app(args: argparse.Namespace) -> int:
    from ..app import serve

    if args.address not in serve.LOCAL and not args.team:
        print("facematch: " + _(
            "refusing to serve on {address} without --team. Beyond this computer anyone who can reach the address "
            "would see every case, every family's photos and every decision. Create accounts (facematch users add "
            "NAME --role admin) and start with --team, which asks everyone to log in.", address=args.address,
        ), file=sys.stderr)  # fmt: skip
        return 2
    passphrase = None
    if args.team:
        index = args.index or _default_index()
        passphrase = _team_preflight(Path(index))
        args.index = index
    if args.oidc and not args.team:
        raise ValueError(_("--oidc is a way to log in to a team server: add --team"))
    proc = serve.start(
        args.index, args.address, args.port, cwd=Path.cwd(), team=args.team, passphrase=passphrase, oidc=args.oidc
    )
    try:
        if args.check:
            up = serve.wait_until_up(args.port, proc=proc)
            print(_("facematch app answered on localhost.") if up else _("facematch app did not start."))
            return 0 if up else 1
        url = f"http://{args.address}:{args.port}"
        print(_("facematch is open at {url} (Ctrl-C to stop).", url=url))
        if args.team:
            print(_("Team mode: everyone logs in. Serve it to others through HTTPS (README, 'Team server')."))
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def _team_preflight(index_dir: Path) -> str | None:
    """Before a team server starts: the index exists and has an enabled admin; returns the passphrase for the
    families' data (item of README 'Team server'), checked here so a wrong one stops before anything starts."""
    import getpass

    from ..access import ADMIN, Accounts
    from ..index import Index

    with Index.open(index_dir) as index:
        if not Accounts(index.db).count(ADMIN):
            raise ValueError(
                _("a team server needs an admin account first: facematch users add NAME --role admin --index {index}",
                  index=index_dir)
            )  # fmt: skip
        passphrase = os.environ.get("FACEMATCH_PASSPHRASE")
        if passphrase is None:
            if not sys.stdin.isatty():
                raise ValueError(_("give the passphrase of the families' data (a terminal, or FACEMATCH_PASSPHRASE)"))
            first_time = not index.encrypted
            passphrase = getpass.getpass(
                _("Choose a passphrase for the families' data (photos, names, notes are encrypted with it; "
                  "without it they cannot be read, keep it safe): ")
                if first_time
                else _("Passphrase of the families' data: ")
            )  # fmt: skip
            if first_time and getpass.getpass(_("Again: ")) != passphrase:
                raise ValueError(_("the two passphrases differ; nothing was changed"))
        if index.unlock(passphrase):
            print(_("The families' data of this index is now encrypted (case names, notes, facts, kept photos)."))
    return passphrase


# -- accounts (team mode) ------------------------------------------------------------------------------
def _users_parser(sub) -> None:
    from ..access import ROLES

    s = sub.add_parser("users", help=_("accounts of the team server (facematch app --team)"))
    usub = s.add_subparsers(title=_("users commands"))
    u = usub.add_parser(
        "add", help=_("create an account; the password is asked (or read from stdin), never an argument")
    )
    u.add_argument("name")
    u.add_argument("--role", required=True, choices=ROLES)
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_add)
    u = usub.add_parser("list", help=_("every account, its role and whether it is disabled"))
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_list)
    u = usub.add_parser("disable", help=_("refuse an account's logins (its open sessions end at their next click)"))
    u.add_argument("name")
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_disable)
    u = usub.add_parser("enable", help=_("allow a disabled account again"))
    u.add_argument("name")
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_enable)
    u = usub.add_parser("reset-password", help=_("a new password (asked, or read from stdin); lifts a login lock"))
    u.add_argument("name")
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_reset)
    u = usub.add_parser("give", help=_("give a case to an account (it may then open the case)"))
    u.add_argument("name")
    u.add_argument("case", type=int)
    u.add_argument("--index", type=Path, default=None)
    u.set_defaults(func=cmd_users_give)


def _accounts(args: argparse.Namespace):
    from ..access import Accounts
    from ..index import Index

    index = Index.open(args.index or _default_index())
    return index, Accounts(index.db)


def _read_password(prompt: str) -> str:
    """A password from the terminal (asked twice, not echoed) or one line of stdin (scripts): never argv,
    which other users of the machine can read in the process list."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass(prompt)
        if getpass.getpass(_("Again: ")) != first:
            raise ValueError(_("the two passwords differ; nothing was changed"))
        return first
    return sys.stdin.readline().rstrip("\n")


def cmd_users_add(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        account = accounts.add(args.name, args.role, _read_password(_("Password for {name}: ", name=args.name)))
    print(_("Account {name} ({role}) created.", name=account.name, role=account.role))
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from ..access import ROLE_TEXT

    index, accounts = _accounts(args)
    with index:
        rows = accounts.list()
    if not rows:
        print(_("No accounts yet. Create an admin: facematch users add NAME --role admin"))
    for a in rows:
        state = _("DISABLED") if a.disabled else _("enabled")
        what = _(ROLE_TEXT[a.role])
        print(f"{a.name:<24} {a.role:<11} {state:<9} {what}")
    return 0


def cmd_users_disable(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        accounts.disable(args.name)
    print(_("Account {name} is disabled: it cannot log in, and its open sessions end at their next click.",
            name=args.name))  # fmt: skip
    return 0


def cmd_users_enable(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        accounts.enable(args.name)
    print(_("Account {name} is enabled.", name=args.name))
    return 0


def cmd_users_reset(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        accounts.reset_password(args.name, _read_password(_("New password for {name}: ", name=args.name)))
    print(_("New password set for {name} (any login lock on the name is lifted).", name=args.name))
    return 0


def cmd_users_give(args: argparse.Namespace) -> int:
    index, accounts = _accounts(args)
    with index:
        accounts.grant(args.case, args.name, by=None)
    print(_("Case {case} given to {name}.", case=args.case, name=args.name))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from ..engines import models_dir

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
    print(f"  facematch evaluate calibrate LFW_DIR --engine {name} --install   # " + _("its stranger-rate table"))
    print(f"  facematch evaluate search LFW_DIR --engine {name}                # " + _("its accuracy, beside sface's"))
    print(f"  facematch index PHOTO_DIR --engine {name}                        # " + _("its faces, beside the others"))
    return 0


# -- the archive cross-checked against itself (link.py) -------------------------------------------------
def _link_parser(sub) -> None:
    s = sub.add_parser(
        "link",
        help=_(
            "cross-check the archive against itself: candidate pairs of faces that may show the same person, "
            "duplicate images, groups; review them (`link review --next`, `link decide`)"
        ),
    )
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
    c.add_argument("--next", action="store_true", help=_("only the strongest pair no one has decided yet"))
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

    from ..crosscheck.link import link

    index_dir = args.index or _default_index()
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
        print(json.dumps([asdict(r) for r in reports], indent=1))
    else:
        print(_("Review them with `facematch link review --next --index {index}`.", index=index_dir))
        print(messages.link_caveat())
    return 0


def _crosscheck(args: argparse.Namespace):
    from ..crosscheck.link import CrossCheck
    from ..search import Searcher

    s = Searcher(getattr(args, "index", None) or _default_index(), getattr(args, "engine", None))
    return s, CrossCheck(s)


def _print_pair(cc, p) -> None:
    from ..crosscheck.link import pair_lines, record_summary

    kind = {"person": _("may be the same person"), "duplicate": _("duplicate image")}.get(p.kind, p.kind)
    print(_("pair {pair}  ({kind})", pair=p.id, kind=kind))
    for side, f in (("A", p.a), ("B", p.b)):
        print(f"  {side}: {f.path}  " + _("face box {box}", box=[round(v) for v in f.box])
              + f"  sha256 {(f.sha256 or '')[:16]}")  # fmt: skip
        print(f"     {record_summary(cc.index, f)}")
        for line in cc.linked_records(f):
            print(f"     {line}")
    for line in pair_lines(p, cc.s.gallery_size):
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
    from ..crosscheck.link import pair_row

    s, cc = _crosscheck(args)
    with s:
        pairs = cc.pairs(undecided=not args.all)
        pairs = pairs[:1] if args.next else pairs[: args.limit]
        if getattr(args, "json", False):
            print(json.dumps({"caveat": messages.full_link_caveat(),
                              "pairs": [pair_row(p) for p in pairs]}, indent=1, ensure_ascii=False))  # fmt: skip
            return 0
        if not pairs:
            print(_("No undecided pairs. Run `facematch link` after indexing new photos."))
            return 0
        for p in pairs:
            _print_pair(cc, p)
            print()
        print(_("Decide with `facematch link decide PAIR same|different|unsure --reviewer NAME [--why TEXT]`."))
        print(messages.link_caveat())
    return 0


def cmd_link_decide(args: argparse.Namespace) -> int:
    s, cc = _crosscheck(args)
    with s:
        d = cc.decide(args.pair, args.decision, args.reviewer, args.why)
    print(_("Recorded: pair {pair} '{decision}' by {reviewer} (decision {id} in the audit log).", pair=args.pair,
            decision=messages.decision_word(d["decision"]), reviewer=d["reviewer"], id=d["id"]))  # fmt: skip
    return 0


def cmd_link_groups(args: argparse.Namespace) -> int:
    from ..crosscheck.link import GROUP_BAND, pair_row

    s, cc = _crosscheck(args)
    with s:
        groups = cc.groups()
        if getattr(args, "json", False):
            print(
                json.dumps([[pair_row(p, n) for p in g] for n, g in enumerate(groups, 1)], indent=1, ensure_ascii=False)
            )
            return 0
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
    return 0


def cmd_link_duplicates(args: argparse.Namespace) -> int:
    from ..crosscheck.link import pair_row

    s, cc = _crosscheck(args)
    with s:
        dups = cc.duplicates()
        if getattr(args, "json", False):
            print(json.dumps([pair_row(p) for p in dups], indent=1, ensure_ascii=False))
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
    from ..crosscheck.link import export

    s, cc = _crosscheck(args)
    with s:
        written = export(cc, args.out)
    for path in written.values():
        print(f"  {path}")
    return 0


# -- upkeep: check, backup, restore ------------------------------------------------------------------
def _upkeep_parser(sub) -> None:
    s = sub.add_parser("check", help=_("is the index sound? SQLite, FAISS against SQLite, photos against their hashes"))
    s.add_argument("--index", type=Path, default=None)
    s.add_argument("--repair", action="store_true", help=_("rebuild FAISS files that disagree with the database"))
    s.add_argument("--no-photos", action="store_true", help=_("skip re-hashing every indexed photo (fast)"))
    s.add_argument("--json", action="store_true")
    s.add_argument("--quiet", action="store_true", help=_("no progress bar"))
    s.set_defaults(func=cmd_check)

    s = sub.add_parser("backup", help=_("copy an index (database, FAISS, kept case photos) while it is in use"))
    s.add_argument("index", type=Path)
    s.add_argument("dest", type=Path, help=_("a new folder for the backup"))
    s.set_defaults(func=cmd_backup)

    s = sub.add_parser("restore", help=_("put a backup in place as an index (an existing one is kept aside)"))
    s.add_argument("backup", type=Path)
    s.add_argument("index", type=Path)
    s.add_argument("--force", action="store_true", help=_("replace an existing index (moved into .replaced-<time>)"))
    s.set_defaults(func=cmd_restore)


def cmd_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from ..check import check

    index_dir = args.index or _default_index()
    r = check(index_dir, photos=not args.no_photos, repair=args.repair, progress=not (args.quiet or args.json))
    if args.json:
        print(json.dumps({"ok": r.ok, **asdict(r)}, indent=1, ensure_ascii=False, default=str))
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
