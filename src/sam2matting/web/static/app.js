// sam2matting web app: a thin page over the /api routes (no build step, no framework).
"use strict";

const $ = (id) => document.getElementById(id);
const S = {
  config: null, state: null, frame: 0, activeObject: null, dir: "",
  image: null, alphas: {}, origin: "", playing: false, drag: null, events: null,
  renderToken: 0,
};

// ---------------------------------------------------------------------------- messages / api
function showMessage(text, kind) {
  const box = $("message");
  box.textContent = text;
  box.className = kind === "info" ? "info" : "";
  box.hidden = !text;
}

async function api(method, url, body, raw) {
  const opts = { method, headers: {} };
  if (raw !== undefined) { opts.body = raw; }
  else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
  let response;
  try { response = await fetch(url, opts); }
  catch (err) { showMessage("the server cannot be reached: " + err); throw err; }
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const text = (data && (data.error || JSON.stringify(data.detail))) || response.statusText;
    showMessage(text);
    const err = new Error(text); err.status = response.status; throw err;
  }
  return data;
}

function setBusy(text) { $("busy").textContent = text || ""; }

// ---------------------------------------------------------------------------- state
function applyState(state) {
  S.state = state;
  const clip = state.clip;
  if (clip) {
    const dur = clip.duration != null ? `${clip.duration.toFixed(2)} s` : "";
    $("clip-info").textContent =
      `${clip.name} · ${clip.width}×${clip.height} · ${clip.frames} frames · ${clip.fps.toFixed(2)} fps · ${dur}`;
    $("scrubber").max = clip.frames - 1;
    $("frame-number").max = clip.frames - 1;
    $("frame-total").textContent = `/ ${clip.frames - 1}`;
    $("empty-hint").hidden = true;
    const textOk = clip.prompt_types.includes("TextPrompt");
    $("text-input").disabled = !textOk; $("text-add").disabled = !textOk;
    $("text-input").placeholder = textOk ? "text, e.g. a dog" : `text: not with the ${clip.tracker} tracker`;
  }
  if (!state.objects.some((o) => o.id === S.activeObject)) {
    S.activeObject = state.objects.length ? state.objects[0].id : null;
  }
  renderObjects();
  renderPromptedFrames();
  renderJob(state.job);
}

async function refreshState() { applyState(await api("GET", "/api/state")); }

function renderObjects() {
  const list = $("object-list");
  list.innerHTML = "";
  const prompts = S.state ? S.state.prompts : [];
  for (const obj of (S.state ? S.state.objects : [])) {
    const li = document.createElement("li");
    li.dataset.id = obj.id;
    if (obj.id === S.activeObject) li.classList.add("active");
    const row = document.createElement("div"); row.className = "row";
    const pick = document.createElement("input"); pick.type = "radio"; pick.name = "active-object";
    pick.checked = obj.id === S.activeObject; pick.title = "prompts go to this object";
    pick.onchange = () => { S.activeObject = obj.id; renderObjects(); };
    const sw = document.createElement("span"); sw.className = "swatch"; sw.style.background = obj.colour;
    const name = document.createElement("input"); name.type = "text"; name.value = obj.name;
    name.className = "object-name";
    name.onchange = async () => { await api("PATCH", `/api/objects/${obj.id}`, { name: name.value }); await refreshState(); };
    const del = document.createElement("button"); del.textContent = "×"; del.title = "remove the object and its prompts";
    del.className = "remove-object";
    del.onclick = async () => { applyState(await api("DELETE", `/api/objects/${obj.id}`)); render(true); };
    row.append(pick, sw, name, del);
    li.append(row);
    const ul = document.createElement("ul"); ul.className = "prompts";
    for (const p of prompts.filter((q) => q.object_id === obj.id)) {
      const pl = document.createElement("li");
      let what = p.kind;
      if (p.kind === "point") what = p.points.map((q) => (q[2] ? "+" : "−") + `(${q[0] | 0},${q[1] | 0})`).join(" ");
      if (p.kind === "box") what = "box " + p.box.map((v) => v | 0).join(",");
      if (p.kind === "text") what = `"${p.text}"`;
      pl.textContent = `frame ${p.frame}: ${what} `;
      const go = document.createElement("button"); go.textContent = "go"; go.onclick = () => seek(p.frame);
      const rm = document.createElement("button"); rm.textContent = "×"; rm.className = "remove-prompt";
      rm.title = "remove this prompt";
      rm.onclick = async () => {
        const out = await api("DELETE", `/api/prompts/${p.index}`);
        applyState(out.state); showPreview(out.preview); render(true);
      };
      pl.append(go, rm); ul.append(pl);
    }
    li.append(ul);
    list.append(li);
  }
}

