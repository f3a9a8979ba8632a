"""Kept for the app and the CLI until they import from the package (issue 23): the names they reach as
`from ..crosscheck import link` + `link.CrossCheck`, or `from ..crosscheck.link import ...`.

Nothing lives here: the cross-check is in run.py (the linking run), ranker.py, blocks.py, duplicates.py,
reasons.py, review.py (CrossCheck, Pair) and exports.py. New code imports from `facematch.crosscheck`.
"""

from ..messages import DIFFERENT, PAIR_DECISIONS, SAME, UNSURE
from .blocks import BANDS
from .exports import export, pair_row
from .review import GROUP_BAND, CrossCheck, Pair, pair_lines, record_summary
from .run import LinkReport, link

__all__ = [
    "BANDS", "DIFFERENT", "GROUP_BAND", "PAIR_DECISIONS", "SAME", "UNSURE", "CrossCheck", "LinkReport", "Pair",
    "export", "link", "pair_lines", "pair_row", "record_summary",
]  # fmt: skip
