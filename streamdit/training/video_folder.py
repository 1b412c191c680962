"""Captioned videos from a folder, in the Hugging Face ``videofolder`` layout.

``ROOT/metadata.csv`` has the columns ``file_name`` (a path relative to ``ROOT``) and ``text`` (the
caption); the videos (mp4, webm, avi, gif, ...) are decoded with PyAV. Each item is a clip of
``num_frames`` consecutive frames, centre-cropped to the target aspect ratio and resized with
``torch.nn.functional.interpolate`` (bilinear, antialiased) to ``(height, width)``: a uint8 tensor
``(T, H, W, 3)`` and its caption.
"""

from __future__ import annotations

import csv
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from streamdit.video_io import iter_video_frames, video_frame_count

METADATA = "metadata.csv"


class VideoFolder(torch.utils.data.Dataset):
    """Map-style dataset of ``(uint8 clip (T, H, W, 3), caption)``; ``stream(seed)`` loops over it forever.

    ``random_start``: the clip starts at a uniformly random frame (drawn from the global torch RNG);
    otherwise at the first frame.
    """

    def __init__(self, root: str | Path, num_frames: int, size: tuple[int, int], random_start: bool = True) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"video folder {self.root} does not exist")
        metadata = self.root / METADATA
        if not metadata.is_file():
            raise FileNotFoundError(f"{metadata} not found: a video folder needs a {METADATA} with columns "
                                    "file_name, text")
        with metadata.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = {"file_name", "text"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{metadata} lacks the column(s) {sorted(missing)}; found {reader.fieldnames}")
            self.items = [(self.root / row["file_name"], row["text"]) for row in reader]
        if not self.items:
            raise ValueError(f"{metadata} lists no videos")
        absent = [str(p) for p, _ in self.items if not p.is_file()]
        if absent:
            raise FileNotFoundError(f"{len(absent)} video(s) listed in {metadata} do not exist, e.g. {absent[0]}")
        self.num_frames, self.size, self.random_start = num_frames, tuple(size), random_start

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, str]:
        path, caption = self.items[index]
        return resize_video(self._read_clip(path), self.size), caption

    def stream(self, seed: int = 0) -> Iterator[tuple[torch.Tensor, str]]:
        """Endless shuffled passes over the folder (one permutation per pass, seeded)."""
        generator = torch.Generator().manual_seed(seed)
        while True:
            for index in torch.randperm(len(self), generator=generator).tolist():
                yield self[index]

    def _read_clip(self, path: Path) -> np.ndarray:
        known = video_frame_count(path)  # 0 when the container does not say
        start = 0
        if self.random_start and known > self.num_frames:
            start = int(torch.randint(known - self.num_frames + 1, ()))
        decode_all = self.random_start and not known  # the start needs the true length
        frames = list(iter_video_frames(path) if decode_all else islice(iter_video_frames(path), start + self.num_frames))
        if len(frames) < self.num_frames:
            raise ValueError(f"{path} has {len(frames)} frames; clips need {self.num_frames}")
        if decode_all:
            start = int(torch.randint(len(frames) - self.num_frames + 1, ()))
        start = min(start, len(frames) - self.num_frames)  # the container may overstate its frame count
        return np.stack(frames[start:start + self.num_frames])


def resize_video(frames: np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Centre-crop uint8 frames ``(T, H, W, 3)`` to the aspect ratio of ``size = (height, width)`` and resize."""
    video = torch.as_tensor(frames).permute(0, 3, 1, 2).float()
    height, width = video.shape[-2:]
    if (height, width) == tuple(size):
        return torch.as_tensor(frames)
    crop_h, crop_w = min(height, round(width * size[0] / size[1])), min(width, round(height * size[1] / size[0]))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    video = video[..., top:top + crop_h, left:left + crop_w]
    video = F.interpolate(video, size=tuple(size), mode="bilinear", antialias=True, align_corners=False)
    return video.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
