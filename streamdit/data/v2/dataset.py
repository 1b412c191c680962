"""World-v2 samples: the endless training stream, long videos whose caption changes, and the deterministic
evaluation sets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from .captions import caption
from .domain import (BACKGROUNDS, SceneSpec, cameras_for, make_object, sample_objects, sample_scene, sample_triples,
                     split_triples)
from .render import render


def stream(seed: int = 0, num_frames: int = 16, split: str = "train", resolution: int = 256,
           worker_id: int = 0, canonical: bool = False) -> Iterator[tuple[np.ndarray, str]]:
    """Endless (video uint8 (T, H, W, 3), caption) pairs; distinct and reproducible per (seed, worker_id)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, worker_id, 2]))
    while True:
        spec = sample_scene(rng, split, resolution=resolution)
        yield render(spec, num_frames), caption(spec, None if canonical else rng)


def _mutate(rng: np.random.Generator, spec: SceneSpec, split: str) -> SceneSpec:
    """``spec`` with one thing changed: the background or camera (1 in 5), else one object's colour, shape
    or motion (a new object in its place with that one attribute changed, keeping colours distinct and the
    triple inside ``split``; held-out triples share no pair, so there the whole triple changes)."""
    if rng.uniform() < 0.2:
        background = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
        cameras = cameras_for(background)
        camera = spec.camera if spec.camera in cameras else cameras[rng.integers(len(cameras))]
        return replace(spec, background=background, camera=camera)
    used = {o.color for o in spec.objects}
    candidates = [(i, t) for i, o in enumerate(spec.objects) for t in split_triples(split)
                  if (t[0] == o.color or t[0] not in used) and t != o.triple]
    fewest = min(sum(a != b for a, b in zip(t, spec.objects[i].triple)) for i, t in candidates)
    options = [(i, t) for i, t in candidates if sum(a != b for a, b in zip(t, spec.objects[i].triple)) == fewest]
    i, triple = options[rng.integers(len(options))]
    old = spec.objects[i]
    new = make_object(rng, *triple, size=old.size)
    new = replace(new, x=old.position(0)[0].item(), y=old.position(0)[1].item()) if new.motion not in (
        "circle", "bounce") else new
    objects = list(spec.objects)
    objects[i] = new
    return replace(spec, objects=tuple(objects))


def sample_long(rng: np.random.Generator, num_frames: int = 128, segment_frames: int = 32, split: str = "train",
                num_objects: int | None = None, resolution: int = 256) -> list[tuple[int, SceneSpec]]:
    """(start frame, spec) segments of a long video: every ``segment_frames`` one thing changes."""
    spec = sample_scene(rng, split, num_objects, resolution)
    segments = [(0, spec)]
    for start in range(segment_frames, num_frames, segment_frames):
        spec = _mutate(rng, spec.advance(segment_frames), split)
        segments.append((start, spec))
    return segments


def render_segments(segments: list[tuple[int, SceneSpec]], num_frames: int) -> np.ndarray:
    """Render (start frame, spec) segments into one uint8 video of ``num_frames`` frames."""
    ends = [start for start, _ in segments[1:]] + [num_frames]
    return np.concatenate([render(spec, end - start) for (start, spec), end in zip(segments, ends)])


def long_video(rng: np.random.Generator, num_frames: int = 128, segment_frames: int = 32, split: str = "train",
               num_objects: int | None = None, resolution: int = 256) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """A long video whose caption changes every ``segment_frames``: (video, [(start frame, caption)])."""
    segments = sample_long(rng, num_frames, segment_frames, split, num_objects, resolution)
    return render_segments(segments, num_frames), [(start, caption(spec, rng)) for start, spec in segments]


def evaluation_set(split: str = "heldout", n: int = 96, seed: int = 0, num_objects: int | None = None,
                   resolution: int = 256) -> list[tuple[SceneSpec, str]]:
    """Deterministic (spec, canonical caption) pairs for evaluation.

    The first object of item i cycles through the split's triples (in a seeded order) and the background
    through the kinds, shifted by one each round of triples; further objects (1-3 unless ``num_objects``),
    sizes, speeds and the camera are drawn from the seed.
    """
    rng = np.random.default_rng(seed)
    triples = list(split_triples(split))
    order = rng.permutation(len(triples))
    items = []
    for i in range(n):
        k = int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25])) if num_objects is None else num_objects
        chosen = sample_triples(rng, split, k, (triples[order[i % len(triples)]],))
        background = BACKGROUNDS[(i + i // len(triples)) % len(BACKGROUNDS)]
        spec = sample_scene(rng, split, k, resolution, background)
        spec = replace(spec, objects=sample_objects(rng, chosen))
        items.append((spec, caption(spec)))
    return items


def eval_prompts(split: str = "heldout", n: int = 96, seed: int = 0, num_objects: int | None = None) -> list[str]:
    """The canonical captions of ``evaluation_set`` (deterministic)."""
    return [text for _, text in evaluation_set(split, n, seed, num_objects)]