function renderPromptedFrames() {
  const box = $("prompted-frames");
  box.innerHTML = "";
  const frames = S.state ? S.state.prompted_frames : [];
  if (frames.length) box.append("prompted frames: ");
  for (const f of frames) {
    const b = document.createElement("button"); b.textContent = f; b.onclick = () => seek(f);
    box.append(b);
  }
}

function showPreview(p) {
  if (!p) return;
  $("preview-info").textContent = `preview of frame ${p.frame}: ${p.ms} ms`;
}

// ---------------------------------------------------------------------------- drawing
function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("cannot load " + url));
    img.src = url;
  });
}

function alphaData(img) {
  const c = document.createElement("canvas"); c.width = img.width; c.height = img.height;
  const g = c.getContext("2d"); g.drawImage(img, 0, 0);
  return g.getImageData(0, 0, img.width, img.height).data;
}

async function render(reloadFrame) {
  const clip = S.state && S.state.clip;
  if (!clip) return;
  const token = ++S.renderToken;
  const f = S.frame;
  if (reloadFrame || !S.image || S.image.frame !== f) {
    const img = await loadImage(`/api/frames/${f}?t=${Date.now()}`);
    if (token !== S.renderToken) return;
    S.image = { frame: f, img };
  }
  const alphas = {};
  const confidence = [];
  let origin = "";
  for (const obj of S.state.objects) {
    const response = await fetch(`/api/alpha/${f}/${obj.id}?t=${Date.now()}`);
    if (!response.ok) continue;
    origin = response.headers.get("X-Matte-Origin") || origin;
    const score = response.headers.get("X-Confidence");
    if (score !== null) confidence.push([obj.id, parseFloat(score)]);
    const url = URL.createObjectURL(await response.blob());
    try { alphas[obj.id] = alphaData(await loadImage(url)); } finally { URL.revokeObjectURL(url); }
  }
  if (token !== S.renderToken) return;
  S.alphas = alphas; S.origin = origin;
  const shown = $("matte-origin");
  shown.textContent = origin ? `matte: ${origin}` : "no matte on this frame";
  // the tracker's confidence per object on this frame; below 0.5 the object counts as lost
  const lost = confidence.filter(([, v]) => v < 0.5);
  if (confidence.length) {
    shown.textContent += " · confidence " + confidence.map(([id, v]) => `object ${id} ${v.toFixed(2)}`).join(", ");
  }
  if (lost.length) shown.textContent += " · lost here: " + lost.map(([id]) => `object ${id}`).join(", ");
  shown.classList.toggle("lost", lost.length > 0);
  draw();
  // for tests: how many draws, and which frame the canvas shows
  document.body.dataset.renders = String((+document.body.dataset.renders || 0) + 1);
  document.body.dataset.drawnFrame = String(f);
}

