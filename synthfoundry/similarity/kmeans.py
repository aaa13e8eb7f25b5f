"""Spherical k-means on unit vectors in numpy: the clusters annotator's semantic tags, deterministic per seed."""

from __future__ import annotations

import numpy as np

_CHUNK = 8192


def kmeans(vectors: np.ndarray, k: int, seed: int, iterations: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Cluster unit vectors by cosine; returns (label per row, unit centroids). k-means++ start, Lloyd steps
    until no label changes; an emptied cluster restarts at the row farthest from its centroid."""
    n = len(vectors)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centroids = _kmeans_plus_plus(vectors, k, rng)
    labels = np.full(n, -1)
    for _ in range(iterations):
        new_labels, similarity = _assign(vectors, centroids)
        if np.array_equal(new_labels, labels):
            break
        labels = new_labels
        order = np.argsort(labels, kind="stable")
        present, starts = np.unique(labels[order], return_index=True)
        sums = np.add.reduceat(vectors[order], starts, axis=0)
        centroids = np.empty_like(centroids)
        centroids[present] = sums
        empty = np.setdiff1d(np.arange(k), present)
        centroids[empty] = vectors[np.argsort(similarity)[: len(empty)]]
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
    return labels, centroids


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
