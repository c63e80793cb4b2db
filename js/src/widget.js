// The Explorer's frontend: two regl-scatterplot panes linked in the browser (hover, selection),
// audio fetched from the kernel on request, controls that write the Python traits. This module is
// the anywidget entry: it makes the parts and wires them to the model's events.
//
//   traits.js   decoding the synced traits (src/embedexplore/widget.py lists them)
//   pane.js     one scatter pane: its scatterplot, drawing, label, status box
//   toolbar.js  the toolbar and the panes' header menus
//   linking.js  the linked hover, and the selection (one path from a lasso or from Python)
//   lod.js      the level of detail while a large pane moves
//   legend.js   the colour legend and the points' colours
//   audio.js    the clips from the kernel and the player
//   scale.js    the rows' times (labels, the audio cache)
import { createRenderer } from "regl-scatterplot";
import { createAudio } from "./audio.js";
import { h } from "./dom.js";
import { drawLegend } from "./legend.js";
import { createLinking } from "./linking.js";
import { showNote, startMoving, stopMoving } from "./lod.js";
import { createPane, drawPane, showHover, showStatus } from "./pane.js";
import { createToolbar } from "./toolbar.js";
import { readPoints, selectedIndices, SIDES } from "./traits.js";
import "./widget.css";

/** How long panes wait for the kernel to receive a selection before drawing all points. */
const SELECTION_WAIT_MS = 3000;
/**
 * A pane's picture drawn in chunks (millions of points, lod.js) waits while the mouse moves over
 * the panes, until it rests this long: a chunk's 100 ms frames before each hover's label would
 * show it 0.3-0.5 s late (4 million points in software WebGL).
 */
const HOVER_HOLD_MS = 150;

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
  const clock = { at: 0 };
  const stopFrameClock = renderer.onFrame(() => (clock.at = performance.now()));
  const panes = {};
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
  const state = { hovered: -1, hoverSide: "", playing: -1, hoverTimer: 0, selection: [],
    selectionBits: null, data: null, partial: new Set() };
  const readData = () => (state.data = readPoints(model));

  const toolbar = createToolbar({ model, panes, audio });
  const scaleNote = h("div", { class: "ee-scale-note", title: "the panes' models cut segments of different lengths: both show the same windows, each model's vector the mean of its segments centred in the window" });
  const panesRow = h("div", { class: "ee-panes" });
  const legend = h("div", { class: "ee-legend" });
  let holdTimer = 0;
  function holdDrawing() {
    if (!holdTimer) for (const side of SIDES) panes[side].sp.holdProgressive(true);
    clearTimeout(holdTimer);
    holdTimer = setTimeout(() => {
      holdTimer = 0;
      for (const side of SIDES) panes[side].sp.holdProgressive(false);
    }, HOVER_HOLD_MS);
  }
  const ctx = { model, renderer, clock, state, audio, listeners, parent: panesRow, t0, toolbar,
    fitRenderer, schedule, holdDrawing, linking: null, showHover: (p) => showHover(p, ctx) };
  // A selection made here, in panes slow to draw (millions of points in software WebGL): both
  // show it from their subsample until the kernel says it has it ({type: "selected"}), or
  // SELECTION_WAIT_MS pass (a kernel busy with a cell), and draw all points then. Two full
  // frames at once took the CPU the kernel needed to receive it: 5 s at 4 million points.
  let awaitTimer = 0;
  function awaitKernel() {
    let held = false;
    for (const side of SIDES) {
      const p = panes[side];
      startMoving(p, state, { hold: true });
      if (p.lodOn) {
        held = p.lodAwait = true;
        showNote(p); // "... while the kernel receives the selection"
      }
    }
    clearTimeout(awaitTimer);
    if (held) awaitTimer = setTimeout(received, SELECTION_WAIT_MS);
  }
  function received() {
    clearTimeout(awaitTimer);
    for (const side of SIDES) if (panes[side].lodAwait) stopMoving(panes[side], state);
  }
  model.on("msg:custom", (msg) => {
    if (msg && msg.type === "selected") received();
  });
  ctx.linking = createLinking({ model, panes, state, audio, root, status: toolbar.status,
    showHover: ctx.showHover, sent: awaitKernel });
  // the point playing is marked while the player plays (a pause, or the clip's end, unmarks it)
  audio.player.addEventListener("playing", () => ctx.linking.playing(true), { signal: listeners.signal });
  audio.player.addEventListener("pause", () => ctx.linking.playing(false), { signal: listeners.signal });

  // a pane's redraw waits for the next task: the traits of one change arrive one by one
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
          drawPane(panes[s], ctx, { keepView: keep });
        }
      }, 0);
    }
  }

  const showLegend = () => drawLegend(legend, model.get("legend") || [], model.get("color_kind"));
  function showScaleNote() {
    const text = model.get("scale_note");
    scaleNote.textContent = text;
    scaleNote.style.display = text ? "block" : "none";
  }

  root.append(toolbar.bar, scaleNote, panesRow, legend, audio.player);
  for (const side of SIDES) panes[side] = createPane(side, ctx);
  fitRenderer();
  readData();
  toolbar.build();
  for (const side of SIDES) {
    toolbar.buildHeader(panes[side]);
    showStatus(panes[side], model);
  }
  state.selection = selectedIndices(model, state.data.n);
  state.selectionBits = null;
  showLegend();
  showScaleNote();
  for (const side of SIDES) schedule(side, false);
  root.addEventListener("pointerdown", () => audio.unlock(), { once: true });

  // -- kernel -> browser ------------------------------------------------------------------------
  const onPoints = () => {
    readData();
    state.hovered = -1;
    state.playing = -1;
    state.selection = selectedIndices(model, state.data.n);
    state.selectionBits = null;
    for (const side of SIDES) schedule(side, false);
  };
  model.on("change:n_points", onPoints);
  model.on("change:point_track", onPoints);
  for (const side of SIDES) {
    model.on(`change:${side}_xy`, () => schedule(side, false));
    model.on(`change:${side}`, () => toolbar.buildHeader(panes[side]));
    model.on(`change:${side}_title`, () => toolbar.buildHeader(panes[side]));
    model.on(`change:${side}_status`, () => showStatus(panes[side], model));
    model.on(`change:${side}_computing`, () => showStatus(panes[side], model));
    model.on(`change:${side}_progress`, () => showStatus(panes[side], model));
  }
  const recolour = () => {
    for (const side of SIDES) schedule(side);
    showLegend();
  };
  model.on("change:color_codes", recolour);
  model.on("change:highlighted", recolour);
  model.on("change:legend", showLegend);
  model.on("change:selected", ctx.linking.fromKernel);
  model.on("change:options", toolbar.build);
  model.on("change:time_scale", toolbar.build);
  model.on("change:scale_note", showScaleNote);
  model.on("change:view", () => {
    toolbar.build();
    for (const side of SIDES) schedule(side); // the points may be the same: lines or sizes change
  });
  model.on("change:status", () => (toolbar.status.textContent = model.get("status")));
  model.on("change:height", () => {
    for (const side of SIDES) panes[side].box.style.height = `${model.get("height")}px`;
  });

  return () => {
    listeners.abort();
    stopFrameClock();
    clearTimeout(awaitTimer);
    clearTimeout(holdTimer);
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
