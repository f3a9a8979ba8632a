"""What the records of a pair's two faces agree on: the same record, ID number, birth date, names, county.

A reason is stored as the English message and its arguments ({"msg", "args"}), not as a sentence, so each
screen and export shows it in its reader's language (reason_text). Records are never changed or merged:
a reason only says what two records already have in common.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from ..i18n import N_, _
from ..index import Index
from ..names import THRESHOLD, NameForm, NameIndex
from ..names.search import hit_ids, name_index, query_forms
from ..search import split_records
from ..store import FaceRow

SAME_RECORD = N_("both faces are in record {record}")
SAME_ID = N_("same ID number ({id_number}) in records {a} and {b}")
SAME_BIRTH = N_("same birth date ({birth_date}) in records {a} and {b}")
NAMES_AGREE = N_("names agree: {names_a} ~ {names_b}")
SAME_COUNTY = N_("same county ({county})")


def records_about(index: Index, rows: dict[int, FaceRow]) -> dict[int, list[dict]]:
    """Records about each face (a record naming it, or its photo when it shows one face). Only the faces of
    photos with a record are numbered in their photo (a tenth of the faces in bench/scale_e2e.py)."""
    faces = list(rows.values())
    by_file = index.records.for_files({f.filename for f in faces})
    if not by_file:
        return {}
    faces = [f for f in faces if f.filename in by_file]
    numbers = index.faces.numbers(faces)
    out = {}
    for f in faces:
        number, count = numbers.get(f.id, (1, 1))
        own, _ = split_records(by_file[f.filename], f.filename, number, count)
        if own:
            out[f.id] = own
    return out


#: NameHits.prepare: a record scoring this far under the name threshold in a block's small name index still has
#: the whole search asked. A name scores the same in any index (each is scored on its own: NameIndex.scores);
#: the margin only keeps float noise from deciding.
_NEAR = 0.1


class NameHits:
    """Do a record's names agree with another record's: is the other among the records the existing name
    search (any script; its first 200) finds for the first one's names? As names.search.search says, made
    cheap enough for every pair of a million faces with records (bench/scale_e2e.py):

      - the ids of the hits only (names.search.hit_ids: no agreement is spelled out, no record read),
        once per list of names in a linking run (archives repeat names);
      - and only where the other record can be among them: prepare() scores each first record's names of a
        block against a small name index of the block's other records, at once, and a record far under the
        threshold there is under it in the whole index too (a name's score does not depend on the others).
        Most neighbours' records name other people, so most pairs need no search of the whole archive.
    """

    def __init__(self, index: Index) -> None:
        self.index = index
        self._idx: NameIndex | None = None
        self._hits: dict[tuple[str, ...], set[str]] = {}
        self._forms: dict[tuple[str, ...], list[NameForm]] = {}
        self._near: dict[tuple[str, ...], set[str]] = {}  # this block's: names -> record ids they may agree with
        self._scored: set[str] = set()  # the record ids of this block's small name index

    def prepare(self, pairs: Iterable[tuple[list[dict], list[dict]]]) -> None:
        """Before a block's reasons: the (records of face a, records of face b) of its pairs. Each names list
        of a first record is scored against every second record it meets, in one small index."""
        asked = [(x, y) for ra, rb in pairs for x in ra for y in rb if x.get("record_id") != y.get("record_id")]
        keys = {k for x, _ in asked if (k := _names(x))}
        self._near, self._scored = {}, set()
        if not keys:
            return
        self._index()  # first, as a search would (it maps records of facematch 0.1)
        self._scored = {str(y.get("record_id")) for _, y in asked}
        small = NameIndex.from_stored(self.index.records.name_rows(self._scored))
        for key in keys:
            near: set[str] = set()
            if key not in self._forms:
                self._forms[key] = query_forms(list(key))
            for form in self._forms[key]:
                s = small.scores(form, THRESHOLD)
                near.update(str(small.refs[i]) for i in np.flatnonzero(s >= THRESHOLD - _NEAR).tolist())
            self._near[key] = near

    def __call__(self, x: dict, y: dict) -> bool:
        key = _names(x)
        if not key:
            return False
        other = str(y.get("record_id"))
        near = self._near.get(key)
        if near is not None and other in self._scored and other not in near:
            return False
        if key not in self._hits:
            self._hits[key] = set(hit_ids(self.index, list(key), idx=self._index()))
        return other in self._hits[key]

    def _index(self) -> NameIndex:
        if self._idx is None:
            self._idx = name_index(self.index)
        return self._idx


def _names(record: dict) -> tuple[str, ...]:
    return tuple(n for n in record.get("names", []) if n)


def record_reasons(ra: list[dict], rb: list[dict], names_agree: Callable[[dict, dict], bool]) -> list[dict]:
    """What two faces' records agree on: ID number, birth date, names (across scripts: names_agree, a
    NameHits), county."""
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
            if names_agree(x, y):
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
