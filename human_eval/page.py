"""The annotator page: static HTML, CSS and script (kept in Python so packaging needs no data files).

The page holds no study data: its script fetches ``/api/next`` and sets every text with
``textContent`` (never ``innerHTML``), and the server's Content-Security-Policy forbids inline
scripts, so a prompt is always shown as text. Submit is enabled once every question is answered and
both videos have played to their end once (the videos loop by hand on ``ended`` so the end is seen);
the vote carries the seconds each video was seen playing. A video that fails to load shows a notice
over it, and "Can't play / skip" records a skip instead of a vote.
"""

ANNOTATE_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Video comparison</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header>
  <h1 id="title">Video comparison</h1>
  <div class="progress"><progress id="bar" max="1" value="0"></progress> <span id="progress"></span></div>
</header>
<p id="instructions"></p>
<main id="task" hidden>
  <section class="prompt"><span class="label">Prompt</span><p id="prompt"></p></section>
  <section class="videos">
    <figure><figcaption>Left <span class="seen" id="seen-left"></span></figcaption>
      <video id="left" muted playsinline preload="auto"></video><p class="video-error" id="error-left" hidden></p></figure>
    <figure><figcaption>Right <span class="seen" id="seen-right"></span></figcaption>
      <video id="right" muted playsinline preload="auto"></video><p class="video-error" id="error-right" hidden></p></figure>
  </section>
  <div class="controls">
    <button id="play" type="button">Play / pause (Space)</button>
    <button id="restart" type="button">Restart (R)</button>
    <button id="skip" type="button" class="secondary">Can't play / skip</button>
  </div>
  <form id="questions"></form>
  <div class="submit">
    <input id="comment" type="text" maxlength="2000" placeholder="Comment (optional)" aria-label="Comment (optional)">
    <button id="submit" type="button" disabled>Submit (Enter)</button>
    <span id="status" role="status"></span>
  </div>
  <p class="keys">Keys: <span id="answer-keys"></span> for the highlighted question; <kbd>&uarr;</kbd> back;
    <kbd>Enter</kbd> submit; <kbd>Space</kbd> play/pause both videos; <kbd>R</kbd> restart them.</p>
</main>
<section id="done" hidden><h2>All done &mdash; thank you!</h2><p>You can close this page.</p></section>
<p id="error" role="alert" hidden></p>
<script src="/app.js"></script>
</body>
</html>
"""

DENIED_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Access denied</title><link rel="stylesheet" href="/style.css">
</head><body><h1>Access denied</h1><p>This page needs your personal link (with its token).
Ask the study owner for it.</p></body></html>
"""

