"""Bootstrap intervals over items: per arm (the mean's interval) and paired (the mean difference between two arms on
the same items, so item difficulty cancels). A difference whose interval holds zero is never called a win."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    mean: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict:
        return {key: (round(value, 6) if isinstance(value, float) else value) for key, value in asdict(self).items()}


def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _interval(means: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap(values, resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """The mean of per-item values with a percentile bootstrap interval."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    means = values[_indices(len(values), resamples, seed)].mean(axis=1)
    return Estimate(float(values.mean()), *_interval(means, confidence), len(values))


def paired(first, second, resamples: int = 2000, confidence: float = 0.95, seed: int = 0) -> Estimate:
    """second - first on the same items, items resampled together."""
    first, second = np.asarray(first, dtype=float), np.asarray(second, dtype=float)
    if first.shape != second.shape:
        raise ValueError(f"paired values need the same items ({len(first)} vs {len(second)})")
    return bootstrap(second - first, resamples, confidence, seed)


def verdict(difference: Estimate, higher_is_better: bool) -> str:
    """`better` or `worse` only when the interval excludes zero; otherwise `no clear difference`."""
    if difference.n == 0 or difference.low <= 0 <= difference.high:
        return "no clear difference"
    improved = difference.low > 0 if higher_is_better else difference.high < 0
    return "better" if improved else "worse"
