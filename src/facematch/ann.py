"""Which FAISS structure holds an engine's faces, and how it is built and tuned.

Small galleries keep the exact flat scan: it is fast enough there and never misses anyone. Past a
size measured by bench/search_scale.py, an inverted-file index with 8-bit scalar quantisation
(IVF-SQ8) answers in a fraction of the time and a quarter of the memory; its shortlist is then
re-scored exactly from the stored float embeddings (vectors.py), so every score shown is exact and
only the *choice* of shortlist is approximate. How approximate is measured when the index is built:
a sample of stored faces is searched exactly while they stream in, and the smallest number of
inverted lists to visit (nprobe) that finds at least TARGET_RECALL of their exact top-50 is kept.

Everything about the choice (kind, parameters, who chose it, the measured recall) is a plain dict
saved next to the index, so it reloads as it was and a person can override it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import faiss
import numpy as np
from faiss.contrib.inspect_tools import get_invlist

from .i18n import _, format_number

#: Index kinds a person can ask for (`facematch index --index-type`).
KINDS = ("auto", "flat", "ivf-sq8", "ivf-pq", "hnsw")
#: Exact scan below this many 128-d faces (proportionally fewer for longer embeddings: 50,000 at
#: 512-d), IVF-SQ8 from there on. Measured by bench/search_scale.py on 2 cores (docs/scale.md,
#: "Search at scale"): below it the exact scan reads under ~100 MB and answers in about 10 ms or less, and an
#: approximate index would save too little to be worth its misses and its training time.
APPROX_THRESHOLD = 200_000


def threshold_for(dim: int) -> int:
    """APPROX_THRESHOLD scaled to the embedding size: the exact scan's cost is faces x dimensions."""
    return max(1, APPROX_THRESHOLD * 128 // max(1, dim))


#: Share of the exact top-50 the shortlist must contain at the chosen nprobe (measured at build time).
TARGET_RECALL = 0.99
TUNE_K = 50
TUNE_QUERIES = 200
NPROBE_STEPS = tuple(sorted({b * 2**e for e in range(16) for b in (1, 3)} - {3}))  # 1, 2, 4, 6, 8, 12, ...
#: Shortlist size = k x rerank; re-scored exactly from stored embeddings.
DEFAULT_RERANK = {"ivf-sq8": 2, "ivf-pq": 8, "hnsw": 2}
#: After this much growth since training, the inverted lists are long and the coarse centroids
#: describe only the faces seen at training: a retrain makes searches faster again.
REGROW_FACTOR = 4.0

Batches = Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]


@dataclass
class IndexSpec:
    """What kind of FAISS index to build and with which parameters; saved in the sidecar JSON."""

    kind: str = "flat"
    params: dict = field(default_factory=dict)
    chosen_by: str = "auto"  # "auto" (from the gallery size) or "user"
    asked: dict = field(default_factory=dict)  # the parameters the person gave, before defaults and limits

    @property
    def exact(self) -> bool:
        return self.kind == "flat"

    @property
    def rerank(self) -> int:
        return int(self.params.get("rerank", DEFAULT_RERANK.get(self.kind, 1)))

    def to_json(self) -> dict:
        return {"kind": self.kind, "params": dict(self.params), "chosen_by": self.chosen_by, "asked": dict(self.asked)}

    @classmethod
    def from_json(cls, d: dict | None) -> IndexSpec:
        d = d or {}
        return cls(
            str(d.get("kind", "flat")),
            dict(d.get("params") or {}),
            str(d.get("chosen_by", "auto")),
            dict(d.get("asked") or {}),
        )

    def describe(self) -> str:
        shown = {k: v for k, v in self.params.items() if k in ("nlist", "nprobe", "m", "M", "efSearch", "rerank")}
        extra = ", ".join(f"{k}={v}" for k, v in shown.items())
        by_you = ", " + _("chosen by you") if self.chosen_by == "user" else ""
        return f"{self.kind}" + (f" ({extra})" if extra else "") + by_you


