"""Reading videos (files through PyAV, or folders of frame images) into uint8 arrays (T, H, W, 3).

A "video" in this package is a uint8 array or tensor of shape (T, H, W, 3). Directories of videos hold
video files (mp4, webm, gif, avi, mov, mkv) and/or frame folders (a sub-directory of png/jpg images,
read in natural sort order). Every failure is a `VideoLoadError` naming the file and what is wrong.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path
from typing import Literal, Sequence

import av
import numpy as np
import torch
from PIL import Image

VIDEO_EXTENSIONS = (".mp4", ".webm", ".gif", ".avi", ".mov", ".mkv")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
Sampling = Literal["consecutive", "uniform"]


class VideoLoadError(ValueError):
    """A video (or a directory of videos, or a prompt list) cannot be used."""


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _frame_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key)


def list_videos(directory: str | Path) -> list[Path]:
    """Video files and frame folders directly inside `directory`, sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise VideoLoadError(f"{directory}: not a directory of videos")
    found = [
        p
        for p in directory.iterdir()
        if (p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS) or (p.is_dir() and _frame_files(p))
    ]
    if not found:
        raise VideoLoadError(
            f"{directory}: no videos found (expected files ending in {', '.join(VIDEO_EXTENSIONS)} "
            f"or sub-folders of {'/'.join(IMAGE_EXTENSIONS)} frames)"
        )
    return sorted(found, key=_natural_key)


def _decode_file(path: Path, limit: int | None = None) -> np.ndarray:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoLoadError(f"{path}: no video stream in this file")
            frames = []
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if limit is not None and len(frames) >= limit:
                    break
    except (av.error.FFmpegError, UnicodeDecodeError) as err:
        raise VideoLoadError(f"{path}: cannot decode video ({err})") from err
    if not frames:
        raise VideoLoadError(f"{path}: the file decodes to no frames (empty or corrupt)")
    return np.stack(frames)


def _read_frame_folder(folder: Path, limit: int | None = None) -> np.ndarray:
    files = _frame_files(folder)
    if not files:
        raise VideoLoadError(f"{folder}: empty frame folder (no {'/'.join(IMAGE_EXTENSIONS)} files)")
    frames = []
    for f in files[:limit]:
        try:
            with Image.open(f) as im:
                frames.append(np.asarray(im.convert("RGB")))
        except OSError as err:
            raise VideoLoadError(f"{f}: cannot read frame image ({err})") from err
    if len({fr.shape for fr in frames}) != 1:
        raise VideoLoadError(f"{folder}: frame images differ in size")
    return np.stack(frames)


def sample_frames(video: np.ndarray, num_frames: int | None, sampling: Sampling = "consecutive", stride: int = 1) -> np.ndarray:
    """Pick `num_frames` frames: `consecutive` takes frames 0, stride, 2*stride, ... (StyleGAN-V's FVD
    clips start at frame 0 of generated videos); `uniform` spreads them evenly over the whole video."""
    if num_frames is None:
        return video[::stride]
    if sampling == "uniform":
        if len(video) < num_frames:
            raise VideoLoadError(f"video has {len(video)} frames, {num_frames} requested")
        return video[np.linspace(0, len(video) - 1, num_frames).round().astype(int)]
    needed = (num_frames - 1) * stride + 1
    if len(video) < needed:
        raise VideoLoadError(
            f"video has {len(video)} frames, {needed} needed for {num_frames} frames at stride {stride} "
            "(lower --num-frames or --stride)"
        )
    return video[: needed : stride]


