"""Screenshots of the cross-check's Groups tab on an archive with junk faces, for a person to look at (issue 25,
"junk must not lead"): before and after quality.py kept low-quality faces out of groups. PNGs and what they show
(summary.json: every group with whose faces it joins; the CLI's `link groups`) in --out; the archive stays outside
the repository (--archive), the index in --out's "-work" folder.

The archive (built once, seeded, reused by every run), two collections like two leaks: 50 LFW people with one
photo in list-a and one in list-b (real pairs), and 16 "crowd" photos (8 in each): the only LFW photo of a
one-photo person with 5 small (about 26 px), pixelated (10 blocks across) faces of other one-photo people pasted
into its background, so every pair a pasted face makes is two different people. manifest.json says where each
pasted face is and whose it is.

Everything goes through the product as a person would use it: `facematch index` per collection, `facematch
link`, `facematch app --index --port`, the Cross-check page in a real Chromium (?page=crosscheck, 1280x1024), its
Groups tab, scrolled to the page's summary line. The page is driven by its English words, which every version of
the workbench shows, so the same script runs against an older checkout (PYTHONPATH chooses the facematch that
runs; the quality summary is read only where it exists):

    git worktree add /tmp/before 62cfdb4^
    PYTHONPATH=/tmp/before/src .venv/bin/python bench/groups_quality_screens.py --out bench/out/groups-quality/before
    PYTHONPATH=src .venv/bin/python bench/groups_quality_screens.py --out bench/out/groups-quality/after

About 45 s per run on 2 shared cores (indexing 30 s). docs/crosscheck.md shows the two PNGs.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import facematch  # noqa: E402
from team_driver import TeamBrowser, chrome, free_port  # noqa: E402

LFW = ROOT.parent / "shared" / "data" / "lfw" / "images"
#: An LFW photo is the face detector's box grown 2.2 times to 250 px: the face is about 114 px, in the middle.
LFW_FACE = 114
LFW_CROP = (55, 45, 195, 205)  # the face with its hair and chin
#: Where pasted faces go in a 250 px photo: its corners and sides, away from the main face in the middle.
SPOTS = [(6, 6), (214, 6), (6, 150), (214, 150), (6, 78), (214, 78)]


def pasted_face(src: Path, face_px: int, blocks: int) -> Image.Image:
    """An LFW photo's face shrunk so the face is about `face_px` wide, pixelated: `blocks` blocks across the face
    (a background face from a low-resolution photo, enlarged)."""
    with Image.open(src) as im:
        im = im.convert("RGB").crop(LFW_CROP)
    w, h = (
        round((hi - lo) * face_px / LFW_FACE) for lo, hi in ((LFW_CROP[0], LFW_CROP[2]), (LFW_CROP[1], LFW_CROP[3]))
    )
    k = blocks / LFW_FACE
    small = im.resize((max(1, round(im.width * k)), max(1, round(im.height * k))), Image.BOX)
    return small.resize((w, h), Image.NEAREST)


def build_archive(folder: Path, lfw: Path, args: argparse.Namespace) -> dict:
    """list-a and list-b: `args.people3` people with 3 photos (two in list-a, one in list-b), `args.people2` people
    with 2 (one in each), and `args.crowds` crowd photos (half in each) with `args.per_crowd` pasted faces each."""
    rng = random.Random(args.seed)
    folders = sorted(p for p in lfw.iterdir() if p.is_dir())
    counts = {p: len(list(p.glob("*.jpg"))) for p in folders}
    three = rng.sample([p for p in folders if counts[p] >= 3], args.people3)
    two = rng.sample([p for p in folders if counts[p] >= 2 and p not in three], args.people2)
    singles = rng.sample([p for p in folders if counts[p] == 1], args.crowds * (1 + args.per_crowd))
    a, b = folder / "list-a", folder / "list-b"
    for d in (a, b):
        d.mkdir(parents=True)
    for people, n in ((three, 3), (two, 2)):
        for p in people:
            photos = sorted(p.glob("*.jpg"))[:n]
            for m, f in enumerate(photos):
                shutil.copy(f, (b if m == n - 1 else a) / f.name)
    crowds = []
    for c in range(args.crowds):
        host, *pasted = singles[c * (1 + args.per_crowd) : (c + 1) * (1 + args.per_crowd)]
        src = next(host.glob("*.jpg"))
        with Image.open(src) as im:
            im = im.convert("RGB")
        name = f"crowd_{src.name}"
        faces = []
        for spot, person in zip(SPOTS, pasted, strict=False):
            face = pasted_face(next(person.glob("*.jpg")), args.face_px, args.blocks)
            im.paste(face, spot)
            faces.append({"person": person.name, "box": [spot[0], spot[1], spot[0] + face.width,
                                                         spot[1] + face.height]})  # fmt: skip
        coll = a if c % 2 == 0 else b
        im.save(coll / name, quality=90)
        crowds.append({"photo": f"{coll.name}/{name}", "main": host.name, "pasted": faces})
    manifest = {
        "seed": args.seed, "face_px": args.face_px, "blocks": args.blocks,
        "people_3_photos": [p.name for p in three], "people_2_photos": [p.name for p in two], "crowds": crowds,
        "photos": {d.name: len(list(d.glob("*.jpg"))) for d in (a, b)},
    }  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def cli(*argv: str, out: Path | None = None) -> str:
    """`facematch ARGV` as a person types it (python -m facematch.cli: the facematch PYTHONPATH chose)."""
    r = subprocess.run([sys.executable, "-m", "facematch.cli", *argv], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"facematch {' '.join(argv)} failed ({r.returncode}): {r.stderr[-3000:]}")
    if out is not None:
        out.write_text(r.stdout)
    return r.stdout


def whose(face, manifest: dict) -> str:
    """Whose face this is: "pasted:NAME" (a pasted face, by where it is in a crowd photo), "background:PHOTO"
    (off the middle of an LFW photo: someone else, unnamed), or the name of the person the photo is filed under."""
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    name = face.filename.rsplit("_", 1)[0]
    for crowd in manifest["crowds"]:
        if crowd["photo"].split("/")[-1] == face.filename:
            for p in crowd["pasted"]:
                x1, y1, x2, y2 = p["box"]
                if x1 <= cx <= x2 and y1 <= cy <= y2:
                    return f"pasted:{p['person']}"
            name = crowd["main"]
    if max(abs(cx - 125), abs(cy - 125)) > 40:  # LFW photos are 250 px with their person in the middle
        return f"background:{face.relpath}"
    return name


def summarise(idx: Path, manifest: dict) -> dict:
    """The groups as the app lists them (CrossCheck.groups), each face with whose it is and its size, and what
    quality set aside when this facematch has it."""
    from facematch.crosscheck import CrossCheck
    from facematch.search import Searcher

    with Searcher(idx) as s:
        cc = CrossCheck(s)
        pairs = cc.pairs()
        groups = []
        for g in cc.groups():
            faces = {f.id: f for p in g for f in (p.a, p.b)}
            groups.append({
                "pairs": len(g),
                "faces": [{"photo": f.relpath, "whose": whose(f, manifest),
                           "size_px": round(min(f.box[2] - f.box[0], f.box[3] - f.box[1]))} for f in faces.values()],
            })  # fmt: skip
        out = {"facematch": str(Path(facematch.__file__).parent), "pairs": len(pairs), "groups": groups}
        if hasattr(cc, "set_aside"):  # quality.py (62cfdb4) and after
            out["set_aside"] = vars(cc.set_aside())
        # the faces in pairs by whose they are (pasted, an LFW photo's background, a photo's own), and how many of
        # each are of low quality (62cfdb4 and after)
        seen: dict[int, tuple[str, bool]] = {}
        for p in pairs:
            for f, q in zip((p.a, p.b), getattr(p, "quality", None) or (None, None), strict=True):
                w = whose(f, manifest)
                seen[f.id] = (w.split(":")[0] if ":" in w else "own", bool(q is not None and q.low))
        if pairs and hasattr(pairs[0], "low"):  # the groups these pairs would make without the quality rule
            from facematch.crosscheck.review import DIFFERENT, GROUP_BAND, components

            strong = [p for p in pairs if p.mutual and p.band == GROUP_BAND
                      and not (p.decision is not None and p.decision["decision"] == DIFFERENT)]  # fmt: skip
            group_of = components((p.a.id, p.b.id) for p in strong)
            without: dict[int, list] = {}
            for p in strong:
                without.setdefault(group_of[p.a.id], []).append(p)
            out["without_rule"] = [
                {
                    "pairs": len(g),
                    "faces": len({f.id for p in g for f in (p.a, p.b)}),
                    "kind": kind({whose(f, manifest) for p in g for f in (p.a, p.b)}),
                }
                for g in sorted(without.values(), key=lambda g: (-len(g), -g[0].score))
            ]
        out["faces_in_pairs"] = {
            k: {"faces": sum(v[0] == k for v in seen.values()), "low": sum(v == (k, True) for v in seen.values())}
            for k in ("own", "background", "pasted")
        }
    for g in out["groups"]:
        g["kind"] = kind({f["whose"] for f in g["faces"]})
    return out


def kind(people: set[str]) -> str:
    """A group's kind from whose its faces are: junk (pasted faces only), one person, or mixed."""
    if all(w.startswith("pasted:") for w in people):
        return "junk"
    return "one person" if len(people) == 1 else "mixed"