# -- choosing -----------------------------------------------------------------------------------
def default_nlist(count: int) -> int:
    """About 4 x sqrt(count) lists, a power of two (FAISS's usual rule: lists of a few hundred faces),
    but never fewer than 39 faces per list, below which k-means has too little to learn from."""
    if count <= 0:
        return 64
    nlist = int(min(65536, max(64, 2 ** round(math.log2(4 * math.sqrt(count))))))
    return max(1, min(nlist, count // 39))


def auto_spec(count: int, dim: int, threshold: int | None = None) -> IndexSpec:
    """The structure this many faces should live in (see APPROX_THRESHOLD)."""
    if count < (threshold or threshold_for(dim)):
        return IndexSpec("flat")
    return IndexSpec("ivf-sq8", {"nlist": default_nlist(count)})


def parse_params(text: str | None) -> dict:
    """'nlist=4096,nprobe=32' -> {'nlist': 4096, 'nprobe': 32}; a clear ValueError for anything else."""
    out: dict = {}
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or key not in ("nlist", "nprobe", "m", "M", "efSearch", "efConstruction", "rerank"):
            raise ValueError(
                f"index parameter '{part}' not understood; use name=value with names "
                "nlist, nprobe, m (ivf-pq bytes per face), M, efSearch, efConstruction (hnsw), rerank"
            )
        try:
            out[key] = int(value)
        except ValueError:
            raise ValueError(
                _("index parameter {key} needs a whole number, not '{value}'", key=key, value=value.strip())
            ) from None
        if out[key] <= 0:
            raise ValueError(_("index parameter {key} must be positive", key=key))
    return out


def user_spec(kind: str, params: dict, count: int, dim: int) -> IndexSpec | None:
    """A person's choice with defaults filled in; None for 'auto' (the size decides again)."""
    if kind not in KINDS:
        raise ValueError(_("unknown index type '{kind}'; choose one of {kinds}", kind=kind, kinds=", ".join(KINDS)))
    if kind == "auto":
        return None
    p = dict(params)
    if kind.startswith("ivf"):
        p.setdefault("nlist", default_nlist(count))
    if kind == "ivf-pq":
        p.setdefault("m", _pq_m(dim))
        if dim % p["m"]:
            raise ValueError(_("ivf-pq needs m to divide the embedding size {dim}; m={m} does not", dim=dim, m=p["m"]))
    if kind == "hnsw":
        p.setdefault("M", 32)
        p.setdefault("efConstruction", 80)
    return IndexSpec(kind, p, "user", dict(params))


def _pq_m(dim: int) -> int:
    """Bytes per face for IVF-PQ: dim/8 (64 for 512-d, 16 for 128-d), i.e. 16x smaller than float32."""
    return max(8, dim // 8)


# -- building -----------------------------------------------------------------------------------
def new_index(spec: IndexSpec, dim: int) -> faiss.Index:
    """An empty index of the spec's kind; IVF kinds still need train()."""
    if spec.kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if spec.kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, int(spec.params.get("M", 32)), faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = int(spec.params.get("efConstruction", 80))
        return faiss.IndexIDMap2(inner)
    nlist = int(spec.params["nlist"])
    if spec.kind == "ivf-sq8":
        return faiss.index_factory(dim, f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    if spec.kind == "ivf-pq":
        index = faiss.index_factory(dim, f"IVF{nlist},PQ{int(spec.params['m'])}x8", faiss.METRIC_INNER_PRODUCT)
        faiss.downcast_index(index).do_polysemous_training = False  # minutes of training, unused here
        return index
    raise ValueError(f"unknown index type '{spec.kind}'")


def train_size(spec: IndexSpec) -> int:
    """How many faces to train on: 40 per list (FAISS warns below 39), and for PQ at least 256 x 40."""
    if not spec.kind.startswith("ivf"):
        return 0
    n = 40 * int(spec.params["nlist"])
    return max(n, 10_240) if spec.kind == "ivf-pq" else n


def apply_search_params(index: faiss.Index, spec: IndexSpec) -> None:
    """Set the search-time knobs (nprobe, efSearch) recorded in the spec on a built or loaded index."""
    if spec.kind.startswith("ivf"):
        ivf = faiss.extract_index_ivf(index)
        ivf.nprobe = int(spec.params.get("nprobe", min(32, int(spec.params.get("nlist", 32)))))
    elif spec.kind == "hnsw":
        hnsw = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap2) else index
        hnsw.hnsw.efSearch = int(spec.params.get("efSearch", 128))


def ids_of(index: faiss.Index) -> np.ndarray:
    """Every id stored in an index (IDMap for flat and HNSW, inverted lists for IVF)."""
    if isinstance(index, faiss.IndexIDMap | faiss.IndexIDMap2):
        return faiss.vector_to_array(index.id_map).astype(np.int64)
    ivf = faiss.extract_index_ivf(index)
    parts = [get_invlist(ivf.invlists, i)[0] for i in range(ivf.nlist) if ivf.invlists.list_size(i)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def build(spec: IndexSpec, dim: int, batches: Batches, total: int, seed: int = 0) -> tuple[faiss.Index, IndexSpec]:
    """Build an index from (ids, vectors) batches; `batches` is called once or twice (train, then add).

    For IVF kinds the first pass draws a uniform training sample and the tuning queries, the second
    adds every face and keeps the tuning queries' exact top-50 as it goes (no third pass over the
    data); nprobe is then the smallest value meeting TARGET_RECALL, unless the spec fixes it.
    Returns the index and the spec completed with what was measured.
    """
    started = time.monotonic()
    spec = IndexSpec(spec.kind, dict(spec.params), spec.chosen_by, dict(spec.asked))
    index = new_index(spec, dim)
    rng = np.random.default_rng(seed)
    tune_q = np.zeros((0, dim), np.float32)
    if spec.kind.startswith("ivf"):
        want = min(total, train_size(spec))
        n_q = min(TUNE_QUERIES, total)
        sample, tune_q = _sample(batches(), total, want, n_q, dim, rng)
        nlist = int(spec.params["nlist"])
        if len(sample) < nlist:
            raise ValueError(
                _(
                    "{kind} with nlist={nlist} needs at least {nlist} faces; the index holds {total}",
                    kind=spec.kind,
                    nlist=nlist,
                    total=total,
                )
            )
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.niter = 10  # 10 k-means rounds: centroids barely move after that, and it halves training time
        index.train(sample)
        del sample
    truth = _TopK(tune_q, TUNE_K)
    for ids, vecs in batches():
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
        truth.update(ids, vecs)
        index.add_with_ids(vecs, np.asarray(ids, dtype=np.int64))
    spec.params["trained_count"] = int(index.ntotal)
    if spec.kind.startswith("ivf") and "nprobe" not in spec.params:
        tune(index, spec, tune_q, truth.ids)
    elif spec.kind.startswith("ivf") and len(tune_q):
        apply_search_params(index, spec)
        spec.params["measured_recall"] = shortlist_recall(index, spec, tune_q, truth.ids)
    spec.params["build_seconds"] = round(time.monotonic() - started, 1)
    apply_search_params(index, spec)
    return index, spec


def _sample(
    batches: Iterable[tuple[np.ndarray, np.ndarray]], total: int, want: int, n_q: int, dim: int, rng
) -> tuple[np.ndarray, np.ndarray]:
    """A uniform training sample of `want` vectors and `n_q` tuning queries, in one streaming pass."""
    train_mask = np.zeros(total, bool)
    train_mask[rng.choice(total, size=want, replace=False)] = True
    query_mask = np.zeros(total, bool)
    query_mask[rng.choice(total, size=n_q, replace=False)] = True
    train, queries, seen = [], [], 0
    for _ids, vecs in batches:
        n = min(len(vecs), max(0, total - seen))  # faces added meanwhile are not sampled, only indexed
        vecs = np.asarray(vecs[:n], np.float32)
        train.append(vecs[train_mask[seen : seen + n]])
        queries.append(vecs[query_mask[seen : seen + n]])
        seen += len(vecs)
    cat = np.concatenate(train) if train else np.zeros((0, dim), np.float32)
    q = np.concatenate(queries) if queries else np.zeros((0, dim), np.float32)
    return np.ascontiguousarray(cat), np.ascontiguousarray(q)


class _TopK:
    """Exact top-k of a few queries over vectors that arrive in batches (the tuning ground truth)."""

    def __init__(self, queries: np.ndarray, k: int) -> None:
        self.q, self.k = queries, k
        self.scores = np.full((len(queries), 0), -np.inf, np.float32)
        self.ids = np.zeros((len(queries), 0), np.int64)

    def update(self, ids: np.ndarray, vecs: np.ndarray) -> None:
        if not len(self.q):
            return
        s = np.concatenate([self.scores, self.q @ vecs.T], axis=1)
        i = np.concatenate([self.ids, np.broadcast_to(np.asarray(ids, np.int64), (len(self.q), len(ids)))], axis=1)
        top = np.argpartition(-s, self.k - 1, axis=1)[:, : self.k] if s.shape[1] > self.k else np.argsort(-s, 1)
        self.scores, self.ids = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)


def shortlist_recall(index: faiss.Index, spec: IndexSpec, queries: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top-k found in the shortlist (= recall after the exact re-rank)."""
    if not len(queries):
        return 1.0
    k = truth.shape[1]
    _, got = index.search(queries, min(int(index.ntotal), k * spec.rerank))
    return float(np.mean([len(set(g.tolist()) & set(t.tolist())) / len(t) for g, t in zip(got, truth, strict=True)]))


def tune(index: faiss.Index, spec: IndexSpec, queries: np.ndarray, truth: np.ndarray) -> None:
    """Set spec's nprobe (and, for PQ, a longer shortlist if needed) to the cheapest that reaches TARGET_RECALL.

    PQ codes are coarse: when even visiting every list leaves true neighbours outside the shortlist,
    only a longer shortlist (more exact re-scoring) brings them back, so rerank is raised up to 4x.
    The recall reached is recorded either way; falling short is stated, never hidden.
    """
    base = spec.rerank
    factors = (1, 2, 4) if spec.kind == "ivf-pq" and "rerank" not in spec.asked else (1,)
    for f in factors:
        spec.params["rerank"] = base * f
        nprobe, recall = tune_nprobe(index, spec, queries, truth)
        if recall >= TARGET_RECALL:
            break
    spec.params["nprobe"], spec.params["measured_recall"] = nprobe, recall


def tune_nprobe(index: faiss.Index, spec: IndexSpec, queries: np.ndarray, truth: np.ndarray) -> tuple[int, float]:
    """The smallest nprobe whose shortlist holds TARGET_RECALL of the exact top-50, with that recall."""
    nlist = int(spec.params["nlist"])
    ivf = faiss.extract_index_ivf(index)
    recall = 1.0
    for nprobe in [n for n in NPROBE_STEPS if n < nlist] + [nlist]:
        ivf.nprobe = nprobe
        recall = shortlist_recall(index, spec, queries, truth)
        if recall >= TARGET_RECALL:
            return nprobe, round(recall, 4)
    return nlist, round(recall, 4)


# -- advice ---------------------------------------------------------------------------------------
def retrain_advice(spec: IndexSpec, count: int, dim: int) -> str | None:
    """Why rebuilding the index now would help, or None. Adding faces never rebuilds by itself."""
    if spec.chosen_by == "auto":
        wanted = auto_spec(count, dim)
        if wanted.kind != spec.kind:
            if wanted.exact:
                return _(
                    "the index now holds {count} faces, few enough for the exact scan ({kind} is in use)",
                    count=format_number(count), kind=spec.kind,
                )  # fmt: skip
            return _(
                "the index now holds {count} faces; from {threshold} on an approximate {kind} index answers several "
                "times faster (exact scan in use)",
                count=format_number(count), threshold=format_number(threshold_for(dim)), kind=wanted.kind,
            )  # fmt: skip
    trained = int(spec.params.get("trained_count", 0))
    if spec.kind.startswith("ivf") and trained and count >= REGROW_FACTOR * trained:
        return _(
            "the index grew from {trained} faces at training to {count}; its inverted lists are now {times}x "
            "longer, so searches are slower than they need to be",
            trained=format_number(trained), count=format_number(count), times=format_number(round(count / trained, 1)),
        )  # fmt: skip
    return None
