// Level of detail: while a pane holding more than LOD_MIN_POINTS is panned or zoomed, it draws a
// fixed subsample of LOD_POINTS of its points (and at most LOD_POINTS of its selection) and all
// points again LOD_SETTLE_MS after the view stops changing. The subsample is drawn from index
// buffers made once per set of points (regl-scatterplot's setDetail, js/patches.mjs): starting
// and stopping cost nothing per point, where filter()/unfilter() rebuilt the index of every
// point and the selection each time (a 600 ms frame at a million points). Whether a pane needs
// it is decided before its first slow frame: from the time per point of its last full frame.
// See benchmarks/results/widget_speed-2026-12-05-cpu-before-after.log.
//
// A pane here is the object pane.js makes: {sp, pane (its element), note, busy, drawn,
// lodPoints, msPerPoint, lodOn, lodHeld, lodAwait, lodIdx, lodSel, lodTimer, indexing, noteText};
// `state` is the widget's shared {selection}. No DOM beyond the pane's own elements' properties.

export const LOD_MIN_POINTS = 300_000;
export const LOD_POINTS = 100_000;
export const LOD_SETTLE_MS = 150;
// ... and only where a full frame is predicted slower than this (software WebGL): a GPU draws
// millions of points in a few ms, and the subsample would only thin its picture
export const LOD_SLOW_MS = 60;
// Where even a still picture of all points takes longer than this (4 million points: 0.6 to
// 2.3 s a frame in software WebGL), it is drawn over several frames of about this long, a
// chunk of the points each (regl-scatterplot's setProgressive, js/patches.mjs), so that the
// page answers the mouse between them and no frame stalls panning that resumes.
export const FRAME_BUDGET_MS = 100;
// a frame of fewer points tells little about the time per point (a fixed cost per frame)
const MEASURE_MIN_POINTS = 50_000;

/**
 * k of the indices 0..n-1, one drawn at random from each of k equal runs: sorted, and the same
 * for the same n (a fixed seed), so that the picture does not shimmer from one movement to the
 * next.
 */
export function subsample(n, k) {
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

/**
 * A full frame's predicted time in ms: the time per point of the pane's last full frame times
 * its points now (0 before any frame: nothing known, nothing predicted).
 */
export function predictedFrameMs(p) {
  return p.msPerPoint * p.lodPoints;
}

/**
 * A frame was drawn: `ms` it took, `drawn` the points it drew (a selected point counts 3: the
 * library draws it three times). Updates the pane's time per point (the last, and the most
 * measured since its points came) and returns the chunks of points the frames of a full
 * picture should draw, [the next, the first of a picture] (0: all at once), for
 * setProgressive(). A picture's first frame may show another view, where a point can cost
 * several times more (fewer of them clipped): its chunk is sized for the costliest seen. Where
 * `panes` panes are drawing their pictures in chunks, they share one frame's budget.
 */
export function frameDrawn(p, ms, drawn, panes = 1) {
  if (drawn >= MEASURE_MIN_POINTS) {
    p.msPerPoint = ms / drawn;
    p.msPerPointMax = Math.max(p.msPerPointMax || 0, p.msPerPoint);
  }
  if (p.lodPoints <= LOD_MIN_POINTS || !(p.msPerPoint > 0)) return [0, 0];
  const budget = FRAME_BUDGET_MS / Math.max(1, panes);
  const chunk = (ms1) => Math.max(LOD_POINTS, Math.floor(budget / ms1));
  return [chunk(p.msPerPoint), chunk(p.msPerPointMax)];
}

/** Whether a pane should draw the subsample once it moves: drawn, large, and slow to draw. */
export function wantsSubsample(p) {
  return !(p.busy || !p.drawn || p.lodPoints <= LOD_MIN_POINTS || !(predictedFrameMs(p) > LOD_SLOW_MS));
}

/**
 * At most `k` of the `selection` (point indices) to draw while moving: all of it when it is no
 * larger, else every (length / k)-th.
 */
export function selectionSample(selection, k) {
  if (selection.length <= k) return selection;
  const out = new Array(k);
  for (let i = 0; i < k; i++) out[i] = selection[Math.floor((i * selection.length) / k)];
  return out;
}

/**
 * The pane's note: the level of detail while moving or lassoing, or that its spatial index is
 * being built (large panes, just drawn), else its own note (or "").
 */
export function noteText(p) {
  return p.lodOn
    ? `drawing ${LOD_POINTS.toLocaleString()} of ${p.lodPoints.toLocaleString()} points while ` +
      (p.lodAwait ? "the kernel receives the selection"
        : p.lodHeld ? "you lasso (the lasso takes them all)" : "moving")
    : p.indexing
      ? `finding where ${p.lodPoints.toLocaleString()} points lie, for hover and lasso…`
      : p.noteText;
}

export function showNote(p) {
  const text = noteText(p);
  p.note.textContent = text;
  p.note.style.display = text ? "block" : "none";
}

/**
 * The pane's view is changing: draw the subsample (if it wants one) until it settles, or with
 * `hold` (a lasso being drawn: every mouse move redraws the pane) until stopMoving(). What the
 * lasso selects is found among all points, whatever is drawn.
 */
export function startMoving(p, state, { hold = false } = {}) {
  if (!p.lodOn && !wantsSubsample(p)) return;
  if (p.lodIdx?.n !== p.lodPoints) {
    p.lodIdx = { n: p.lodPoints, idx: subsample(p.lodPoints, LOD_POINTS) };
  }
  if (p.lodSel?.of !== state.selection) {
    p.lodSel = { of: state.selection, idx: selectionSample(state.selection, LOD_POINTS) };
  }
  // the same arrays as last time: the library keeps their buffers
  p.sp.setDetail(p.lodIdx.idx, p.lodSel.idx);
  if (!p.lodOn || hold !== Boolean(p.lodHeld)) {
    p.lodOn = true;
    p.lodHeld = hold;
    p.pane.dataset.moving = "1"; // read by benchmarks/widget_speed.py
    showNote(p);
  }
  clearTimeout(p.lodTimer);
  if (!hold) p.lodTimer = setTimeout(() => stopMoving(p, state), LOD_SETTLE_MS);
}

/** Draw all points again (the selection and the marks are as they were). */
export function stopMoving(p, state) {
  clearTimeout(p.lodTimer);
  p.lodTimer = 0;
  if (!p.lodOn) return;
  p.lodOn = false;
  p.lodHeld = false;
  p.lodAwait = false;
  delete p.pane.dataset.moving;
  p.sp.setDetail(null);
  showNote(p);
}

/** Stop any level of detail before the pane's points are replaced or cleared. */
export function resetDetail(p, points) {
  clearTimeout(p.lodTimer);
  p.lodOn = false;
  p.lodHeld = false;
  p.lodAwait = false;
  p.lodPoints = points;
  p.msPerPointMax = 0; // other points: their costliest frame is yet to be seen
  delete p.pane.dataset.moving;
}
