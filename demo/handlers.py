"""Event handlers of the demo: start a stream, steer it live, stop it, save it, feed the webcam, clean up."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import gradio as gr
import numpy as np

from demo.inputs import InputError, check_prompt, video_frames
from demo.models import ModelBank
from demo.segments import SegmentWriter
from demo.session import Session, SessionStore
from streamdit import StreamDiTPipeline, VideoStream

SOURCES = (("Text only", "text"), ("Uploaded video", "upload"), ("Webcam", "webcam"))


@dataclass(frozen=True)
class Limits:
    """Serving limits: longest stream (seconds of video), segment length, parallel streams, and how far
    (seconds of video) generation may run ahead of playback: a model faster than real time would
    otherwise finish the whole stream at once, and a prompt change could no longer reach the screen."""

    max_seconds: float = 60.0
    segment_seconds: float = 1.0
    max_streams: int = 1
    lead_seconds: float = 2.0

    def __post_init__(self) -> None:
        if self.max_seconds <= 0 or self.segment_seconds <= 0 or self.max_streams < 1 or self.lead_seconds <= 0:
            raise ValueError(f"limits must be positive, got {self}")


class Handlers:
    """The functions behind the page's events, sharing the model bank and the per-session store."""

    def __init__(self, models: ModelBank, store: SessionStore, limits: Limits) -> None:
        self.models, self.store, self.limits = models, store, limits

    def _session(self, request: gr.Request) -> Session:
        return self.store.get(request.session_hash)

    def generate(self, prompt: str, seed: float = 0, guidance: float = 0.0, model: str | None = None,
                 source: str = "text", video: str | None = None, strength: float = 0.7,
                 seconds: float | None = None, request: gr.Request = None) -> Iterator[tuple[object, str]]:
        """Stream a video for ``prompt``: yields (MPEG-TS segment path, stats) about once per second."""
        started = time.perf_counter()
        session = self._session(request)
        try:
            text = check_prompt(prompt)
            pipe = self.models.get(model)
        except InputError as exc:
            raise gr.Error(str(exc)) from exc
        seconds = min(float(seconds or self.limits.max_seconds), self.limits.max_seconds)
        max_chunks = max(1, math.ceil(seconds * pipe.sampler.fps / pipe.frames_per_chunk))
        folder, stop = session.begin()
        try:
            frames_in = self._input_frames(source, video, pipe, session, stop)
            stream = pipe.stream(text, seed=int(seed), guidance=float(guidance) or None, video=frames_in,
                                 strength=float(strength), max_chunks=max_chunks)
            segment_frames = max(1, round(self.limits.segment_seconds * pipe.sampler.fps))
            writer = SegmentWriter(folder, pipe.sampler.fps, segment_frames)
            session.attach(stream, writer)
            first_frame_s = None
            for chunk in stream:
                segment = writer.add(chunk)
                if segment is not None:
                    first_frame_s = first_frame_s or time.perf_counter() - started
                    yield str(segment), self._stats(stream, pipe, first_frame_s, "Streaming")
                    # pace to playback: wait (stoppably) while the video made runs more than lead_seconds ahead
                    played = time.perf_counter() - started - first_frame_s
                    stop.wait(max(0.0, stream.stats.frames / pipe.sampler.fps - played - self.limits.lead_seconds))
            segment = writer.flush()
            state = "Stopped" if stop.is_set() else "Finished"
            yield (str(segment) if segment is not None else gr.skip()), self._stats(stream, pipe, first_frame_s, state)
        except ValueError as exc:  # InputError included: bad upload, webcam frame of an unusable size, ...
            raise gr.Error(str(exc)) from exc
        finally:
            session.finish()

    def _stats(self, stream: VideoStream, pipe: StreamDiTPipeline, first_frame_s: float | None, state: str) -> str:
        """One line of live figures for the page (Markdown)."""
        stats = stream.stats
        first = f"{first_frame_s:.2f} s" if first_frame_s is not None else "…"
        return (f"**{state}** · chunk **{stats.chunks}** · {stats.frames / pipe.sampler.fps:.1f} s of video · "
                f"**{stats.fps:.1f}** fps generated · first frame after **{first}** · device **{pipe.device}** · "
                f"streams **{self.store.streaming()}**/{self.limits.max_streams}")

    def _input_frames(self, source: str, video: str | None, pipe: StreamDiTPipeline, session: Session,
                      stop: threading.Event) -> Iterator[np.ndarray] | None:
        if source == "text":
            return None
        if source == "upload":
            if not video:
                raise InputError("Choose a video file to transform, or switch the input to “Text only”.")
            return video_frames(video, pipe.resolution, pipe.frames_per_chunk)
        if source == "webcam":
            if not session.webcam.wait(timeout=5.0):
                raise InputError("No webcam frames arrive: allow the camera and press its Record button, then Start.")
            return session.webcam.frames(pipe.resolution, stop)
        raise InputError(f"Unknown input {source!r}; choose one of {[value for _, value in SOURCES]}.")

    def set_prompt(self, prompt: str, request: gr.Request = None) -> str:
        """Steer the running stream to a new prompt from its next model evaluation on."""
        try:
            text = check_prompt(prompt)
        except InputError as exc:
            gr.Warning(str(exc))
            return f"Prompt not changed: {exc}"
        if self._session(request).set_prompt(text):
            return f"Live prompt: “{text}”"
        return "Not streaming: press Start to use this prompt."

    def stop(self, request: gr.Request = None) -> object:
        """End this session's stream; its generator then sends its last segment and ends."""
        session = self._session(request)
        running = session.stream is not None and not session.stream.stopped
        session.stop()
        return "**Stopped**" if running else gr.skip()

    def download(self, request: gr.Request = None) -> str:
        """The whole stream so far as an mp4 file."""
        try:
            return str(self._session(request).export_mp4())
        except ValueError as exc:
            raise gr.Error(str(exc)) from exc

    def webcam_frame(self, frame: np.ndarray | None, request: gr.Request = None) -> None:
        """A webcam frame from the browser: the newest one feeds the next chunk of a webcam stream."""
        if frame is not None:
            self._session(request).webcam.push(frame)

    def unload(self, request: gr.Request) -> None:
        """The tab was closed: stop its stream (freeing its queue slot) and delete its files."""
        self.store.drop(request.session_hash)
