// One scatter pane: its regl-scatterplot (sharing the widget's WebGL renderer), drawing its
// points from the traits, its hovered point's label and marks (on an overlay: marks.js), and its
// status box (the projection's progress, or why it has no points). Linking, level of detail and
// the menus live in linking.js, lod.js and toolbar.js; this module wires a pane's events to them.
import createScatterplot from "regl-scatterplot";
import { h } from "./dom.js";
import { legendColors } from "./legend.js";
import { frameDrawn, resetDetail, showNote, startMoving, stopMoving } from "./lod.js";
import { drawMarks, marksFor } from "./marks.js";
import { paneRows } from "./points.js";
import { buildSpatialIndex, EMPTY_INDEX, WORKER_MIN_POINTS } from "./spatial.js";
import { paneXY, pointLabel, pointTags } from "./traits.js";

// regl-scatterplot builds a spline per track on the CPU: past this many points the lines cost
// more than they show (see benchmarks/results/widget_speed-*.log), and the points are drawn
// alone with a note saying how to get the lines back
export const MAX_TRAJECTORY_POINTS = 200_000;
// from this many points a pane waits for its new style to be drawn before drawing its points
// (see drawPane); a smaller one draws at once
const AWAIT_STYLE_POINTS = 100_000;

/**
 * @typedef {Object} PaneContext  what the panes share, from widget.js's render()
 * @property {Object} model
 * @property {Object} renderer     regl-scatterplot's shared renderer
 * @property {{at: number}} clock  when the renderer's current frame began, or the last pane drew
 * @property {Object} state        {hovered, hoverSide, playing, selection, data, partial (the
 *                                 sides whose picture is being drawn in chunks)}
 * @property {Object} audio        audio.js's player
 * @property {AbortController} listeners  aborted when the widget goes
 * @property {HTMLElement} parent  the row of panes
 * @property {number} t0           when render() began (first-draw times)
 * @property {Object} toolbar      toolbar.js's (mouseMode)
 * @property {Object} linking      linking.js's (hover, fromPane, playPoint)
 * @property {(p: Object) => void} showHover  show the hovered point's label and marks in a pane
 * @property {() => void} fitRenderer
 * @property {() => void} holdDrawing  put off the panes' next chunks while the mouse moves
 * @property {(side: string, keepView: boolean) => void} schedule  draw the pane again soon
 */

