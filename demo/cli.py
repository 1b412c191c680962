"""``python app.py [--host H] [--port P] [--model DIR] [--device auto|cpu|cuda] [--share]``: serve the demo."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from demo.app import build_demo, launch_options
from demo.live import LiveHub
from demo.metrics import ServerMetrics
from demo.handlers import Limits
from demo.models import ModelBank, discover, resolve_device


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="StreamDiT Gradio demo: real-time streaming text-to-video.")
    parser.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                        help="address to listen on (0.0.0.0: all interfaces; default $GRADIO_SERVER_NAME, else "
                             "127.0.0.1, as Gradio and Hugging Face Spaces set it)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
                        help="port (default $GRADIO_SERVER_PORT, else 7860)")
    parser.add_argument("--model", type=Path, default=None,
                        help="pipeline directory to serve (default: the bundled student and teacher)")
    parser.add_argument("--device", default="auto", help="auto (cuda when available), cpu or cuda")
    parser.add_argument("--share", action="store_true", help="also serve through a public Gradio share link")
    parser.add_argument("--max-streams", type=int, default=3,
                        help="streams generated at once, their model evaluations batched together; later visitors "
                             "wait in line (default 3)")
    parser.add_argument("--max-waiting", type=int, default=24,
                        help="visitors that may wait in line for a slot; beyond them Start answers 'busy, try again "
                             "in N s' (default 24; -1: no cap). Each visitor has one stream: a second Start "
                             "replaces the first")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="longest stream, in seconds of video")
    parser.add_argument("--lead-seconds", type=float, default=2.0,
                        help="HLS player: how far generation may run ahead of playback, in seconds of video "
                             "(default 2): keeps a live prompt change within a few seconds of the screen")
    parser.add_argument("--lead-frames", type=int, default=4,
                        help="canvas player: frames it may hold before the next chunk is generated (default 4; "
                             "twice that while several streams play)")
    parser.add_argument("--preview-dir", type=Path, default=None,
                        help="cache folder of the examples' preview clips (default: ~/.cache/streamdit/previews)")
    parser.add_argument("--segment-seconds", type=float, default=1.0,
                        help="video per streamed segment: shorter starts sooner, longer stalls less (default 1)")
    return parser


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        device = resolve_device(args.device)
        models = ModelBank(discover(args.model), device)
        world = models.world  # loads every model; models of different worlds are refused here
        limits = Limits(max_seconds=args.max_seconds, segment_seconds=args.segment_seconds, lead_seconds=args.lead_seconds,
                        lead_frames=args.lead_frames, max_streams=args.max_streams,
                        max_waiting=None if args.max_waiting == -1 else args.max_waiting)
    except (ValueError, FileNotFoundError) as exc:
        parser.error(str(exc))
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
    log = logging.getLogger("demo")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    pipe = models.get()
    # every model loaded and timed before the first visitor: first-call costs paid, speeds known for the page
    speeds = models.measure()
    for label, fps in speeds.items():
        print(f"StreamDiT demo: {label} makes {fps:.1f} frames/s on {device} "
              f"({fps / models.get(label).config.fps:.2f}x real time)", flush=True)
    hub, metrics = LiveHub(), ServerMetrics()
    demo = build_demo(models, limits, hub=hub, preview_dir=args.preview_dir, metrics=metrics)
    metrics.serving(models.labels[0], device, speeds)
    print(f"StreamDiT demo: {models.labels[0]} on {device}, {pipe.resolution[1]}x{pipe.resolution[0]} "
          f"at {pipe.config.fps} fps, world {world}", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, show_error=True,
                **launch_options(hub, metrics))
