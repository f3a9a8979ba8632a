"""Accuracy of every pipeline on the photos families have, side by side in one run (issues 16 and 26).

Sets (bench/devsets.py): age-gap-dev, young photos searched against every adult photo (about two per person)
plus the LFW gallery as distractors (`age-gap`), and against each person's first adult photo only
(`age-gap/1adult`); LFW made hard (tight 100 px crops, 64 px photos, JPEG q10, scans) against the whole LFW
gallery; east-asian-dev as it is and as tight crops; and the open set: the joint gallery of LFW and
east-asian-dev searched by LFW tight crops and east-asian queries.

Pipelines:
  ref-A dlib            dlib as face_recognition runs it: HOG (1 upsample), largest face, 5-point
                        landmarks, compute_face_descriptor with 1 jitter, Euclidean distance
  ref-B zoo             the OpenCV Zoo recipe with facematch's files: FaceDetectorYN with input size =
                        photo size (score 0.9, NMS 0.3), first face, FaceRecognizerSF alignCrop + feature
  facematch (old)       the sface engine as shipped before this work: up-scaling to 640, border on a miss
  sface up=/border=/flip variants of the engine's pre-processing (src/facematch/engines/sface.py)
  insightface:<pack>    every pack found in models/ (none ship; picked up when present)
Scoring variants computed from the same embeddings: CSLS-style hubness correction (several k and
weights; "cut C, up to M": a face's nearest neighbours at cosine >= C left out of r_g, at most M of them, C = the
engine's published same-person cosine, engines.SAME_PERSON_COSINE, M = neighbours.SAME_PERSON_MAX: what ships
since issue 26; any --cuts and --most too; M = all: no bound) and a z-score fusion of dlib with sface
(weights chosen on one half of the people, reported on the other). A query's rank is 1 + the number of other
people's gallery faces scoring above its best-scoring mate (age-gap has about two adult photos a person, the
other sets one). A query with no face, or whose mates' gallery photos have no face, is a miss.

Issue 26's comparison (plain cosine, the correction shipped before, the correction shipped now, on the
colleague's protocol: 150 LFW people, a 2,000-photo LFW gallery):

    .venv/bin/python bench/accuracy.py --people 150 --distractors 1850 --timing 0 \
        --pipelines "default (up=both border=edge flip)" [dlib] [--cuts 0.30 0.45] [--most 3 10 0]

Embeddings are cached per (pipeline, engine fingerprint, photo sha256) in bench/out/accuracy-cache/.

    .venv/bin/python bench/accuracy.py [--quick] [--people 600] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import devsets  # noqa: E402

from facematch.engines import get_engine, models_dir, same_person_cosine  # noqa: E402
from facematch.engines.base import Face, normalise  # noqa: E402
from facematch.engines.sface import DETECTOR_FILE, RECOGNIZER_FILE, SFaceEngine  # noqa: E402
from facematch.neighbours import SAME_PERSON_MAX, neighbour_means  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RANKS = (1, 20, 50)
CMC_MAX = 50

#: sface pre-processing variants: name -> engine options. "facematch (old)" is the shipped policy.
OLD = {"upscale": "640", "border": "miss", "flip": False}
NEW = {"upscale": "both", "border": "edge", "flip": True}
#: sface pre-processing variants: name -> engine options (always all three: the engine's defaults moved).
#: "old + X" changes one lever of the old policy; "default, X" changes one lever of the new default.
SFACE_VARIANTS: dict[str, dict[str, object]] = {
    "facematch (old)": OLD,
    "old + up=none": {**OLD, "upscale": "none"},
    "old + up=face": {**OLD, "upscale": "face"},
    "old + up=both": {**OLD, "upscale": "both"},
    "old + up=mean": {**OLD, "upscale": "mean"},
    "old + border=edge": {**OLD, "border": "edge"},
    "old + border=both": {**OLD, "border": "both"},
    "old + flip": {**OLD, "flip": True},
    "default (up=both border=edge flip)": NEW,
    "default, up=none": {**NEW, "upscale": "none"},
    "default, up=face": {**NEW, "upscale": "face"},
    "default, up=mean": {**NEW, "upscale": "mean"},
    "default, border=miss": {**NEW, "border": "miss"},
    "default, border=auto": {**NEW, "border": "auto"},
    "default, border=both": {**NEW, "border": "both"},
    "default, no flip": {**NEW, "flip": False},
    "up=none border=both flip": {"upscale": "none", "border": "both", "flip": True},
    "up=face border=edge flip": {"upscale": "face", "border": "edge", "flip": True},
    "up=mean border=both flip": {"upscale": "mean", "border": "both", "flip": True},
}
REFERENCES = ("ref-A dlib", "ref-B zoo")
#: The variant that became the engine's default (hubness and fusion are also measured on it).
DEFAULT_VARIANT = "default (up=both border=edge flip)"


class _Memo:
    """Per-photo memo of YuNet runs and chip embeddings, shared by all sface variants in a worker.

    The variants differ only in which detections they combine; caching the raw runs (by the pixels and
    the scale) and the chips' vectors (by the chip's pixels) makes each extra variant almost free while
    every variant still runs the engine's own policy code.
    """

    det: dict[tuple, list[Face]] = {}
    emb: dict[bytes, np.ndarray] = {}

    @classmethod
    def clear(cls) -> None:
        cls.det.clear()
        cls.emb.clear()


def _key(a: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(a).data, digest_size=16).digest() + str(a.shape).encode()


class MemoSFace(SFaceEngine):
    """The sface engine with memoised raw model calls (the policies are the engine's, unchanged)."""

    def _yunet(self, rgb: np.ndarray, factor: float) -> list[Face]:
        k = (_key(rgb), factor)
        if k not in _Memo.det:
            _Memo.det[k] = super()._yunet(rgb, factor)
        return [Face(f.box.copy(), f.landmarks.copy(), f.score) for f in _Memo.det[k]]

    def _embed_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        out = []
        for c in chips:
            k = _key(c)
            if k not in _Memo.emb:
                _Memo.emb[k] = super()._embed_chips([c])[0]
            out.append(_Memo.emb[k])
        return np.array(out, dtype=np.float32)


class OrtSFace(SFaceEngine):
    """The old sface runtime (SFace through onnxruntime), only to time the old default against the new."""

    def __init__(self, folder: Path, **options: object) -> None:
        import onnxruntime as ort

        super().__init__(folder, **options)  # type: ignore[arg-type]
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        opts.intra_op_num_threads, opts.inter_op_num_threads = 1, 1
        self._session = ort.InferenceSession(str(folder / RECOGNIZER_FILE), opts, providers=["CPUExecutionProvider"])

    def _embed_chips(self, chips: list[np.ndarray]) -> np.ndarray:
        name = self._session.get_inputs()[0].name
        out = [
            self._session.run(None, {name: np.ascontiguousarray(c.transpose(2, 0, 1)[None].astype(np.float32))})[0][0]
            for c in chips
        ]
        return np.array(out, dtype=np.float32)


# -- workers --------------------------------------------------------------------------------------
_W: dict[str, object] = {}


def _init(pipelines: list[str]) -> None:
    cv2.setNumThreads(1)
    folder = models_dir() / "sface"
    for p in pipelines:
        if p in SFACE_VARIANTS:
            _W[p] = MemoSFace(folder, **SFACE_VARIANTS[p])  # type: ignore[arg-type]
        elif p == "ref-A dlib":
            import dlib
            import face_recognition_models as frm

            _W[p] = (
                dlib.get_frontal_face_detector(),
                dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
                dlib.face_recognition_model_v1(frm.face_recognition_model_location()),
            )
        elif p == "ref-B zoo":
            _W[p] = (
                cv2.FaceDetectorYN.create(str(folder / DETECTOR_FILE), "", (320, 320), 0.9, 0.3, 5000),
                cv2.FaceRecognizerSF.create(str(folder / RECOGNIZER_FILE), ""),
            )
        else:
            _W[p] = get_engine(p, threads=1)


def _ref_a(rgb: np.ndarray) -> np.ndarray | None:
    det, sp, rec = _W["ref-A dlib"]  # type: ignore[misc]
    rects = det(rgb, 1)
    if not rects:
        return None
    r = max(rects, key=lambda r: r.width() * r.height())
    return np.array(rec.compute_face_descriptor(rgb, sp(rgb, r), 1), dtype=np.float32)


def _ref_b(rgb: np.ndarray) -> np.ndarray | None:
    det, rec = _W["ref-B zoo"]  # type: ignore[misc]
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    det.setInputSize((bgr.shape[1], bgr.shape[0]))
    _, faces = det.detect(bgr)
    if faces is None or len(faces) == 0:
        return None
    return np.asarray(rec.feature(rec.alignCrop(bgr, faces[0]))[0], dtype=np.float32)


def work(task: tuple[str, list[str]]) -> tuple[str, dict[str, np.ndarray | None]]:
    """Embeddings of one photo for the pipelines asked: name -> vector (None: no face)."""
    path, pipelines = task
    from PIL import Image

    rgb = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
    _Memo.clear()
    out: dict[str, np.ndarray | None] = {}
    for p in pipelines:
        if p == "ref-A dlib":
            out[p] = _ref_a(rgb)
        elif p == "ref-B zoo":
            out[p] = _ref_b(rgb)
        else:
            faces = _W[p].analyze(rgb)  # type: ignore[attr-defined]
            out[p] = faces[0].embedding if faces else None
    return path, out


# -- cache ----------------------------------------------------------------------------------------
def file_sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _cache_path(pipeline: str, tag: str) -> Path:
    slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in tag)  # by what made the vectors, not the label
    return OUT / "accuracy-cache" / f"{slug}.npz"


