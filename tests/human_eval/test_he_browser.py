"""A real browser (Playwright + Debian Chromium, headless) rates one pair through the annotator page."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from human_eval.load import free_port, start_server
from human_eval.store import Store

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<script>window.__pwned = 1</script><b>bold</b> a red square"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make system-deps)")
def test_browser_rates_one_pair(study_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    pairs = study_dir / "pairs.csv"
    lines = pairs.read_text().splitlines()
    lines[1:] = [line.replace("a coloured square moving across the frame", HOSTILE.replace('"', '""')) for line in lines[1:]]
    pairs.write_text("\n".join(lines) + "\n")
    db = tmp_path / "votes.sqlite"
    store = Store(db)
    token = store.create_tokens(1)[0][1]
    store.close()
    port = free_port()
    server = start_server(study_dir, db, port, log=tmp_path / "server.log")
    shot = tmp_path / "annotator_page.png"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--no-first-run", "--autoplay-policy=no-user-gesture-required"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            page.wait_for_function("() => document.getElementById('prompt').textContent.length > 0", timeout=15_000)

            # the prompt is shown as text: no script ran, no element was made from it
            assert page.locator("#prompt").inner_text().startswith(HOSTILE)
            assert page.evaluate("window.__pwned") is None
            assert page.locator("#prompt b, #prompt script").count() == 0
            html = page.content()
            assert not any(name in html for name in ("system_a", "system_b", "system_c", "videos/"))

            # both videos decode and play together; Space pauses both
            page.wait_for_function("() => ['left', 'right'].every(id => document.getElementById(id).readyState >= 2)",
                                   timeout=15_000)
            page.wait_for_function("() => !document.getElementById('left').paused", timeout=10_000)
            page.keyboard.press("Space")
            state = page.evaluate("(() => { const l = document.getElementById('left'), r = document.getElementById('right');"
                                  " return {lp: l.paused, rp: r.paused, dt: Math.abs(l.currentTime - r.currentTime)}; })()")
            assert state["lp"] and state["rp"] and state["dt"] < 0.3

            # answer: a click for the first question, keyboard shortcuts for the others
            page.locator(".question").nth(0).get_by_role("button", name="Left").click()
            for key in ("d", "s", "ArrowLeft"):
                page.keyboard.press(key)
            assert page.locator("#submit").is_enabled()
            assert page.locator("[aria-pressed=true]").count() == 4
            page.screenshot(path=str(shot), full_page=True)
            item_before = page.evaluate("item.item_id")
            page.keyboard.press("Enter")
            page.wait_for_function("() => document.getElementById('progress').textContent.startsWith('1 of')", timeout=10_000)
            page.wait_for_function(f"() => item && item.item_id !== {json.dumps(item_before)}", timeout=10_000)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
        if os.environ.get("HUMAN_EVAL_SCREENSHOTS") and shot.exists():
            shutil.copy(shot, os.environ["HUMAN_EVAL_SCREENSHOTS"])

    store = Store(db)
    rows = store.vote_rows()
    store.close()
    assert len(rows) == 1 and rows[0]["assignment_id"] == item_before
    assert json.loads(rows[0]["answers"]) == {"overall": "left", "frame_consistency": "right",
                                              "motion_naturalness": "tie", "text_alignment": "left"}
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
