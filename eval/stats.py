"""Bootstrap confidence intervals for metrics that average over videos (scipy.stats.bootstrap)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import bootstrap


@dataclass(frozen=True)
class Estimate:
    """A mean over `n` samples with a percentile-bootstrap confidence interval."""

    value: float
    ci_low: float
    ci_high: float
    n: int


def bootstrap_mean(values: np.ndarray | list[float], confidence: float = 0.95, n_resamples: int = 1000, seed: int = 0) -> Estimate:
    """Mean of `values` with a percentile bootstrap CI (a single value gets a zero-width interval)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError("no values to average")
    mean = float(values.mean())
    if values.size == 1 or np.all(values == values[0]):
        return Estimate(mean, mean, mean, int(values.size))
    res = bootstrap(
        (values,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
        method="percentile", random_state=np.random.default_rng(seed),
    )
    return Estimate(mean, float(res.confidence_interval.low), float(res.confidence_interval.high), int(values.size))
