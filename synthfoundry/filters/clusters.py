"""Clusters: semantic tags from embedding k-means (as InsTag / DEITA use tags to measure and balance coverage).

An annotator: every row gets its `cluster`; with `max_per_cluster` it also balances the run, dropping the rows of
a cluster past its cap (first come, first kept). Coverage (clusters used, sizes, entropy) goes to the step's log
and the published version's manifest.

Input columns: `vector`. Output column: `cluster` (int, stable within a run; ids are not comparable across runs).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from synthfoundry.filters.base import Tools, Verdicts
from synthfoundry.similarity.kmeans import kmeans
from synthfoundry.strict import Strict

NAME = "clusters"
COMPARES_ROWS = True


class Config(Strict):
    """Tag each row with its k-means cluster; optionally cap how many rows one cluster keeps."""

    name: Literal["clusters"] = "clusters"
    k: int | None = Field(default=None, ge=1, description="number of clusters; default: sqrt(rows / 2)")
    max_per_cluster: int | None = Field(
        default=None, ge=1, description="keep at most this many rows per cluster (balanced selection); none: no cap"
    )


def judge(frame: pl.DataFrame, config: Config, tools: Tools) -> Verdicts:
    vectors = frame["vector"].to_numpy()
    k = config.k or max(1, round(math.sqrt(len(frame) / 2)))
    labels, _ = kmeans(vectors, k, seed=tools.seed)
    rank = _rank_within_cluster(labels)
    cap = config.max_per_cluster
    reasons = [
        f"cluster {label} already has {cap} rows (max_per_cluster)" if cap is not None and r >= cap else None
        for label, r in zip(labels.tolist(), rank.tolist())
    ]
    kept = labels if cap is None else labels[rank < cap]
    tools.log(f"clusters: k={k}, cap {cap}; all rows {coverage(labels)}; kept {coverage(kept)}")
    return Verdicts(reasons, None, columns={"cluster": pl.Series("cluster", labels, dtype=pl.Int64)})


def _rank_within_cluster(labels: np.ndarray) -> np.ndarray:
    """0 for a cluster's first row in frame order, 1 for its second, ..."""
    order = np.argsort(labels, kind="stable")
    _, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(len(labels)) - np.repeat(starts, counts)
    return rank


def coverage(labels: np.ndarray) -> dict:
    """How evenly rows spread over the clusters they use (the log, the manifest and the card all show this).
    `evenness` is the entropy of the cluster shares over its maximum, log(clusters used): 1.0 = every used cluster
    equally full, which a single used cluster is too (`distinct` then says 1)."""
    _, sizes = np.unique(labels, return_counts=True)
    share = sizes / sizes.sum()
    evenness = float(-(share * np.log(share)).sum() / math.log(len(sizes))) if len(sizes) > 1 else 1.0
    return {"distinct": len(sizes), "largest_share": round(float(share.max()), 4), "largest": int(sizes.max()),
            "median": float(np.median(sizes)), "smallest": int(sizes.min()), "evenness": round(evenness, 4)}


def cluster_coverage(rows: pl.DataFrame) -> dict | None:
    """`coverage` of the rows' `cluster` column (None: no clusters step ran on them)."""
    labels = rows["cluster"].drop_nulls() if "cluster" in rows.columns else pl.Series([])
    return coverage(labels.to_numpy()) if labels.len() else None
