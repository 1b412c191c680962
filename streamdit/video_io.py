"""Reading and writing video files with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np


class Mp4Writer:
    """Append uint8 frames ``(T, H, W, 3)`` to an H.264 mp4 (yuv420p, plays in browsers and players)."""

    def __init__(self, path: str | Path, fps: int, crf: int = 20) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps, self.crf = fps, crf
        self._container = av.open(str(self.path), mode="w")
        self._stream = None

    def write(self, frames: np.ndarray) -> None:
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(f"expected uint8 frames (T, H, W, 3), got {frames.dtype} {frames.shape}")
        if self._stream is None:
            height, width = frames.shape[1:3]
            if height % 2 or width % 2:
                raise ValueError(f"H.264 needs even frame sizes, got {width}x{height}")
            self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps))
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        for frame in frames:
            for packet in self._stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                self._container.mux(packet)

    def close(self) -> None:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> "Mp4Writer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_video(path: str | Path, frames: np.ndarray | Iterable[np.ndarray], fps: int, crf: int = 20) -> Path:
    """Write a whole video, or an iterable of chunks, to ``path``."""
    chunks = [frames] if isinstance(frames, np.ndarray) else frames
    with Mp4Writer(path, fps, crf) as writer:
        for chunk in chunks:
            writer.write(chunk)
    return Path(path)


class VideoReadError(ValueError):
    """A video file that cannot be read: the message names the file, ``reason`` says what is wrong without it."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _open_video(path: str | Path) -> av.container.InputContainer:
    """Open a video file for decoding; a missing file, unreadable file or no video stream is an error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video not found: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoReadError(f"cannot read video {path}: {exc}", f"cannot decode video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"{path} has no video stream", "no video stream in this file")
    return container


def _decode(container: av.container.InputContainer, path: str | Path) -> Iterator[np.ndarray]:
    try:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise VideoReadError(f"cannot decode video {path}: {exc}", f"cannot decode video ({exc})") from exc


def _frame_rate(container: av.container.InputContainer) -> float | None:
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.base_rate
    return float(rate) if rate else None


def iter_video_frames(path: str | Path) -> Iterator[np.ndarray]:
    """Decode a video file frame by frame as uint8 ``(H, W, 3)``; unreadable files raise ``VideoReadError``
    (a ``ValueError``). Stop early (``itertools.islice``) to decode only the first frames."""
    with _open_video(path) as container:
        yield from _decode(container, path)


def video_frame_rate(path: str | Path) -> float | None:
    """The frame rate a video file declares (None if it declares none), without decoding frames."""
    with _open_video(path) as container:
        return _frame_rate(container)


def video_frame_count(path: str | Path) -> int:
    """The number of frames a video file declares (0 when its container does not say), without decoding."""
    with _open_video(path) as container:
        return container.streams.video[0].frames


def read_video(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames of a video ``(T, H, W, 3)`` uint8 and its frame rate (one pass over the file)."""
    with _open_video(path) as container:
        rate = container.streams.video[0].average_rate
        frames = list(_decode(container, path))
    if not frames:
        raise VideoReadError(f"{path} contains no frames", "the file decodes to no frames (empty or corrupt)")
    return np.stack(frames), float(rate or 0) or 16.0
