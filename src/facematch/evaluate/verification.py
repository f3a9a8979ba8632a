"""The LFW verification protocol: 10-fold accuracy (threshold from 9 folds, applied to the 10th) and TAR at FAR.

A pair with a missing face scores MISSING_SCORE (-1): a failure at every threshold for a same-person pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..i18n import _
from .embeddings import Embeddings, embed_photos
from .lfw import Pair, lfw_path, parse_pairs
from .plots import plot_histogram, plot_roc
from .results import MISSING_SCORE, RESULT_SCHEMA, write_json

#: False-accept rates at which the true-accept rate (and its threshold) is reported.
FARS = (1e-1, 1e-2, 1e-3, 1e-4)


def pair_scores(pairs: Sequence[Pair], emb: Embeddings, images_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(scores, missing): cosine similarity per pair; MISSING_SCORE where either photo gave no face."""
    where = emb.index_of()
    scores = np.full(len(pairs), MISSING_SCORE, dtype=np.float64)
    missing = np.zeros(len(pairs), dtype=bool)
    for k, pr in enumerate(pairs):
        a, b = where[lfw_path(images_dir, pr.name1, pr.n1)], where[lfw_path(images_dir, pr.name2, pr.n2)]
        if emb.found[a] and emb.found[b]:
            scores[k] = float(np.dot(emb.vectors[a], emb.vectors[b]))
        else:
            missing[k] = True
    return scores, missing


def best_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The threshold (accept when score >= t) with the highest accuracy on these pairs.

    Candidates are midpoints between consecutive distinct scores, so the chosen threshold never
    sits exactly on a training score (which would make held-out ties depend on float noise).
    """
    order = np.sort(np.unique(scores))
    cands = np.concatenate([[order[0] - 1e-6], (order[:-1] + order[1:]) / 2, [order[-1] + 1e-6]])
    s_same, s_diff = np.sort(scores[same]), np.sort(scores[~same])
    # accepted same = n_same - #same below t; rejected diff = #diff below t
    correct = (len(s_same) - np.searchsorted(s_same, cands, side="left")) + np.searchsorted(s_diff, cands, "left")
    return float(cands[int(np.argmax(correct))])


def tar_at_far(genuine: np.ndarray, impostor: np.ndarray, fars: Sequence[float] = FARS) -> list[dict]:
    """True-accept rate at each false-accept rate, with the threshold that achieves it.

    A FAR below 1 / (number of impostor pairs) cannot be measured on these pairs: reported with
    tar = None rather than extrapolated.
    """
    imp = np.sort(impostor)[::-1]
    out = []
    for far in fars:
        allowed = int(np.floor(far * len(imp)))
        if allowed < 1:
            note = _("not measurable with {n} impostor pairs", n=len(imp))
            out.append({"far": far, "tar": None, "threshold": None, "note": note})
            continue
        t = float(np.nextafter(imp[allowed], np.inf))  # at most `allowed` impostors score >= t
        out.append({"far": far, "tar": float(np.mean(genuine >= t)), "threshold": round(t, 5)})
    return out


def evaluate_verification(
    pairs_file: Path,
    images_dir: Path,
    engine_name: str,
    out_dir: Path,
    cache_dir: Path | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> dict:
    """The LFW protocol: 10-fold accuracy (threshold from 9 folds, applied to the 10th) and TAR at FAR."""
    spec = parse_pairs(pairs_file)
    images_dir = Path(images_dir)
    paths = list(
        dict.fromkeys(
            p
            for pr in spec.pairs
            for p in (lfw_path(images_dir, pr.name1, pr.n1), lfw_path(images_dir, pr.name2, pr.n2))
        )
    )
    absent = [str(p) for p in paths if not p.is_file()]
    if absent:
        raise FileNotFoundError(
            _("{n} photos named in {pairs} are not in {folder}, e.g. {example}", n=len(absent), pairs=pairs_file,
              folder=images_dir, example=absent[0])
        )  # fmt: skip
    emb = embed_photos(paths, engine_name, cache_dir, workers, progress)
    scores, missing = pair_scores(spec.pairs, emb, images_dir)
    same = np.array([p.same for p in spec.pairs])
    fold = np.array([p.fold for p in spec.pairs])
    per_fold, thresholds = [], []
    for k in range(spec.folds):
        test = fold == k
        train = ~test if spec.folds > 1 else test
        t = best_threshold(scores[train], same[train])
        thresholds.append(round(t, 5))
        per_fold.append(float(np.mean((scores[test] >= t) == same[test])))
    acc = np.array(per_fold)
    genuine, impostor = scores[same], scores[~same]
    result = {
        "schema": RESULT_SCHEMA,
        "kind": "verification",
        "engine": emb.engine,
        "pairs_file": str(pairs_file),
        "images": str(images_dir),
        "pairs": len(spec.pairs),
        "folds": spec.folds,
        "same_pairs": int(same.sum()),
        "different_pairs": int((~same).sum()),
        "photos": len(paths),
        "photos_without_face": sorted(emb.problems),
        "pairs_with_missing_face": int(missing.sum()),
        "missing_face_rule": "a pair with a missing face scores -1: a failure at every threshold for same pairs",
        "accuracy": {
            "mean": float(acc.mean()),
            "std": float(acc.std()),
            "stderr": float(acc.std(ddof=1) / np.sqrt(len(acc))) if len(acc) > 1 else 0.0,
            "per_fold": per_fold,
            "thresholds": thresholds,
        },
        "tar_at_far": tar_at_far(genuine, impostor),
        "score_summary": {
            "same_median": float(np.median(genuine)),
            "different_median": float(np.median(impostor)),
        },
        "embedded_now": emb.computed,
        "seconds": round(emb.seconds, 1),
    }
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result["plots"] = [
        str(plot_roc(genuine, impostor, out_dir / "roc.png", emb.engine)),
        str(plot_histogram(genuine, impostor, out_dir / "scores.png", emb.engine, "same person", "different people")),
    ]
    write_json(result, out_dir / "verification.json")
    return result
