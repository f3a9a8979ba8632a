"""From upload to candidates on screen: how long a person waits, and where the time goes.

Builds (once, cached in --work) a gallery of a few thousand faces from LFW in ../shared (or, without
it, from generated variants of the demo photos), then drives the real app with Streamlit's AppTest:
create a case, upload a photo, render the candidate grid. The same query is also timed piece by
piece (detect, embed, search) in the same process so that render = total - the rest. The machine is
shared and noisy: each figure is the median of --repeats runs, and the split is also given as a
share of the total.

    python bench/app_latency.py [--faces 3000] [--repeats 5] [--work bench/out/app_latency]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "lfw" / "images"


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
    print(f"gallery: {report.faces + report.unchanged} photos indexed in {idx}")
    return idx


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "app_latency")
    args = ap.parse_args()
    idx = build_gallery(args.work, args.faces)
    os.environ["FACEMATCH_INDEX"] = str(idx)

    from streamlit.testing.v1 import AppTest

    from facematch import demo
    from facematch.search import Searcher

    queries = [demo.query_photo(), demo.DEMO_DIR / "gallery" / "obama.jpg", demo.DEMO_DIR / "gallery" / "biden.jpg"]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.run()  # loads the model and the index once (st.cache_resource), as a running app has
    at.sidebar.text_input(key="reviewer").input("bench")
    at.sidebar.text_input(key="new_case_name").input("latency")
    next(b for b in at.sidebar.button if b.label == "Create case").click()
    at.run()
    totals = []
    for i in range(args.repeats):
        q = queries[i % len(queries)]
        if "queries" in at.session_state:
            at.session_state["queries"] = {}  # forget earlier uploads: detection runs again
        at.file_uploader[0].set_value((f"{i}-{q.name}", q.read_bytes(), "image/jpeg"))
        t = time.perf_counter()
        at.run()
        totals.append(time.perf_counter() - t)
        assert not at.exception, [e.value for e in at.exception]
    s = Searcher(idx)
    parts: dict[str, list[float]] = {"decode+detect": [], "embed": [], "search": []}
    from facematch import images

    for i in range(args.repeats):
        data = queries[i % len(queries)].read_bytes()
        t0 = time.perf_counter()
        dec = images.decode(data)
        faces = s.engine.detect(dec.rgb)
        t1 = time.perf_counter()
        s.engine.embed(dec.rgb, faces[:1])
        t2 = time.perf_counter()
        s.search(faces[:1], k=50)
        t3 = time.perf_counter()
        parts["decode+detect"].append(t1 - t0)
        parts["embed"].append(t2 - t1)
        parts["search"].append(t3 - t2)
    total = statistics.median(totals)
    med = {k: statistics.median(v) for k, v in parts.items()}
    med["render (rest)"] = max(0.0, total - sum(med.values()))
    print(f"\nupload -> 50 candidates on screen, gallery {s.gallery_size} faces, median of {args.repeats}:")
    print(f"  total {total:.2f} s (target <= 1.5 s)")
    for k, v in med.items():
        print(f"  {k:<15} {v:.3f} s  ({v / total:.0%} of the total)")
    out = args.work / "result.json"
    out.write_text(
        json.dumps({"gallery_faces": s.gallery_size, "total_s": total, "split_s": med, "runs": totals}, indent=1)
    )
    print(f"saved {out}")


if __name__ == "__main__":
    main()
