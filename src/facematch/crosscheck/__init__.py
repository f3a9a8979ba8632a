"""The archive cross-checked against itself: candidate pairs of archive faces, duplicate images, groups,
and the review of pairs by people (`facematch link`, the app's Cross-check page).

  - `selfjoin`: every face against every face on an IVF index, as matrix products over its lists;
  - `link`: the linking run (blocks, resume, incremental offers), pairs with their reasons and bands,
    duplicate images, the `CrossCheck` review queue and exports;
  - `on_ray`: the ranking of blocks as Ray tasks.
"""
