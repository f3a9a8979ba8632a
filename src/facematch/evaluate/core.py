"""Measure how good an engine is, on photos whose identities are known: verification and open-set search.

Why this exists: a similarity score means nothing until we know how strangers score. The LFW
verification protocol gives the accuracy figures papers quote (so we can compare our engines with
published numbers), and open-set search with distractors measures the task facematch actually
performs: one photo per person in a gallery, another photo as the query. Impostor scores measured
here are also what calibration.py turns into "how many strangers look this similar".

Embeddings are cached per engine fingerprint and file sha256, so re-running an evaluation (or the
calibration) on the same photos costs only hashing the files. Photos where no face is found are
counted and reported, never silently dropped: in verification a pair with a missing face scores -1,
which is a failure at every threshold for a same-person pair.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import images
from ..engines import get_engine
from ..fingerprint import Fingerprint, slug
from ..i18n import _
from ..indexing import progress_bar, scan_all

#: Score given to a pair in which a face is missing: below every possible cosine similarity.
MISSING_SCORE = -1.0
#: False-accept rates at which the true-accept rate (and its threshold) is reported.
FARS = (1e-1, 1e-2, 1e-3, 1e-4)
#: Ranks at which search hit rates (the CMC curve) are reported.
RANKS = (1, 5, 10, 20, 50)
#: False-positive identification rates at which the false-negative identification rate is reported.
FPIRS = (1e-1, 1e-2, 1e-3)
#: Version of the JSON written by the evaluations; bump when a key changes meaning or disappears.
RESULT_SCHEMA = 1


# -- pairs.txt ----------------------------------------------------------------------------------
class PairsError(ValueError):
    """A pairs.txt that does not follow the LFW format; the message names the line."""


@dataclass(frozen=True)
class Pair:
    name1: str
    n1: int
    name2: str
    n2: int
    fold: int

    @property
    def same(self) -> bool:
        return self.name1 == self.name2


@dataclass(frozen=True)
class PairsFile:
    folds: int
    per_fold: int
    pairs: list[Pair]


def parse_pairs(path: Path) -> PairsFile:
    """Read an LFW pairs file: a header `folds n`, then per fold n same lines and n different lines.

    Same-person lines are `name i j`, different-person lines `name1 i name2 j`. Every deviation is
    an error naming the line: a silently skipped line would change which pairs fall in which fold.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise PairsError(f"{path}: cannot read ({e.strerror or e})") from e
    except UnicodeDecodeError as e:
        raise PairsError(f"{path}: not a text file ({e})") from e
    if not lines:
        raise PairsError(f"{path}: empty file; expected a header line like `10 300`")
    head = lines[0].split()
    if len(head) != 2 or not all(h.isdigit() for h in head) or int(head[0]) < 1 or int(head[1]) < 1:
        raise PairsError(
            f"{path}, line 1: expected the header `folds pairs_per_fold` (e.g. `10 300`), got {lines[0]!r}"
        )
    folds, per_fold = int(head[0]), int(head[1])
    body = [(i, line) for i, line in enumerate(lines[1:], start=2) if line.strip()]
    expected = folds * per_fold * 2
    if len(body) != expected:
        raise PairsError(
            f"{path}: the header announces {folds} folds of {per_fold} same + {per_fold} different pairs "
            f"({expected} lines), but the file has {len(body)} pair lines"
        )
    pairs = []
    for k, (lineno, line) in enumerate(body):
        fold, within = divmod(k, 2 * per_fold)
        want_same = within < per_fold
        parts = line.split()
        try:
            if len(parts) == 3:
                pair = Pair(parts[0], _index(parts[1]), parts[0], _index(parts[2]), fold)
            elif len(parts) == 4:
                pair = Pair(parts[0], _index(parts[1]), parts[2], _index(parts[3]), fold)
            else:
                raise ValueError(f"expected `name i j` or `name1 i name2 j`, got {len(parts)} fields")
        except ValueError as e:
            raise PairsError(f"{path}, line {lineno}: {e}: {line!r}") from None
        if pair.same != want_same or (len(parts) == 4 and pair.same):
            kind = "same-person (`name i j`)" if want_same else "different-person (`name1 i name2 j`)"
            raise PairsError(f"{path}, line {lineno}: fold {fold + 1} expects a {kind} pair here, got {line!r}")
        pairs.append(pair)
    return PairsFile(folds, per_fold, pairs)


def _index(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"image number {text!r} is not a positive whole number")
    return int(text)


def lfw_path(images_dir: Path, name: str, number: int) -> Path:
    """LFW's layout: images/<Name>/<Name>_0001.jpg."""
    return Path(images_dir) / name / f"{name}_{number:04d}.jpg"


# -- embeddings, cached -------------------------------------------------------------------------
@dataclass
class Scanned:
    """What the engine found in one photo: every face as `scan_photo` gives it (largest first), or why none."""

    faces: list[dict]  # box, landmarks, score, quality, embedding
    width: int | None = None
    height: int | None = None
    reason: str | None = None  # why there is no face (None when there are faces)


