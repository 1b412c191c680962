"""Feature-extraction throughput (videos/s) of I3D and CLIP: this package's batched path against a naive
per-video loop. Random weights of the real architectures: the speed is that of the real networks, the
features are meaningless. Videos are random uint8 arrays already in memory (decoding is not timed)."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import open_clip
import pandas as pd
import torch
from PIL import Image

from .clip import CLIP, DEFAULT_CLIP_ARCH
from .i3d import I3D, InceptionI3d


def _videos_per_second(fn: Callable[[], object], num_videos: int) -> float:
    start = time.perf_counter()
    fn()
    return num_videos / (time.perf_counter() - start)


def run_bench(num_videos: int = 4, frames: int = 16, size: int = 128, device: str = "cpu",
              clip_arch: str = DEFAULT_CLIP_ARCH, seed: int = 0) -> pd.DataFrame:
    """Throughput table: model, batched and naive videos/s, and their ratio."""
    torch.manual_seed(seed)
    videos = list(np.random.default_rng(seed).integers(0, 256, (num_videos, frames, size, size, 3), dtype=np.uint8))
    rows = []

    i3d = I3D(InceptionI3d(), device=device, batch_size=num_videos)
    i3d.encode_videos(videos[:1])  # warm-up
    rows.append(("I3D (FVD)",
                 _videos_per_second(lambda: i3d.encode_videos(videos), num_videos),
                 _videos_per_second(lambda: [i3d.encode_videos([v]) for v in videos], num_videos),
                 f"one batch of {num_videos} clips", "one clip per call"))

    clip = CLIP(open_clip.create_model(clip_arch), clip_arch, device=device, batch_size=64)
    pil_transform = open_clip.image_transform(clip.size, is_train=False, mean=clip.mean, std=clip.std)

    @torch.no_grad()
    def naive_clip() -> None:
        for video in videos:
            for frame in video:
                clip.model.encode_image(pil_transform(Image.fromarray(frame))[None].to(device))

    clip.encode_videos(videos[:1])  # warm-up
    rows.append(("CLIP (clip-score)",
                 _videos_per_second(lambda: clip.encode_videos(videos), num_videos),
                 _videos_per_second(naive_clip, num_videos),
                 "frames of all videos, 64 per batch", "PIL preprocess, one frame per call"))

    table = pd.DataFrame(rows, columns=["model", "batched_videos_per_s", "naive_videos_per_s", "batched", "naive"])
    table.insert(3, "ratio", table["batched_videos_per_s"] / table["naive_videos_per_s"])
    return table
