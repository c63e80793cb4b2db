// Level of detail: while a pane holding more than LOD_MIN_POINTS is panned or zoomed, it draws a
// fixed subsample of LOD_POINTS (regl-scatterplot's filter) and all points again LOD_SETTLE_MS
// after the view stops changing. See benchmarks/results/widget_speed-2026-11-26-cpu-lod.log.
//
// A pane here is the object pane.js makes: {sp, pane (its element), note, busy, drawn,
// lodPoints, frameMs, lodOn, lodIdx, lodTimer, noteText}; `state` is the widget's shared
// {selection, hovered}. No DOM beyond the pane's own elements' properties.

export const LOD_MIN_POINTS = 300_000;
export const LOD_POINTS = 100_000;
export const LOD_SETTLE_MS = 150;
// ... and only where drawing all points is slow (software WebGL): filter() and unfilter() cost
// 50-100 ms each at 2 million points, more than a fast GPU gains from the subsample
export const LOD_SLOW_MS = 60;

/**
 * k of the indices 0..n-1, one drawn at random from each of k equal runs: sorted (what
 * regl-scatterplot's filter wants, as a plain Array) and the same for the same n (a fixed seed),
 * so that the picture does not shimmer from one movement to the next.
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

/** Whether a pane should draw the subsample once it moves: drawn, large, and slow to draw. */
export function wantsSubsample(p) {
  return !(p.busy || !p.drawn || p.lodPoints <= LOD_MIN_POINTS || !(p.frameMs > LOD_SLOW_MS));
}

/** The pane's note: the level of detail while moving, else its own note (or ""). */
export function noteText(p) {
  return p.lodOn
    ? `drawing ${LOD_POINTS.toLocaleString()} of ${p.lodPoints.toLocaleString()} points while moving`
    : p.noteText;
}

export function showNote(p) {
  const text = noteText(p);
  p.note.textContent = text;
  p.note.style.display = text ? "block" : "none";
}

/** The pane's view is changing: draw the subsample (if it wants one) until it settles. */
export function startMoving(p, state) {
  if (!p.lodOn) {
    if (!wantsSubsample(p)) return;
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
  p.lodTimer = setTimeout(() => stopMoving(p, state), LOD_SETTLE_MS);
}

/** Draw all points again, with the selection and the hovered point. */
export function stopMoving(p, state) {
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

/** Stop any level of detail before the pane's points are replaced or cleared. */
export function resetDetail(p, points) {
  clearTimeout(p.lodTimer);
  p.lodOn = false;
  p.lodPoints = points;
  delete p.pane.dataset.moving;
}
