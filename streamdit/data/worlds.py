"""The synthetic worlds by name: ``v1`` (128x128 shapes over grey) and ``v2`` (256x256 scenes), for code
that trains or samples either (``--world``, ``--data synthetic-v2``)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from . import dataset as v1
from .v2 import dataset as v2

WORLDS = ("v1", "v2")
_RESOLUTION = {"v1": 128, "v2": 256}


def _check(world: str) -> str:
    if world not in WORLDS:
        raise ValueError(f"unknown world {world!r}: choose one of {WORLDS}")
    return world


def default_resolution(world: str) -> int:
    """The frame side a world's models are made for."""
    return _RESOLUTION[_check(world)]


def stream(world: str, seed: int = 0, num_frames: int = 16, split: str = "train", resolution: int | None = None,
           worker_id: int = 0, canonical: bool = False) -> Iterator[tuple[np.ndarray, str]]:
    """Endless (video uint8 (T, H, W, 3), caption) pairs of ``world`` (see each world's ``stream``)."""
    module = v1 if _check(world) == "v1" else v2
    return module.stream(seed, num_frames, split, resolution or default_resolution(world), worker_id, canonical)


def eval_prompts(world: str, split: str = "heldout", n: int = 48, seed: int = 0) -> list[str]:
    """The deterministic evaluation prompts of ``world`` (each world's ``eval_prompts``)."""
    return (v1 if _check(world) == "v1" else v2).eval_prompts(split, n, seed)
