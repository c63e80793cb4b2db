// The Explorer's frontend: two regl-scatterplot panes linked in the browser (hover, selection),
// audio fetched from the kernel on request, controls that write the Python traits.
//
// The synced traits are listed in src/embedexplore/widget.py; arrays arrive as DataViews over the
// message's bytes and are wrapped as typed arrays without copying (copied only when the buffer
// is not aligned for the type, which the typed-array constructors require).
import createScatterplot, { createRenderer } from "regl-scatterplot";
import { clipKey, spanText } from "./scale.js";
import "./widget.css";

/**
 * @typedef {Object} Traits
 * @property {number} n_points
 * @property {DataView} point_track   uint32[n]
 * @property {DataView} point_segment uint32[n]: row k of its track (0xFFFFFFFF: a track average)
 * @property {string[]} track_labels
 * @property {DataView} track_durations float32[tracks]
 * @property {number} segment_seconds  a row's length (0: whole tracks)
 * @property {number} hop_seconds      from one row's start to the next
 * @property {string} scale_note       why the panes show windows, or ""
 * @property {DataView} left_xy       float32[2n]: x then y (same for right_xy)
 * @property {DataView} left_tags     uint8[3n] (same for right_tags)
 * @property {string[]} left_tag_names
 * @property {string} left_title
 * @property {string} left_status    what the pane says over its points (progress, an error), or ""
 * @property {boolean} left_computing its projection computes in the kernel: no points until done
 * @property {number} left_progress   the share of it done, 0 to 1 (-1: the method does not say)
 * @property {DataView} color_codes   uint16[n]
 * @property {{label: string, color: string, count?: number, low?: number, high?: number}[]} legend
 * @property {"categorical"|"continuous"} color_kind
 * @property {DataView} point_weight  float32[n] or empty
 * @property {DataView} highlighted   uint8[n] or empty
 * @property {DataView} selected      bits[n] (bit i % 8 of byte i / 8), both ways
 * @property {Object} options         menus: models ([name, title]), layers, tags, time_scales, ...
 * @property {Object} left            {model, layer, projection, x_tag, y_tag}
 * @property {string} color_by
 * @property {string} view
 * @property {string} time_scale      "native", "10", "30" or "track"
 * @property {number} every
 * @property {Object} music
 * @property {Object} highlight
 * @property {number} height
 */

const SEGMENT_NONE = 0xffffffff;
const SIDES = ["left", "right"];
const HOVER_PLAY_DELAY_MS = 350;
const MAX_TRAJECTORY_POINTS = 200_000;
// Level of detail: while a pane holding more than LOD_MIN_POINTS is panned or zoomed, it draws a
// fixed subsample of LOD_POINTS (regl-scatterplot's filter) and all points again LOD_SETTLE_MS
// after the view stops changing. See benchmarks/results/widget_speed-2026-11-26-cpu-lod.log.
const LOD_MIN_POINTS = 300_000;
const LOD_POINTS = 100_000;
const LOD_SETTLE_MS = 150;
// ... and only where drawing all points is slow (software WebGL): filter() and unfilter() cost
// 50-100 ms each at 2 million points, more than a fast GPU gains from the subsample
const LOD_SLOW_MS = 60;

function typed(Type, dv, count) {
  if (!dv || !dv.byteLength) return new Type(0);
  // never past the buffer: between two messages a column may still have its old length, which
  // the callers detect (and redraw once the new column arrives)
  const n = Math.min(count ?? Infinity, Math.floor(dv.byteLength / Type.BYTES_PER_ELEMENT));
  if (dv.byteOffset % Type.BYTES_PER_ELEMENT === 0) return new Type(dv.buffer, dv.byteOffset, n);
  return new Type(dv.buffer.slice(dv.byteOffset, dv.byteOffset + n * Type.BYTES_PER_ELEMENT));
}

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function select(options, value, onchange, title) {
  const s = h("select", { title, onchange: () => onchange(s.value) });
  for (const o of options) {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    s.append(h("option", { value: v }, label));
  }
  s.value = value;
  return s;
}

function rgba(hex, alpha) {
  const v = parseInt(hex.slice(1), 16);
  return [((v >> 16) & 255) / 255, ((v >> 8) & 255) / 255, (v & 255) / 255, alpha];
}

/**
 * k of the indices 0..n-1, one drawn at random from each of k equal runs: sorted (what
 * regl-scatterplot's filter wants, as a plain Array) and the same for the same n (a fixed seed),
 * so that the picture does not shimmer from one movement to the next.
 */
