"""``python -m demo.soak --minutes M --visitors V``: visitors coming and going on the demo for a while.

Each of the ``V`` visitor loops plays one visitor after another, as a browser tab would: it opens the
page's session (Gradio client, with its heartbeat), opens the canvas player's frame stream
(``GET /live/<token>``), presses Start (``join_line`` then ``generate``, as the page chains them) and
draws the frames it receives at the model's fps, reporting them back as the page's player does. It
watches 10-60 s, steers to another prompt now and then, and leaves: Stop and close the tab, close the
tab without Stop (the stream must end on its own), or press Start twice in a row first (the second must
replace the first). Arrivals are spread at random. Every 10 s it reads the server's ``/metrics``: its
memory (RSS), streams playing, visitors waiting.

At the end it reports errors (failed calls, streams that never started, broken frame streams), slots
still held once everyone has left, server RSS over time and its growth after the first 5 minutes, the
wait for a slot and Start -> first frame drawn (percentiles), and frames/s drawn per visitor.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import struct
import threading
import time
from collections import deque
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from demo.bench import serve

HEADER = struct.Struct("<IIII")  # as demo/live.py frames them: kind, frame index, prompt version, length
FRAME = 0
PROMPTS = ["a red circle moving left on a dark background", "a blue square moving up",
           "a yellow triangle moving right on a gray background", "a green diamond moving down on a white background",
           "a magenta ball moving right and a cyan box moving up"]
WARM_UP_S = 300.0  # RSS growth is judged after the first 5 minutes


class Player:
    """The page's canvas player in Python: reads ``live/<token>``, draws at the stream's fps, reports frames."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.fps = 16.0
        self.started_at: float | None = None  # the server's start message: the stream got its slot
        self.first_drawn_at: float | None = None
        self.last_drawn_at: float | None = None
        self.drawn = 0
        self.ended: str | None = None
        self.error: str | None = None
        self._frames: deque[int] = deque()
        self._closed = threading.Event()
        self._http = httpx.Client(base_url=url, timeout=httpx.Timeout(10.0, read=None))
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._draw, daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read(self) -> None:
        try:
            with self._http.stream("GET", f"live/{self.token}") as response:
                response.raise_for_status()
                pending = b""
                for data in response.iter_raw():
                    pending += data
                    while len(pending) >= HEADER.size:
                        kind, index, _version, length = HEADER.unpack_from(pending)
                        if len(pending) < HEADER.size + length:
                            break
                        payload, pending = pending[HEADER.size:HEADER.size + length], pending[HEADER.size + length:]
                        if kind == FRAME:
                            self._frames.append(index)
                        else:
                            self._control(json.loads(payload))
                    if self._closed.is_set():
                        return
        except (httpx.HTTPError, ValueError) as exc:
            if not self._closed.is_set():
                self.error = f"frame stream: {type(exc).__name__}: {exc}"

    def _control(self, message: dict) -> None:
        if "start" in message:
            self.fps = float(message["start"]["fps"])
            self.started_at = time.monotonic()
        if "end" in message:
            self.ended = str(message["end"])

    def _draw(self) -> None:
        """One frame per 1/fps from the buffer; every other frame (or the last one held) reported drawn."""
        next_due = time.monotonic()
        while not self._closed.wait(max(0.0, next_due - time.monotonic())):
            next_due = max(next_due + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)
            if not self._frames:
                continue
            index = self._frames.popleft()
            now = time.monotonic()
            self.first_drawn_at = self.first_drawn_at or now
            self.last_drawn_at, self.drawn = now, self.drawn + 1
            if index % 2 == 0 or len(self._frames) <= 1:
                try:
                    self._http.post(f"live/{self.token}/played", params={"index": index})
                except httpx.HTTPError as exc:
                    if not self._closed.is_set():
                        self.error = f"played report: {type(exc).__name__}: {exc}"

    def drawing_fps(self) -> float | None:
        """Frames drawn per second between the first and the last one (None: fewer than 2 s drawn)."""
        if self.first_drawn_at is None or self.last_drawn_at - self.first_drawn_at < 2.0:
            return None
        return (self.drawn - 1) / (self.last_drawn_at - self.first_drawn_at)

    def close(self) -> None:
        """The tab stops the player (Stop, a new Start, or the tab closed): the frame stream is dropped."""
        self._closed.set()
        self._http.close()


@dataclass
class Tally:
    """What the visitors saw, gathered from every visitor thread."""

    visits: int = 0
    refused: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    first_frames: list[float] = field(default_factory=list)
    fps: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, **values: object) -> None:
        with self.lock:
            for name, value in values.items():
                if name == "action":
                    self.actions[value] = self.actions.get(value, 0) + 1
                elif isinstance(getattr(self, name), list):
                    getattr(self, name).append(value)
                else:
                    setattr(self, name, getattr(self, name) + value)


