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
function wireDrop(dropId, inputId, onFile) {
  const drop = $(dropId), input = $(inputId);
  input.addEventListener("change", () => input.files.length && onFile(input.files[0]));
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
      try { const j = await r.json(); detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (e) {}
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
function setUrl(key, blob) { if (urls[key]) URL.revokeObjectURL(urls[key]); urls[key] = URL.createObjectURL(blob); return urls[key]; }

// -- image ---------------------------------------------------------------------------
wireDrop("image-drop", "image-input", async (file) => {
  showError("image", "");
  try {
    const r = await post("/v1/image/denoise" + query({ sigma: $("image-sigma").value, model: $("image-model").value }),
                         file, $("tab-image"));
    const out = setUrl("image-after", await r.blob());
    $("image-before").src = setUrl("image-before", file);
    $("image-after").src = out;
    $("image-caption").textContent = `after — ${r.headers.get("X-Daekit-Model")}, ${r.headers.get("X-Daekit-Seconds")} s`;
    $("image-download").href = out; $("image-download").hidden = false; $("image-result").hidden = false;
  } catch (e) { showError("image", e.message); }
});

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
  } catch (e) { showError("audio", e.message); }
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
    plot(res);
    const lines = ["row,label,score,flag"].concat(res.scores.map((s, i) =>
      `${i},${res.index ? JSON.stringify(res.index[i]) : ""},${s},${res.flags[i]}`));
    $("table-download").href = setUrl("scores", new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
    $("table-download").hidden = false;
  } catch (e) { showError("table", e.message); }
});

const SVG = "http://www.w3.org/2000/svg";
function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}
// Two stacked panels: the first column's values with flagged points, and the scores
// with the threshold. Long series are thinned to min/max pairs per pixel column.
function plot(res) {
  const W = 1000, H = 420, L = 60, R = 12, panelH = 170, gap = 40, top1 = 16, top2 = top1 + panelH + gap;
  const n = res.scores.length;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "anomaly scores" });
  const x = (i) => L + (n > 1 ? (i / (n - 1)) * (W - L - R) : (W - L - R) / 2);
  const panel = (values, top, cls, label, extra) => {
    let lo = Math.min(...values, ...(extra || [])), hi = Math.max(...values, ...(extra || []));
    if (hi === lo) { hi += 1; lo -= 1; }
    const y = (v) => top + panelH - ((v - lo) / (hi - lo)) * panelH;
    el("rect", { class: "axis", x: L, y: top, width: W - L - R, height: panelH, fill: "none" }, svg);
    el("path", { class: cls, d: thinPath(values, x, y, W - L - R) }, svg);
    const t = el("text", { x: 4, y: top + 12 }, svg); t.textContent = label;
    for (const [v, dy] of [[hi, 12], [lo, 0]]) {
      const a = el("text", { x: 4, y: top + (dy ? 28 : panelH) }, svg); a.textContent = fmt(v);
    }
    return y;
  };
  const yv = panel(res.values, top1, "values", res.columns[0] || "value");
  const ys = panel(res.scores, top2, "scores", "score", [res.threshold]);
  el("line", { class: "threshold", x1: L, x2: W - R, y1: ys(res.threshold), y2: ys(res.threshold) }, svg);
  let shown = 0;
  for (let i = 0; i < n && shown < 3000; i++) {
    if (!res.flags[i]) continue;
    shown++;
    el("circle", { class: "flag", cx: x(i), cy: yv(res.values[i]), r: 3.5 }, svg);
    el("circle", { class: "flag", cx: x(i), cy: ys(res.scores[i]), r: 2.5 }, svg);
  }
  const last = el("text", { x: W - R, y: H - 6, "text-anchor": "end" }, svg);
  last.textContent = res.index ? `${res.index[0]} … ${res.index[n - 1]}` : `rows 0 … ${n - 1}`;
  $("plot").replaceChildren(svg);
}
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

loadModels();
