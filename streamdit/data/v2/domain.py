"""World v2: vocabulary, scene specifications and split sampling.

A scene shows up to three coloured shapes over a background that may be textured and may scroll (a
camera pan). Every length is a fraction of the frame side and every rate is per frame, so one spec
renders at any resolution. Coordinates are the frame's (x right, y down); object motions are what the
frame shows (a pan scrolls the background only), and the frame is a torus for straight motion and for
the background, as in world v1.

Motions: ``straight`` in one of 8 directions (wrapping around the borders), ``bounce`` (hops off the
frame's bottom edge like a dropped ball, in place), ``circle`` (round a fixed centre), ``spin`` (turns in
place), ``pulse`` (grows and shrinks in place). Sizes ``small``/``large``; speeds ``slow``/``fast`` apply
to straight, circling and spinning objects (bouncing and pulsing run at one fixed rate).

World v1 is contained in it: v1's six colours (same RGB), four shapes and four directions, its grey
backgrounds, and a v1 caption means the same here.

Held-out split: the (colour, shape, motion) triples of ``HELDOUT_TRIPLES`` never occur in training. It
contains v1's twelve held-out triples, and no two held-out triples share a pair of attributes, so every
attribute and every pair of attributes is still seen in training.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

# Saturated colours; v1's six keep their RGB, orange and purple fill the widest hue gaps (hues 0, 30, 53,
# 128, 185, 230, 267, 305 degrees).
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (225, 35, 35),
    "orange": (240, 130, 20),
    "yellow": (235, 210, 30),
    "green": (40, 190, 60),
    "cyan": (30, 200, 215),
    "blue": (45, 75, 230),
    "purple": (130, 50, 225),
    "magenta": (215, 45, 200),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "cross")
_D = 1 / math.sqrt(2)
# Unit motion vectors in frame coordinates (x right, y down); v1's four first.
DIRECTIONS: dict[str, tuple[float, float]] = {
    "left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0),
    "up-left": (-_D, -_D), "up-right": (_D, -_D), "down-left": (-_D, _D), "down-right": (_D, _D),
}
MOTIONS: tuple[str, ...] = (*DIRECTIONS, "bounce", "circle", "spin", "pulse")
SIZES: tuple[str, ...] = ("small", "large")
SPEEDS: tuple[str, ...] = ("slow", "fast")
# Backgrounds: v1's four plain ones (grey levels as in v1) and six textured ones (low saturation, so that
# objects stand out by colour). Only textured backgrounds pan; the sky only sideways.
PLAIN_BACKGROUNDS: tuple[str, ...] = ("black", "gray", "white", "gradient")
TEXTURED_BACKGROUNDS: tuple[str, ...] = ("stripes", "checks", "dots", "grass", "sand", "sky")
BACKGROUNDS: tuple[str, ...] = PLAIN_BACKGROUNDS + TEXTURED_BACKGROUNDS
CAMERAS: tuple[str, ...] = ("static", "left", "right", "up", "down")  # the way the camera pans

# Half-extent, frame fraction: 17-20 / 28-36 px at 256. Smaller ones (13-17 px) lost their shape in the
# 16x autoencoder (a small star or cross came back a blob: 16 of 24 shapes read back after 6000 steps).
SIZE_RANGES = {"small": (0.065, 0.08), "large": (0.11, 0.14)}
SIZE_BOUNDARY = math.sqrt(0.08 * 0.11)  # the detector's threshold between the two classes
STRAIGHT_SPEEDS = {"slow": (0.6 / 128, 0.9 / 128), "fast": (1.6 / 128, 2.2 / 128)}  # frame fraction per frame
TURN_SPEEDS = {"slow": (4.0, 5.0), "fast": (8.0, 10.0)}  # degrees per frame, circling and spinning
CIRCLE_RADIUS = (0.09, 0.14)  # of the circling path, frame fraction
BOUNCE_PERIOD = 20.0  # frames from one floor contact to the next
BOUNCE_HEIGHT = (0.25, 0.35)  # frame fraction
PULSE_PERIOD = 24.0  # frames per grow-and-shrink cycle
PULSE_AMPLITUDE = 0.35  # the half-extent swings between (1 - a) and (1 + a) times its size
PAN_SPEED = 1.0 / 128  # frame fraction per frame
MAX_OBJECTS = 3
CLEARANCE_FRAMES = 64  # objects of one scene do not touch during their first 64 frames


def _heldout_triples() -> tuple[tuple[str, str, str], ...]:
    """v1's twelve held-out triples, then one new triple for each new colour, shape and motion at a time,
    greedily (a fixed order), never sharing a pair with one chosen before and never a spinning circle."""
    chosen = [
        ("red", "circle", "left"), ("red", "square", "right"),
        ("yellow", "triangle", "up"), ("yellow", "diamond", "down"),
        ("green", "circle", "right"), ("green", "square", "up"),
        ("cyan", "triangle", "down"), ("cyan", "diamond", "left"),
        ("blue", "circle", "up"), ("blue", "square", "down"),
        ("magenta", "triangle", "left"), ("magenta", "diamond", "right"),
    ]
    new_motions = [m for m in MOTIONS if m not in ("left", "right", "up", "down")]
    rng = np.random.default_rng(2)  # fixed: the split is part of the world's definition
    candidates = [t for t in itertools.product(COLORS, SHAPES, MOTIONS) if t != (t[0], "circle", "spin")]
    candidates = [candidates[i] for i in rng.permutation(len(candidates))]
    wanted = {(0, "orange"): 3, (0, "purple"): 3, (1, "star"): 4, (1, "cross"): 4, **{(2, m): 2 for m in new_motions}}

    def shares_pair(t: tuple[str, str, str]) -> bool:
        return any(sum(a == b for a, b in zip(t, c)) >= 2 for c in chosen)

    def count(key: tuple[int, str]) -> int:
        return sum(c[key[0]] == key[1] for c in chosen)

    for t in candidates:
        needed = [k for k in enumerate(t) if k in wanted and count(k) < wanted[k]]
        if needed and not shares_pair(t):
            chosen.append(t)
    return tuple(chosen)


HELDOUT_TRIPLES: tuple[tuple[str, str, str], ...] = _heldout_triples()
_HELDOUT = frozenset(HELDOUT_TRIPLES)
TRAIN_TRIPLES: tuple[tuple[str, str, str], ...] = tuple(
    t for t in itertools.product(COLORS, SHAPES, MOTIONS) if t not in _HELDOUT and t[1:] != ("circle", "spin"))
SPLITS = ("train", "heldout")


class ObjectAttributes(NamedTuple):
    """What a caption says about one object; ``None`` where it says nothing."""

    color: str | None
    shape: str | None
    motion: str | None
    size: str | None = None
    speed: str | None = None


class SceneAttributes(NamedTuple):
    """What a caption says about the scene: its objects, background and camera (``None``: unsaid)."""

    objects: tuple[ObjectAttributes, ...]
    background: str | None
    camera: str | None


def has_speed(motion: str) -> bool:
    """Whether ``motion`` comes in a slow and a fast kind."""
    return motion not in ("bounce", "pulse")


@dataclass(frozen=True)
class ObjectSpec:
    """One object. ``x, y``: its anchor (the centre of a straight mover at frame 0, the centre of a circling
    path, the floor contact point of a bouncing one, the place of a spinning or pulsing one); ``radius``:
    half-extent; ``rate``: frame fraction per frame (straight) or degrees per frame (circle, spin, signed:
    positive is clockwise on screen); ``phase``: where in its cycle it starts (0-1); ``path``: circle radius
    or bounce height."""

    color: str
    shape: str
    motion: str
    size: str
    speed: str | None
    x: float
    y: float
    radius: float
    rate: float = 0.0
    phase: float = 0.0
    path: float = 0.0
    angle: float = 0.0  # orientation at frame 0, degrees clockwise

    @property
    def attributes(self) -> ObjectAttributes:
        return ObjectAttributes(self.color, self.shape, self.motion, self.size, self.speed)

    @property
    def triple(self) -> tuple[str, str, str]:
        return self.color, self.shape, self.motion

    def position(self, frame: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Centre after ``frame`` frames, wrapped into [0, 1)."""
        t = np.asarray(frame, dtype=np.float64)
        if self.motion in DIRECTIONS:
            dx, dy = DIRECTIONS[self.motion]
            return (self.x + dx * self.rate * t) % 1.0, (self.y + dy * self.rate * t) % 1.0
        if self.motion == "circle":
            a = np.radians(self.phase * 360.0 + self.rate * t)
            return (self.x + self.path * np.cos(a)) % 1.0, (self.y + self.path * np.sin(a)) % 1.0
        if self.motion == "bounce":  # |sin| hops: the object touches the floor at the cusps
            hop = np.abs(np.sin(np.pi * (t / BOUNCE_PERIOD + self.phase)))
            return np.full_like(t, self.x) % 1.0, (self.y - self.radius - self.path * hop) % 1.0
        return np.full_like(t, self.x) % 1.0, np.full_like(t, self.y) % 1.0

    def orientation(self, frame: np.ndarray | float) -> np.ndarray:
        """Orientation in degrees (clockwise on screen) after ``frame`` frames."""
        t = np.asarray(frame, dtype=np.float64)
        return self.angle + (self.rate * t if self.motion == "spin" else 0.0 * t)

    def scale(self, frame: np.ndarray | float) -> np.ndarray:
        """Half-extent after ``frame`` frames (pulsing objects swing around ``radius``)."""
        t = np.asarray(frame, dtype=np.float64)
        if self.motion != "pulse":
            return np.full_like(t, self.radius)
        return self.radius * (1 + PULSE_AMPLITUDE * np.sin(2 * np.pi * (t / PULSE_PERIOD + self.phase)))

    def reach(self) -> float:
        """The largest half-extent it takes."""
        return self.radius * (1 + PULSE_AMPLITUDE if self.motion == "pulse" else 1.0)


