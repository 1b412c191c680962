"""The synthetic worlds by name: ``v1`` (128x128 shapes over grey) and ``v2`` (256x256 scenes), for code
that trains, samples or evaluates either (``--world``, ``--data synthetic-v2``, ``python -m eval paper``)."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

WORLDS = ("v1", "v2")
_RESOLUTION = {"v1": 128, "v2": 256}
_DESCRIPTION = {"v1": "synthetic shapes", "v2": "256x256 scenes"}
_EVAL_OBJECTS = {"v1": 1, "v2": None}  # objects per evaluation scene: v1's one, v2's own mix of 1-3 (None)


def _check(world: str) -> str:
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}: choose one of {WORLDS}")
    return world


def _api(world: str) -> ModuleType:
    """The package of ``world``'s public functions: ``streamdit.data`` (v1) or ``streamdit.data.v2``."""
    from streamdit import data  # complete by the time a function here runs

    return data if _check(world) == "v1" else data.v2


def default_resolution(world: str) -> int:
    """The frame side a world's models are made for."""
    return _RESOLUTION[_check(world)]


def stream(world: str, seed: int = 0, num_frames: int = 16, split: str = "train", resolution: int | None = None,
           worker_id: int = 0, canonical: bool = False) -> Iterator[tuple[np.ndarray, str]]:
    """Endless (video uint8 (T, H, W, 3), caption) pairs of ``world`` (see each world's ``stream``)."""
    return _api(world).stream(seed, num_frames, split, resolution or default_resolution(world), worker_id, canonical)


def eval_prompts(world: str, split: str = "heldout", n: int = 48, seed: int = 0) -> list[str]:
    """The deterministic evaluation prompts of ``world`` (each world's ``eval_prompts``)."""
    return _api(world).eval_prompts(split, n, seed)


def describe(world: str) -> str:
    """The world in a few words: "world v1 (synthetic shapes)", "world v2 (256x256 scenes)"."""
    return f"world {_check(world)} ({_DESCRIPTION[world]})"


def evaluation_set(world: str, split: str = "heldout", n: int = 48, seed: int = 0,
                   resolution: int | None = None) -> list[tuple[Any, str]]:
    """The deterministic (spec, canonical caption) evaluation items of ``world`` (each world's
    ``evaluation_set``, with its own number of objects per scene)."""
    return _api(world).evaluation_set(split, n, seed, _EVAL_OBJECTS[world], resolution or default_resolution(world))


def prompt_change(world: str, rng: np.random.Generator, split: str = "heldout",
                  resolution: int | None = None) -> tuple[Any, Any]:
    """(before, after) specs of one change in a long video of ``world`` (each world's ``sample_long``: an
    object or the background changed), with ``evaluation_set``'s number of objects."""
    (_, before), (_, after) = _api(world).sample_long(rng, 2, 1, split, _EVAL_OBJECTS[world],
                                                      resolution or default_resolution(world))
    return before, after


def render(world: str, spec: Any, num_frames: int) -> np.ndarray:
    """A spec of ``world`` drawn as a uint8 video (T, H, W, 3) (each world's ``render``)."""
    return _api(world).render(spec, num_frames)


def caption(world: str, spec: Any) -> str:
    """The canonical caption of a spec of ``world`` (each world's ``caption``)."""
    return _api(world).caption(spec)


def detect_adherence(world: str, video: np.ndarray, prompt: str) -> dict:
    """``world``'s analytic detector's verdicts on ``video`` against ``prompt`` (each world's
    ``detect_adherence``; "match": every prompted attribute right)."""
    return _api(world).detect_adherence(video, prompt)
