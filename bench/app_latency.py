"""How long a person waits in the workbench, step by step, and where the time goes.

Builds (once, cached in --work) a gallery of a few thousand faces from LFW in ../shared (or, without it, from
generated variants of the demo photos), then drives the real app with Streamlit's AppTest (the server side of
each step: the script's run, every search, image encoding and database call in it; not the browser's drawing
nor the websocket) in single-user mode:

  first page     a new session's first page in each language (the archive index already open, as on a
                 running server; the language's catalog is read on its first page in the process)
  upload         create a case, upload a photo, until the candidate grid is drawn
  compare        "Compare and decide" on candidate #1, until the compare panel is drawn
  decide         record a decision, until the grid is back
  reload         a new session on ?case=N of a case with a kept photo, until its candidates are drawn

The same query is also timed piece by piece (decode+detect, embed, search) so that the upload's "render" is the
rest. The machine is shared and noisy: each figure is the median of --repeats runs.

With --against OLD (a checkout, e.g. `git worktree add /tmp/base BRANCH_POINT`, or `git archive | tar -x`), each
repeat runs first against OLD/src and then against this checkout's src, in turns, in one run, so both see the
same load, and a table of the two is printed (before | after | after/before).

    python bench/app_latency.py [--faces 3000] [--repeats 5] [--work bench/out/app_latency] [--against OLD]
    python bench/app_latency.py --profile upload     # cProfile of one step: where its time goes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw" / "images"
LANGS = ("en", "ug", "tr", "zh_Hans")
STEPS = ("upload", "compare", "decide", "reload") + tuple(f"first page {code}" for code in LANGS)
TARGETS = {"upload": 1.5, "compare": 0.5, "decide": 0.5, "reload": 2.0, **{f"first page {c}": 3.0 for c in LANGS}}


def build_gallery(work: Path, faces: int) -> Path:
    from facematch.indexing import index_folder

    photos, idx = work / "photos", work / "index"
    if not photos.exists():
        photos.mkdir(parents=True)
        if LFW.is_dir():
            files = sorted(LFW.glob("*/*.jpg"))[:faces]
            for f in files:
                shutil.copyfile(f, photos / f.name)
        else:
            sys.path.insert(0, str(ROOT / "tests"))
            from conftest import variants

            variants(photos, faces)
    report = index_folder(photos, idx, "sface", progress=True)
    print(f"gallery: {report.faces + report.unchanged} photos indexed in {idx}", file=sys.stderr)
    return idx


def fresh_index(idx: Path, dest: Path) -> Path:
    """A copy of the gallery's index (its database and FAISS files; the photos stay where they are), so each
    version's cases and decisions start from nothing."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for f in idx.iterdir():
        if f.is_file():
            shutil.copyfile(f, dest / f.name)
    return dest


def timed(at, profile: str | None, step: str) -> float:
    if profile == step:
        import cProfile
        import pstats
        import threading

        # AppTest runs the script in a thread of its own; the calling thread only waits. Profile that thread:
        # the first event of any new thread switches the profiler on there.
        prof = cProfile.Profile()

        def start(*_args) -> None:
            sys.setprofile(None)
            prof.enable()

        threading.setprofile(start)
        t = time.perf_counter()
        at.run()
        took = time.perf_counter() - t
        threading.setprofile(None)
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(45)
        return took
    t = time.perf_counter()
    at.run()
    return time.perf_counter() - t


def ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def one_version(idx: Path, repeats: int, profile: str | None) -> dict[str, list[float]]:
    """Every step, `repeats` times, against the facematch on sys.path (the caller's PYTHONPATH)."""
    os.environ["FACEMATCH_INDEX"] = str(idx)
    from streamlit.testing.v1 import AppTest

    from facematch import demo
    from facematch.index import Index
    from facematch.review import Review

    app = str(Path(__import__("facematch.app.serve", fromlist=["APP"]).APP))
    queries = [demo.query_photo(), demo.DEMO_DIR / "gallery" / "obama.jpg", demo.DEMO_DIR / "gallery" / "biden.jpg"]
    out: dict[str, list[float]] = {k: [] for k in STEPS}
    warm = AppTest.from_file(app, default_timeout=600)
    warm.run()  # loads the model and the index once (st.cache_resource), as a running server has
    ok(warm)
    for code in LANGS:  # each language's first page in this process: its catalog is read then
        at = AppTest.from_file(app, default_timeout=600)
        at.query_params["lang"] = code
        out[f"first page {code}"].append(timed(at, profile, f"first page {code}"))
        ok(at)
    with Index.open(idx) as index:
        kept = Review(index).create_case("reload")
        Review(index).keep_photo(kept.id, demo.query_photo().read_bytes(), "obama2.jpg")
    for i in range(repeats):
        q = queries[i % len(queries)]
        at = AppTest.from_file(app, default_timeout=600)
        at.run()
        at.sidebar.text_input(key="reviewer").input("bench")
        at.sidebar.text_input(key="new_case_name").input(f"latency {i}")
        next(b for b in at.sidebar.button if b.label == "Create case").click()
        at.run()
        ok(at)
        at.file_uploader[0].set_value((f"{i}-{q.name}", q.read_bytes(), "image/jpeg"))
        out["upload"].append(timed(at, profile, "upload"))
        ok(at)
        first = sorted((b for b in at.button if b.key and b.key.startswith("cmp_")), key=lambda b: b.key)[0]
        first.click()
        out["compare"].append(timed(at, profile, "compare"))
        ok(at)
        at.radio(key="decision").set_value("unsure")
        next(b for b in at.button if b.label == "Record decision").click()
        out["decide"].append(timed(at, profile, "decide"))
        ok(at)
        assert not [r for r in at.radio if r.key == "decision"], "the decision was not recorded"
        again = AppTest.from_file(app, default_timeout=600)
        again.query_params["case"] = str(kept.id)
        out["reload"].append(timed(again, profile, "reload"))
        ok(again)
        assert any(b.key and b.key.startswith("cmp_") for b in again.button), "the reload showed no candidates"
    return out