/** Make the pane `side` in ctx.parent; returns its state object (see lod.js for its fields). */
export function createPane(side, ctx) {
  const { model, renderer, clock, state, audio, listeners } = ctx;
  const header = h("div", { class: "ee-pane-header" });
  const canvas = h("canvas", { class: "ee-canvas" });
  // the marks (hovered, linked, playing point): a 2-D canvas over the points, never hit by the
  // mouse
  const overlay = h("canvas", { class: "ee-overlay" });
  const label = h("div", { class: "ee-label" });
  // the pane's status: its projection's progress (centred, with a bar) or why it has no points
  const statusText = h("span", { class: "ee-status-text" });
  const progressFill = h("span", { class: "ee-progress-fill" });
  const progress = h("span", { class: "ee-progress" }, progressFill);
  const paneStatus = h("div", { class: "ee-pane-status" }, statusText, progress);
  const hint = h("div", { class: "ee-hint" }, "click a point to hear it (browsers keep sound off until you click)");
  const note = h("div", { class: "ee-pane-status ee-pane-note" });
  const box = h("div", { class: "ee-canvas-box" }, canvas, overlay, label, paneStatus, note, hint);
  const pane = h("div", { class: `ee-pane ee-${side}`, "data-side": side }, header, box);
  ctx.parent.append(pane);
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
    pointColorActive: [0.05, 0.05, 0.05, 1],
    lassoColor: [0.05, 0.35, 0.8, 1],
    pointConnectionOpacity: 0.35,
    pointConnectionSize: 1,
    deselectOnDblClick: true,
    deselectOnEscape: true,
    aspectRatio: 1,
    // events delivered at once, not after the next frame: a lasso's selection leaves for the
    // kernel before the panes redraw (a second or two at 4 million points in software WebGL)
    syncEvents: true,
  });
  const p = { side, sp, pane, canvas, overlay, marks: overlay.getContext("2d"), box, label,
    header, status: paneStatus, statusText, progress, progressFill, statusShown: "",
    computingSince: 0, tick: 0, note, drawn: false, hasPoints: false, noteText: "", frameMs: 0,
    msPerPoint: 0, msPerPointMax: 0, lodPoints: 0, lodIdx: null, lodSel: null, lodOn: false,
    lodHeld: false, lodAwait: false, lodTimer: 0, marked: false, generation: 0, styleKey: "" };
  // the point under the mouse, on each move in this pane (-1: none, or the mouse left it): the
  // library draws nothing for it (js/patches.mjs)
  sp.subscribe("raycast", (i) => {
    if (i >= 0 || state.hovered >= 0) ctx.holdDrawing(); // a hover first, then the next chunk
    if (i === state.hovered && (i < 0 || state.hoverSide === side)) return;
    if (i < 0 && state.hoverSide !== side) return; // the mouse is in the other pane
    ctx.linking.hover(side, i);
  });
  sp.subscribe("select", ({ points }) => ctx.linking.fromPane(side, points));
  sp.subscribe("deselect", () => ctx.linking.fromPane(side, []));
  let draws = 0;
  let lodDraws = 0;
  sp.subscribe("draw", () => {
    pane.dataset.draws = String(++draws); // read by benchmarks/widget_speed.py
    // all the points shown (not a chunk of a picture drawn over several frames: see "drawing")
    if (!p.drawn && p.hasPoints && state.data && state.data.n > 0 && sp.get("isPointsDrawn") &&
        !pane.dataset.partial) {
      p.drawn = true;
      pane.dataset.drawn = "1"; // the pane shows points (removed while it computes new ones)
      if (!pane.dataset.firstDrawMs) {
        pane.dataset.firstDrawMs = String(Math.round(performance.now() - ctx.t0));
        pane.dataset.firstDrawAt = String(Date.now());
      }
    }
  });
  sp.subscribe("drawing", ({ eeFrame: f }) => {
    // synchronous, right after the frame: with software WebGL its time includes the drawing,
    // which the copy onto the pane's canvas waits for
    const now = performance.now();
    const ms = now - clock.at;
    if (p.lodOn) {
      pane.dataset.lodDraws = String(++lodDraws); // drawn from the subsample
    } else if (p.drawn) {
      p.frameMs = ms;
      pane.dataset.frameMs = String(Math.round(ms)); // read by benchmarks/widget_speed.py
    }
    // a picture drawn over several frames: not all points shown yet (read by the tests)
    if (f.last) {
      delete pane.dataset.partial;
      state.partial.delete(side);
    } else {
      pane.dataset.partial = "1";
      state.partial.add(side);
    }
    // what a frame costs per point here: whether the next movement draws the subsample, and how
    // many points a frame of a still picture draws (lod.js); the panes drawing in chunks share a
    // frame (both, after a reset or a selection)
    if (p.hasPoints) sp.setProgressive(...frameDrawn(p, ms, f.to - f.from, state.partial.size));
    clock.at = now;
  });
  sp.subscribe("view", () => {
    ctx.showHover(p);
    if (p.lodOn) startMoving(p, state); // still moving: put off drawing all points
  });
  // Entered from the input events, not from "view": that comes after a frame, which would
  // then be drawn with all points (half a second at 2 million on software WebGL).
  let downAt = null;
  canvas.addEventListener("mousedown", (e) => {
    downAt = [e.clientX, e.clientY];
    // a lasso redraws the pane on each mouse move: the subsample until it ends (it selects
    // among all points)
    if (e.buttons === 1 && (ctx.toolbar.mouseMode !== "panZoom" || e.shiftKey)) startMoving(p, state, { hold: true });
  }, { signal: listeners.signal });
  // after the library's own (registered first): the lasso's selection is made by then
  window.addEventListener("mouseup", () => {
    downAt = null;
    if (p.lodHeld && !p.lodAwait) stopMoving(p, state);
  }, { signal: listeners.signal });
  // on window: a drag that leaves the canvas still pans
  window.addEventListener("mousemove", (e) => {
    if (!downAt || !(e.buttons & 1) || ctx.toolbar.mouseMode !== "panZoom" || e.shiftKey) return;
    // a click that wobbles a pixel is not a pan worth two redraws
    if (Math.abs(e.clientX - downAt[0]) + Math.abs(e.clientY - downAt[1]) < 3) return;
    startMoving(p, state);
  }, { signal: listeners.signal });
  canvas.addEventListener("wheel", () => startMoving(p, state), { passive: true, signal: listeners.signal });
  new ResizeObserver(() => {
    const r = box.getBoundingClientRect();
    if (r.width > 0 && r.height > 0) {
      sp.set({ width: r.width, height: r.height });
      ctx.fitRenderer();
      const scale = window.devicePixelRatio || 1;
      overlay.width = Math.round(r.width * scale);
      overlay.height = Math.round(r.height * scale);
      ctx.showHover(p);
    }
  }).observe(box);
  canvas.addEventListener("click", () => {
    if (!audio.unlocked) audio.unlock();
    if (state.hovered >= 0) ctx.linking.playPoint(state.hovered);
  });
  return p;
}