@dataclass
class Embeddings:
    """One embedding per photo (its largest face), zeros where no usable face was found."""

    engine: str
    paths: list[Path]
    vectors: np.ndarray  # (n, dim) float32
    found: np.ndarray  # (n,) bool
    problems: dict[str, str] = field(default_factory=dict)  # path -> why no embedding
    computed: int = 0  # how many photos were embedded now (not taken from the cache)
    seconds: float = 0.0
    scans: dict[Path, tuple[str, Scanned]] = field(default_factory=dict, repr=False)  # path -> (sha256, scan)

    def index_of(self) -> dict[Path, int]:
        return {p: i for i, p in enumerate(self.paths)}


def default_cache_dir() -> Path:
    """$FACEMATCH_CACHE, else ./evaluation/cache, beside the results: embeddings only, never photos.

    Not in the home folder: facematch writes only where a person points it (an index, a case, an
    evaluation's output), so nothing about the photos it saw is left anywhere else.
    """
    env = os.environ.get("FACEMATCH_CACHE")
    if env:
        return Path(env).expanduser()
    return Path("evaluation") / "cache"


def cache_file(cache_dir: Path, fingerprint: str) -> Path:
    return Path(cache_dir) / f"scans-{slug(Fingerprint(fingerprint).name)}.npz"


def _load_cache(path: Path, fingerprint: str) -> dict[str, Scanned]:
    """sha256 -> what was found; an unreadable cache, or one made with other weights, counts as empty."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["engine"]) != fingerprint:
                return {}
            shas, reasons, sizes = z["sha256"], z["reasons"], z["sizes"]
            owner, boxes, marks, scores, quality, vecs = (
                z["face_photo"], z["face_box"], z["face_landmarks"], z["face_score"], z["face_quality"], z["face_vec"]
            )  # fmt: skip
    except (OSError, KeyError, ValueError):
        return {}
    out = {str(s): Scanned([], int(w) or None, int(h) or None, str(r) or None) for s, r, (w, h) in zip(
        shas, reasons, sizes, strict=True
    )}  # fmt: skip
    for i in range(len(owner)):
        out[str(shas[owner[i]])].faces.append(
            {
                "box": boxes[i].tolist(),
                "landmarks": marks[i].reshape(5, 2).tolist(),
                "score": float(scores[i]),
                "quality": float(quality[i]),
                "embedding": np.array(vecs[i], dtype=np.float32),
            }
        )
    return out


def _save_cache(path: Path, fingerprint: str, dim: int, cache: dict[str, Scanned]) -> None:
    """Atomic write (temporary file + rename) so an interrupted run never leaves a broken cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shas = sorted(cache)
    faces = [(n, f) for n, s in enumerate(shas) for f in cache[s].faces]
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        engine=np.array(fingerprint),
        sha256=np.array(shas),
        reasons=np.array([cache[s].reason or "" for s in shas], dtype=str),
        sizes=np.array([(cache[s].width or 0, cache[s].height or 0) for s in shas], dtype=np.int64).reshape(-1, 2),
        face_photo=np.array([n for n, _ in faces], dtype=np.int64),
        face_box=np.array([f["box"] for _, f in faces], dtype=np.float32).reshape(-1, 4),
        face_landmarks=np.array([np.ravel(f["landmarks"]) for _, f in faces], dtype=np.float32).reshape(-1, 10),
        face_score=np.array([f["score"] for _, f in faces], dtype=np.float32),
        face_quality=np.array([f["quality"] for _, f in faces], dtype=np.float32),
        face_vec=np.array([f["embedding"] for _, f in faces], dtype=np.float32).reshape(-1, dim),
    )
    os.replace(tmp, path)


def embed_photos(
    paths: Sequence[Path],
    engine_name: str,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    models: Path | None = None,
) -> Embeddings:
    """Scan each photo as indexing does (every face), reusing cached scans of identical bytes.

    `vectors` holds each photo's largest face: what `facematch search` uses by default, so evaluating
    it measures the product as people use it (on LFW it is nearly always the labelled, centred face).
    """
    start = time.monotonic()
    engine = get_engine(engine_name, models=models)
    fp = engine.fingerprint
    cache_path = cache_file(cache_dir or default_cache_dir(), fp)
    cache = _load_cache(cache_path, fp)
    paths = [Path(p) for p in paths]
    shas: dict[Path, str | None] = {}
    problems: dict[str, str] = {}
    for p in dict.fromkeys(paths):
        try:
            shas[p] = images.sha256_bytes(images.read_file(p))
        except images.ImageError as e:
            shas[p] = None
            problems[str(p)] = str(e)
    todo, seen = [], set()
    for p, s in shas.items():
        if s is not None and s not in cache and s not in seen:
            seen.add(s)
            todo.append(p)
    computed = 0
    if todo:
        bar = progress_bar(len(todo), progress, f"Embedding ({engine.name})")
        last_save = time.monotonic()
        try:
            items = [(p, None) for p in todo]
            for (p, _), r in scan_all(items, engine, engine_name, workers or os.cpu_count() or 1, models):
                if r["sha256"] is not None and not r.get("transient"):
                    reason = None if r["status"] == "ok" else (r.get("reason") or r["status"])
                    cache[r["sha256"]] = Scanned(r["faces"], r["width"], r["height"], reason)
                    shas[Path(p)] = r["sha256"]
                else:
                    problems[str(p)] = r.get("reason") or "unreadable"
                computed += 1
                if bar is not None:
                    bar.update(1)
                if time.monotonic() - last_save > 60:
                    _save_cache(cache_path, fp, engine.dim, cache)
                    last_save = time.monotonic()
        finally:
            if bar is not None:
                bar.close()
            _save_cache(cache_path, fp, engine.dim, cache)
    vectors = np.zeros((len(paths), engine.dim), dtype=np.float32)
    found = np.zeros(len(paths), dtype=bool)
    scans: dict[Path, tuple[str, Scanned]] = {}
    for i, p in enumerate(paths):
        s = shas.get(p)
        if s is None or s not in cache:
            problems.setdefault(str(p), "unreadable")
            continue
        scans[p] = (s, cache[s])
        if cache[s].faces:
            vectors[i], found[i] = cache[s].faces[0]["embedding"], True
        else:
            problems[str(p)] = cache[s].reason or "no face found"
    return Embeddings(fp, paths, vectors, found, problems, computed, time.monotonic() - start, scans)


