"""What the browser tests share: Debian's Chromium with a synthetic camera, and starting a stream."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--autoplay-policy=no-user-gesture-required",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]  # a synthetic camera: green, moving

# Clicks Start and resolves once the <video> has presented a frame and its clock has moved.
START_AND_WAIT = """() => new Promise((resolve, reject) => {
  const t0 = performance.now();
  document.querySelector('#start').click();
  const tick = () => {
    const video = document.querySelector('#live-video video');
    if (video && video.currentTime > 0) return resolve(performance.now() - t0);
    if (performance.now() - t0 > 60000) return reject(new Error('no frame within 60 s'));
    setTimeout(tick, 10);
  };
  tick();
})"""
