"""The low-latency video path: each frame goes to the page's canvas player as soon as it is made.

``GET /live/{token}`` is a long HTTP response (fetch streaming) carrying one message per frame: a 16-byte
header (kind, frame index, prompt version, payload length; little-endian uint32) and a JPEG, or a JSON
control message (start, steer, end). The player draws frames at the model's fps from a buffer of a few
frames and reports the last frame it drew with ``POST /live/{token}/played?index=N``; the stream is pulled
from the model only while the player holds at most ``lead`` frames, so a steer enters the model at once and
is what the visitor sees next. Why not a WebSocket: uvicorn serves WebSockets only with the ``websockets``
or ``wsproto`` package installed, and a streamed response does the same job with what Gradio already brings.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import struct
import threading
import time

import numpy as np
from PIL import Image
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

FRAME, CONTROL = 0, 1
HEADER = struct.Struct("<IIII")  # kind, frame index, prompt version, payload length
TOKEN = re.compile(r"[0-9a-f]{16,64}")


def check_token(token: str) -> str:
    """A player's token (hex, made by the page); ``ValueError`` for anything else."""
    if not TOKEN.fullmatch(token or ""):
        raise ValueError(f"not a live player token: {token!r:.80}")
    return token


def frame_message(index: int, version: int, frame: np.ndarray, quality: int = 90) -> bytes:
    """One uint8 RGB frame ``(H, W, 3)`` as a message: header and JPEG."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    payload = buffer.getvalue()
    return HEADER.pack(FRAME, index, version, len(payload)) + payload


def control_message(**fields: object) -> bytes:
    payload = json.dumps(fields).encode()
    return HEADER.pack(CONTROL, 0, 0, len(payload)) + payload


class LiveChannel:
    """One stream's messages on their way to one player, and the last frame that player drew."""

    def __init__(self) -> None:
        self.played = -1
        self.first_played_at: float | None = None  # when the player first reported a drawn frame (monotonic)
        self.reader_gone = False
        self._lock = threading.Condition()
        self._backlog: list[bytes | None] = []  # messages sent before the player connected
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[bytes | None] | None = None

    def send(self, message: bytes | None) -> None:
        """Queue a message for the player (None: the stream ended); callable from any thread."""
        with self._lock:
            if self._loop is None:
                self._backlog.append(message)
                return
            loop, queue = self._loop, self._queue
        try:
            loop.call_soon_threadsafe(queue.put_nowait, message)
        except RuntimeError:  # the server's loop is closing
            pass

    async def messages(self):
        """The messages for the player, as they come, until the stream ends."""
        with self._lock:
            self._loop, self._queue = asyncio.get_running_loop(), asyncio.Queue()
            for message in self._backlog:
                self._queue.put_nowait(message)
            self._backlog.clear()
        try:
            while (message := await self._queue.get()) is not None:
                yield message
        finally:
            with self._lock:
                self.reader_gone = True
                self._lock.notify_all()

    def report_played(self, index: int) -> None:
        with self._lock:
            self.first_played_at = self.first_played_at or time.monotonic()
            self.played = max(self.played, index)
            self._lock.notify_all()

    def wait_played(self, index: int, stop: threading.Event, patience_s: float) -> bool:
        """Block until the player drew frame ``index``; False when ``stop`` is set, the player disconnected,
        or it drew nothing new for ``patience_s`` seconds (a closed or frozen tab frees its slot)."""
        with self._lock:
            last, since = self.played, time.monotonic()
            while self.played < index:
                if stop.is_set() or self.reader_gone:
                    return False
                if self.played != last:
                    last, since = self.played, time.monotonic()
                if time.monotonic() - since > patience_s:
                    return False
                self._lock.wait(0.05)
            return True


class LiveHub:
    """Channels by player token; a channel lives while its stream or its player uses it."""

    def __init__(self) -> None:
        self._channels: dict[str, tuple[LiveChannel, int]] = {}
        self._lock = threading.Lock()

    def open(self, token: str) -> LiveChannel:
        with self._lock:
            channel, users = self._channels.get(token, (None, 0))
            channel = channel or LiveChannel()
            self._channels[token] = (channel, users + 1)
            return channel

    def release(self, token: str) -> None:
        with self._lock:
            channel, users = self._channels.get(token, (None, 0))
            if users <= 1:
                self._channels.pop(token, None)
            else:
                self._channels[token] = (channel, users - 1)

    def find(self, token: str) -> LiveChannel | None:
        with self._lock:
            entry = self._channels.get(token)
            return entry[0] if entry else None

    def routes(self) -> list[Route]:
        """The player's two HTTP routes, to pass to the server app (``launch(app_kwargs={"routes": ...})``)."""
        return [Route("/live/{token}", self._stream, methods=["GET"]),
                Route("/live/{token}/played", self._played, methods=["POST"])]

    async def _stream(self, request: Request) -> Response:
        try:
            token = check_token(request.path_params["token"])
        except ValueError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        channel = self.open(token)

        async def body():
            try:
                async for message in channel.messages():
                    yield message
            finally:
                self.release(token)

        return StreamingResponse(body(), media_type="application/octet-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def _played(self, request: Request) -> Response:
        channel = self.find(request.path_params["token"])
        try:
            index = int(request.query_params["index"])
        except (KeyError, ValueError):
            return PlainTextResponse("expected ?index=<frame index>", status_code=400)
        if channel is None:
            return PlainTextResponse("no such stream", status_code=404)
        channel.report_played(index)
        return Response(status_code=204)
