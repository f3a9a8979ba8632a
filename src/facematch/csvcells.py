"""CSV cells a spreadsheet does not run: every CSV facematch writes goes through `writer` (or `cell`).

Exports are opened in Excel, LibreOffice or Google Sheets, which treat a cell beginning with = + - @ (or a tab
or carriage return before one) as a formula: `=HYPERLINK("https://...", "open")` in a reviewer's note, a case
name or an archive file name would become a live link or worse on the caseworker's computer. Such a cell is
written with a leading single quote, OWASP's recommendation (the spreadsheet shows the text, the quote only
marks it as text). Numbers, including negative scores, stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

#: What a spreadsheet may read as the start of a formula (the full-width forms too: some spreadsheets fold them).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def cell(value: Any) -> Any:
    """The value as a CSV cell that is never a formula: text beginning with a formula character gets a leading
    single quote; numbers (also written as text, such as "-0.1234") and everything else stay as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def row(values: Iterable[Any]) -> list[Any]:
    return [cell(v) for v in values]


class Writer:
    """csv.writer whose rows are made safe with `cell` (the one way facematch writes CSV)."""

    def __init__(self, fh, **kwargs) -> None:
        self._w = csv.writer(fh, **kwargs)

    def writerow(self, values: Iterable[Any]) -> None:
        self._w.writerow(row(values))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for r in rows:
            self.writerow(r)


def writer(fh, **kwargs) -> Writer:
    return Writer(fh, **kwargs)