function subsample(n, k) {
  let s = 0x2545f491;
  const rand = () => {
    // mulberry32
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Array(k);
  for (let i = 0; i < k; i++) {
    const lo = Math.floor((i * n) / k);
    const hi = Math.floor(((i + 1) * n) / k);
    out[i] = lo + Math.floor(rand() * (hi - lo));
  }
  return out;
}

function bitsOf(indices, n) {
  const bytes = new Uint8Array(Math.ceil(n / 8));
  for (const i of indices) bytes[i >> 3] |= 1 << (i & 7);
  return bytes;
}

function indicesOf(bits, n) {
  const out = [];
  for (let i = 0; i < n; i++) if (bits[i >> 3] & (1 << (i & 7))) out.push(i);
  return out;
}

/** Audio from the kernel: one request per segment (or 30 s chunk), cached as Blob URLs. */
function createAudio(model, root) {
  const player = h("audio", { class: "ee-audio", controls: "", preload: "auto" });
  const cache = new Map();
  const pending = new Map();
  let nextId = 1;
  let unlocked = false;
  let current = null; // {track, segment, chunk}
  let playingOn = false;

  model.on("msg:custom", (msg, buffers) => {
    const wait = pending.get(msg.id);
    if (!wait) return;
    pending.delete(msg.id);
    if (msg.ok && buffers && buffers.length) {
      const dv = buffers[0];
      const blob = new Blob([new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength)], {
        type: msg.mime,
      });
      wait.resolve(URL.createObjectURL(blob));
    } else {
      wait.reject(new Error(msg.error || "no audio"));
    }
  });

  function fetchClip(track, segment, chunk = null) {
    const key = clipKey(track, segment, chunk, model.get("segment_seconds"), model.get("hop_seconds"));
    if (!cache.has(key)) {
      const id = nextId++;
      const p = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
      model.send({ type: "audio", id, track, segment, chunk });
      p.catch(() => cache.delete(key));
      cache.set(key, p);
    }
    return cache.get(key);
  }

  async function play(track, segment, chunk = null) {
    current = { track, segment, chunk };
    root.dataset.audio = "loading";
    try {
      const url = await fetchClip(track, segment, chunk);
      if (current.track !== track || current.segment !== segment || current.chunk !== chunk) return;
      player.src = url;
      await player.play();
      root.dataset.audio = "playing";
    } catch (e) {
      root.dataset.audio = `error: ${e.message}`;
    }
  }

  player.addEventListener("ended", () => {
    if (playingOn && current) {
      const chunk = (current.chunk ?? -1) + 1;
      play(current.track, current.segment, chunk).catch(() => (playingOn = false));
    }
  });

  return {
    player,
    get unlocked() {
      return unlocked;
    },
    unlock() {
      unlocked = true;
      root.classList.add("ee-sound-on");
    },
    playSegment(track, segment) {
      playingOn = false;
      return play(track, segment === SEGMENT_NONE ? 0 : segment);
    },
    playOn() {
      if (!current) return;
      playingOn = true;
      play(current.track, current.segment, 0);
    },
    stop() {
      playingOn = false;
      player.pause();
    },
    clear() {
      for (const p of cache.values()) p.then((u) => URL.revokeObjectURL(u)).catch(() => {});
      cache.clear();
    },
  };
}

