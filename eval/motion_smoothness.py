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
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torchmetrics import Metric

from .video_io import VideoLike, iter_frames

Interpolator = Callable[[np.ndarray, np.ndarray], np.ndarray]


def linear_interpolation(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """The middle frame as the mean of its neighbours, rounded down (as VBench's float-to-uint8 cast)."""
    return ((prev.astype(np.uint16) + nxt.astype(np.uint16)) // 2).astype(np.uint8)


def motion_smoothness(video: VideoLike | Iterable[np.ndarray], interpolate: Interpolator = linear_interpolation) -> float:
    """VBench motion smoothness of one video (at least 3 frames) with the given interpolator. The video
    (array, tensor, path, or any iterable of uint8 frames (H, W, 3)) is read as a stream: three frames in
    memory at a time (an even frame, the odd one after it, the next even one)."""
    frames = iter_frames(video) if isinstance(video, (str, Path, np.ndarray, torch.Tensor)) else iter(video)
    total, count, seen = 0, 0, 0
    previous = odd = None
    for seen, frame in enumerate(frames, start=1):
        if seen % 2 == 0:
            odd = frame
            continue
        if previous is not None:
            middle = interpolate(previous[None], frame[None])[0]
            total += int(np.abs(np.subtract(odd, middle, dtype=np.int16)).sum(dtype=np.int64))
            count += odd.size
        previous = frame
    if seen < 3:
        raise ValueError(f"motion smoothness needs at least 3 frames, got {seen}")
    return float((255.0 - total / count) / 255.0)


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
