"""Checked inputs of the demo: prompts, uploaded videos and the webcam feed, as frames the pipeline takes."""

from __future__ import annotations

import html
import threading
import time
from itertools import chain
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from streamdit import MAX_PROMPT_CHARS, iter_video_frames

MIN_SIDE, MAX_SIDE = 16, 4096  # accepted input video frame sides, in pixels


class InputError(ValueError):
    """An input the demo refuses, with a message meant for the page."""


def check_prompt(prompt: str | None) -> str:
    """The stripped prompt, or an :class:`InputError` for an empty or over-long one."""
    text = (prompt or "").strip()
    if not text:
        raise InputError("Enter a prompt, e.g. “a red circle moving left on a dark background”.")
    if len(text) > MAX_PROMPT_CHARS:
        raise InputError(f"The prompt is {len(text):,} characters long; the limit is {MAX_PROMPT_CHARS:,}.")
    return text


def fit_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre-crop a uint8 frame ``(H, W, 3)`` to the aspect of ``size = (height, width)`` and resize it."""
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    height, width = frame.shape[:2]
    if not (MIN_SIDE <= height <= MAX_SIDE and MIN_SIDE <= width <= MAX_SIDE):
        raise InputError(f"The video is {width}x{height} pixels; each side must be between {MIN_SIDE} and {MAX_SIDE}.")
    target_h, target_w = size
    crop_h, crop_w = min(height, width * target_h // target_w), min(width, height * target_w // target_h)
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    image = Image.fromarray(frame[top:top + crop_h, left:left + crop_w])
    return np.asarray(image.resize((target_w, target_h), Image.Resampling.BILINEAR))


def upload_problem(exc: Exception, name: str) -> str:
    """What is wrong with an uploaded file, for the page: its name and the problem, no server path or errno."""
    shown = html.escape(name)
    if isinstance(exc, FileNotFoundError):
        return f"Cannot read the uploaded video “{shown}”: the file did not reach the server. Upload it again."
    if "no video stream" in str(exc):
        return f"Cannot read the uploaded video “{shown}”: it has no video track (audio only?). Upload a video file."
    cause = exc.__cause__
    reason = getattr(cause, "strerror", None) or "the file is damaged or not a video"
    return (f"Cannot read the uploaded video “{shown}”: {reason[0].lower()}{reason[1:]}. "
            "Upload an MP4, WebM or MOV video file.")


def video_frames(path: str | Path, size: tuple[int, int], min_frames: int) -> Iterator[np.ndarray]:
    """Frames of an uploaded video fitted to ``size``; the first ``min_frames`` are read (and checked) now."""
    frames = iter_video_frames(path)
    try:
        head = [fit_frame(frame, size) for _, frame in zip(range(min_frames), frames)]
    except (ValueError, FileNotFoundError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(upload_problem(exc, Path(path).name)) from exc
    if len(head) < min_frames:
        raise InputError(f"The uploaded video has {len(head)} frame(s); at least {min_frames} are needed.")
    return chain(head, (fit_frame(frame, size) for frame in frames))


class WebcamFeed:
    """The latest webcam frame of a session; ``frames()`` serves it to the pipeline as often as it asks."""

    def __init__(self, idle_timeout: float = 5.0) -> None:
        self.idle_timeout = idle_timeout
        self._frame: np.ndarray | None = None
        self._updated = 0.0
        self._arrived = threading.Condition()

    def push(self, frame: np.ndarray) -> None:
        with self._arrived:
            self._frame, self._updated = frame, time.monotonic()
            self._arrived.notify_all()

    def wait(self, timeout: float) -> bool:
        """True once a frame newer than ``idle_timeout`` is there (waiting up to ``timeout`` seconds)."""
        with self._arrived:
            return self._arrived.wait_for(
                lambda: self._frame is not None and time.monotonic() - self._updated <= self.idle_timeout, timeout)

    def frames(self, size: tuple[int, int], stop: threading.Event) -> Iterator[np.ndarray]:
        """Fitted frames until ``stop`` is set or no new frame came for ``idle_timeout`` seconds."""
        source, fitted = None, None
        while not stop.is_set():
            with self._arrived:
                if self._frame is None or time.monotonic() - self._updated > self.idle_timeout:
                    if not self._arrived.wait(timeout=self.idle_timeout):
                        return
                frame = self._frame
            if frame is not source:  # the camera is slower than the model: fit each new frame once
                source, fitted = frame, fit_frame(frame, size)
            yield fitted
