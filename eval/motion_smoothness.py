"""VBench motion smoothness: how well each odd frame is predicted by interpolating its two even
neighbours.

VBench (`motion_smoothness.py`) keeps the even frames 0, 2, 4, ..., interpolates the frame between each
pair with the AMT-S frame-interpolation network, and scores (255 - mean |odd frame - interpolated|) / 255
(1 = perfectly predictable motion; a trailing odd frame without a right neighbour is not scored).

AMT-S is not part of this package (it is not packaged for pip; VBench vendors its code), so the built-in
interpolator is `linear` (the rounded-down mean of the two neighbours), reported as
`motion_smoothness_linear`: a lower bound on what a motion-aware interpolator scores, equal to it for
static content and linear fades. `motion_smoothness(video, interpolate=fn)` takes any interpolator
`fn(prev uint8 (N, H, W, 3), next) -> middle uint8`, e.g. a wrapper of VBench's AMT-S.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torchmetrics import Metric

from .features import VideoLike, load_any

Interpolator = Callable[[np.ndarray, np.ndarray], np.ndarray]


def linear_interpolation(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """The middle frame as the mean of its neighbours, rounded down (as VBench's float-to-uint8 cast)."""
    return ((prev.astype(np.uint16) + nxt.astype(np.uint16)) // 2).astype(np.uint8)


def motion_smoothness(video: VideoLike, interpolate: Interpolator = linear_interpolation) -> float:
    """VBench motion smoothness of one video (at least 3 frames) with the given interpolator."""
    frames = load_any(video)
    if len(frames) < 3:
        raise ValueError(f"motion smoothness needs at least 3 frames, got {len(frames)}")
    even, odd = frames[0::2], frames[1::2]
    middle = interpolate(even[:-1], even[1:])
    scored = odd[:len(middle)]
    diff = np.abs(scored.astype(np.int16) - middle.astype(np.int16)).mean()
    return float((255.0 - diff) / 255.0)


def motion_smoothness_per_video(videos: Sequence[VideoLike], interpolate: Interpolator = linear_interpolation) -> np.ndarray:
    """`motion_smoothness` of each video; an error names the video."""
    values = []
    for i, video in enumerate(videos):
        try:
            values.append(motion_smoothness(video, interpolate))
        except ValueError as err:
            raise ValueError(f"{video if isinstance(video, (str, Path)) else f'video {i}'}: {err}") from None
    return np.array(values)


class MotionSmoothness(Metric):
    """torchmetrics-style motion smoothness: `update(videos)`, `compute()` -> mean over videos."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, interpolate: Interpolator = linear_interpolation, **kwargs: Any):
        super().__init__(**kwargs)
        self.interpolate = interpolate
        self.add_state("total", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, videos: Sequence[VideoLike]) -> None:
        values = motion_smoothness_per_video(videos, self.interpolate)
        self.total += float(values.sum())
        self.count += len(values)

    def compute(self) -> torch.Tensor:
        return self.total / self.count
