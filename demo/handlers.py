"""Event handlers of the demo: start a stream, steer it live, stop it, save it, feed the webcam, clean up."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Iterator

import gradio as gr
import numpy as np

from demo.inputs import InputError, check_prompt, video_frames
from demo.live import LiveHub, check_token, control_message, frame_message
from demo.markup import escape_markdown
from demo.metrics import ServerMetrics
from demo.models import ModelBank
from demo.segments import SegmentWriter
from demo.session import Session, SessionStore
from demo.vocabulary import unknown_words, unknown_words_note
from demo.waiting import LineFull, WaitingLine
from streamdit import MAX_PROMPT_CHARS, StreamDiTPipeline, VideoStream

SOURCES = (("Text only", "text"), ("Uploaded video", "upload"), ("Webcam", "webcam"))


@dataclass(frozen=True)
class Limits:
    """Serving limits: longest stream (seconds of video, and of wall time: the per-visitor limit), segment
    length, parallel streams, and how far generation may run ahead of playback: ``lead_seconds`` of video
    for the HLS player, ``lead_frames`` frames held by the canvas player (twice that while other streams share
    the model: their chunks come less regularly). A model faster than real time would
    otherwise finish the whole stream at once, and a prompt change could no longer reach the screen.
    ``player_patience_s``: a canvas player that draws nothing for this long has gone; its stream ends.
    A stream also ends once it has held its slot for ``wall_limit_s`` (a slow model or a stalled player
    cannot keep the visitors in line waiting for ever). ``max_waiting``: visitors that may wait for a slot;
    beyond them Start answers "busy, try again in N s" (None: no cap). Each visitor session has one stream:
    a second Start replaces the first, running or waiting."""

    max_seconds: float = 60.0
    segment_seconds: float = 1.0
    max_streams: int = 3
    lead_seconds: float = 2.0
    lead_frames: int = 4
    player_patience_s: float = 10.0
    max_waiting: int | None = 24

    def __post_init__(self) -> None:
        if (self.max_seconds <= 0 or self.segment_seconds <= 0 or self.max_streams < 1 or self.lead_seconds <= 0
                or self.lead_frames < 1 or self.player_patience_s <= 0
                or (self.max_waiting is not None and self.max_waiting < 0)):
            raise ValueError(f"limits must be positive, got {self}")

    def wall_limit_s(self, seconds: float) -> float:
        """Longest time a stream of ``seconds`` of video may hold its slot: twice its length and 10 s to start."""
        return 2 * seconds + 10


log = logging.getLogger("demo")


def refuse(exc: Exception) -> gr.Error:
    """A visitor's mistake as a page error: logged as one line, no traceback in the server log."""
    log.info("refused: %s", exc)
    return gr.Error(str(exc), print_exception=False)


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def speed_words(realtime: float, capacity: float | None = None) -> str:
    """Generation speed against playback in plain words (Markdown). ``realtime``: this stream's frames per
    second while generating (time held back for playback left out) over the video's; ``capacity``: the model's
    measured speed, if known."""
    if realtime < 0.95:
        return f"made at **{realtime:.2f}×** real time: slower than playback, so the video pauses to catch up"
    known = f" (this model: **{capacity:.1f}×** real time here)" if capacity is not None else ""
    return f"made as fast as it plays{known}"


