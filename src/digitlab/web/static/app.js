// The draw-a-digit page. It draws, sends the drawing to POST api/predict as a PNG, and shows
// what comes back. Everything it knows about digits comes from that JSON API.
"use strict";

const PAPER = "#ffffff";
const INK = "#17181c";            // dark ink on white paper on screen; sent inverted (see drawingAsPNG)
const BRUSH = 0.075;              // the brush's width over the sheet's height: close to MNIST's strokes
const THROTTLE_MS = 150;          // at most one prediction per 150 ms while drawing
const SHEETS = {                  // the canvas for each mode, and the longer side of the PNG sent
  digit: { width: 400, height: 400, send: 160 },
  number: { width: 800, height: 320, send: 320 },
};
const PHOTO_SIDE = 1200;          // an uploaded photo is shrunk to this before it is sent (the limit is 2 MB)
const HINTS = {
  digit: "Draw a digit here",
  number: "Write a number here, digits side by side",
};

const $ = (id) => document.getElementById(id);
const canvas = $("canvas");
const ctx = canvas.getContext("2d");

const state = {
  mode: "digit",
  hasInk: false,
  photo: null,                    // an uploaded photo (a Blob), sent instead of the canvas
  pointer: null,                  // the pointer drawing now
  last: null,                     // its last point, and the midpoint the stroke has reached
  mid: null,
  version: 0,                     // bumped by every change to the drawing
  shown: 0,                       // the version whose prediction is on screen
  epoch: 0,                       // bumped by clear, mode and upload: older answers are dropped
  timer: null,
  inflight: false,
  selected: 0,                    // the digit of a number whose bars are shown
  result: null,
};

// ------------------------------------------------------------------------------------- drawing

function resetSheet() {
  const sheet = SHEETS[state.mode];
  canvas.width = sheet.width;
  canvas.height = sheet.height;
  ctx.fillStyle = PAPER;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.strokeStyle = INK;
  ctx.fillStyle = INK;
  ctx.lineWidth = BRUSH * canvas.height;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
}

function point(event) {
  const box = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * canvas.width) / box.width,
    y: ((event.clientY - box.top) * canvas.height) / box.height,
  };
}

function dot(p) {
  ctx.beginPath();
  ctx.arc(p.x, p.y, ctx.lineWidth / 2, 0, 2 * Math.PI);
  ctx.fill();
}

// Strokes are smoothed: each segment is a quadratic curve from one midpoint to the next, bent
// through the point the pointer reported, so fast strokes stay round instead of polygonal.
function extend(p) {
  const mid = { x: (state.last.x + p.x) / 2, y: (state.last.y + p.y) / 2 };
  ctx.beginPath();
  ctx.moveTo(state.mid.x, state.mid.y);
  ctx.quadraticCurveTo(state.last.x, state.last.y, mid.x, mid.y);
  ctx.stroke();
  state.last = p;
  state.mid = mid;
}

function finishStroke() {
  if (state.pointer === null) return;
  ctx.beginPath();
  ctx.moveTo(state.mid.x, state.mid.y);
  ctx.lineTo(state.last.x, state.last.y);
  ctx.stroke();
  state.pointer = null;
  changed();
}

canvas.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  if (state.pointer !== null) return;              // one finger draws; a second one is ignored
  event.preventDefault();
  if (state.photo) clearAll();                     // drawing starts a new sheet after a photo
  canvas.setPointerCapture(event.pointerId);
  state.pointer = event.pointerId;
  state.last = state.mid = point(event);
  dot(state.last);
  state.hasInk = true;
  changed();
});

canvas.addEventListener("pointermove", (event) => {
  if (event.pointerId !== state.pointer) return;
  event.preventDefault();
  const events = (event.getCoalescedEvents && event.getCoalescedEvents()) || [];
  for (const each of events.length ? events : [event]) extend(point(each));
  changed();
});

for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
  canvas.addEventListener(type, (event) => {
    if (event.pointerId === state.pointer) finishStroke();
  });
}

// ------------------------------------------------------------------------------------- predicting

function changed() {
  state.version += 1;
  $("hint").hidden = state.hasInk || state.photo !== null;
  if (state.timer === null) state.timer = setTimeout(predict, THROTTLE_MS);
  markPending();
}

function markPending() {
  const pending = state.timer !== null || state.inflight || state.shown !== state.version;
  $("result").dataset.pending = String(pending);
}