# -- folders of people --------------------------------------------------------------------------
def people_photos(images_dir: Path) -> dict[str, list[Path]]:
    """One subfolder per person -> that person's photos, sorted (LFW's layout, and any folder like it)."""
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"image folder not found: {images_dir}")
    out: dict[str, list[Path]] = {}
    for person in sorted(p for p in images_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(
            f
            for f in person.iterdir()
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in images.IMAGE_SUFFIXES
        )
        if files:
            out[person.name] = files
    if not out:
        raise ValueError(f"{images_dir} has no subfolders with photos; expected one subfolder per person")
    return out


@dataclass(frozen=True)
class Labelled:
    """Photos with the identity (and, where the folder says it, the population group) of each."""

    paths: list[Path]
    identities: list[str]
    groups: list[str]  # "" when the layout names no groups

    def __len__(self) -> int:
        return len(self.paths)


#: `ai-weiwei-2.jpg` -> `ai-weiwei`; `alex-fong.jpg` -> `alex-fong`; `Jane_Doe_0003.jpg` -> `Jane_Doe`.
_NUMBERED = re.compile(r"^(?P<identity>.+?)(?:[-_ ]\d+)?$")
IDENTITY_FROM = ("folder", "filename")


def identity_from_filename(path: Path) -> str:
    """The identity in a file name like `<identity>-<n>.jpg` (a trailing number is the photo's number)."""
    return _NUMBERED.match(Path(path).stem).group("identity")  # type: ignore[union-attr]


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        f
        for f in folder.rglob("*")
        if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in images.IMAGE_SUFFIXES
    )


