// daekit serve page: vanilla JS, no build step, nothing fetched from elsewhere.
"use strict";
const $ = (id) => document.getElementById(id);
let MODELS = { models: [], endpoints: {} };

// -- tabs --------------------------------------------------------------------------
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) t.setAttribute("aria-selected", String(t === tab));
    for (const p of document.querySelectorAll(".panel")) p.hidden = p.id !== "tab-" + tab.dataset.tab;
  });
}

// -- models and status -------------------------------------------------------------
async function loadModels() {
  try {
    const r = await fetch("/v1/models");
    MODELS = await r.json();
  } catch (e) { $("status").textContent = "the server does not answer"; return; }
  const names = MODELS.models.map((m) => `${m.name} (${m.kind})`);
  $("status").textContent = names.length ? "loaded: " + names.join(", ") : "no models loaded";
  fill("image-model", "image"); fill("audio-model", "audio"); fill("table-model", "anomaly");
  for (const [kind, tab] of [["image", "image"], ["audio", "audio"]]) {
    if (MODELS.endpoints[kind] !== "ready") showError(tab, MODELS.endpoints[kind]);
  }
  const noDetector = MODELS.endpoints.anomaly !== "ready";
  $("table-fit").checked = noDetector; $("table-fit").disabled = noDetector;
  fitOptions();
}
// The model list matters when scoring with a loaded detector; the rest when fitting one.
function fitOptions() {
  const fit = $("table-fit").checked;
  $("table-model").disabled = fit;
  $("table-contamination").disabled = !fit; $("table-window").disabled = !fit;
}
$("table-fit").addEventListener("change", fitOptions);
function fill(selectId, kind) {
  const sel = $(selectId);
  for (const m of MODELS.models.filter((m) => m.kind === kind)) {
    const o = document.createElement("option"); o.value = m.name; o.textContent = m.name; sel.appendChild(o);
  }
}

// -- shared upload plumbing --------------------------------------------------------
function showError(tab, text) { const e = $(tab + "-error"); e.textContent = text; e.hidden = !text; }
// The drop zone is a button, so Tab reaches it and Enter or Space opens the (hidden) chooser.
function wireDrop(dropId, inputId, onFile) {
  const drop = $(dropId), input = $(inputId);
  drop.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    const file = input.files[0];
    input.value = "";  // choosing the same file again (after changing an option) runs it again
    if (file) onFile(file);
  });
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault(); drop.classList.remove("over");
    if (e.dataTransfer.files.length) onFile(e.dataTransfer.files[0]);
  });
}
async function post(url, file, panel) {
  const body = new FormData(); body.append("file", file);
  panel.classList.add("busy");
  try {
    const r = await fetch(url, { method: "POST", body });
    if (!r.ok) {
      let detail = r.statusText;
      try {
        const j = await r.json(); detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail);
      } catch (e) {}  // not JSON (a proxy's page): the status text is all there is
      throw new Error(`${r.status}: ${detail}`);
    }
    return r;
  } finally { panel.classList.remove("busy"); }
}
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v !== null && v !== undefined) q.set(k, v);
  const s = q.toString(); return s ? "?" + s : "";
}
const urls = {};
function setUrl(key, blob) { dropUrl(key); urls[key] = URL.createObjectURL(blob); return urls[key]; }
function dropUrl(key) { if (urls[key]) URL.revokeObjectURL(urls[key]); delete urls[key]; }
// A failed upload must not leave the previous file's result on screen as if it were this one's.
function clearMedia(ids, resultId, downloadId) {
  for (const id of ids) { $(id).removeAttribute("src"); dropUrl(id); }
  $(resultId).hidden = true; $(downloadId).hidden = true; $(downloadId).removeAttribute("href");
}

