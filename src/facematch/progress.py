"""Progress bars for long work (indexing, neighbour lists, evaluation): one look everywhere, off when quiet."""

from __future__ import annotations

from .i18n import N_, _


def progress_bar(total: int, enabled: bool, desc: str = N_("Indexing")):
    """A tqdm bar over photos (ETA included), or None when disabled or there is nothing to do."""
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="photo", desc=_(desc), dynamic_ncols=True)
