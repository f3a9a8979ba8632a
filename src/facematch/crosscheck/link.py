"""The archive cross-checked against itself (issue 17): candidate pairs, duplicate images, groups, review.

Leaks come in pieces (booking photos with names, others with only photos, lists from other counties), and
the same person appears in several. `link` finds, for every archive face, its nearest archive faces, and
keeps them as *candidate pairs* for people to review. The tool suggests, people decide: a pair is never
called a match; a group is never merged; nothing is copied into a record.

How a face's pairs are found: its stored embedding is ranked against the whole archive, in large blocks of
faces with all threads. On a flat (exact) index through the one ranking path (search.rank_ids: FAISS's
blocked matrix product -> hubness correction). On an IVF index through the list-major join of
selfjoin.py: each list's probing faces times its members in one matrix product, exact cosines, the same
hubness-corrected scores, at a much smaller nprobe than single searches use (what linking needs is the
same person among the first k, not the exact top 50; bench/link_scale.py measures the recall of
same-person pairs against an exact self-join).
Faces of the same photo are never paired (a photo shows different people); with --across, neither are
faces of the same collection.

A pair's score is the score a search from either face would show for the other, the lower of the two
(cosine - HUB_ALPHA x (r - mean r) for the other face's r); its stranger count (how many strangers in this
archive are expected to look this similar) and band come from the archive's stranger rates, as in search.

Duplicates apart from identity: two faces of byte-identical photos (same sha256), or whose face regions
have nearly the same perceptual hash and the same geometry (landmarks relative to the box), are the same
*image* saved again (re-encoded, resized, cropped), not evidence of the same person. They are kept as
kind 'duplicate', listed apart, and folded: each set of copies is shown through one face, so copies do
not flood the pair list.

Progress is stored per face (link_done), written in the same transaction as the block's pairs: a run
killed at any moment resumes where it stopped and never duplicates a pair (a pair's key is its two faces).
After new photos are indexed only their faces are linked, and symmetrically: a new face's pair with an
older face (anywhere in the new face's `wide` best) is offered to the older face, which ranks it among its
stored pairs and keeps its first k (offer()), so the older face gets the pairs a full relink would.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import calibration, faces, messages, records
from ..access import Account, check_cross_check
from ..i18n import N_, _
from ..index import Index
from ..messages import DIFFERENT, SAME
from ..search import Searcher, rank_ids, split_records
from ..store import FaceRow
from ..vectors import FaceVectors
from . import selfjoin

#: Nearest archive faces kept per face.
K = 20
#: Queries per FAISS call on a flat (exact) index: large blocks are where FAISS's blocked GEMM pays.
BLOCK = 4096
#: Queries per block of the list-major join on an IVF index (selfjoin.py): each list's product is then
#: about JOIN_BLOCK x nprobe / nlist rows (1,024 at 1M faces: a real GEMM); one block is one transaction,
#: so a kill loses at most this many faces' work (~9 s at 1M). bench/link_scale.py at 1M: 255 s and a
#: 1.43 GB peak; blocks of 65,536: 263 s and 1.76 GB.
JOIN_BLOCK = 32768
#: On an approximate index, link with the tuned nprobe divided by this. The tuned nprobe finds 99% of each
#: face's exact top 50 through the index's 8-bit codes; linking needs the same person among the top 20,
#: scored exactly (selfjoin.py), which a 24th of it finds: bench/link_scale.py at 1M sface-like faces
#: (nlist 4096, tuned 3072 -> 128), same-person pairs of the exact top 20 found from either side: 0.996
#: (one side only 0.968); at 64: 0.985; at 192: 0.998; at 256: 0.9995 (2,000-face sample). The join's time
#: grows with nprobe (2x from 128 to 256).
NPROBE_SHARE = 24
#: Faces of the same photo (and, with --across, of the same collection) are skipped; ask for this many more.
SPARE = 10
BANDS = calibration.BANDS  # strongest first: --min-band keeps this band and those before it

#: Duplicate images: pairs at least this similar get their face regions hashed and compared.
DUP_COSINE = 0.9
#: Perceptual hashes (64 bits) this close (Hamming distance) show the same pixels...
DUP_BITS = 10
#: ... if the face also sits the same way in its box (landmarks relative to the box, in box widths).
DUP_SHAPE = 0.05

#: The first cut of _Context.pairs keeps entries this far below what could be kept (a pair's cosine and score,
#: computed from each of its faces' sides, may differ in the last float bits).
_MARGIN = 1e-3

#: Groups ("possibly the same person") are built only from pairs that are mutual and at least this band.
GROUP_BAND = "strong"

PAIR_DECISIONS = messages.PAIR_DECISIONS


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
        raise ValueError(f"--min-band must be one of {', '.join(BANDS)}")
    start = time.monotonic()
    import faiss

    faiss.omp_set_num_threads(threads or os.cpu_count() or 1)
    with Searcher(index_dir, engine) as s:
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
        ctx = _Context(s, k, across, min_band)
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
                pairs, ranks = offer(index, fp, k, ranker, pairs)
                index.links.save_block(fp, k, across, ids.tolist(), pairs, ranks)
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
        if ranker is not None and ranker.lists is not None:
            st = ranker.stats  # Ray tasks keep their own: counted on one machine only
            report.settings["join"] = {"candidates": st.candidates, "short": st.short, "faces": st.faces}
    report.seconds = time.monotonic() - start
    return report


def linked_before(ranker: Ranker, todo: np.ndarray) -> Callable[[int], bool]:
    """Is a face one linked by an earlier run (not in this run's todo)?"""
    before = ~np.isin(ranker.ids, todo)

    def old(face: int) -> bool:
        pos = int(np.searchsorted(ranker.ids, face))
        return pos < len(before) and ranker.ids[pos] == face and bool(before[pos])

    return old


def offer(index: Index, fp: str, k: int, ranker: Ranker | None, pairs: list[dict]) -> tuple[list[dict], list[tuple]]:
    """Incremental linking, made symmetric: a new face's pair with an older face is offered to the older face.

    The older face's ranked pairs (those where it gave a rank) are ranked again with the offered faces, by
    the score its own row ranks by (cosine - the other face's hubness offset, as search.rank_ids); its
    first k keep (or get) its rank, numbered again, and any pushed beyond k lose it (a pair ranked by
    neither face is deleted by save_block). So after new photos are indexed, linking only their faces
    gives an older face the pairs a full relink would, as far as the new face's row reaches (its `wide`
    best). Returns (the pairs to store, the (a, b, column, rank or None) updates for the older faces).
    """
    offered: dict[int, dict[int, dict]] = {}
    for p in pairs:
        g = p.pop("offer", None)
        if g is not None:
            offered.setdefault(g, {})[p["b"] if p["a"] == g else p["a"]] = p
    if not offered or ranker is None:
        return [p for p in pairs if _ranked(p)], []
    current = index.links.ranked(fp, list(offered))
    ranks: list[tuple] = []
    accepted: set[tuple[int, int]] = set()
    for g, new in offered.items():
        partners = np.array(sorted(set(current.get(g, [])) | set(new)), dtype=np.int64)
        cos = ranker.exact(partners) @ ranker.exact(np.array([g]))[0]
        score = cos - ranker.offsets(partners) if ranker.offsets_all is not None else cos
        order = np.lexsort((partners, -score))
        for n, j in enumerate(order.tolist(), start=1):
            other = int(partners[j])
            a, b = min(g, other), max(g, other)
            ranks.append((a, b, "rank_ab" if g == a else "rank_ba", n if n <= k else None))
            if n <= k and other in new:
                accepted.add((a, b))
    return [p for p in pairs if _ranked(p) or (p["a"], p["b"]) in accepted], ranks


def _ranked(p: dict) -> bool:
    return p.get("rank_ab") is not None or p.get("rank_ba") is not None


def link_nprobe(s: Searcher, nprobe: int | None) -> int | None:
    """The nprobe linking uses on an approximate IVF index (None for other kinds)."""
    spec = s.vectors.spec
    if not spec.kind.startswith("ivf"):
        return None
    if nprobe is not None:
        return max(1, int(nprobe))
    return max(1, int(spec.params.get("nprobe", 32)) // NPROBE_SHARE)


@dataclass
class Ranker:
    """Every face of one engine ranked against the whole archive: the self-join's engine room.

    It holds every exact embedding (ids sorted) and every face's hubness offset in memory (1M x 128-d:
    512 MB), so a block of queries never waits on SQLite, and ranks a block at a time:
    - flat (exact) index: through the one ranking path, search.rank_ids, a block of BLOCK faces per FAISS
      call (on a flat index a block is one blocked matrix product: exact and fast);
    - IVF index: the list-major join of selfjoin.py over the index's own lists (`lists`), at linking's
      nprobe: each face probes the lists its own search would probe, every cosine is exact, and batching
      changes the speed, never the answer (tests/test_link.py). FAISS's own IVF search scans a list one
      query at a time, so a block of queries is hardly faster per query than one search.
    Plain picklable arrays, so a Ray task rebuilds the same Ranker and gets the same pairs
    (on_ray.rank_blocks_on_ray).
    """

    vectors: FaceVectors
    ids: np.ndarray  # every face id of the engine, sorted
    vecs: np.ndarray  # their exact embeddings, one row each
    offsets_all: np.ndarray | None  # what hubness correction takes off each face's cosine (None: plain)
    spread: float  # HUB_ALPHA x (mean r - smallest r): how far a face outside a shortlist can rise
    nprobe: int | None
    lists: selfjoin.Lists | None = None  # an IVF index's lists: the join path (None: FAISS's search)
    threads: int = 1
    tau: float | None = None  # the join keeps cosines >= tau (selfjoin.estimate_tau), set by prepare()
    k: int | None = None  # faces with fewer than k candidates above tau are counted in stats
    stats: selfjoin.JoinStats = field(default_factory=selfjoin.JoinStats)

    @classmethod
    def of(cls, s: Searcher, nprobe: int | None, threads: int = 1) -> Ranker:
        ids = s.index.faces.ids(s.fingerprint)
        vecs = np.empty((len(ids), s.engine.dim), np.float32)
        for part_ids, part in s.index.faces.iter_embeddings(s.fingerprint):
            vecs[np.searchsorted(ids, part_ids)] = part
        offsets = s.offsets(ids) if s.alpha else None
        lists = selfjoin.Lists.of(s.vectors.index, ids) if joins(s.vectors) else None
        return cls(s.vectors, ids, vecs, offsets, s.alpha * (s.hub_mean - s.hub_min), nprobe, lists, threads)

    @property
    def block(self) -> int:
        """Faces per block by default: JOIN_BLOCK for the join, BLOCK for FAISS's search."""
        return JOIN_BLOCK if self.lists is not None else BLOCK

    def prepare(self, wide: int, k: int | None = None) -> Ranker:
        """Fix the join's tau for `wide` candidates per face (once: every block and Ray task then uses it)."""
        if self.lists is not None and self.tau is None:
            self.tau = selfjoin.estimate_tau(self.vecs, wide)
        self.k = k if k is not None else self.k
        return self

    # -- exact embeddings and offsets by id ----------------------------------------------------------
    def _pos(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.clip(np.searchsorted(self.ids, u), 0, max(0, len(self.ids) - 1))
        return pos, self.ids[pos] == u

    def exact(self, u: np.ndarray) -> np.ndarray:
        pos, ok = self._pos(np.asarray(u, dtype=np.int64))
        out = self.vecs[pos].copy()
        out[~ok] = np.nan
        return out

    def offsets(self, u: np.ndarray) -> np.ndarray:
        pos, ok = self._pos(np.asarray(u, dtype=np.int64))
        return np.where(ok, self.offsets_all[pos], 0.0).astype(np.float32)  # type: ignore[index]

    # -- blocks -----------------------------------------------------------------------------------
    def plan(self, todo: np.ndarray, block: int | None = None) -> list[np.ndarray]:
        """The faces to link in blocks of `block` (one FAISS call or join, and one transaction each)."""
        block = block or self.block
        return [todo[i : i + block] for i in range(0, len(todo), block)]

    def rank(self, block: np.ndarray, wide: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(the block's face ids, (scores, cosines, ids) of each one's `wide` best archive faces, best first;
        -inf and id -1 in empty slots): the list-major join on an IVF index, else one batched FAISS search
        for the whole block then the exact re-rank and hubness correction of search.rank_ids."""
        if self.lists is not None:
            return block, self._join(block, wide)
        offsets = self.offsets if self.offsets_all is not None else None
        with probing(self.vectors.index, self.nprobe if self.vectors.spec.kind.startswith("ivf") else None):
            return block, rank_ids(self.vectors, self.exact(block), wide, self.exact, offsets, self.spread)

    def _join(self, block: np.ndarray, wide: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self.prepare(wide)
        assert self.lists is not None and self.tau is not None
        (scores, cos, pos), st = selfjoin.join(
            self.exact(block), self.vecs, self.lists, int(self.nprobe or self.lists.nlist), wide, self.tau,
            self.offsets_all, self.threads, self.k,
        )  # fmt: skip
        self.stats.add(st)
        return scores, cos, np.where(pos >= 0, self.ids[np.maximum(pos, 0)], -1)


def joins(vectors: FaceVectors) -> bool:
    """Does linking this index go through the list-major join (an IVF index), or FAISS's own search?"""
    return vectors.spec.kind.startswith("ivf")


def faiss_ivf(index):
    import faiss

    return faiss.extract_index_ivf(index)


class probing:
    """Set an IVF index's nprobe for a while (a context manager), and put it back after."""

    def __init__(self, index, nprobe: int | None) -> None:
        self.ivf, self.nprobe, self.old = None, nprobe, None
        if nprobe is not None:
            import faiss

            self.ivf = faiss.extract_index_ivf(index)

    def __enter__(self) -> probing:
        if self.ivf is not None:
            self.old, self.ivf.nprobe = self.ivf.nprobe, int(self.nprobe)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.ivf is not None:
            self.ivf.nprobe = self.old


def _bar(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="face", desc=_("Linking"), dynamic_ncols=True)


class _Context:
    """What turning one block's ranked lists into pairs needs: faces, photos, collections, records, hashes."""

    def __init__(self, s: Searcher, k: int, across: bool, min_band: str) -> None:
        self.s, self.k, self.across = s, k, across
        self.min_rank = BANDS.index(min_band)
        self._names: dict[str, set[str]] = {}
        self._lowest: float | None = None

    def pairs(
        self,
        q_ids: np.ndarray,
        scores: np.ndarray,
        cos: np.ndarray,
        ids: np.ndarray,
        old: Callable[[int], bool] | None = None,
    ) -> list[dict]:
        """The block's pairs: each query face's first k (after skipping its own photo and, with --across, its
        collection), classified, at least min_band. With `old` (faces linked before this run): a pair with an
        older face is also marked "offer" (that face), anywhere in the query's `wide` row, so offer() can
        rank it from the older face's side too.

        A block is 32,768 faces x `wide` candidates (~1M entries): the skips, ranks and a first cut by score
        are array operations, and only entries that can be kept become pair dicts (about one in ten at 1M
        faces, bench/link_e2e.py). The cut keeps every entry that min_band, or a duplicate check, could keep
        (with a margin: a pair's score from its two sides may differ in the last float bits); min_band
        itself is then applied to each pair as before, so the pairs are those of the per-entry loop."""
        faces = self.s.index.faces
        everyone = np.unique(np.concatenate([q_ids, ids[ids >= 0]]))
        photo, image = faces.photos_of(everyone)  # -1: a face gone meanwhile
        q_pos, g_pos = np.searchsorted(everyone, q_ids), np.searchsorted(everyone, np.maximum(ids, 0))
        keep = (ids >= 0) & (ids != q_ids[:, None]) & (photo[g_pos] >= 0) & (photo[q_pos] >= 0)[:, None]
        keep &= photo[g_pos] != photo[q_pos][:, None]
        if self.across:
            coll = faces.collection_of(everyone)
            _, code = np.unique(np.array([coll.get(int(f), "") for f in everyone], dtype=object), return_inverse=True)
            keep &= code[g_pos] != code[q_pos][:, None]
        ranks = np.cumsum(keep, axis=1)
        ranked = keep & (ranks <= self.k)
        offers = np.zeros_like(keep)
        if old is not None:
            at = np.nonzero(keep)
            offers[at] = [old(int(g)) for g in ids[at].tolist()]
        off = self.s.offsets(everyone).astype(np.float64) if self.s.alpha else np.zeros(len(everyone))
        score = cos.astype(np.float64) - np.maximum(off[q_pos][:, None], off[g_pos])
        could = (
            (score >= self._lowest_score()) | (cos >= DUP_COSINE - _MARGIN) | (image[g_pos] == image[q_pos][:, None])
        )
        found: dict[tuple[int, int], dict] = {}
        rows_at, cols_at = np.nonzero((ranked | offers) & could)  # row-major: each query's row in order
        for i, j, c, sc, r, o in zip(
            rows_at.tolist(), cols_at.tolist(), cos[rows_at, cols_at].tolist(), score[rows_at, cols_at].tolist(),
            ranks[rows_at, cols_at].tolist(), offers[rows_at, cols_at].tolist(), strict=True,
        ):  # fmt: skip
            q, g = int(q_ids[i]), int(ids[i, j])
            a, b = (q, g) if q < g else (g, q)
            pair = {"a": a, "b": b, "cosine": c, "score": sc}
            if r <= self.k:
                pair["rank_ab" if q == a else "rank_ba"] = r
            if o:
                pair["offer"] = g
            found[(a, b)] = {**found.get((a, b), {}), **pair}
        pairs = list(found.values())
        rows = faces.by_id({f for p in pairs for f in (p["a"], p["b"])})
        pairs = [p for p in pairs if p["a"] in rows and p["b"] in rows]
        self._classify(pairs, rows)
        return [p for p in pairs if p["kind"] == "duplicate" or self._strong_enough(p["score"])]

    def _lowest_score(self) -> float:
        """A score below which no pair is strong enough for min_band (-inf when every score is): the bands
        only fall as the score falls (rates of strangers), read on a grid of 0.001 with a margin."""
        if self._lowest is None:
            grid = np.arange(-1.0, 2.0, 0.001)
            ok = [g for g in grid.tolist() if self._strong_enough(g)]
            self._lowest = -np.inf if not ok or ok[0] == grid[0] else ok[0] - 0.001 - _MARGIN
        return self._lowest

    def _strong_enough(self, score: float) -> bool:
        cal = self.s.calibration
        if cal is None or self.min_rank == len(BANDS) - 1:
            return True
        return BANDS.index(calibration.band(cal.expected_strangers(score, self.s.gallery_size))) <= self.min_rank

    def _classify(self, pairs: list[dict], rows: dict[int, FaceRow]) -> None:
        """Duplicates (same file, or same face pixels and geometry) apart from possible same persons; reasons."""
        close = {f for p in pairs if p["cosine"] >= DUP_COSINE for f in (p["a"], p["b"])}
        hashes = face_hashes(self.s.index, [rows[f] for f in close if f in rows])
        recs = self._records(rows)
        for p in pairs:
            fa, fb = rows[p["a"]], rows[p["b"]]
            p["kind"], p["duplicate"] = "person", ""
            if fa.sha256 and fa.sha256 == fb.sha256:
                p["kind"], p["duplicate"] = "duplicate", DUP_FILE
            elif p["cosine"] >= DUP_COSINE and same_pixels(hashes.get(fa.id), hashes.get(fb.id)):
                p["kind"], p["duplicate"] = "duplicate", DUP_PIXELS
            p["reasons"] = self._reasons(recs.get(fa.id, []), recs.get(fb.id, []))

    def _records(self, rows: dict[int, FaceRow]) -> dict[int, list[dict]]:
        """Records about each face (a record naming it, or its photo when it shows one face)."""
        faces = list(rows.values())
        by_file = self.s.index.records.for_files({f.filename for f in faces})
        if not by_file:
            return {}
        numbers = self.s.index.faces.numbers(faces)
        out = {}
        for f in faces:
            number, count = numbers.get(f.id, (1, 1))
            own, _ = split_records(by_file.get(f.filename, []), f.filename, number, count)
            if own:
                out[f.id] = own
        return out

    def _reasons(self, ra: list[dict], rb: list[dict]) -> list[str]:
        return record_reasons(ra, rb, self._name_hits)

    def _name_hits(self, record: dict) -> set[str]:
        """Record ids whose names agree with this record's names (the existing name search, any script)."""
        rid = str(record.get("record_id"))
        if rid not in self._names:
            from ..names import search as namesearch

            names = [n for n in record.get("names", []) if n]
            self._names[rid] = (
                {str(h.record["record_id"]) for h in namesearch.search(self.s.index, names)} if names else set()
            )
        return self._names[rid]


#: What two faces' records can agree on. Stored as the English message and its arguments ({"msg", "args"}), not
#: as a sentence, so each screen and export shows the reason in its reader's language (reason_text).
SAME_RECORD = N_("both faces are in record {record}")
SAME_ID = N_("same ID number ({id_number}) in records {a} and {b}")
SAME_BIRTH = N_("same birth date ({birth_date}) in records {a} and {b}")
NAMES_AGREE = N_("names agree: {names_a} ~ {names_b}")
SAME_COUNTY = N_("same county ({county})")
#: Why a pair is a duplicate image (stored as this English message; shown through the catalog).
DUP_FILE = N_("the same file (identical sha256)")
DUP_PIXELS = N_("the same image saved again (re-encoded, resized or cropped)")


def record_reasons(ra: list[dict], rb: list[dict], name_hits: Callable[[dict], set[str]]) -> list[dict]:
    """What two faces' records agree on: ID number, birth date, names (across scripts), county."""
    out: list[dict] = []

    def say(msg: str, **args: object) -> None:
        reason = {"msg": msg, "args": {k: str(v) for k, v in args.items()}}
        if reason not in out:
            out.append(reason)

    for x in ra:
        for y in rb:
            a, b = x.get("record_id"), y.get("record_id")
            if a == b:
                say(SAME_RECORD, record=a)
                continue
            idx, idy = _plain(x.get("id_number")), _plain(y.get("id_number"))
            if idx and idx == idy:
                say(SAME_ID, id_number=x["id_number"], a=a, b=b)
            if x.get("birth_date") and x.get("birth_date") == y.get("birth_date"):
                say(SAME_BIRTH, birth_date=x["birth_date"], a=a, b=b)
            if str(b) in name_hits(x):
                say(NAMES_AGREE, names_a=" / ".join(x.get("names", [])[:2]), names_b=" / ".join(y.get("names", [])[:2]))
            cx, cy = _plain(x.get("county")), _plain(y.get("county"))
            if cx and cx == cy:
                say(SAME_COUNTY, county=x["county"])
    return out


def reason_text(reason: str | dict) -> str:
    """A stored reason in the active language (a plain string: an index linked before reasons were stored
    as messages, shown as it was written)."""
    if isinstance(reason, dict):
        return _(reason["msg"], **reason.get("args", {}))
    return reason


def _plain(v: object) -> str:
    return "".join(str(v or "").split()).casefold()


# -- duplicate images ---------------------------------------------------------------------------
def face_hashes(index: Index, faces: list[FaceRow]) -> dict[int, tuple[int | None, str]]:
    """Perceptual hash and shape of each face (computed once from the photo, then kept in face_phash)."""
    have = index.links.hashes(f.id for f in faces)
    todo = [f for f in faces if f.id not in have]
    new: dict[int, tuple[int | None, str]] = {}
    by_path: dict[Path, list[FaceRow]] = {}
    for f in todo:
        by_path.setdefault(Path(f.path), []).append(f)
    from ..thumbs import load_full

    for path, fs in by_path.items():
        try:
            rgb = load_full(path)
        except Exception:  # a photo gone or unreadable: no hash, so never called a duplicate by pixels
            rgb = None
        for f in fs:
            new[f.id] = (None if rgb is None else phash(rgb, f.box), json.dumps(shape(f)))
    if new:
        index.links.save_hashes(new)
    return {**have, **new}


def phash(rgb: np.ndarray, box: tuple) -> int:
    """64-bit DCT perceptual hash of the face region (the box, squared, in grey at 32 x 32): equal or
    close for the same pixels re-encoded, resized or cropped around the face; far for another photo."""
    import cv2

    from ..thumbs import crop

    grey = cv2.cvtColor(crop(rgb, box, margin=0.0, size=32), cv2.COLOR_RGB2GRAY).astype(np.float32)
    low = cv2.dct(grey)[:8, :8].ravel()[1:]  # the lowest frequencies, without the mean (brightness)
    bits = low > np.median(low)
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def shape(f: FaceRow) -> list[float]:
    """The face's landmarks relative to its box (0..1) and the box's aspect ratio: unchanged by resizing or
    cropping the photo around the face, different between two photos of one person (pose, expression)."""
    x1, y1, x2, y2 = f.box
    w, h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
    pts = [((x - x1) / w, (y - y1) / h) for x, y in f.landmarks]
    return [round(v, 4) for xy in pts for v in xy] + [round(h / w, 4)]


def same_pixels(a: tuple[int | None, str] | None, b: tuple[int | None, str] | None) -> bool:
    if a is None or b is None or a[0] is None or b[0] is None:
        return False
    if bin(int(a[0]) ^ int(b[0])).count("1") > DUP_BITS:
        return False
    sa, sb = np.array(json.loads(a[1])), np.array(json.loads(b[1]))
    return sa.shape == sb.shape and float(np.abs(sa - sb).max()) <= DUP_SHAPE


# -- reading pairs back: folded, decided, grouped -------------------------------------------------
@dataclass
class Pair:
    """A candidate pair: two archive faces that may show the same person. Not a match: a person decides."""

    id: str  # "A-B" (face ids), what `facematch link decide` takes
    a: FaceRow
    b: FaceRow
    score: float
    cosine: float
    mutual: bool
    kind: str  # "person" or "duplicate"
    duplicate: str  # why it is a duplicate image
    reasons: list[str]
    collections: tuple[str, str]
    expected_strangers: float | None = None
    band: str | None = None
    copies: int = 0  # duplicate images folded into this pair's faces
    decision: dict | None = None  # the latest decision on this pair (by both photos' sha256 + box)

    def strength(self, gallery: int) -> str:
        if self.expected_strangers is None:
            return _("{label} {score} (no stranger rates for this engine)", label=messages.score_label(),
                     score=messages.decimal(self.score, 3))  # fmt: skip
        return messages.strength(self.band or "weak", self.expected_strangers, gallery=gallery)


def pair_id(a: int, b: int) -> str:
    return f"{min(a, b)}-{max(a, b)}"


def parse_pair_id(text: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in str(text).split("-"))
    except ValueError:
        raise ValueError(
            _("a pair is written as two face ids joined by '-', e.g. 12-345, not '{text}'", text=text)
        ) from None
    return min(a, b), max(a, b)


class CrossCheck:
    """The stored pairs of an index read for people: folded duplicates, decisions, groups, review, export."""

    def __init__(self, searcher: Searcher, account: Account | None = None) -> None:
        """`account`: the logged-in account on a team server (None in single-user mode). Its role must allow the
        cross-check (access.check_cross_check), and it is the reviewer of every decision made through it."""
        check_cross_check(account)
        self.s = searcher
        self.index = searcher.index
        self.fp = searcher.fingerprint
        self.account = account

    # -- pairs ------------------------------------------------------------------------------------
    def _load(self, rows: list[dict]) -> list[Pair]:
        ids = {r[x] for r in rows for x in ("a", "b")}
        faces = self.index.faces.by_id(ids)
        colls = self.index.faces.collection_of(ids)
        cal = self.s.calibration
        out = []
        for r in rows:
            fa, fb = faces.get(r["a"]), faces.get(r["b"])
            if fa is None or fb is None:
                continue
            mutual = r["rank_ab"] is not None and r["rank_ba"] is not None
            p = Pair(
                pair_id(r["a"], r["b"]), fa, fb, r["score"], r["cosine"], mutual,
                r["kind"], _(r["duplicate"]) if r["duplicate"] else "", [reason_text(x) for x in r["reasons"]],
                (colls.get(r["a"], ""), colls.get(r["b"], "")),
            )  # fmt: skip
            if cal is not None:
                p.expected_strangers = cal.expected_strangers(p.score, self.s.gallery_size)
                p.band = calibration.band(p.expected_strangers)
            out.append(p)
        self._attach_decisions(out)
        return out

    def duplicates(self) -> list[Pair]:
        """Duplicate images (not evidence of the same person), most similar first."""
        return self._load(self.index.links.pairs(self.fp, "duplicate"))

    def copies(self) -> dict[int, int]:
        """face id -> the face that stands for its set of duplicate images (the lowest id)."""
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            while parent.get(x, x) != x:
                x = parent[x] = parent.get(parent[x], parent[x])
            return x

        for r in self.index.links.pairs(self.fp, "duplicate"):
            ra, rb = find(r["a"]), find(r["b"])
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        return {f: find(f) for f in list(parent)}

    def pairs(self, fold: bool = True, undecided: bool = False) -> list[Pair]:
        """Person pairs, strongest first. Folded: a pair through a copy of an image is shown once, through
        the face standing for its copies (the strongest such pair), with how many copies were folded."""
        rows = self.index.links.pairs(self.fp, "person")
        if fold:
            rep = self.copies()
            best: dict[tuple[int, int], dict] = {}
            folded: dict[tuple[int, int], int] = {}
            for r in rows:  # strongest first: the first seen stays
                key = tuple(sorted((rep.get(r["a"], r["a"]), rep.get(r["b"], r["b"]))))
                if key[0] == key[1]:
                    continue
                if key in best:
                    folded[key] = folded.get(key, 0) + 1
                else:
                    best[key] = r
            rows = list(best.values())
        out = self._load(rows)
        if fold:
            rep = self.copies()
            for p in out:
                key = tuple(sorted((rep.get(p.a.id, p.a.id), rep.get(p.b.id, p.b.id))))
                p.copies = folded.get(key, 0)
        if undecided:
            out = [p for p in out if p.decision is None]
        return out

    def pair(self, text: str) -> Pair:
        a, b = parse_pair_id(text)
        rows = [r for r in self.index.links.pairs(self.fp) if (r["a"], r["b"]) == (a, b)]
        if not rows:
            raise ValueError(
                _(
                    "no candidate pair {pair} in this index (it may have left the queue: photo removed)",
                    pair=pair_id(a, b),
                )
            )
        return self._load(rows)[0]

    def next(self) -> Pair | None:
        """The strongest pair no one has decided yet."""
        todo = self.pairs(undecided=True)
        return todo[0] if todo else None

    # -- decisions --------------------------------------------------------------------------------
    def decide(self, pair: Pair | str, decision: str, reviewer: str, why: str = "", shown: list[str] = ()) -> dict:
        """Append a person's decision on a pair to the append-only log (keyed by both photos' sha256 + box)."""
        if decision not in PAIR_DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(PAIR_DECISIONS)}")
        if self.account is not None:  # team mode: the reviewer is the account, never a typed name
            reviewer = self.account.name
        if not reviewer.strip():
            raise ValueError(_("say who is deciding: every decision records its reviewer"))
        p = self.pair(pair) if isinstance(pair, str) else pair
        (ka, fa), (kb, fb) = sorted([(face_key(p.a), p.a), (face_key(p.b), p.b)], key=lambda t: t[0])
        return self.index.links.append_decision(
            a=ka, b=kb, decision=decision, reviewer=reviewer.strip(), engine=self.fp, score=p.score,
            note=why.strip(), a_path=fa.relpath, b_path=fb.relpath,
            shown=list(shown) or pair_lines(p, self.s.gallery_size),
        )  # fmt: skip

    def log(self) -> list[dict]:
        """Every pair decision, oldest first: the audit log (it outlives pairs whose photos are gone)."""
        return self.index.links.decisions()

    def _attach_decisions(self, pairs: list[Pair]) -> None:
        shas = {f.sha256 for p in pairs for f in (p.a, p.b)}
        decided = [d for d in self.index.links.decisions() if d["a_sha256"] in shas and d["b_sha256"] in shas]
        if not decided:
            return
        for p in pairs:
            (ka, _), (kb, _) = sorted([(face_key(p.a), 0), (face_key(p.b), 0)], key=lambda t: t[0])
            same = [d for d in decided if faces.same_face(d["a_sha256"], d["a_box"], *ka)
                    and faces.same_face(d["b_sha256"], d["b_box"], *kb)]  # fmt: skip
            p.decision = same[-1] if same else None

    def linked_records(self, face: FaceRow) -> list[str]:
        """For a face with no record of its own: "a reviewer linked this face to record R on DATE" for each pair
        with a face that has a record, decided 'same' (latest decision). Nothing is copied into any record."""
        out = []
        latest: dict[tuple, dict] = {}
        for d in self.index.links.decisions(sha256=face.sha256):
            latest[(d["a_sha256"], d["a_box"], d["b_sha256"], d["b_box"])] = d
        for d in latest.values():
            if d["decision"] != SAME:
                continue
            for mine, other in (("a", "b"), ("b", "a")):
                if faces.same_face(d[f"{mine}_sha256"], d[f"{mine}_box"], face.sha256, face.box):
                    for r in self._records_of(d[f"{other}_sha256"], d[f"{other}_box"]):
                        when = messages.day(d["decided_at"])
                        why = f" ({d['note']})" if d["note"] else ""
                        out.append(
                            _("{reviewer} linked this face to record {record} on {when}{why}; nothing was copied "
                              "into a record", reviewer=d["reviewer"], record=r["record_id"], when=when, why=why)
                        )  # fmt: skip
        return out

    def _records_of(self, sha256: str, box: tuple) -> list[dict]:
        path = self.index.faces.photo_path_by_sha(sha256)
        if path is None:
            return []
        rows = self.index.db.execute(
            "SELECT f.id FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.sha256 = ? AND f.engine = ?",
            (sha256, self.fp),
        ).fetchall()
        same = [f for f in self.index.faces.by_id(r[0] for r in rows).values() if faces.same_box(f.box, box)]
        if not same:
            return []
        f = same[0]
        number, count = self.index.faces.numbers([f]).get(f.id, (1, 1))
        own, _ = split_records(
            self.index.records.for_files([f.filename]).get(f.filename, []), f.filename, number, count
        )
        return own

    # -- groups -----------------------------------------------------------------------------------
    def groups(self) -> list[list[Pair]]:
        """Groups "possibly the same person": connected faces through pairs that are (1) mutual (each face is
        among the other's k nearest), (2) strong (band GROUP_BAND: fewer than 1 stranger in 100 expected at
        that score in this archive), (3) not decided 'different' by a reviewer; duplicate images folded first.
        A group is a suggestion, never merged: it is listed as its pairs, each reviewable on its own."""
        strong = [
            p for p in self.pairs() if p.mutual and p.band == GROUP_BAND
            and not (p.decision is not None and p.decision["decision"] == DIFFERENT)
        ]  # fmt: skip
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            while parent.get(x, x) != x:
                x = parent[x] = parent.get(parent[x], parent[x])
            return x

        for p in strong:
            ra, rb = find(p.a.id), find(p.b.id)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
        out: dict[int, list[Pair]] = {}
        for p in strong:
            out.setdefault(find(p.a.id), []).append(p)
        return sorted(out.values(), key=lambda g: (-len(g), -g[0].score))


def face_key(f: FaceRow) -> faces.FaceKey:
    return faces.key(f.sha256, f.box)


def pair_lines(p: Pair, gallery: int) -> list[str]:
    """What a screen says beside a pair, as kept with a decision (and exported)."""
    lines = [f"{messages.score_label()} {messages.decimal(p.score, 3)}", p.strength(gallery)]
    lines.append(
        _("mutual: each face is among the other's nearest") if p.mutual
        else _("one-sided: only one face lists the other")
    )  # fmt: skip
    lines.append(_("collections: {a} / {b}", a=p.collections[0], b=p.collections[1]))
    lines += [_("records: {reason}", reason=r) for r in p.reasons]
    if p.duplicate:
        lines.append(_("duplicate image: {why}", why=p.duplicate))
    return lines


def record_summary(index: Index, f: FaceRow) -> str:
    """One line about a face's own records (or that it has none)."""
    number, count = index.faces.numbers([f]).get(f.id, (1, 1))
    own, photo = split_records(index.records.for_files([f.filename]).get(f.filename, []), f.filename, number, count)
    if own:
        return "; ".join(records.record_summary(r) for r in own)
    if photo:  # a record of a group photo that does not say which face: about someone in it, maybe not this one
        return f"{messages.photo_record_only(count)}: " + "; ".join(records.record_summary(r) for r in photo)
    return _("no archive record")


# -- export -------------------------------------------------------------------------------------
EXPORT_FIELDS = (
    "pair", "kind", "score", "cosine", "expected_strangers", "band", "mutual", "collection_a", "collection_b",
    "photo_a", "sha256_a", "box_a", "photo_b", "sha256_b", "box_b", "reasons", "duplicate", "copies_folded",
    "decision", "reviewer", "decided_at", "why",
)  # fmt: skip


def pair_row(p: Pair, group: int | None = None) -> dict:
    d = p.decision or {}
    row = {
        "pair": p.id, "kind": p.kind, "score": round(p.score, 4), "cosine": round(p.cosine, 4),
        "expected_strangers": None if p.expected_strangers is None else float(f"{p.expected_strangers:.3g}"),
        "band": p.band, "mutual": p.mutual, "collection_a": p.collections[0], "collection_b": p.collections[1],
        "photo_a": p.a.relpath, "sha256_a": p.a.sha256, "box_a": list(p.a.box),
        "photo_b": p.b.relpath, "sha256_b": p.b.sha256, "box_b": list(p.b.box),
        "reasons": list(p.reasons), "duplicate": p.duplicate, "copies_folded": p.copies,
        "decision": d.get("decision"), "reviewer": d.get("reviewer"),
        "decided_at": None if not d else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(d["decided_at"])),
        "why": d.get("note"),
    }  # fmt: skip
    if group is not None:
        row = {"group": group, **row}
    return row


def export(cc: CrossCheck, out_dir: Path) -> dict[str, Path]:
    """pairs, duplicates, groups and decisions as CSV and JSON lines, each beginning with the caveat."""
    import csv

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables: dict[str, list[dict]] = {
        "pairs": [pair_row(p) for p in cc.pairs()],
        "duplicates": [pair_row(p) for p in cc.duplicates()],
        "groups": [pair_row(p, g) for g, group in enumerate(cc.groups(), start=1) for p in group],
        "decisions": [
            {**{k: v for k, v in d.items() if k != "shown"}, "shown": list(d["shown"]),
             "decided_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(d["decided_at"]))}
            for d in cc.log()
        ],
    }  # fmt: skip
    written: dict[str, Path] = {}
    for name, rows in tables.items():
        fields = list(rows[0]) if rows else (["group", *EXPORT_FIELDS] if name == "groups" else list(EXPORT_FIELDS))
        path = out_dir / f"crosscheck-{name}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            fh.write(f"# {messages.full_link_caveat()}\n")
            w = csv.writer(fh)
            w.writerow([messages.column(f) for f in fields])  # the reader's language; the JSON keeps English keys
            for r in rows:
                w.writerow(
                    [json.dumps(v, ensure_ascii=False) if isinstance(v, list | tuple) else v for v in
                     (r.get(f) for f in fields)]
                )  # fmt: skip
        written[f"{name}.csv"] = path
        path = out_dir / f"crosscheck-{name}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps({"caveat": messages.full_link_caveat()}, ensure_ascii=False) + "\n")
            for r in rows:
                fh.write(json.dumps(r, ensure_ascii=False, default=list) + "\n")
        written[f"{name}.jsonl"] = path
    return written
