"""The bundled student in a real browser: every presented frame moves (no picture held for a chunk).

Each frame the page presents (requestVideoFrameCallback) is drawn into a canvas and compared with the one
before. A stream that changes picture only at chunk borders (the group-wise decoder without a motion head:
one picture per 4 frames) presents its object frozen for 3 frames of every 4, and a change every 4th frame
far above the others.
"""

from __future__ import annotations

import numpy as np
import pytest
from browser_helpers import ARGS, CHROMIUM, START_AND_WAIT  # on the path via tests/demo/conftest.py

PROMPT = "a red circle moving left on a gray background"
# Records, for each frame the page presents, its index in the stream (media time x 16 fps) and the mean
# absolute change (0-255) of its pixels against the frame presented before.
FRAME_CHANGES = """(seconds) => new Promise(resolve => {
  const video = document.querySelector('#live-video video');
  const canvas = document.createElement('canvas');
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  let previous = null;
  const frame = [], index = [];
  const onFrame = (now, meta) => {
    canvas.width = video.videoWidth; canvas.height = video.videoHeight;
    ctx.drawImage(video, 0, 0);
    const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    if (previous && previous.length === pixels.length) {
      let all = 0;
      for (let i = 0; i < pixels.length; i += 4) {
        all += Math.abs(pixels[i] - previous[i]) + Math.abs(pixels[i + 1] - previous[i + 1])
             + Math.abs(pixels[i + 2] - previous[i + 2]);
      }
      frame.push(all / (3 * pixels.length / 4));
      index.push(Math.round(meta.mediaTime * FPS));
    }
    previous = pixels;
    video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
  setTimeout(() => resolve({frame, index}), seconds * 1000);
})""".replace("FPS", "16")
FROZEN = 0.2  # a presented frame that changed less than a fifth of the stream's mean change shows the same picture


def step_ratio(changes: np.ndarray, index: np.ndarray, period: int) -> float:
    """The seam score of frame changes (change i: into frame `index[i]` of the stream) whose chunk borders
    are unknown: at the phase of `index` where changes are largest, their mean over the mean of the others
    (1: no step). Only changes from the frame just before count (a dropped frame doubles a change)."""
    consecutive = np.diff(index, prepend=index[0] - 1) == 1
    changes, index = changes[consecutive], index[consecutive]
    return max(changes[index % period == phase].mean() / changes[index % period != phase].mean()
               for phase in range(period))


def longest_run(still: np.ndarray) -> int:
    """Length of the longest run of True in a boolean array."""
    best = run = 0
    for value in still:
        run = run + 1 if value else 0
        best = max(best, run)
    return best


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make system-deps)")
def test_every_presented_frame_of_the_bundled_student_moves(student_server: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(student_server, wait_until="load")
            page.fill("#prompt textarea", PROMPT)
            page.evaluate(START_AND_WAIT)
            changes = page.evaluate(FRAME_CHANGES, 6)
            page.click("#stop")
        finally:
            browser.close()
    frame, index = np.asarray(changes["frame"]), np.asarray(changes["index"])
    after_start = index >= 4  # the stream's first chunk has no chunk before it to take its motion from
    frame, index = frame[after_start], index[after_start]
    frozen = frame < FROZEN * frame.mean()
    steps = step_ratio(frame, index, 4)
    print(f"\npresented {len(frame) + 1} frames in 6 s; change per frame mean {frame.mean():.2f} grey levels; "
          f"step ratio at the chunk length (4 frames) {steps:.2f}; frozen frames {frozen.mean():.0%}, longest "
          f"frozen run {longest_run(frozen)}")
    assert len(frame) >= 30, len(frame)  # it played
    assert longest_run(frozen) <= 1 and frozen.mean() <= 0.1, np.round(frame, 2)
    assert steps < 2.0, np.round(frame, 2)
