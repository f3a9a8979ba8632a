"""How far down the cross-check queue a researcher should go (issue 25), through the product's own path.

The archive: age-gap-dev's young photos as one collection ("young") and its adult photos as another
("adult"), plus LFW photos as strangers, split by person between the two collections (so every LFW pair
across the collections is two different people). LFW people whose names are age-gap-dev identities are
left out (LAG and LFW share celebrities). The photos are linked (symlinks) into bench/out/queue_precision/,
indexed by facematch's own indexer (`indexing.index_folder`, one call per collection, engine sface), linked
by `crosscheck.run.link` with `--across --min-band weak` (every pair kept, so the queue can be followed past
the band), and read back with `CrossCheck.queue(N)`: the order `facematch link review --next N` shows.

A pair is a true pair when both photos are of one age-gap-dev identity (identities.tsv: the file layout
images/<identity>/[y/]); LFW's identity is its folder name. Reported: the share of true pairs among the
first 50/100/500 of the queue, and recall of the young-adult pairs of age-gap-dev (photo pairs; and people
with at least one true pair) at each band and at --next 50/100/500. Faces a detector misses count as misses.

The index (and its links) is kept in bench/out/queue_precision/<set>/, so a second run only reads the queue.

    nice -n 10 python bench/queue_precision.py [--quick] [--strangers 3000] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
AGE_GAP = SHARED / "age-gap-dev"
LFW = SHARED / "lfw" / "images"
OUT = ROOT / "bench" / "out" / "queue_precision"
COUNTS = (50, 100, 500, 1000, 2000)  # the issue asks for 50/100/500; 1000 and 2000 go past the band
SEED = 25


def norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def age_gap() -> list[tuple[str, str, str]]:
    """(identity, group young/adult, path relative to age-gap-dev) per photo."""
    rows = []
    for line in (AGE_GAP / "identities.tsv").read_text().splitlines()[1:]:
        ident, group, path = line.split("\t")
        rows.append((ident, group, path))
    return rows


def build_photos(folder: Path, people: int | None, strangers: int) -> dict:
    """Symlinks: folder/young/ag/<id>/..., folder/adult/ag/<id>/..., LFW people under folder/<coll>/lfw/<Name>/.
    Returns the manifest (what was chosen)."""
    rows = age_gap()
    idents = sorted({r[0] for r in rows})
    if people is not None:
        idents = sorted(random.Random(SEED).sample(idents, people))
    chosen = set(idents)
    taken = {norm(i) for i in {r[0] for r in rows}}  # every age-gap name, chosen or not
    lfw_people = sorted(p.name for p in LFW.iterdir() if p.is_dir() and norm(p.name) not in taken)
    random.Random(SEED).shuffle(lfw_people)
    lfw: list[tuple[str, str]] = []  # (collection, name)
    n = 0
    for i, name in enumerate(lfw_people):
        if n >= strangers:
            break
        lfw.append(("young" if i % 2 == 0 else "adult", name))
        n += sum(1 for _ in (LFW / name).glob("*.jpg"))
    for ident, group, path in rows:
        if ident not in chosen:
            continue
        dest = folder / group / "ag" / ident / Path(path).name
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.symlink_to(AGE_GAP / path)
    for coll, name in lfw:
        for f in sorted((LFW / name).glob("*.jpg")):
            dest = folder / coll / "lfw" / name / f.name
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.symlink_to(f)
    excluded = sorted(p.name for p in LFW.iterdir() if p.is_dir() and norm(p.name) in taken)
    return {"identities": len(idents), "lfw_people": len(lfw), "lfw_photos": n, "lfw_excluded_by_name": excluded}


#: One person under two age-gap-dev identities (a typo in the source's names: the photos show one person).
ALIASES = {"kathleen_turne": "kathleen_turner"}
#: LFW photos are 250 x 250 and centred on the person they are labelled with (LFW was cut around a detected
#: face): a face whose box centre is farther than this from the centre is someone else in the photo, whose
#: identity is not known (Gwyneth Paltrow beside Bruce Paltrow in his photo).
LFW_CENTRE, LFW_OFF = 125.0, 40.0


def identity(relpath: str) -> str:
    """'ag/<id>/file' -> 'ag/<id>'; 'lfw/<Name>/file' -> 'lfw/<Name>' (relative to the collection's folder)."""
    kind, who = relpath.split("/")[:2]
    return f"{kind}/{ALIASES.get(who, who)}"


def label(face) -> str | None:
    """A face's identity, or None for a face in the background of an LFW photo (not the person it is labelled
    with: unknown)."""
    ident = identity(face.relpath)
    if ident.startswith("lfw/"):
        x1, y1, x2, y2 = face.box
        if max(abs((x1 + x2) / 2 - LFW_CENTRE), abs((y1 + y2) / 2 - LFW_CENTRE)) > LFW_OFF:
            return None
    return ident


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100 age-gap-dev people, 500 LFW stranger photos")
    ap.add_argument("--people", type=int, default=None, help="age-gap-dev people (default all 500)")
    ap.add_argument("--strangers", type=int, default=3000, help="LFW stranger photos, about (default 3000)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("-k", type=int, default=20)
    args = ap.parse_args()
    if args.quick:
        args.people, args.strangers = args.people or 100, min(args.strangers, 500)
    name = f"p{args.people or 'all'}-s{args.strangers}-k{args.k}"
    work = OUT / name
    photos, index_dir = work / "photos", work / "index"
    manifest = build_photos(photos, args.people, args.strangers)

    from facematch.crosscheck import CrossCheck
    from facematch.crosscheck.run import link
    from facematch.index import Index
    from facematch.indexing import index_folder

    t0 = time.monotonic()
    for coll in ("young", "adult"):
        rep = index_folder(photos / coll, index_dir, "sface", workers=args.workers, progress=False, collection=coll)
        print(f"indexed {coll}: {rep.faces} new photos' faces, {rep.unchanged} unchanged", file=sys.stderr)
    t_index = time.monotonic() - t0
    t0 = time.monotonic()
    lrep = link(index_dir, k=args.k, across=True, min_band="weak", progress=False, threads=min(args.workers, 2))
    t_link = time.monotonic() - t0
    print(f"linked {lrep.linked} faces in {t_link:.0f} s: {lrep.pairs}", file=sys.stderr)

    with Index.open(index_dir) as index:
        cc = CrossCheck(index)
        queue = cc.queue(10**9)  # every undecided pair, in `link review --next` order
        n_faces, n_dups = cc.gallery_size, len(cc.duplicates())
        no_face = {
            f"{coll}/{rel}"
            for coll, rel in index.db.execute(
                "SELECT r.collection, p.relpath FROM photos p JOIN roots r ON r.id = p.root_id "
                "WHERE p.id NOT IN (SELECT photo_id FROM faces)"
            )
        }

    # the truth: young-adult photo pairs of one age-gap identity
    truth_pairs: set[tuple[str, str]] = set()
    by_ident: dict[str, dict[str, list[str]]] = {}
    for ident, group, path in age_gap():
        if (photos / group / "ag" / ident / Path(path).name).exists():
            by_ident.setdefault(ALIASES.get(ident, ident), {"young": [], "adult": []})[group].append(
                f"{group}/ag/{ident}/{Path(path).name}"
            )
    for g in by_ident.values():
        for y in g["young"]:
            for a in g["adult"]:
                truth_pairs.add((y, a))
    people_with_pairs = {i for i, g in by_ident.items() if g["young"] and g["adult"]}
    findable = {(y, a) for y, a in truth_pairs if y not in no_face and a not in no_face}

    def true(p) -> bool:
        ia, ib = label(p.a), label(p.b)
        return ia is not None and ia == ib and ia.startswith("ag/")

    def unknown(p) -> bool:
        """A pair with a face in the background of an LFW photo: whether it is one person is not known."""
        return label(p.a) is None or label(p.b) is None

    def found(pairs) -> tuple[int, int]:
        """(young-adult photo pairs, people) among these pairs that are true."""
        got, ppl = set(), set()
        for p in pairs:
            if true(p):
                keys = [f"{c}/{f.relpath}" for c, f in zip(p.collections, (p.a, p.b), strict=True)]
                ka, kb = sorted(keys, key=lambda k: not k.startswith("young/"))
                if (ka, kb) in truth_pairs:
                    got.add((ka, kb))
                    ppl.add(label(p.a))
        return len(got), len(ppl)

    bands = Counter(p.band for p in queue)
    result = {
        "set": name, "manifest": {k: v for k, v in manifest.items() if k != "lfw_excluded_by_name"},
        "lfw_excluded_by_name": manifest["lfw_excluded_by_name"],
        "faces": n_faces, "duplicates": n_dups, "queue": len(queue), "bands": dict(bands),
        "truth_pairs": len(truth_pairs), "truth_people": len(people_with_pairs), "findable_pairs": len(findable),
        "index_s": round(t_index, 1), "link_s": round(t_link, 1),
        "rows": [],
    }  # fmt: skip
    rows_out = []
    for n in COUNTS:
        head = queue[:n]
        t = sum(true(p) for p in head)
        fp_, fpeople = found(head)
        last = head[-1].band if head else None
        rows_out.append({"first": f"--next {n}", "pairs": len(head), "true": t, "share": t / max(len(head), 1),
                         "unknown": sum(unknown(p) for p in head),
                         "recall_pairs": fp_, "recall_people": fpeople, "bands": dict(Counter(p.band for p in head)),
                         "last_band": last})  # fmt: skip
    for band in ("strong", "possible", "weak"):
        order = ("strong", "possible", "weak")
        head = [p for p in queue if p.band in order[: order.index(band) + 1]]
        t = sum(true(p) for p in head)
        fp_, fpeople = found(head)
        rows_out.append({"first": f"band >= {band}", "pairs": len(head), "true": t, "share": t / max(len(head), 1),
                         "unknown": sum(unknown(p) for p in head),
                         "recall_pairs": fp_, "recall_people": fpeople, "bands": dict(Counter(p.band for p in head)),
                         "last_band": band})  # fmt: skip
    result["rows"] = rows_out
    result["low_quality_pairs"] = sum(p.low for p in queue)
    result["true_low_quality_pairs"] = sum(p.low and true(p) for p in queue)
    work.mkdir(parents=True, exist_ok=True)
    (work / "result.json").write_text(json.dumps(result, indent=1))

    print(f"\n{name}: {n_faces} faces, {len(queue)} cross pairs in the queue ({dict(bands)}), {n_dups} duplicates; "
          f"{len(truth_pairs)} young-adult photo pairs of {len(people_with_pairs)} people to find "
          f"({len(findable)} with a face found in both photos); "
          f"index {t_index:.0f} s, link {t_link:.0f} s")  # fmt: skip
    print("\n| queue | pairs (strong/possible/weak) | true pairs | share true | with an LFW background face "
          "| share true of the others | young-adult pairs found | people found |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    tp, pp = len(truth_pairs), len(people_with_pairs)
    for r in rows_out:
        found_pairs = f"{r['recall_pairs']:,} of {tp:,} ({r['recall_pairs'] / max(tp, 1):.1%})"
        found_people = f"{r['recall_people']} of {pp} ({r['recall_people'] / max(pp, 1):.0%})"
        spread = "/".join(f"{r['bands'].get(b, 0):,}" for b in ("strong", "possible", "weak"))
        known = r["pairs"] - r["unknown"]
        share = f"{r['true']:,} | {r['share']:.0%} | {r['unknown']:,} | {r['true'] / max(known, 1):.0%}"
        print(f"| {r['first']} | {r['pairs']:,} ({spread}) | {share} | {found_pairs} | {found_people} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
