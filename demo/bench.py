"""``python -m demo.bench``: what a visitor sees, timed in a real browser by frame content.

It serves the demo (or uses ``--url``), opens headless Chromium and grabs the picture on screen (the canvas
player's ``<canvas>``, or the HLS player's ``<video>`` drawn into a canvas) every 50 ms. Each run starts a red
object, steers it to blue and stops it:

- Start -> first frame: the click to the first grab that differs from the one at the click and shows colour;
- steer -> first visible effect: Enter to the first grab whose coloured pixels moved towards blue by >= 40
  levels of 255 (their mean blue minus red, against the last second before Enter);
- steer -> fully: Enter to the first grab in which <= 5 % of the coloured pixels are still red (by hue; the
  bundled student draws "blue" from blue to violet, so violet counts as the new colour);
- steer -> its frames drawn (canvas player): Enter to the first frame drawn that entered the model after the
  change (the player's "steering…" indicator clears): the delay of the video path alone;
- Stop -> frames stop: the click to the last grab that still differs from the one before.

Then ``--visitors`` pages play at once with the canvas player: each page hashes its canvas at every animation
frame; presented fps = picture changes per second, longest stall = the longest time without a change.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

import httpx

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
RED = "a red circle moving left on a dark background"
BLUE = "a blue circle moving left on a dark background"
EFFECT_LEVELS, FULL_RED_SHARE, MIN_COLOURED = 40, 0.05, 30

# Grabs the shown picture every 50 ms into window.__grabs: {t, red (pixels of red hue), coloured (pixels),
# tint (their mean blue minus red), hash}.
GRABBER = """(player) => {
  const c = document.createElement('canvas');
  c.width = c.height = 64;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  window.__grabs = [];
  const grab = () => {
    const t = performance.now();
    const source = player === 'canvas' ? document.querySelector('#live-canvas')
                                       : document.querySelector('#live-video video');
    if (!source || (source.tagName === 'VIDEO' && source.readyState < 2)) {
      window.__grabs.push({t, red: 0, coloured: 0, tint: 0, hash: -1});
      return;
    }
    ctx.clearRect(0, 0, 64, 64);
    ctx.drawImage(source, 0, 0, 64, 64);
    const d = ctx.getImageData(0, 0, 64, 64).data;
    let red = 0, coloured = 0, tint = 0, hash = 0;
    for (let i = 0; i < d.length; i += 4) {
      const [r, g, b] = [d[i], d[i + 1], d[i + 2]];
      hash = (hash + (i % 997 + 1) * (r + 3 * g + 7 * b)) % 2147483647;
      const max = Math.max(r, g, b), min = Math.min(r, g, b);
      if (max - min < 60) continue;
      coloured += 1;
      tint += b - r;
      let h = max === r ? ((g - b) / (max - min)) % 6 : max === g ? (b - r) / (max - min) + 2 : (r - g) / (max - min) + 4;
      h = (h * 60 + 360) % 360;
      if (h < 30 || h >= 330) red += 1;
    }
    window.__grabs.push({t, red, coloured, tint: coloured ? tint / coloured : 0, hash});
  };
  window.__grabber = setInterval(grab, 50);
}"""
CLICK = "(selector) => { const t = performance.now(); document.querySelector(selector).click(); return t; }"
# Hashes the canvas at every animation frame: picture changes and the longest time without one (into
# window.__presented when done, so that several pages measure at the same time).
PRESENTED = """(seconds) => { window.__presented = null; new Promise(resolve => {
  const canvas = document.querySelector('#live-canvas');
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  let last = null, changes = 0, changedAt = null, longest = 0;
  const t0 = performance.now();
  const tick = (now) => {
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    let hash = 0;
    for (let i = 0; i < d.length; i += 16) hash = (hash * 31 + d[i] + 3 * d[i + 1] + 7 * d[i + 2]) % 2147483647;
    if (last !== null && hash !== last) {
      changes += 1;
      if (changedAt !== null) longest = Math.max(longest, now - changedAt);
      changedAt = now;
    }
    last = hash;
    if (now - t0 < seconds * 1000) requestAnimationFrame(tick);
    else resolve({fps: changes / ((now - t0) / 1000), longest_stall_ms: longest,
                  player: {drawn: window.streamditLive.drawn, stalls: window.streamditLive.stalls}});
  };
  requestAnimationFrame(tick);
}).then(result => { window.__presented = result; }); }"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve(options: list[str], log: Path, limit_s: float = 300) -> Iterator[str]:
    """``python app.py`` on a free loopback port, its output in ``log``; its URL once it answers, then stopped."""
    port = free_port()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1",
           "NO_PROXY": "127.0.0.1,localhost"}
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port), *options],
                                   cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + limit_s
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not answer within {limit_s:.0f} s:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def grabs_since(page, t: float) -> list[dict]:
    return page.evaluate("(t) => window.__grabs.filter(g => g.t >= t)", t)


def wait_for(page, t: float, done, limit_s: float) -> list[dict]:
    """Grabs since ``t`` until ``done(grabs)`` holds or ``limit_s`` passes."""
    deadline = time.monotonic() + limit_s
    while True:
        grabs = grabs_since(page, t)
        if done(grabs) or time.monotonic() > deadline:
            return grabs
        time.sleep(0.1)


def is_full(g: dict) -> bool:
    return g["coloured"] >= MIN_COLOURED and g["red"] <= FULL_RED_SHARE * g["coloured"]


