"""Samples of the synthetic domain: the infinite training stream, long videos whose caption changes,
and the deterministic evaluation sets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .captions import caption
from .domain import (BACKGROUNDS, VideoSpec, sample_objects, sample_spec,
                     sample_triples, split_triples)
from .render import render


def stream(seed: int = 0, num_frames: int = 16, split: str = "train", resolution: int = 128,
           worker_id: int = 0, canonical: bool = False) -> Iterator[tuple[np.ndarray, str]]:
    """Endless (video uint8 (T, H, W, 3), caption) pairs; distinct and reproducible per (seed, worker_id).

    Captions use random templates and synonyms, or the canonical wording if ``canonical``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, worker_id]))
    while True:
        spec = sample_spec(rng, split, resolution=resolution)
        yield render(spec, num_frames), caption(spec, None if canonical else rng)


class SyntheticVideoDataset(IterableDataset):
    """Infinite training stream for a ``DataLoader``; each worker draws its own seeded stream.

    Batches collate to (uint8 tensor (B, T, H, W, 3), list of captions).
    """

    def __init__(self, num_frames: int = 16, split: str = "train", resolution: int = 128, seed: int = 0,
                 canonical: bool = False):
        self.num_frames, self.split, self.resolution = num_frames, split, resolution
        self.seed, self.canonical = seed, canonical

    def __iter__(self) -> Iterator[tuple[torch.Tensor, str]]:
        info = get_worker_info()
        worker = 0 if info is None else info.id
        for video, text in stream(self.seed, self.num_frames, self.split, self.resolution, worker, self.canonical):
            yield torch.from_numpy(video), text


def _mutate(rng: np.random.Generator, spec: VideoSpec, split: str) -> VideoSpec:
    """``spec`` with one thing changed: the background (1 in 5) or one object's attributes (as few as
    possible: one in the train split), keeping colours distinct and every triple inside ``split``."""
    if rng.uniform() < 0.2:
        others = [b for b in BACKGROUNDS if b != spec.background]
        return replace(spec, background=others[rng.integers(len(others))])
    allowed = split_triples(split)  # ordered: iteration must not depend on hash seeds
    used = {o.color for o in spec.objects}
    candidates = [(i, replace(o, color=c, shape=s, direction=d)) for i, o in enumerate(spec.objects)
                  for c, s, d in allowed if c == o.color or c not in used]
    differences = [sum(a != b for a, b in zip(new.attributes, spec.objects[i].attributes)) for i, new in candidates]
    # One attribute if the split allows it; held-out triples share no pair, so there a whole triple changes.
    fewest = min(d for d in differences if d > 0)
    options = [c for c, d in zip(candidates, differences) if d == fewest]
    i, changed = options[rng.integers(len(options))]
    objects = list(spec.objects)
    objects[i] = changed
    return replace(spec, objects=tuple(objects))


def sample_long(rng: np.random.Generator, num_frames: int = 128, segment_frames: int = 32,
                split: str = "train", num_objects: int | None = None,
                resolution: int = 128) -> list[tuple[int, VideoSpec]]:
    """(start frame, spec) segments of a long video: every ``segment_frames`` one thing changes.

    Objects keep moving continuously across a change (each segment's spec starts where the last ended).
    """
    spec = sample_spec(rng, split, num_objects, resolution)
    segments = [(0, spec)]
    for start in range(segment_frames, num_frames, segment_frames):
        spec = _mutate(rng, spec.advance(segment_frames), split)
        segments.append((start, spec))
    return segments


def render_segments(segments: list[tuple[int, VideoSpec]], num_frames: int) -> np.ndarray:
    """Render (start frame, spec) segments into one uint8 video of ``num_frames`` frames."""
    ends = [start for start, _ in segments[1:]] + [num_frames]
    return np.concatenate([render(spec, end - start) for (start, spec), end in zip(segments, ends)])


def long_video(rng: np.random.Generator, num_frames: int = 128, segment_frames: int = 32,
               split: str = "train", num_objects: int | None = None,
               resolution: int = 128) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """A long video whose caption changes every ``segment_frames``: (video, [(start frame, caption)])."""
    segments = sample_long(rng, num_frames, segment_frames, split, num_objects, resolution)
    return render_segments(segments, num_frames), [(start, caption(spec, rng)) for start, spec in segments]


def evaluation_set(split: str = "heldout", n: int = 48, seed: int = 0, num_objects: int = 1,
                   resolution: int = 128) -> list[tuple[VideoSpec, str]]:
    """Deterministic (spec, canonical caption) pairs for evaluation.

    The first object of item i cycles through the split's triples (in a seeded order) and the
    background through the kinds, shifted by one each round of triples, so n = 48 shows each of the 12
    held-out triples on each of the 4 backgrounds.
    """
    rng = np.random.default_rng(seed)
    triples = list(split_triples(split))
    order = rng.permutation(len(triples))
    items = []
    for i in range(n):
        chosen = sample_triples(rng, split, num_objects, (triples[order[i % len(triples)]],))
        background = list(BACKGROUNDS)[(i + i // len(triples)) % len(BACKGROUNDS)]
        spec = VideoSpec(sample_objects(rng, chosen), background, float(rng.uniform()), resolution)
        items.append((spec, caption(spec)))
    return items


def eval_prompts(split: str = "heldout", n: int = 48, seed: int = 0, num_objects: int = 1) -> list[str]:
    """The canonical captions of ``evaluation_set`` (deterministic)."""
    return [text for _, text in evaluation_set(split, n, seed, num_objects)]
