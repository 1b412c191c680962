"""Analytic detector of world v2 (numpy/scipy, no learning) and the prompt-adherence metric.

For a video (T, H, W, 3) uint8 of at least ``MIN_FRAMES`` frames, at any resolution (lengths below are at
128x128 and scale with the frame side):

1. **Objects.** A Gaussian blur (``sigma`` 1 px) suppresses pixel noise; pixels with saturation (max - min
   channel) of at least ``SAT_MIN`` are foreground (every background stays below it) and take the palette
   colour of nearest hue. Each colour forming a blob of ``MIN_AREA`` pixels in at least half of the frames
   is one object (colours are unique in a scene); its mask keeps the pixels above half of the colour's
   peak saturation, and a colour found mostly on the rim of a stronger one (the blend of an object's
   edge with a tinted background) is dropped.
2. **Shape**, from rotation-invariant moments of the object's largest component in each frame (medians
   over frames): the normalised complex moments ``|c_k| = |sum (z - z0)^k| / sum |z - z0|^k``, which
   vanish for a shape with m-fold symmetry unless m divides k: ``c3`` triangle, ``c5`` star, ``c2`` the
   diamond (a rhombus), ``c4`` cross (strong) and square. A spinning object reads as a still one.
3. **Motion**, from the centroid track (unwrapped across the borders), the area and the orientation
   (the phase of the moment of the shape's symmetry order): an object that does not move is spinning
   (steady turn), pulsing (area swings by ``PULSE_RATIO``) or still (``None``); one that moves is bouncing
   (vertical reversals, no sideways motion), straight (a line fits the track) or circling (a circle
   does); straight motion takes the nearest of the 8 directions.
4. **Size** from the area over the shape's area factor (half-extent ``sqrt(area / k)``), **speed** from
   the track's speed (straight) or the turn rate (circling, spinning).
5. **Background**: on the pixels away from objects, tint (sky, sand, grass), then texture: a periodic
   pattern's strongest Fourier peak (on an axis: dots; on a diagonal with its mirror: checks; alone:
   stripes), else v1's plain kinds. **Camera**: which pan (or none) best predicts each frame's background
   from an earlier frame's.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..detector import hue, largest_component, saturation
from .captions import parse_scene
from .domain import CAMERAS, COLORS, DIRECTIONS, PAN_SPEED, SIZE_BOUNDARY, ObjectAttributes
from .render import CROSS_ARM, DIAMOND_WIDTH, STAR_INNER

MIN_FRAMES = 24  # a bounce cycle (20 frames) and a visible turn need this many
SAT_MIN = 45.0  # foreground saturation, 0-255 (palette 150-210; backgrounds at most 32)
MIN_AREA = 30.0  # pixels at 128x128 (a small object covers ~60)
RIM_SHARE = 0.6  # a colour with this share of its pixels on a stronger colour's rim is that colour's rim
# Thresholds of |c_k|, between the values measured on clean and blurred (sigma 3 px) renders at 256x256
# (the shape's lowest, then the highest any other shape reached): c3 triangle 0.44 / 0.03, c5 star 0.17 /
# 0.07 (the triangle, 0.28, is read first), c2 diamond 0.28 / 0.03 (triangle 0.14), c4 cross 0.48 / square
# 0.41, c4 square 0.30 / circle 0.03.
C3_MIN, C5_MIN, C2_MIN, CROSS_C4, C4_MIN = 0.25, 0.10, 0.18, 0.43, 0.15
SHAPE_LEVEL = 0.65  # shape moments on the pixels above this share of the colour's peak saturation (size: 0.5)
STILL_EXTENT = 4.0  # px at 128: a centroid that stays within this stays in place (the slowest mover covers 14
# px in 24 frames; a pulsing or spinning object's centroid jitters by a pixel or two as it is rasterised)
LINE_RESIDUAL = 1.0  # px at 128: a straight track's RMS distance from its fitted line
CIRCLE_RESIDUAL = 1.5  # px at 128, of the circle fit
CIRCLE_RADIUS = (5.0, 30.0)  # px at 128, of a circling path
SPIN_RATE = 1.5  # degrees per frame: below, not spinning
PULSE_RATIO = 1.6  # largest over smallest area of a pulsing object
STRAIGHT_FAST = 1.2  # px per frame at 128 between slow (0.6-0.9) and fast (1.6-2.2)
TURN_FAST = 6.5  # degrees per frame between slow (4-5) and fast (8-10)
# Area over half-extent squared of each shape (as drawn).
AREA_FACTOR = {"circle": np.pi, "square": 4.0, "triangle": 2.0, "diamond": 2.0 * DIAMOND_WIDTH,
               "star": 10 * 0.5 * STAR_INNER * np.sin(np.radians(36)),
               "cross": 2 * (2 * 2 * CROSS_ARM) - (2 * CROSS_ARM) ** 2}
SYMMETRY = {"square": 4, "cross": 4, "triangle": 3, "star": 5, "diamond": 2}


@dataclass(frozen=True, eq=False)
class ObjectDetection:
    """One object read from a video: attributes, median shape features and the per-frame measurements."""

    color: str
    shape: str
    motion: str | None
    size: str
    speed: str | None
    features: dict[str, float]
    track: np.ndarray  # (T, 2) centroid (x, y) in pixels; NaN where the object was not seen

    @property
    def attributes(self) -> ObjectAttributes:
        return ObjectAttributes(self.color, self.shape, self.motion, self.size, self.speed)


@dataclass(frozen=True)
class SceneDetection:
    objects: tuple[ObjectDetection, ...]
    background: str
    camera: str


PALETTE_HUES = hue(np.array(list(COLORS.values()), np.float32))


def _smooth(video: np.ndarray) -> np.ndarray:
    sigma = video.shape[1] / 128
    return ndimage.gaussian_filter(video.astype(np.float32), sigma=(0, sigma, sigma, 0), mode="wrap", truncate=2.0)


def color_masks(smooth: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, float], np.ndarray]:
    """Per palette colour present, its mask (T, H, W) at half of its peak saturation and that peak (the 95th
    percentile); and the saturation (T, H, W)."""
    sat = saturation(smooth)
    fg = sat >= SAT_MIN
    dist = np.abs((hue(smooth[fg])[:, None] - PALETTE_HUES + 180.0) % 360.0 - 180.0)
    labels = np.full(sat.shape, -1, np.int8)
    labels[fg] = dist.argmin(-1)
    scale = (smooth.shape[1] / 128) ** 2
    masks, peaks = {}, {}
    for ci, name in enumerate(COLORS):
        mask = labels == ci
        if np.median(mask.sum(axis=(1, 2))) < MIN_AREA * scale:
            continue
        peaks[name] = float(np.percentile(sat[mask], 95))
        masks[name] = mask & (sat >= 0.5 * peaks[name])
    rim = max(1, round(3 * smooth.shape[1] / 128))
    for name in list(masks):  # drop a colour that lies on the rim of a stronger one
        for other in masks:
            if other != name and peaks[other] > peaks[name]:
                near = ndimage.binary_dilation(masks[other], np.ones((1, 2 * rim + 1, 2 * rim + 1), bool))
                if (masks[name] & near).sum() >= RIM_SHARE * masks[name].sum():
                    del masks[name]
                    break
    return masks, peaks, sat


def frame_features(mask: np.ndarray) -> dict[str, float]:
    """Area, centroid and complex moments (|c2|..|c5| and the phases) of the largest component
    of a wrapped 2D mask."""
    xs, ys, cx, cy = largest_component(mask)
    z = (xs - xs.mean()) + 1j * (ys - ys.mean())
    r = np.abs(z)
    features = {"area": float(len(xs)), "x": cx, "y": cy}
    for k in (2, 3, 4, 5):
        ck = (z**k).sum() / max((r**k).sum(), 1e-9)
        features[f"c{k}"], features[f"phase{k}"] = float(abs(ck)), float(np.angle(ck))
    return features


def classify_shape(f: dict[str, float]) -> str:
    """Shape from the median complex-moment magnitudes (the first of triangle, star, diamond, cross, square
    whose moment is strong, else circle)."""
    if f["c3"] > C3_MIN:
        return "triangle"
    if f["c5"] > C5_MIN:
        return "star"
    if f["c2"] > C2_MIN:
        return "diamond"
    if f["c4"] > CROSS_C4:
        return "cross"
    return "square" if f["c4"] > C4_MIN else "circle"


def _unwrap_track(track: np.ndarray, valid: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames, positions) of the valid frames, unwrapped across the torus borders."""
    t = np.flatnonzero(valid)
    steps = (np.diff(track[t], axis=0) + size / 2) % size - size / 2
    return t, np.concatenate([track[t[:1]], track[t[0]] + np.cumsum(steps, axis=0)])


