"""Rendering a world-v2 ``SceneSpec`` to uint8 RGB frames at its resolution.

Backgrounds are functions of frame coordinates evaluated per frame at the camera's scroll, so a pan is
sub-pixel smooth at any resolution: the patterned ones in closed form with a one-pixel anti-aliased
edge (plus a faint grain), the noise fields (grass, sand, the sky's ground) as a fixed set of integer-frequency Fourier modes,
shifted by a phase per frame (periodic, so they tile the torus). All stay below the detector's
foreground saturation. Shapes are signed distance functions (turned and scaled per frame) with a
one-pixel anti-aliased edge, drawn on the torus like world v1's.
"""

from __future__ import annotations

import numpy as np

from .domain import COLORS, ObjectSpec, SceneSpec

# v1's grey backgrounds: (first grey level range, second grey level range); "gradient" runs from the
# first at the top to the second at the bottom.
GREY_LEVELS = {
    "black": ((15, 40), (15, 40)),
    "gray": ((100, 145), (100, 145)),
    "white": ((210, 240), (210, 240)),
    "gradient": ((20, 50), (190, 230)),
}
# Additive RGB tints of the noise fields (saturation max - min stays <= 32).
GRASS_TINT = np.array([-14.0, 12.0, -14.0], np.float32)
SAND_TINT = np.array([14.0, 5.0, -14.0], np.float32)
SKY_TOP, SKY_HORIZON = np.array([140.0, 155.0, 172.0], np.float32), np.array([192.0, 198.0, 210.0], np.float32)
NOISE_MODES = 10  # highest integer frequency (per frame side) of the noise fields
STAR_INNER = 0.5  # inner radius of the five-pointed star, fraction of the outer
CROSS_ARM = 0.32  # half-width of the cross's arms, fraction of its half-extent
DIAMOND_WIDTH = 0.65  # half-width of the diamond, fraction of its half-height