def labelled_photos(images_dir: Path, identity_from: str = "folder", identities: Path | None = None) -> Labelled:
    """Who is in each photo of a labelled folder, for the three layouts met in practice.

    * identity_from="folder": one subfolder per person (LFW). No groups.
    * identity_from="filename": the identity is the file name without its trailing number
      (`<identity>-<n>.jpg`), and the first subfolder under images_dir is the group (east-asian-dev:
      images/chinese/…, images/japanese/…), so strangers can be counted within one population.
      An identity is per group: the same name in two groups is two people.
    * identities=a TSV with the columns `identity` and `images` (comma-separated paths relative to
      images_dir) and optionally `group`: the labels as the data set states them; photos it does not
      name are left out.
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"image folder not found: {images_dir}")
    if identities is not None:
        return _labelled_from_tsv(images_dir, Path(identities))
    if identity_from == "folder":
        people = people_photos(images_dir)
        paths = [f for files in people.values() for f in files]
        names = [name for name, files in people.items() for _ in files]
        return Labelled(paths, names, [""] * len(paths))
    if identity_from != "filename":
        raise ValueError(f"identity_from must be one of {', '.join(IDENTITY_FROM)}, not {identity_from!r}")
    paths = _image_files(images_dir)
    if not paths:
        raise ValueError(f"{images_dir} has no photos")
    groups = [p.relative_to(images_dir).parts[0] if len(p.relative_to(images_dir).parts) > 1 else "" for p in paths]
    names = [
        f"{g}/{identity_from_filename(p)}" if g else identity_from_filename(p)
        for g, p in zip(groups, paths, strict=True)
    ]
    return Labelled(paths, names, groups)


def _labelled_from_tsv(images_dir: Path, tsv: Path) -> Labelled:
    import csv

    with tsv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    if not rows or not {"identity", "images"} <= set(rows[0]):
        raise ValueError(f"{tsv}: expected a tab-separated file with the columns identity and images")
    paths, names, groups = [], [], []
    for row in rows:
        for rel in filter(None, (x.strip() for x in row["images"].split(","))):
            p = images_dir / rel
            if not p.is_file():
                raise FileNotFoundError(f"{tsv}: {rel} (identity {row['identity']}) is not in {images_dir}")
            paths.append(p)
            names.append(row["identity"])
            groups.append(row.get("group") or "")
    return Labelled(paths, names, groups)


# -- verification -------------------------------------------------------------------------------
def pair_scores(pairs: Sequence[Pair], emb: Embeddings, images_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(scores, missing): cosine similarity per pair; MISSING_SCORE where either photo gave no face."""
    where = emb.index_of()
    scores = np.full(len(pairs), MISSING_SCORE, dtype=np.float64)
    missing = np.zeros(len(pairs), dtype=bool)
    for k, pr in enumerate(pairs):
        a, b = where[lfw_path(images_dir, pr.name1, pr.n1)], where[lfw_path(images_dir, pr.name2, pr.n2)]
        if emb.found[a] and emb.found[b]:
            scores[k] = float(np.dot(emb.vectors[a], emb.vectors[b]))
        else:
            missing[k] = True
    return scores, missing


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold (accept when score >= t) with the highest accuracy on these pairs.

    Candidates are midpoints between consecutive distinct scores, so the chosen threshold never
    sits exactly on a training score (which would make held-out ties depend on float noise).
    """
    order = np.sort(np.unique(scores))
    cands = np.concatenate([[order[0] - 1e-6], (order[:-1] + order[1:]) / 2, [order[-1] + 1e-6]])
    s_same, s_diff = np.sort(scores[same]), np.sort(scores[~same])
    # accepted same = n_same - #same below t; rejected diff = #diff below t
    correct = (len(s_same) - np.searchsorted(s_same, cands, side="left")) + np.searchsorted(s_diff, cands, "left")
    return float(cands[int(np.argmax(correct))])


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, fars: Sequence[float] = FARS) -> list[dict]:
    """True-accept rate at each false-accept rate, with the threshold that achieves it.

    A FAR below 1 / (number of impostor pairs) cannot be measured on these pairs: reported with
    tar = None rather than extrapolated.
    """
    imp = np.sort(impostor)[::-1]
    out = []
    for far in fars:
        allowed = int(np.floor(far * len(imp)))
        if allowed < 1:
            note = _("not measurable with {n} impostor pairs", n=len(imp))
            out.append({"far": far, "tar": None, "threshold": None, "note": note})
            continue
        t = float(np.nextafter(imp[allowed], np.inf))  # at most `allowed` impostors score >= t
        out.append({"far": far, "tar": float(np.mean(genuine >= t)), "threshold": round(t, 5)})
    return out


def evaluate_verification(
    pairs_file: Path,
    images_dir: Path,
    engine_name: str,
    out_dir: Path,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> dict:
    """The LFW protocol: 10-fold accuracy (threshold from 9 folds, applied to the 10th) and TAR at FAR."""
    spec = parse_pairs(pairs_file)
    images_dir = Path(images_dir)
    paths = list(
        dict.fromkeys(
            p
            for pr in spec.pairs
            for p in (lfw_path(images_dir, pr.name1, pr.n1), lfw_path(images_dir, pr.name2, pr.n2))
        )
    )
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(f"{len(absent)} photos named in {pairs_file} are not in {images_dir}, e.g. {absent[0]}")
    emb = embed_photos(paths, engine_name, cache_dir, workers, progress)
    scores, missing = pair_scores(spec.pairs, emb, images_dir)
    same = np.array([p.same for p in spec.pairs])
    fold = np.array([p.fold for p in spec.pairs])
    per_fold, thresholds = [], []
    for k in range(spec.folds):
        test = fold == k
        train = ~test if spec.folds > 1 else test
        t = best_threshold(scores[train], same[train])
        thresholds.append(round(t, 5))
        per_fold.append(float(np.mean((scores[test] >= t) == same[test])))
    acc = np.array(per_fold)
    genuine, impostor = scores[same], scores[~same]
    result = {
        "schema": RESULT_SCHEMA,
        "kind": "verification",
        "engine": emb.engine,
        "pairs_file": str(pairs_file),
        "images": str(images_dir),
        "pairs": len(spec.pairs),
        "folds": spec.folds,
        "same_pairs": int(same.sum()),
        "different_pairs": int((~same).sum()),
        "photos": len(paths),
        "photos_without_face": sorted(emb.problems),
        "pairs_with_missing_face": int(missing.sum()),
        "missing_face_rule": "a pair with a missing face scores -1: a failure at every threshold for same pairs",
        "accuracy": {
            "mean": float(acc.mean()),
            "std": float(acc.std()),
            "stderr": float(acc.std(ddof=1) / np.sqrt(len(acc))) if len(acc) > 1 else 0.0,
            "per_fold": per_fold,
            "thresholds": thresholds,
        },
        "tar_at_far": tar_at_far(genuine, impostor),
        "score_summary": {
            "same_median": float(np.median(genuine)),
            "different_median": float(np.median(impostor)),
        },
        "embedded_now": emb.computed,
        "seconds": round(emb.seconds, 1),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result["plots"] = [
        str(plot_roc(genuine, impostor, out_dir / "roc.png", emb.engine)),
        str(plot_histogram(genuine, impostor, out_dir / "scores.png", emb.engine, "same person", "different people")),
    ]
    write_json(result, out_dir / "verification.json")
    return result


# -- open-set search ----------------------------------------------------------------------------
@dataclass
class SearchSplit:
    """Who is in the gallery and who searches: the open-set identification protocol."""

    gallery: list[Path]
    gallery_people: list[str]
    queries: list[Path]
    query_people: list[str]
    mated_people: int
    distractors: int


def search_split(people: dict[str, list[Path]], found: dict[Path, bool]) -> SearchSplit:
    """First photo with a face of each person with two or more photos goes in the gallery, the others
    search; people with one photo are distractors. A query photo with no face stays a query (a miss).
    """
    gallery, gp, queries, qp = [], [], [], []
    mated = distractors = 0
    for name, files in people.items():
        with_face = [f for f in files if found.get(f)]
        if len(files) == 1:
            if with_face:
                gallery.append(files[0])
                gp.append(name)
                distractors += 1
            continue
        if not with_face:
            queries.extend(files)  # nobody to find: every search for this person is a miss
            qp.extend([name] * len(files))
            continue
        g = with_face[0]
        gallery.append(g)
        gp.append(name)
        mated += 1
        rest = [f for f in files if f != g]
        queries.extend(rest)
        qp.extend([name] * len(rest))
    return SearchSplit(gallery, gp, queries, qp, mated, distractors)


def gallery_index(folder: Path, images_dir: Path, gallery: Sequence[Path], emb: Embeddings) -> dict[Path, int]:
    """Write the gallery photos into a fresh index at `folder`, as indexing would (every face of each photo,
    through the same write path, FAISS type chosen by size), and return each photo's labelled face id
    (its largest face: the one the folder's label names)."""
    from ..index import Index

    shutil.rmtree(folder, ignore_errors=True)
    labelled: dict[Path, int] = {}
    with Index.open(folder, create=True) as index:
        root = index.faces.root_id(images_dir)
        for p in gallery:
            sha, scan = emb.scans[p]
            st = p.stat()
            ids = index.faces.save_scan(
                root, p.relative_to(images_dir).as_posix(), emb.engine, sha256=sha, size=st.st_size,
                mtime_ns=st.st_mtime_ns, width=scan.width, height=scan.height, status="ok", reason=None,
                faces=scan.faces,
            )  # fmt: skip
            labelled[p] = ids[0]
        index.update_neighbours(emb.engine, index.vectors(emb.engine))
    return labelled


def rank_mates(
    searcher, queries: np.ndarray, q_found: np.ndarray, mates: Sequence[int | None], block: int = 256
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query, through the product's own ranking (Searcher.rank): rank of its mate face (inf when absent
    from the first max(RANKS), when the query has no face or has no mate), the mate's score, and the best
    score of any other face (for the open-set errors)."""
    from ..engines.base import normalise

    n = len(queries)
    ranks = np.full(n, np.inf)
    mate_score = np.full(n, MISSING_SCORE)
    top_nonmate = np.full(n, MISSING_SCORE)
    rows = np.nonzero(q_found)[0]
    mate_ids = sorted({m for m in mates if m is not None})
    mate_vecs = dict(
        zip(
            mate_ids,
            searcher.index.faces.embedding_matrix(np.array(mate_ids, np.int64), searcher.engine.dim),
            strict=True,
        )
    )
    for start in range(0, len(rows), block):
        part = rows[start : start + block]
        for i, cands in zip(part, searcher.rank(queries[part], k=max(RANKS) + 1), strict=True):
            m = mates[i]
            if m is not None:
                mate_score[i] = float(np.dot(normalise(queries[i]), mate_vecs[m]))
                where = [c.rank for c in cands if c.face.id == m]
                if where and where[0] <= max(RANKS):
                    ranks[i] = where[0]
            others = [c.similarity for c in cands if c.face.id != m]
            top_nonmate[i] = others[0] if others else MISSING_SCORE
    return ranks, mate_score, top_nonmate


def fnir_at_fpir(
    mate_rank: np.ndarray, mate_score: np.ndarray, nonmate_top: np.ndarray, fpirs: Sequence[float] = FPIRS
) -> list[dict]:
    """Open-set identification errors at rank 1, NIST-style.

    A non-mated search is a query whose mate is left out of the gallery (here: the same queries,
    scored against everyone but their mate), and it is a false positive when its top score reaches
    the threshold. A mated search is a false negative when its mate is not at rank 1 with a score
    at or above the threshold.
    """
    top = np.sort(nonmate_top)[::-1]
    out = []
    for fpir in fpirs:
        allowed = int(np.floor(fpir * len(top)))
        if allowed < 1:
            out.append(
                {
                    "fpir": fpir,
                    "fnir": None,
                    "threshold": None,
                    "note": _("not measurable with {n} non-mated searches", n=len(top)),
                }
            )
            continue
        t = float(np.nextafter(top[allowed], np.inf))
        hit = (mate_rank == 1) & (mate_score >= t)
        out.append({"fpir": fpir, "fnir": float(1 - hit.mean()), "threshold": round(t, 5)})
    return out


def evaluate_search(
    images_dir: Path,
    engine_name: str,
    out_dir: Path,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    max_people: int | None = None,
    models: Path | None = None,
    scoring=None,
) -> dict:
    """Open-set identification on a folder with one subfolder per person (see search_split).

    The gallery becomes a real index (out_dir/gallery-index) and every query goes through the same
    ranking as `facematch search`, so the figures are those of the product, not of a separate scorer.
    """
    from ..search import Searcher

    images_dir = Path(images_dir)
    people = people_photos(images_dir)
    if max_people:
        people = dict(list(people.items())[:max_people])
    paths = [f for files in people.values() for f in files]
    emb = embed_photos(paths, engine_name, cache_dir, workers, progress, models)
    where = emb.index_of()
    split = search_split(people, {p: bool(emb.found[i]) for p, i in where.items()})
    if not split.gallery or not split.queries:
        raise ValueError(f"{images_dir}: need people with two or more photos to search for")
    out_dir = Path(out_dir)
    labelled = gallery_index(out_dir / "gallery-index", images_dir, split.gallery, emb)
    face_of_person = {person: labelled[p] for p, person in zip(split.gallery, split.gallery_people, strict=True)}
    qi = [where[p] for p in split.queries]
    from ..neighbours import Scoring

    scoring = scoring or Scoring()
    with Searcher(out_dir / "gallery-index", models=models, hubness=scoring.alpha) as searcher:
        gallery_faces = searcher.gallery_size
        ranks, mate, nonmate = rank_mates(
            searcher, emb.vectors[qi], emb.found[qi], [face_of_person.get(p) for p in split.query_people]
        )
    max_rank = max(RANKS)
    cmc = {str(r): float(np.mean(ranks <= r)) for r in RANKS}
    curve = [float(np.mean(ranks <= r)) for r in range(1, max_rank + 1)]
    result = {
        "schema": RESULT_SCHEMA,
        "kind": "search",
        "engine": emb.engine,
        "images": str(images_dir),
        "gallery_size": len(split.gallery),
        "gallery_faces": gallery_faces,
        "gallery_people_with_queries": split.mated_people,
        "distractors": split.distractors,
        "queries": len(split.queries),
        "queries_without_face": int((~emb.found[qi]).sum()),
        "photos_without_face": sorted(emb.problems),
        "missing_face_rule": "a query with no face is a miss at every rank",
        "ranking": "the gallery is indexed (every face of each photo) and searched through Searcher.rank, "
        "as `facematch search` does",
        "scores": scoring.describe(),
        "rank_hit_rate": cmc,
        "fnir_at_fpir": fnir_at_fpir(ranks, mate, nonmate),
        "embedded_now": emb.computed,
        "seconds": round(emb.seconds, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    ok = np.isfinite(ranks)
    result["plots"] = [
        str(plot_cmc(curve, out_dir / "cmc.png", emb.engine, len(split.gallery))),
        str(
            plot_histogram(
                mate[ok],
                nonmate[emb.found[qi]],
                out_dir / "scores.png",
                emb.engine,
                "mate (same person)",
                "best stranger",
            )
        ),
    ]
    write_json(result, out_dir / "search.json")
    return result


# -- output -------------------------------------------------------------------------------------
def write_json(result: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, path)
    return path


def _pyplot():
    if "MPLCONFIGDIR" not in os.environ:
        # matplotlib caches its font list under ~/.cache and ~/.config unless told otherwise:
        # facematch leaves nothing outside the folders it was given, so use a temporary folder
        # removed at exit (rebuilding the font list costs well under a second).
        import atexit
        import shutil
        import tempfile

        tmp = tempfile.mkdtemp(prefix="facematch-mpl-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = tmp
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, works on servers and in CI
    import matplotlib.pyplot as plt

    return plt


def plot_roc(genuine: np.ndarray, impostor: np.ndarray, path: Path, engine: str) -> Path:
    plt = _pyplot()
    thresholds = np.unique(np.concatenate([genuine, impostor]))[::-1]
    imp, gen = np.sort(impostor), np.sort(genuine)
    far = 1 - np.searchsorted(imp, thresholds, side="left") / len(imp)
    tar = 1 - np.searchsorted(gen, thresholds, side="left") / len(gen)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    keep = far > 0
    ax.plot(far[keep], tar[keep], lw=1.5)
    ax.set_xscale("log")
    ax.set_xlim(max(1e-4, 0.5 / len(imp)), 1)
    ax.set_xlabel("false accept rate (different people accepted)")
    ax.set_ylabel("true accept rate (same person accepted)")
    ax.set_title(f"ROC, {engine}")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_histogram(a: np.ndarray, b: np.ndarray, path: Path, engine: str, label_a: str, label_b: str) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    bins = np.linspace(-0.5, 1.0, 76)
    ax.hist(np.clip(b, -0.5, 1.0), bins=bins, alpha=0.6, label=f"{label_b} ({len(b)})", density=True)
    ax.hist(np.clip(a, -0.5, 1.0), bins=bins, alpha=0.6, label=f"{label_a} ({len(a)})", density=True)
    ax.set_xlabel("similarity (cosine)")
    ax.set_ylabel("density")
    ax.set_title(f"Score distributions, {engine}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_cmc(curve: Sequence[float], path: Path, engine: str, gallery_size: int) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(range(1, len(curve) + 1), curve, marker=".", lw=1.5)
    ax.set_xscale("log")
    ax.set_xlabel("rank")
    ax.set_ylabel("share of searches with the right person at or above this rank")
    ax.set_title(f"CMC, {engine}, gallery of {gallery_size}")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# -- calibration --------------------------------------------------------------------------------
def evaluate_calibration(
    images_dir: Path,
    engine_name: str,
    out_dir: Path,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    install: bool = False,
    source: str | None = None,
    identity_from: str = "folder",
    identities: Path | None = None,
    scoring=None,
) -> dict:
    """Build an engine's calibration from all cross-person pairs in a labelled folder, and check it.

    Writes calibration-<engine>.json (the table) and calibrate.json (the table's summary, the
    held-out check, and the stranger check below) into out_dir; with install=True also into the
    package's calibration_data/, where Searcher picks it up for exactly this engine fingerprint.

    The stranger check (stranger_check) answers the question families depend on: on these photos,
    how far is the shipped table off, within each population group and across, and how close does
    the archive's own estimate (from the same photos, labels unused) come to the counted rate?
    """
    from .. import calibration
    from ..neighbours import Scoring, neighbour_means

    scoring = scoring or Scoring()  # the scores a search shows (search.Searcher's default)
    labelled = labelled_photos(images_dir, identity_from, identities)
    emb = embed_photos(labelled.paths, engine_name, cache_dir, workers, progress)
    found = emb.found
    vecs = emb.vectors[found]
    labels = np.asarray(labelled.identities)[found]
    groups = np.asarray(labelled.groups)[found]
    keys = np.asarray([str(p) for p in labelled.paths])[found]
    n_people = len(set(labels.tolist()))
    what = source or f"the folder {Path(images_dir).name}"
    offsets = None
    if scoring.corrected:  # the photos taken as one archive: each one's hubness among them
        hub = neighbour_means(vecs, keys, scoring.k)
        offsets = scoring.offsets(hub, float(hub.mean()))
    cal = calibration.build(
        vecs,
        labels,
        emb.engine,
        f"{what}: all pairs of photos of different people among the largest-face embeddings of "
        f"{len(vecs)} photos of {n_people} people ({len(emb.problems)} photos without a face left out); "
        + ("one pair per unordered photo pair" if offsets is None else f"every ordered pair, {scoring.describe()}"),
        None if offsets is None else calibration.ScoreAdjustment(gallery=offsets),
        scoring.to_json(),
    )
    chk = calibration.check(vecs, labels, emb.engine, offsets)
    reference = calibration.for_engine(emb.engine)  # the shipped table, before any --install replaces it
    if reference is not None and reference.scoring != scoring.to_json():
        reference = None  # it describes other scores: nothing to compare with
    strangers = stranger_check(vecs, labels, groups, keys, reference, scoring) if reference is not None else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = {"check": chk}
    name = Fingerprint(emb.engine).name
    table = cal.save(out_dir / f"calibration-{slug(name)}.json", extra)
    installed = str(cal.save(calibration.data_file(name), extra)) if install else None
    calibration.for_engine.cache_clear()
    levels = {}
    for rate in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6):
        idx = np.nonzero(cal.fpr <= rate)[0]
        levels[f"{rate:g}"] = round(float(cal.scores[idx[0]]), 4) if len(idx) else None
    result = {
        "schema": RESULT_SCHEMA,
        "kind": "calibration",
        "engine": emb.engine,
        "images": str(images_dir),
        "photos": len(labelled),
        "photos_without_face": sorted(emb.problems),
        "people": n_people,
        "groups": sorted(set(groups.tolist()) - {""}),
        "impostor_pairs": cal.impostor_pairs,
        "source": cal.source,
        "scoring": scoring.describe(),
        "score_at_rate": levels,
        "table": str(table),
        "installed": installed,
        "check": chk,
        "strangers": strangers,
        "embedded_now": emb.computed,
        "seconds": round(emb.seconds, 1),
    }
    result["plots"] = [str(plot_calibration(cal, out_dir / "calibration.png"))]
    if strangers is not None:
        result["plots"].append(str(plot_strangers(strangers, out_dir / "strangers.png", emb.engine)))
    write_json(result, out_dir / "calibrate.json")
    return result


#: Rates at which the stranger check compares predicted and counted strangers.
STRANGER_RATES = (1e-1, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
#: A level is shown when at least this many pairs are counted there (judged from CHECK_MIN_COUNT).
SHOW_MIN_COUNT = 3


def counted_rates(
    vectors: np.ndarray, labels: np.ndarray, other: np.ndarray | None = None, offsets: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """(rate of pairs of different people scoring >= each bin score, pairs): all pairs, or pairs across two sets.

    With `offsets` (per photo, taken off its scores as an archive face: the hubness correction), the
    ordered pairs of one set, on the corrected scores."""
    from .. import calibration

    if other is None and offsets is not None:
        hist, total = calibration.adjusted_impostor_histogram(
            vectors, labels, calibration.ScoreAdjustment(gallery=offsets)
        )
    elif other is None:
        hist, total = calibration.impostor_histogram(vectors, labels)
    else:
        (va, la), (vb, lb) = (vectors, labels), other
        hist = calibration.histogram(np.empty(0))
        total = 0
        for start in range(0, len(va), 1024):
            s = (va[start : start + 1024] @ vb.T).astype(np.float64)
            keep = la[start : start + 1024][:, None] != lb[None, :]
            hist += calibration.histogram(s[keep])
            total += int(keep.sum())
    return np.cumsum(hist[::-1])[::-1] / max(total, 1), int(total)


def compare_levels(curve: np.ndarray, total: int, table, estimate, rates=STRANGER_RATES) -> list[dict]:
    """Per rate: the score where the counted rate falls to it, and what the table and the estimate say there."""
    from .. import calibration

    rows = []
    for rate in rates:
        score = calibration.score_at_rate(calibration.BIN_SCORES, curve, rate)
        counted = rate * total
        if score is None or counted < SHOW_MIN_COUNT:
            continue
        row = {
            "rate": rate,
            "score": round(score, 4),
            "counted_pairs": int(round(counted)),
            "judged": bool(counted >= calibration.CHECK_MIN_COUNT),
            "table_rate": float(f"{table.fpr_at(score):.4g}"),
            "counted_over_table": round(rate / table.fpr_at(score), 3),
        }
        if estimate is not None:
            est = estimate.fpr_at(score)
            row["estimate_rate"] = float(f"{est:.4g}")
            row["estimate_over_counted"] = round(est / rate, 3)
            row["estimate_within_tolerance"] = bool(abs(est / rate - 1) <= calibration.CHECK_TOLERANCE)
        rows.append(row)
    return rows


def stranger_check(
    vectors: np.ndarray, labels: np.ndarray, groups: np.ndarray, keys: np.ndarray, table, scoring=None
) -> dict:
    """How far the table is off on these photos, per population, and how close the archive estimate comes.

    Populations: each group on its own (strangers of one population searched against each other,
    the situation in an archive), pairs across two groups, and the whole folder. The archive
    estimate of a group is made from that group's photos alone, as if they were an unlabelled
    archive; pairs across groups have no archive of their own (an archive holding both groups gets
    the estimate of "all").
    """
    from .. import calibration
    from ..neighbours import PLAIN, neighbour_means

    scoring = scoring or PLAIN

    def offsets_of(v: np.ndarray, k: np.ndarray) -> np.ndarray | None:
        """Each population is its own archive: its faces' hubness is measured among themselves."""
        if not scoring.corrected:
            return None
        hub = neighbour_means(v, k, scoring.k)
        return scoring.offsets(hub, float(hub.mean()))

    def archive(v: np.ndarray, k: np.ndarray, off: np.ndarray | None) -> tuple[object | None, str | None]:
        adjust = None if off is None else calibration.ScoreAdjustment(gallery=off)
        try:
            return calibration.from_archive(v, k, table, adjust), None
        except calibration.ArchiveTooSmall as e:
            return None, str(e)

    names = sorted(set(groups.tolist()) - {""})
    pops = [(f"within {g}", groups == g) for g in names] if len(names) > 1 else []
    pops.append(("all", np.ones(len(vectors), dtype=bool)))
    out = []
    for name, m in pops:
        off = offsets_of(vectors[m], keys[m])
        curve, total = counted_rates(vectors[m], labels[m], offsets=off)
        est, why = archive(vectors[m], keys[m], off)
        out.append(_population(name, int(m.sum()), total, compare_levels(curve, total, table, est), est, why))
    for i, ga in enumerate(names):
        if scoring.corrected:  # across two groups the correction depends on which archive: no single answer
            break
        for gb in names[i + 1 :]:
            a, b = groups == ga, groups == gb
            curve, total = counted_rates(vectors[a], labels[a], (vectors[b], labels[b]))
            out.append(
                _population(
                    f"across {ga} x {gb}",
                    int(a.sum() + b.sum()),
                    total,
                    compare_levels(curve, total, table, None),
                    None,
                    "pairs across groups: an archive holding both groups gets the estimate of 'all'",
                )
            )
    return {
        "table": {"engine": table.engine, "source": table.source, "impostor_pairs": table.impostor_pairs},
        "scoring": scoring.describe(),
        "what": "per rate: the score at which that share of pairs of different people (counted with the labels) "
        "scores at least as high; the table's rate there (counted_over_table > 1: the table says too few "
        "strangers); the archive estimate's rate there, made from the same photos without their labels",
        "tolerance": calibration.CHECK_TOLERANCE,
        "min_count": calibration.CHECK_MIN_COUNT,
        "populations": out,
    }


def _population(name: str, photos: int, pairs: int, levels: list[dict], est, why: str | None) -> dict:
    judged = [r for r in levels if r["judged"] and "estimate_over_counted" in r]
    return {
        "population": name,
        "photos": photos,
        "impostor_pairs": pairs,
        "levels": levels,
        "estimate": None if est is None else {"source": est.source, "method": est.method},
        "no_estimate": why,
        "estimate_passed": bool(judged) and all(r["estimate_within_tolerance"] for r in judged) if est else None,
    }


def plot_strangers(check: dict, path: Path, engine: str) -> Path:
    """Predicted vs counted stranger rate per level: the shipped table and the archive estimate, per population."""
    plt = _pyplot()
    pops = check["populations"]
    fig, axes = plt.subplots(1, len(pops), figsize=(4.2 * len(pops), 4.4), squeeze=False)
    for ax, pop in zip(axes[0], pops, strict=True):
        lv = pop["levels"]
        counted = np.array([r["rate"] for r in lv])
        lo, hi = (counted.min() / 3, 1.0) if len(lv) else (1e-6, 1.0)
        ax.fill_between([lo, hi], [lo * 0.75, hi * 0.75], [lo * 1.25, hi * 1.25], color="0.9", label="±25%")
        ax.plot([lo, hi], [lo, hi], color="0.5", lw=1)
        ax.plot(counted, [r["table_rate"] for r in lv], "o-", label="reference table (LFW)")
        if lv and "estimate_rate" in lv[0]:
            ax.plot(counted, [r["estimate_rate"] for r in lv], "s-", label="archive estimate")
        for r in lv:
            if not r["judged"]:
                ax.axvline(r["rate"], color="0.85", lw=0.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("counted stranger rate (labels)")
        ax.set_ylabel("predicted rate")
        ax.set_title(f"{pop['population']} ({pop['photos']} photos)", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Strangers: predicted vs counted, {engine}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_calibration(cal, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    keep = cal.counts > 0
    ax.plot(cal.scores[keep], cal.fpr[keep], lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("similarity (cosine)")
    ax.set_ylabel("rate at which a stranger scores at least this")
    ax.set_title(f"Calibration, {cal.engine}\n{cal.impostor_pairs:,} pairs of different people")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
