"""What the records of a pair's two faces agree on: the same record, ID number, birth date, names, county.

A reason is stored as the English message and its arguments ({"msg", "args"}), not as a sentence, so each
screen and export shows it in its reader's language (reason_text). Records are never changed or merged:
a reason only says what two records already have in common.
"""

from __future__ import annotations

from collections.abc import Callable

from ..i18n import N_, _
from ..index import Index
from ..search import split_records
from ..store import FaceRow

SAME_RECORD = N_("both faces are in record {record}")
SAME_ID = N_("same ID number ({id_number}) in records {a} and {b}")
SAME_BIRTH = N_("same birth date ({birth_date}) in records {a} and {b}")
NAMES_AGREE = N_("names agree: {names_a} ~ {names_b}")
SAME_COUNTY = N_("same county ({county})")


def records_about(index: Index, rows: dict[int, FaceRow]) -> dict[int, list[dict]]:
    """Records about each face (a record naming it, or its photo when it shows one face)."""
    faces = list(rows.values())
    by_file = index.records.for_files({f.filename for f in faces})
    if not by_file:
        return {}
    numbers = index.faces.numbers(faces)
    out = {}
    for f in faces:
        number, count = numbers.get(f.id, (1, 1))
        own, _ = split_records(by_file.get(f.filename, []), f.filename, number, count)
        if own:
            out[f.id] = own
    return out


class NameHits:
    """Record ids whose names agree with a record's names (the existing name search, any script), each record's
    looked up once per linking run."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._names: dict[str, set[str]] = {}

    def __call__(self, record: dict) -> set[str]:
        rid = str(record.get("record_id"))
        if rid not in self._names:
            from ..names import search as namesearch

            names = [n for n in record.get("names", []) if n]
            self._names[rid] = (
                {str(h.record["record_id"]) for h in namesearch.search(self.index, names)} if names else set()
            )
        return self._names[rid]


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