/** Draw the pane's points from the traits (keeping its camera if `keepView`). */
export function drawPane(p, ctx, { keepView = true } = {}) {
  const { model, state } = ctx;
  if (p.busy) {
    ctx.schedule(p.side, keepView);
    return;
  }
  const d = state.data;
  const xy = paneXY(model, p.side, d.n);
  if (xy.length !== 2 * d.n) {
    // no points while the kernel computes the pane's projection (or could not): the old ones
    // would belong to other rows, or sit where the new projection does not put them
    if (!xy.length) clearPane(p, state);
    return; // else a column of the previous points, the new one on its way
  }
  const { k, list } = legendColors(model.get("legend") || []);
  const rows = paneRows({ xy, n: d.n, codes: d.codes, highlighted: d.highlighted, k, weight: d.weight });
  const tooMany = model.get("view") === "trajectories" && d.n > MAX_TRAJECTORY_POINTS;
  p.noteText = tooMany
    ? `trajectories are drawn up to ${MAX_TRAJECTORY_POINTS.toLocaleString()} points: ` +
      "show fewer (every k-th segment, or some artists)"
    : "";
  const trajectories = model.get("view") === "trajectories" && !tooMany;
  // draw() below resets the level of detail; with lines it is off (a subsample would cut them)
  resetDetail(p, trajectories ? 0 : d.n);
  showNote(p);
  // rows as Arrays with the lines' track and order: regl-scatterplot builds its splines from
  // them (up to MAX_TRAJECTORY_POINTS)
  const data = trajectories
    ? Array.from({ length: d.n }, (_, i) => [...rows[i], d.track[i], d.segment[i]])
    : rows;
  const averages = model.get("view") === "averages";
  const style = {
    colorBy: "valueA",
    pointColor: list,
    sizeBy: averages ? "valueB" : null,
    pointSize: averages ? Array.from({ length: 16 }, (_, i) => 5 + i) : 4,
    showPointConnections: trajectories,
    pointConnectionColorBy: trajectories ? "valueA" : null,
    pointConnectionColor: trajectories ? list : [0.66, 0.66, 0.66, 0.2],
  };
  p.busy = true;
  p.hasPoints = true;
  const generation = ++p.generation;
  const current = () => generation === p.generation && p.hasPoints;
  // the spatial index starts at once, off the main thread for large panes; the points are drawn
  // meanwhile with an empty one (nothing under the mouse or in a lasso for that second or two:
  // the pane's note says so), which the real one replaces once both are done
  const index = trajectories ? null : buildSpatialIndex(xy, d.n);
  p.indexing = Boolean(index) && d.n >= WORKER_MIN_POINTS; // small panes: at once
  showNote(p);
  // the style only where it changed: set() redraws the pane one frame later, which after the
  // draw below would be a second full frame (2 s at 4 million points in software WebGL), so a
  // large pane waits for that frame before drawing its points; a small one draws at once
  const styleKey = JSON.stringify(style);
  let styled = Promise.resolve();
  if (styleKey !== p.styleKey) {
    const set = p.sp.set(style);
    p.styleKey = styleKey;
    if (d.n >= AWAIT_STYLE_POINTS) styled = set;
  }
  const drawn = styled.then(() => {
    if (!current()) return false; // cleared or redrawn meanwhile
    const view = keepView ? p.sp.get("cameraView") : null;
    return p.sp
      .draw(data, { zDataType: "categorical", wDataType: "continuous",
        spatialIndex: trajectories ? undefined : EMPTY_INDEX,
        select: state.selection.length ? state.selection : undefined })
      .then(() => {
        const now = p.sp.get("cameraView");
        if (view && view.some((v, j) => v !== now[j])) p.sp.view(view, { preventEvent: true });
        ctx.showHover(p);
        return true;
      });
  });
  drawn
    .catch((e) => console.error("embedexplore:", e))
    .finally(() => {
      p.busy = false;
    });
  if (index) {
    Promise.all([drawn, index])
      .then(([ok, buffer]) => {
        if (!ok || !current()) return;
        p.sp.setSpatialIndex(buffer);
        p.indexing = false;
        p.pane.dataset.indexed = "1"; // hover and lasso find points (read by the browser tests)
        p.pane.dataset.indexedAt ||= String(Date.now()); // read by benchmarks/widget_speed.py
        showNote(p);
      })
      .catch((e) => {
        console.error("embedexplore:", e);
        if (!current()) return;
        p.indexing = false;
        p.noteText = "hover and lasso are off in this pane: its points could not be indexed (see the browser's console)";
        showNote(p);
      });
  }
}

