"""Prompt adherence on the synthetic worlds: the share of videos whose every prompted attribute the world's
analytic detector reads back (``streamdit.data.detect_adherence`` for world v1: colour, shape, direction;
``streamdit.data.v2.detect_adherence`` for world v2: colour, shape, motion, size, speed of every object,
background and camera), imported when first used, so the rest of `eval` works without it.

A video whose prompt leaves an attribute unsaid (a v2 prompt without a speed, a plain background without
a camera) is not scored on it: that attribute's share is over the videos that prompt it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .stats import Estimate, bootstrap_mean
from .video_io import VideoLike, VideoLoadError, load_any

ATTRIBUTES = {"v1": ("match", "color", "shape", "direction"),
              "v2": ("match", "color", "shape", "motion", "size", "speed", "background", "camera", "count")}
WORLDS = tuple(ATTRIBUTES)


def _detector(world: str):
    if world not in ATTRIBUTES:
        raise ValueError(f"unknown world {world!r}: choose one of {', '.join(WORLDS)}")
    from streamdit import data

    return data.detect_adherence if world == "v1" else data.v2.detect_adherence


def adherence_table(videos: Sequence[VideoLike], prompts: Sequence[str], world: str = "v1") -> pd.DataFrame:
    """One row per video: the detector's verdict per attribute of ``ATTRIBUTES[world]`` (True, False, or
    NaN where the prompt does not say)."""
    detect = _detector(world)
    if len(videos) != len(prompts):
        raise VideoLoadError(f"{len(prompts)} prompts for {len(videos)} videos: give exactly one prompt per video")
    rows = []
    for video, prompt in zip(videos, prompts):
        result = detect(load_any(video), prompt)
        rows.append({key: np.nan if result[key] is None else float(bool(result[key])) for key in ATTRIBUTES[world]})
    return pd.DataFrame(rows, columns=list(ATTRIBUTES[world]))


def summarise(table: pd.DataFrame, seed: int = 0) -> dict[str, Estimate]:
    """Mean (with bootstrap CI) of each attribute's verdicts over the videos that prompt it."""
    return {key: bootstrap_mean(table[key].dropna().to_numpy(dtype=np.float64), seed=seed)
            for key in table.columns if table[key].notna().any()}


def prompt_adherence(videos: Sequence[VideoLike], prompts: Sequence[str], world: str = "v1") -> dict[str, Estimate]:
    """Mean (with bootstrap CI) of each detector verdict over videos; "match" is every prompted attribute right."""
    return summarise(adherence_table(videos, prompts, world))


def world_of(videos: Sequence[Path]) -> str:
    """The world named in the videos' sidecars (``VIDEO.json``, as ``python -m streamdit sample`` writes them),
    or v1 where none names one; sidecars that disagree are an error."""
    named = set()
    for video in videos:
        sidecar = Path(video).with_name(Path(video).name + ".json")
        if sidecar.is_file():
            try:
                world = json.loads(sidecar.read_text()).get("world")
            except (json.JSONDecodeError, AttributeError) as error:
                raise VideoLoadError(f"{sidecar}: not a JSON object ({error})") from None
            if world is not None:
                named.add(world)
    if len(named) > 1:
        raise VideoLoadError(f"the videos' sidecars name different worlds ({', '.join(sorted(named))}): score each "
                             "world's videos apart, or give --world")
    return named.pop() if named else "v1"
