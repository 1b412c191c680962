"""Reading videos (files through streamdit's video reader, or folders of frame images) into uint8 arrays
(T, H, W, 3).

A "video" in this package is a uint8 array or tensor of shape (T, H, W, 3). Directories of videos hold
video files (mp4, webm, gif, avi, mov, mkv) and/or frame folders (a sub-directory of png/jpg images,
read in natural sort order), listed in `sorted()` order of their names (as `LC_ALL=C ls` lists them).
Videos of a folder may differ in size: each metric resizes every video with its own reference
preprocessing before batching. Every failure is a `VideoLoadError` naming the file and what is wrong.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import torch
from PIL import Image

VIDEO_EXTENSIONS = (".mp4", ".webm", ".gif", ".avi", ".mov", ".mkv")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
Sampling = Literal["consecutive", "uniform"]


class VideoLoadError(ValueError):
    """A video (or a directory of videos, or a prompt list) cannot be used."""


class VideoFolderError(VideoLoadError):
    """A folder of videos that cannot be used as a whole (missing, not a folder, no videos in it): unlike a
    single bad video, `--skip-bad` cannot help."""


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _frame_files(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key)


def list_videos(directory: str | Path, max_videos: int | None = None) -> list[Path]:
    """Video files and frame folders directly inside `directory`, in `sorted()` order of their names
    (`clip10` before `clip2`, as `ls` lists them); the first `max_videos` of them if given."""
    directory = Path(directory)
    if not directory.is_dir():
        raise VideoFolderError(f"{directory}: {'not a folder' if directory.exists() else 'no such folder'}")
    found = [
        p
        for p in directory.iterdir()
        if (p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS) or (p.is_dir() and _frame_files(p))
    ]
    if not found:
        raise VideoFolderError(
            f"{directory}: no videos found (expected files ending in {', '.join(VIDEO_EXTENSIONS)} "
            f"or sub-folders of {'/'.join(IMAGE_EXTENSIONS)} frames)"
        )
    found = sorted(found, key=lambda p: p.name)
    if max_videos is not None:
        if max_videos < 1:
            raise VideoFolderError(f"--max-videos must be at least 1, got {max_videos}")
        found = found[:max_videos]
    return found


def split_usable(videos: Sequence[Path], num_frames: int | None = None, sampling: Sampling = "consecutive",
                 stride: int = 1, min_frames: int = 2) -> tuple[list[Path], dict[str, str]]:
    """Try to load each video with the sampling a metric will use: (usable paths, {name: why not} for
    the others). Decodes each video once more than the metric does."""
    good, bad = [], {}
    for path in videos:
        try:
            load_video(path, num_frames, sampling, stride, min_frames)
        except VideoLoadError as err:
            bad[Path(path).name] = str(err).removeprefix(f"{path}: ")
        else:
            good.append(path)
    return good, bad


def _decode_file(path: Path, limit: int | None = None) -> np.ndarray:
    """The first `limit` frames (all: None) of a video file, read by streamdit's one video reader."""
    from streamdit import VideoReadError, iter_video_frames

    try:
        frames = list(itertools.islice(iter_video_frames(path), limit))
    except VideoReadError as err:
        raise VideoLoadError(f"{path}: {err.reason}") from err
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


def video_fps(path: str | Path) -> float | None:
    """The frame rate of a video file (None for a frame folder, or a file that does not say)."""
    from streamdit import VideoReadError, video_frame_rate

    path = Path(path)
    if path.is_dir():
        return None
    try:
        return video_frame_rate(path)
    except VideoReadError as err:
        raise VideoLoadError(f"{path}: {err.reason}") from err


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
    """Read a video file (streamdit.iter_video_frames) or a frame folder into a uint8 array (T, H, W, 3), then sample frames
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
