"""The archive cross-checked against itself (issue 17): candidate pairs of archive faces, duplicate images,
groups, and the review of pairs by people (`facematch link`, the app's Cross-check page).

Leaks come in pieces (booking photos with names, others with only photos, lists from other counties), and
the same person appears in several. Linking finds, for every archive face, its nearest archive faces, and
keeps them as *candidate pairs* for people to review. The tool suggests, people decide: a pair is never
called a match; a group is never merged; nothing is copied into a record.

  - `run`: the linking run (`run.link`: blocks, resume, incremental offers);
  - `ranker`: a block of faces ranked against the whole archive (FAISS's search, or the join on IVF);
  - (the join itself, every face against every face on an IVF index, is the core's `facematch.selfjoin`: the
    neighbour lists of a large archive use it too);
  - `on_ray`: the ranking of blocks as Ray tasks;
  - `blocks`: one block's ranked rows turned into the pairs to store (skips, ranks, bands);
  - `duplicates`: the same image saved again (the pixels around the faces), apart from identity;
  - `reasons`: what the records of a pair's faces agree on;
  - `review`: `CrossCheck`, the stored pairs read for people (folded, decided, grouped) and `Pair`;
  - `exports`: pairs, duplicates, groups and decisions written out as CSV and JSON lines;

The app and the CLI import from here (`crosscheck.CrossCheck`, `crosscheck.link`, ...), never from the modules.
"""

from ..messages import DIFFERENT, PAIR_DECISIONS, SAME, UNSURE
from .blocks import BANDS
from .exports import EXPORT_FIELDS, export, pair_row
from .review import (
    GROUP_BAND,
    CrossCheck,
    Pair,
    Queue,
    SetAside,
    count_set_aside,
    pair_id,
    pair_lines,
    parse_pair_id,
    record_summary,
)
from .run import K, LinkReport, link

__all__ = [
    "BANDS", "DIFFERENT", "EXPORT_FIELDS", "GROUP_BAND", "K", "PAIR_DECISIONS", "SAME", "UNSURE", "CrossCheck",
    "LinkReport", "Pair", "Queue", "SetAside", "count_set_aside", "export", "link", "pair_id", "pair_lines", "pair_row",
    "parse_pair_id", "record_summary",
]  # fmt: skip
