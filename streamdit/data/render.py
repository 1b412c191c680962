"""Vectorised rendering of a ``VideoSpec`` to uint8 RGB frames.

Shapes are drawn from signed distance functions with a one-pixel anti-aliased edge, on the torus
(pixel indices wrap around the borders, so an object crossing an edge shows on both sides).
"""

from __future__ import annotations

import numpy as np

from .domain import BACKGROUNDS, COLORS, ObjectSpec, VideoSpec


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


def _draw(video: np.ndarray, obj: ObjectSpec) -> None:
    """Blend ``obj`` into ``video`` (T, H, W, 3) uint8 in place, touching only a patch around it."""
    num_frames, res = video.shape[0], video.shape[1]
    t = np.arange(num_frames)
    px, py = obj.position(t)
    cx, cy = px * res - 0.5, py * res - 0.5  # pixel centres sit at integer coordinates
    half = int(np.ceil(obj.size * res)) + 1
    offsets = np.arange(-half, half + 1)
    x0, y0 = np.floor(cx).astype(np.int64), np.floor(cy).astype(np.int64)
    dx = (x0[:, None] + offsets - cx[:, None]).astype(np.float32)[:, None, :]  # (T, 1, P)
    dy = (y0[:, None] + offsets - cy[:, None]).astype(np.float32)[:, :, None]  # (T, P, 1)
    alpha = np.clip(0.5 - _signed_distance(obj.shape, dx, dy, obj.size * res), 0.0, 1.0)[..., None]
    rows, cols = (y0[:, None] + offsets) % res, (x0[:, None] + offsets) % res
    index = (t[:, None, None], rows[:, :, None], cols[:, None, :])
    patch = video[index].astype(np.float32)
    video[index] = np.rint(patch + alpha * (np.asarray(COLORS[obj.color], np.float32) - patch)).astype(np.uint8)


def render(spec: VideoSpec, num_frames: int) -> np.ndarray:
    """Render ``num_frames`` frames of ``spec`` as a uint8 array (T, H, W, 3)."""
    res = spec.resolution
    video = np.broadcast_to(np.rint(background(spec)).astype(np.uint8), (num_frames, res, res, 3)).copy()
    for obj in spec.objects:
        _draw(video, obj)
    return video
