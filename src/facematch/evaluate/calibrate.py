"""An engine's stranger-rate table from a labelled folder, its held-out check, and the stranger check: how far
the table is off per population, and how close the archive's own estimate comes (`facematch evaluate
calibrate`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..fingerprint import Fingerprint, slug
from .embeddings import embed_photos
from .lfw import labelled_photos
from .plots import plot_calibration, plot_strangers
from .results import RESULT_SCHEMA, write_json


def evaluate_calibration(
    images_dir: Path,
    engine_name: str,
    out_dir: Path,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    install: bool = False,
    source: str | None = None,
    identity_from: str = "folder",
    identities: Path | None = None,
    scoring=None,
) -> dict:
    """Build an engine's calibration from all cross-person pairs in a labelled folder, and check it.

    Writes calibration-<engine>.json (the table) and calibrate.json (the table's summary, the
    held-out check, and the stranger check below) into out_dir; with install=True also into the
    package's calibration_data/, where Searcher picks it up for exactly this engine fingerprint.

    The stranger check (stranger_check) answers the question families depend on: on these photos,
    how far is the shipped table off, within each population group and across, and how close does
    the archive's own estimate (from the same photos, labels unused) come to the counted rate?
    """
    from .. import calibration
    from ..neighbours import Scoring, neighbour_means

    labelled = labelled_photos(images_dir, identity_from, identities)
    emb = embed_photos(labelled.paths, engine_name, cache_dir, workers, progress)
    scoring = scoring or Scoring.for_engine(emb.engine)  # the scores a search shows (search.Searcher's default)
    found = emb.found
    vecs = emb.vectors[found]
    labels = np.asarray(labelled.identities)[found]
    groups = np.asarray(labelled.groups)[found]
    keys = np.asarray([str(p) for p in labelled.paths])[found]
    n_people = len(set(labels.tolist()))
    what = source or f"the folder {Path(images_dir).name}"
    offsets = None
    if scoring.corrected:  # the photos taken as one archive: each one's hubness among them
        hub = neighbour_means(vecs, keys, scoring.k, cut=scoring.cut, most=scoring.most)
        offsets = scoring.offsets(hub, float(hub.mean()))
    cal = calibration.build(
        vecs,
        labels,
        emb.engine,
        f"{what}: all pairs of photos of different people among the largest-face embeddings of "
        f"{len(vecs)} photos of {n_people} people ({len(emb.problems)} photos without a face left out); "
        + ("one pair per unordered photo pair" if offsets is None else f"every ordered pair, {scoring.describe()}"),
        None if offsets is None else calibration.ScoreAdjustment(gallery=offsets),
        scoring.to_json(),
    )
    chk = calibration.check(vecs, labels, emb.engine, offsets)
    reference = calibration.for_engine(emb.engine)  # the shipped table, before any --install replaces it
    if reference is not None and reference.scoring != scoring.to_json():
        reference = None  # it describes other scores: nothing to compare with
    strangers = stranger_check(vecs, labels, groups, keys, reference, scoring) if reference is not None else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    extra = {"check": chk}
    name = Fingerprint(emb.engine).name
    table = cal.save(out_dir / f"calibration-{slug(name)}.json", extra)
    installed = str(cal.save(calibration.data_file(name), extra)) if install else None
    calibration.for_engine.cache_clear()
    levels = {}
    for rate in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6):
        idx = np.nonzero(cal.fpr <= rate)[0]
        levels[f"{rate:g}"] = round(float(cal.scores[idx[0]]), 4) if len(idx) else None
    result = {
        "schema": RESULT_SCHEMA,
        "kind": "calibration",
        "engine": emb.engine,
        "images": str(images_dir),
        "photos": len(labelled),
        "photos_without_face": sorted(emb.problems),
        "people": n_people,
        "groups": sorted(set(groups.tolist()) - {""}),
        "impostor_pairs": cal.impostor_pairs,
        "source": cal.source,
        "scoring": scoring.describe(),
        "score_at_rate": levels,
        "table": str(table),
        "installed": installed,
        "check": chk,
        "strangers": strangers,
        "embedded_now": emb.computed,
        "seconds": round(emb.seconds, 1),
    }
    result["plots"] = [str(plot_calibration(cal, out_dir / "calibration.png"))]
    if strangers is not None:
        result["plots"].append(str(plot_strangers(strangers, out_dir / "strangers.png", emb.engine)))
    write_json(result, out_dir / "calibrate.json")
    return result


#: Rates at which the stranger check compares predicted and counted strangers.
STRANGER_RATES = (1e-1, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6)
#: A level is shown when at least this many pairs are counted there (judged from CHECK_MIN_COUNT).
SHOW_MIN_COUNT = 3


def counted_rates(
    vectors: np.ndarray, labels: np.ndarray, other: np.ndarray | None = None, offsets: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """(rate of pairs of different people scoring >= each bin score, pairs): all pairs, or pairs across two sets.

    With `offsets` (per photo, taken off its scores as an archive face: the hubness correction), the
    ordered pairs of one set, on the corrected scores."""
    from .. import calibration

    if other is None and offsets is not None:
        hist, total = calibration.adjusted_impostor_histogram(
            vectors, labels, calibration.ScoreAdjustment(gallery=offsets)
        )
    elif other is None:
        hist, total = calibration.impostor_histogram(vectors, labels)
    else:
        (va, la), (vb, lb) = (vectors, labels), other
        hist = calibration.histogram(np.empty(0))
        total = 0
        for start in range(0, len(va), 1024):
            s = (va[start : start + 1024] @ vb.T).astype(np.float64)
            keep = la[start : start + 1024][:, None] != lb[None, :]
            hist += calibration.histogram(s[keep])
            total += int(keep.sum())
    return np.cumsum(hist[::-1])[::-1] / max(total, 1), int(total)


def compare_levels(curve: np.ndarray, total: int, table, estimate, rates=STRANGER_RATES) -> list[dict]:
    """Per rate: the score where the counted rate falls to it, and what the table and the estimate say there."""
    from .. import calibration

    rows = []
    for rate in rates:
        score = calibration.score_at_rate(calibration.BIN_SCORES, curve, rate)
        counted = rate * total
        if score is None or counted < SHOW_MIN_COUNT:
            continue
        row = {
            "rate": rate,
            "score": round(score, 4),
            "counted_pairs": int(round(counted)),
            "judged": bool(counted >= calibration.CHECK_MIN_COUNT),
            "table_rate": float(f"{table.fpr_at(score):.4g}"),
            "counted_over_table": round(rate / table.fpr_at(score), 3),
        }
        if estimate is not None:
            est = estimate.fpr_at(score)
            row["estimate_rate"] = float(f"{est:.4g}")
            row["estimate_over_counted"] = round(est / rate, 3)
            row["estimate_within_tolerance"] = bool(abs(est / rate - 1) <= calibration.CHECK_TOLERANCE)
        rows.append(row)
    return rows


def stranger_check(
    vectors: np.ndarray, labels: np.ndarray, groups: np.ndarray, keys: np.ndarray, table, scoring=None
) -> dict:
    """How far the table is off on these photos, per population, and how close the archive estimate comes.

    Populations: each group on its own (strangers of one population searched against each other,
    the situation in an archive), pairs across two groups, and the whole folder. The archive
    estimate of a group is made from that group's photos alone, as if they were an unlabelled
    archive; pairs across groups have no archive of their own (an archive holding both groups gets
    the estimate of "all").
    """
    from .. import calibration
    from ..neighbours import PLAIN, neighbour_means

    scoring = scoring or PLAIN

    def offsets_of(v: np.ndarray, k: np.ndarray) -> np.ndarray | None:
        """Each population is its own archive: its faces' hubness is measured among themselves."""
        if not scoring.corrected:
            return None
        hub = neighbour_means(v, k, scoring.k, cut=scoring.cut, most=scoring.most)
        return scoring.offsets(hub, float(hub.mean()))

    def archive(v: np.ndarray, k: np.ndarray, off: np.ndarray | None) -> tuple[object | None, str | None]:
        adjust = None if off is None else calibration.ScoreAdjustment(gallery=off)
        try:
            return calibration.from_archive(v, k, table, adjust), None
        except calibration.ArchiveTooSmall as e:
            return None, str(e)

    names = sorted(set(groups.tolist()) - {""})
    pops = [(f"within {g}", groups == g) for g in names] if len(names) > 1 else []
    pops.append(("all", np.ones(len(vectors), dtype=bool)))
    out = []
    for name, m in pops:
        off = offsets_of(vectors[m], keys[m])
        curve, total = counted_rates(vectors[m], labels[m], offsets=off)
        est, why = archive(vectors[m], keys[m], off)
        out.append(_population(name, int(m.sum()), total, compare_levels(curve, total, table, est), est, why))
    for i, ga in enumerate(names):
        if scoring.corrected:  # across two groups the correction depends on which archive: no single answer
            break
        for gb in names[i + 1 :]:
            a, b = groups == ga, groups == gb
            curve, total = counted_rates(vectors[a], labels[a], (vectors[b], labels[b]))
            out.append(
                _population(
                    f"across {ga} x {gb}",
                    int(a.sum() + b.sum()),
                    total,
                    compare_levels(curve, total, table, None),
                    None,
                    "pairs across groups: an archive holding both groups gets the estimate of 'all'",
                )
            )
    return {
        "table": {"engine": table.engine, "source": table.source, "impostor_pairs": table.impostor_pairs},
        "scoring": scoring.describe(),
        "what": "per rate: the score at which that share of pairs of different people (counted with the labels) "
        "scores at least as high; the table's rate there (counted_over_table > 1: the table says too few "
        "strangers); the archive estimate's rate there, made from the same photos without their labels",
        "tolerance": calibration.CHECK_TOLERANCE,
        "min_count": calibration.CHECK_MIN_COUNT,
        "populations": out,
    }


def _population(name: str, photos: int, pairs: int, levels: list[dict], est, why: str | None) -> dict:
    judged = [r for r in levels if r["judged"] and "estimate_over_counted" in r]
    return {
        "population": name,
        "photos": photos,
        "impostor_pairs": pairs,
        "levels": levels,
        "estimate": None if est is None else {"source": est.source, "method": est.method},
        "no_estimate": why,
        "estimate_passed": bool(judged) and all(r["estimate_within_tolerance"] for r in judged) if est else None,
    }
