"""The page as a visitor meets it, in a real browser: bad prompts, the vocabulary check, the waiting line, layout."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.utils import Status

from browser_helpers import CHROMIUM, START_AND_WAIT  # on the path via tests/demo/conftest.py

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make system-deps)")]
PROMPT = "a red circle moving left on a dark background"
# Gradio's own progress text ("queue: 1/1 | 2.8/28.4s", "0.5/18.7s"): meaningless for a live stream
GRADIO_ETA = re.compile(r"queue:|\d+(\.\d+)?/\d+(\.\d+)?\s*s\b")
# The text a person can see inside an element: leaf elements that are displayed, visible and not transparent.
SEEN_TEXT = """(selector) => [...document.querySelectorAll(selector + ' *')]
  .filter(e => e.children.length === 0 && e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}))
  .map(e => e.textContent.trim()).filter(Boolean).join('\\n')"""
WAITING = "#stats:has-text('the server is busy with other visitors')"
# Resolves once the queue notice's expected wait is below the given number of seconds.
WAIT_BELOW = """(limit) => { const m = document.querySelector('#stats').innerText.match(/at most (\\d+) s/);
  return m !== null && Number(m[1]) < limit; }"""

SECONDS_OF_VIDEO = "Number((document.querySelector('#stats').innerText.match(/([\\d.]+) s of video/) || [0, -1])[1])"
SECONDS_OF_VIDEO_ABOVE = f"(limit) => {SECONDS_OF_VIDEO} > limit"


def open_page(browser, url: str, width: int = 1366, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url, wait_until="load")
    page.wait_for_selector("#start")
    page.wait_for_selector('#player-mode input[value="hls"]', state="attached")  # START_AND_WAIT clicks it first
    return page


def wait_until(condition, limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"still waiting after {limit_s} s"
        time.sleep(0.1)


def streaming(job) -> bool:
    """Whether a ``/generate`` job has its stream slot (its stats say Streaming, not that it waits in line)."""
    return any("Streaming" in str(output) for output in job.outputs())


def test_over_long_prompt_is_kept_whole_and_refused_visibly(server: str, browser) -> None:
    page = open_page(browser, server)
    page.fill("#prompt textarea", "a red circle " * 400)  # 5,200 characters
    assert page.eval_on_selector("#prompt textarea", "t => t.value.length") == 5200  # not cut silently
    page.wait_for_selector("#prompt-check:has-text('5,199 characters: the limit is 2,000')", timeout=30_000)
    page.click("#start")
    toast = page.get_by_text("The prompt is 5,199 characters long; the limit is 2,000.")
    toast.first.wait_for(state="visible", timeout=30_000)
    assert "Streaming" not in page.inner_text("#stats")


def test_unknown_words_are_named_as_typed_and_the_stream_still_plays(server: str, browser) -> None:
    page = open_page(browser, server)
    page.fill("#prompt textarea", "a cat running on the beach")
    page.wait_for_selector("#prompt-check:has-text(\"'cat', 'running' and 'beach' are not something this model "
                           "has seen\")", timeout=30_000)
    page.evaluate(START_AND_WAIT)  # an unknown word does not block the stream
    page.wait_for_selector("#stats:has-text('Streaming')", timeout=60_000)
    for text in (page.evaluate(SEEN_TEXT, "#live-video"), page.evaluate(SEEN_TEXT, "#stats")):
        assert not GRADIO_ETA.search(text), text  # no Gradio progress estimate on the live stream
    page.click("#stop")
    page.wait_for_selector("#stats:has-text('Stopped')", timeout=30_000)


def test_start_while_streaming_restarts_without_waiting_for_itself(server: str, browser) -> None:
    page = open_page(browser, server)
    page.evaluate(START_AND_WAIT)
    page.wait_for_function(SECONDS_OF_VIDEO_ABOVE, arg=2.5, timeout=120_000)
    page.click("#start")  # the running stream (30 s) ends at once and a new one starts from 0 s of video
    page.wait_for_function(f"() => {SECONDS_OF_VIDEO} < 2.5 && document.querySelector('#stats').innerText"
                           ".includes('Streaming')", timeout=60_000)
    assert "busy with other visitors" not in page.inner_text("#stats")
    page.click("#stop")
    page.wait_for_selector("#stats:has-text('Stopped')", timeout=30_000)


def test_prompt_markup_is_shown_as_text_in_the_live_prompt_note(server: str, browser) -> None:
    page = open_page(browser, server)
    page.evaluate(START_AND_WAIT)
    markup = '<img src="x" id="injected"> **bold** a blue square moving up'
    page.fill("#prompt textarea", markup)
    page.press("#prompt textarea", "Enter")
    page.wait_for_selector("#prompt-note:has-text('Live prompt')", timeout=30_000)
    note = page.inner_text("#prompt-note")
    print(f"\nlive-prompt note: {note!r}")
    assert markup in note  # shown as typed ...
    assert page.locator("#injected").count() == 0 and page.locator("#prompt-note strong").count() == 0  # ... not rendered
    page.click("#stop")
    page.wait_for_selector("#stats:has-text('Stopped')", timeout=30_000)


def test_waiting_line_shows_its_place_stop_leaves_it_and_stats_count_from_the_click(server: str, browser) -> None:
    other = Client(server, download_files=False, verbose=False)
    busy = other.submit(PROMPT, api_name="/generate")  # takes the only stream slot (--max-streams 1) ...
    wait_until(lambda: streaming(busy))  # ... once a stream of an earlier test has let go of it
    page = open_page(browser, server)
    page.click("#start")
    page.wait_for_selector(WAITING, timeout=30_000)
    # a visitor of an earlier test that the server has not yet seen leave may still stand in line before it
    page.wait_for_selector("#stats:has-text('You are next')", timeout=60_000)
    notice = page.inner_text("#stats")
    print(f"\nqueue notice: {notice!r}")
    assert "You are next (1 waiting)" in notice and re.search(r"expected wait at most \*?\*?\d+ s", notice.replace("**", ""))
    seen = page.evaluate(SEEN_TEXT, "#live-video") + page.evaluate(SEEN_TEXT, "#stats")
    assert not GRADIO_ETA.search(seen), seen

    page.click("#stop")  # while waiting: the queued stream must never run
    page.wait_for_selector("#stats:has-text('Cancelled')", timeout=30_000)
    other.predict(api_name="/stop")
    busy.result(timeout=120)
    third = Client(server, download_files=False, verbose=False)
    after = third.submit(PROMPT, seconds=3, api_name="/generate")
    wait_until(lambda: bool(after.outputs()) or after.done())  # the slot is free for the next visitor ...
    assert after.outputs() and after.status().code != Status.IN_QUEUE
    assert "Cancelled" in page.inner_text("#stats")  # ... and the cancelled stream did not start
    after.result(timeout=120)

    busy = other.submit(PROMPT, api_name="/generate")
    wait_until(lambda: streaming(busy))
    page.click("#start")
    page.wait_for_selector(WAITING, timeout=30_000)
    first_wait = int(re.search(r"at most (\d+) s", page.inner_text("#stats"))[1])
    page.wait_for_function(WAIT_BELOW, arg=first_wait - 1, timeout=60_000)  # it counts down: the visitor waits
    other.predict(api_name="/stop")  # the slot frees: the waiting stream starts
    page.wait_for_selector("#stats:has-text('Streaming')", timeout=120_000)
    stats = page.inner_text("#stats")
    print(f"stats after waiting: {stats!r}")
    found = re.search(r"first frame ([\d.]+) s after Start \(of which ([\d.]+) s waiting in line\)", stats)
    assert found and float(found[1]) > float(found[2]) > 0, stats
    page.click("#stop")
    page.wait_for_selector("#stats:has-text('Stopped')", timeout=30_000)
    busy.result(timeout=120)


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)])
def test_layout_prompt_first_on_a_phone_video_scaled_up_examples_whole(server: str, browser, width: int, height: int,
                                                                        tmp_path: Path) -> None:
    page = open_page(browser, server, width, height)
    page.evaluate(START_AND_WAIT)
    page.evaluate("() => window.scrollTo(0, 0)")
    shot = tmp_path / f"page-{width}x{height}.png"
    page.screenshot(path=str(shot), full_page=True)
    video = page.eval_on_selector("#live-video video", "v => { const r = v.getBoundingClientRect(); "
                                  "return {width: r.width, height: r.height, natural: v.videoWidth, "
                                  "fit: getComputedStyle(v).objectFit}; }")
    box = page.locator("#live-video").bounding_box()
    prompt = page.locator("#prompt").bounding_box()
    print(f"\n{width}x{height}: video element {video}, video box {box}, prompt {prompt}; screenshot {shot}")
    assert video["fit"] == "contain" and video["natural"] > 0
    assert min(video["width"], video["height"]) >= 0.95 * min(box["width"], box["height"])  # fills its box
    assert video["width"] >= 2 * video["natural"]  # scaled up, not sitting small in the box
    if width < 720:
        assert prompt["y"] + prompt["height"] <= box["y"]  # the prompt above the video
        assert prompt["y"] < height and box["width"] >= 0.8 * width
    captions = page.locator("#examples .thumbnail-item .caption-label")  # a preview clip each, its prompt under it
    assert captions.count() == 5 and page.locator("#examples .thumbnail-item img").count() == 5
    for i in range(5):
        whole = captions.nth(i).evaluate("c => { const r = c.getBoundingClientRect(); return c.scrollWidth <= "
                                         "c.clientWidth + 1 && c.scrollHeight <= c.clientHeight + 1 && "
                                         "r.right <= document.documentElement.clientWidth; }")
        assert whole, (i, captions.nth(i).inner_text())
    page.locator("#examples .thumbnail-item").nth(1).click()  # a clip fills the prompt
    page.wait_for_function("() => document.querySelector('#prompt textarea').value === 'a blue square moving up'")
    page.click("#stop")
