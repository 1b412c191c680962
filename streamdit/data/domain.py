"""Vocabulary, sample specifications and split sampling of the synthetic shapes domain.

A video shows one or two coloured shapes gliding in a straight line over a neutral background.
Positions, sizes and speeds are fractions of the frame side, so one spec renders at any resolution.
Motion wraps around the frame borders (the frame is a torus): an object leaving on the left
re-enters on the right, so the captioned direction stays true for arbitrarily long videos.

Held-out split: the 12 (colour, shape, direction) triples in ``HELDOUT_TRIPLES`` never occur in
training videos. Each colour is held out twice, each shape and direction three times, and no two
held-out triples share a pair of attributes, so every single attribute and every attribute pair
is still seen in training (with at least three training triples per pair).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

# Saturated colours with hues at least 45 degrees apart (0, 53, 128, 185, 230, 305).
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (225, 35, 35),
    "yellow": (235, 210, 30),
    "green": (40, 190, 60),
    "cyan": (30, 200, 215),
    "blue": (45, 75, 230),
    "magenta": (215, 45, 200),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond")
# Unit motion vectors in image coordinates (x right, y down).
DIRECTIONS: dict[str, tuple[int, int]] = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
# Neutral (grey-level) backgrounds: (first grey level range, second grey level range); "gradient"
# runs from the first level at the top to the second at the bottom, the others are uniform.
BACKGROUNDS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "black": ((15, 40), (15, 40)),
    "gray": ((100, 145), (100, 145)),
    "white": ((210, 240), (210, 240)),
    "gradient": ((20, 50), (190, 230)),
}

HELDOUT_TRIPLES: tuple[tuple[str, str, str], ...] = (
    ("red", "circle", "left"), ("red", "square", "right"),
    ("yellow", "triangle", "up"), ("yellow", "diamond", "down"),
    ("green", "circle", "right"), ("green", "square", "up"),
    ("cyan", "triangle", "down"), ("cyan", "diamond", "left"),
    ("blue", "circle", "up"), ("blue", "square", "down"),
    ("magenta", "triangle", "left"), ("magenta", "diamond", "right"),
)
TRAIN_TRIPLES: tuple[tuple[str, str, str], ...] = tuple(
    t for t in itertools.product(COLORS, SHAPES, DIRECTIONS) if t not in HELDOUT_TRIPLES
)
SPLITS = ("train", "heldout")

SIZE_RANGE = (0.08, 0.125)  # half-extent of a shape, fraction of the frame side (10-16 px at 128)
SPEED_RANGE = (1 / 128, 2 / 128)  # fraction of the frame side per frame (1-2 px at 128)
CLEARANCE_FRAMES = 64  # two objects of one video do not touch during their first 64 frames


class Attributes(NamedTuple):
    """What a caption says about one object; ``None`` where it says nothing."""

    color: str | None
    shape: str | None
    direction: str | None


@dataclass(frozen=True)
class ObjectSpec:
    """One moving shape: attributes plus centre (x, y), half-extent and speed in frame fractions."""

    color: str
    shape: str
    direction: str
    x: float
    y: float
    size: float
    speed: float

    @property
    def attributes(self) -> Attributes:
        return Attributes(self.color, self.shape, self.direction)

    def position(self, frame: float) -> tuple[float, float]:
        """Centre after ``frame`` frames, wrapped into [0, 1)."""
        dx, dy = DIRECTIONS[self.direction]
        return (self.x + dx * self.speed * frame) % 1.0, (self.y + dy * self.speed * frame) % 1.0


@dataclass(frozen=True)
class VideoSpec:
    """A whole sample: objects drawn in order over a background; ``shade`` in [0, 1] picks its grey levels."""

    objects: tuple[ObjectSpec, ...]
    background: str
    shade: float = 0.5
    resolution: int = 128

    def advance(self, frames: int) -> VideoSpec:
        """The same scene ``frames`` frames later (objects moved, everything else unchanged)."""
        moved = tuple(replace(o, x=o.position(frames)[0], y=o.position(frames)[1]) for o in self.objects)
        return replace(self, objects=moved)


def split_triples(split: str) -> tuple[tuple[str, str, str], ...]:
    """The (colour, shape, direction) triples objects of ``split`` are drawn from."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return TRAIN_TRIPLES if split == "train" else HELDOUT_TRIPLES


def triple_split(color: str, shape: str, direction: str) -> str:
    """``"heldout"`` if the triple is held out of training, else ``"train"``."""
    return "heldout" if (color, shape, direction) in HELDOUT_TRIPLES else "train"


def _clear(a: ObjectSpec, b: ObjectSpec) -> bool:
    """Whether ``a`` and ``b`` stay apart (toroidal Chebyshev distance) for ``CLEARANCE_FRAMES``."""
    t = np.arange(CLEARANCE_FRAMES)
    pa, pb = np.array(a.position(t)), np.array(b.position(t))
    d = np.abs((pa - pb + 0.5) % 1.0 - 0.5).max(axis=0)
    return bool(d.min() > a.size + b.size + 0.03)


def sample_objects(rng: np.random.Generator, triples: list[tuple[str, str, str]]) -> tuple[ObjectSpec, ...]:
    """Random placement, size and speed for the given triples, placed so that they do not touch."""
    for _ in range(1000):
        objs = tuple(
            ObjectSpec(c, s, d, float(rng.uniform()), float(rng.uniform()),
                       float(rng.uniform(*SIZE_RANGE)), float(rng.uniform(*SPEED_RANGE)))
            for c, s, d in triples
        )
        if all(_clear(a, b) for a, b in itertools.combinations(objs, 2)):
            return objs
    raise RuntimeError(f"could not place {triples} without contact")


def sample_triples(rng: np.random.Generator, split: str, num_objects: int,
                   chosen: tuple[tuple[str, str, str], ...] = ()) -> list[tuple[str, str, str]]:
    """``chosen`` completed to ``num_objects`` triples of ``split`` with pairwise distinct colours."""
    pool = split_triples(split)
    chosen = list(chosen)
    while len(chosen) < num_objects:
        t = pool[rng.integers(len(pool))]
        if t[0] not in {c[0] for c in chosen}:
            chosen.append(t)
    return chosen


def sample_spec(rng: np.random.Generator, split: str = "train", num_objects: int | None = None,
                resolution: int = 128) -> VideoSpec:
    """A random sample of ``split``: 1 or 2 objects (equally likely unless given), random background."""
    n = int(rng.integers(1, 3)) if num_objects is None else num_objects
    objects = sample_objects(rng, sample_triples(rng, split, n))
    background = list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))]
    return VideoSpec(objects, background, float(rng.uniform()), resolution)
