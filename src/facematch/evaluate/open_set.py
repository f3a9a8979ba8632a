"""Open-set search with distractors: the task facematch performs (one photo per person in a gallery, another
photo as the query), ranked through the product's own Searcher, with NIST-style FNIR at FPIR."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..i18n import _
from .embeddings import Embeddings, embed_photos
from .lfw import people_photos
from .plots import plot_cmc, plot_histogram
from .results import MISSING_SCORE, RESULT_SCHEMA, write_json

#: Ranks at which search hit rates (the CMC curve) are reported.
RANKS = (1, 5, 10, 20, 50)
#: False-positive identification rates at which the false-negative identification rate is reported.
FPIRS = (1e-1, 1e-2, 1e-3)


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
    score of any other face (for the open-set errors). Both scores are the ones search shows (hubness-corrected
    unless the searcher's hubness is off): the open-set errors compare one with a threshold set on the other."""
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
                shown = [c for c in cands if c.face.id == m]
                if shown:
                    mate_score[i] = shown[0].similarity
                else:  # beyond the ranks searched: scored as search would show it
                    cos = np.array([np.dot(normalise(queries[i]), mate_vecs[m])])
                    mate_score[i] = float(searcher.shown_scores(cos, np.array([m]))[0])
                if shown and shown[0].rank <= max(RANKS):
                    ranks[i] = shown[0].rank
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
        raise ValueError(_("{folder}: need people with two or more photos to search for", folder=images_dir))
    out_dir = Path(out_dir)
    labelled = gallery_index(out_dir / "gallery-index", images_dir, split.gallery, emb)
    face_of_person = {person: labelled[p] for p, person in zip(split.gallery, split.gallery_people, strict=True)}
    qi = [where[p] for p in split.queries]
    from ..neighbours import Scoring

    scoring = scoring or Scoring.for_engine(emb.engine)
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
