"""A real browser (Playwright + Debian Chromium, headless) on the annotator page against a server subprocess.

Events are awaited by condition with generous timeouts (a loaded machine is slow, not wrong); no
duration is asserted.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from human_eval.load import free_port, start_server
from human_eval.store import Store
from human_eval.toy import make_toy_study

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
HOSTILE = "<script>window.__pwned = 1</script><b>bold</b> a red square"
WAIT_MS = 60_000
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def _launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--autoplay-policy=no-user-gesture-required"])


def _fits(page, width, height):
    """The whole form (prompt, both videos, every question, comment, Submit, skip) lies inside the window."""
    boxes = page.evaluate("""() => ['prompt', 'left', 'right', 'questions', 'comment', 'submit', 'skip']
        .map(id => { const r = document.getElementById(id).getBoundingClientRect();
                     return {id, top: r.top, left: r.left, bottom: r.bottom, right: r.right}; })""")
    return [b for b in boxes if b["top"] < 0 or b["left"] < 0 or b["bottom"] > height or b["right"] > width]


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make system-deps)")
def test_browser_vote_needs_both_videos_played_and_skip_is_recorded(tmp_path):
    from playwright.sync_api import sync_playwright

    # 3 s videos (24 frames at 8 fps): long enough to answer every question before they end
    study = make_toy_study(tmp_path / "study", systems=2, prompts=3, gold=0, frames=24, size=32)
    pairs = study / "pairs.csv"
    pairs.write_text(pairs.read_text().replace("a coloured square moving across the frame", HOSTILE.replace('"', '""')))
    db = tmp_path / "votes.sqlite"
    store = Store(db)
    token = store.create_tokens(1)[0][1]
    store.close()
    port = free_port()
    server = start_server(study, db, port, log=tmp_path / "server.log")
    shots = {name: tmp_path / f"annotator_{name}.png" for name in SIZES}
    try:
        with sync_playwright() as p:
            browser = _launch(p)
            page = browser.new_page(viewport=dict(zip(("width", "height"), SIZES["desktop"])))
            page.goto(f"http://127.0.0.1:{port}/?token={token}")
            page.wait_for_function("() => document.getElementById('prompt').textContent.length > 0", timeout=WAIT_MS)

            # the prompt is shown as text: no script ran, no element was made from it
            assert page.locator("#prompt").inner_text().startswith(HOSTILE)
            assert page.evaluate("window.__pwned") is None
            assert page.locator("#prompt b, #prompt script").count() == 0
            html = page.content()
            assert not any(name in html for name in ("system_a", "system_b", "videos/"))

            # the key hints are the highlighted question's answers; every question answered at once (a click, then
            # keys): Submit stays off until both videos ended once
            assert page.locator("#answer-keys").inner_text() == "A/\u2190 left, S/\u2193 tie, D/\u2192 right"
            page.locator(".question").nth(0).get_by_role("button", name="Left").click()
            for key in ("d", "s", "ArrowLeft"):
                page.keyboard.press(key)
            assert page.locator("[aria-pressed=true]").count() == 4
            assert not page.evaluate("bothWatched()"), "the videos had already ended: the check below proves nothing"
            assert page.locator("#submit").is_disabled()
            assert "Watch both videos to the end" in page.locator("#status").inner_text()
            page.locator("#submit").click(force=True)
            page.keyboard.press("Enter")
            page.wait_for_function("() => bothWatched()", timeout=WAIT_MS)
            page.wait_for_function("() => !document.getElementById('submit').disabled", timeout=WAIT_MS)
            seen = page.evaluate("[watch.left.seen, watch.right.seen, L.duration]")
            assert seen[0] >= 0.9 * seen[2] and seen[1] >= 0.9 * seen[2]
            # the right video follows the left one while they play
            page.wait_for_function("() => !L.paused && Math.abs(L.currentTime - R.currentTime) < 0.3", timeout=WAIT_MS)
            page.keyboard.press("Space")  # pauses both, and plays both again
            page.wait_for_function("() => L.paused && R.paused", timeout=WAIT_MS)
            page.keyboard.press("Space")
            page.wait_for_function("() => !L.paused && !R.paused", timeout=WAIT_MS)

            page.fill("#comment", "left one is sharper")
            for name, (width, height) in SIZES.items():
                page.set_viewport_size({"width": width, "height": height})
                page.evaluate("window.scrollTo(0, 0)")
                assert _fits(page, width, height) == [], name
                page.screenshot(path=str(shots[name]))
            item_before = page.evaluate("item.item_id")
            store = Store(db)
            assert store.count_votes() == 0  # nothing went through while Submit was off
            store.close()

            # the next items' files break while the server runs: the page says so and offers the skip
            for video in (study / "videos").rglob("*.mp4"):
                video.write_bytes(b"\0" * 64)
            page.locator("#submit").click()
            page.wait_for_function(f"() => item && item.item_id !== {json.dumps(item_before)}", timeout=WAIT_MS)
            page.wait_for_function("() => !document.getElementById('error-left').hidden", timeout=WAIT_MS)
            assert "can't be played" in page.locator("#error-left").inner_text()
            assert page.locator("#submit").is_disabled()
            skipped_item = page.evaluate("item.item_id")
            page.locator("#skip").click()
            page.wait_for_function(f"() => item && item.item_id !== {json.dumps(skipped_item)}", timeout=WAIT_MS)
            page.wait_for_function("() => document.getElementById('progress').textContent.startsWith('2 of')",
                                   timeout=WAIT_MS)
            browser.close()
    finally:
        server.terminate()
        server.wait(60)
        if os.environ.get("HUMAN_EVAL_SCREENSHOTS"):
            for shot in shots.values():
                if shot.exists():
                    shutil.copy(shot, os.environ["HUMAN_EVAL_SCREENSHOTS"])

    store = Store(db)
    rows, skips = store.vote_rows(), store.skip_rows()
    store.close()
    assert len(rows) == 1 and rows[0]["assignment_id"] == item_before
    assert json.loads(rows[0]["answers"]) == {"overall": "left", "frame_consistency": "right",
                                              "motion_naturalness": "tie", "text_alignment": "left"}
    assert rows[0]["comment"] == "left one is sharper" and min(rows[0]["watched_left"], rows[0]["watched_right"]) >= 2.7
    assert [(s["assignment_id"], s["reason"]) for s in skips] == [(skipped_item, "cant_play")]
    for shot in shots.values():
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make system-deps)")
def test_browser_admin_signs_in_adds_and_revokes_annotators(study_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    db = tmp_path / "votes.sqlite"
    store = Store(db)
    store.create_tokens(1)
    secret = store.create_tokens(1, "admin", role="admin")[0][1]
    store.close()
    port = free_port()
    server = start_server(study_dir, db, port, log=tmp_path / "server.log")
    try:
        with sync_playwright() as p:
            browser = _launch(p)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"http://127.0.0.1:{port}/admin?secret={secret}")
            page.get_by_text("not accepted in the address").wait_for(timeout=WAIT_MS)
            page.fill("input[name=secret]", secret)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Study progress").wait_for(timeout=WAIT_MS)
            assert "secret" not in page.url
            page.fill("input[name=n]", "2")
            page.fill("input[name=prefix]", "late")
            page.get_by_role("button", name="Add").click()
            page.get_by_role("heading", name="New annotator links").wait_for(timeout=WAIT_MS)
            links = [cell.inner_text() for cell in page.locator("td:has-text('/?token=')").all()]
            page.goto(f"http://127.0.0.1:{port}/admin")
            page.select_option("select[name=name]", "late-003")
            page.get_by_role("button", name="Revoke").click()
            page.get_by_role("heading", name="Study progress").wait_for(timeout=WAIT_MS)
            browser.close()
    finally:
        server.terminate()
        server.wait(60)
    assert len(links) == 2 and [a["name"] for a in Store(db).accounts() if a["revoked"]] == ["late-003"]
    store = Store(db)
    assert store.annotator(links[0].split("token=")[1]) is None and store.annotator(links[1].split("token=")[1])
    store.close()
