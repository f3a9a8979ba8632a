"""The linking run (`facematch link`): every face not yet linked, in blocks, resumable, incremental.

Each block of faces is ranked against the whole archive (ranker.py), its rows become pairs
(blocks.py), the pairs are offered to the older faces they reach (offer), and the block's pairs and the
faces it linked are written in one transaction (store/links.py: save_block).

Progress is stored per face (link_done), written in the same transaction as the block's pairs: a run
killed at any moment resumes where it stopped and never duplicates a pair (a pair's key is its two faces).
After new photos are indexed only their faces are linked, and symmetrically: a new face's pair with an
older face (anywhere in the new face's `wide` best) is offered to the older face: where it could enter the
older face's first k (at or above that face's floor, stored in link_done), the older face's row is ranked
again and its pairs numbered from it (offer()), so the older face gets the pairs a full relink would, and a
resumed run the pairs of an uninterrupted one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..i18n import _
from ..index import Index
from ..neighbours import shown_score
from ..search import Searcher
from .blocks import BANDS, BlockPairs
from .duplicates import CHECK_COSINE, RULE
from .ranker import Ranker, link_nprobe

#: Nearest archive faces kept per face.
K = 20
#: Faces of the same photo (and, with --across, of the same collection) are skipped; ask for this many more.
SPARE = 10
#: offer(): an offered face this close under an older face's floor still has that face's row ranked again (a
#: cosine computed alone and in a block may differ in the last float bits).
_MARGIN = 1e-5


@dataclass
class LinkReport:
    engine: str
    faces: int  # faces of this engine in the index
    linked: int  # faces linked by this run
    already: int  # faces linked before this run (an earlier or interrupted run)
    pairs: dict[str, int]  # stored pairs by kind, after this run
    seconds: float = 0.0
    interrupted: bool = False
    nprobe: int | None = None
    settings: dict = field(default_factory=dict)


def link(
    index_dir: Path | Index,
    engine: str | None = None,
    *,
    k: int = K,
    across: bool = False,
    min_band: str = "possible",
    full: bool = False,
    progress: bool = True,
    block: int | None = None,
    nprobe: int | None = None,
    threads: int | None = None,
    ray: str | None = None,
    stop_after: int | None = None,
) -> LinkReport:
    """Link every face of one engine not yet linked (all of them with `full`) to its k nearest archive faces.

    `min_band` keeps person pairs of at least this band (strong, possible, weak = all); duplicates are kept
    whatever their band. `ray` runs the ranking of the blocks as Ray tasks (cluster.connect's address).
    `stop_after` stops after that many blocks (tests of resuming use a real kill instead). `block`: faces
    per block (one transaction each; default BLOCK on a flat index, JOIN_BLOCK on an IVF one).
    """
    if min_band not in BANDS:
        raise ValueError(_("--min-band must be one of {bands}", bands=", ".join(BANDS)))
    start = time.monotonic()
    import faiss

    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
    with Searcher(index_dir, engine, progress=progress) as s:
        index, fp = s.index, s.fingerprint
        if full:
            index.links.forget_settings(fp, -1, across)
        index.links.forget_settings(fp, k, across)
        todo = index.links.todo(fp, k, across)
        total = index.faces.count(fp)
        report = LinkReport(
            fp, total, 0, total - len(todo), {}, settings={"k": k, "across": across, "min_band": min_band}
        )
        report.nprobe = link_nprobe(s, nprobe)
        ctx = BlockPairs(s, k, across, min_band)
        report.settings["duplicates_rechecked"] = recheck(index, fp, ctx)
        bar = _bar(len(todo), progress)
        ranker = Ranker.of(s, report.nprobe, threads or os.cpu_count() or 1) if len(todo) else None
        if ranker is not None and ranker.lists is not None:
            ranker.prepare(k + SPARE, k)  # tau once, here: Ray tasks get it with the ranker
            report.settings["tau"] = round(ranker.tau, 4)  # type: ignore[arg-type]
        blocks = ranker.plan(todo, block or ranker.block) if ranker is not None else []
        old = linked_before(ranker, todo) if ranker is not None and report.already else None
        ranked: Iterable[tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]]
        if ray is not None and blocks:
            from .on_ray import rank_blocks_on_ray

            ranked = rank_blocks_on_ray(ranker, blocks, k + SPARE, ray)
        else:
            ranked = (ranker.rank(b, k + SPARE) for b in blocks)
        try:
            for n, (ids, found) in enumerate(ranked, start=1):  # noqa: B007
                pairs = ctx.pairs(ids, *found, old=old)
                floors = dict(zip(ids.tolist(), ctx.row_ranks(ids, found[0], found[2])[1].tolist(), strict=True))
                pairs, ranks, moved = offer(index, fp, k, ranker, pairs, ctx, k + SPARE)
                index.links.save_block(fp, k, across, ids.tolist(), pairs, ranks, {**floors, **moved})
                report.linked += len(ids)
                if bar is not None:
                    bar.update(len(ids))
                if stop_after is not None and n >= stop_after:
                    report.interrupted = True
                    break
        except KeyboardInterrupt:
            report.interrupted = True
        finally:
            if bar is not None:
                bar.close()
        report.pairs = index.links.count(fp)
        # the pixel check of duplicates.py: pairs checked, photos decoded, regions made a second time in a block
        report.settings["duplicate_check"] = {"pairs": ctx.checked, "photos": ctx.decoded, "again": ctx.again}
        if ranker is not None and ranker.lists is not None:
            st = ranker.stats  # Ray tasks keep their own: counted on one machine only
            report.settings["join"] = {"candidates": st.candidates, "short": st.short, "faces": st.faces}
    report.seconds = time.monotonic() - start
    return report


def recheck(index: Index, fp: str, ctx: BlockPairs) -> dict[str, int]:
    """Pairs stored under another duplicate rule (an index linked by an older facematch: duplicates.RULE) get
    their verdicts made again by today's rule, so a copy stored as a person pair stops counting as evidence
    without linking again. Only pairs today's rule checks can change (cosine >= CHECK_COSINE or band strong;
    the same file stays a duplicate); a pair that stops being a duplicate stays stored as a person pair
    whatever its band. Returns the pairs checked and changed (both 0 when the rule is today's)."""
    if index.links.duplicate_rule(fp) == RULE:
        return {"checked": 0, "changed": 0}
    stored = index.links.pairs(fp)
    todo = [
        {"a": r["a"], "b": r["b"], "cosine": r["cosine"], "score": r["score"], "old": (r["kind"], r["duplicate"])}
        for r in stored if r["cosine"] >= CHECK_COSINE or ctx.band(r["score"]) == "strong" or r["kind"] == "duplicate"
    ]  # fmt: skip
    rows = index.faces.by_id({f for p in todo for f in (p["a"], p["b"])})
    todo = [p for p in todo if p["a"] in rows and p["b"] in rows]
    ctx.classify(todo, rows)
    changed = [(p["a"], p["b"], p["duplicate"]) for p in todo if (p["kind"], p["duplicate"]) != p["old"]]
    if changed:
        index.links.set_kinds(fp, changed)
    index.links.set_duplicate_rule(fp, RULE)
    return {"checked": len(todo), "changed": len(changed)}


def linked_before(ranker: Ranker, todo: np.ndarray) -> Callable[[int], bool]:
    """Is a face one linked by an earlier run (not in this run's todo)?"""
    before = ~np.isin(ranker.ids, todo)

    def old(face: int) -> bool:
        pos = int(np.searchsorted(ranker.ids, face))
        return pos < len(before) and ranker.ids[pos] == face and bool(before[pos])

    return old


def offer(
    index: Index, fp: str, k: int, ranker: Ranker | None, pairs: list[dict], ctx: BlockPairs, wide: int
) -> tuple[list[dict], list[tuple], dict[int, float]]:
    """Incremental linking, made symmetric: a new face's pair with an older face is offered to the older face.

    An older face's ranks are those of its own row, as a full run gives them: its first k among every face of
    another photo its row holds, whether or not that face's pair was stored (a pair below --min-band takes a
    rank and is not stored). So where an offered face may enter the older face's first k (it was not ranked by
    it, and it scores at or above the row's floor: its k-th score when it was linked), the older face's row is
    ranked again by the same ranker (Ranker.rank, the path every row takes) and its stored and offered pairs
    numbered from it; any pushed beyond k lose their rank (a pair ranked by neither face is deleted by
    save_block). An offered face below the floor changes nothing: a resumed run then leaves the rows of the
    faces linked before the kill as they were, and gives the pairs of an uninterrupted run. After new photos are
    indexed, linking only their faces gives an older face the pairs a full relink would, as far as the new
    face's row reaches (its `wide` best). Returns (the pairs to store, the (a, b, column, rank or None) updates
    for the older faces, the new floors of the older faces ranked again).
    """
    offered: dict[int, dict[int, dict]] = {}
    for p in pairs:
        g = p.pop("offer", None)
        if g is not None:
            offered.setdefault(g, {})[p["b"] if p["a"] == g else p["a"]] = p
    if not offered or ranker is None:
        return [p for p in pairs if _ranked(p)], [], {}
    current = index.links.ranked(fp, list(offered))
    floors = index.links.floors(fp, list(offered))
    again = []
    for g, new in offered.items():
        fresh = np.array(sorted(set(new) - set(current.get(g, []))), dtype=np.int64)
        if not len(fresh):
            continue  # its row ranked every offered face already (and that row is the one stored)
        floor = floors.get(g)
        if floor is not None:
            cos = ranker.exact(fresh) @ ranker.exact(np.array([g]))[0]
            score = shown_score(cos, ranker.offsets(fresh) if ranker.offsets_all is not None else None)
            if bool(np.all(score < floor - _MARGIN)):
                continue  # none can enter its first k
        again.append(g)
    if not again:
        return [p for p in pairs if _ranked(p)], [], {}
    olds, (scores, _cos, ids) = ranker.rank(np.array(sorted(again), dtype=np.int64), wide)
    row_ranks, row_floors = ctx.row_ranks(olds, scores, ids)
    ranks: list[tuple] = []
    accepted: set[tuple[int, int]] = set()
    moved: dict[int, float] = {}
    for i, g in enumerate(olds.tolist()):
        at = {int(f): int(r) for f, r in zip(ids[i].tolist(), row_ranks[i].tolist(), strict=True) if 0 < r <= k}
        for other in sorted(set(current.get(g, [])) | set(offered[g])):
            n = at.get(other)
            a, b = min(g, other), max(g, other)
            ranks.append((a, b, "rank_ab" if g == a else "rank_ba", n))
            if n is not None and other in offered[g]:
                accepted.add((a, b))
        moved[g] = float(row_floors[i])
    return [p for p in pairs if _ranked(p) or (p["a"], p["b"]) in accepted], ranks, moved


def _ranked(p: dict) -> bool:
    return p.get("rank_ab") is not None or p.get("rank_ba") is not None


def _bar(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="face", desc=_("Linking"), dynamic_ncols=True)
