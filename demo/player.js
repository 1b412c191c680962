// The canvas player of the low-latency path (demo/live.py): reads frames from GET live/<token> as they are
// made, draws them at the model's fps from a buffer of a few frames, reports each drawn frame back, and shows
// "Steering…" from a prompt change until a frame made wholly under the new prompt is on screen.
(() => {
  const HEADER = 16, FRAME = 0;
  const live = {
    token: '', fps: 16, buffer: [], clock: null, wanted: 0, reader: null,
    drawn: 0, stalls: 0, last: -1, lastDrawAt: null, longestGapMs: 0, ended: false,
  };
  window.streamditLive = live;
  document.documentElement.dataset.player = 'canvas';

  const mode = () => document.querySelector('#player-mode input:checked')?.value || 'canvas';
  const canvas = () => document.querySelector('#live-canvas');
  const steering = (on) => {
    const badge = document.querySelector('#steering');
    if (badge) badge.hidden = !on;
  };
  const token = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
                                 (b) => b.toString(16).padStart(2, '0')).join('');

  live.stop = () => {
    if (live.reader) live.reader.abort();
    live.reader = null;
    live.token = '';
    live.buffer = [];
    live.clock = null;
    steering(false);
  };

  // Start pressed: a new token, the frame stream opened at once; '' when the HLS player is chosen.
  live.start = () => {
    live.stop();
    document.documentElement.dataset.player = mode();
    if (mode() !== 'canvas') return '';
    Object.assign(live, {token: token(), wanted: 0, drawn: 0, stalls: 0, last: -1, lastDrawAt: null,
                         longestGapMs: 0, ended: false});
    const c = canvas();
    if (c) c.getContext('2d').clearRect(0, 0, c.width, c.height);  // a new stream: no picture of the last one
    read(live.token);
    return live.token;
  };

  live.steer = (version) => {
    live.wanted = version;
    steering(true);
  };

  function control(message) {
    if (message.start) {
      live.fps = message.start.fps;
      const c = canvas();
      if (c) [c.width, c.height] = [message.start.width, message.start.height];
    }
    if (message.steer) live.steer(message.steer);
    if (message.end) live.ended = true;
  }

  function receive(index, version, payload) {
    const frame = {index, version, bitmap: null};
    live.buffer.push(frame);
    createImageBitmap(new Blob([payload], {type: 'image/jpeg'})).then((bitmap) => { frame.bitmap = bitmap; });
  }

  async function read(mine) {
    const abort = new AbortController();
    live.reader = abort;
    let pending = new Uint8Array(0);
    try {
      const response = await fetch(`live/${mine}`, {signal: abort.signal, cache: 'no-store'});
      const reader = response.body.getReader();
      for (;;) {
        const {done, value} = await reader.read();
        if (done || live.token !== mine) return;
        const joined = new Uint8Array(pending.length + value.length);
        joined.set(pending);
        joined.set(value, pending.length);
        pending = joined;
        while (pending.length >= HEADER) {
          const view = new DataView(pending.buffer, pending.byteOffset, HEADER);
          const length = view.getUint32(12, true);
          if (pending.length < HEADER + length) break;
          const payload = pending.slice(HEADER, HEADER + length);
          if (view.getUint32(0, true) === FRAME) {
            receive(view.getUint32(4, true), view.getUint32(8, true), payload);
          } else {
            control(JSON.parse(new TextDecoder().decode(payload)));
          }
          pending = pending.slice(HEADER + length);
        }
      }
    } catch (error) {
      if (error.name !== 'AbortError') console.warn('live video:', error);
    }
  }

  function draw(frame, now) {
    const c = canvas();
    if (c) c.getContext('2d').drawImage(frame.bitmap, 0, 0, c.width, c.height);
    frame.bitmap.close();
    if (live.lastDrawAt !== null) live.longestGapMs = Math.max(live.longestGapMs, now - live.lastDrawAt);
    live.lastDrawAt = now;
    live.drawn += 1;
    live.last = frame.index;
    if (live.wanted && frame.version >= live.wanted) {
      live.wanted = 0;
      live.steerDrawnAt = now;  // the first frame made wholly under the new prompt is on screen
      steering(false);
    }
    if (frame.index % 2 === 0 || live.buffer.length <= 1) {
      fetch(`live/${live.token}/played?index=${frame.index}`, {method: 'POST', keepalive: true}).catch(() => {});
    }
  }

  // Each frame is drawn at its time on a clock started at the first one; a frame that comes late (a stall)
  // restarts the clock at itself instead of being hurried through.
  function tick(now) {
    const next = live.buffer[0];
    if (next && next.bitmap) {
      const period = 1000 / live.fps;
      let due = live.clock ? live.clock.t0 + (next.index - live.clock.i0) * period : null;
      if (due === null || now - due > period) {
        if (due !== null) live.stalls += 1;
        live.clock = {t0: now, i0: next.index};
        due = now;
      }
      if (now >= due) {
        live.buffer.shift();
        draw(next, now);
      }
    }
    requestAnimationFrame(tick);
  }
  requestAnimationFrame(tick);

  document.addEventListener('click', (event) => {
    if (event.target.closest('#stop')) live.stop();  // frames stop at once, before the server hears of it
  }, true);
})();
