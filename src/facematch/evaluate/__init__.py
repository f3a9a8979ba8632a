"""Measure how good an engine is, on photos whose identities are known (`facematch evaluate`).

Why this exists: a similarity score means nothing until we know how strangers score. The LFW verification
protocol gives the accuracy figures papers quote (so we can compare our engines with published numbers), and
open-set search with distractors measures the task facematch actually performs: one photo per person in a
gallery, another photo as the query. Impostor scores measured here are also what calibration.py turns into
"how many strangers look this similar".

  - `lfw`: LFW's pairs.txt and layout, and labelled folders (who is in each photo);
  - `embeddings`: one embedding per photo, cached per engine fingerprint and file sha256;
  - `verification`: the LFW protocol (10-fold accuracy, TAR at FAR);
  - `open_set`: open-set search through the product's Searcher (CMC, FNIR at FPIR);
  - `calibrate`: the stranger-rate table, its held-out check and the stranger check per population;
  - `plots`: every figure, through one helper (figure);
  - `results`: the JSON every evaluation writes.
"""

from .calibrate import (
    SHOW_MIN_COUNT,
    STRANGER_RATES,
    compare_levels,
    counted_rates,
    evaluate_calibration,
    stranger_check,
)
from .embeddings import Embeddings, Scanned, cache_file, default_cache_dir, embed_photos
from .lfw import (
    IDENTITY_FROM,
    Labelled,
    Pair,
    PairsError,
    PairsFile,
    identity_from_filename,
    labelled_photos,
    lfw_path,
    parse_pairs,
    people_photos,
)
from .open_set import FPIRS, RANKS, SearchSplit, evaluate_search, fnir_at_fpir, gallery_index, rank_mates, search_split
from .plots import figure, plot_calibration, plot_cmc, plot_histogram, plot_roc, plot_strangers, pyplot
from .results import MISSING_SCORE, RESULT_SCHEMA, write_json
from .verification import FARS, best_threshold, evaluate_verification, pair_scores, tar_at_far

__all__ = [
    "FARS", "FPIRS", "IDENTITY_FROM", "MISSING_SCORE", "RANKS", "RESULT_SCHEMA", "SHOW_MIN_COUNT", "STRANGER_RATES",
    "Embeddings", "Labelled", "Pair", "PairsError", "PairsFile", "Scanned", "SearchSplit", "best_threshold",
    "cache_file", "compare_levels", "counted_rates", "default_cache_dir", "embed_photos", "evaluate_calibration",
    "evaluate_search", "evaluate_verification", "figure", "fnir_at_fpir", "gallery_index", "identity_from_filename",
    "labelled_photos", "lfw_path", "pair_scores", "parse_pairs", "people_photos", "plot_calibration", "plot_cmc",
    "plot_histogram", "plot_roc", "plot_strangers", "pyplot", "rank_mates", "search_split", "stranger_check",
    "tar_at_far", "write_json",
]  # fmt: skip
