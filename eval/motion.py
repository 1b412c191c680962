"""Motion figures of a stream: where its frame change happens and how it holds up over minutes.

- `inside_chunk_share(video, chunk_size)`: the share of all frame change (summed mean absolute
  differences of consecutive frames) that happens between frames of one chunk. Real video spreads its
  change evenly, (c - 1) / c of it inside chunks of c frames (the domain's renders: about 0.76 at c = 4);
  a stream that holds one picture per chunk and jumps at the borders scores 0. Together with the seam
  score (`eval.seam_score`) it shows a slideshow for what it is.
- `frozen_share(video)`: the share of consecutive frame pairs that do not change at all (a stalled or
  repeating stream).
Both read only consecutive-frame differences (`eval.consistency.FrameDifferences`): a path is streamed.
- `window_scores(video, prompts, chunk_size, window)`: the long-stream drift measure: prompt adherence
  (the analytic detector of the prompts' synthetic world, v1 or v2), seam score, inside share, frozen share
  and flicker per window of `window` frames, so a stream that blurs, flickers or freezes after some seconds
  shows where.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .consistency import FrameDifferences, frame_differences, seam_score, temporal_flicker
from .video_io import VideoLike, as_video

WINDOW_COLUMNS = ("adherence", "seam_score", "inside_share", "frozen_share", "temporal_flicker")


def _check_chunk(video: VideoLike | FrameDifferences, chunk_size: int) -> np.ndarray:
    """Frame differences of `video`, after checking that it has an inner pair and a chunk boundary."""
    if chunk_size < 2:
        raise ValueError(f"chunk_size must be >= 2 (a chunk of {chunk_size} frame has no inner pair)")
    diffs = frame_differences(video)
    if len(diffs) < chunk_size:
        raise ValueError(f"the video has {len(diffs) + 1} frames: no chunk boundary for chunk size {chunk_size}")
    return diffs


def inside_chunk_share(video: VideoLike | FrameDifferences, chunk_size: int) -> float:
    """Share of the video's frame change that happens inside chunks of `chunk_size` frames (chunks start at
    frame 0). A video with no change at all scores the share of inner pairs (about (c - 1) / c), as if its (zero)
    change were spread evenly: no steps, like a smooth video."""
    diffs = _check_chunk(video, chunk_size)
    inside = np.ones(len(diffs), dtype=bool)
    inside[chunk_size - 1::chunk_size] = False  # diffs[i-1] compares frames i-1 and i
    total = diffs.sum()
    if total == 0:
        return float(inside.mean())
    return float(diffs[inside].sum() / total)


def frozen_share(video: VideoLike | FrameDifferences) -> float:
    """Share of consecutive frame pairs that are identical (0: every frame moves, 1: a still image)."""
    diffs = frame_differences(video)
    if len(diffs) == 0:
        raise ValueError("a video of one frame has no consecutive pair")
    return float(np.mean(diffs == 0))


def window_scores(video: np.ndarray, prompts: Sequence[str], chunk_size: int, window: int,
                  skip: Sequence[int] | None = None, fps: float = 16.0, world: str = "v1") -> pd.DataFrame:
    """The drift measure: one row per window of `window` frames (a shorter tail is dropped).

    `prompts[i]` is the prompt of window i (the stream's prompt during it); `skip[i]` frames at the start
    of window i are left out of its adherence (the frames a prompt change needs to reach the screen).
    Columns: window, start_s, end_s, prompt, and `WINDOW_COLUMNS` (adherence is 1.0 when the analytic detector
    of `world` reads every attribute the prompt gives, v1: colour, shape and direction, else 0.0).
    """
    from streamdit.data import worlds  # the synthetic worlds' detectors

    video = as_video(video)
    count = len(video) // window
    if count == 0:
        raise ValueError(f"the video has {len(video)} frames: shorter than one window of {window}")
    if len(prompts) < count:
        raise ValueError(f"{len(prompts)} prompts for {count} windows: give one prompt per window")
    skip = [0] * count if skip is None else list(skip)
    rows = []
    for i in range(count):
        frames = video[i * window:(i + 1) * window]
        scored = frames[skip[i]:]
        rows.append({
            "window": i, "start_s": i * window / fps, "end_s": (i + 1) * window / fps, "prompt": prompts[i],
            "adherence": float(worlds.detect_adherence(world, scored, prompts[i])["match"]),
            "seam_score": seam_score(frames, chunk_size),
            "inside_share": inside_chunk_share(frames, chunk_size),
            "frozen_share": frozen_share(frames),
            "temporal_flicker": temporal_flicker(frames),
        })
    return pd.DataFrame(rows)
