"""Searching an archive: `index`, `retrain`, `search`, `info`, `demo`.

`index` and `retrain` also own the FAISS index type options (--index-type, --index-params); the results
are shown through `present`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import messages
from ..i18n import _
from .args import DEMO_INDEX, default_index
from .present import (
    dec,
    num,
    print_index_report,
    print_json,
    print_search,
    print_vectors,
    retrain_advice,
    search_json,
)


def add_parser(sub) -> None:
    """Register index, retrain, search, info and demo: options are added once chosen (args.Parser)."""
    sub.add_parser(
        "index", help=_("index every face in a folder of photos (resumable, incremental)"), build=_index_options
    )
    sub.add_parser(
        "retrain", help=_("rebuild the FAISS index from the database, choosing its type again"), build=_retrain_options
    )
    sub.add_parser(
        "search",
        help=_("find candidate faces for the person in one or more photos (and by name)"),
        build=_search_options,
    )
    sub.add_parser("info", help=_("what is in an index"), build=_info_options)
    sub.add_parser(
        "demo", help=_("build the demo index from the built-in photos and run a demo search"), build=_demo_options
    )


def _index_options(s) -> None:
    from ..engines import DEFAULT_ENGINE

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


def _retrain_options(s) -> None:
    s.add_argument("--index", type=Path, default=None)
    s.add_argument("--engine", default=None, help=_("engine (default: the one the index was built with)"))
    _index_type_args(s)
    s.set_defaults(func=cmd_retrain)


def _search_options(s) -> None:
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


def _info_options(s) -> None:
    s.add_argument("--index", type=Path, default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_info)


def _demo_options(s) -> None:
    from ..engines import DEFAULT_ENGINE

    s.add_argument("--index", type=Path, default=None, help=_("where to put the demo index (default: ./index/demo)"))
    s.add_argument("--engine", default=DEFAULT_ENGINE)
    s.add_argument("--workers", type=int, default=None)
    s.set_defaults(func=cmd_demo)


def cmd_index(args: argparse.Namespace) -> int:
    from ..indexing import index_folder

    index_dir = args.index or default_index(to_read=False)
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
    print_index_report(report, index_dir)
    print_vectors(index_dir, report.engine)
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


def cmd_retrain(args: argparse.Namespace) -> int:
    from ..index import Index

    index_dir = args.index or default_index()
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
    print_vectors(index_dir, fp)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from ..search import Searcher

    facts = _search_facts(args)
    if not args.photos and not facts.names:
        raise ValueError(_("give one or more photos, or a --name to search the records by"))
    index_dir = args.index or default_index()
    with Searcher(index_dir, args.engine, progress=sys.stderr.isatty()) as searcher:
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
            print_json(search_json(searcher, queries, chosen, candidates, result))
        else:
            print_search(searcher, queries, chosen, candidates, result)
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


def cmd_info(args: argparse.Namespace) -> int:
    from ..index import Index

    index_dir = args.index or default_index()
    with Index.open(index_dir) as index:
        info = index.summary()
    if args.json:
        print_json(info, ascii=True)
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
            print("    " + retrain_advice(e["retrain_hint"], index_dir))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .. import demo
    from ..indexing import index_folder

    index_dir = args.index or DEMO_INDEX
    gallery = demo.build_gallery(index_dir / "photos")
    print(_("Building the demo index in {index} from {gallery} (public-domain and package sample photos).",
            index=index_dir, gallery=gallery))  # fmt: skip
    report = index_folder(gallery, index_dir, args.engine, workers=args.workers, records_csv=demo.records_csv())
    print_index_report(report, index_dir)
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