function drawingAsPNG() {
  const longer = Math.max(canvas.width, canvas.height);
  const scale = SHEETS[state.mode].send / longer;
  const small = document.createElement("canvas");
  small.width = Math.round(canvas.width * scale);
  small.height = Math.round(canvas.height * scale);
  const g = small.getContext("2d");
  g.fillStyle = PAPER;
  g.fillRect(0, 0, small.width, small.height);
  g.imageSmoothingEnabled = true;
  g.imageSmoothingQuality = "high";
  g.drawImage(canvas, 0, 0, small.width, small.height);
  // Sent as MNIST draws digits, white ink on black, so preprocessing has no polarity to guess
  // (it guesses wrong for some bold dark-on-white digits that cover much of the sheet).
  g.globalCompositeOperation = "difference";
  g.fillStyle = "#ffffff";
  g.fillRect(0, 0, small.width, small.height);
  return new Promise((resolve) => small.toBlob(resolve, "image/png"));
}

async function predict() {
  state.timer = null;
  if (state.inflight) return markPending();        // the answer's arrival sends again
  if (!state.hasInk && !state.photo) {
    state.shown = state.version;
    return markPending();
  }
  const version = state.version;
  const epoch = state.epoch;
  state.inflight = true;
  markPending();
  try {
    const body = state.photo || (await drawingAsPNG());
    const response = await fetch(`api/predict?mode=${state.mode}`, {
      method: "POST",
      headers: { "Content-Type": body.type || "image/png" },
      body,
    });
    const answer = await response.json().catch(() => ({ error: `the server answered ${response.status}` }));
    if (epoch === state.epoch) {
      if (response.ok) show(answer);
      else showError(response.status, answer.error || `the server answered ${response.status}`);
    }
  } catch (error) {
    if (epoch === state.epoch) showError(0, "The server cannot be reached: is `digitlab serve` still running?");
  } finally {
    state.inflight = false;
    if (epoch === state.epoch) state.shown = version;
    if (state.shown !== state.version && state.timer === null) state.timer = setTimeout(predict, 0);
    markPending();
  }
}

// ------------------------------------------------------------------------------------- showing

function percent(p) {
  if (p >= 0.9995) return "100%";
  if (p < 0.001) return p > 0 ? "<0.1%" : "0%";
  return `${(100 * p).toFixed(1)}%`;
}

function buildBars() {
  const bars = $("bars");
  for (let digit = 0; digit < 10; digit += 1) {
    const item = document.createElement("li");
    item.className = "bar";
    item.innerHTML = '<span class="pct"></span><span class="track"><span class="fill"></span></span>' +
      `<span class="label">${digit}</span>`;
    bars.append(item);
  }
}

function showBars(probabilities, best) {
  [...$("bars").children].forEach((item, digit) => {
    const p = probabilities ? probabilities[digit] : 0;
    item.classList.toggle("best", probabilities !== null && digit === best);
    item.querySelector(".fill").style.height = `${(100 * p).toFixed(1)}%`;
    item.querySelector(".pct").textContent = probabilities && p >= 0.01 ? `${Math.round(100 * p)}%` : "";
    item.setAttribute("aria-label", `${digit}: ${percent(p)}`);
  });
}

function showSeen(url) {
  const seen = $("seen");
  if (url) seen.src = url;
  seen.hidden = !url;
  $("seen-empty").hidden = Boolean(url);
}

function show(answer) {
  state.result = answer;
  const result = $("result");
  result.dataset.state = "done";
  result.dataset.mode = answer.mode || "digit";
  $("message").textContent = "";
  if (answer.mode === "number") {
    $("answer-label").textContent = "The network reads the number";
    $("answer").textContent = answer.number;
    $("confidence").textContent = `${percent(answer.probability)} sure of all ${answer.digits.length} digits`;
    state.selected = Math.min(state.selected, answer.digits.length - 1);
    showDigits(answer.digits);
    $("seen-figure").hidden = true;
    selectDigit(state.selected);
  } else {
    $("answer-label").textContent = "The network reads";
    $("answer").textContent = String(answer.digit);
    $("confidence").textContent = `${percent(answer.probability)} sure`;
    $("digits").hidden = true;
    $("seen-figure").hidden = false;
    showSeen(answer.image);
    $("bars-caption").textContent = "How sure it is of each digit";
    showBars(answer.probabilities, answer.digit);
  }
}

function showDigits(digits) {
  const box = $("digits");
  box.replaceChildren(...digits.map((digit, index) => {
    const tile = document.createElement("button");
    tile.type = "button";
    tile.className = "tile";
    tile.setAttribute("aria-pressed", String(index === state.selected));
    const image = document.createElement("img");
    image.src = digit.image;
    image.alt = `digit ${index + 1} as the network saw it`;
    const label = document.createElement("span");
    label.className = "tile-digit";
    label.textContent = String(digit.digit);
    const sure = document.createElement("span");
    sure.className = "tile-pct";
    sure.textContent = percent(digit.probability);
    tile.append(image, label, sure);
    tile.addEventListener("click", () => selectDigit(index));
    return tile;
  }));
  box.hidden = false;
}

