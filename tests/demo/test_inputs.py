"""Prompt and video checks, frame fitting, and the webcam feed driving a real (tiny) pipeline."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from demo.inputs import InputError, WebcamFeed, check_prompt, fit_frame, video_frames
from streamdit import StreamDiTPipeline
from streamdit.video_io import write_video


def test_check_prompt() -> None:
    assert check_prompt("  a blue square moving up \n") == "a blue square moving up"
    for bad, message in [("", "Enter a prompt"), ("   ", "Enter a prompt"), (None, "Enter a prompt"),
                         ("x" * 2001, "2,001 characters")]:
        with pytest.raises(InputError, match=message):
            check_prompt(bad)


def test_fit_frame_centre_crops_to_the_model_aspect() -> None:
    frame = np.zeros((100, 300, 3), np.uint8)
    frame[:, 100:200] = 255  # the centre square is white, the sides black
    fitted = fit_frame(frame, (32, 32))
    assert fitted.shape == (32, 32, 3) and fitted.dtype == np.uint8
    assert fitted[:, 2:-2].min() > 200
    assert fit_frame(np.full((40, 20), 7, np.uint8), (16, 32)).shape == (16, 32, 3)  # grey, portrait
    for size in [(8, 8), (5000, 20)]:
        with pytest.raises(InputError, match="each side must be between"):
            fit_frame(np.zeros((*size, 3), np.uint8), (32, 32))


def test_video_frames_checks_the_file_before_streaming(tmp_path: Path) -> None:
    good = write_video(tmp_path / "good.mp4", np.full((6, 48, 64, 3), 90, np.uint8), fps=16)
    frames = list(video_frames(good, (32, 32), min_frames=4))
    assert len(frames) == 6 and frames[0].shape == (32, 32, 3)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"garbage" * 50)
    with pytest.raises(InputError, match="Cannot read the uploaded video"):
        video_frames(broken, (32, 32), 2)
    with pytest.raises(InputError, match="Cannot read the uploaded video"):
        video_frames(tmp_path / "missing.mp4", (32, 32), 2)
    with pytest.raises(InputError, match="has 6 frame"):
        video_frames(good, (32, 32), 8)
    small = write_video(tmp_path / "small.mp4", np.zeros((4, 8, 8, 3), np.uint8), fps=16)
    with pytest.raises(InputError, match="8x8 pixels"):
        video_frames(small, (32, 32), 2)


def test_webcam_feed_drives_a_stream_until_the_camera_goes_quiet(text_encoder) -> None:
    pipe = StreamDiTPipeline.from_config("tiny", text_encoder=text_encoder)
    feed, stop, camera_on = WebcamFeed(idle_timeout=0.5), threading.Event(), threading.Event()
    camera_on.set()

    def camera() -> None:
        while camera_on.is_set():
            feed.push(np.random.default_rng().integers(0, 255, (48, 64, 3), dtype=np.uint8))
            time.sleep(0.05)

    threading.Thread(target=camera, daemon=True).start()
    stream = pipe.stream("a red circle moving left", video=feed.frames(pipe.resolution, stop), strength=0.5)
    chunks = [next(stream) for _ in range(3)]
    assert all(c.shape == (pipe.frames_per_chunk, *pipe.resolution, 3) for c in chunks)
    camera_on.clear()  # no new frames: the feed ends after idle_timeout, and so does the stream
    remaining: list = []
    drain = threading.Thread(target=lambda: remaining.extend(stream), daemon=True)
    drain.start()
    drain.join(timeout=120)  # a limit, not a speed: a stream that never ends would hang here
    assert not drain.is_alive(), "the stream did not end after the camera went quiet"
    assert stream.stopped and len(remaining) < 50


def test_the_app_listens_where_gradios_environment_says(monkeypatch) -> None:
    from demo.cli import build_parser

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    args = build_parser().parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 7860)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    args = build_parser().parse_args([])
    assert (args.host, args.port) == ("0.0.0.0", 7999)
    assert build_parser().parse_args(["--host", "127.0.0.2", "--port", "8001"]).port == 8001