APP_JS = r"""
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
const L = $("left"), R = $("right");
let item = null, answers = {}, active = 0, voteId = "", saving = false, keysShown = -1;
// per video: seconds seen playing (wall clock), whether it played to its end once, whether it failed
let watch = {};

function newVoteId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

function setProgress(p) {
  $("progress").textContent = `${p.done} of ${p.total} rated`;
  $("bar").max = Math.max(p.total, 1);
  $("bar").value = p.done;
}

async function loadNext() {
  showError("");
  let res;
  try {
    res = await fetch("/api/next?token=" + encodeURIComponent(token), {cache: "no-store"});
  } catch (err) {
    showError("Network problem: trying again in 3 seconds.");
    setTimeout(loadNext, 3000);
    return;
  }
  if (!res.ok) {
    showError(res.status === 401 ? "This link is not valid: ask the study owner for your personal link."
                                 : `Server error ${res.status}: reload the page to try again.`);
    return;
  }
  const data = await res.json();
  setProgress(data.progress);
  if (data.done) {
    item = null;
    $("task").hidden = true;
    $("done").hidden = false;
    return;
  }
  show(data);
}

function show(data) {
  item = data; answers = {}; active = 0; voteId = newVoteId();
  $("title").textContent = data.title;
  document.title = data.title;
  $("instructions").textContent = data.instructions;
  $("prompt").textContent = data.prompt;
  $("comment").value = "";
  const form = $("questions");
  form.replaceChildren();
  data.questions.forEach((q, i) => {
    const row = document.createElement("fieldset");
    row.className = "question";
    const legend = document.createElement("legend");
    legend.textContent = q.text;
    row.append(legend);
    for (const choice of q.answers) {
      const value = choice.id;
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = choice.label;
      button.dataset.question = q.id;
      button.dataset.answer = value;
      button.setAttribute("aria-pressed", "false");
      button.addEventListener("click", () => { answer(i, value); button.blur(); });
      row.append(button);
    }
    form.append(row);
  });
  $("status").textContent = "";
  $("task").hidden = false;
  $("done").hidden = true;
  loadVideos(data.left_url, data.right_url, data.item_id);
  markActive();
}

function bothWatched() { return watch.left && watch.left.through && watch.right && watch.right.through; }

function markActive() {
  document.querySelectorAll(".question").forEach((row, i) => row.classList.toggle("active", i === active));
  if (item && keysShown !== active) {  // the highlighted question's answers and their keys
    showKeys(item.questions[active].answers);
    keysShown = active;
  }
  const answered = item && Object.keys(answers).length >= item.questions.length;
  $("submit").disabled = saving || !item || !answered || !bothWatched();
  for (const side of ["left", "right"]) {
    const w = watch[side];
    $("seen-" + side).textContent = !w ? "" : w.failed ? "(can't play)" : w.through ? "\u2713 watched" : "playing\u2026";
  }
  if (item && !saving && !bothWatched() && !$("status").textContent.startsWith("Not saved")) {
    $("status").textContent = (watch.left && watch.left.failed) || (watch.right && watch.right.failed)
      ? "A video can't be played: use \u201cCan't play / skip\u201d." : "Watch both videos to the end to vote.";
  } else if (item && !saving && $("status").textContent.startsWith("Watch both")) {
    $("status").textContent = "";
  }
}

const KEY_NAMES = {arrowleft: "\u2190", arrowright: "\u2192", arrowdown: "\u2193"};

function showKeys(choices) {
  const hints = $("answer-keys");
  hints.replaceChildren();
  choices.filter((c) => c.keys.length).forEach((c, i) => {
    if (i) hints.append(", ");
    c.keys.forEach((k, j) => {
      if (j) hints.append("/");
      const kbd = document.createElement("kbd");
      kbd.textContent = KEY_NAMES[k] || k.toUpperCase();
      hints.append(kbd);
    });
    hints.append(" " + c.label.toLowerCase());
  });
}

function answer(index, value) {
  const q = item.questions[index];
  answers[q.id] = value;
  document.querySelectorAll(`.question button[data-question="${CSS.escape(q.id)}"]`).forEach((b) => {
    b.setAttribute("aria-pressed", String(b.dataset.answer === value));
  });
  const next = item.questions.findIndex((qq, j) => j > index && !(qq.id in answers));
  active = next >= 0 ? next : index;
  markActive();
}

function once(video, event) {
  return new Promise((resolve) => video.addEventListener(event, resolve, {once: true}));
}

function loadVideos(left, right, itemId) {
  watch = {left: {seen: 0, tick: null, through: false, failed: false},
           right: {seen: 0, tick: null, through: false, failed: false}};
  for (const side of ["left", "right"]) $("error-" + side).hidden = true;
  const ready = Promise.all([once(L, "canplay"), once(R, "canplay")]);
  L.src = left;
  R.src = right;
  ready.then(() => { if (item && item.item_id === itemId) playBoth(); });
}

function playedShare(video) {
  let seen = 0;
  for (let i = 0; i < video.played.length; i++) seen += video.played.end(i) - video.played.start(i);
  return video.duration ? seen / video.duration : 0;
}

function track(video, side) {
  const tick = () => {
    const w = watch[side], now = performance.now();
    if (w.tick !== null) w.seen += Math.min((now - w.tick) / 1000, 1);
    w.tick = video.paused ? null : now;
  };
  video.addEventListener("timeupdate", tick);
  video.addEventListener("playing", () => { watch[side].tick = performance.now(); });
  video.addEventListener("pause", () => { tick(); watch[side].tick = null; });
  video.addEventListener("waiting", () => { watch[side].tick = null; });
  video.addEventListener("ended", () => {
    tick();
    // the same rule as the server's: played to the end, and seen playing for 90% of its length
    if (playedShare(video) >= 0.9 && watch[side].seen >= 0.9 * video.duration) watch[side].through = true;
    markActive();
    video.currentTime = 0;  // loop by hand, so the end of every pass is seen
    video.play().catch(() => {});
  });
  video.addEventListener("click", togglePlay);
  video.addEventListener("error", () => {
    if (!item) return;
    watch[side].failed = true;
    const note = $("error-" + side);
    note.textContent = "This video can't be played. Use \u201cCan't play / skip\u201d below.";
    note.hidden = false;
    $("skip").classList.add("urgent");
    markActive();
  });
}
track(L, "left");
track(R, "right");

function playBoth() {
  R.currentTime = L.currentTime;
  Promise.all([L.play(), R.play()]).catch(() => {});
}

function pauseBoth() { L.pause(); R.pause(); }
function togglePlay() { if (L.paused) playBoth(); else pauseBoth(); }
function restart() { L.currentTime = 0; R.currentTime = 0; playBoth(); }

L.addEventListener("timeupdate", () => {
  if (!L.paused && !R.seeking && Math.abs(R.currentTime - L.currentTime) > 0.15) R.currentTime = L.currentTime;
});

async function post(path, body) {
  try {
    return await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  } catch (err) {
    return null;
  }
}

async function submit() {
  if (saving || !item || Object.keys(answers).length < item.questions.length || !bothWatched()) return;
  saving = true;
  markActive();
  $("status").textContent = "Saving\u2026";
  const seen = (side) => Math.round(watch[side].seen * 100) / 100;
  const res = await post("/api/vote", {token, item_id: item.item_id, answers, client_vote_id: voteId,
                                       watched: {left: seen("left"), right: seen("right")},
                                       comment: $("comment").value});
  saving = false;
  if (res && res.ok) {
    $("status").textContent = "Saved.";
    pauseBoth();
    await loadNext();
    return;
  }
  const data = res ? await res.json().catch(() => ({})) : {};
  $("status").textContent = res ? "Not saved: " + (data.error || `server error ${res.status}`)
                                : "Not saved (network problem): press Submit again.";
  markActive();
}

async function skip() {
  if (saving || !item) return;
  saving = true;
  const res = await post("/api/skip", {token, item_id: item.item_id, reason: "cant_play"});
  saving = false;
  $("skip").classList.remove("urgent");
  if (res && res.ok) {
    pauseBoth();
    await loadNext();
    return;
  }
  $("status").textContent = "Skip not saved: " + (res ? `server error ${res.status}` : "network problem") + ", try again.";
}

$("play").addEventListener("click", (e) => { togglePlay(); e.currentTarget.blur(); });
$("restart").addEventListener("click", (e) => { restart(); e.currentTarget.blur(); });
$("submit").addEventListener("click", (e) => { submit(); e.currentTarget.blur(); });
$("skip").addEventListener("click", (e) => { skip(); e.currentTarget.blur(); });

document.addEventListener("keydown", (e) => {
  if (!item || e.ctrlKey || e.metaKey || e.altKey || e.target === $("comment")) return;
  const key = e.key.toLowerCase();
  const choice = item.questions[active] && item.questions[active].answers.find((a) => a.keys.includes(key));
  if (choice) answer(active, choice.id);
  else if (key === "arrowup") { active = Math.max(0, active - 1); markActive(); }
  else if (key === " ") togglePlay();
  else if (key === "r") restart();
  else if (key === "enter") submit();
  else return;
  e.preventDefault();
});

loadNext();
"""

