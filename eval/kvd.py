"""Kernel Video Distance (KVD): the unbiased squared MMD with the cubic polynomial kernel
k(x, y) = (x.y / d + 1)^3 between two feature sets, as StyleGAN-V's `compute_kid` computes KID/KVD:
averaged over `num_subsets` random subsets of min(N, M, max_subset_size) features per set (with sets of
equal size at most `max_subset_size`, every subset is a whole set and the value is exact)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from .video_io import VideoLike, load_any


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



class KernelVideoDistance(Metric):
    """torchmetrics-style KVD (states as torchmetrics' KernelInceptionDistance: the features of both sets):
    `update(videos, real=True|False)`, `compute()` -> `kernel_distance` of the two sets."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, model: Any, num_frames: int = 16, num_subsets: int = 100, max_subset_size: int = 1000,
                 seed: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.features, self.num_frames = model, num_frames
        self.num_subsets, self.max_subset_size, self.seed = num_subsets, max_subset_size, seed
        self.add_state("real_features", default=[], dist_reduce_fx="cat")
        self.add_state("fake_features", default=[], dist_reduce_fx="cat")

    def update(self, videos: Sequence[VideoLike], real: bool) -> None:
        feats = torch.as_tensor(self.features.encode_videos([load_any(v, self.num_frames) for v in videos]),
                                dtype=torch.float64)
        (self.real_features if real else self.fake_features).append(feats)

    def compute(self) -> torch.Tensor:
        real, fake = dim_zero_cat(self.real_features).numpy(), dim_zero_cat(self.fake_features).numpy()
        return torch.tensor(kernel_distance(real, fake, self.num_subsets, self.max_subset_size, self.seed))