def load_cache(pipeline: str, tag: str) -> dict[str, np.ndarray | None]:
    path = _cache_path(pipeline, tag)
    if not path.is_file():
        return {}
    z = np.load(path)
    return {s: (v if ok else None) for s, v, ok in zip(z["sha"], z["emb"], z["ok"], strict=True)}


def save_cache(pipeline: str, tag: str, cache: dict[str, np.ndarray | None]) -> None:
    if not cache:
        return
    dim = next((len(v) for v in cache.values() if v is not None), 1)
    shas = list(cache)
    emb = np.stack([cache[s] if cache[s] is not None else np.zeros(dim, np.float32) for s in shas])
    path = _cache_path(pipeline, tag)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path.with_suffix(".tmp.npz"), sha=np.array(shas), emb=emb, ok=np.array([cache[s] is not None for s in shas])
    )
    path.with_suffix(".tmp.npz").replace(path)


def pipeline_tag(pipeline: str) -> str:
    """What makes a pipeline's vectors: the engine fingerprint (weights + pre-processing) or the recipe."""
    if pipeline in SFACE_VARIANTS:
        return SFaceEngine(models_dir() / "sface", **SFACE_VARIANTS[pipeline]).fingerprint  # type: ignore[arg-type]
    if pipeline == "ref-A dlib":
        return "dlib-hog1-5pt-jitter1"
    if pipeline == "ref-B zoo":
        return "zoo-yunet0.9-alignCrop-" + file_sha(str(models_dir() / "sface" / RECOGNIZER_FILE))[:12]
    return get_engine(pipeline).fingerprint


