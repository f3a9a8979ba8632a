"""Stranger rates from the archive's own faces (calibration.from_archive): a synthetic archive whose
strangers' score distribution is known exactly, and east-asian-dev with the real sface embeddings.

The synthetic archive: random directions in 64 dimensions, where the similarity of two unrelated
faces has a known distribution (density proportional to (1 - s^2)^(61/2)), plus 100 planted
people with 3 photos each (same-person similarity ~0.48, far above the strangers). The reference
table is the same distribution stretched and shifted (s_ref = 1.2 s + 0.05), which is what the
estimate assumes of a real archive against LFW; so the rate it should find is known at every level.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import skip_or_fail
from facematch import calibration as C
from facematch import cli
from facematch.evaluate import embed_photos, labelled_photos, stranger_check

ROOT = Path(__file__).resolve().parents[1]
EAST_ASIAN = ROOT.parent / "shared" / "data" / "east-asian-dev" / "images"


def sphere_rate(d: int, scores: np.ndarray) -> np.ndarray:
    """Exact share of pairs of random unit vectors in d dimensions with cosine >= each score."""
    s = np.linspace(-1, 1, 400_001)[1:-1]
    log_density = (d - 3) / 2 * np.log1p(-s * s)
    tail = np.cumsum(np.exp(log_density - log_density.max())[::-1])[::-1]
    return np.interp(scores, s, tail / tail[0])


def stretched_table(d: int, a: float, b: float, total: int = 10**9) -> C.Calibration:
    grid = np.round(np.arange(-1.0, 1.0 + C.GRID_STEP / 2, C.GRID_STEP), 4)
    rates = sphere_rate(d, (grid - b) / a)
    return C.Calibration("synthetic@0", grid, np.round(rates * total), total, f"exact, {d} dims, stretched")


def synthetic_archive(seed: int = 0, d: int = 64, singles: int = 2000, people: int = 100, photos: int = 3):
    rng = np.random.default_rng(seed)
    v = rng.normal(size=(singles, d))
    centres = rng.normal(size=(people, d))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    members = np.repeat(centres, photos, axis=0) + 0.13 * rng.normal(size=(people * photos, d))
    v = np.vstack(
        [v / np.linalg.norm(v, axis=1, keepdims=True), members / np.linalg.norm(members, axis=1, keepdims=True)]
    )
    same = [
        (singles + p * photos + i, singles + p * photos + j)
        for p in range(people)
        for i in range(3)
        for j in range(i + 1, 3)
    ]
    return v.astype(np.float32), same


@pytest.fixture(scope="module")
def synthetic():
    v, same = synthetic_archive()
    ref = stretched_table(64, 1.2, 0.05)
    return v, same, ref, C.from_archive(v, np.arange(len(v)), ref)


def true_score(rate: float) -> float:
    return C.score_at_rate(C.BIN_SCORES, sphere_rate(64, C.BIN_SCORES), rate)


# Measured on this archive (seed 0) when the method was chosen (bench/strangers.py, issue 16):
# estimate / true rate, and the naive count (no same-person exclusion) / true rate.
MEASURED = {1e-1: (1.005, 1.0), 1e-2: (0.978, 1.01), 1e-3: (0.944, 1.10), 1e-4: (0.906, 1.78), 1e-5: (0.865, 5.38)}


def test_synthetic_estimate_recovers_the_known_rate(synthetic):
    v, _, _, est = synthetic
    naive = C.archive_pairs(v, np.arange(len(v)))
    naive_curve = np.maximum(naive.at_least() / naive.pairs, 1e-12)
    assert est.method["counted_rates"] == [0.1, pytest.approx(9 / len(v), rel=0.01)]  # 3 neighbours x margin 3
    for rate, (est_ratio, naive_ratio) in MEASURED.items():
        s = true_score(rate)
        assert est.fpr_at(s) / rate == pytest.approx(est_ratio, abs=0.02), rate
        assert C.interpolate_rate(C.BIN_SCORES, naive_curve, s) / rate == pytest.approx(naive_ratio, abs=0.05), rate
        if rate >= est.method["counted_rates"][1]:  # counted, not extrapolated: the +-25% the issue asks
            assert abs(est.fpr_at(s) / rate - 1) <= C.CHECK_TOLERANCE


def test_synthetic_planted_people_are_not_counted_as_strangers(synthetic):
    v, same, _, est = synthetic
    genuine = np.median([float(v[i] @ v[j]) for i, j in same])
    truth = float(sphere_rate(64, np.array([genuine]))[0])
    naive = C.archive_pairs(v, np.arange(len(v)))
    naive_rate = naive.at_least()[C.bins(genuine)] / naive.pairs
    # The 300 planted pairs (600 of 5.3M ordered pairs, 1.1e-4) sit where strangers reach 2.7e-5: counted
    # naively they triple the rate there (measured 3.17x); the estimate leaves them out (measured 0.88x).
    assert naive_rate / truth == pytest.approx(3.17, abs=0.1)
    assert est.fpr_at(genuine) / truth == pytest.approx(0.88, abs=0.03)


def test_score_adjustment_moves_the_estimate_with_the_scores(synthetic):
    """Shown scores lowered by a per-face offset: the estimate must follow them, not the raw scores."""
    v, _, ref, est = synthetic
    offset = np.full(len(v), 0.1, dtype=np.float32)
    shifted = C.from_archive(v, np.arange(len(v)), ref, C.ScoreAdjustment(gallery=offset))
    for rate in (1e-2, 1e-3, 1e-4):
        s = true_score(rate)
        assert shifted.fpr_at(s - 0.1) == pytest.approx(est.fpr_at(s), rel=0.05)
        assert shifted.fpr_at(s) < est.fpr_at(s) / 3


def test_same_photo_and_duplicates_are_left_out():
    v, _ = synthetic_archive(singles=40, people=0)
    v = np.vstack([v, v[:1]])  # the same photo saved twice, under another key
    keys = [f"photo-{i}" for i in range(len(v) - 1)] + ["copy"]
    keys[1] = keys[0]  # faces 0 and 1 in one photo (a group photo)
    pairs = C.archive_pairs(v, keys)
    # same photo: 0-1 and 1-0; duplicates: 0-copy, copy-0, and 1-copy / copy-1 are different faces in other photos
    assert pairs.left_out == {"same_photo": 2, "duplicates": 2}
    assert pairs.pairs == len(v) * (len(v) - 1) - 4


def test_faces_with_fewer_kept_scores_than_neighbours_leave_out_only_real_pairs():
    """A face whose other scores are mostly its own photo's faces has -inf ("no pair") in its kept top scores;
    leaving out its nearest must skip those, not count them as pairs (they were cast to a bin, with a NumPy
    warning, and taken off the total: seen at 1M faces in bench/link_e2e.py)."""
    v, _ = synthetic_archive(singles=6, people=0)
    keys = ["group"] * 5 + ["alone"]  # five faces of one group photo: each has a single pair, with "alone"
    pairs = C.archive_pairs(v, keys)
    assert np.isinf(pairs.top).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        at_least, n = pairs.kept(C.NEIGHBOURS, -np.inf)
    real = np.isfinite(pairs.top[:, : C.NEIGHBOURS]).sum()
    assert n == pairs.pairs - real == 10 - real  # 10 pairs: each group face with "alone", and back
    assert at_least[0] == n


def test_large_archive_path_bins_the_tail_like_the_full_one(monkeypatch):
    rng = np.random.default_rng(3)
    v = rng.normal(size=(25_000, 32)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    fast = C.archive_pairs(v, np.arange(len(v)), max_rows=300)
    monkeypatch.setattr(C, "BIN_ALL_BELOW", 10**9)
    full = C.archive_pairs(v, np.arange(len(v)), max_rows=300)
    assert fast.pairs == full.pairs and fast.rows == full.rows == 300
    tail = full.at_least() / full.pairs <= C.LOW_RATE * 0.7  # bins the fast path bins one by one
    assert np.array_equal(fast.at_least()[tail], full.at_least()[tail])
    assert np.array_equal(fast.top[:, : C.NEIGHBOURS], full.top[:, : C.NEIGHBOURS])


def test_too_small_an_archive_falls_back_to_the_reference(synthetic):
    v, _, ref, _ = synthetic
    with pytest.raises(C.ArchiveTooSmall, match="at least 500 faces"):
        C.from_archive(v[:400], np.arange(400), ref)
    fallback = C.for_archive(v[:400], np.arange(400), ref)
    assert isinstance(fallback, C.Calibration) and fallback.kind == "reference table"
    assert "at least 500 faces" in fallback.source and fallback.fpr_at(0.3) == ref.fpr_at(0.3)
    # The raw table does not apply to adjusted scores: no silent fallback there.
    assert C.for_archive(v[:400], np.arange(400), ref, C.ScoreAdjustment(gallery=np.zeros(400))) is None
    assert C.for_archive(v, np.arange(len(v)), None) is None
    assert C.for_archive(v, np.arange(len(v)), ref).kind == "archive estimate"


def test_archive_estimate_saves_loads_and_reads_like_a_table(synthetic, tmp_path):
    _, _, ref, est = synthetic
    sweep = [est.fpr_at(s) for s in np.linspace(-1, 1, 801)]
    assert all(a >= b for a, b in zip(sweep, sweep[1:], strict=False))
    assert est.is_bound(0.99) and not est.is_bound(0.3) and est.fpr_at(0.99) == pytest.approx(ref.floor)
    assert est.expected_strangers(0.3, 1000) == pytest.approx(est.fpr_at(0.3) * 1000)
    assert "this archive's own faces" in est.source and f"{len(synthetic[0]):,}" in est.source
    path = est.save(tmp_path / "strangers.json")
    back = C.ArchiveCalibration.load(path, "synthetic@0")
    for s in (0.1, 0.25, 0.35, 0.45, 0.6, 0.95):
        assert back.fpr_at(s) == pytest.approx(est.fpr_at(s), rel=1e-3)
    assert back.method == json.loads(json.dumps(est.method))
    assert C.ArchiveCalibration.load(path, "synthetic@1") is None  # other weights: no estimate
    assert not back.needs_update(2300 + 200) and back.needs_update(2300 + 231)


def test_identities_from_file_names():
    from facematch.evaluate import identity_from_filename

    assert [identity_from_filename(Path(p)) for p in ("ai-weiwei-2.jpg", "alex-fong.jpg", "Jane_Doe_0003.jpg")] == [
        "ai-weiwei",
        "alex-fong",
        "Jane_Doe",
    ]


# -- east-asian-dev, real sface embeddings --------------------------------------------------------
@pytest.fixture(scope="module")
def east_asian(tmp_path_factory):
    if not EAST_ASIAN.is_dir():
        skip_or_fail(f"east-asian-dev not found at {EAST_ASIAN} (it lives in ../shared, outside the project)")
    cache = tmp_path_factory.mktemp("ea_cache")
    labelled = labelled_photos(EAST_ASIAN, "filename")
    emb = embed_photos(labelled.paths, "sface", cache, workers=2, progress=False)
    f = emb.found
    return {
        "cache": cache,
        "v": emb.vectors[f],
        "ids": np.asarray(labelled.identities)[f],
        "groups": np.asarray(labelled.groups)[f],
        "keys": np.asarray([str(p) for p in labelled.paths])[f],
        "found": int(f.sum()),
        "identities": len(set(labelled.identities)),
    }


def test_east_asian_layout(east_asian):
    assert east_asian["found"] == 843 and east_asian["identities"] == 522
    groups, counts = np.unique(east_asian["groups"], return_counts=True)
    assert dict(zip(groups.tolist(), counts.tolist(), strict=True)) == {"chinese": 305, "japanese": 538}


# Measured with the default sface (up=both, border=edge, flip) on the hubness-corrected scores searches show
# (facematch evaluate calibrate on east-asian-dev), since issue 26 with up to 6 neighbours at SFace's same-person
# cosine 0.363 left out of r_g (before: 0.63/1.00, 0.65/1.04, 0.67/1.11, 0.89/0.95 within japanese; 0.58/0.99,
# 0.56/1.02, 0.57/1.07, 0.61/1.08, 0.74/0.99 for all). Per population and rate, where >= 100 pairs are counted:
# (counted / LFW table, archive estimate / counted); None where the archive is too small (< 500 faces). Across the
# two groups there is no single corrected score (it depends on the archive), so none.
EAST_ASIAN_MEASURED = {
    "within japanese": {1e-1: (0.65, 1.00), 1e-2: (0.71, 1.05), 3e-3: (0.86, 1.00), 1e-3: (1.36, 0.76)},
    "within chinese": {1e-1: (0.64, None), 1e-2: (0.69, None), 3e-3: (0.72, None)},
    "all": {1e-1: (0.58, 1.00), 1e-2: (0.59, 1.03), 3e-3: (0.64, 1.04), 1e-3: (0.78, 0.96), 3e-4: (1.17, 0.76)},
}


def test_east_asian_stranger_check_pinned(east_asian, sface):
    from facematch.neighbours import Scoring

    scoring = Scoring.for_engine(sface.fingerprint)
    table = C.for_engine(sface.fingerprint)
    assert table is not None and table.scoring == scoring.to_json()  # the shipped table: the scores searches show
    assert table.scoring["hubness_cut"] == 0.363 and table.scoring["hubness_cut_most"] == 6
    e = east_asian
    check = stranger_check(e["v"], e["ids"], e["groups"], e["keys"], table, scoring)
    pops = {p["population"]: p for p in check["populations"]}
    assert set(pops) == set(EAST_ASIAN_MEASURED)
    assert "at least 500 faces" in pops["within chinese"]["no_estimate"]
    for name, levels in EAST_ASIAN_MEASURED.items():
        judged = {r["rate"]: r for r in pops[name]["levels"] if r["judged"]}
        assert set(judged) == set(levels), name
        for rate, (vs_table, estimate) in levels.items():
            assert judged[rate]["counted_over_table"] == pytest.approx(vs_table, abs=0.02), (name, rate)
            assert judged[rate].get("estimate_over_counted") == (
                None if estimate is None else pytest.approx(estimate, abs=0.02)
            ), (name, rate)
    # The goal (rates shown within 0.65-1.5x of the counted ones) holds wherever the archive estimate
    # is judged, and within +-25% (since issue 26 only just: 0.76 at the rarest judged level of each archive,
    # where it was 0.95-0.99, on the side of too few strangers); the LFW table, on these corrected scores, errs
    # both ways (1.7x too many strangers for the whole set at 1e-2, 1.36x too few within Japanese at 1e-3),
    # which the estimate fixes.
    for name in ("within japanese", "all"):
        assert all(0.75 <= r["estimate_over_counted"] <= 1.25 for r in pops[name]["levels"] if r["judged"])
    assert 1 / EAST_ASIAN_MEASURED["all"][1e-2][0] > 1.5


def test_evaluate_calibrate_on_east_asian_prints_the_check(east_asian, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    argv = ["evaluate", "calibrate", "--images", str(EAST_ASIAN), "--identity-from", "filename"]
    # The folder's own table (half of its 522 people checked on the other half): within +-25% at every level with
    # >= 100 pairs, only just at 1e-3 (-24.9%, 193 pairs counted; measured since issue 26's scores: before them it
    # was -33.5% on 219 pairs, exit 1). The command prints the check and the stranger check.
    assert cli.main([*argv, "--cache", str(east_asian["cache"]), "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "within japanese" in text and "within chinese" in text and "estimate/counted" in text
    assert "check passed" in text
    result = json.loads((out / "calibrate.json").read_text())
    assert result["groups"] == ["chinese", "japanese"] and result["strangers"]["populations"]
    assert (out / "strangers.png").stat().st_size > 10_000
    judged = {lvl["rate"]: lvl for lvl in result["check"]["levels"] if lvl["meaningful"]}
    assert judged[1e-3]["counted"] == 193 and judged[1e-3]["relative_error"] == pytest.approx(-0.249, abs=0.005)
    # A check that fails says so and exits 1, the stranger check still printed.
    failed = json.loads(json.dumps(result))
    failed["check"]["passed"], failed["check"]["levels"][2]["within_tolerance"] = False, False
    monkeypatch.setattr("facematch.evaluate.evaluate_calibration", lambda *a, **kw: failed)
    assert cli.main([*argv, "--cache", str(east_asian["cache"]), "--out", str(out), "--quiet"]) == 1
    text = capsys.readouterr().out
    assert "check FAILED" in text and "OUTSIDE" in text and "estimate/counted" in text