/** Remove the pane's points (its projection computes, or failed). */
export function clearPane(p, state) {
  if (!p.hasPoints) return;
  p.hasPoints = false;
  p.drawn = false;
  delete p.pane.dataset.partial;
  state.partial.delete(p.side);
  p.generation++;
  p.indexing = false;
  delete p.pane.dataset.drawn;
  delete p.pane.dataset.indexed;
  p.label.style.display = "none";
  clearMarks(p);
  resetDetail(p, 0);
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

/** Show the hovered point's label and the marks (hovered, linked, playing) in the pane. */
export function showHover(p, ctx) {
  placeLabel(p, ctx);
  placeMarks(p, ctx.state);
}

/** Show the hovered point's label beside it in the pane (or hide it). */
export function placeLabel(p, ctx) {
  const { model, state } = ctx;
  const i = state.hovered;
  if (i < 0 || !p.drawn) {
    p.label.style.display = "none";
    return;
  }
  const pos = p.sp.getScreenPosition(i);
  if (!pos) return;
  const { title, when } = pointLabel(model, state.data, i);
  const tags = pointTags(model, p.side, i);
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

/** Draw the pane's marks on its overlay from `state` (hovered, hoverSide, playing). */
export function placeMarks(p, state) {
  const marks = p.drawn
    ? marksFor({ side: p.side, hovered: state.hovered, hoverSide: state.hoverSide,
      playing: state.playing, position: (i) => p.sp.getScreenPosition(i) })
    : [];
  if (!marks.length && !p.marked) return; // nothing shown, nothing to show
  const scale = p.overlay.width / Math.max(1, p.overlay.clientWidth || p.overlay.width);
  drawMarks(p.marks, marks, { width: p.overlay.width / scale, height: p.overlay.height / scale, scale });
  p.marked = marks.length > 0;
  p.overlay.dataset.marks = marks.map((m) => m.kind).join(" "); // read by the browser tests
}

function clearMarks(p) {
  if (!p.marked) return;
  drawMarks(p.marks, [], { width: p.overlay.width, height: p.overlay.height });
  p.marked = false;
  p.overlay.dataset.marks = "";
}

/** The pane's status box from `<side>_status`, `_computing` and `_progress`. */
export function showStatus(p, model) {
  const { side } = p;
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
