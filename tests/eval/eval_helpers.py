"""Helpers for the eval tests: tiny videos written with PyAV and frame folders."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image


def moving_square_video(frames: int = 12, size: int = 32, color=(255, 0, 0), speed: int = 1, seed: int = 0) -> np.ndarray:
    """A coloured square moving right over a noisy grey background: uint8 (T, H, W, 3)."""
    rng = np.random.default_rng(seed)
    bg = rng.integers(90, 110, size=(size, size, 3), dtype=np.uint8)
    video = np.repeat(bg[None], frames, axis=0)
    for t in range(frames):
        x = (2 + t * speed) % (size - 8)
        video[t, 10:18, x:x + 8] = color
    return video


def write_video(path: Path, video: np.ndarray, fps: int = 8) -> Path:
    """Encode uint8 (T, H, W, 3) frames to `path` (codec chosen from the extension)."""
    codec = {".mp4": "libx264", ".avi": "mpeg4", ".webm": "libvpx", ".gif": "gif"}[path.suffix]
    pix_fmt = {"gif": "rgb8"}.get(codec, "yuv420p")
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = video.shape[2], video.shape[1], pix_fmt
        if codec == "libx264":
            stream.options = {"crf": "0"}
        for frame in video:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    return path


def write_frame_folder(folder: Path, video: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    for i, frame in enumerate(video):
        Image.fromarray(frame).save(folder / f"{i}.png")
    return folder