// -- image ---------------------------------------------------------------------------
wireDrop("image-drop", "image-input", async (file) => {
  showError("image", "");
  try {
    const r = await post("/v1/image/denoise" + query({ sigma: $("image-sigma").value, model: $("image-model").value }),
                         file, $("tab-image"));
    const out = setUrl("image-after", await r.blob());
    $("image-before").src = setUrl("image-before", await viewable(file, $("tab-image")));
    $("image-after").src = out;
    $("image-caption").textContent = `after — ${r.headers.get("X-Daekit-Model")}, ${r.headers.get("X-Daekit-Seconds")} s`;
    $("image-download").href = out; $("image-download").hidden = false; $("image-result").hidden = false;
  } catch (e) {
    clearMedia(["image-before", "image-after"], "image-result", "image-download");
    showError("image", e.message);
  }
});
// Browsers show PNG, JPEG, BMP and WebP but not TIFF: what this one cannot decode, the
// server converts to PNG (as it read the file, so the "before" is what the model saw).
async function viewable(file, panel) {
  const caption = $("image-before-caption");
  try { (await createImageBitmap(file)).close(); caption.textContent = "before"; return file; } catch (e) {}
  caption.textContent = "before (converted to PNG by the server)";
  return (await post("/v1/image/preview", file, panel)).blob();
}

// -- audio ---------------------------------------------------------------------------
wireDrop("audio-drop", "audio-input", async (file) => {
  showError("audio", "");
  try {
    const r = await post("/v1/audio/denoise" + query({ model: $("audio-model").value }), file, $("tab-audio"));
    const out = setUrl("audio-after", await r.blob());
    $("audio-before").src = setUrl("audio-before", file);
    $("audio-after").src = out;
    drawWave("wave-before", await file.arrayBuffer());
    drawWave("wave-after", await (await fetch(out)).arrayBuffer());
    $("audio-caption").textContent = `after — ${r.headers.get("X-Daekit-Model")}, ` +
      `${r.headers.get("X-Daekit-Audio-Seconds")} s of audio in ${r.headers.get("X-Daekit-Seconds")} s`;
    $("audio-download").href = out; $("audio-download").hidden = false; $("audio-result").hidden = false;
  } catch (e) {
    clearMedia(["audio-before", "audio-after"], "audio-result", "audio-download");
    showError("audio", e.message);
  }
});

// Waveform envelope (min/max per pixel column) of a recording, decoded by the browser.
async function drawWave(canvasId, buffer) {
  const canvas = $(canvasId), ctx = canvas.getContext("2d");
  canvas.width = canvas.clientWidth || 500; canvas.height = 64;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  let data;
  try {
    const audio = await new OfflineAudioContext(1, 1, 44100).decodeAudioData(buffer);
    data = audio.getChannelData(0);
  } catch (e) { return; }  // a format this browser cannot decode: the players still work
  const w = canvas.width, mid = canvas.height / 2, step = Math.max(1, Math.floor(data.length / w));
  ctx.fillStyle = "#2364aa";
  for (let x = 0; x < w; x++) {
    let lo = 0, hi = 0;
    for (let i = x * step; i < Math.min(data.length, (x + 1) * step); i++) { lo = Math.min(lo, data[i]); hi = Math.max(hi, data[i]); }
    ctx.fillRect(x, mid - hi * mid, 1, Math.max(1, (hi - lo) * mid));
  }
}

