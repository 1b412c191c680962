"""Fréchet distance between Gaussians fitted to two feature sets (FID/FVD's distance).

d^2 = |mu_a - mu_b|^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)). The trace of the matrix square root is
computed by torchmetrics' `_compute_fid` (sum of square roots of the eigenvalues of S_a S_b) in float64:
unlike `scipy.linalg.sqrtm` (StyleGAN-V, cd-fvd) it stays finite and real when a covariance is
rank-deficient (fewer samples than feature dimensions), and it agrees with sqrtm otherwise.

The covariance is the maximum-likelihood one (divided by N, not N - 1), as StyleGAN-V's and cd-fvd's
`FeatureStats.get_mean_cov` compute it, so FVDs equal theirs on the same features at every set size
(torchmetrics' FID divides by N - 1: the two differ by a factor N / (N - 1) on the covariance terms).
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.image.fid import _compute_fid


def gaussian_moments(features: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and covariance (divided by N, as StyleGAN-V and cd-fvd; float64) of an (N, D) feature array,
    N >= 2."""
    x = torch.as_tensor(np.asarray(features), dtype=torch.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"features must be (N, D) with N >= 2 samples, got shape {tuple(x.shape)}")
    return x.mean(dim=0), torch.cov(x.T, correction=0).reshape(x.shape[1], x.shape[1])


def frechet_distance_from_moments(mu_a: torch.Tensor, sigma_a: torch.Tensor, mu_b: torch.Tensor, sigma_b: torch.Tensor) -> float:
    """Fréchet distance between N(mu_a, sigma_a) and N(mu_b, sigma_b)."""
    return float(_compute_fid(mu_a.double(), sigma_a.double(), mu_b.double(), sigma_b.double()).clamp_min(0.0))


def frechet_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to feature sets `a` (N, D) and `b` (M, D)."""
    mu_a, sigma_a = gaussian_moments(a)
    mu_b, sigma_b = gaussian_moments(b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"feature dimensions differ: {mu_a.shape[0]} vs {mu_b.shape[0]}")
    return frechet_distance_from_moments(mu_a, sigma_a, mu_b, sigma_b)
