"""Per-visitor state: the running stream (read by the generator, changed by Stop and live prompt edits)."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from pathlib import Path

from demo.inputs import WebcamFeed
from demo.live import LiveChannel, control_message
from demo.segments import SegmentWriter
from streamdit import VideoStream


class Session:
    """One browser tab (or API client): its stream, its segments on disk and its webcam feed.

    Segment folders are deleted only when no run of the session is generating, because Gradio may
    still be reading the last segment a generator yielded.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.webcam = WebcamFeed()
        self.stream: VideoStream | None = None
        self.writer: SegmentWriter | None = None
        self.live: LiveChannel | None = None
        self.stop_event = threading.Event()
        self.closed = False
        self._runs = 0
        self._active = 0
        self._newest_ticket = 0  # the waiting-line ticket of the visitor's latest Start
        self._lock = threading.Lock()

    def claim(self, ticket: int) -> None:
        """Start pressed again: ``ticket`` is the visitor's newest, and a run of an older ticket that has not
        begun yet never will (``begin`` refuses it), whichever order the two ``generate`` calls arrive in."""
        with self._lock:
            self._newest_ticket = max(self._newest_ticket, ticket)

    def begin(self, ticket: int | None = None) -> tuple[Path, threading.Event] | None:
        """Stop any previous run; a fresh segment folder and stop flag for the next one. None (and nothing
        stopped) for the run of a ``ticket`` older than the session's newest: a later Start replaced it."""
        with self._lock:
            if ticket is not None and ticket < self._newest_ticket:
                return None
            self._end_locked()
            self._runs += 1
            self._active += 1
            self.stream = self.writer = self.live = None
            self.stop_event = threading.Event()
            return self.directory / f"run-{self._runs:04d}", self.stop_event

    def attach(self, stream: VideoStream, writer: SegmentWriter, live: LiveChannel | None = None) -> None:
        """Register the run's stream (and its canvas player's channel); stopped at once if Stop came while it
        was starting."""
        with self._lock:
            self.stream, self.writer, self.live = stream, writer, live
            if self.stop_event.is_set():
                stream.stop()

    def finish(self) -> None:
        """A run's generator ended: stop its stream, delete folders no longer needed."""
        with self._lock:
            self._active -= 1
            if self._active:
                return
            self._end_locked()
            if self.closed:
                stale = [self.directory]
            else:
                keep = self.writer.directory if self.writer is not None else None
                stale = [run for run in self.directory.glob("run-*") if run != keep]
        for folder in stale:
            shutil.rmtree(folder, ignore_errors=True)

    def set_prompt(self, prompt: str) -> bool:
        """Switch the running stream to ``prompt`` (next model evaluation) and tell its canvas player which
        prompt version to wait for ("steering…"); False when nothing runs."""
        with self._lock:
            stream, live = self.stream, self.live
        if stream is None or stream.stopped:
            return False
        stream.set_prompt(prompt)
        if live is not None:
            live.send(control_message(steer=stream.prompt_version))
        return True

    def stop(self) -> None:
        with self._lock:
            self._end_locked()

    def close(self) -> None:
        """The visitor left: stop, and delete the files now or when the running generator ends."""
        with self._lock:
            self.closed = True
            self._end_locked()
            idle = not self._active
        if idle:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _end_locked(self) -> None:
        self.stop_event.set()
        if self.stream is not None:
            self.stream.stop()

    def export_mp4(self) -> Path:
        """The latest run so far as an mp4 (``ValueError`` when nothing was generated yet)."""
        writer = self.writer
        if writer is None or not writer.segments:
            raise ValueError("Nothing generated yet: press Start first.")
        return writer.export_mp4(writer.directory / f"streamdit-{len(writer.segments):04d}.mp4")


class SessionStore:
    """Sessions by Gradio session hash; each has its own folder under one temporary root."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="streamdit-demo-")) if root is None else root
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_hash: str) -> Session:
        with self._lock:
            if session_hash not in self._sessions:
                folder = hashlib.sha256(session_hash.encode()).hexdigest()[:16]  # hashes come from clients
                self._sessions[session_hash] = Session(self.root / folder)
            return self._sessions[session_hash]

    def drop(self, session_hash: str) -> None:
        """Forget a session whose tab was closed; its stream stops, its slot in the queue frees."""
        with self._lock:
            session = self._sessions.pop(session_hash, None)
        if session is not None:
            session.close()

    def streaming(self) -> int:
        """How many sessions have a stream generating now."""
        with self._lock:
            sessions = list(self._sessions.values())
        return sum(s.stream is not None and not s.stream.stopped for s in sessions)

    def __len__(self) -> int:
        return len(self._sessions)