def insightface_packs() -> list[str]:
    """Every insightface pack present in models/ (a folder of .onnx files other than sface)."""
    root = models_dir()
    return [
        f"insightface:{d.name}"
        for d in sorted(root.iterdir())
        if d.is_dir() and d.name != "sface" and any(d.glob("*.onnx"))
    ]


# -- scoring --------------------------------------------------------------------------------------
def matrix(vectors: list[np.ndarray | None], dim: int) -> tuple[np.ndarray, np.ndarray]:
    ok = np.array([v is not None for v in vectors])
    m = np.stack([v if v is not None else np.zeros(dim, np.float32) for v in vectors]).astype(np.float32)
    return m, ok


def similarity(q: np.ndarray, g: np.ndarray, euclidean: bool) -> np.ndarray:
    """Query x gallery scores, higher = more alike (negative distance for dlib as face_recognition ranks)."""
    if euclidean:
        d2 = (q * q).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2 * q @ g.T
        return -np.sqrt(np.maximum(d2, 0))
    return normalise(q) @ normalise(g).T


def mate_ranks(scores: np.ndarray, q_ok: np.ndarray, g_ok: np.ndarray, mates: np.ndarray) -> np.ndarray:
    """Rank of each query's best-scoring mate (1 = first): 1 + the faces of other people above it. `mates`: a
    (queries x gallery) mask of the same person. inf when the query or all its mates' photos have no face."""
    s = np.where(g_ok[None, :], scores, -np.inf)
    own = np.where(mates & g_ok[None, :], s, -np.inf).max(1)
    r = 1 + ((s > own[:, None]) & ~mates).sum(1).astype(float)
    r[~q_ok | ~np.isfinite(own)] = np.inf
    return r