function selectDigit(index) {
  const digits = state.result && state.result.digits;
  if (!digits || !digits[index]) return;
  state.selected = index;
  [...$("digits").children].forEach((tile, i) => tile.setAttribute("aria-pressed", String(i === index)));
  $("bars-caption").textContent = `How sure it is of digit ${index + 1} of ${digits.length}`;
  showBars(digits[index].probabilities, digits[index].digit);
}

function showError(status, text) {
  state.result = null;
  $("result").dataset.state = "error";
  $("answer").textContent = "?";
  const noDigit = status === 422 && /no digit found/.test(text);
  $("confidence").textContent = noDigit ? "no digit found yet" : "could not read that";
  $("message").textContent = noDigit
    ? (state.photo ? "No digit found in that photo: try one closer up, with the digit dark on light paper."
      : "No digit found yet: draw one bigger, inside the sheet.")
    : text;
  $("digits").hidden = true;
  $("seen-figure").hidden = false;
  showSeen(null);
  showBars(null, -1);
}

function showEmpty() {
  state.result = null;
  const result = $("result");
  result.dataset.state = "empty";
  $("answer").textContent = "–";
  $("answer-label").textContent = state.mode === "number" ? "The network reads the number" : "The network reads";
  $("confidence").textContent = state.mode === "number" ? "waiting for your number" : "waiting for your digit";
  $("message").textContent = "";
  $("digits").hidden = true;
  $("seen-figure").hidden = state.mode === "number";
  $("bars-caption").textContent = "How sure it is of each digit";
  showSeen(null);
  showBars(null, -1);
}

// ------------------------------------------------------------------------------------- controls

function clearAll() {
  clearTimeout(state.timer);
  state.timer = null;
  state.epoch += 1;
  state.version += 1;
  state.shown = state.version;
  state.hasInk = false;
  state.photo = null;
  state.pointer = null;
  state.selected = 0;
  resetSheet();
  $("hint").textContent = HINTS[state.mode];
  $("hint").hidden = false;
  showEmpty();
  markPending();
}

function setMode(mode) {
  if (mode === state.mode) return;
  const photo = state.photo;
  state.mode = mode;
  $("sheet").dataset.mode = mode;
  for (const button of document.querySelectorAll(".modes button")) {
    button.setAttribute("aria-checked", String(button.dataset.mode === mode));
  }
  clearAll();
  if (photo) usePhoto(photo);                       // the same photo, read the other way
}

async function shrinkPhoto(file) {
  const bitmap = await createImageBitmap(file);    // upright by its EXIF orientation
  const scale = Math.min(1, PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
  const small = document.createElement("canvas");
  small.width = Math.max(1, Math.round(bitmap.width * scale));
  small.height = Math.max(1, Math.round(bitmap.height * scale));
  const g = small.getContext("2d");
  g.fillStyle = PAPER;                             // a transparent background becomes paper
  g.fillRect(0, 0, small.width, small.height);
  g.imageSmoothingQuality = "high";
  g.drawImage(bitmap, 0, 0, small.width, small.height);
  bitmap.close();
  return new Promise((resolve) => small.toBlob(resolve, "image/jpeg", 0.92));
}

async function usePhoto(blob) {
  const bitmap = await createImageBitmap(blob);
  clearAll();
  const scale = Math.min(canvas.width / bitmap.width, canvas.height / bitmap.height);
  const width = bitmap.width * scale;
  const height = bitmap.height * scale;
  ctx.drawImage(bitmap, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
  bitmap.close();
  state.photo = blob;
  changed();
}

$("upload").addEventListener("change", async (event) => {
  const file = event.target.files && event.target.files[0];
  event.target.value = "";                         // the same file can be chosen again
  if (!file) return;
  try {
    await usePhoto(await shrinkPhoto(file));
  } catch (error) {
    clearAll();
    showError(0, "That file is not a picture this browser can open.");
  }
});

$("clear").addEventListener("click", clearAll);
for (const button of document.querySelectorAll(".modes button")) {
  button.addEventListener("click", () => setMode(button.dataset.mode));
}
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !event.ctrlKey && !event.metaKey && !event.altKey) clearAll();
});

async function showModel() {
  try {
    const response = await fetch("api/model");
    if (!response.ok) return;
    const model = await response.json();
    const parts = [`Model: ${model.recipe || model.file || "custom"}`];
    if (typeof model.test_accuracy === "number") {
      parts.push(`${(100 * model.test_accuracy).toFixed(2)}% right on the 10,000 MNIST test digits`);
    }
    parts.push(`${model.parameters.toLocaleString("en-US")} parameters`);
    const facts = $("model-facts");
    facts.textContent = parts.join(" · ");
    if (model.description) facts.title = model.description;
  } catch (error) {
    // the page still works without the facts
  }
}

buildBars();
clearAll();
showModel();
