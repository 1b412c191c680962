"""Vectorised rendering of a ``VideoSpec`` to uint8 RGB frames.

Shapes are drawn from signed distance functions with a one-pixel anti-aliased edge, on the torus
(distances wrap around the borders, so an object crossing an edge shows on both sides).
"""

from __future__ import annotations

import numpy as np

from .domain import BACKGROUNDS, COLORS, DIRECTIONS, ObjectSpec, VideoSpec


def background(spec: VideoSpec) -> np.ndarray:
    """The (H, W, 3) float32 background image of ``spec``."""
    (a0, a1), (b0, b1) = BACKGROUNDS[spec.background]
    top, bottom = a0 + spec.shade * (a1 - a0), b0 + spec.shade * (b1 - b0)
    rows = np.linspace(top, bottom, spec.resolution, dtype=np.float32)
    return np.broadcast_to(rows[:, None, None], (spec.resolution, spec.resolution, 3)).copy()


def _signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Distance in pixels to the outline of ``shape`` with half-extent ``r`` (negative inside)."""
    ax, ay = np.abs(dx), np.abs(dy)
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return np.maximum(ax, ay) - r
    if shape == "diamond":
        return (ax + ay - r) * np.float32(1 / np.sqrt(2))
    if shape == "triangle":  # apex up at (0, -r), base from (-r, r) to (r, r)
        return np.maximum(dy - r, (2 * ax - dy - r) * np.float32(1 / np.sqrt(5)))
    raise ValueError(f"unknown shape {shape!r}")


def _coverage(obj: ObjectSpec, num_frames: int, res: int) -> np.ndarray:
    """(T, H, W) float32 fraction of each pixel covered by ``obj`` in each frame."""
    t = np.arange(num_frames, dtype=np.float32)
    ux, uy = DIRECTIONS[obj.direction]
    cx = ((obj.x + ux * obj.speed * t) % 1.0) * res - 0.5  # pixel centres sit at integer coordinates
    cy = ((obj.y + uy * obj.speed * t) % 1.0) * res - 0.5
    grid = np.arange(res, dtype=np.float32)
    dx = (grid[None, None, :] - cx[:, None, None] + res / 2) % res - res / 2
    dy = (grid[None, :, None] - cy[:, None, None] + res / 2) % res - res / 2
    return np.clip(0.5 - _signed_distance(obj.shape, dx, dy, obj.size * res), 0.0, 1.0)


def render(spec: VideoSpec, num_frames: int) -> np.ndarray:
    """Render ``num_frames`` frames of ``spec`` as a uint8 array (T, H, W, 3)."""
    res = spec.resolution
    video = np.broadcast_to(background(spec), (num_frames, res, res, 3)).copy()
    for obj in spec.objects:
        alpha = _coverage(obj, num_frames, res)[..., None]
        video += alpha * (np.asarray(COLORS[obj.color], np.float32) - video)
    return np.rint(video).astype(np.uint8)
