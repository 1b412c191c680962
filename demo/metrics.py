"""What an operator watches: the demo's load as Prometheus metrics (``GET /metrics``) and ``GET /healthz``.

The gauges read the live state when scraped (streams playing, visitors waiting); counters and histograms
are fed by the handlers as streams start, wait, send frames and get refused. Each server has its own
registry, so several demos in one process (tests) keep their figures apart.
"""

from __future__ import annotations

from typing import Callable

from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector,
                               generate_latest)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# seconds: a steer or a first frame is judged against 1 s, a wait in line against a stream's length (60 s)
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
WAIT_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)


class ServerMetrics:
    """The demo server's metrics in their own registry, and the two routes that serve them."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # the server's memory (RSS), CPU seconds and open files
        self.streams_playing = Gauge("streamdit_streams_playing", "Streams generating now.", registry=self.registry)
        self.visitors_waiting = Gauge("streamdit_visitors_waiting", "Visitors waiting in line for a stream slot.",
                                      registry=self.registry)
        self.stream_slots = Gauge("streamdit_stream_slots", "Streams that may generate at once (--max-streams).",
                                  registry=self.registry)
        self.streams_started = Counter("streamdit_streams_started", "Streams that got a slot and started.",
                                       ["player"], registry=self.registry)
        self.starts_refused = Counter("streamdit_starts_refused", "Starts refused, by reason.", ["reason"],
                                      registry=self.registry)
        self.frames_sent = Counter("streamdit_frames_sent", "Video frames sent to visitors' players.", ["player"],
                                   registry=self.registry)
        self.first_frame = Histogram("streamdit_start_to_first_frame_seconds",
                                     "From the click on Start (or the API call) to the first frame shown.",
                                     buckets=LATENCY_BUCKETS, registry=self.registry)
        self.wait = Histogram("streamdit_wait_seconds", "Time a stream waited in line for its slot.",
                              buckets=WAIT_BUCKETS, registry=self.registry)
        self.model_fps = Gauge("streamdit_model_frames_per_second",
                               "Frames per second each model makes alone on this server, measured at start.", ["model"],
                               registry=self.registry)
        for player in ("canvas", "hls"):  # every series present from the start, at 0
            self.streams_started.labels(player=player)
            self.frames_sent.labels(player=player)
        self.starts_refused.labels(reason="line full")
        self.health: dict[str, object] = {"status": "starting"}

    def watch(self, streaming: Callable[[], int], waiting: Callable[[], int], slots: int) -> None:
        """Read the playing and waiting gauges from these functions at every scrape."""
        self.streams_playing.set_function(streaming)
        self.visitors_waiting.set_function(waiting)
        self.stream_slots.set(slots)

    def serving(self, model: str, device: str, speeds: dict[str, float]) -> None:
        """The server is ready: the model it serves first, its device, each model's measured frames/s."""
        for label, fps in speeds.items():
            self.model_fps.labels(model=label).set(fps)
        self.health = {"status": "ok", "model": model, "device": device, "models": list(speeds)}

    def routes(self) -> list[Route]:
        """``/healthz`` and ``/metrics``, to pass to the server app with the live player's routes."""
        return [Route("/healthz", self._healthz, methods=["GET"]), Route("/metrics", self._metrics, methods=["GET"])]

    async def _healthz(self, request: Request) -> Response:
        return JSONResponse(self.health, status_code=200 if self.health["status"] == "ok" else 503)

    async def _metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