@dataclass(frozen=True)
class SceneSpec:
    """A whole scene: objects drawn in order over a background. ``shade`` (0-1) picks the background's grey
    levels, ``texture_seed`` its pattern, ``pan_offset`` where the scroll starts (frame fractions)."""

    objects: tuple[ObjectSpec, ...]
    background: str
    camera: str = "static"
    shade: float = 0.5
    texture_seed: int = 0
    pan_offset: tuple[float, float] = (0.0, 0.0)
    resolution: int = 256

    def camera_offset(self, frame: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Background scroll (frame fractions): a pan to the left moves the background right."""
        t = np.asarray(frame, dtype=np.float64)
        dx, dy = (0.0, 0.0) if self.camera == "static" else DIRECTIONS[self.camera]
        return self.pan_offset[0] - dx * PAN_SPEED * t, self.pan_offset[1] - dy * PAN_SPEED * t

    def advance(self, frames: int) -> SceneSpec:
        """The same scene ``frames`` frames later: every object's cycle and place moved on, the pan too."""
        return replace(self, objects=tuple(_advance(o, frames) for o in self.objects),
                       pan_offset=tuple(float(v) for v in self.camera_offset(frames)))


def _advance(obj: ObjectSpec, frames: int) -> ObjectSpec:
    if obj.motion in DIRECTIONS:
        x, y = obj.position(frames)
        return replace(obj, x=float(x), y=float(y))
    if obj.motion == "circle":
        return replace(obj, phase=(obj.phase + obj.rate * frames / 360.0) % 1.0)
    if obj.motion == "bounce":
        return replace(obj, phase=(obj.phase + frames / BOUNCE_PERIOD) % 1.0)
    if obj.motion == "pulse":
        return replace(obj, phase=(obj.phase + frames / PULSE_PERIOD) % 1.0)
    return replace(obj, angle=float(obj.orientation(frames)) % 360.0)


def split_triples(split: str) -> tuple[tuple[str, str, str], ...]:
    """The (colour, shape, motion) triples objects of ``split`` are drawn from."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return TRAIN_TRIPLES if split == "train" else HELDOUT_TRIPLES


def triple_split(color: str, shape: str, motion: str) -> str:
    """``"heldout"`` if the triple is held out of training, else ``"train"``."""
    return "heldout" if (color, shape, motion) in _HELDOUT else "train"


def cameras_for(background: str) -> tuple[str, ...]:
    """The camera motions a background allows (a plain one shows no pan; the sky pans only sideways)."""
    if background in PLAIN_BACKGROUNDS:
        return ("static",)
    return ("static", "left", "right") if background == "sky" else CAMERAS


def make_object(rng: np.random.Generator, color: str, shape: str, motion: str, size: str | None = None,
                speed: str | None = None) -> ObjectSpec:
    """An object with the given attributes (size and speed drawn if ``None``) at a random place inside the frame."""
    size = size or SIZES[rng.integers(2)]
    speed = (speed or SPEEDS[rng.integers(2)]) if has_speed(motion) else None
    radius = float(rng.uniform(*SIZE_RANGES[size]))
    rate, path, phase = 0.0, 0.0, float(rng.uniform())
    margin = radius * (1 + PULSE_AMPLITUDE)
    x, y = (float(v) for v in rng.uniform(margin, 1 - margin, 2))
    if motion in DIRECTIONS:
        rate = float(rng.uniform(*STRAIGHT_SPEEDS[speed]))
    elif motion in ("circle", "spin"):
        rate = float(rng.uniform(*TURN_SPEEDS[speed]) * rng.choice([-1, 1]))
    if motion == "circle":
        path = float(rng.uniform(*CIRCLE_RADIUS))
        x, y = (float(v) for v in rng.uniform(path + radius, 1 - path - radius, 2))
    elif motion == "bounce":
        path = float(rng.uniform(*BOUNCE_HEIGHT))
        y = 1.0 - float(rng.uniform(0.0, 0.04))  # the floor: at the frame's bottom edge
    return ObjectSpec(color, shape, motion, size, speed, x, y, radius, rate, phase, path,
                      float(rng.uniform(0, 360)) if motion == "spin" else 0.0)


def _clear(a: ObjectSpec, b: ObjectSpec) -> bool:
    """Whether ``a`` and ``b`` stay apart (toroidal Chebyshev distance) for ``CLEARANCE_FRAMES``."""
    t = np.arange(CLEARANCE_FRAMES)
    pa, pb = np.array(a.position(t)), np.array(b.position(t))
    d = np.abs((pa - pb + 0.5) % 1.0 - 0.5).max(axis=0)
    return bool(d.min() > a.reach() + b.reach() + 0.03)


def sample_objects(rng: np.random.Generator, triples: list[tuple[str, str, str]]) -> tuple[ObjectSpec, ...]:
    """Random place, size and speed for the given triples, placed so that they do not touch."""
    for _ in range(1000):
        objs = tuple(make_object(rng, *t) for t in triples)
        if all(_clear(a, b) for a, b in itertools.combinations(objs, 2)):
            return objs
    raise RuntimeError(f"could not place {triples} without contact")


def sample_triples(rng: np.random.Generator, split: str, num_objects: int,
                   chosen: tuple[tuple[str, str, str], ...] = ()) -> list[tuple[str, str, str]]:
    """``chosen`` completed to ``num_objects`` triples of ``split`` with pairwise distinct colours, and at
    most one bouncing object (bouncing objects share the floor)."""
    pool = split_triples(split)
    chosen = list(chosen)
    while len(chosen) < num_objects:
        t = pool[rng.integers(len(pool))]
        if t[0] not in {c[0] for c in chosen} and not (t[2] == "bounce" and any(c[2] == "bounce" for c in chosen)):
            chosen.append(t)
    return chosen


def sample_scene(rng: np.random.Generator, split: str = "train", num_objects: int | None = None,
                 resolution: int = 256, background: str | None = None, camera: str | None = None) -> SceneSpec:
    """A random scene of ``split``: 1-3 objects (40/35/25%) unless given, a random background and camera
    (textured backgrounds pan half of the time)."""
    n = int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25])) if num_objects is None else num_objects
    if not 1 <= n <= MAX_OBJECTS:
        raise ValueError(f"a scene has 1 to {MAX_OBJECTS} objects, got {n}")
    objects = sample_objects(rng, sample_triples(rng, split, n))
    background = background or BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    if camera is None:
        allowed = cameras_for(background)
        camera = "static" if len(allowed) == 1 or rng.uniform() < 0.5 else allowed[1 + rng.integers(len(allowed) - 1)]
    elif camera not in cameras_for(background):
        raise ValueError(f"a {background} background allows the cameras {cameras_for(background)}, not {camera!r}")
    return SceneSpec(objects, background, camera, float(rng.uniform()), int(rng.integers(2**31)),
                     (float(rng.uniform()), float(rng.uniform())), resolution)
