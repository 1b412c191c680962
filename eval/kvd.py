"""Kernel Video Distance (KVD): the unbiased squared MMD with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3 between two feature sets, as StyleGAN-V's `compute_kid` computes KID/KVD:
averaged over `num_subsets` random subsets of min(N, M, max_subset_size) features per set (with sets of
equal size at most `max_subset_size`, every subset is a whole set and the value is exact)."""

from __future__ import annotations

import numpy as np


def kernel_distance(real: np.ndarray, fake: np.ndarray, num_subsets: int = 100, max_subset_size: int = 1000,
                    seed: int = 0) -> float:
    """KVD (or KID) between feature sets `real` (N, D) and `fake` (M, D), N, M >= 2."""
    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"feature sets must be (N, D) and (M, D), got {real.shape} and {fake.shape}")
    if min(len(real), len(fake)) < 2:
        raise ValueError(f"KVD needs at least 2 videos per set, got {len(real)} and {len(fake)}")
    d = real.shape[1]
    m = min(len(real), len(fake), max_subset_size)
    rng = np.random.default_rng(seed)
    exact = len(real) == len(fake) == m
    total = 0.0
    for _ in range(1 if exact else num_subsets):
        x = fake if exact else fake[rng.choice(len(fake), m, replace=False)]
        y = real if exact else real[rng.choice(len(real), m, replace=False)]
        a = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        b = (x @ y.T / d + 1) ** 3
        total += (a.sum() - np.diag(a).sum()) / (m - 1) - b.sum() * 2 / m
    return float(total / (1 if exact else num_subsets) / m)