class Visitor:
    """One tab: its Gradio session (heartbeat included) and its canvas player."""

    def __init__(self, url: str, rng: random.Random, tally: Tally, seconds: float, start_limit_s: float) -> None:
        from gradio_client import Client

        self.url, self.rng, self.tally, self.seconds, self.start_limit_s = url, rng, tally, seconds, start_limit_s
        self.client = Client(url, verbose=False, download_files=False, analytics_enabled=False)
        self.player: Player | None = None
        self.job = None

    def start(self) -> bool:
        """Press Start: a new player, then the page's two calls; False when the line is full (refused)."""
        from gradio_client.exceptions import AppError

        if self.player is not None:
            self.player.close()
        self.player = Player(self.url, secrets.token_hex(16))
        self.clicked = time.monotonic()
        try:
            self.client.predict(self.seconds, self.player.token, api_name="/join_line")
        except AppError as exc:
            if "busy" in str(exc):
                self.tally.add(refused=1)
                return False
            raise
        self.job = self.client.submit(self.rng.choice(PROMPTS), seed=self.rng.randrange(1000), seconds=self.seconds,
                                      api_name="/generate")
        return True

    def watch(self, seconds: float, deadline: float) -> None:
        """Wait for the first frame, then watch ``seconds`` (steering now and then), leaving early at ``deadline``."""
        player, limit = self.player, time.monotonic() + self.start_limit_s
        while player.first_drawn_at is None:
            if player.error or (self.job.done() and player.first_drawn_at is None and player.ended):
                raise RuntimeError(player.error or f"stream ended before its first frame: {player.ended}")
            if time.monotonic() > limit:
                raise RuntimeError(f"no frame within {self.start_limit_s:.0f} s of Start")
            time.sleep(0.05)
        self.tally.add(first_frames=player.first_drawn_at - self.clicked,
                       waits=(player.started_at or player.first_drawn_at) - self.clicked)
        until = min(player.first_drawn_at + seconds, deadline)
        steers = sorted(self.rng.uniform(player.first_drawn_at, until) for _ in range(self.rng.choice([0, 1, 2])))
        for at in steers:
            time.sleep(max(0.0, at - time.monotonic()))
            self.client.predict(self.rng.choice(PROMPTS), api_name="/set_prompt")
            self.tally.add(action="steer")
        while time.monotonic() < until and player.ended is None:
            if player.error:
                raise RuntimeError(player.error)
            time.sleep(0.1)

    def stop(self) -> None:
        """Press Stop and wait for the stream's last update (an error there is the visit's error)."""
        self.client.predict(api_name="/stop")
        self.job.result(timeout=60)
        self.leave()

    def leave(self) -> None:
        """The tab closes: player and session heartbeat gone (the server's unload runs)."""
        player = self.player
        if player is not None:
            player.close()
            if (fps := player.drawing_fps()) is not None:
                self.tally.add(fps=fps)
        self.client.close()


def visitor_loop(url: str, seed: int, tally: Tally, deadline: float, seconds: float, start_limit_s: float) -> None:
    """Visitors one after another until ``deadline``: arrive, Start, watch 10-60 s, leave one of three ways."""
    rng = random.Random(seed)
    time.sleep(rng.uniform(0, 20))  # arrivals spread at random
    while time.monotonic() < deadline:
        visitor, ending = None, rng.choices(["stop", "vanish", "double start"], weights=[5, 3, 2])[0]
        try:
            visitor = Visitor(url, rng, tally, seconds, start_limit_s)
            tally.add(visits=1)
            if not visitor.start():
                visitor.leave()
                time.sleep(rng.uniform(5, 20))
                continue
            if ending == "double start":
                time.sleep(rng.uniform(0.0, 1.0))
                first = visitor.job
                if not visitor.start():
                    visitor.leave()
                    continue
                first.result(timeout=start_limit_s + seconds)  # the replaced stream ends without error
            visitor.watch(rng.uniform(10, 60), deadline)
            tally.add(action=ending)
            if ending == "vanish":
                visitor.leave()
            else:
                visitor.stop()
        except Exception as exc:  # every failure a visitor meets is counted and named in the report
            tally.add(errors=f"{type(exc).__name__} (a visitor to leave by {ending}): {str(exc)[:300]}")
            if visitor is not None:
                visitor.leave()
        time.sleep(rng.uniform(1, 10))  # the next visitor arrives


def scrape(url: str) -> dict[str, float]:
    """The server's /metrics as {name: value} (unlabelled samples, labelled ones summed)."""
    from prometheus_client.parser import text_string_to_metric_families

    values: dict[str, float] = {}
    for family in text_string_to_metric_families(httpx.get(url + "metrics", timeout=10).text):
        for sample in family.samples:
            values[sample.name] = values.get(sample.name, 0.0) + sample.value
    return values


def percentiles(values: list[float]) -> str:
    if not values:
        return "none"
    cuts = statistics.quantiles(values, n=20) if len(values) > 1 else [values[0]] * 19
    return f"p50 {cuts[9]:.2f} s, p90 {cuts[17]:.2f} s, max {max(values):.2f} s (n={len(values)})"