def _coordinates(spec: SceneSpec, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Texture coordinates u (T, 1, W) and v (T, H, 1) of each pixel centre, scrolled by the camera."""
    res = spec.resolution
    centres = (np.arange(res) + 0.5) / res
    ox, oy = spec.camera_offset(np.arange(num_frames))
    return (centres[None, None, :] - ox[:, None, None]), (centres[None, :, None] - oy[:, None, None])


def _edge(value: np.ndarray, pixel: float) -> np.ndarray:
    """Anti-aliased step: 0 below 0, 1 above, over one pixel (``pixel``: one pixel in units of ``value``)."""
    return np.clip(value / pixel + 0.5, 0.0, 1.0)


def _triangle(x: np.ndarray) -> np.ndarray:
    """Distance to the nearest integer, in [0, 0.5]."""
    return np.abs(x - np.round(x))


def _noise(rng: np.random.Generator, spec: SceneSpec, num_frames: int, decay: float = 1.0) -> np.ndarray:
    """A unit-variance periodic noise field (T, H, W) scrolled by the camera: random modes up to
    ``NOISE_MODES`` cycles per side with amplitude ``|k| ** -decay``, shifted in phase per frame."""
    res = spec.resolution
    k = np.arange(-NOISE_MODES, NOISE_MODES + 1)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    amplitude = np.where((kx == 0) & (ky == 0), 0.0, np.hypot(kx, ky).clip(1) ** -decay)
    coeffs = amplitude * (rng.standard_normal(kx.shape) + 1j * rng.standard_normal(kx.shape))
    ox, oy = spec.camera_offset(np.arange(num_frames))
    phase = np.exp(-2j * np.pi * (kx[None] * ox[:, None, None] + ky[None] * oy[:, None, None]))
    spectrum = np.zeros((num_frames, res, res), np.complex128)
    spectrum[:, ky % res, kx % res] = coeffs[None] * phase
    field = np.fft.ifft2(spectrum).real
    return (field / field[0].std()).astype(np.float32)


def background(spec: SceneSpec, num_frames: int) -> np.ndarray:
    """The (T, H, W, 3) float32 background of ``spec`` over ``num_frames`` frames."""
    res, kind, shade = spec.resolution, spec.background, spec.shade
    rng = np.random.default_rng(spec.texture_seed)
    if kind in GREY_LEVELS:  # v1's plain and gradient backgrounds, exactly
        (a0, a1), (b0, b1) = GREY_LEVELS[kind]
        rows = np.linspace(a0 + shade * (a1 - a0), b0 + shade * (b1 - b0), res, dtype=np.float32)
        return np.broadcast_to(rows[None, :, None, None], (num_frames, res, res, 3)).copy()
    u, v = _coordinates(spec, num_frames)
    pixel = 1.0 / res
    low = 60.0 + 50.0 * shade
    if kind == "stripes":  # diagonal, n per side along each axis, either way
        n = int(rng.integers(5, 9))
        sign = 1.0 if rng.uniform() < 0.5 else -1.0
        mask = _edge(_triangle(n * (u + sign * v)) - 0.25, n * np.sqrt(2) * pixel)
        grey = low + 75.0 * mask
    elif kind == "checks":
        n = int(rng.integers(3, 6))  # n periods (2n squares) per side
        a = _edge(_triangle(n * u) - 0.25, n * pixel)
        b = _edge(_triangle(n * v) - 0.25, n * pixel)
        grey = low + 75.0 * (a + b - 2 * a * b)
    elif kind == "dots":
        n = int(rng.integers(5, 8))
        du, dv = (_triangle(n * u) / n), (_triangle(n * v) / n)
        grey = low + 85.0 * _edge(0.24 / n - np.sqrt(du * du + dv * dv), pixel)
    else:
        grey = None
    if grey is not None:  # a faint grain: a pan along the pattern's own lines still shows
        grey = grey + 8.0 * _noise(rng, spec, num_frames, decay=0.5)
        return np.repeat(np.broadcast_to(grey, (num_frames, res, res))[..., None], 3, axis=-1).astype(np.float32)
    if kind in ("grass", "sand"):
        field = _noise(rng, spec, num_frames, decay=1.0 if kind == "grass" else 1.6)
        base, tint = (75.0 + 30.0 * shade, GRASS_TINT) if kind == "grass" else (150.0 + 35.0 * shade, SAND_TINT)
        return (base + 22.0 * field[..., None] + tint).astype(np.float32)
    if kind == "sky":
        horizon = 0.55 + 0.15 * shade
        v = v + spec.camera_offset(0)[1]  # the sky pans only sideways: the horizon stays where it is
        depth = np.clip(v / horizon, 0.0, 1.0)[..., None]  # (T, H, 1, 1)
        sky = SKY_TOP + depth * (SKY_HORIZON - SKY_TOP)
        clouds = np.clip(_noise(rng, spec, num_frames, decay=1.4) - 0.6, 0.0, None)[..., None]
        sky = np.minimum(sky + 40.0 * clouds, 235.0)
        ground = 80.0 + 18.0 * _noise(rng, spec, num_frames)[..., None] + GRASS_TINT * 0.6
        below = _edge(v - horizon, pixel)[..., None]
        return (sky * (1 - below) + ground * below).astype(np.float32)
    raise ValueError(f"unknown background {kind!r}")


def _star(x: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Signed distance to a five-pointed star (one point up) of outer radius ``r`` (after Inigo Quilez's
    sdStar5; y is flipped so that the point is up on screen)."""
    k1x, k1y = 0.809016994375, -0.587785252292
    px, py = np.abs(x), -y
    for kx, ky in ((k1x, k1y), (-k1x, k1y)):
        d = 2.0 * np.maximum(kx * px + ky * py, 0.0)
        px, py = px - d * kx, py - d * ky
    px, py = np.abs(px), py - r
    bax, bay = STAR_INNER * -k1y, STAR_INNER * k1x - 1.0  # rf * (-k1.y, k1.x) - (0, 1)
    h = np.clip((px * bax + py * bay) / (bax * bax + bay * bay), 0.0, r)
    return np.hypot(px - bax * h, py - bay * h) * np.sign(py * bax - px * bay)


def signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Distance (pixels) to the outline of ``shape`` of half-extent ``r`` at offsets (dx, dy), negative inside."""
    ax, ay = np.abs(dx), np.abs(dy)
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return np.maximum(ax, ay) - r
    if shape == "diamond":  # a rhombus, taller than wide
        a = DIAMOND_WIDTH
        return (ax / a + ay - r) * np.float32(a / np.sqrt(1 + a * a))
    if shape == "triangle":  # apex up at (0, -r), base from (-r, r) to (r, r)
        return np.maximum(dy - r, (2 * ax - dy - r) * np.float32(1 / np.sqrt(5)))
    if shape == "star":
        return _star(dx, dy, r)
    if shape == "cross":
        w = CROSS_ARM * r
        return np.minimum(np.maximum(ax - r, ay - w), np.maximum(ax - w, ay - r))
    raise ValueError(f"unknown shape {shape!r}")


def _draw(video: np.ndarray, obj: ObjectSpec) -> None:
    """Blend ``obj`` into ``video`` (T, H, W, 3) float32 in place, touching only a patch around it."""
    num_frames, res = video.shape[0], video.shape[1]
    t = np.arange(num_frames)
    px, py = obj.position(t)
    cx, cy = px * res - 0.5, py * res - 0.5  # pixel centres sit at integer coordinates
    half = int(np.ceil(obj.reach() * np.sqrt(2) * res)) + 1
    offsets = np.arange(-half, half + 1)
    x0, y0 = np.floor(cx).astype(np.int64), np.floor(cy).astype(np.int64)
    dx = (x0[:, None] + offsets - cx[:, None]).astype(np.float32)[:, None, :]  # (T, 1, P)
    dy = (y0[:, None] + offsets - cy[:, None]).astype(np.float32)[:, :, None]  # (T, P, 1)
    if obj.motion == "spin" or obj.angle:  # into the shape's own frame (clockwise turn on screen)
        theta = np.radians(obj.orientation(t)).astype(np.float32)[:, None, None]
        c, s = np.cos(theta), np.sin(theta)
        dx, dy = c * dx + s * dy, c * dy - s * dx
    r = (obj.scale(t) * res).astype(np.float32)[:, None, None]
    if obj.shape == "triangle":  # its area centroid, not its box's centre, is where it is (and turns about)
        dy = dy + r / 3
    alpha = np.clip(0.5 - signed_distance(obj.shape, dx, dy, r), 0.0, 1.0)[..., None]
    rows, cols = (y0[:, None] + offsets) % res, (x0[:, None] + offsets) % res
    index = (t[:, None, None], rows[:, :, None], cols[:, None, :])
    patch = video[index]
    video[index] = patch + alpha * (np.asarray(COLORS[obj.color], np.float32) - patch)


def render(spec: SceneSpec, num_frames: int) -> np.ndarray:
    """Render ``num_frames`` frames of ``spec`` as a uint8 array (T, H, W, 3)."""
    video = background(spec, num_frames)
    for obj in spec.objects:
        _draw(video, obj)
    return np.clip(np.rint(video), 0, 255).astype(np.uint8)
