"""Development sets that look like the photos families bring, built deterministically from ../shared.

Why: LFW (250 px, loose framing, mostly white adults) sits at the ceiling of every pipeline and cannot
tell which pre-processing helps. Here the query is a "family photo" and the gallery a "booking photo",
and they are treated differently:

- gallery: the first photo of each person with two or more photos, as it is; people with one photo are
  distractors (LFW and east-asian-dev alike).
- LFW queries: one other photo of each of a seeded sample of the multi-photo people, in four forms:
  `tight100`  a fixed central box (LFW photos are centred by the Viola-Jones detector that made the set:
              the face is about 110 px around (125, 130)): 120 px square = face plus about 10% margin,
              resized to 100x100. The box is independent of every pipeline under test.
  `tight64`   the same box at 64x64 (a face cut from a small print).
  `tight-scan` the tight100 crop as a scanned print (see `scan`): an old photo cut to the face and scanned.
  `small64`   the whole photo scaled to 64 px, so the face is about 30 px: a face cut from an old
              snapshot or a group photo, context included (what "small" means in a family's photo).
  `jpeg`      the whole photo re-saved at JPEG quality 10 (a photo forwarded through messengers).
  `scan`      grayscale, Gaussian blur (sigma 1), Gaussian noise (sigma 6), JPEG quality 60: a scanned print.
- age-gap-dev (issue 26): every young photo (`images/<id>/y/`) is a query (`age-young`); the archive is every
  adult photo of the 500 people (`age-adult`, about two each: a person photographed more than once, as in
  archives of repeat arrests) plus the LFW gallery as distractors (`lfw-distractors`), without the LFW people
  whose name is an age-gap identity (LAG and LFW share celebrities: 'adam_sandler' is 'Adam_Sandler'). Also
  `age-adult1`: only each person's first adult photo (one archive photo per person). Added by add_age_gap.
- east-asian-dev queries: every photo after the first of each multi-photo person, as it is (`ea`) and as a
  `tight100` crop (`ea-tight100`): the largest dlib HOG box (1 upsample; dlib's frontal HOG is a different
  detector from YuNet and its box is not used by any sface pipeline) plus 10% margin, squared, resized to
  100x100. Photos where HOG finds no face are left out of `ea-tight100` (counted in the manifest): a
  slight bias towards frontal faces in that set.

Derived photos go to bench/out/devsets/ (gitignored; never into the repository) with a manifest.json;
building again with the same arguments reuses them.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LFW = SHARED / "lfw" / "images"
EAST_ASIAN = SHARED / "east-asian-dev"
AGE_GAP = SHARED / "age-gap-dev"
OUT = ROOT / "bench" / "out" / "devsets"
LFW_FORMS = ("tight100", "tight64", "tight-scan", "small64", "jpeg", "scan")
#: LFW's central face box used for tight crops: centre and side in the 250x250 originals.
LFW_CENTRE, LFW_SIDE = (125, 130), 120
TIGHT_SIZE, SMALL_SIDE, MARGIN = 100, 64, 0.10


@dataclass(frozen=True)
class Photo:
    """One photo in a set: its identity ("lfw/Name" or "ea/name") and its file."""

    identity: str
    path: str


@dataclass
class DevSets:
    """Galleries and query lists, all paths absolute."""

    galleries: dict[str, list[Photo]]  # "lfw", "ea"
    queries: dict[str, list[Photo]]  # "lfw-tight100", ..., "ea", "ea-tight100"
    notes: dict[str, object]

    def sets(self) -> dict[str, tuple[list[str], str]]:
        """Set name -> (gallery names, query list name). The "open" sets search the joint gallery."""
        out: dict[str, tuple[list[str], str]] = {f"lfw-{f}": (["lfw"], f"lfw-{f}") for f in LFW_FORMS}
        out["ea"] = (["ea"], "ea")
        out["ea-tight100"] = (["ea"], "ea-tight100")
        for q in ("lfw-tight100", "ea", "ea-tight100"):
            out[f"open/{q}"] = (["lfw", "ea"], q)
        if "age-young" in self.queries:  # add_age_gap: first, the hardest case
            age = {"age-gap": (["age-adult", "lfw-distractors"], "age-young")}
            age["age-gap/1adult"] = (["age-adult1", "lfw-distractors"], "age-young")
            out = {**age, **out}
        return out


def _seed(*parts: object) -> int:
    return int(hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _square(box: tuple[float, float, float, float], margin: float) -> tuple[float, float, float]:
    """Centre x, y and side of the square around a box grown by `margin` on each side."""
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    return (x1 + x2) / 2, (y1 + y2) / 2, side


def crop_square(rgb: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    """The square (cx, cy, side) resized to size x size; parts outside the photo are edge-replicated."""
    half = side / 2
    m = np.array([[size / side, 0, -(cx - half) * size / side], [0, size / side, -(cy - half) * size / side]])
    interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
    return cv2.warpAffine(rgb, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def scan(rgb: np.ndarray, seed: int) -> bytes:
    """A scanned print: grey, slightly blurred, a little sensor noise, moderate JPEG."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    blurred = cv2.GaussianBlur(gray, (0, 0), 1.0).astype(np.float32)
    noisy = blurred + np.random.default_rng(seed).normal(0, 6, gray.shape)
    grey3 = np.repeat(np.clip(noisy, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return jpeg(grey3, 60)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, "PNG")


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def lfw_people(images: Path = LFW) -> dict[str, list[Path]]:
    people = {}
    for d in sorted(p for p in images.iterdir() if p.is_dir()):
        files = sorted(d.glob("*.jpg"))
        if files:
            people[d.name] = files
    return people


def lfw_form(rgb: np.ndarray, form: str, seed: int) -> tuple[str, np.ndarray | bytes]:
    """(suffix, pixels or encoded bytes) of one LFW photo in one query form."""
    if form == "tight100":
        return ".png", crop_square(rgb, *LFW_CENTRE, LFW_SIDE, TIGHT_SIZE)
    if form == "tight64":
        return ".png", crop_square(rgb, *LFW_CENTRE, LFW_SIDE, 64)
    if form == "tight-scan":
        return ".jpg", scan(crop_square(rgb, *LFW_CENTRE, LFW_SIDE, TIGHT_SIZE), seed)
    if form == "small64":
        h, w = rgb.shape[:2]
        f = SMALL_SIDE / max(h, w)
        return ".png", cv2.resize(rgb, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
    if form == "jpeg":
        return ".jpg", jpeg(rgb, 10)
    if form == "scan":
        return ".jpg", scan(rgb, seed)
    raise ValueError(form)


def _save(path: Path, data: np.ndarray | bytes) -> None:
    if isinstance(data, bytes):
        _write_bytes(path, data)
    else:
        _write_png(path, data)


def east_asian_people(folder: Path = EAST_ASIAN) -> dict[str, list[Path]]:
    people = {}
    for line in (folder / "identities.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        identity, _group, _n, imgs = line.split("\t")
        people[identity] = [folder / "images" / p for p in imgs.split(",") if p]
    return people


def hog_box(rgb: np.ndarray) -> tuple[float, float, float, float] | None:
    """The largest dlib frontal-HOG box (1 upsample), the tight-crop box for photos that are not centred."""
    import dlib

    rects = dlib.get_frontal_face_detector()(rgb, 1)
    if not rects:
        return None
    r = max(rects, key=lambda r: r.width() * r.height())
    return float(r.left()), float(r.top()), float(r.right()), float(r.bottom())


def add_age_gap(sets: DevSets, folder: Path = AGE_GAP) -> bool:
    """Add age-gap-dev (see the module docstring) to sets built by build(); False when the folder is absent."""
    if not (folder / "identities.tsv").is_file():
        return False
    adult, young = [], []
    for line in (folder / "identities.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        identity, group, path = line.split("\t")
        (young if group == "young" else adult).append(Photo(f"age/{identity}", str(folder / path)))
    names = {p.identity.split("/", 1)[1].lower() for p in adult}
    distractors = [p for p in sets.galleries["lfw"] if p.identity.split("/", 1)[1].lower() not in names]
    first: dict[str, Photo] = {}
    for p in adult:
        first.setdefault(p.identity, p)
    sets.galleries.update({"age-adult": adult, "age-adult1": list(first.values()), "lfw-distractors": distractors})
    sets.queries["age-young"] = young
    sets.notes["age_gap"] = {
        "young_queries": len(young), "adult_photos": len(adult), "people": len(first),
        "lfw_distractors": len(distractors), "lfw_removed_same_name": len(sets.galleries["lfw"]) - len(distractors),
    }  # fmt: skip
    return True


def build(lfw_people_n: int = 600, seed: int = 16, out: Path = OUT, ea_queries: int | None = None) -> DevSets:
    """Build (or reuse) the sets: `lfw_people_n` LFW people searched for, seeded; all east-asian-dev queries."""
    tag = f"p{lfw_people_n}-s{seed}" + (f"-ea{ea_queries}" if ea_queries else "")
    manifest = out / f"manifest-{tag}.json"
    if manifest.is_file():
        raw = json.loads(manifest.read_text())
        return DevSets(
            {k: [Photo(**p) for p in v] for k, v in raw["galleries"].items()},
            {k: [Photo(**p) for p in v] for k, v in raw["queries"].items()},
            raw["notes"],
        )
    people = lfw_people()
    multi = [n for n, f in people.items() if len(f) >= 2]
    order = list(multi)
    random.Random(seed).shuffle(order)  # a prefix of one seeded order: smaller samples nest in larger ones
    chosen = sorted(order[:lfw_people_n])
    galleries = {"lfw": [Photo(f"lfw/{n}", str(f[0])) for n, f in people.items()]}
    queries: dict[str, list[Photo]] = {f"lfw-{f}": [] for f in LFW_FORMS}
    for n in chosen:
        src = people[n][1 + random.Random(_seed(seed, n)).randrange(len(people[n]) - 1)]
        rgb = _load(src)
        for form in LFW_FORMS:
            suffix, data = lfw_form(rgb, form, _seed(seed, n, form))
            dest = out / f"lfw-{form}" / f"{src.stem}{suffix}"
            if not dest.is_file():
                _save(dest, data)
            queries[f"lfw-{form}"].append(Photo(f"lfw/{n}", str(dest)))
    ea = east_asian_people()
    galleries["ea"] = [Photo(f"ea/{n}", str(f[0])) for n, f in ea.items()]
    ea_q = [Photo(f"ea/{n}", str(p)) for n, f in ea.items() for p in f[1:]]
    if ea_queries and ea_queries < len(ea_q):
        random.Random(seed).shuffle(ea_q)
        ea_q = sorted(ea_q[:ea_queries], key=lambda p: p.path)
    queries["ea"] = ea_q
    queries["ea-tight100"] = []
    no_box = []
    for q in ea_q:
        dest = out / "ea-tight100" / f"{Path(q.path).stem}.png"
        if not dest.is_file():  # built before: the box was found then (HOG is deterministic)
            rgb = _load(Path(q.path))
            box = hog_box(rgb)
            if box is None:
                no_box.append(q.path)
                continue
            _write_png(dest, crop_square(rgb, *_square(box, MARGIN), TIGHT_SIZE))
        queries["ea-tight100"].append(Photo(q.identity, str(dest)))
    notes = {
        "lfw_people_searched": len(chosen),
        "seed": seed,
        "lfw_tight_box": {"centre": LFW_CENTRE, "side": LFW_SIDE, "size": TIGHT_SIZE},
        "ea_tight_box": "largest dlib HOG box (1 upsample) + 10% margin, squared",
        "ea_tight_no_hog_face": len(no_box),
    }
    sets = DevSets(galleries, queries, notes)
    out.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        json.dumps(
            {
                "galleries": {k: [asdict(p) for p in v] for k, v in galleries.items()},
                "queries": {k: [asdict(p) for p in v] for k, v in queries.items()},
                "notes": notes,
            },
            indent=0,
        )
    )
    return sets


if __name__ == "__main__":
    import sys

    s = build(int(sys.argv[1]) if len(sys.argv) > 1 else 600)
    print({k: len(v) for k, v in s.galleries.items()}, {k: len(v) for k, v in s.queries.items()}, s.notes)