def _line_fit(t: np.ndarray, path: np.ndarray) -> tuple[np.ndarray, float]:
    """Velocity (px per frame) and RMS residual of a least-squares line through the track."""
    design = np.stack([t, np.ones_like(t)], axis=1).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, path, rcond=None)
    return coef[0], float(np.sqrt(((design @ coef - path) ** 2).sum(axis=1).mean()))


def _circle_fit(path: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Centre, radius and RMS residual of an algebraic (Kasa) circle fit."""
    x, y = path[:, 0], path[:, 1]
    design = np.stack([x, y, np.ones_like(x)], axis=1)
    (a, b, c), *_ = np.linalg.lstsq(design, x * x + y * y, rcond=None)
    centre = np.array([a / 2, b / 2])
    radius = float(np.sqrt(max(c + centre @ centre, 0.0)))
    return centre, radius, float(np.sqrt(((np.hypot(x - centre[0], y - centre[1]) - radius) ** 2).mean()))


def _turn_rate(phases: np.ndarray, order: int) -> float:
    """Mean turn in degrees per frame from the phases of the moment of ``order`` (each turn of the shape
    by theta turns that phase by order * theta)."""
    return float(np.degrees(np.mean(np.diff(np.unwrap(phases))) / order)) if len(phases) > 1 else 0.0


def classify_motion(feats: np.ndarray, names: list[str], valid: np.ndarray, shape: str,
                    size: int) -> tuple[str | None, str | None, dict[str, float]]:
    """(motion, speed, measurements) of one object from its per-frame features (rows of ``names``)."""
    col = {n: feats[:, i] for i, n in enumerate(names)}
    px = size / 128  # one pixel at 128x128
    t, path = _unwrap_track(np.stack([col["x"], col["y"]], axis=1), valid, size)
    speed_px = float(np.median(np.hypot(*np.diff(path, axis=0).T)) / (np.diff(t).clip(1).mean()) / px) \
        if len(t) > 1 else 0.0
    extent = float(np.ptp(path, axis=0).max() / px) if len(t) else 0.0
    out = {"speed_px": speed_px, "extent_px": extent}
    if extent < STILL_EXTENT:
        order = SYMMETRY.get(shape)
        rate = _turn_rate(col[f"phase{order}"][valid], order) if order else 0.0
        areas = ndimage.median_filter(col["area"][valid], size=3, mode="nearest")
        out.update(turn=rate, area_ratio=float(areas.max() / max(areas.min(), 1.0)))
        if out["area_ratio"] >= PULSE_RATIO:
            return "pulse", None, out
        if abs(rate) >= SPIN_RATE:
            return "spin", "fast" if abs(rate) >= TURN_FAST else "slow", out
        return None, None, out
    velocity, line_residual = _line_fit(t, path)
    dy = np.diff(path[:, 1])
    reversals = int((np.diff(np.sign(dy[np.abs(dy) > 0.3 * px])) != 0).sum())
    x_range = float(np.ptp(path[:, 0]) / px)
    out.update(line_residual=line_residual / px, reversals=reversals, x_range=x_range)
    if reversals >= 1 and x_range < 3.0 and np.ptp(path[:, 1]) / px > 10:
        return "bounce", None, out
    if line_residual / px <= LINE_RESIDUAL:
        vx, vy = velocity
        direction = max(DIRECTIONS, key=lambda d: DIRECTIONS[d][0] * vx + DIRECTIONS[d][1] * vy)
        return direction, "fast" if np.hypot(vx, vy) / px >= STRAIGHT_FAST else "slow", out
    centre, radius, residual = _circle_fit(path)
    angles = np.unwrap(np.arctan2(path[:, 1] - centre[1], path[:, 0] - centre[0]))
    rate = float(np.degrees(np.polyfit(t, angles, 1)[0]))
    out.update(circle_radius=radius / px, circle_residual=residual / px, turn=rate)
    if residual / px <= CIRCLE_RESIDUAL and CIRCLE_RADIUS[0] <= radius / px <= CIRCLE_RADIUS[1]:
        return "circle", "fast" if abs(rate) >= TURN_FAST else "slow", out
    return None, None, out


def detect_objects(video: np.ndarray, smooth: np.ndarray | None = None) -> list[ObjectDetection]:
    """The objects of a video, one per palette colour present, in palette order."""
    smooth = _smooth(video) if smooth is None else smooth
    num_frames, h, w, _ = video.shape
    masks, peaks, sat = color_masks(smooth)
    min_area = MIN_AREA * h * w / 128**2
    names = ["area", "x", "y"] + [f"{p}{k}" for k in (2, 3, 4, 5) for p in ("c", "phase")]
    detections = []
    for color, masks_c in masks.items():
        feats = np.full((num_frames, len(names)), np.nan)
        core = masks_c & (sat >= SHAPE_LEVEL * peaks[color])  # a blur fills concave corners less up here
        areas = masks_c.sum(axis=(1, 2))
        for t in np.flatnonzero((areas >= min_area / 2) & core.any(axis=(1, 2))):
            f = {**frame_features(core[t]), "area": float(areas[t])}
            feats[t] = [f[n] for n in names]
        area = float(np.median(np.nan_to_num(feats[:, 0])))
        if area < min_area:
            continue
        valid = feats[:, 0] >= area / 2
        median = {n: float(np.median(feats[valid, i])) for i, n in enumerate(names) if not n.startswith("phase")}
        shape = classify_shape(median)
        motion, speed, measured = classify_motion(feats, names, valid, shape, h)
        if motion == "spin" and shape == "circle":
            motion = speed = None
        radius = np.sqrt(area / AREA_FACTOR[shape]) / h
        size = "large" if radius >= SIZE_BOUNDARY else "small"
        detections.append(ObjectDetection(color, shape, motion, size, speed, {**median, **measured,
                                                                               "radius": float(radius)},
                                          feats[:, 1:3]))
    return detections


def _background_pixels(smooth: np.ndarray) -> np.ndarray:
    """(T, H, W) mask of pixels away from anything saturated (objects and their blurred rims)."""
    fg = saturation(smooth) >= SAT_MIN
    grow = max(1, round(4 * smooth.shape[1] / 128))
    return ~ndimage.binary_dilation(fg, np.ones((1, 2 * grow + 1, 2 * grow + 1), bool))


def _filled(grey: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """``grey`` (T, H, W) with the pixels outside ``keep`` set to the mean of their row's kept pixels (of the
    frame's, for a row with none), so that a gradient stays a gradient."""
    counts = keep.sum(axis=2, keepdims=True)
    frame = (grey * keep).sum(axis=(1, 2), keepdims=True) / np.maximum(keep.sum(axis=(1, 2), keepdims=True), 1)
    rows = np.where(counts > 0, (grey * keep).sum(axis=2, keepdims=True) / np.maximum(counts, 1), frame)
    return np.where(keep, grey, rows)


def classify_background(smooth: np.ndarray, keep: np.ndarray) -> str:
    """The background kind from tint, texture and grey levels of the kept (non-object) pixels."""
    v = smooth
    r, g, b = v[..., 0], v[..., 1], v[..., 2]
    third = v.shape[1] // 3
    top_blue = float((b - r)[:, :third][keep[:, :third]].mean()) if keep[:, :third].any() else 0.0
    if top_blue >= 15:
        return "sky"
    if float((r - b)[keep].mean()) >= 15:
        return "sand"
    if float((g - (r + b) / 2)[keep].mean()) >= 12:
        return "grass"
    grey = _filled(v.mean(axis=-1), keep)
    texture = grey - grey.mean(axis=2, keepdims=True)  # rows' means removed: a gradient is not a texture
    if float(texture[:, :, :].std()) >= 12:
        power = (np.abs(np.fft.fft2(texture)) ** 2).mean(axis=0)
        power[0, 0] = 0.0
        n = power.shape[0]
        ky, kx = np.unravel_index(power.argmax(), power.shape)
        ky, kx = (ky + n // 2) % n - n // 2, (kx + n // 2) % n - n // 2
        if kx == 0 or ky == 0:
            return "dots"
        mirrored = power[ky % n, (-kx) % n]
        return "checks" if mirrored >= 0.25 * power.max() else "stripes"
    q = v.shape[1] // 4
    levels = v.mean(axis=-1)
    top, bottom = float(levels[:, :q][keep[:, :q]].mean()), float(levels[:, -q:][keep[:, -q:]].mean())
    if abs(bottom - top) > 80:
        return "gradient"
    level = float(levels[keep].mean())
    return "black" if level < 70 else "white" if level > 177 else "gray"


def _pan_error(grey: np.ndarray, keep: np.ndarray, shift: tuple[int, int], gap: int) -> float:
    """Mean squared difference between each kept frame and the one ``gap`` before it moved by ``shift`` (x, y)."""
    moved = np.roll(grey[:-gap], shift[::-1], axis=(1, 2))
    valid = keep[gap:] & np.roll(keep[:-gap], shift[::-1], axis=(1, 2))
    return float(((grey[gap:] - moved) ** 2)[valid].mean()) if valid.any() else np.inf


def classify_camera(smooth: np.ndarray, keep: np.ndarray, background: str, gap: int = 4) -> str:
    """The camera's pan: of a still background and one moved by each pan direction (at the world's pan speed,
    or half or twice it), the one that best predicts each frame from the one ``gap`` before (a pan to the
    left moves the background right). Plain backgrounds show no pan."""
    if background in ("black", "gray", "white", "gradient"):
        return "static"
    grey = smooth.mean(axis=-1)
    step = PAN_SPEED * smooth.shape[1] * gap
    errors = {"static": _pan_error(grey, keep, (0, 0), gap)}
    for camera in CAMERAS[1:]:
        dx, dy = DIRECTIONS[camera]
        errors[camera] = min(_pan_error(grey, keep, (round(-dx * step * f), round(-dy * step * f)), gap)
                             for f in (0.5, 1.0, 2.0))
    return min(errors, key=errors.get)


def detect_scene(video: np.ndarray) -> SceneDetection:
    """Objects, background and camera of a video (T, H, W, 3) uint8 of at least ``MIN_FRAMES`` frames."""
    video = np.asarray(video)
    if video.ndim != 4 or video.shape[-1] != 3:
        raise ValueError(f"expected a video (T, H, W, 3), got shape {video.shape}")
    if video.shape[0] < MIN_FRAMES:
        raise ValueError(f"world-v2 detection needs at least {MIN_FRAMES} frames (a bounce cycle), got {video.shape[0]}")
    smooth = _smooth(video)
    keep = _background_pixels(smooth)
    background = classify_background(smooth, keep)
    return SceneDetection(tuple(detect_objects(video, smooth)), background, classify_camera(smooth, keep, background))


OBJECT_FIELDS = ObjectAttributes._fields


def _agreement(prompted: ObjectAttributes, found: ObjectDetection | None) -> tuple[bool, ...]:
    """Per attribute: unprompted (None) or equal to the detection's."""
    seen = found.attributes if found is not None else ObjectAttributes(None, None, None, None, None)
    return tuple(p is None or (q is not None and p == q) for p, q in zip(prompted, seen))


def detect_adherence(video: np.ndarray, prompt: str) -> dict:
    """Whether a video shows what ``prompt`` asks for.

    Prompted objects are matched one-to-one to detections so as to agree on the most attributes. Keys:
    one per object attribute ("color", "shape", "motion", "size", "speed": every prompted object's
    attribute found; ``None`` if no object's is prompted), "background" and "camera" (``None`` if
    unprompted), "count" (as many objects as prompted) and "match" (every prompted attribute right).
    """
    scene = parse_scene(prompt)
    if not scene.objects:
        raise ValueError(f"no object (colour, shape or motion) in prompt {prompt!r}")
    found = detect_scene(video)
    dets: list[ObjectDetection | None] = list(found.objects)
    dets += [None] * max(0, len(scene.objects) - len(dets))
    best = max(([_agreement(p, d) for p, d in zip(scene.objects, a)] for a in itertools.permutations(dets, len(scene.objects))),
               key=lambda agree: sum(map(sum, agree)))
    result: dict = {}
    for i, name in enumerate(OBJECT_FIELDS):
        prompted = any(o[i] is not None for o in scene.objects)
        result[name] = all(a[i] for a in best) if prompted else None
    result["background"] = None if scene.background is None else found.background == scene.background
    result["camera"] = None if scene.camera is None else found.camera == scene.camera
    result["count"] = len(found.objects) == len(scene.objects)
    result["match"] = all(v for k, v in result.items() if k != "count" and v is not None)
    return result