def soak(url: str, minutes: float, visitors: int, seconds: float, start_limit_s: float, seed: int) -> dict:
    """Run the visitors for ``minutes`` against the demo at ``url``; the report as a dict."""
    tally, started = Tally(), time.monotonic()
    deadline = started + minutes * 60
    threads = [threading.Thread(target=visitor_loop, args=(url, seed + i, tally, deadline, seconds, start_limit_s),
                                daemon=True) for i in range(visitors)]
    for thread in threads:
        thread.start()
    samples = []
    while any(thread.is_alive() for thread in threads):
        figures = scrape(url)
        samples.append({"t_s": round(time.monotonic() - started, 1), "rss_mb": figures["process_resident_memory_bytes"] / 2**20,
                        "playing": figures["streamdit_streams_playing"], "waiting": figures["streamdit_visitors_waiting"]})
        print(f"[{samples[-1]['t_s']:7.1f} s] server RSS {samples[-1]['rss_mb']:.0f} MB, streams playing "
              f"{samples[-1]['playing']:.0f}, waiting {samples[-1]['waiting']:.0f}, visits {tally.visits}, "
              f"errors {len(tally.errors)}", flush=True)
        for thread in threads:
            thread.join(timeout=10 / len(threads))
    held, settle_until = None, time.monotonic() + 30  # everyone left: the slots must free
    while time.monotonic() < settle_until:
        figures = scrape(url)
        held = figures["streamdit_streams_playing"] + figures["streamdit_visitors_waiting"]
        if held == 0:
            break
        time.sleep(1.0)
    after = [s["rss_mb"] for s in samples if s["t_s"] >= WARM_UP_S]
    at_warm_up = after[0] if after else None
    return {"minutes": minutes, "visitors": visitors, "visits": tally.visits, "refused": tally.refused,
            "actions": tally.actions, "errors": tally.errors, "slots_held_after": held,
            "rss_mb": samples, "rss_at_5_min_mb": at_warm_up,
            "rss_growth_after_5_min": None if at_warm_up is None else max(after) / at_warm_up - 1,
            "wait_s": tally.waits, "first_frame_s": tally.first_frames, "fps_per_visitor": tally.fps,
            "server": {name: figures[name] for name in ("streamdit_streams_started_total", "streamdit_frames_sent_total",
                                                        "streamdit_starts_refused_total") if name in figures}}


def print_report(report: dict) -> None:
    growth = report["rss_growth_after_5_min"]
    rss = [s["rss_mb"] for s in report["rss_mb"]]
    print(f"\n{report['visitors']} visitors for {report['minutes']:g} min: {report['visits']} visits, "
          f"{report['refused']} refused (line full), actions {report['actions']}")
    print(f"errors: {len(report['errors'])}" + "".join(f"\n  {e}" for e in report["errors"][:20]))
    print(f"slots still held after everyone left: {report['slots_held_after']:.0f}")
    print(f"server RSS: start {rss[0]:.0f} MB, max {max(rss):.0f} MB, end {rss[-1]:.0f} MB; "
          + ("growth after the first 5 min: " + (f"{100 * growth:+.1f}% (from {report['rss_at_5_min_mb']:.0f} MB)"
                                                  if growth is not None else "n/a (shorter than 5 min)")))
    print(f"wait for a slot: {percentiles(report['wait_s'])}")
    print(f"Start -> first frame drawn: {percentiles(report['first_frame_s'])}")
    fps = report["fps_per_visitor"]
    print("frames/s drawn per visitor: " + (f"median {statistics.median(fps):.1f}, min {min(fps):.1f} (n={len(fps)})"
                                           if fps else "none"))
    print(f"server counters: {report['server']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo.soak", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long visitors keep coming (default 30)")
    parser.add_argument("--visitors", type=int, default=6, help="visitors at the same time (default 6)")
    parser.add_argument("--url", help="a running demo (default: serve one with app.py and --app-args)")
    parser.add_argument("--app-args", default="--device cpu",
                        help="options for the app.py it serves (default: '--device cpu')")
    parser.add_argument("--seconds", type=float, default=60.0, help="length each visitor asks for (default 60)")
    parser.add_argument("--start-limit", type=float, default=300.0,
                        help="a first frame later than this after Start counts as an error (default 300 s)")
    parser.add_argument("--seed", type=int, default=0, help="visitors' random choices (default 0)")
    parser.add_argument("--out", type=Path, help="also write the report, RSS samples included, to this JSON file")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.visitors < 1 or args.seconds <= 0 or args.start_limit <= 0:
        parser.error("--minutes, --seconds and --start-limit must be > 0 and --visitors >= 1")
    log = Path("/tmp") / f"demo-soak-{time.strftime('%Y%m%d-%H%M%S')}.log"
    with serve(args.app_args.split(), log) if args.url is None else nullcontext(args.url.rstrip("/") + "/") as url:
        if args.url is None:
            print(f"serving app.py {args.app_args} at {url} (log: {log})", flush=True)
        report = soak(url, args.minutes, args.visitors, args.seconds, args.start_limit, args.seed)
    print_report(report)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
