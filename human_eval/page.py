"""The annotator page: static HTML, CSS and script (kept in Python so packaging needs no data files).

The page holds no study data: its script fetches ``/api/next`` and sets every text with
``textContent`` (never ``innerHTML``), and the server's Content-Security-Policy forbids inline
scripts, so a prompt is always shown as text.
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
    <figure><figcaption>Left</figcaption><video id="left" muted loop playsinline preload="auto"></video></figure>
    <figure><figcaption>Right</figcaption><video id="right" muted loop playsinline preload="auto"></video></figure>
  </section>
  <div class="controls">
    <button id="play" type="button">Play / pause (Space)</button>
    <button id="restart" type="button">Restart (R)</button>
  </div>
  <form id="questions"></form>
  <div class="submit">
    <button id="submit" type="button" disabled>Submit (Enter)</button>
    <span id="status" role="status"></span>
  </div>
  <p class="keys">Keys: <kbd>A</kbd>/<kbd>&larr;</kbd> left, <kbd>S</kbd>/<kbd>&darr;</kbd> tie,
    <kbd>D</kbd>/<kbd>&rarr;</kbd> right for the highlighted question; <kbd>&uarr;</kbd> back;
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
const KEYS = {a: "left", arrowleft: "left", s: "tie", arrowdown: "tie", d: "right", arrowright: "right"};
let item = null, answers = {}, active = 0, voteId = "", saving = false;

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
  const form = $("questions");
  form.replaceChildren();
  data.questions.forEach((q, i) => {
    const row = document.createElement("fieldset");
    row.className = "question";
    const legend = document.createElement("legend");
    legend.textContent = q.text;
    row.append(legend);
    for (const [value, label] of [["left", "Left"], ["tie", "Tie"], ["right", "Right"]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
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
  markActive();
  loadVideos(data.left_url, data.right_url, data.item_id);
}

function markActive() {
  document.querySelectorAll(".question").forEach((row, i) => row.classList.toggle("active", i === active));
  $("submit").disabled = saving || !item || Object.keys(answers).length < item.questions.length;
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
  const ready = Promise.all([once(L, "canplay"), once(R, "canplay")]);
  L.src = left;
  R.src = right;
  ready.then(() => { if (item && item.item_id === itemId) playBoth(); });
}

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
for (const video of [L, R]) {
  video.addEventListener("click", togglePlay);
  video.addEventListener("error", () => showError("A video could not be loaded: reload the page."));
}

async function submit() {
  if (saving || !item || Object.keys(answers).length < item.questions.length) return;
  saving = true;
  markActive();
  $("status").textContent = "Saving…";
  const body = JSON.stringify({token, item_id: item.item_id, answers, client_vote_id: voteId});
  let res = null;
  try {
    res = await fetch("/api/vote", {method: "POST", headers: {"Content-Type": "application/json"}, body});
  } catch (err) {
    $("status").textContent = "Not saved (network problem): press Submit again.";
  }
  saving = false;
  if (res && res.ok) {
    $("status").textContent = "Saved.";
    pauseBoth();
    await loadNext();
    return;
  }
  if (res) {
    const data = await res.json().catch(() => ({}));
    $("status").textContent = "Not saved: " + (data.error || `server error ${res.status}`);
  }
  markActive();
}

$("play").addEventListener("click", (e) => { togglePlay(); e.currentTarget.blur(); });
$("restart").addEventListener("click", (e) => { restart(); e.currentTarget.blur(); });
$("submit").addEventListener("click", (e) => { submit(); e.currentTarget.blur(); });

document.addEventListener("keydown", (e) => {
  if (!item || e.ctrlKey || e.metaKey || e.altKey) return;
  const key = e.key.toLowerCase();
  if (key in KEYS) answer(active, KEYS[key]);
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
body { max-width: 1200px; margin: 0 auto; padding: 12px 20px 40px; }
header { display: flex; justify-content: space-between; align-items: baseline; gap: 16px; }
h1 { font-size: 1.4rem; margin: 8px 0; }
#instructions { margin: 4px 0 12px; color: #444; }
.prompt { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 8px 14px; }
.prompt .label { font-size: .75rem; text-transform: uppercase; color: #777; letter-spacing: .05em; }
#prompt { margin: 4px 0; font-size: 1.1rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.videos { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; margin: 12px 0; }
figure { margin: 0; background: #000; border-radius: 8px; overflow: hidden; }
figcaption { color: #fff; background: #333; padding: 4px 10px; font-weight: 600; }
video { width: 100%; aspect-ratio: 1 / 1; object-fit: contain; display: block; background: #000; }
.controls, .submit { display: flex; gap: 10px; align-items: center; margin: 8px 0; }
button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid #999; background: #fff; cursor: pointer; }
button:disabled { opacity: .45; cursor: default; }
#submit { background: #0a5cd5; color: #fff; border-color: #0a5cd5; font-weight: 600; }
.question { border: 2px solid transparent; border-radius: 8px; background: #fff; margin: 6px 0; padding: 6px 12px;
            display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.question legend { float: left; flex: 1 1 100%; padding: 0; margin-bottom: 4px; }
.question.active { border-color: #0a5cd5; }
.question button[aria-pressed="true"] { background: #0a5cd5; color: #fff; border-color: #0a5cd5; }
.keys { color: #666; font-size: .85rem; }
kbd { border: 1px solid #bbb; border-radius: 3px; padding: 0 4px; background: #fff; font-size: .8rem; }
#error { color: #a00; font-weight: 600; }
table { border-collapse: collapse; background: #fff; margin-bottom: 16px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; font-size: .9rem; }
"""

ASSETS = {
    "app.js": (APP_JS, "text/javascript; charset=utf-8"),
    "style.css": (STYLE_CSS, "text/css; charset=utf-8"),
}