def parts(idx: Path, repeats: int) -> dict[str, float]:
    """The upload's query piece by piece, in this process: decode+detect, embed, search."""
    from facematch import demo, images
    from facematch.search import Searcher

    queries = [demo.query_photo(), demo.DEMO_DIR / "gallery" / "obama.jpg", demo.DEMO_DIR / "gallery" / "biden.jpg"]
    s = Searcher(idx)
    got: dict[str, list[float]] = {"decode+detect": [], "embed": [], "search": []}
    for i in range(repeats):
        data = queries[i % len(queries)].read_bytes()
        t0 = time.perf_counter()
        dec = images.decode(data)
        faces = s.engine.detect(dec.rgb)
        t1 = time.perf_counter()
        s.engine.embed(dec.rgb, faces[:1])
        t2 = time.perf_counter()
        s.search(faces[:1], k=50)
        t3 = time.perf_counter()
        got["decode+detect"].append(t1 - t0)
        got["embed"].append(t2 - t1)
        got["search"].append(t3 - t2)
    return {k: statistics.median(v) for k, v in got.items()} | {"gallery_faces": s.gallery_size}


def child(args: argparse.Namespace) -> None:
    """One version's run (PYTHONPATH chosen by the parent): the timings as JSON on stdout."""
    res = one_version(args.child_index, args.repeats, args.profile)
    res_parts = parts(args.child_index, args.repeats)
    print("RESULT " + json.dumps({"steps": res, "parts": res_parts, "facematch": __import__("facematch").__file__}))


def run_child(src: Path, idx: Path, repeats: int, profile: str | None) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    cmd = [sys.executable, __file__, "--child-index", str(idx), "--repeats", str(repeats)]
    if profile:
        cmd += ["--profile", profile]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"the run against {src} failed:\n{proc.stderr[-4000:]}")
    if profile:
        print(proc.stderr[-20000:])
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="turns of (before, after), each with --repeats")
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "app_latency")
    ap.add_argument("--against", type=Path, help="an older checkout to compare with (its src/ is used)")
    ap.add_argument("--profile", choices=STEPS, help="print a cProfile of this step (this checkout only)")
    ap.add_argument("--child-index", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_index:
        child(args)
        return
    sys.path.insert(0, str(ROOT / "src"))
    idx = build_gallery(args.work, args.faces)
    versions = {"after": ROOT / "src"}
    if args.against:
        versions = {"before": args.against.resolve() / "src", **versions}
    results: dict[str, dict[str, list[float]]] = {v: {k: [] for k in STEPS} for v in versions}
    split: dict[str, dict] = {}
    for r in range(1 if args.profile else args.rounds):
        for name, src in versions.items():
            if args.profile and name != "after":
                continue
            copy = fresh_index(idx, args.work / f"index-{name}")
            got = run_child(src, copy, args.repeats, args.profile)
            for k, v in got["steps"].items():
                results[name][k] += v
            split[name] = got["parts"]
            print(f"round {r + 1}: {name} done ({got['facematch']})", file=sys.stderr)
    med = {v: {k: statistics.median(x) if x else float("nan") for k, x in res.items()} for v, res in results.items()}
    gallery = next(iter(split.values()))["gallery_faces"]
    print(f"\nAppTest (server side), single user, gallery of {gallery} faces; median of each step's runs:")
    head = f"{'step':<16}" + "".join(f"{v:>10}" for v in versions) + ("   after/before" if args.against else "")
    print(head + "   target")
    for k in STEPS:
        row = f"{k:<16}" + "".join(f"{med[v][k]:>9.2f}s" for v in versions)
        if args.against:
            row += f"   {med['after'][k] / med['before'][k]:>12.2f}"
        print(row + f"   <= {TARGETS[k]:.1f} s")
    for name, p in split.items():
        total = med[name]["upload"]
        rest = max(0.0, total - sum(p[k] for k in ("decode+detect", "embed", "search")))
        bits = ", ".join(f"{k} {p[k]:.3f} s" for k in ("decode+detect", "embed", "search"))
        print(f"  {name}: upload {total:.2f} s = {bits}, the rest (the page) {rest:.2f} s")
    out = args.work / "result.json"
    out.write_text(json.dumps({"gallery_faces": gallery, "median_s": med, "runs": results, "split": split}, indent=1))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