def start_app(idx: Path, port: int, log: Path) -> subprocess.Popen:
    """`facematch app --index IDX --port PORT`; up when Streamlit's health check answers."""
    from facematch.app import serve

    with log.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "facematch.cli", "app", "--index", str(idx), "--port", str(port)],
            stdout=f, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    if not serve.wait_until_up(port, proc=proc):
        proc.terminate()
        raise RuntimeError("the app did not start: " + log.read_text(errors="replace")[-2000:])
    return proc


def small_png(src: Path, dest: Path, width: int) -> None:
    """The screenshot at `width` px, in 256 colours (a page of text and small photos keeps well)."""
    with Image.open(src) as im:
        im = im.convert("RGB")
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
        im.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(dest, optimize=True)


def screenshots(idx: Path, out: Path, work: Path, args: argparse.Namespace) -> list[Path]:
    port = free_port()
    app = start_app(idx, port, work / "app.log")
    shots = []
    try:
        d = chrome(work / "chrome")
        try:
            d.set_window_size(args.width, args.height)
            b = TeamBrowser(d, f"http://localhost:{port}")
            d.get(f"{b.url}/?page=crosscheck&lang=en")
            b.text_appears("Cross-check the archive against itself")
            b.settle()
            b.click("//*[@role='tab'][.//p[text()='Groups']]")
            b.text_appears("Group 1:")
            b.settle()
            time.sleep(2)  # the face thumbnails
            # the page's summary line (pairs, groups) at the top of the window, the tab's first groups below it
            line = b.visible("//p[contains(., 'candidate pairs (')][contains(., 'possibly the same person')]")
            d.execute_script("arguments[0].scrollIntoView({block: 'start'})", line)
            time.sleep(1)
            raw = b.shot(work / "groups-raw.png")
            small_png(raw, out / "groups.png", args.png_width)
            shots.append(out / "groups.png")
            body = b.body()
            (out / "groups-page.txt").write_text(body)
        finally:
            d.quit()
    finally:
        os.killpg(app.pid, signal.SIGTERM)  # the CLI's own session: it stops the Streamlit server it started
        app.wait(timeout=60)
    return shots


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "groups-quality" / "after")
    p.add_argument("--archive", type=Path, default=Path("/tmp/groupshots/archive"),
                   help="built here once (seeded) and reused; --rebuild to build it again")  # fmt: skip
    p.add_argument("--rebuild", action="store_true")
    p.add_argument("--lfw", type=Path, default=LFW)
    p.add_argument("--seed", type=int, default=25)
    p.add_argument("--people3", type=int, default=0, help="LFW people with 3 photos")
    p.add_argument("--people2", type=int, default=50, help="LFW people with 2 photos")
    p.add_argument("--crowds", type=int, default=16, help="crowd photos")
    p.add_argument("--per-crowd", type=int, default=5, help="pasted faces per crowd photo (at most 6)")
    p.add_argument("--face-px", type=int, default=26, help="a pasted face's width (px)")
    p.add_argument("--blocks", type=int, default=10, help="pixel blocks across a pasted face")
    p.add_argument("--width", type=int, default=1280, help="the browser window")
    p.add_argument("--height", type=int, default=1024)
    p.add_argument("--png-width", type=int, default=1200)
    args = p.parse_args()
    out, work = args.out, args.out.parent / (args.out.name + "-work")
    if args.rebuild:
        shutil.rmtree(args.archive, ignore_errors=True)
    if (args.archive / "manifest.json").is_file():
        manifest = json.loads((args.archive / "manifest.json").read_text())
    else:
        shutil.rmtree(args.archive, ignore_errors=True)
        manifest = build_archive(args.archive, args.lfw, args)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out.mkdir(parents=True, exist_ok=True)
    idx = work / "index"
    t = time.monotonic()
    for coll in ("list-a", "list-b"):
        cli("index", str(args.archive / coll), "--index", str(idx), "--quiet", "--workers", "1")
    cli("link", "--index", str(idx), "--quiet")
    cli("link", "groups", "--index", str(idx), out=out / "link-groups.txt")
    summary = summarise(idx, manifest)
    summary["archive"] = {"folder": str(args.archive), "photos": manifest["photos"],
                          "pasted_faces": sum(len(c["pasted"]) for c in manifest["crowds"])}  # fmt: skip
    summary["index_and_link_s"] = round(time.monotonic() - t, 1)
    shots = screenshots(idx, out, work, args)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    kinds = [g["kind"] for g in summary["groups"]]
    print(f"facematch from {summary['facematch']}: {summary['pairs']} pairs, {len(kinds)} groups: {kinds}")
    if "set_aside" in summary:
        print("set aside:", summary["set_aside"])
    for f in shots:
        print(f"{f} ({f.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
