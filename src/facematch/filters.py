"""Visible, switchable filters on candidates by what their archive records say.

Filters never hide a candidate silently: the app shows how many each filter hides and lets the
person switch it off. Candidates without a record are kept (absence of text is not evidence).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .search import Candidate

_YEAR = re.compile(r"(18|19|20)\d{2}")


def birth_year(record: dict) -> int | None:
    typed = record.get("birth_year")  # set by the records importer (records.py)
    if isinstance(typed, int):
        return typed
    for key in ("birth_year", "birth_date", "birthdate", "date_of_birth", "dob", "born"):
        m = _YEAR.search(str(record.get(key, "")))
        if m:
            return int(m.group(0))
    return None


def record_values(candidates: Iterable[Candidate], field: str) -> list[str]:
    return sorted({str(r[field]) for c in candidates for r in c.records if r.get(field)})


def apply(
    candidates: list[Candidate], years: tuple[int, int] | None = None, field_values: dict[str, set[str]] | None = None
) -> tuple[list[Candidate], int]:
    """(kept, number hidden). A candidate passes if any of its records passes; no record always passes."""
    kept = []
    for c in candidates:
        if not c.records:
            kept.append(c)
            continue
        ok = False
        for r in c.records:
            y = birth_year(r)
            if years and y is not None and not years[0] <= y <= years[1]:
                continue
            if field_values and any(vals and str(r.get(f, "")) not in vals for f, vals in field_values.items()):
                continue
            ok = True
        if ok:
            kept.append(c)
    return kept, len(candidates) - len(kept)