def one_run(page, player: str, stop_wait_s: float) -> dict[str, float | None]:
    """Start red, steer to blue, stop: the times in seconds (None: not seen within the wait)."""
    page.fill("#prompt textarea", RED)
    before = grabs_since(page, 0)[-1]
    clicked = page.evaluate(CLICK, "#start")

    def first_frame(grabs: list[dict]) -> dict | None:
        return next((g for g in grabs if g["hash"] != before["hash"] and g["coloured"] >= MIN_COLOURED), None)

    start = first_frame(wait_for(page, clicked, first_frame, 60))
    time.sleep(3.0)  # playing red
    page.fill("#prompt textarea", BLUE)
    steered = page.evaluate("() => performance.now()")
    page.press("#prompt textarea", "Enter")
    red_tints = [g["tint"] for g in grabs_since(page, steered - 1000) if g["t"] < steered and g["coloured"] >= MIN_COLOURED]
    baseline = statistics.median(red_tints) if red_tints else -255.0
    grabs = wait_for(page, steered, lambda gs: any(is_full(g) for g in gs), 30)
    effect = next((g for g in grabs if g["coloured"] >= MIN_COLOURED and g["tint"] >= baseline + EFFECT_LEVELS), None)
    full = next((g for g in grabs if is_full(g)), None)
    drawn = page.evaluate("() => window.streamditLive.steerDrawnAt ?? null") if player == "canvas" else None
    stopped = page.evaluate(CLICK, "#stop")
    time.sleep(stop_wait_s)
    after = grabs_since(page, stopped - 50)
    changes = [b["t"] for a, b in zip(after, after[1:]) if b["hash"] != a["hash"] and b["t"] >= stopped]
    page.wait_for_function("() => /Stopped|Finished/.test(document.querySelector('#stats').innerText)", timeout=30_000)

    def since(g: dict | None, t: float) -> float | None:
        return None if g is None else (g["t"] - t) / 1000

    times = {"start_to_first_frame_s": since(start, clicked), "steer_to_first_effect_s": since(effect, steered),
             "steer_to_fully_s": since(full, steered),
             "stop_to_frames_stop_s": (max(changes) - stopped) / 1000 if changes else 0.0}
    if player == "canvas":
        times["steer_to_its_frames_drawn_s"] = None if drawn is None or drawn < steered else (drawn - steered) / 1000
    return times


def median(values: list[float | None]) -> str:
    seen = [v for v in values if v is not None]
    missing = len(values) - len(seen)
    text = f"{statistics.median(seen):.2f} s" if seen else "never"
    return text + (f" ({missing} of {len(values)} runs never)" if missing and seen else "")


def latency(browser, url: str, player: str, runs: int) -> list[dict]:
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(url, wait_until="load")
    page.wait_for_selector("#start")
    page.locator(f'#player-mode input[value="{player}"]').check()
    page.evaluate(GRABBER, player)
    time.sleep(0.2)
    results = [one_run(page, player, stop_wait_s=2.0 if player == "canvas" else 6.0) for _ in range(runs)]
    page.context.close()
    return results


def visitors(browser, url: str, count: int, seconds: float) -> list[dict]:
    pages = []
    for _ in range(count):
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        page.goto(url, wait_until="load")
        page.wait_for_selector("#start")
        page.fill("#prompt textarea", RED)
        pages.append(page)
    for page in pages:
        page.click("#start")
    for page in pages:
        page.wait_for_function("() => window.streamditLive.drawn > 0", timeout=60_000)
    time.sleep(1.0)
    for page in pages:
        page.evaluate(PRESENTED, seconds)
    results = []
    for page in pages:
        page.wait_for_function("() => window.__presented !== null", timeout=(seconds + 60) * 1000)
        results.append(page.evaluate("() => window.__presented"))
    for page in pages:
        page.click("#stop")
        page.context.close()
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m demo.bench", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--url", help="a running demo to measure (default: serve one with app.py)")
    parser.add_argument("--app-args", default="--device cpu",
                        help="options for the app.py it serves (default: '--device cpu'; add e.g. --model DIR)")
    parser.add_argument("--runs", type=int, default=5, help="runs per player (medians are reported; default 5)")
    parser.add_argument("--players", nargs="+", choices=["canvas", "hls"], default=["canvas", "hls"])
    parser.add_argument("--visitors", type=int, default=3, help="pages playing at once (0: skip; default 3)")
    parser.add_argument("--visitor-seconds", type=float, default=30.0, help="how long they are measured (default 30)")
    parser.add_argument("--out", type=Path, help="also write every figure to this JSON file")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.runs < 1 or args.visitors < 0 or args.visitor_seconds <= 0:
        build_parser().error("--runs must be >= 1, --visitors >= 0 and --visitor-seconds > 0")
    from playwright.sync_api import sync_playwright

    report: dict[str, object] = {"load_before": os.getloadavg()}
    with (serve(args.app_args.split(), Path("/tmp") / f"demo-bench-{os.getpid()}.log") if args.url is None
          else nullcontext(args.url)) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"])
        for player in args.players:
            runs = latency(browser, url, player, args.runs)
            report[player] = runs
            print(f"{player} player, {len(runs)} runs (median), load {os.getloadavg()[0]:.2f}:")
            for key in runs[0]:
                print(f"  {key:26s} {median([r[key] for r in runs]):>10s}   runs: "
                      + ", ".join("-" if r[key] is None else f"{r[key]:.2f}" for r in runs))
        if args.visitors:
            seen = visitors(browser, url, args.visitors, args.visitor_seconds)
            report["visitors"] = seen
            print(f"{args.visitors} visitors at once for {args.visitor_seconds:.0f} s (canvas player), "
                  f"load {os.getloadavg()[0]:.2f}:")
            for i, v in enumerate(seen, 1):
                print(f"  visitor {i}: {v['fps']:.1f} presented fps, longest stall {v['longest_stall_ms']:.0f} ms "
                      f"(player: {v['player']['drawn']} frames drawn, {v['player']['stalls']} late)")
        browser.close()
    report["load_after"] = os.getloadavg()
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
