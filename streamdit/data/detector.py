"""Analytic detector of the synthetic domain (numpy/scipy, no learning) and the prompt-adherence metric.

Pipeline for a video (T, H, W, 3) uint8:
1. a spatial Gaussian blur (sigma 1 px, wrapping) suppresses pixel noise;
2. foreground = pixels with saturation (max - min channel) above ``SAT_MIN``; backgrounds are grey,
   and mixing a colour with grey (anti-aliasing, blur) keeps its hue, so each foreground pixel gets
   the palette colour of nearest hue (within ``HUE_TOLERANCE`` degrees);
3. each palette colour forming a blob of ``MIN_AREA`` pixels (at 128x128) in at least half of the frames
   is one object (colours are unique within a video); its mask keeps the pixels above half of the
   object's own peak saturation (the contour a blur leaves in place); per frame, the mask is rolled so
   that its circular (wrap-aware) centroid sits mid-frame and its largest 8-connected component is kept;
4. shape from the median over frames of two area moments of that component, which corner rounding
   by blur barely moves: the vertical skewness (triangle, apex up: -0.55; the others 0) and the
   four-fold moment mean(x^4 - 6x^2y^2 + y^4) / mean(r^4) (square -0.42, circle 0, diamond +0.42);
5. direction from a least-squares line through the unwrapped centroid track (frames where the
   object is at least half its median area, i.e. not occluded); slower than ``MIN_SPEED`` is "still"
   (``None``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .captions import parse_background, parse_caption
from .domain import COLORS, DIRECTIONS, Attributes

SAT_MIN = 45.0  # foreground saturation, 0-255 (palette colours 150-205, backgrounds 0): 30% contrast is seen
HUE_TOLERANCE = 30.0  # degrees from a palette hue
MIN_AREA = 40.0  # pixels at 128x128, scaled with the frame area
MIN_SPEED = 0.25  # pixels per frame at 128x128, scaled with the resolution
TRIANGLE_SKEW = -0.25  # vertical skewness: triangle -0.55, symmetric shapes 0
QUAD_MIN = 0.12  # four-fold moment: square -0.42, circle 0, diamond +0.42 (clean; blur shrinks them)


@dataclass(frozen=True, eq=False)
class Detection:
    """One object read from a video: attributes, median features and the centroid track in pixels."""

    color: str
    shape: str
    direction: str | None
    area: float
    skew: float
    quad: float
    velocity: tuple[float, float]
    track: np.ndarray  # (T, 2) centroid (x, y); NaN where the object was not seen

    @property
    def attributes(self) -> Attributes:
        return Attributes(self.color, self.shape, self.direction)


def saturation(rgb: np.ndarray) -> np.ndarray:
    """Max minus min channel of RGB (..., 3) (elementwise: much faster than a reduction over 3)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)


def object_pixels(video: np.ndarray) -> np.ndarray:
    """The pixels of a clean render (..., H, W, 3) that belong to an object: saturation of at least ``SAT_MIN``.
    Both worlds draw their objects in saturated palette colours over backgrounds below it (v2's textures
    stay under 32), so this holds for either."""
    return saturation(np.asarray(video, np.int16)) >= SAT_MIN


def hue(rgb: np.ndarray) -> np.ndarray:
    """Hue in degrees [0, 360) of float RGB (..., 3)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    mx = np.maximum(np.maximum(r, g), b)
    d = np.maximum(saturation(rgb), 1e-6)
    sector = np.where(mx == r, (g - b) / d, np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4))
    return (60.0 * sector) % 360.0


PALETTE_HUES = hue(np.array(list(COLORS.values()), np.float32))


def color_labels(video: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index into ``COLORS`` of each pixel's colour (-1 for background) and saturation, both (T, H, W)."""
    smooth = ndimage.gaussian_filter(video.astype(np.float32), sigma=(0, 1, 1, 0), mode="wrap", truncate=2.0)
    sat = saturation(smooth)
    fg = sat >= SAT_MIN
    dist = np.abs((hue(smooth[fg])[:, None] - PALETTE_HUES + 180.0) % 360.0 - 180.0)
    labels = np.full(sat.shape, -1, np.int8)
    labels[fg] = np.where(dist.min(-1) <= HUE_TOLERANCE, dist.argmin(-1), -1)
    return labels, sat


def circular_mean(coords: np.ndarray, period: int) -> float:
    """Mean of coordinates on a circle of ``period`` (pixel rows or columns of a wrapping frame)."""
    angle = coords * (2 * np.pi / period)
    return float(np.arctan2(np.sin(angle).mean(), np.cos(angle).mean()) * period / (2 * np.pi) % period)