def searched(ds: devsets.DevSets, gnames: list[str], qname: str) -> tuple[list, list, np.ndarray]:
    """(gallery, queries with a mate in it, the mates mask) of one set."""
    gallery = [ph for g in gnames for ph in ds.galleries[g]]
    ids = np.array([ph.identity for ph in gallery])
    present = set(ids.tolist())
    queries = [q for q in ds.queries[qname] if q.identity in present]
    return gallery, queries, np.array([q.identity for q in queries])[:, None] == ids[None, :]


def engine_of(pipeline: str) -> str:
    """The engine name a pipeline's vectors come from (its published same-person cosine is the engine's)."""
    if pipeline in SFACE_VARIANTS or pipeline == "ref-B zoo":
        return "sface"
    return "dlib" if pipeline == "ref-A dlib" else pipeline


def summary(r: np.ndarray, q_ok: np.ndarray) -> dict[str, object]:
    return {
        **{f"rank{k}": float(np.mean(r <= k)) for k in RANKS},
        "searches": len(r),
        "no_face": int((~q_ok).sum()),
        "cmc": [float(np.mean(r <= k)) for k in range(1, CMC_MAX + 1)],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=600, help="LFW people searched for (seeded sample)")
    ap.add_argument("--quick", action="store_true", help="60 LFW people, 60 east-asian queries, 600 distractors")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--distractors", type=int, default=0, help="LFW gallery photos of people not searched for (0: all)")
    ap.add_argument("--pipelines", nargs="*", help="only these pipelines (default: all)")
    ap.add_argument("--cached-only", action="store_true", help="embed nothing: table of the pipelines fully cached")
    ap.add_argument("--embed-only", action="store_true", help="fill the embedding cache, no table")
    ap.add_argument("--timing", type=int, default=150, help="photos timed for the old vs new default (0: skip)")
    ap.add_argument("--cuts", type=float, nargs="*", default=[], help="more same-person cuts to try (hubness)")
    ap.add_argument("--most", type=int, nargs="*", default=[], help="more bounds on what the cut leaves out (0: none)")
    ap.add_argument("--no-age-gap", action="store_true", help="leave age-gap-dev out")
    args = ap.parse_args()
    if not devsets.LFW.is_dir() or not devsets.EAST_ASIAN.is_dir():
        print(f"needs ../shared data at {devsets.SHARED}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    ds = devsets.build(60 if args.quick else args.people, args.seed, ea_queries=60 if args.quick else None)
    distractors = 300 if args.quick else args.distractors
    if distractors:  # a shorter LFW gallery: the searched people's photos plus an even slice of the rest
        wanted = {p.identity for qs in ds.queries.values() for p in qs}
        keep = [p for p in ds.galleries["lfw"] if p.identity in wanted]
        rest = [p for p in ds.galleries["lfw"] if p.identity not in wanted]
        ds.galleries["lfw"] = keep + rest[:: max(1, len(rest) // distractors)][:distractors]
    if not args.no_age_gap and not devsets.add_age_gap(ds):
        print(f"age-gap-dev not found at {devsets.AGE_GAP}: left out", file=sys.stderr)
    pipelines = args.pipelines or [*REFERENCES, *SFACE_VARIANTS, *insightface_packs()]
    photos = sorted({p.path for v in [*ds.galleries.values(), *ds.queries.values()] for p in v})
    print(f"{len(photos)} photos, {len(pipelines)} pipelines; building sets took {time.monotonic() - t0:.0f} s")
    shas = {p: file_sha(p) for p in photos}
    tags = {p: pipeline_tag(p) for p in pipelines}
    caches = {p: load_cache(p, tags[p]) for p in pipelines}
    tasks = []
    for path in photos:
        todo = [p for p in pipelines if shas[path] not in caches[p]]
        if todo:
            tasks.append((path, todo))
    if args.cached_only:
        incomplete = {p for _, todo in tasks for p in todo}
        print(f"not measured (embeddings missing from the cache): {', '.join(sorted(incomplete)) or 'none'}")
        pipelines = [p for p in pipelines if p not in incomplete]
        tasks = []
    t1 = time.monotonic()
    if tasks:
        from tqdm import tqdm

        needed = sorted({p for _, todo in tasks for p in todo})
        ctx = get_context("spawn")
        with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init, initargs=(needed,)) as pool:
            for n, (path, out) in enumerate(
                tqdm(pool.map(work, tasks, chunksize=8), total=len(tasks), desc="Embedding", mininterval=30)
            ):
                for p, v in out.items():
                    caches[p][shas[path]] = v
                if n % 100 == 99:
                    for p in needed:
                        save_cache(p, tags[p], caches[p])
        for p in needed:
            save_cache(p, tags[p], caches[p])
    embed_seconds = time.monotonic() - t1
    if args.embed_only:
        return 0
    caches = {p: caches[p] for p in pipelines}
    results = evaluate(ds, pipelines, caches, shas, args.seed, args.cuts, args.most)
    timing = time_defaults(ds, args.timing) if args.timing else {}
    write_outputs(ds, results, timing, embed_seconds, len(photos), args)
    return 0


def evaluate(
    ds: devsets.DevSets,
    pipelines: list[str],
    caches: dict,
    shas: dict,
    seed: int,
    cuts: list[float] = (),
    most: list[int] = (),
) -> dict[str, dict]:
    """pipeline -> set -> summary, for every embedding pipeline plus hubness and fusion variants."""
    results: dict[str, dict] = {}
    vec = {p: (lambda path, p=p: caches[p].get(shas[path])) for p in pipelines}
    dims = {p: next(len(v) for v in caches[p].values() if v is not None) for p in pipelines}
    sets = ds.sets()
    hub_of = ["facematch (old)", "ref-B zoo", "old + flip", DEFAULT_VARIANT, "dlib"]
    for p in pipelines:
        results[p] = {}
        euclid = p == "ref-A dlib"
        published = same_person_cosine(engine_of(p))
        for sname, (gnames, qname) in sets.items():
            gallery, queries, mates = searched(ds, gnames, qname)
            g, g_ok = matrix([vec[p](ph.path) for ph in gallery], dims[p])
            q, q_ok = matrix([vec[p](ph.path) for ph in queries], dims[p])
            s = similarity(q, g, euclid)
            results[p][sname] = summary(mate_ranks(s, q_ok, g_ok, mates), q_ok)
            if p in hub_of:
                gn = normalise(g)
                variants = [(10, 0.5, None, 0), (5, 0.5, None, 0), (20, 0.5, None, 0), (50, 0.5, None, 0)]
                variants += [(10, 1.0, None, 0)]
                for c in [x for x in dict.fromkeys([published, *cuts]) if x is not None]:
                    variants += [(10, 0.5, c, m) for m in dict.fromkeys([SAME_PERSON_MAX, *most])]
                for k, alpha, cut, m in variants:
                    r = neighbour_means(gn, k=k, valid=g_ok, cut=cut, most=m or len(gallery))
                    hs = normalise(q) @ gn.T - alpha * (r - r[g_ok].mean())[None, :]
                    name = f"{p} + hubness k={k}" + (f" a={alpha}" if alpha != 0.5 else "")
                    if cut is not None:
                        ships = cut == published and m == SAME_PERSON_MAX
                        name += f", cut {cut:g} up to {m or 'all'}" + (" (ships)" if ships else "")
                    results.setdefault(name, {})[sname] = summary(mate_ranks(hs, q_ok, g_ok, mates), q_ok)
    results.update(fusion(ds, caches, shas, dims, seed))
    return results


def _half(identity: str, seed: int) -> int:
    return int(hashlib.sha256(f"{seed}/{identity}".encode()).hexdigest(), 16) % 2


def fusion(ds: devsets.DevSets, caches: dict, shas: dict, dims: dict, seed: int) -> dict[str, dict]:
    """dlib + sface, each z-scored on its gallery-gallery (stranger) scores; weight chosen on half A, shown on B."""
    out: dict[str, dict] = {}
    if "ref-A dlib" not in caches:
        return out
    for sf in [p for p in ("facematch (old)", DEFAULT_VARIANT) if p in caches]:
        per_w: dict[float, dict[str, dict]] = {}
        for sname, (gnames, qname) in ds.sets().items():
            gallery, queries, mates = searched(ds, gnames, qname)
            zs, oks = [], []
            for p in ("ref-A dlib", sf):
                g, g_ok = matrix([caches[p].get(shas[ph.path]) for ph in gallery], dims[p])
                q, q_ok = matrix([caches[p].get(shas[ph.path]) for ph in queries], dims[p])
                gn = normalise(g)[g_ok]
                sample = gn[:: max(1, len(gn) // 1000)]
                imp = sample @ sample.T
                imp = imp[~np.eye(len(sample), dtype=bool)]
                z = (normalise(q) @ normalise(g).T - imp.mean()) / imp.std()
                z[:, ~g_ok] = np.nan
                z[~q_ok, :] = np.nan
                zs.append(z)
                oks.append((q_ok, g_ok))
            half = np.array([_half(q.identity, seed) for q in queries])
            for w in np.round(np.arange(0, 1.01, 0.1), 2):
                fused = np.nansum(np.stack([(1 - w) * zs[0], w * zs[1]]), axis=0)
                both_nan = np.isnan(zs[0]) & np.isnan(zs[1])
                fused[both_nan] = -np.inf
                q_ok = oks[0][0] | oks[1][0]
                g_ok = oks[0][1] | oks[1][1]
                r = mate_ranks(fused, q_ok, g_ok, mates)
                per_w.setdefault(float(w), {})[sname] = (r, q_ok, half)

        best = max(per_w, key=lambda w, per_w=per_w: _half_score(per_w[w], 0))
        out[f"fusion dlib+{sf} (w_sface={best}, chosen on half A, half B shown)"] = {
            s: summary(r[hh == 1], ok[hh == 1]) for s, (r, ok, hh) in per_w[best].items()
        }
        out[f"{sf} alone, half B (for the fusion above)"] = {
            s: summary(r[hh == 1], ok[hh == 1]) for s, (r, ok, hh) in per_w[1.0].items()
        }
    return out


def _half_score(per_set: dict, h: int) -> float:
    """Mean over sets of rank-1 + rank-20 on one half of the people: what the fusion weight is chosen by."""
    return float(np.mean([np.mean(r[hh == h] <= 1) + np.mean(r[hh == h] <= 20) for r, _, hh in per_set.values()]))


def time_defaults(ds: devsets.DevSets, n: int) -> dict[str, float]:
    """Photos/s of the old default (onnxruntime SFace, no flip) and the new one, interleaved, one thread."""
    from PIL import Image

    from facematch.engines import get_engine as ge

    cv2.setNumThreads(1)
    folder = models_dir() / "sface"
    old = OrtSFace(folder, upscale="640", border="miss", flip=False)
    new = ge("sface", threads=1)
    paths = [p.path for p in ds.galleries["lfw"][:: max(1, len(ds.galleries["lfw"]) // n)][:n]]
    paths += [p.path for p in ds.queries["lfw-tight100"][: n // 3]] + [p.path for p in ds.queries["ea"][: n // 3]]
    imgs = [np.ascontiguousarray(np.asarray(Image.open(p).convert("RGB"))) for p in paths]
    spent = {"old": 0.0, "new": 0.0}
    for _ in range(2):
        for name, eng in (("old", old), ("new", new), ("new", new), ("old", old)):
            t = time.perf_counter()
            for im in imgs:
                eng.analyze(im)
            spent[name] += time.perf_counter() - t
    per = {k: 4 * len(imgs) / v for k, v in spent.items()}
    return {
        "photos": len(imgs),
        "old_photos_per_s": per["old"],
        "new_photos_per_s": per["new"],
        "new_over_old_time": per["old"] / per["new"],
        "new_default": new.fingerprint,
    }


def _cell(r: dict) -> str:
    return f"{r['rank1']:.3f}/{r['rank20']:.3f}/{r['rank50']:.3f}" + (f" ({r['no_face']})" if r["no_face"] else "")


def write_outputs(ds, results, timing, embed_seconds, n_photos, args) -> None:
    sets = list(ds.sets())
    stamp = time.strftime("%Y%m%d-%H%M%S")
    tag = "quick" if args.quick else f"p{args.people}" + (f"-d{args.distractors}" if args.distractors else "")
    lines = [
        "Searches per set: " + ", ".join(f"{s} {next(iter(results.values()))[s]['searches']}" for s in sets),
        "",
        "Cells: rank-1/rank-20/rank-50 (queries with no face, counted as misses).",
        "",
        "| pipeline | " + " | ".join(sets) + " |",
        "|---|" + "---|" * len(sets),
    ]
    for p, per in results.items():
        lines.append(f"| {p} | " + " | ".join(_cell(per[s]) if s in per else "" for s in sets) + " |")
    if timing:
        lines += [
            "",
            f"Indexing cost, {timing['photos']} photos, one thread, interleaved: old default "
            f"{timing['old_photos_per_s']:.1f} photos/s, new default ({timing['new_default']}) "
            f"{timing['new_photos_per_s']:.1f} photos/s: new/old time = {timing['new_over_old_time']:.2f}x",
        ]
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"accuracy-{tag}-{stamp}.md").write_text(table + "\n")
    (OUT / f"accuracy-{tag}-{stamp}.json").write_text(
        json.dumps(
            {
                "sets": {s: {"gallery": g, "queries": q} for s, (g, q) in ds.sets().items()},
                "notes": ds.notes,
                "photos": n_photos,
                "embed_seconds": embed_seconds,
                "timing": timing,
                "results": results,
            },
            indent=1,
        )
    )
    plot(results, sets, OUT / f"accuracy-{tag}-{stamp}")


def plot(results: dict, sets: list[str], prefix: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [p for p in results if "half B" not in p and ("hubness" not in p or "k=10" in p and " a=" not in p)]
    for s in sets:
        fig, ax = plt.subplots(figsize=(9, 6))
        for i, p in enumerate(shown):
            if s not in results[p]:
                continue
            style = "-" if p in (*REFERENCES, "facematch (old)", DEFAULT_VARIANT) else ("--" if i % 2 else ":")
            width = 2.5 if p in (*REFERENCES, "facematch (old)", DEFAULT_VARIANT) else 1
            color = plt.get_cmap("tab20")(i % 20)
            ax.plot(range(1, CMC_MAX + 1), results[p][s]["cmc"], style, lw=width, label=p, color=color)
        ax.set_xscale("log")
        ax.set_xlabel("rank")
        ax.set_ylabel("share of searches with the right person at or above this rank")
        ax.set_title(f"CMC, {s} ({results[shown[0]][s]['searches']} searches)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2, loc="lower right")
        fig.tight_layout()
        fig.savefig(f"{prefix}-{s.replace('/', '_')}.png", dpi=90)
        plt.close(fig)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
