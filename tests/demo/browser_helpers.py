"""What the browser tests share: Debian's Chromium with a synthetic camera, and starting a stream."""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--autoplay-policy=no-user-gesture-required",
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]  # a synthetic camera: green, moving

# Chooses the HLS player (the <video>), clicks Start and resolves once it has presented a frame and its clock moved.
START_AND_WAIT = """() => new Promise((resolve, reject) => {
  document.querySelector('#player-mode input[value="hls"]').click();
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

# Clicks Start with the canvas player (the default) and resolves once it has drawn a frame.
START_CANVAS_AND_WAIT = """() => new Promise((resolve, reject) => {
  const t0 = performance.now();
  document.querySelector('#start').click();
  const tick = () => {
    if (window.streamditLive.drawn > 0) return resolve(performance.now() - t0);
    if (performance.now() - t0 > 60000) return reject(new Error('no frame drawn within 60 s'));
    setTimeout(tick, 10);
  };
  tick();
})"""

# The canvas's strongly coloured pixels, by the channel that dominates them (counts).
CANVAS_COLOURS = """() => {
  const canvas = document.querySelector('#live-canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const count = {red: 0, green: 0, blue: 0};
  for (let i = 0; i < data.length; i += 4) {
    const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) < 80) continue;
    if (r >= g && r >= b) count.red += 1; else if (b >= g) count.blue += 1; else count.green += 1;
  }
  return count;
}"""
