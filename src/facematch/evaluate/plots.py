"""The evaluations' figures (PNG files): ROC, score histograms, CMC, the calibration curve, strangers predicted vs
counted. Every figure is made through figure(): matplotlib set up once (files only, no display, no cache left
behind), the same size, layout, resolution and closing for all."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

#: A single plot's size in inches; figure() takes another for a grid of plots.
SIZE = (6, 4.5)
DPI = 100


def pyplot():
    """matplotlib.pyplot, drawing into files only and caching its font list in a temporary folder."""
    if "MPLCONFIGDIR" not in os.environ:
        # matplotlib caches its font list under ~/.cache and ~/.config unless told otherwise:
        # facematch leaves nothing outside the folders it was given, so use a temporary folder
        # removed at exit (rebuilding the font list costs well under a second).
        import atexit
        import shutil
        import tempfile

        tmp = tempfile.mkdtemp(prefix="facematch-mpl-")
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        os.environ["MPLCONFIGDIR"] = tmp
    from ..extras import require

    require("plots", "matplotlib")  # an optional part: the message names the command that installs it
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, works on servers and in CI
    import matplotlib.pyplot as plt

    return plt


@contextmanager
def figure(
    path: Path, rows: int = 1, cols: int = 1, size: tuple[float, float] = SIZE, title: str | None = None
) -> Iterator[tuple[object, np.ndarray]]:
    """A figure of rows x cols plots, for `with figure(path) as (fig, axes)`: axes[row][col]. Saved to `path`
    (laid out tight, with `title` above all plots) when the block ends without an error; always closed."""
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    try:
        yield fig, axes
        if title is not None:
            fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)


def plot_roc(genuine: np.ndarray, impostor: np.ndarray, path: Path, engine: str) -> Path:
    thresholds = np.unique(np.concatenate([genuine, impostor]))[::-1]
    imp, gen = np.sort(impostor), np.sort(genuine)
    far = 1 - np.searchsorted(imp, thresholds, side="left") / len(imp)
    tar = 1 - np.searchsorted(gen, thresholds, side="left") / len(gen)
    with figure(path) as (_, axes):
        ax = axes[0][0]
        keep = far > 0
        ax.plot(far[keep], tar[keep], lw=1.5)
        ax.set_xscale("log")
        ax.set_xlim(max(1e-4, 0.5 / len(imp)), 1)
        ax.set_xlabel("false accept rate (different people accepted)")
        ax.set_ylabel("true accept rate (same person accepted)")
        ax.set_title(f"ROC, {engine}")
        ax.grid(True, which="both", alpha=0.3)
    return path


def plot_histogram(a: np.ndarray, b: np.ndarray, path: Path, engine: str, label_a: str, label_b: str) -> Path:
    with figure(path) as (_, axes):
        ax = axes[0][0]
        bins = np.linspace(-0.5, 1.0, 76)
        ax.hist(np.clip(b, -0.5, 1.0), bins=bins, alpha=0.6, label=f"{label_b} ({len(b)})", density=True)
        ax.hist(np.clip(a, -0.5, 1.0), bins=bins, alpha=0.6, label=f"{label_a} ({len(a)})", density=True)
        ax.set_xlabel("similarity (cosine)")
        ax.set_ylabel("density")
        ax.set_title(f"Score distributions, {engine}")
        ax.legend()
    return path


def plot_cmc(curve: Sequence[float], path: Path, engine: str, gallery_size: int) -> Path:
    with figure(path) as (_, axes):
        ax = axes[0][0]
        ax.plot(range(1, len(curve) + 1), curve, marker=".", lw=1.5)
        ax.set_xscale("log")
        ax.set_xlabel("rank")
        ax.set_ylabel("share of searches with the right person at or above this rank")
        ax.set_title(f"CMC, {engine}, gallery of {gallery_size}")
        ax.grid(True, which="both", alpha=0.3)
    return path


def plot_calibration(cal, path: Path) -> Path:
    with figure(path) as (_, axes):
        ax = axes[0][0]
        keep = cal.counts > 0
        ax.plot(cal.scores[keep], cal.fpr[keep], lw=1.5)
        ax.set_yscale("log")
        ax.set_xlabel("similarity (cosine)")
        ax.set_ylabel("rate at which a stranger scores at least this")
        ax.set_title(f"Calibration, {cal.engine}\n{cal.impostor_pairs:,} pairs of different people")
        ax.grid(True, which="both", alpha=0.3)
    return path


def plot_strangers(check: dict, path: Path, engine: str) -> Path:
    """Predicted vs counted stranger rate per level: the shipped table and the archive estimate, per population."""
    pops = check["populations"]
    title = f"Strangers: predicted vs counted, {engine}"
    with figure(path, 1, len(pops), (4.2 * len(pops), 4.4), title) as (_, axes):
        for ax, pop in zip(axes[0], pops, strict=True):
            lv = pop["levels"]
            counted = np.array([r["rate"] for r in lv])
            lo, hi = (counted.min() / 3, 1.0) if len(lv) else (1e-6, 1.0)
            ax.fill_between([lo, hi], [lo * 0.75, hi * 0.75], [lo * 1.25, hi * 1.25], color="0.9", label="±25%")
            ax.plot([lo, hi], [lo, hi], color="0.5", lw=1)
            ax.plot(counted, [r["table_rate"] for r in lv], "o-", label="reference table (LFW)")
            if lv and "estimate_rate" in lv[0]:
                ax.plot(counted, [r["estimate_rate"] for r in lv], "s-", label="archive estimate")
            for r in lv:
                if not r["judged"]:
                    ax.axvline(r["rate"], color="0.85", lw=0.5)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("counted stranger rate (labels)")
            ax.set_ylabel("predicted rate")
            ax.set_title(f"{pop['population']} ({pop['photos']} photos)", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    return path