// -- anomalies -----------------------------------------------------------------------
let shownScores = null;  // the last result, redrawn when the score axis changes
wireDrop("table-drop", "table-input", async (file) => {
  showError("table", "");
  const fit = $("table-fit").checked;
  const params = fit ? { fit: "true", contamination: $("table-contamination").value, window: $("table-window").value }
                     : { model: $("table-model").value };
  try {
    const r = await post("/v1/anomaly/score" + query(params), file, $("tab-anomaly"));
    const res = await r.json();
    const who = res.mode === "fit" ? "a detector fitted on this file" : `detector ${res.model}`;
    $("anomaly-summary").textContent = `${res.n_rows} rows scored by ${who} in ${res.seconds} s: ` +
      `${res.n_flagged} flagged above the threshold ${res.threshold}.`;
    $("anomaly-summary").hidden = false;
    shownScores = res; plot(res);
    const lines = ["row,label,score,flag"].concat(res.scores.map((s, i) =>
      `${i},${res.index ? JSON.stringify(res.index[i]) : ""},${s},${res.flags[i]}`));
    $("table-download").href = setUrl("scores", new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    $("table-download").hidden = false;
  } catch (e) { clearScores(); showError("table", e.message); }
});
function clearScores() {
  shownScores = null; dropUrl("scores"); $("plot").replaceChildren();
  for (const id of ["anomaly-summary", "plot-options", "plot-note", "table-download"]) $(id).hidden = true;
  $("table-download").removeAttribute("href");
}
$("score-scale").addEventListener("change", () => { if (shownScores) plot(shownScores); });

const SVG = "http://www.w3.org/2000/svg";
// Beyond this many flags the plot is a blur of dots and the page slows; the lowest-scoring go.
const MAX_MARKERS = 2000;
function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}
// Two stacked panels: the first column's values with flagged points, and the scores
// with the threshold on the chosen axis. Long series are thinned to min/max pairs per
// pixel column; flags beyond MAX_MARKERS keep the highest scores, and the page says so.
function plot(res) {
  const W = 1000, H = 420, L = 60, R = 12, panelH = 170, gap = 40, top1 = 16, top2 = top1 + panelH + gap;
  const n = res.scores.length;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "anomaly scores" });
  const x = (i) => L + (n > 1 ? (i / (n - 1)) * (W - L - R) : (W - L - R) / 2);
  const panel = (values, top, cls, label, axis) => {
    const span = axis.hi - axis.lo;
    const y = (v) => top + panelH - Math.min(1, Math.max(0, (axis.at(v) - axis.lo) / span)) * panelH;
    el("rect", { class: "axis", x: L, y: top, width: W - L - R, height: panelH, fill: "none" }, svg);
    el("path", { class: cls, d: thinPath(values, x, y, W - L - R) }, svg);
    const t = el("text", { x: 4, y: top + 12 }, svg); t.textContent = label;
    const hi = el("text", { x: 4, y: top + 28 }, svg);
    hi.textContent = (axis.clipped ? "≥ " : "") + fmt(axis.show(axis.hi));
    const lo = el("text", { x: 4, y: top + panelH }, svg); lo.textContent = fmt(axis.show(axis.lo));
    if (axis.name) { const s = el("text", { x: 4, y: top + 44 }, svg); s.textContent = axis.name; }
    return y;
  };
  const scale = $("score-scale").value;
  const scoreAxis = (AXES[scale] || linearAxis)(res.scores, res.threshold);
  const yv = panel(res.values, top1, "values", res.columns[0] || "value", linearAxis(res.values));
  const ys = panel(res.scores, top2, "scores", "score", scoreAxis);
  el("line", { class: "threshold", x1: L, x2: W - R, y1: ys(res.threshold), y2: ys(res.threshold) }, svg);
  const marked = topFlags(res.scores, res.flags, MAX_MARKERS);
  for (let k = marked.rows.length - 1; k >= 0; k--) {  // lowest first, so the highest are drawn on top
    const i = marked.rows[k];
    el("circle", { class: "flag", "data-row": i, cx: x(i), cy: yv(res.values[i]), r: 3.5 }, svg);
    el("circle", { class: "flag", "data-row": i, cx: x(i), cy: ys(res.scores[i]), r: 2.5 }, svg);
  }
  const last = el("text", { x: W - R, y: H - 6, "text-anchor": "end" }, svg);
  last.textContent = res.index ? `${res.index[0]} … ${res.index[n - 1]}` : `rows 0 … ${n - 1}`;
  $("plot").replaceChildren(svg);
  const notes = [];
  if (marked.rows.length < marked.total) {
    notes.push(`Marked the ${count(marked.rows.length)} highest-scoring of ${count(marked.total)} flagged rows.`);
  }
  if (scoreAxis.note) notes.push(scoreAxis.note);
  $("plot-note").textContent = notes.join(" "); $("plot-note").hidden = !notes.length;
  $("plot-options").hidden = false;
}
// The flagged rows, highest score first, at most `limit` of them; and how many there were.
function topFlags(scores, flags, limit) {
  const rows = [];
  for (let i = 0; i < flags.length; i++) if (flags[i]) rows.push(i);
  rows.sort((a, b) => scores[b] - scores[a]);
  return { rows: rows.slice(0, limit), total: rows.length };
}
// An axis maps a value to a position between lo and hi (at), and a position back to the value
// to print on the axis (show). A loop, not Math.min(...values): spread into arguments, a series
// of a million rows (the server's max_rows allows it) overflows the call stack.
function extent(values, extra = values[0]) {
  let lo = extra, hi = extra;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  return [lo, hi];
}
function linearAxis(values, extra = values[0]) {
  let [lo, hi] = extent(values, extra);
  if (hi === lo) { hi += 1; lo -= 1; }
  return { at: (v) => v, show: (p) => p, lo, hi, note: "" };
}
// One spike no longer flattens the rest. Scores are reconstruction errors, so above zero;
// any at or below zero are drawn at the smallest positive one, and the note says how many.
function logAxis(values, extra) {
  let floor = extra > 0 ? extra : Infinity, below = 0;
  for (const v of values) { if (v > 0) floor = Math.min(floor, v); else below++; }
  if (floor === Infinity) {
    return { ...linearAxis(values, extra), note: "No score is above zero: the axis stays linear." };
  }
  const [, hi] = extent(values, extra);
  const at = (v) => Math.log10(Math.max(v, floor));
  let lo = at(floor), top = at(hi);
  if (top === lo) { top += 1; lo -= 1; }
  const note = below ? `${count(below)} scores at or below zero are drawn at the bottom.` : "";
  return { at, show: (p) => 10 ** p, lo, hi: top, note, name: "log" };
}
// Linear up to the 99th percentile (or the threshold, if higher) plus a little headroom, so
// the threshold and the ordinary scores fill the panel; the few above sit on the top edge.
function clipAxis(values, extra) {
  const full = linearAxis(values, extra);
  const sorted = Float64Array.from(values).sort();
  const q99 = sorted[Math.min(sorted.length - 1, Math.floor(0.99 * sorted.length))];
  const base = Math.max(q99, extra);
  const cap = base + 0.1 * (base - full.lo);
  if (!(cap < full.hi)) return full;
  let above = 0;
  for (const v of values) if (v > cap) above++;
  const note = `Score axis clipped at ${fmt(cap)}: ${count(above)} scores above it are drawn on the top edge.`;
  return { ...full, hi: cap, clipped: true, name: "clipped", note };
}
const AXES = { linear: linearAxis, log: logAxis, clip: clipAxis };
function thinPath(values, x, y, width) {
  const n = values.length, cols = Math.max(1, Math.floor(width));
  if (n <= 2 * cols) return values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
  let d = "";
  for (let c = 0; c < cols; c++) {
    const a = Math.floor((c * n) / cols), b = Math.max(a + 1, Math.floor(((c + 1) * n) / cols));
    let lo = Infinity, hi = -Infinity;
    for (let i = a; i < b; i++) { lo = Math.min(lo, values[i]); hi = Math.max(hi, values[i]); }
    d += `${c ? "L" : "M"}${x(a).toFixed(1)},${y(lo).toFixed(1)}L${x(a).toFixed(1)},${y(hi).toFixed(1)}`;
  }
  return d;
}
function fmt(v) { return Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toFixed(2); }
function count(k) { return k.toLocaleString("en"); }

loadModels();
