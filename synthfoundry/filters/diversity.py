"""Embedding diversity: drop a row too close to a row kept earlier in the run or to any published row.

Input columns: `vector` (the embed step's unit vectors of the recipe's text column). Reasons name which side the
near-duplicate is on; the score is the highest cosine found.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.strict import Strict

NAME = "diversity"
COMPARES_ROWS = True
_BLOCK = 1024


class Config(Strict):
    """Drop a row whose embedding is too close to a kept row or to any published row."""

    name: Literal["diversity"] = "diversity"
    threshold: float = Field(default=0.9, gt=0, le=1, description="cosine similarity above which a row is dropped")


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


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    """Rows must be novel against published data first, then against each other."""
    vectors = frame["vector"].to_numpy()
    threshold = config.threshold
    published = tools.published.nearest_published(vectors)
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
    return Verdicts(reason.tolist(), score.tolist())
