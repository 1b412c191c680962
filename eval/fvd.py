"""Fréchet Video Distance on I3D features (reference: StyleGAN-V `frechet_video_distance.py`:
16 consecutive frames per video, preprocessing as in `eval.i3d`), or on VideoMAE features (`eval.videomae`,
clips of the model's own length). Clips start at frame 0 for real and generated videos alike (StyleGAN-V
draws a random start for real videos), so results are reproducible."""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import torch
from torchmetrics import Metric

from .features import FeatureCache, video_features
from .video_io import VideoLike, load_any
from .frechet import frechet_distance, frechet_distance_from_moments
from .i3d import I3D
from .videomae import VideoMAE

FVD_FRAMES = 16


def fvd_features(videos: Sequence[VideoLike], model: I3D | VideoMAE, num_frames: int = FVD_FRAMES, stride: int = 1,
                 cache: FeatureCache | None = None, progress: bool = False, desc: str = "I3D") -> np.ndarray:
    """Clip features (N, D) of `num_frames` consecutive frames (every `stride`-th) from each video's start."""
    return np.stack(video_features(model, videos, num_frames, "consecutive", stride, cache,
                                   group_size=model.batch_size, progress=progress, desc=desc))


def check_set_sizes(sizes: dict[str, int], num_features: int) -> None:
    """At least 2 videos per set (an error), and a warning for a set smaller than the feature dimension:
    its covariance is rank-deficient and FVD is strongly biased (StyleGAN-V and cd-fvd use 2048)."""
    for name, n in sizes.items():
        if n < 2:
            raise ValueError(f"FVD needs at least 2 {name} videos to fit a Gaussian, got {n}")
        if n < num_features:
            warnings.warn(f"{n} {name} videos for {num_features}-dimensional features: the covariance is "
                          "rank-deficient and FVD is strongly biased at this size (compare only equal-size sets; "
                          "2048 videos are usual)", stacklevel=3)


def fvd(real: Sequence[VideoLike], fake: Sequence[VideoLike], model: I3D | VideoMAE, num_frames: int = FVD_FRAMES,
        stride: int = 1, cache: FeatureCache | None = None, progress: bool = False) -> float:
    """FVD between two sets of videos (paths or uint8 arrays), each of at least 2 videos (a warning below
    the feature dimension)."""
    check_set_sizes({"real": len(real), "fake": len(fake)}, model.num_features)
    return frechet_distance(fvd_features(real, model, num_frames, stride, cache, progress, "real"),
                            fvd_features(fake, model, num_frames, stride, cache, progress, "fake"))


class FrechetVideoDistance(Metric):
    """torchmetrics-style FVD (states as torchmetrics' FrechetInceptionDistance: feature sums and
    outer-product sums in float64): `update(videos, real=True|False)`, `compute()`. The covariance is
    divided by N, as StyleGAN-V and cd-fvd (and `eval.frechet_distance`) do."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, model: I3D | VideoMAE, num_frames: int = FVD_FRAMES, **kwargs: Any):
        super().__init__(**kwargs)
        self.features, self.num_frames = model, num_frames
        d = model.num_features
        for side in ("real", "fake"):
            self.add_state(f"{side}_sum", torch.zeros(d, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_outer", torch.zeros(d, d, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{side}_n", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, videos: Sequence[VideoLike], real: bool) -> None:
        feats = torch.as_tensor(self.features.encode_videos([load_any(v, self.num_frames) for v in videos]), dtype=torch.float64)
        side = "real" if real else "fake"
        setattr(self, f"{side}_sum", getattr(self, f"{side}_sum") + feats.sum(0))
        setattr(self, f"{side}_outer", getattr(self, f"{side}_outer") + feats.T @ feats)
        setattr(self, f"{side}_n", getattr(self, f"{side}_n") + len(feats))

    def _moments(self, side: str) -> tuple[torch.Tensor, torch.Tensor]:
        n = getattr(self, f"{side}_n")
        if n < 2:
            raise RuntimeError(f"FVD needs at least 2 {side} videos before compute(), got {int(n)}")
        mean = getattr(self, f"{side}_sum") / n
        cov = getattr(self, f"{side}_outer") / n - torch.outer(mean, mean)
        return mean, cov

    def compute(self) -> torch.Tensor:
        return torch.tensor(frechet_distance_from_moments(*self._moments("real"), *self._moments("fake")))