def load_video(
    path: str | Path,
    num_frames: int | None = None,
    sampling: Sampling = "consecutive",
    stride: int = 1,
    min_frames: int = 2,
) -> np.ndarray:
    """Read a video file (PyAV) or a frame folder into a uint8 array (T, H, W, 3), then sample frames
    (consecutive sampling reads only the frames it needs)."""
    path = Path(path)
    if not path.exists():
        raise VideoLoadError(f"{path}: no such file or folder")
    limit = None
    if num_frames is not None and sampling == "consecutive":
        limit = max((num_frames - 1) * stride + 1, min_frames)
    video = _read_frame_folder(path, limit) if path.is_dir() else _decode_file(path, limit)
    if len(video) < min_frames:
        raise VideoLoadError(f"{path}: {len(video)} frame(s); at least {min_frames} are needed for a video metric")
    try:
        return sample_frames(video, num_frames, sampling, stride)
    except VideoLoadError as err:
        raise VideoLoadError(f"{path}: {err}") from None


def as_video(video: np.ndarray | torch.Tensor, min_frames: int = 2) -> np.ndarray:
    """Check and convert one in-memory video (uint8 (T, H, W, 3) array or tensor) to a numpy array."""
    if isinstance(video, torch.Tensor):
        video = video.detach().cpu().numpy()
    video = np.asarray(video)
    if video.dtype != np.uint8:
        raise VideoLoadError(f"a video must be uint8 in 0..255, got dtype {video.dtype}")
    if video.ndim != 4 or video.shape[-1] != 3:
        raise VideoLoadError(f"a video must have shape (T, H, W, 3), got {video.shape}")
    if len(video) < min_frames:
        raise VideoLoadError(f"the video has {len(video)} frame(s); at least {min_frames} are needed")
    return video


def content_hash(path: str | Path) -> str:
    """SHA-256 of a file's bytes, or of a frame folder's frame files (names and bytes) in order."""
    path = Path(path)
    digest = hashlib.sha256()
    files = _frame_files(path) if path.is_dir() else [path]
    for f in files:
        if path.is_dir():
            digest.update(f.name.encode())
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_prompts(prompts_file: str | Path, videos: Sequence[Path]) -> list[str]:
    """Prompts for `videos`, from a .txt file (one prompt per line, in the sorted order of the videos),
    a .csv with columns `video,prompt`, or a .json object {video file name: prompt} or list."""
    prompts_file = Path(prompts_file)
    if not prompts_file.is_file():
        raise VideoLoadError(f"{prompts_file}: prompts file not found")
    suffix = prompts_file.suffix.lower()
    if suffix == ".csv":
        with open(prompts_file, newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows and not {"video", "prompt"} <= set(rows[0]):
            raise VideoLoadError(f"{prompts_file}: a prompts CSV needs the columns video,prompt")
        data: dict | list = {r["video"]: r["prompt"] for r in rows}
    elif suffix == ".json":
        data = json.loads(prompts_file.read_text())
    else:
        data = [line.strip() for line in prompts_file.read_text().splitlines() if line.strip()]
    if isinstance(data, dict):
        missing = [v.name for v in videos if v.name not in data]
        if missing:
            raise VideoLoadError(f"{prompts_file}: no prompt for {len(missing)} video(s), e.g. {missing[:3]}")
        return [str(data[v.name]) for v in videos]
    if len(data) != len(videos):
        raise VideoLoadError(
            f"{prompts_file}: {len(data)} prompts for {len(videos)} videos; give one prompt per video "
            "(one per line, in sorted video-name order) or a CSV/JSON keyed by video file name"
        )
    return [str(p) for p in data]


def read_chunk_frames(video_path: str | Path) -> int | None:
    """Chunk size from the generator's sidecar metadata: `<video file name>.json` (e.g. `a.mp4.json`,
    or `a.json` next to `a.mp4` or the frame folder `a/`) holding `{"chunk_frames": C, ...}`."""
    video_path = Path(video_path)
    for sidecar in (video_path.with_name(video_path.name + ".json"), video_path.with_suffix(".json")):
        if sidecar.is_file():
            meta = json.loads(sidecar.read_text())
            if "chunk_frames" in meta:
                return int(meta["chunk_frames"])
    return None
