"""Prompt adherence on the synthetic domain: the fraction of videos whose detected colour,
shape and motion direction match the prompt, by the analytic detector `streamdit.data.detect_adherence`
(imported when first used, so the rest of `eval` works without it)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .stats import Estimate, bootstrap_mean
from .video_io import VideoLike, VideoLoadError, load_any

ATTRIBUTES = ("match", "color", "shape", "direction")


def adherence_table(videos: Sequence[VideoLike], prompts: Sequence[str]) -> pd.DataFrame:
    """One row per video: the detector's booleans `match`, `color`, `shape`, `direction`."""
    from streamdit import data

    if len(videos) != len(prompts):
        raise VideoLoadError(f"{len(prompts)} prompts for {len(videos)} videos: give exactly one prompt per video")
    rows = []
    for video, prompt in zip(videos, prompts):
        result = data.detect_adherence(load_any(video), prompt)
        rows.append({key: bool(result[key]) for key in ATTRIBUTES})
    return pd.DataFrame(rows, columns=list(ATTRIBUTES))


def prompt_adherence(videos: Sequence[VideoLike], prompts: Sequence[str]) -> dict[str, Estimate]:
    """Mean (with bootstrap CI) of each detector boolean over videos; "match" is all attributes right."""
    table = adherence_table(videos, prompts)
    return {key: bootstrap_mean(table[key].to_numpy(dtype=np.float64)) for key in ATTRIBUTES}