class Handlers:
    """The functions behind the page's events, sharing the model bank, the per-session store and the waiting line."""

    def __init__(self, models: ModelBank, store: SessionStore, limits: Limits, hub: LiveHub | None = None,
                 metrics: ServerMetrics | None = None) -> None:
        self.models, self.store, self.limits = models, store, limits
        self.hub = hub if hub is not None else LiveHub()
        self.line = WaitingLine(limits.max_streams, max_waiting=limits.max_waiting)
        self.metrics = metrics if metrics is not None else ServerMetrics()
        self.metrics.watch(store.streaming, self.line.waiting, limits.max_streams)

    def _session(self, request: gr.Request) -> Session:
        return self.store.get(request.session_hash)

    def _seconds(self, seconds: float | None) -> float:
        return min(float(seconds or self.limits.max_seconds), self.limits.max_seconds)

    def join_line(self, seconds: float | None = None, player: str | None = None,
                  request: gr.Request = None) -> tuple[str, int, gr.Timer, str | None]:
        """Start pressed on the page: a ticket for the ``generate`` that follows, the first queue notice, and
        the canvas player's token (None: the HLS player). A stream of this visitor's own that is still
        running ends first (Start again = restart), so it does not hold the slot its successor waits for, and
        one still waiting leaves the line. A full line refuses: "busy, try again in N s"."""
        try:
            player = check_token(player) if player else None
        except ValueError as exc:
            raise refuse(exc) from exc
        self._session(request).stop()
        try:
            ticket = self.line.join(request.session_hash, self._seconds(seconds))
        except LineFull as exc:
            self.metrics.starts_refused.labels(reason="line full").inc()
            raise refuse(InputError(f"The server is busy: {exc.waiting} visitors are waiting for a stream. "
                                    f"Try again in {math.ceil(exc.retry_s)} s.")) from exc
        self._session(request).claim(ticket)
        return self._notice(ticket), ticket, gr.Timer(active=True), player

    def queue_notice(self, ticket: int | None) -> tuple[object, object]:
        """The waiting visitor's place, refreshed each second until the stream starts."""
        if ticket is None or self.line.place(ticket) is None:
            return gr.skip(), gr.Timer(active=False)
        return self._notice(ticket), gr.skip()

    def _notice(self, ticket: int) -> str:
        place = self.line.place(ticket)
        if place is None or place.wait_s <= 0:
            return "**Starting**…"
        who = "next" if place.position == 1 else f"{ordinal(place.position)} in line"
        return (f"**Waiting**: the server is busy with other visitors. You are {who} "
                f"({place.waiting} waiting); expected wait at most **{math.ceil(place.wait_s)} s** "
                "(less if a stream ahead stops early). Press Stop to leave the line.")

    def generate(self, prompt: str, seed: float = 0, guidance: float = 0.0, model: str | None = None,
                 source: str = "text", video: str | None = None, strength: float = 0.7,
                 seconds: float | None = None, ticket: int | None = None, player: str | None = None,
                 request: gr.Request = None) -> Iterator[tuple[object, str]]:
        """Stream a video for ``prompt``: yields (MPEG-TS segment path, stats) about once per second; with a
        canvas ``player`` token the frames go to that player instead (demo/live.py) and only stats are yielded."""
        started = time.monotonic()
        waited = self.line.leave(ticket)
        # Stop pressed while it waited: it never runs. A ticket no longer in the line was taken by another
        # generate: the page's ticket state is read when an event runs, so after two quick Starts both
        # generates may carry the second ticket, and only the first of them plays.
        if (waited is not None and waited.cancelled) or (ticket is not None and waited is None):
            yield gr.skip(), gr.skip()
            return
        clicked = waited.clicked if waited is not None else started
        session = self._session(request)
        try:
            text = check_prompt(prompt)
            pipe = self.models.get(model)
        except InputError as exc:
            raise refuse(exc) from exc
        except KeyError as exc:
            raise refuse(InputError(f"Unknown model {model!r}; choose one of {self.models.labels}.")) from exc
        begun = session.begin(ticket)
        if begun is None:  # this visitor pressed Start again and that later run began first: it replaced this one
            yield gr.skip(), gr.skip()
            return
        folder, stop = begun
        log.info("stream starts (%.1f s after Start)", started - clicked)
        if waited is not None:
            self.metrics.wait.observe(started - clicked)
        self.metrics.streams_started.labels(player="canvas" if player else "hls").inc()
        seconds = self._seconds(seconds)
        max_chunks = max(1, math.ceil(seconds * pipe.config.fps / pipe.frames_per_chunk))
        run = self.line.start(seconds)
        try:
            frames_in = self._input_frames(source, video, pipe, session, stop)
            stream = pipe.stream(text, seed=int(seed), guidance=float(guidance) or None, video=frames_in,
                                 strength=float(strength), max_chunks=max_chunks, batcher=self.models.batcher(model),
                                 queue_size=1, on_demand=bool(player))  # canvas: no chunk made before it is asked for
            segment_frames = max(1, round(self.limits.segment_seconds * pipe.config.fps))
            writer = SegmentWriter(folder, pipe.config.fps, segment_frames)
            if player:
                yield from self._play_live(stream, writer, pipe, session, stop, player, clicked, started, seconds)
            else:
                yield from self._play_hls(stream, writer, pipe, session, stop, clicked, started, seconds)
        except InputError as exc:  # bad upload, no webcam, webcam frame of an unusable size, ...
            raise refuse(exc) from exc
        except ValueError as exc:  # refused by the pipeline: shown, and logged with its traceback
            raise gr.Error(str(exc)) from exc
        finally:
            self.line.end(run)
            session.finish()

    def _play_hls(self, stream: VideoStream, writer: SegmentWriter, pipe: StreamDiTPipeline, session: Session,
                  stop: threading.Event, clicked: float, started: float, seconds: float) -> Iterator[tuple[object, str]]:
        """The HLS player: 1 s segments, generation paced to at most ``lead_seconds`` ahead of playback."""
        session.attach(stream, writer)
        shown_at, state, waited = None, "Finished", 0.0  # when the first segment went out; paced time
        for chunk in stream:
            if time.monotonic() - started > self.limits.wall_limit_s(seconds):
                state = "Time limit reached"
                break
            segment = writer.add(chunk)
            self.metrics.frames_sent.labels(player="hls").inc(len(chunk))
            if segment is not None:
                if shown_at is None:
                    shown_at = time.monotonic()
                    self.metrics.first_frame.observe(shown_at - clicked)
                yield str(segment), self._stats(stream, pipe, clicked, started, shown_at, "Streaming", waited)
                # pace to playback: wait (stoppably) while the video made runs more than lead_seconds ahead
                played = time.monotonic() - shown_at
                pause = max(0.0, stream.stats.frames / pipe.config.fps - played - self.limits.lead_seconds)
                stop.wait(pause)
                waited += pause
        segment = writer.flush()
        state = "Stopped" if stop.is_set() else state
        yield ((str(segment) if segment is not None else gr.skip()),
               self._stats(stream, pipe, clicked, started, shown_at, state, waited))

    def _play_live(self, stream: VideoStream, writer: SegmentWriter, pipe: StreamDiTPipeline, session: Session,
                   stop: threading.Event, player: str, clicked: float, started: float,
                   seconds: float) -> Iterator[tuple[object, str]]:
        """The canvas player: every frame sent as it is made; the next chunk is taken from the model only once
        the player holds at most ``lead_frames`` frames (twice that with other streams playing: python -m
        demo.bench measured fewer stalls for three visitors on the 2-core CPU). Stats about once per second."""
        channel = self.hub.open(player)
        state, sent, stats_due, waited, first_seen = "Finished", 0, time.monotonic(), 0.0, False
        try:
            height, width = pipe.resolution
            channel.send(control_message(start={"fps": pipe.config.fps, "width": width, "height": height}))
            session.attach(stream, writer, channel)
            for chunk in stream:
                writer.add(chunk)
                for frame in chunk:
                    channel.send(frame_message(sent, stream.chunk_version, frame))
                    sent += 1
                self.metrics.frames_sent.labels(player="canvas").inc(len(chunk))
                if not first_seen and channel.first_played_at is not None:
                    first_seen = True
                    self.metrics.first_frame.observe(channel.first_played_at - clicked)
                now = time.monotonic()
                if channel.first_played_at is not None and now >= stats_due:  # from the first frame on screen
                    stats_due = now + 1.0
                    yield gr.skip(), self._stats(stream, pipe, clicked, started, channel.first_played_at, "Streaming",
                                                   waited)
                if now - started > self.limits.wall_limit_s(seconds):
                    state = "Time limit reached"
                    break
                paced = time.monotonic()
                lead = self.limits.lead_frames * (2 if self.store.streaming() > 1 else 1)
                playing = channel.wait_played(sent - 1 - lead, stop, self.limits.player_patience_s)
                waited += time.monotonic() - paced
                if not playing:
                    state = "Stopped" if stop.is_set() else "Stopped: the player stopped drawing"
                    break
            writer.flush()
            state = "Stopped" if stop.is_set() else state
            channel.send(control_message(end=state))
            yield gr.skip(), self._stats(stream, pipe, clicked, started, channel.first_played_at, state, waited)
        finally:
            stream.stop()
            channel.send(None)
            self.hub.release(player)

    def _stats(self, stream: VideoStream, pipe: StreamDiTPipeline, clicked: float, started: float,
               shown_at: float | None, state: str, waited: float) -> str:
        """One line of live figures for the page (Markdown); times count from the click on Start. ``waited``: the
        seconds generation was held back for playback, left out of its speed."""
        stats = stream.stats
        first = f"**{shown_at - clicked:.2f} s** after Start" if shown_at is not None else "not yet"
        queued = f" (of which {started - clicked:.1f} s waiting in line)" if started - clicked >= 0.5 else ""
        capacity = self.models.realtime(self._label(pipe))
        working = max(time.perf_counter() - stats.started - waited, 1e-3)
        speed = f" · {speed_words(stats.frames / pipe.config.fps / working, capacity)}" if stats.chunks else ""
        waiting = self.line.waiting()
        return (f"**{state}** · {stats.frames / pipe.config.fps:.1f} s of video{speed} · first frame {first}{queued} · "
                f"device **{pipe.device}** · visitors streaming **{self.store.streaming()}** of {self.limits.max_streams}"
                + (f", **{waiting}** waiting in line" if waiting else ""))

    def _label(self, pipe: StreamDiTPipeline) -> str | None:
        return next((label for label in self.models.labels if self.models.get(label) is pipe), None)

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
        """Steer the running stream to a new prompt from the next frames it makes (Markdown note)."""
        try:
            text = check_prompt(prompt)
        except InputError as exc:
            log.info("refused: %s", exc)
            gr.Warning(str(exc))
            return f"Prompt not changed: {exc}"
        if not self._session(request).set_prompt(text):
            return "Not streaming: press Start to use this prompt."
        return f"Live prompt: “{escape_markdown(text)}”"  # unknown words are named as it is typed (check_typing)

    def check_typing(self, prompt: str) -> str:
        """A note on the prompt being typed: too long, longer than the text encoder reads, or words the models'
        world never had; "" when it is fine."""
        text = (prompt or "").strip()
        if len(text) > MAX_PROMPT_CHARS:
            return (f"⚠️ {len(text):,} characters: the limit is {MAX_PROMPT_CHARS:,}. "
                    "Shorten it: Start and Enter refuse a longer prompt.")
        world = self.models.world
        notes = [unknown_words_note(unknown_words(text, world), world)]
        tail = self.models.ignored_tail(text)
        if tail:
            notes.append(f"The model reads only the start of a prompt this long: “{tail}” is ignored.")
        return " ".join(f"⚠️ {escape_markdown(note)}" for note in notes if note)

    def model_chosen(self, model: str) -> None:
        """Warn when the chosen model cannot keep up with playback on this device."""
        realtime = self.models.realtime(model) if model in self.models.labels else None
        if realtime is not None and realtime < 1.0:
            fps = self.models.get(model).config.fps
            gr.Warning(f"This model makes {realtime * fps:.1f} frames per second here, slower than the "
                       f"{fps} of the video, so playback will pause every second or so while it catches up. "
                       "Pick the distilled student for smooth live video.", duration=15)

    def stop(self, request: gr.Request = None) -> object:
        """End this session's stream (its generator then sends its last segment), or take it out of the line."""
        session = self._session(request)
        running = session.stream is not None and not session.stream.stopped
        session.stop()
        left_line = self.line.cancel(request.session_hash)
        if running:
            return "**Stopped**"
        if left_line:
            return "**Cancelled**: you left the waiting line; press Start to join it again."
        return gr.skip()

    def download(self, request: gr.Request = None) -> str:
        """The whole stream so far as an mp4 file."""
        try:
            return str(self._session(request).export_mp4())
        except ValueError as exc:
            raise refuse(exc) from exc

    def webcam_frame(self, frame: np.ndarray | None, request: gr.Request = None) -> None:
        """A webcam frame from the browser: the newest one feeds the next chunk of a webcam stream."""
        if frame is not None:
            self._session(request).webcam.push(frame)

    def unload(self, request: gr.Request) -> None:
        """The tab was closed: stop its stream (freeing its queue slot) and delete its files."""
        self.store.drop(request.session_hash)
