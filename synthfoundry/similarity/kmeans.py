"""Spherical k-means on unit vectors in numpy: the clusters annotator's semantic tags, deterministic per seed."""

from __future__ import annotations

import numpy as np

_CHUNK = 8192
_SAMPLE = 16_384


def kmeans(
    vectors: np.ndarray, k: int, seed: int, iterations: int = 25, restarts: int = 4, spread_start: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster unit vectors by cosine; returns (label per row, unit centroids).

    The best of `restarts` starts (highest total similarity to the centroids; one start can land in a poor local
    optimum) is chosen on a sample of at most `_SAMPLE` rows, then refined on every row. Starts are k-means++
    (spread out, k sequential passes) or, without `spread_start`, random rows (enough for an index's cells).
    """
    n = len(vectors)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    train = vectors if n <= _SAMPLE else vectors[rng.choice(n, _SAMPLE, replace=False)]
    def start() -> np.ndarray:
        return _kmeans_plus_plus(train, k, rng) if spread_start else train[rng.choice(len(train), k, replace=False)]

    starts = [_lloyd(train, start(), iterations) for _ in range(restarts)]
    labels, centroids, _ = max(starts, key=lambda result: result[2])
    if train is not vectors:
        labels, centroids, _ = _lloyd(vectors, centroids, iterations)
    return labels, centroids


def _lloyd(vectors: np.ndarray, centroids: np.ndarray, iterations: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Lloyd steps until no label changes; an emptied cluster restarts at the rows farthest from their centroid.
    Returns (labels, centroids, total similarity of the rows to their centroid)."""
    k = len(centroids)
    labels = np.full(len(vectors), -1)
    for _ in range(iterations):
        new_labels, similarity = _assign(vectors, centroids)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        order = np.argsort(labels, kind="stable")
        present, starts = np.unique(labels[order], return_index=True)
        centroids = np.empty_like(centroids)
        centroids[present] = np.add.reduceat(vectors[order], starts, axis=0)
        empty = np.setdiff1d(np.arange(k), present)
        centroids[empty] = vectors[np.argsort(similarity)[: len(empty)]]
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    labels, similarity = _assign(vectors, centroids)
    return labels, centroids, float(similarity.sum())


def _assign(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = np.empty(len(vectors), dtype=np.int64)
    similarity = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(vectors), _CHUNK):
        scores = vectors[start : start + _CHUNK] @ centroids.T
        labels[start : start + _CHUNK] = scores.argmax(axis=1)
        similarity[start : start + _CHUNK] = scores.max(axis=1)
    return labels, similarity


def _kmeans_plus_plus(vectors: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Seeds spread out: each next centroid drawn with probability proportional to its squared distance."""
    chosen = [int(rng.integers(len(vectors)))]
    distance = np.maximum(2.0 - 2.0 * (vectors @ vectors[chosen[0]]), 0.0).astype(np.float64)
    for _ in range(1, k):
        total = distance.sum()
        pick = int(rng.choice(len(vectors), p=distance / total)) if total > 0 else int(rng.integers(len(vectors)))
        chosen.append(pick)
        np.minimum(distance, np.maximum(2.0 - 2.0 * (vectors @ vectors[pick]), 0.0), out=distance)
    return vectors[chosen].copy()


def nearest_centroids(vectors: np.ndarray, centroids: np.ndarray, count: int) -> np.ndarray:
    """Per row, the `count` most similar centroids, most similar first."""
    count = min(count, len(centroids))
    out = np.empty((len(vectors), count), dtype=np.int64)
    for start in range(0, len(vectors), _CHUNK):
        scores = vectors[start : start + _CHUNK] @ centroids.T
        top = np.argpartition(-scores, count - 1, axis=1)[:, :count]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        out[start : start + _CHUNK] = np.take_along_axis(top, order, axis=1)
    return out