function render({ model, el }) {
  const t0 = performance.now();
  const root = h("div", { class: "ee-root" });
  el.append(root);
  const audio = createAudio(model, root);
  // One WebGL renderer for both panes, its canvas sized to the larger pane. Left to itself,
  // regl-scatterplot sizes it to the whole browser window and clears, draws and copies all of it
  // on every frame: with software WebGL that made panning 3x slower (70,000 points: 4.7 against
  // 15-17 redraws/s in a 1600x1000 window).
  const renderer = createRenderer({ canvas: document.createElement("canvas") });
  const listeners = new AbortController();
  // when the renderer's current frame began, or the last pane drew in it: each pane's frame time
  // (registered before the panes, so that it runs first in each frame)
  let frameAt = 0;
  const stopFrameClock = renderer.onFrame(() => (frameAt = performance.now()));
  let rendererSize = [0, 0];
  function fitRenderer() {
    let width = 1;
    let height = 1;
    for (const p of Object.values(panes)) {
      const r = p.box.getBoundingClientRect();
      width = Math.max(width, Math.ceil(r.width));
      height = Math.max(height, Math.ceil(r.height));
    }
    if (width === rendererSize[0] && height === rendererSize[1]) return;
    rendererSize = [width, height];
    renderer.resize(width, height);
    renderer.refresh();
    for (const p of Object.values(panes)) p.sp.redraw();
  }
  const state = { hovered: -1, hoverTimer: 0, selection: [], data: null };

  // -- the data shared by both panes -------------------------------------------------------------
  function readData() {
    const n = model.get("n_points");
    state.data = {
      n,
      track: typed(Uint32Array, model.get("point_track"), n),
      segment: typed(Uint32Array, model.get("point_segment"), n),
      codes: typed(Uint16Array, model.get("color_codes"), n),
      weight: typed(Float32Array, model.get("point_weight")),
      highlighted: typed(Uint8Array, model.get("highlighted")),
      durations: typed(Float32Array, model.get("track_durations")),
    };
  }

  // -- toolbar ----------------------------------------------------------------------------------
  const opts = () => model.get("options") || {};
  const status = h("span", { class: "ee-status" });
  const modeButtons = {};
  let mouseMode = "panZoom";
  function setMode(mode) {
    mouseMode = mode;
    for (const [m, b] of Object.entries(modeButtons)) b.classList.toggle("ee-active", m === mode);
    for (const p of Object.values(panes)) {
      p.sp.set({
        mouseMode: mode === "box" ? "lasso" : mode,
        lassoType: mode === "box" ? "rectangle" : "freeform",
      });
    }
  }
  for (const [mode, label, title] of [
    ["panZoom", "pan", "drag to pan, wheel to zoom"],
    ["lasso", "lasso", "drag a freeform lasso (or hold shift in pan mode)"],
    ["box", "box", "drag a rectangle"],
  ]) {
    modeButtons[mode] = h("button", { class: "ee-mode", title, onclick: () => setMode(mode) }, label);
  }
  const bar = h("div", { class: "ee-bar" });
  const scaleNote = h("div", { class: "ee-scale-note", title: "the panes' models cut segments of different lengths: both show the same windows, each model's vector the mean of its segments centred in the window" });
  function buildBar() {
    bar.replaceChildren();
    const o = opts();
    const tagNames = [...new Set(Object.values(o.tags || {}).flat())].sort();
    bar.append(
      h("label", {}, "view ",
        select(o.views || ["segments"], model.get("view"), (v) => save("view", v), "what a point is")),
      h("label", {}, "time ",
        select(o.time_scales || [["native", "native segments"]], model.get("time_scale"),
          (v) => save("time_scale", v), "what a row is: the models' own segments, windows, or whole tracks")),
      h("label", {}, "colour ",
        select([...(o.color_by || []), ...tagNames.map((t) => [`tag:${t}`, `tag: ${t}`])],
          model.get("color_by"), (v) => save("color_by", v), "colour the points by")),
      h("label", { title: "show every k-th row" }, "every ",
        h("input", { type: "number", min: "1", value: model.get("every"), class: "ee-every",
          onchange: (e) => save("every", Math.max(1, parseInt(e.target.value, 10) || 1)) })),
      filterControl("music", "show", o),
      filterControl("highlight", "highlight", o),
      ...Object.values(modeButtons),
      h("button", { title: "zoom both panes back out", onclick: () => {
        for (const p of Object.values(panes)) p.sp.reset();
      } }, "⟲ reset"),
      h("button", { title: "clear the selection", onclick: () => {
        for (const p of Object.values(panes)) p.sp.deselect();
      } }, "✕ clear"),
      h("button", { title: "play the track on from the last segment heard", class: "ee-playon",
        onclick: () => audio.playOn() }, "▶ play on"),
      h("button", { title: "stop", onclick: () => audio.stop() }, "■"),
      status,
    );
    modeButtons[mouseMode]?.classList.add("ee-active");
  }

  function filterControl(name, label, o) {
    const current = model.get(name) || {};
    const kinds = [["artists", "artist"], ["albums", "album"], ["genres", "genre"], ["tags", "tag"]];
    const kind = select(kinds, Object.keys(current)[0] || "artists", () => fillList(), `${label} by`);
    const listId = `ee-${name}-${Math.random().toString(36).slice(2)}`;
    const list = h("datalist", { id: listId });
    const input = h("input", { list: listId, class: "ee-filter", placeholder: `${label}…`,
      value: Object.values(current)[0]?.join(", ") || "" });
    function fillList() {
      const values = kind.value === "tags"
        ? [...new Set(Object.values(o.tags || {}).flat())] : o[kind.value] || [];
      list.replaceChildren(...values.map((v) => h("option", { value: v })));
    }
    fillList();
    const apply = () => {
      const values = input.value.split(",").map((s) => s.trim()).filter(Boolean);
      save(name, values.length ? { [kind.value]: values } : {});
    };
    input.addEventListener("change", apply);
    return h("span", { class: "ee-filterbox" }, `${label} `, kind, input, list,
      h("button", { title: `${label} all`, onclick: () => { input.value = ""; apply(); } }, "×"));
  }

  function save(name, value) {
    model.set(name, value);
    model.save_changes();
  }

  // -- panes ------------------------------------------------------------------------------------
  const panesRow = h("div", { class: "ee-panes" });
  const legend = h("div", { class: "ee-legend" });
  const panes = {};

  function makePane(side) {
    const header = h("div", { class: "ee-pane-header" });
    const canvas = h("canvas", { class: "ee-canvas" });
    const label = h("div", { class: "ee-label" });
    // the pane's status: its projection's progress (centred, with a bar) or why it has no points
    const statusText = h("span", { class: "ee-status-text" });
    const progressFill = h("span", { class: "ee-progress-fill" });
    const progress = h("span", { class: "ee-progress" }, progressFill);
    const paneStatus = h("div", { class: "ee-pane-status" }, statusText, progress);
    const hint = h("div", { class: "ee-hint" }, "click a point to hear it (browsers keep sound off until you click)");
    const note = h("div", { class: "ee-pane-status ee-pane-note" });
    const box = h("div", { class: "ee-canvas-box" }, canvas, label, paneStatus, note, hint);
    const pane = h("div", { class: `ee-pane ee-${side}`, "data-side": side }, header, box);
    panesRow.append(pane);
    box.style.height = `${model.get("height")}px`;
    const { width, height } = box.getBoundingClientRect();
    const sp = createScatterplot({
      renderer,
      canvas,
      width: Math.max(1, width),
      height: Math.max(1, height),
      pointSize: 4,
      pointSizeSelected: 1,
      pointOutlineWidth: 1,
      opacityInactiveMax: 0.25,
      backgroundColor: [0.98, 0.98, 0.98, 1],
      pointColorHover: [0.05, 0.05, 0.05, 1],
      pointColorActive: [0.05, 0.05, 0.05, 1],
      lassoColor: [0.05, 0.35, 0.8, 1],
      pointConnectionOpacity: 0.35,
      pointConnectionSize: 1,
      deselectOnDblClick: true,
      deselectOnEscape: true,
      aspectRatio: 1,
    });
    const p = { side, sp, pane, canvas, box, label, header, status: paneStatus, statusText,
      progress, progressFill, statusShown: "", computingSince: 0, tick: 0, note, drawn: false,
      hasPoints: false, noteText: "", frameMs: 0, lodPoints: 0, lodIdx: null, lodOn: false,
      lodTimer: 0 };
    sp.subscribe("pointover", (i) => onHover(side, i));
    sp.subscribe("pointout", () => onHover(side, -1));
    sp.subscribe("select", ({ points }) => onSelect(side, points));
    sp.subscribe("deselect", () => onSelect(side, []));
    let draws = 0;
    let lodDraws = 0;
    sp.subscribe("draw", () => {
      pane.dataset.draws = String(++draws); // read by benchmarks/widget_speed.py
      if (!p.drawn && p.hasPoints && state.data && state.data.n > 0 && sp.get("isPointsDrawn")) {
        p.drawn = true;
        pane.dataset.drawn = "1"; // the pane shows points (removed while it computes new ones)
        if (!pane.dataset.firstDrawMs) {
          pane.dataset.firstDrawMs = String(Math.round(performance.now() - t0));
          pane.dataset.firstDrawAt = String(Date.now());
        }
      }
    });
    sp.subscribe("drawing", () => {
      // synchronous, right after the frame: with software WebGL its time includes the drawing,
      // which the copy onto the pane's canvas waits for
      const now = performance.now();
      if (p.lodOn) {
        pane.dataset.lodDraws = String(++lodDraws); // drawn from the subsample
      } else {
        p.frameMs = now - frameAt;
        pane.dataset.frameMs = String(Math.round(p.frameMs)); // read by benchmarks/widget_speed.py
      }
      frameAt = now;
    });
    sp.subscribe("view", () => {
      placeLabel(p);
      if (p.lodOn) startMoving(p); // still moving: put off drawing all points
    });
    // Entered from the input events, not from "view": that comes after a frame, which would
    // then be drawn with all points (half a second at 2 million on software WebGL).
    let downAt = null;
    canvas.addEventListener("mousedown", (e) => {
      downAt = [e.clientX, e.clientY];
      if (mouseMode !== "panZoom" || e.shiftKey) stopMoving(p); // a lasso takes every point
    }, { signal: listeners.signal });
    window.addEventListener("mouseup", () => (downAt = null), { signal: listeners.signal });
    // on window: a drag that leaves the canvas still pans
    window.addEventListener("mousemove", (e) => {
      if (!downAt || !(e.buttons & 1) || mouseMode !== "panZoom" || e.shiftKey) return;
      // a click that wobbles a pixel is not a pan worth two redraws
      if (Math.abs(e.clientX - downAt[0]) + Math.abs(e.clientY - downAt[1]) < 3) return;
      startMoving(p);
    }, { signal: listeners.signal });
    canvas.addEventListener("wheel", () => startMoving(p), { passive: true, signal: listeners.signal });
    new ResizeObserver(() => {
      const r = box.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) {
        sp.set({ width: r.width, height: r.height });
        fitRenderer();
      }
    }).observe(box);
    canvas.addEventListener("click", () => {
      if (!audio.unlocked) audio.unlock();
      if (state.hovered >= 0) playPoint(state.hovered);
    });
    return p;
  }

  function buildHeader(p) {
    const o = opts();
    const spec = model.get(p.side);
    const full = spec.model; // the registry's name, e.g. "musicnn-msd"
    const set = (key, value) => {
      const next = { ...model.get(p.side), [key]: value };
      if (key === "model") {
        const layers = (o.layers || {})[value] || [];
        if (!layers.includes(next.layer)) next.layer = layers.includes("embeddings") ? "embeddings" : layers[0];
        if (next.projection === "tags" && !(o.tags || {})[value]) next.projection = "pca";
        next.x_tag = "";
        next.y_tag = "";
      }
      save(p.side, next);
    };
    const names = o.projection_names || {};
    const parts = [
      select(o.models || [], spec.model, (v) => set("model", v), "model (architecture, training data, segments)"),
      select((o.layers || {})[full] || [], spec.layer, (v) => set("layer", v), "layer"),
      select((o.projections || []).map((m) => [m, names[m] || m]), spec.projection,
        (v) => set("projection", v), "projection"),
    ];
    if (spec.projection === "tags") {
      const tags = (o.tags || {})[full] || [];
      parts.push(select(tags, spec.x_tag, (v) => set("x_tag", v), "x axis: this tag's activation"),
        select(tags, spec.y_tag, (v) => set("y_tag", v), "y axis: this tag's activation"));
    }
    p.header.replaceChildren(...parts, h("span", { class: "ee-title" }, model.get(`${p.side}_title`)));
  }

  function colors() {
    const entries = model.get("legend") || [];
    const base = entries.map((e) => rgba(e.color, 1));
    const dim = entries.map((e) => rgba(e.color, 0.12));
    return { k: entries.length, list: base.length ? [...base, ...dim] : [[0.3, 0.47, 0.65, 1]] };
  }

  const dirty = {};
  let flushTimer = 0;
  function schedule(side, keepView = true) {
    dirty[side] = (dirty[side] ?? true) && keepView;
    if (!flushTimer) {
      flushTimer = setTimeout(() => {
        flushTimer = 0;
        readData();
        for (const s of Object.keys(dirty)) {
          const keep = dirty[s];
          delete dirty[s];
          drawPane(panes[s], { keepView: keep });
        }
      }, 0);
    }
  }

  function drawPane(p, { keepView = true } = {}) {
    if (p.busy) {
      schedule(p.side, keepView);
      return;
    }
    const d = state.data;
    const xy = typed(Float32Array, model.get(`${p.side}_xy`), 2 * d.n);
    if (xy.length !== 2 * d.n) {
      // no points while the kernel computes the pane's projection (or could not): the old ones
      // would belong to other rows, or sit where the new projection does not put them
      if (!xy.length) clearPane(p);
      return; // else a column of the previous points, the new one on its way
    }
    const { k, list } = colors();
    const z = new Float32Array(d.n);
    const hl = d.highlighted.length === d.n ? d.highlighted : null;
    for (let i = 0; i < d.n; i++) z[i] = d.codes[i] + (hl && !hl[i] ? k : 0);
    const w = d.weight.length === d.n ? d.weight : new Float32Array(d.n);
    const points = { x: xy.subarray(0, d.n), y: xy.subarray(d.n), z, w };
    // regl-scatterplot builds a spline per track on the CPU: past this many points the lines cost
    // more than they show (see benchmarks/results/widget_speed-*.log), and the points are drawn
    // alone with a note saying how to get the lines back
    const tooMany = model.get("view") === "trajectories" && d.n > MAX_TRAJECTORY_POINTS;
    p.noteText = tooMany
      ? `trajectories are drawn up to ${MAX_TRAJECTORY_POINTS.toLocaleString()} points: ` +
        "show fewer (every k-th segment, or some artists)"
      : "";
    const trajectories = model.get("view") === "trajectories" && !tooMany;
    // draw() below resets the filter; with lines, filter() would rebuild every spline
    clearTimeout(p.lodTimer);
    p.lodOn = false;
    delete p.pane.dataset.moving;
    p.lodPoints = trajectories ? 0 : d.n;
    showNote(p);
    let data = points;
    if (trajectories) {
      // rows built here: regl-scatterplot 1.16 maps typed x columns with x.map() when lines are
      // given, which yields a Float32Array of NaN instead of rows (every point vanished)
      const { x, y } = points;
      data = Array.from({ length: d.n }, (_, i) => [x[i], y[i], z[i], w[i], d.track[i], d.segment[i]]);
    }
    const averages = model.get("view") === "averages";
    p.sp.set({
      colorBy: "valueA",
      pointColor: list,
      sizeBy: averages ? "valueB" : null,
      pointSize: averages ? Array.from({ length: 16 }, (_, i) => 5 + i) : 4,
      showPointConnections: trajectories,
      pointConnectionColorBy: trajectories ? "valueA" : null,
      pointConnectionColor: trajectories ? list : [0.66, 0.66, 0.66, 0.2],
    });
    const view = keepView ? p.sp.get("cameraView") : null;
    p.busy = true;
    p.hasPoints = true;
    p.sp
      .draw(data, { zDataType: "categorical", wDataType: "continuous",
        select: state.selection.length ? state.selection : undefined })
      .then(() => {
        if (view) p.sp.set({ cameraView: view });
      })
      .catch((e) => console.error("embedexplore:", e))
      .finally(() => {
        p.busy = false;
      });
  }

  function clearPane(p) {
    if (!p.hasPoints) return;
    p.hasPoints = false;
    p.drawn = false;
    delete p.pane.dataset.drawn;
    p.label.style.display = "none";
    clearTimeout(p.lodTimer);
    p.lodOn = false;
    p.lodPoints = 0;
    delete p.pane.dataset.moving;
    p.noteText = "";
    showNote(p);
    p.busy = true;
    p.sp
      .clear()
      .catch((e) => console.error("embedexplore:", e))
      .finally(() => {
        p.busy = false;
      });
  }

  // -- level of detail while moving -------------------------------------------------------------
  function showNote(p) {
    const text = p.lodOn
      ? `drawing ${LOD_POINTS.toLocaleString()} of ${p.lodPoints.toLocaleString()} points while moving`
      : p.noteText;
    p.note.textContent = text;
    p.note.style.display = text ? "block" : "none";
  }

  function startMoving(p) {
    if (!p.lodOn) {
      if (p.busy || !p.drawn || p.lodPoints <= LOD_MIN_POINTS || !(p.frameMs > LOD_SLOW_MS)) return;
      if (p.lodIdx?.n !== p.lodPoints) {
        p.lodIdx = { n: p.lodPoints, idx: subsample(p.lodPoints, LOD_POINTS) };
      }
      p.lodOn = true;
      p.pane.dataset.moving = "1"; // read by benchmarks/widget_speed.py
      // filter() keeps the original indices (hover events stay right) but drops the selected
      // points outside the subsample: stopMoving() selects them again, without an event
      p.sp.filter(p.lodIdx.idx, { preventEvent: true });
      showNote(p);
    }
    clearTimeout(p.lodTimer);
    p.lodTimer = setTimeout(() => stopMoving(p), LOD_SETTLE_MS);
  }

  function stopMoving(p) {
    clearTimeout(p.lodTimer);
    p.lodTimer = 0;
    if (!p.lodOn) return;
    p.lodOn = false;
    delete p.pane.dataset.moving;
    p.sp.unfilter({ preventEvent: true });
    // copies: select() keeps the array it is given and splices points out of it
    if (state.selection.length) p.sp.select(state.selection.slice(), { preventEvent: true });
    if (state.hovered >= 0) p.sp.hover(state.hovered, { preventEvent: true });
    showNote(p);
  }

  // -- linking ----------------------------------------------------------------------------------
  function labelText(i) {
    const d = state.data;
    const names = model.get("track_labels");
    const seg = d.segment[i];
    const when = seg === SEGMENT_NONE ? "whole track" : spanText(seg, model.get("segment_seconds"),
      model.get("hop_seconds"), d.durations[d.track[i]]);
    return { title: names[d.track[i]] ?? "?", when };
  }

  function tagText(side, i) {
    const names = model.get(`${side}_tag_names`);
    const tags = typed(Uint8Array, model.get(`${side}_tags`));
    if (!names.length || tags.length < 3 * (i + 1)) return "";
    return [0, 1, 2].map((j) => names[tags[3 * i + j]]).join(", ");
  }

  function placeLabel(p) {
    const i = state.hovered;
    if (i < 0 || !p.drawn) {
      p.label.style.display = "none";
      return;
    }
    const pos = p.sp.getScreenPosition(i);
    if (!pos) return;
    const { title, when } = labelText(i);
    const tags = tagText(p.side, i);
    p.label.replaceChildren(h("b", {}, title), h("span", {}, ` · ${when}`),
      ...(tags ? [h("br"), h("i", {}, tags)] : []));
    p.label.style.display = "block";
    const r = p.box.getBoundingClientRect();
    const left = Math.min(Math.max(4, pos[0] + 10), Math.max(4, r.width - p.label.offsetWidth - 4));
    const top = pos[1] + 12 + p.label.offsetHeight > r.height ? pos[1] - p.label.offsetHeight - 10 : pos[1] + 12;
    p.label.style.left = `${left}px`;
    p.label.style.top = `${top}px`;
    p.label.dataset.point = String(i);
  }

  function onHover(side, i) {
    state.hovered = i;
    for (const other of SIDES) {
      if (other !== side) panes[other].sp.hover(i, { preventEvent: true, showReticleOnce: true });
      placeLabel(panes[other]);
    }
    root.dataset.hovered = String(i);
    clearTimeout(state.hoverTimer);
    if (i >= 0 && audio.unlocked) {
      state.hoverTimer = setTimeout(() => state.hovered === i && playPoint(i), HOVER_PLAY_DELAY_MS);
    }
  }

  function playPoint(i) {
    const d = state.data;
    audio.playSegment(d.track[i], d.segment[i]);
  }

  function onSelect(side, points) {
    const list = Array.from(points || []);
    state.selection = list;
    for (const other of SIDES) {
      if (other === side) continue;
      // a copy: select() splices out the points a moving pane has filtered away (see startMoving)
      if (list.length) panes[other].sp.select(list.slice(), { preventEvent: true });
      else panes[other].sp.deselect({ preventEvent: true });
    }
    for (const s of SIDES) panes[s].pane.dataset.selected = String(list.length);
    const n = state.data.n;
    const bits = list.length ? bitsOf(list, n) : new Uint8Array(0);
    status.textContent = list.length ? `${list.length.toLocaleString()} selected` : "";
    root.dataset.selected = String(list.length);
    save("selected", new DataView(bits.buffer));
  }

  function applySelectionFromKernel() {
    const n = state.data.n;
    const bits = typed(Uint8Array, model.get("selected"));
    const list = bits.length ? indicesOf(bits, n) : [];
    const same = list.length === state.selection.length && list.every((v, j) => v === state.selection[j]);
    if (same) return;
    state.selection = list;
    for (const side of SIDES) {
      if (list.length) panes[side].sp.select(list.slice(), { preventEvent: true });
      else panes[side].sp.deselect({ preventEvent: true });
      panes[side].pane.dataset.selected = String(list.length);
    }
    status.textContent = list.length ? `${list.length.toLocaleString()} selected` : "";
    root.dataset.selected = String(list.length);
  }

  function drawLegend() {
    const entries = model.get("legend") || [];
    if (model.get("color_kind") === "continuous" && entries.length) {
      const stops = entries.map((e) => e.color).join(", ");
      legend.replaceChildren(h("span", {}, entries[0].label, " "),
        h("span", {}, entries[0].low.toFixed(2)),
        h("span", { class: "ee-ramp", style: `background: linear-gradient(to right, ${stops})` }),
        h("span", {}, entries[0].high.toFixed(2)));
    } else {
      legend.replaceChildren(...entries.map((e) =>
        h("span", { class: "ee-key", title: e.count ? `${e.count} points` : "" },
          h("span", { class: "ee-swatch", style: `background: ${e.color}` }), e.label)));
    }
  }

  function showStatus(side) {
    const p = panes[side];
    const text = model.get(`${side}_status`) || "";
    const computing = Boolean(model.get(`${side}_computing`));
    const share = model.get(`${side}_progress`);
    const known = computing && share >= 0;
    if (computing) p.pane.dataset.computing = "1"; // read by the browser tests
    else delete p.pane.dataset.computing;
    if (text !== p.statusShown) p.computingSince = performance.now(); // another projection
    p.statusShown = text;
    p.status.classList.toggle("ee-computing", computing);
    p.progress.classList.toggle("ee-indeterminate", computing && !known);
    p.progressFill.style.width = known ? `${Math.round(100 * share)}%` : "";
    clearInterval(p.tick);
    p.tick = 0;
    // where the method does not say how far it is (UMAP), the seconds it has taken
    const write = () => {
      const s = Math.floor((performance.now() - p.computingSince) / 1000);
      p.statusText.textContent = computing && !known && s >= 1 ? `${text} ${s} s` : text;
    };
    write();
    if (computing && !known) p.tick = setInterval(write, 1000);
    p.status.style.display = text ? "block" : "none";
  }

  function showScaleNote() {
    const text = model.get("scale_note");
    scaleNote.textContent = text;
    scaleNote.style.display = text ? "block" : "none";
  }

  root.append(bar, scaleNote, panesRow, legend, audio.player);
  for (const side of SIDES) panes[side] = makePane(side);
  fitRenderer();
  readData();
  buildBar();
  for (const side of SIDES) {
    buildHeader(panes[side]);
    showStatus(side);
  }
  state.selection = indicesOf(typed(Uint8Array, model.get("selected")), state.data.n);
  drawLegend();
  showScaleNote();
  for (const side of SIDES) schedule(side, false);
  root.addEventListener("pointerdown", () => audio.unlock(), { once: true });

  // -- kernel -> browser ------------------------------------------------------------------------
  const onPoints = () => {
    readData();
    state.hovered = -1;
    state.selection = indicesOf(typed(Uint8Array, model.get("selected")), state.data.n);
    for (const side of SIDES) schedule(side, false);
  };
  model.on("change:n_points", onPoints);
  model.on("change:point_track", onPoints);
  for (const side of SIDES) {
    model.on(`change:${side}_xy`, () => schedule(side, false));
    model.on(`change:${side}`, () => buildHeader(panes[side]));
    model.on(`change:${side}_title`, () => buildHeader(panes[side]));
    model.on(`change:${side}_status`, () => showStatus(side));
    model.on(`change:${side}_computing`, () => showStatus(side));
    model.on(`change:${side}_progress`, () => showStatus(side));
  }
  const recolour = () => {
    for (const side of SIDES) schedule(side);
    drawLegend();
  };
  model.on("change:color_codes", recolour);
  model.on("change:highlighted", recolour);
  model.on("change:legend", drawLegend);
  model.on("change:selected", applySelectionFromKernel);
  model.on("change:options", buildBar);
  model.on("change:time_scale", buildBar);
  model.on("change:scale_note", showScaleNote);
  model.on("change:view", () => {
    buildBar();
    for (const side of SIDES) schedule(side); // the points may be the same: lines or sizes change
  });
  model.on("change:status", () => (status.textContent = model.get("status")));
  model.on("change:height", () => {
    for (const side of SIDES) panes[side].box.style.height = `${model.get("height")}px`;
  });

  return () => {
    listeners.abort();
    stopFrameClock();
    for (const side of SIDES) {
      clearTimeout(panes[side].lodTimer);
      clearInterval(panes[side].tick);
      panes[side].sp.destroy();
    }
    renderer.destroy();
    audio.clear();
  };
}

export default { render };
