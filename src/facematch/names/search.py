"""Name search over an index's archive records, in any script or spelling, with the reason for each hit.

The name index is built from the normalised forms stored at import (record_names), so opening it
transliterates nothing; it is cached per database and rebuilt only when an import changed the records.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from .. import records
from ..index import Index
from .forms import Agreement, NameForm, normalise
from .nameindex import THRESHOLD, NameIndex, reaching

_CACHE: OrderedDict[tuple[str, int], NameIndex] = OrderedDict()
_CACHE_LOCK = threading.Lock()  # the app's sessions search on several threads at once


@dataclass(frozen=True)
class NameHit:
    """A record one of whose names agrees with a name searched for. Not a match: a reason to look."""

    record: dict
    agreement: Agreement

    @property
    def score(self) -> float:
        return self.agreement.score

    @property
    def reason(self) -> str:
        return self.agreement.reason()

    @property
    def has_photo(self) -> bool:
        return bool(self.record.get("photos"))


def _preferred(a: Agreement) -> tuple[float, bool, bool]:
    """Which of a record's names to give as the reason: the best score, then the name written exactly as
    searched, then one in the same script (a Chinese name that agrees exactly is not explained through the
    record's Uyghur spelling)."""
    written = "".join(a.record.written.split()).casefold() == "".join(a.query.written.split()).casefold()
    return a.score, written, a.record.script == a.query.script


def name_index(index: Index) -> NameIndex:
    """The index of every record name in this database (built once per import)."""
    records.ensure_current(index)
    key = (str(index.db.path.resolve()), index.records.generation())
    with _CACHE_LOCK:
        idx = _CACHE.get(key)
        if idx is None:
            idx = NameIndex.from_stored(index.records.name_rows())
            _CACHE[key] = idx
            while len(_CACHE) > 4:
                _CACHE.popitem(last=False)
    return idx


def search(index: Index, queries: str | Iterable[str], threshold: float = THRESHOLD, limit: int = 200) -> list[NameHit]:
    """Records with a name agreeing with any of the names searched for, best first (one hit per record)."""
    forms = query_forms(queries)
    if not forms:
        return []
    idx = name_index(index)
    best: dict[str, Agreement] = {}
    for form in forms:
        for ref, agreement in idx.search(form, threshold=threshold, limit=None):
            rid = str(ref)
            if rid not in best or _preferred(agreement) > _preferred(best[rid]):
                best[rid] = agreement
    ranked = _first({rid: a.score for rid, a in best.items()}, limit)
    recs = index.records.by_id(ranked)
    return [NameHit(recs[rid], best[rid]) for rid in ranked if rid in recs]


def hit_ids(
    index: Index,
    queries: str | Iterable[str],
    threshold: float = THRESHOLD,
    limit: int = 200,
    idx: NameIndex | None = None,
) -> list[str]:
    """The record ids search() returns, in its order, without what it makes for each hit to be shown (each
    name's agreement, word by word, and the record itself): the cross-check only asks whether a record is
    among them, for every record in its pairs, and those make most of a search's time (bench/scale_e2e.py).
    A record's rank is its best score over the names searched for, as in search (whose preferred agreement
    is the best scoring one). `idx`: the index's NameIndex, when the caller holds it already."""
    forms = query_forms(queries)
    if not forms:
        return []
    idx = idx if idx is not None else name_index(index)
    best: dict[str, float] = {}
    for form in forms:
        s = idx.scores(form, threshold)
        for i in reaching(s, threshold).tolist():
            rid, score = str(idx.refs[i]), float(s[i])
            if score > best.get(rid, float("-inf")):
                best[rid] = score
    ranked = _first(best, limit)
    known = index.records.known(ranked)
    return [rid for rid in ranked if rid in known]


def query_forms(queries: str | Iterable[str]) -> list[NameForm]:
    """The names searched for, as comparable forms (a name with no word in it is left out)."""
    qs = [queries] if isinstance(queries, str) else list(queries)
    return [f for q in qs if (f := normalise(q)).tokens]


def _first(best: dict[str, float], limit: int) -> list[str]:
    """The record ids of the `limit` best scores, best first (ties by record id)."""
    return [rid for rid, _ in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]
