"""Embedding diversity: drop a row too close to a row kept earlier in the batch or to any published row."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from synthfoundry.stages import StageResult, split

_BLOCK = 1024


def greedy_novel(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """In order, keep a row unless its cosine to an already-kept row exceeds `threshold`.

    Returns (kept mask, max cosine to an earlier kept row). Works block by block so memory stays
    O(block x kept) instead of O(n^2).
    """
    n = len(vectors)
    kept = np.zeros(n, dtype=bool)
    best = np.zeros(n, dtype=np.float32)
    for start in range(0, n, _BLOCK):
        block = vectors[start : start + _BLOCK]
        earlier = vectors[:start][kept[:start]]
        best_block = (block @ earlier.T).max(axis=1) if len(earlier) else np.zeros(len(block), np.float32)
        within = block @ block.T
        for i in range(len(block)):
            previous = np.flatnonzero(kept[start : start + i])
            score = max(best_block[i], within[i, previous].max()) if len(previous) else best_block[i]
            best[start + i] = score
            kept[start + i] = score <= threshold
    return kept, best


def diversity_filter(
    frame: pl.DataFrame,
    vectors: np.ndarray,
    threshold: float,
    nearest_published: Callable[[np.ndarray], np.ndarray],
    text_column: str = "instruction",
) -> StageResult:
    """Rows must be novel against published data first, then against each other.

    `nearest_published(vectors)` returns each vector's highest cosine to any published row (0 when none).
    The kept frame carries its vectors in a `vector` column for publishing.
    """
    published = nearest_published(vectors) if len(vectors) else np.zeros(0, np.float32)
    fresh = published <= threshold
    kept_fresh, within = greedy_novel(vectors[fresh], threshold)
    score = published.copy()
    score[fresh] = np.maximum(published[fresh], within)
    reason = np.full(len(frame), None, dtype=object)
    reason[~fresh] = [f"cosine {s:.3f} > {threshold} to a published row" for s in published[~fresh]]
    fresh_rows = np.flatnonzero(fresh)
    reason[fresh_rows[~kept_fresh]] = [
        f"cosine {s:.3f} > {threshold} to a row kept in this run" for s in within[~kept_fresh]
    ]
    with_vectors = frame.with_columns(
        pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, vectors.shape[1] if vectors.ndim == 2 else 0))
    )
    return split(with_vectors, "diversity", pl.Series(reason.tolist(), dtype=pl.String), pl.Series(score), text_column)
