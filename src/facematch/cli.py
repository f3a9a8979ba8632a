"""The `facematch` command line: parses arguments, calls the library, prints the result.

No face, index or search logic lives here; the Streamlit app calls the same functions.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import __version__, messages
from .engines import DEFAULT_ENGINE, ENGINES

DEFAULT_INDEX = Path("index")


def _default_index() -> Path:
    return Path(os.environ.get("FACEMATCH_INDEX", DEFAULT_INDEX))


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(
            "\nStopped. Everything finished so far is saved; run the same command again to continue.", file=sys.stderr
        )
        return 130
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"facematch: {e}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="facematch",
        description="Suggest candidate faces from a photo archive for a person to review. "
        "The tool suggests; people decide.",
    )
    p.add_argument("--version", action="version", version=f"facematch {__version__}")
    sub = p.add_subparsers(title="commands")

    s = sub.add_parser("index", help="index every face in a folder of photos (resumable, incremental)")
    s.add_argument("photo_dir", type=Path)
    s.add_argument("--index", type=Path, default=None, help="index folder (default: ./index)")
    s.add_argument(
        "--engine", default=DEFAULT_ENGINE, help=f"face engine (default: {DEFAULT_ENGINE}); see `facematch models`"
    )
    s.add_argument("--records", type=Path, help="CSV of archive records, joined to photos by file name")
    s.add_argument("--workers", type=int, default=None, help="worker processes (default: one per CPU core)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("search", help="find candidate faces for the person in one or more photos")
    s.add_argument("photos", type=Path, nargs="+", help="photos of the same person (several are fused into one query)")
    s.add_argument("--index", type=Path, default=None)
    s.add_argument("--engine", default=None, help="engine (default: the one the index was built with)")
    s.add_argument(
        "--face",
        type=int,
        action="append",
        help="which face to use (numbers as listed; default the largest); give once for all photos or once per photo",
    )
    s.add_argument("-k", type=int, default=50, help="how many candidates (default 50)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("info", help="what is in an index")
    s.add_argument("--index", type=Path, default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("demo", help="build the demo index from the built-in photos and run a demo search")
    s.add_argument("--index", type=Path, default=None, help="where to put the demo index (default: ./index/demo)")
    s.add_argument("--engine", default=DEFAULT_ENGINE)
    s.add_argument("--workers", type=int, default=None)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("models", help="list face engines, or fetch an insightface pack (needs internet)")
    msub = s.add_subparsers()
    f = msub.add_parser("fetch", help="download an insightface pack into models/<pack> with insightface's downloader")
    f.add_argument("pack")
    f.set_defaults(func=cmd_models_fetch)
    s.set_defaults(func=cmd_models)
    return p


# -- commands -----------------------------------------------------------------------------------
def cmd_index(args: argparse.Namespace) -> int:
    from .indexer import index_folder

    index_dir = args.index or _default_index()
    report = index_folder(
        args.photo_dir, index_dir, args.engine, workers=args.workers, records_csv=args.records, progress=not args.quiet
    )
    _print_index_report(report, index_dir)
    return 0


def _print_index_report(report, index_dir: Path) -> None:
    print(f"\nIndex: {index_dir}  (engine {report.engine})")
    print(
        f"  {report.seen} photo files seen: {report.scanned} read now, "
        f"{report.unchanged} unchanged since the last run; "
        f"{report.faces} faces found in {report.with_faces} photos, in {report.seconds:.1f} s."
    )
    if report.records:
        print(f"  {report.records} archive records imported.")
    if report.no_face:
        print(f"  {len(report.no_face)} photos with no face found:")
        for s in report.no_face:
            print(f"    - {s.path}")
    if report.errors:
        print(f"  {len(report.errors)} files skipped:")
        for s in report.errors:
            print(f"    - {s.path}: {s.reason}")
    if report.interrupted:
        print("  Interrupted: what was finished is saved; run the same command again to continue.")


def cmd_search(args: argparse.Namespace) -> int:
    from .search import Searcher

    index_dir = args.index or _default_index()
    with Searcher(index_dir, args.engine) as searcher:
        queries = [searcher.detect_file(p) for p in args.photos]
        picks = args.face or []
        if len(picks) not in (0, 1, len(queries)):
            raise ValueError("give --face once for all photos, or once for each photo")
        chosen = []
        for i, q in enumerate(queries):
            if q.error or not q.faces:
                continue
            number = picks[0] if len(picks) == 1 else (picks[i] if picks else None)
            chosen.append((q, q.pick(number)))
        candidates = searcher.search([face for _, face in chosen], k=args.k) if chosen else []
        if args.json:
            print(json.dumps(_search_json(searcher, queries, chosen, candidates), indent=1, ensure_ascii=False))
        else:
            _print_search(searcher, queries, chosen, candidates)
    return 0 if chosen else 1


def _search_json(searcher, queries, chosen, candidates) -> dict:
    chosen_ids = {id(face) for _, face in chosen}
    return {
        "engine": searcher.engine.fingerprint,
        "gallery_faces": searcher.gallery_size,
        "score": messages.SCORE_LABEL,
        "caveat": messages.CAVEAT,
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
                "photo": str(c.face.path),
                "sha256": c.face.sha256,
                "box": [round(v, 1) for v in c.face.box],
                "face_id": c.face.id,
                "records": c.records,
            }
            for c in candidates
        ],
    }


def _print_search(searcher, queries, chosen, candidates) -> None:
    chosen_ids = {id(face) for _, face in chosen}
    for q in queries:
        if q.error:
            print(f"{q.name}: cannot use this photo: {q.error}")
            continue
        if not q.faces:
            print(f"{q.name}: {messages.NO_FACE_HINT}")
            continue
        print(f"{q.name}: {len(q.faces)} face(s) found")
        for n, f in enumerate(q.faces, start=1):
            x1, y1, x2, y2 = (round(float(v)) for v in f.box)
            mark = "  <- used" if id(f) in chosen_ids else ""
            print(f"  face {n}: box ({x1},{y1})-({x2},{y2}), {round(f.size)} px, detector score {f.score:.2f}{mark}")
    if not chosen:
        print("Nothing to search with.")
        return
    fused = " (the photos are combined into one query)" if len(chosen) > 1 else ""
    print(
        f"\n{len(candidates)} candidates from {searcher.gallery_size} faces in the index{fused}; "
        f"score = {messages.SCORE_LABEL}, engine {searcher.engine.fingerprint}"
    )
    print(f"{'rank':>4}  {'similarity':>10}  photo / face box / record")
    for c in candidates:
        x1, y1, x2, y2 = (round(v) for v in c.face.box)
        print(f"{c.rank:>4}  {c.similarity:>10.3f}  {c.face.path}  ({x1},{y1})-({x2},{y2})")
        for r in c.records:
            shown = ", ".join(f"{k}: {v}" for k, v in r.items() if v and k not in ("photo",))
            print(f"{'':>18}record {shown}")
    print("\n" + messages.CAVEAT)


def cmd_info(args: argparse.Namespace) -> int:
    from .store import DB_NAME, Store
    from .vectors import FaceVectors

    index_dir = args.index or _default_index()
    if not (index_dir / DB_NAME).is_file():
        raise FileNotFoundError(f"no facematch index in {index_dir}; run `facematch index PHOTO_DIR` first")
    with Store(index_dir) as store:
        info = {"index": str(index_dir.resolve()), **store.counts(), "folders": store.roots(), "engines": {}}
        for fp, n in store.engines().items():
            saved = FaceVectors.load(index_dir, fp)
            info["engines"][fp] = {
                "faces": n,
                "photos": store.status_counts(fp),
                "faiss_file": "in step" if saved is not None and saved.count == n else "will be rebuilt on next use",
            }
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"Index {info['index']}")
    print(f"  {info['photos']} photos in {info['roots']} folder(s); {info['records']} archive records")
    for folder in info["folders"]:
        print(f"  folder: {folder}")
    for fp, e in info["engines"].items():
        st = e["photos"]
        print(
            f"  engine {fp}: {e['faces']} faces; photos ok {st.get('ok', 0)}, no face {st.get('no_face', 0)}, "
            f"unreadable {st.get('error', 0)}; FAISS file {e['faiss_file']}"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo
    from .indexer import index_folder

    index_dir = args.index or (_default_index() / "demo")
    gallery = demo.build_gallery(index_dir / "photos")
    print(f"Building the demo index in {index_dir} from {gallery} (public-domain and package sample photos).")
    report = index_folder(gallery, index_dir, args.engine, workers=args.workers, records_csv=demo.records_csv())
    _print_index_report(report, index_dir)
    print(f"\nDemo search with {demo.query_photo().name} (a photo that is not in the gallery):\n")
    return cmd_search(
        argparse.Namespace(photos=[demo.query_photo()], index=index_dir, engine=None, face=None, k=10, json=False)
    )


def cmd_models(args: argparse.Namespace) -> int:
    from .engines import models_dir

    print(f"Face engines (model folder: {models_dir()}):")
    for name, what in ENGINES.items():
        print(f"  {name:<20} {what}")
    return 0


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from .engines import models_dir
    from .engines.insightface_engine import fetch_pack

    path = fetch_pack(args.pack, models_dir())
    print(f"insightface pack '{args.pack}' is in {path}. Use it with --engine insightface:{args.pack}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
