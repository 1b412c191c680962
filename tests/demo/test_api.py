"""The ``generate`` API of a launched demo, driven with gradio_client: streaming, live prompt, stop, queue, errors."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from gradio_client.utils import Status

from streamdit.video_io import read_video, write_video

PROMPT_A = "a red circle moving left on a dark background"
PROMPT_B = "a blue square moving up on a white background"
FPS = 16
SWITCH_SECONDS = 10


@pytest.fixture()
def client(server: str) -> Client:
    return Client(server, download_files=False, verbose=False)


def saved_frames(client: Client, tmp_path: Path) -> np.ndarray:
    """The session's stream so far, through the ``download`` endpoint, decoded."""
    file = client.predict(api_name="/download")
    path = tmp_path / f"saved-{time.monotonic_ns()}.mp4"
    path.write_bytes(httpx.get(file["url"], timeout=30).content)
    return read_video(path)[0]


def wait_until(condition, limit_s: float = 120) -> None:
    """Poll ``condition`` until it holds; the limit only keeps a broken server from hanging the test."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"still waiting after {limit_s} s"
        time.sleep(0.1)


def test_generate_streams_several_updates(client: Client, tmp_path: Path) -> None:
    started = time.perf_counter()
    updates = list(client.submit(PROMPT_A, seconds=3, api_name="/generate"))
    elapsed = time.perf_counter() - started
    segments = [video for video, _ in updates[:-1]]
    assert len(segments) >= 3, updates
    assert all(video["is_stream"] and video["url"].endswith("playlist.m3u8") for video in segments)
    assert updates[-1][1].startswith("**Finished**") and "device **cpu**" in updates[-1][1]
    frames = saved_frames(client, tmp_path)
    assert frames.shape == (3 * FPS, 128, 128, 3)
    print(f"3 s of video streamed in {elapsed:.2f} s over {len(updates)} updates")


@pytest.mark.slow  # two paced 10 s streams
def test_prompt_change_mid_stream_changes_content(client: Client, tmp_path: Path) -> None:
    # 10 s: paced to playback, the stream is at most the lead (2 s) and a few chunks ahead of the clock, so the
    # switch, sent once the first segment arrives, lands well before the last second is made on any machine
    list(client.submit(PROMPT_A, seconds=SWITCH_SECONDS, api_name="/generate"))
    unchanged = saved_frames(client, tmp_path).astype(np.float32)

    job = client.submit(PROMPT_A, seconds=SWITCH_SECONDS, api_name="/generate")
    notes = []
    for _ in job:
        if not notes:  # right after the first segment arrived
            notes.append(client.predict(PROMPT_B, api_name="/set_prompt"))
    switched = saved_frames(client, tmp_path).astype(np.float32)

    assert notes[0] == f"Live prompt: “{PROMPT_B}”"
    assert unchanged.shape == switched.shape == (SWITCH_SECONDS * FPS, 128, 128, 3)
    before = np.abs(unchanged[:FPS] - switched[:FPS]).mean()  # first segment: made before the switch
    after = np.abs(unchanged[-FPS:] - switched[-FPS:]).mean()
    assert before < 1.0, before
    assert after > 5.0, after
    print(f"mean |difference| per pixel: first second {before:.2f}, last second {after:.2f}")


def test_stop_ends_the_stream(client: Client) -> None:
    job = client.submit(PROMPT_A, api_name="/generate")  # up to MAX_SECONDS of video
    for count, _ in enumerate(job, start=1):
        if count == 2:
            stats = client.predict(api_name="/stop")
            assert stats.startswith("**Stopped**")
    # the iteration ended: without the stop the stream would run on to MAX_SECONDS (30 segments, paced)
    assert job.status().code == Status.FINISHED
    assert len(job.outputs()) <= 4
    assert job.outputs()[-1][1].startswith("**Stopped**")


def test_queue_limits_concurrent_streams(server: str, client: Client) -> None:
    other = Client(server, download_files=False, verbose=False)
    first = client.submit(PROMPT_A, api_name="/generate")
    wait_until(lambda: bool(first.outputs()))
    second = other.submit(PROMPT_B, api_name="/generate")
    wait_until(lambda: second.status().code == Status.IN_QUEUE)
    seen = len(first.outputs())
    wait_until(lambda: len(first.outputs()) >= seen + 2)  # the first stream goes on (segments are paced) ...
    assert second.status().code == Status.IN_QUEUE and not second.outputs()  # ... the second waits: --max-streams 1
    client.predict(api_name="/stop")
    wait_until(lambda: bool(second.outputs()))  # the queued stream starts once the first one stopped
    first.result(timeout=120)
    assert first.outputs()[-1][1].startswith("**Stopped**")
    other.predict(api_name="/stop")
    second.result(timeout=120)
    assert second.outputs()[-1][1].startswith("**Stopped**")


def test_video_to_video_from_upload(client: Client, tmp_path: Path) -> None:
    ramp = np.linspace(0, 255, 96, dtype=np.uint8)
    frames = np.stack([np.stack([np.roll(ramp, 4 * t)[None].repeat(64, 0)] * 3, axis=-1) for t in range(20)])
    video = write_video(tmp_path / "input.mp4", frames, fps=FPS)
    updates = list(client.submit(PROMPT_A, source="upload", video=handle_file(str(video)), strength=0.5,
                                 api_name="/generate"))
    assert updates[-1][1].startswith("**Finished**")  # the stream ends with its input
    assert saved_frames(client, tmp_path).shape == (20, 128, 128, 3)


def test_bad_inputs_give_errors_and_the_app_keeps_serving(client: Client, tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00not a video\x17" * 100)
    tiny = write_video(tmp_path / "tiny.mp4", np.full((8, 8, 8, 3), 128, np.uint8), fps=FPS)
    cases = [
        (dict(prompt=""), "Enter a prompt"),
        (dict(prompt="x" * 10_000), "10,000 characters"),
        (dict(prompt=PROMPT_A, source="upload", video=handle_file(str(broken))), "Cannot read the uploaded video"),
        (dict(prompt=PROMPT_A, source="upload", video=handle_file(str(tiny))), "8x8 pixels"),
        (dict(prompt=PROMPT_A, source="upload"), "Choose a video file"),
        (dict(prompt=PROMPT_A, source="webcam"), "No webcam frames arrive"),  # after waiting 5 s for one
        (dict(prompt=PROMPT_A, strength=0.0), "less than minimum value"),
    ]
    for inputs, message in cases:
        with pytest.raises(AppError, match=message):
            client.predict(**inputs, api_name="/generate")
    assert client.predict("", api_name="/set_prompt").startswith("Prompt not changed")
    assert client.predict("y" * 10_000, api_name="/set_prompt").startswith("Prompt not changed")
    updates = list(client.submit(PROMPT_A, seconds=1, api_name="/generate"))
    assert updates[-1][1].startswith("**Finished**")
