"""Temporal consistency metrics (docs/architecture.md §5): subject/background consistency, flicker, seam score.

Flicker and seam score (and `eval.motion`'s inside and frozen shares) read only the differences of
consecutive frames (`FrameDifferences`): a video given as a path is streamed, two frames in memory at a time.

Subject and background consistency follow VBench (`subject_consistency.py`, `background_consistency.py`)
per video; across videos we average per-video values (so a bootstrap over videos applies), where VBench
pools all frames of all videos: the two agree when the videos have equal length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .stats import Estimate, bootstrap_mean
from .video_io import VideoLike, VideoLoadError, iter_frames

if TYPE_CHECKING:  # the networks load torch; flicker and seam score run without it
    from .clip import CLIP
    from .dino import DINO
    from .features import FeatureCache


def feature_consistency(features: np.ndarray) -> float:
    """VBench's subject/background consistency of one video from its per-frame features (T, D): the mean
    over frames i >= 1 of (max(cos(f_i, f_0), 0) + max(cos(f_i, f_{i-1}), 0)) / 2."""
    f = np.asarray(features, dtype=np.float64)
    f = f / np.linalg.norm(f, axis=1, keepdims=True)
    to_first = np.clip(f[1:] @ f[0], 0.0, None)
    to_prev = np.clip(np.sum(f[1:] * f[:-1], axis=1), 0.0, None)
    return float(np.mean((to_first + to_prev) / 2))


def feature_consistencies(model: DINO | CLIP, videos: Sequence[VideoLike], num_frames: int | None = None,
                          cache: FeatureCache | None = None, progress: bool = False, desc: str = "features") -> list[float]:
    """`feature_consistency` of each video on the model's per-frame features (`num_frames` spread uniformly)."""
    from .features import video_features

    feats = video_features(model, videos, num_frames, "uniform", cache=cache, progress=progress, desc=desc)
    return [feature_consistency(f) for f in feats]


def subject_consistency(videos: Sequence[VideoLike], model: DINO, num_frames: int | None = None,
                        cache: FeatureCache | None = None, progress: bool = False) -> Estimate:
    """Mean over videos of `feature_consistency` on DINO features (VBench subject consistency)."""
    return bootstrap_mean(feature_consistencies(model, videos, num_frames, cache, progress, "DINO"))


def background_consistency(videos: Sequence[VideoLike], model: CLIP, num_frames: int | None = None,
                           cache: FeatureCache | None = None, progress: bool = False) -> Estimate:
    """Mean over videos of `feature_consistency` on CLIP image features (VBench background consistency)."""
    return bootstrap_mean(feature_consistencies(model, videos, num_frames, cache, progress, "CLIP"))


@dataclass(frozen=True)
class FrameDifferences:
    """A video's consecutive-frame differences, all that flicker, seam score, inside share and frozen share
    read: `values[i - 1]` is the mean absolute difference (0-255 units) of frames i-1 and i. `len()` is the
    video's frame count. `FrameDifferences.of(video)` computes them once, streaming a path frame by frame."""

    values: np.ndarray

    def __len__(self) -> int:
        return len(self.values) + 1

    @classmethod
    def of(cls, video: "VideoLike | FrameDifferences") -> "FrameDifferences":
        """The differences of a uint8 video (T, H, W, 3), array or tensor, or of a video file or frame folder
        decoded as a stream: two frames in memory at a time, never the video."""
        if isinstance(video, FrameDifferences):
            return video
        values, previous = [], None
        for frame in iter_frames(video):
            if previous is not None:
                if frame.shape != previous.shape:
                    raise VideoLoadError(f"frames change size from {previous.shape} to {frame.shape}")
                values.append(np.abs(np.subtract(frame, previous, dtype=np.int16)).mean(dtype=np.float64))
            previous = frame
        if previous is None:
            raise VideoLoadError(f"{video if isinstance(video, (str, Path)) else 'the video'}: no frames")
        if not values:
            raise VideoLoadError(f"{video if isinstance(video, (str, Path)) else 'the video'}: 1 frame(s); at least "
                                 "2 are needed for a video metric")
        return cls(np.array(values))


def frame_differences(video: "VideoLike | FrameDifferences") -> np.ndarray:
    """Mean absolute difference (0-255 units) between frame i-1 and frame i, for i = 1..T-1, of a video
    (array, tensor, path streamed frame by frame) or its `FrameDifferences`."""
    return FrameDifferences.of(video).values


def temporal_flicker(video: "VideoLike | FrameDifferences") -> float:
    """Mean absolute difference of consecutive frames in 0-255 pixel units (0 = static; VBench reports
    (255 - this) / 255 as its temporal-flickering score)."""
    return float(frame_differences(video).mean())


SEAM_SCORE_CAP = 1000.0


def seam_score(video: "VideoLike | FrameDifferences", chunk_size: int) -> float:
    """Mean frame difference across chunk boundaries (frame i-1 to i, i a positive multiple of
    `chunk_size`; chunks start at frame 0) divided by the mean over all other consecutive pairs.
    1.0 = seams as smooth as the rest. Always finite: a video with no change anywhere scores 1.0, and
    the ratio is capped at `SEAM_SCORE_CAP` (1000), which is also the score of a video that changes only
    at chunk boundaries (static chunks joined by jumps: the worst seams there are)."""
    if chunk_size < 2:
        raise ValueError(f"chunk_size must be >= 2 (a chunk of {chunk_size} frame has no inner pair)")
    diffs = frame_differences(video)
    boundary = np.zeros(len(diffs), dtype=bool)
    boundary[chunk_size - 1::chunk_size] = True  # diffs[i-1] compares frames i-1 and i
    if not boundary.any():
        raise ValueError(f"the video has {len(diffs) + 1} frames: no chunk boundary for chunk size {chunk_size}")
    across, within = diffs[boundary].mean(), diffs[~boundary].mean()
    if across == 0:
        return 0.0 if within > 0 else 1.0  # nothing happens at the seams (or anywhere)
    if across >= SEAM_SCORE_CAP * within:  # also within == 0: change only at the seams
        return SEAM_SCORE_CAP
    return float(across / within)