function hexColour(hex) {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function draw() {
  const canvas = $("view");
  const clip = S.state && S.state.clip;
  if (!clip || !S.image) return;
  const w = clip.width, h = clip.height;
  if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
  const g = canvas.getContext("2d");
  g.drawImage(S.image.img, 0, 0);
  const mode = document.querySelector("input[name=mode]:checked").value;
  const ids = Object.keys(S.alphas);
  if (mode !== "frame" && ids.length) {
    const frame = g.getImageData(0, 0, w, h);
    const px = frame.data;
    const n = w * h;
    if (mode === "overlay") {
      for (const id of ids) {
        const a = S.alphas[id];
        const obj = S.state.objects.find((o) => String(o.id) === id);
        const [r, gg, b] = hexColour(obj ? obj.colour : "#ff0000");
        for (let i = 0; i < n; i++) {
          const k = (a[4 * i] / 255) * 0.55;
          if (k > 0) {
            px[4 * i] = px[4 * i] * (1 - k) + r * k;
            px[4 * i + 1] = px[4 * i + 1] * (1 - k) + gg * k;
            px[4 * i + 2] = px[4 * i + 2] * (1 - k) + b * k;
          }
        }
        // the mask's outline (alpha crossing 0.5) in the object's colour, so it shows on any frame
        for (let y = 1; y < h - 1; y++) {
          for (let x = 1; x < w - 1; x++) {
            const i = y * w + x;
            if (a[4 * i] < 128) continue;
            if (a[4 * (i - 1)] < 128 || a[4 * (i + 1)] < 128 || a[4 * (i - w)] < 128 || a[4 * (i + w)] < 128) {
              px[4 * i] = r; px[4 * i + 1] = gg; px[4 * i + 2] = b;
            }
          }
        }
      }
    } else {
      const bg = hexColour($("bg-colour").value);
      for (let i = 0; i < n; i++) {
        let k = 0;
        for (const id of ids) k = Math.max(k, S.alphas[id][4 * i]);
        k /= 255;
        if (mode === "alpha") {
          px[4 * i] = px[4 * i + 1] = px[4 * i + 2] = Math.round(k * 255);
        } else {
          let back = bg;
          if (mode === "checker") {
            const x = i % w, y = (i / w) | 0;
            const v = ((x >> 4) + (y >> 4)) & 1 ? 200 : 120;
            back = [v, v, v];
          }
          for (let c = 0; c < 3; c++) px[4 * i + c] = px[4 * i + c] * k + back[c] * (1 - k);
        }
      }
    }
    g.putImageData(frame, 0, 0);
  }
  drawPrompts(g);
  if (S.drag) {
    g.strokeStyle = "#fff"; g.setLineDash([6, 4]); g.lineWidth = 2;
    g.strokeRect(S.drag.x0, S.drag.y0, S.drag.x1 - S.drag.x0, S.drag.y1 - S.drag.y0);
    g.setLineDash([]);
  }
}

function drawPrompts(g) {
  const lw = Math.max(2, S.state.clip.width / 400);
  for (const p of S.state.prompts.filter((q) => q.frame === S.frame)) {
    const obj = S.state.objects.find((o) => o.id === p.object_id);
    const colour = obj ? obj.colour : "#fff";
    g.lineWidth = lw;
    if (p.kind === "box") {
      g.strokeStyle = colour;
      g.strokeRect(p.box[0], p.box[1], p.box[2] - p.box[0], p.box[3] - p.box[1]);
    } else if (p.kind === "point") {
      for (const [x, y, label] of p.points) {
        g.beginPath(); g.arc(x, y, 3 * lw, 0, 2 * Math.PI);
        g.fillStyle = label ? "#2ecc71" : "#e74c3c"; g.fill();
        g.strokeStyle = colour; g.stroke();
      }
    }
  }
}

// ---------------------------------------------------------------------------- timeline
function seek(f) {
  const clip = S.state && S.state.clip;
  if (!clip) return;
  S.frame = Math.max(0, Math.min(clip.frames - 1, f | 0));
  $("scrubber").value = S.frame;
  $("frame-number").value = S.frame;
  return render(false);
}

async function playLoop() {
  while (S.playing) {
    const clip = S.state.clip;
    const t0 = performance.now();
    await seek(S.frame + 1 >= clip.frames ? 0 : S.frame + 1);
    const wait = 1000 / clip.fps - (performance.now() - t0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
}

// ---------------------------------------------------------------------------- prompts
function canvasPoint(event) {
  const canvas = $("view");
  const rect = canvas.getBoundingClientRect();
  return {
    x: ((event.clientX - rect.left) * canvas.width) / rect.width,
    y: ((event.clientY - rect.top) * canvas.height) / rect.height,
  };
}

async function sendPrompt(body) {
  if (S.activeObject == null) { showMessage("add an object first"); return; }
  body.frame = S.frame; body.object_id = S.activeObject;
  setBusy("previewing…");
  try {
    const t0 = performance.now();
    const out = await api("POST", "/api/prompts", body);
    const t1 = performance.now();
    showMessage("");
    applyState(out.state); showPreview(out.preview);
    await render(false);
    // where the time of the last prompt went (shown to the user, read by the benchmark)
    S.lastTiming = { request_ms: t1 - t0, server_preview_ms: out.preview.ms, draw_ms: performance.now() - t1 };
  } catch (err) { /* message shown */ } finally { setBusy(""); }
}

function tool() { return document.querySelector("input[name=tool]:checked").value; }

function setupCanvas() {
  const canvas = $("view");
  canvas.addEventListener("mousedown", (e) => {
    if (!S.state || !S.state.clip) return;
    const p = canvasPoint(e);
    if (tool() === "box") S.drag = { x0: p.x, y0: p.y, x1: p.x, y1: p.y };
  });
  canvas.addEventListener("mousemove", (e) => {
    if (!S.drag) return;
    const p = canvasPoint(e); S.drag.x1 = p.x; S.drag.y1 = p.y; draw();
  });
  canvas.addEventListener("mouseup", (e) => {
    if (!S.state || !S.state.clip) return;
    const p = canvasPoint(e);
    if (S.drag) {
      const d = S.drag; S.drag = null;
      d.x1 = p.x; d.y1 = p.y;
      if (Math.abs(d.x1 - d.x0) < 4 || Math.abs(d.y1 - d.y0) < 4) { draw(); return; }
      const clip = S.state.clip;
      const cl = (v, m) => Math.max(0, Math.min(m, v));
      sendPrompt({ kind: "box", box: [cl(Math.min(d.x0, d.x1), clip.width), cl(Math.min(d.y0, d.y1), clip.height),
        cl(Math.max(d.x0, d.x1), clip.width), cl(Math.max(d.y0, d.y1), clip.height)] });
      return;
    }
    sendPrompt({ kind: "point", x: p.x, y: p.y, label: tool() === "neg" ? 0 : 1 });
  });
}

// ---------------------------------------------------------------------------- open
async function listDir(dir) {
  if (!S.config.root) { $("root-browser").hidden = true; return; }
  const out = await api("GET", `/api/files?dir=${encodeURIComponent(dir)}`);
  S.dir = dir;
  $("root-dir").textContent = "root/" + dir;
  const ul = $("file-list"); ul.innerHTML = "";
  if (dir) {
    const up = document.createElement("li"); up.textContent = "..";
    up.onclick = () => listDir(dir.split("/").slice(0, -1).join("/"));
    ul.append(up);
  }
  for (const e of out.entries) {
    const li = document.createElement("li");
    li.dataset.path = e.path;
    li.append(e.name);
    const k = document.createElement("span"); k.className = "kind"; k.textContent = e.kind; li.append(k);
    if (e.kind === "dir") li.onclick = () => listDir(e.path);
    else {
      li.onclick = () => openClip(e.path);
      if (e.kind === "images") {
        const b = document.createElement("button"); b.textContent = "browse"; b.style.marginLeft = ".4em";
        b.onclick = (ev) => { ev.stopPropagation(); listDir(e.path); }; li.append(b);
      }
    }
    ul.append(li);
  }
}

async function opened() {
  S.frame = 0; S.image = null; S.alphas = {};
  await refreshState();
  $("downloads").innerHTML = ""; $("export-text").textContent = "";
  showMessage("");
  await seek(0);
}

async function openClip(path) {
  setBusy("opening…");
  try { await api("POST", "/api/open", { path }); await opened(); }
  catch (err) { /* shown */ } finally { setBusy(""); }
}

async function upload(file) {
  if (file.size > S.config.max_upload_bytes) {
    showMessage(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MiB; the limit is ${(S.config.max_upload_bytes / 2 ** 20).toFixed(1)} MiB`);
    // still ask the server, which enforces the limit itself
  }
  setBusy("uploading…");
  try { await api("POST", `/api/upload?name=${encodeURIComponent(file.name)}`, undefined, file); await opened(); }
  catch (err) { /* shown */ } finally { setBusy(""); $("upload-input").value = ""; }
}

// ---------------------------------------------------------------------------- jobs
function listenJobs() {
  if (S.events) S.events.close();
  const es = new EventSource("/api/events");
  S.events = es;
  es.onmessage = (e) => {
    const job = JSON.parse(e.data);
    renderJob(job);
    if (!job || job.state !== "running") { es.close(); if (S.events === es) S.events = null; refreshState(); }
  };
  es.onerror = () => { es.close(); if (S.events === es) S.events = null; };
}

function fmtEta(s) { return s == null ? "" : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`; }

function renderJob(job) {
  const running = job && job.state === "running";
  $("cancel").disabled = !running;
  $("propagate").disabled = !!running;
  $("export").disabled = !!running;
  if (!job) return;
  const bar = job.kind === "export" ? $("export-progress") : $("progress");
  const text = job.kind === "export" ? $("export-text") : $("progress-text");
  bar.max = job.total; bar.value = job.done;
  let line = `${job.kind}: ${job.state} · ${job.done}/${job.total} frames · ${job.fps} frames/s`;
  if (running && job.eta != null) line += ` · ETA ${fmtEta(job.eta)}`;
  if (job.message) line += ` · ${job.message}`;
  text.textContent = line;
  text.dataset.state = job.state;
  if (job.state === "failed") showMessage(job.message);
  if (job.kind === "propagation" && S.lastDone !== job.done && S.frame < job.done && S.origin !== "result") {
    render(false);
  }
  S.lastDone = job.done;
  if (job.kind === "propagation") {
    // where objects were lost: "object 1 lost from frame 36; add a prompt there"
    const ul = $("lost-warnings"); ul.innerHTML = "";
    for (const w of job.warnings || []) {
      const li = document.createElement("li"); li.textContent = w; ul.append(li);
    }
    ul.hidden = !(job.warnings && job.warnings.length);
  }
  if (job.kind === "export" && job.state === "done") {
    const ul = $("downloads"); ul.innerHTML = "";
    for (const o of job.outputs) {
      const li = document.createElement("li");
      const a = document.createElement("a"); a.href = o.url; a.textContent = o.name; a.download = o.name;
      li.append(a, ` (${o.format}, ${o.format === "contact-sheet" ? "all objects" : o.object == null ? "combined" : "object " + o.object}, ${(o.bytes / 1024).toFixed(0)} KiB)`);
      ul.append(li);
    }
  }
}

async function propagate() {
  try {
    const job = await api("POST", "/api/propagate", { backward: $("backward").checked });
    showMessage(""); renderJob(job); listenJobs();
  } catch (err) { /* shown */ }
}

async function exportClip() {
  const formats = [...document.querySelectorAll("#format-list input:checked")].map((i) => i.value);
  try {
    const job = await api("POST", "/api/export", {
      formats, combined: $("combined").checked, background: $("export-bg").value,
      alpha_bits: parseInt($("alpha-bits").value, 10),
      exr_colour: $("exr-colour").value, contact_sheet: $("contact-sheet").checked,
    });
    showMessage(""); $("downloads").innerHTML = ""; renderJob(job); listenJobs();
  } catch (err) { /* shown */ }
}

// ---------------------------------------------------------------------------- start
async function main() {
  S.config = await api("GET", "/api/config");
  const mib = (S.config.max_upload_bytes / 2 ** 20).toFixed(0);
  $("upload-limits").textContent = `up to ${mib} MiB; ${S.config.upload_extensions.join(" ")}`;
  $("upload-input").accept = S.config.upload_extensions.join(",");
  for (const f of S.config.formats) {
    const l = document.createElement("label"); l.title = f.description;
    const c = document.createElement("input"); c.type = "checkbox"; c.value = f.name;
    c.checked = f.name === "alpha-png";
    l.append(c, " " + f.name); $("format-list").append(l);
  }
  await listDir("");
  setupCanvas();
  $("upload-input").onchange = (e) => { if (e.target.files.length) upload(e.target.files[0]); };
  $("scrubber").oninput = (e) => seek(parseInt(e.target.value, 10));
  $("frame-number").onchange = (e) => seek(parseInt(e.target.value, 10));
  $("play").onclick = () => {
    S.playing = !S.playing; $("play").textContent = S.playing ? "❚❚" : "▶";
    if (S.playing) playLoop();
  };
  for (const r of document.querySelectorAll("input[name=mode]")) r.onchange = draw;
  $("bg-colour").oninput = draw;
  $("add-object").onclick = async () => {
    try { const o = await api("POST", "/api/objects", {}); S.activeObject = o.id; await refreshState(); } catch (err) { /* shown */ }
  };
  $("mask-input").onchange = async (e) => {
    const file = e.target.files[0]; if (!file) return;
    try {
      const out = await api("POST", `/api/prompts/mask?frame=${S.frame}&object_id=${S.activeObject}`, undefined, file);
      applyState(out.state); showPreview(out.preview); await render(false);
    } catch (err) { /* shown */ } finally { e.target.value = ""; }
  };
  $("text-add").onclick = () => sendPrompt({ kind: "text", text: $("text-input").value });
  $("propagate").onclick = propagate;
  $("cancel").onclick = async () => { try { renderJob(await api("POST", "/api/cancel")); } catch (err) { /* shown */ } };
  $("export").onclick = exportClip;
  await refreshState();
  if (S.state.clip) await seek(0);
  if (S.state.job && S.state.job.state === "running") listenJobs();
  document.body.dataset.ready = "1";
}

main();