STYLE_CSS = """
:root { font-family: system-ui, sans-serif; color: #1d1d1f; background: #f6f6f7; }
body { max-width: 1200px; margin: 0 auto; padding: 6px 16px 12px; }
header { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; flex-wrap: wrap; }
h1 { font-size: 1.2rem; margin: 4px 0; }
#instructions { margin: 0 0 6px; color: #444; font-size: .9rem; }
.prompt { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 4px 12px; }
.prompt .label { font-size: .7rem; text-transform: uppercase; color: #777; letter-spacing: .05em; }
#prompt { margin: 2px 0; font-size: 1rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.videos { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin: 6px 0; }
figure { margin: 0; background: #000; border-radius: 8px; overflow: hidden; position: relative; }
figcaption { color: #fff; background: #333; padding: 2px 10px; font-weight: 600; font-size: .9rem; }
figcaption .seen { font-weight: 400; color: #cfe3ff; margin-left: 6px; }
video { width: 100%; height: min(40vh, 44vw); object-fit: contain; display: block; background: #000; }
.video-error { position: absolute; inset: 30% 8% auto; margin: 0; padding: 8px; background: #a00; color: #fff;
               border-radius: 6px; font-weight: 600; text-align: center; }
.controls, .submit { display: flex; gap: 8px; align-items: center; margin: 4px 0; flex-wrap: wrap; }
button { font: inherit; padding: 4px 12px; border-radius: 6px; border: 1px solid #999; background: #fff; cursor: pointer; }
button:disabled { opacity: .45; cursor: default; }
button.secondary { margin-left: auto; }
button.urgent { background: #a00; color: #fff; border-color: #a00; }
#submit { background: #0a5cd5; color: #fff; border-color: #0a5cd5; font-weight: 600; }
#comment { flex: 1 1 240px; font: inherit; padding: 4px 8px; border: 1px solid #999; border-radius: 6px; min-width: 0; }
#questions { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 10px; }
.question { border: 2px solid transparent; border-radius: 8px; background: #fff; margin: 0; padding: 2px 10px 6px;
            display: flex; gap: 6px; align-items: center; flex-wrap: wrap; min-width: 0; }
.question legend { float: left; flex: 1 1 100%; padding: 0; margin: 2px 0; font-size: .9rem; }
.question.active { border-color: #0a5cd5; }
.question button[aria-pressed="true"] { background: #0a5cd5; color: #fff; border-color: #0a5cd5; }
.keys { color: #666; font-size: .75rem; margin: 2px 0; }
kbd { border: 1px solid #bbb; border-radius: 3px; padding: 0 4px; background: #fff; font-size: .75rem; }
#error { color: #a00; font-weight: 600; }
#status { font-size: .9rem; color: #444; }
table { border-collapse: collapse; background: #fff; margin-bottom: 16px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; font-size: .9rem; }
body.admin form { margin: 8px 0; }
body.admin form.inline { float: right; }
@media (max-width: 700px) {
  body { padding: 4px 8px 8px; }
  h1 { font-size: 1rem; }
  #instructions { font-size: .8rem; }
  .videos { gap: 6px; }
  video { height: auto; aspect-ratio: 1 / 1; }
  #questions { grid-template-columns: 1fr; gap: 3px; }
  .question { padding: 0 8px 4px; gap: 4px; }
  .question legend { font-size: .8rem; }
  .question button, .controls button { padding: 3px 10px; }
  .keys { display: none; }
}
"""

ASSETS = {
    "app.js": (APP_JS, "text/javascript; charset=utf-8"),
    "style.css": (STYLE_CSS, "text/css; charset=utf-8"),
}