def largest_component(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Pixel columns and rows (xs, ys) of the largest 8-connected component of a wrapped 2D mask, and its
    centroid (cx, cy) in frame coordinates. The mask is first rolled so that its circular centroid sits
    mid-frame (a component crossing the border stays whole); xs and ys are in that rolled frame."""
    h, w = mask.shape
    ys, xs = np.nonzero(mask)
    sy = h // 2 - int(round(circular_mean(ys, h)))
    sx = w // 2 - int(round(circular_mean(xs, w)))
    comps, _ = ndimage.label(np.roll(mask, (sy, sx), axis=(0, 1)), structure=np.ones((3, 3)))
    ys, xs = np.nonzero(comps == np.bincount(comps.ravel())[1:].argmax() + 1)
    return xs, ys, float((xs.mean() - sx) % w), float((ys.mean() - sy) % h)


def _frame_features(mask: np.ndarray) -> tuple[float, float, float, float, float]:
    """(area, cx, cy, skew, quad) of the largest component of a wrapped 2D mask."""
    xs, ys, cx, cy = largest_component(mask)
    x, y = xs - xs.mean(), ys - ys.mean()
    r2 = x * x + y * y
    skew = (y**3).mean() / max((y * y).mean(), 1e-6) ** 1.5
    quad = (x**4 - 6 * x * x * y * y + y**4).mean() / max((r2 * r2).mean(), 1e-6)
    return float(len(ys)), cx, cy, float(skew), float(quad)


def classify_shape(skew: float, quad: float) -> str:
    """Shape from the vertical skewness and the four-fold moment of its mask."""
    if skew < TRIANGLE_SKEW:
        return "triangle"
    if quad < -QUAD_MIN:
        return "square"
    return "diamond" if quad > QUAD_MIN else "circle"


def _velocity(track: np.ndarray, valid: np.ndarray, size: int) -> tuple[float, float]:
    """Slope (pixels per frame) of the unwrapped centroid track over the valid frames."""
    t = np.flatnonzero(valid)
    if len(t) < 2:
        return 0.0, 0.0
    steps = (np.diff(track[t], axis=0) + size / 2) % size - size / 2
    path = np.concatenate([track[t[:1]], track[t[0]] + np.cumsum(steps, axis=0)])
    slope = np.polyfit(t.astype(np.float64), path, 1)[0]
    return float(slope[0]), float(slope[1])


def classify_direction(vx: float, vy: float, resolution: int) -> str | None:
    """The nearest of ``DIRECTIONS`` to velocity (vx, vy), or ``None`` if slower than ``MIN_SPEED``."""
    if np.hypot(vx, vy) < MIN_SPEED * resolution / 128:
        return None
    return max(DIRECTIONS, key=lambda d: DIRECTIONS[d][0] * vx + DIRECTIONS[d][1] * vy)


def detect(video: np.ndarray) -> list[Detection]:
    """The objects of a video (T, H, W, 3) uint8, one per palette colour present, in palette order."""
    video = np.asarray(video)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"expected a video (T, H, W, 3), got shape {video.shape}")
    num_frames, h, w, _ = video.shape
    labels, sat = color_labels(video)
    min_area = MIN_AREA * h * w / 128**2
    detections = []
    for ci, name in enumerate(COLORS):
        masks = labels == ci
        if np.median(masks.sum(axis=(1, 2))) < min_area:
            continue
        masks &= sat >= 0.5 * np.percentile(sat[masks], 95)  # the half-contrast contour, as drawn
        areas = masks.sum(axis=(1, 2))
        feats = np.full((num_frames, 5), np.nan)
        for t in np.flatnonzero(areas >= min_area / 2):
            feats[t] = _frame_features(masks[t])
        area = float(np.median(np.nan_to_num(feats[:, 0])))
        if area < min_area:  # scattered pixels (noise), not one blob in at least half of the frames
            continue
        valid = feats[:, 0] >= area / 2
        skew, quad = np.median(feats[valid, 3]), np.median(feats[valid, 4])
        vx, vy = _velocity(feats[:, 1:3], valid, h)
        detections.append(Detection(name, classify_shape(skew, quad), classify_direction(vx, vy, h),
                                    area, float(skew), float(quad), (vx, vy), feats[:, 1:3]))
    return detections


def detect_background(video: np.ndarray) -> str:
    """Background kind: "gradient" if the top and bottom quarters differ, else by mean grey level."""
    v = np.asarray(video, np.float32)
    grey = np.where(saturation(v) < SAT_MIN / 2, v @ np.full(3, 1 / 3, np.float32), np.nan)
    q = v.shape[1] // 4
    top, bottom = np.nanmean(grey[:, :q]), np.nanmean(grey[:, -q:])
    if abs(bottom - top) > 80:
        return "gradient"
    level = np.nanmean(grey)
    return "black" if level < 70 else "white" if level > 177 else "gray"


def _agreement(prompted: Attributes, found: Detection | None) -> tuple[bool, ...]:
    """Per attribute: unprompted (None) or equal to the detection's."""
    seen = found.attributes if found is not None else Attributes(None, None, None)
    return tuple(p is None or (q is not None and p == q) for p, q in zip(prompted, seen))


def detect_adherence(video: np.ndarray, prompt: str) -> dict:
    """Whether a video (T, H, W, 3) uint8 shows what ``prompt`` asks for.

    Prompted objects are matched one-to-one to detections so as to agree on the most attributes.
    Keys: "color", "shape", "direction" (every prompted object's attribute found), "match" (all three),
    "count" (as many objects detected as prompted), "background" (``None`` if the prompt names none).
    """
    prompted = parse_caption(prompt)
    if not prompted:
        raise ValueError(f"no object (colour, shape or direction) in prompt {prompt!r}")
    dets: list[Detection | None] = list(detect(video))
    dets += [None] * max(0, len(prompted) - len(dets))
    assignments = itertools.permutations(dets, len(prompted))
    best = max(([_agreement(p, d) for p, d in zip(prompted, a)] for a in assignments),
               key=lambda agree: sum(map(sum, agree)))
    color, shape, direction = (all(a[i] for a in best) for i in range(3))
    bg = parse_background(prompt)
    return {
        "match": color and shape and direction,
        "color": color,
        "shape": shape,
        "direction": direction,
        "count": sum(d is not None for d in dets) == len(prompted),
        "background": None if bg is None else detect_background(video) == bg,
    }
