"""Reading videos (files through streamdit's video reader, or folders of frame images): as a stream of
uint8 frames (H, W, 3) (`iter_frames`: one frame in memory at a time), or as a uint8 array (T, H, W, 3) of
only the frames a metric samples (`load_video`), refused with a one-line error naming the video and the
memory it needs when that array cannot fit.

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
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Literal, Sequence, Union

import numpy as np
from PIL import Image

if TYPE_CHECKING:  # torch is imported by the metrics that need it: frame-only metrics run without it
    import torch

VIDEO_EXTENSIONS = (".mp4", ".webm", ".gif", ".avi", ".mov", ".mkv")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
Sampling = Literal["consecutive", "uniform"]
VideoLike = Union[str, Path, np.ndarray, "torch.Tensor"]  # a path (file or frame folder) or an in-memory video


class VideoLoadError(ValueError):
    """A video (or a directory of videos, or a prompt list) cannot be used; `skip_bad_helps`: whether
    `--skip-bad` (which skips undecodable and too short videos) would get past it."""

    skip_bad_helps = True


class VideoFolderError(VideoLoadError):
    """A folder of videos that cannot be used as a whole (missing, not a folder, no videos in it)."""

    skip_bad_helps = False


class VideoMemoryError(VideoLoadError):
    """The frames a metric holds of a video cannot fit in memory (the message says how much they need)."""

    skip_bad_helps = False


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
    """Check each video with the sampling a metric will use: (usable paths, {name: why not} for the others).
    Decodes each video (up to the frames the sampling needs) once more than the metric does, one frame at a
    time: nothing is held."""
    good, bad = [], {}
    for path in videos:
        try:
            needed = _frames_needed(num_frames, sampling, stride, min_frames)
            _check_length(Path(path), sum(1 for _ in itertools.islice(iter_frames(path), needed)), num_frames,
                          sampling, stride, min_frames)
        except VideoLoadError as err:
            bad[Path(path).name] = str(err).removeprefix(f"{path}: ")
        else:
            good.append(path)
    return good, bad


def iter_frames(video: VideoLike) -> Iterator[np.ndarray]:
    """The frames of a video one at a time, uint8 (H, W, 3): a file is decoded lazily by streamdit's video
    reader (PyAV), a frame folder read image by image, an in-memory video checked and walked. Only the
    frame in hand is held; a file that fails to decode is a `VideoLoadError` naming it."""
    if not isinstance(video, (str, Path)):
        yield from as_video(video, min_frames=0)
        return
    path = Path(video)
    if not path.exists():
        raise VideoLoadError(f"{path}: no such file or folder")
    if path.is_dir():
        yield from _iter_frame_folder(path)
        return
    from streamdit import VideoReadError, iter_video_frames

    try:
        yield from iter_video_frames(path)
    except VideoReadError as err:
        raise VideoLoadError(f"{path}: {err.reason}") from err


def _iter_frame_folder(folder: Path) -> Iterator[np.ndarray]:
    files = _frame_files(folder)
    if not files:
        raise VideoLoadError(f"{folder}: empty frame folder (no {'/'.join(IMAGE_EXTENSIONS)} files)")
    shape = None
    for f in files:
        try:
            with Image.open(f) as im:
                frame = np.asarray(im.convert("RGB"))
        except OSError as err:
            raise VideoLoadError(f"{f}: cannot read frame image ({err})") from err
        if shape is not None and frame.shape != shape:
            raise VideoLoadError(f"{folder}: frame images differ in size")
        shape = frame.shape
        yield frame


def count_frames(path: str | Path) -> int:
    """The number of frames of a video file or frame folder: the container's declared count where it gives
    one (no decoding), else counted by decoding frame by frame (nothing is held)."""
    from streamdit import VideoReadError, video_frame_count

    path = Path(path)
    if path.is_dir():
        return len(_frame_files(path))
    try:
        declared = video_frame_count(path) if path.is_file() else 0
    except VideoReadError as err:
        raise VideoLoadError(f"{path}: {err.reason}") from err
    return declared or sum(1 for _ in iter_frames(path))


def memory_available() -> int:
    """Bytes of memory this process can still take (psutil's `available`: free plus reclaimable caches)."""
    import psutil

    return int(psutil.virtual_memory().available)


def _too_big(path: Path, frames: int, shape: tuple[int, ...], available: int | None) -> VideoMemoryError:
    """The one-line error for frames that cannot be held: what they need, and what is available (None: the
    allocation failed although the machine has the memory, e.g. under a per-process limit)."""
    need = frames * int(np.prod(shape))
    why = f"{available / 2**30:.2f} GiB are available" if available is not None else "allocating them failed"
    return VideoMemoryError(f"{path}: {frames} frames of {shape[1]}x{shape[0]} need {need / 2**30:.2f} GiB of memory "
                          f"at once, {why}: use fewer frames (e.g. --num-frames) or a machine with more memory")


def _hold(path: Path, frames: Iterator[np.ndarray], count: int) -> np.ndarray:
    """Up to `count` frames into one preallocated uint8 array (T, H, W, 3), after checking that it fits in
    the memory available; fewer frames give a shorter view of it. An allocation that still fails is the same
    one-line `VideoLoadError`, never a MemoryError."""
    first = next(frames, None)
    if first is None:
        raise VideoLoadError(f"{path}: the file decodes to no frames (empty or corrupt)")
    available = memory_available()
    if count * first.nbytes > available:
        raise _too_big(path, count, first.shape, available)
    try:
        video = np.empty((count, *first.shape), np.uint8)
    except MemoryError:
        raise _too_big(path, count, first.shape, None) from None
    video[0] = first
    n = 1
    for n, frame in enumerate(itertools.islice(frames, count - 1), start=2):
        video[n - 1] = frame
    return video[:n]


def _frames_needed(num_frames: int | None, sampling: Sampling, stride: int, min_frames: int) -> int | None:
    """How many frames from the start a sampling reads (None: all)."""
    if num_frames is None or sampling == "uniform":
        return None
    return max((num_frames - 1) * stride + 1, min_frames)


def _length_problem(length: int, num_frames: int | None, sampling: Sampling, stride: int,
                    min_frames: int) -> str | None:
    """Why a video of `length` frames cannot be sampled so (None: it can)."""
    if length == 0:
        return "the file decodes to no frames (empty or corrupt)"
    if length < min_frames:
        return f"{length} frame(s); at least {min_frames} are needed for a video metric"
    if num_frames is None:
        return None
    if sampling == "uniform":
        return f"video has {length} frames, {num_frames} requested" if length < num_frames else None
    needed = (num_frames - 1) * stride + 1
    if length < needed:
        return (f"video has {length} frames, {needed} needed for {num_frames} frames at stride {stride} "
                "(lower --num-frames or --stride)")
    return None


def _check_length(path: Path, length: int, num_frames: int | None, sampling: Sampling, stride: int,
                  min_frames: int) -> None:
    """A VideoLoadError naming the video when it has fewer frames than the metric or the sampling needs."""
    problem = _length_problem(length, num_frames, sampling, stride, min_frames)
    if problem:
        raise VideoLoadError(f"{path}: {problem}")


def _picks(length: int, num_frames: int | None, sampling: Sampling, stride: int) -> np.ndarray:
    """The indices of the frames a sampling takes from a video of `length` frames (`sample_frames`' rule)."""
    if num_frames is None:
        return np.arange(0, length, stride)
    if sampling == "uniform":
        return np.linspace(0, length - 1, num_frames).round().astype(int)
    return np.arange(num_frames) * stride


def _read_picked(path: Path, picks: np.ndarray, stop: int | None) -> tuple[np.ndarray, int]:
    """The frames at `picks` (increasing indices) of a video, decoded one by one with only those kept, and the
    number of frames read: all of them, or the first `stop`."""
    wanted = set(picks.tolist())
    seen = 0

    def kept() -> Iterator[np.ndarray]:
        nonlocal seen
        for index, frame in enumerate(itertools.islice(iter_frames(path), stop)):
            seen = index + 1
            if index in wanted:
                yield frame

    frames = kept()
    held = _hold(path, frames, len(wanted))
    for _ in frames:  # read on (dropping frames) to learn the length
        pass
    return held, seen


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
    problem = _length_problem(len(video), num_frames, sampling, stride, min_frames=1)
    if problem:
        raise VideoLoadError(problem)
    return video[_picks(len(video), num_frames, sampling, stride)]


def load_video(
    path: str | Path,
    num_frames: int | None = None,
    sampling: Sampling = "consecutive",
    stride: int = 1,
    min_frames: int = 2,
) -> np.ndarray:
    """A video file (streamdit's reader) or frame folder as a uint8 array (T, H, W, 3) of the sampled frames
    (`sample_frames`' rule): only the frames the sampling takes are held (the others are decoded and dropped
    one by one), consecutive sampling reads only as far as it needs, and frames that cannot fit in the memory
    available are a one-line `VideoLoadError` naming the video and the memory they need."""
    path = Path(path)
    if not path.exists():
        raise VideoLoadError(f"{path}: no such file or folder")
    if num_frames is not None and num_frames < 1 or stride < 1:
        raise VideoLoadError(f"{path}: --num-frames and --stride must be at least 1")
    stop = _frames_needed(num_frames, sampling, stride, min_frames)
    length = stop if stop is not None else count_frames(path)  # uniform and all frames: the declared length
    video, seen = _read_picked(path, _picks(max(length, 1), num_frames, sampling, stride), stop)
    _check_length(path, seen, num_frames, sampling, stride, min_frames)
    if stop is None and seen != length:  # the file declared another length than it decodes to: pick again
        video, _ = _read_picked(path, _picks(seen, num_frames, sampling, stride), None)
    return video


def load_any(video: VideoLike, num_frames: int | None = None, sampling: Sampling = "consecutive", stride: int = 1) -> np.ndarray:
    """A path (file or frame folder) or an in-memory video, checked and frame-sampled."""
    if isinstance(video, (str, Path)):
        return load_video(video, num_frames, sampling, stride)
    return sample_frames(as_video(video), num_frames, sampling, stride)


def as_video(video: "np.ndarray | torch.Tensor", min_frames: int = 2) -> np.ndarray:
    """Check and convert one in-memory video (uint8 (T, H, W, 3) array or tensor) to a numpy array."""
    torch = sys.modules.get("torch")  # not imported: then `video` is no tensor
    if torch is not None and isinstance(video, torch.Tensor):
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
