"""A toy study with tiny generated videos, for trying the server, the benchmark and the tests."""
from __future__ import annotations

import csv
from pathlib import Path

import av
import numpy as np

from .media import BITEXACT
from .study import build_pairs, write_default_study, write_pairs


def write_video(path: str | Path, frames: np.ndarray, fps: int = 8) -> None:
    """Encode uint8 frames (T, H, W, 3) as H.264 MP4 (H and W even), with no metadata tags (a study refuses them)."""
    with av.open(str(path), mode="w", container_options=BITEXACT) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def moving_square(seed: int, frames: int = 8, size: int = 32) -> np.ndarray:
    """A coloured square moving over a plain background; ``seed`` picks colours and direction."""
    rng = np.random.default_rng(seed)
    background, colour = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    step = rng.integers(-3, 4, 2)
    video = np.empty((frames, size, size, 3), np.uint8)
    video[:] = background
    side = size // 4
    for t in range(frames):
        y, x = (np.array([size // 2, size // 2]) + t * step) % (size - side)
        video[t, y:y + side, x:x + side] = colour
    return video


def make_toy_study(root: str | Path, systems: int = 3, prompts: int = 4, gold: int = 1,
                   frames: int = 8, size: int = 32) -> Path:
    """Write a study directory: ``systems`` folders of videos for ``prompts`` prompts, all pairs, plus
    ``gold`` attention items whose "broken" video is all black (the other one must win)."""
    root = Path(root)
    names = [f"system_{chr(ord('a') + s)}" for s in range(systems)]
    for s, name in enumerate(names):
        (root / "videos" / name).mkdir(parents=True, exist_ok=True)
        for p in range(prompts):
            write_video(root / "videos" / name / f"{p:03d}.mp4", moving_square(1000 * s + p, frames, size))
    texts = {f"{p:03d}": f"a coloured square moving across the frame, take {p}" for p in range(prompts)}
    pairs = build_pairs(root, [root / "videos" / n for n in names], texts)
    if gold:
        (root / "gold").mkdir(exist_ok=True)
        write_video(root / "gold" / "broken.mp4", np.zeros((frames, size, size, 3), np.uint8))
        for g in range(gold):
            write_video(root / "gold" / f"good_{g}.mp4", moving_square(10_000 + g, frames, size))
    write_pairs(pairs, root / "pairs.csv")
    if gold:
        with (root / "pairs.csv").open("a", newline="", encoding="utf-8") as f:
            for g in range(gold):
                csv.writer(f).writerow((f"gold{g}", "a coloured square moving across the frame", "good", f"gold/good_{g}.mp4",
                                        "broken", "gold/broken.mp4", "a"))
    write_default_study(root / "study.json")
    return root
