// Unit tests of js/src/lod.js: which pane draws a subsample while moving, and which one.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  FRAME_BUDGET_MS, frameDrawn, LOD_MIN_POINTS, LOD_POINTS, LOD_SLOW_MS, noteText, predictedFrameMs, selectionSample, startMoving,
  stopMoving, subsample, wantsSubsample,
} from "../src/lod.js";
import { fakeScatterplot } from "./fake_model.mjs";

test("the subsample: k sorted indices, one from each of k equal runs, the same each time", () => {
  const n = 1000;
  const idx = subsample(n, 10);
  assert.equal(idx.length, 10);
  idx.forEach((v, i) => {
    assert.ok(Number.isInteger(v));
    assert.ok(v >= i * 100 && v < (i + 1) * 100, `${v} not in run ${i}`);
  });
  assert.deepEqual(subsample(n, 10), idx); // a fixed seed: no shimmer
  assert.deepEqual(subsample(5, 5), [0, 1, 2, 3, 4]);
  const big = subsample(2_000_000, LOD_POINTS);
  assert.equal(big.length, LOD_POINTS);
  assert.ok(big.every((v, i) => i === 0 || v > big[i - 1]));
  assert.ok(big.at(-1) < 2_000_000);
});

function pane(over = {}) {
  const lodPoints = over.lodPoints ?? 2 * LOD_MIN_POINTS;
  return { sp: fakeScatterplot(), pane: { dataset: {} }, note: { textContent: "", style: {} },
    busy: false, drawn: true, lodPoints, msPerPoint: (2 * LOD_SLOW_MS) / lodPoints,
    lodOn: false, lodIdx: null, lodSel: null, lodTimer: 0, noteText: "", ...over };
}

test("only a drawn, large pane whose next full frame would be slow takes the subsample", () => {
  assert.equal(wantsSubsample(pane()), true);
  assert.equal(wantsSubsample(pane({ lodPoints: LOD_MIN_POINTS })), false);
  assert.equal(wantsSubsample(pane({ msPerPoint: LOD_SLOW_MS / (2 * LOD_MIN_POINTS) })), false); // a fast GPU
  assert.equal(wantsSubsample(pane({ msPerPoint: 0 })), false); // not timed yet
  assert.equal(wantsSubsample(pane({ busy: true })), false);
  assert.equal(wantsSubsample(pane({ drawn: false })), false);
  // predicted, not measured: a pane timed at 400,000 points and now holding 4 million takes the
  // subsample before its first slow frame
  const grown = pane({ lodPoints: 4_000_000, msPerPoint: 40 / 400_000 });
  assert.equal(Math.round(predictedFrameMs(grown)), 400);
  assert.equal(wantsSubsample(grown), true);
});

test("the selection drawn while moving: all of a small one, an even sample of a large one", () => {
  const small = [4, 8, 15];
  assert.equal(selectionSample(small, 10), small);
  const large = Array.from({ length: 1000 }, (_, i) => 3 * i);
  const s = selectionSample(large, 100);
  assert.equal(s.length, 100);
  assert.deepEqual(s.slice(0, 3), [0, 30, 60]);
  assert.ok(s.every((v) => large.includes(v)));
});

test("moving draws the subsample from buffers made once; settling draws all points again", () => {
  const p = pane();
  const state = { selection: [1, 5], hovered: 3 };
  startMoving(p, state);
  assert.equal(p.lodOn, true);
  assert.equal(p.pane.dataset.moving, "1");
  const [[kind, idx, sel]] = p.sp.calls;
  assert.equal(kind, "setDetail");
  assert.deepEqual(idx, subsample(p.lodPoints, LOD_POINTS));
  assert.equal(sel, state.selection); // small: the selection itself
  assert.equal(noteText(p), `drawing ${LOD_POINTS.toLocaleString()} of ${p.lodPoints.toLocaleString()} points while moving`);
  assert.equal(p.note.style.display, "block");
  startMoving(p, state); // still moving: the same arrays again (the library keeps their buffers)
  assert.equal(p.sp.calls[1][1], idx);
  assert.equal(p.sp.calls[1][2], sel);
  state.selection = [2]; // a new selection while moving: its own array
  startMoving(p, state);
  assert.deepEqual(p.sp.calls[2][2], [2]);
  stopMoving(p, state);
  assert.equal(p.lodOn, false);
  assert.equal(p.pane.dataset.moving, undefined);
  // nothing selected again, nothing hovered again: those were never taken away
  assert.deepEqual(p.sp.calls.slice(3), [["setDetail", null]]);
  assert.equal(p.note.style.display, "none");
  clearTimeout(p.lodTimer);
});

test("a small pane never takes the subsample", () => {
  const p = pane({ lodPoints: 1000 });
  startMoving(p, { selection: [], hovered: -1 });
  stopMoving(p, { selection: [], hovered: -1 });
  assert.deepEqual(p.sp.calls, []);
  assert.equal(p.lodOn, false);
});

test("a still picture of a slow pane is drawn in chunks sized from the measured time per point", () => {
  const p = pane({ lodPoints: 4_000_000, msPerPoint: 0, msPerPointMax: 0 });
  // the first frame of all points, everything in view: 2.3 s (SwiftShader at 4 million)
  let [next, first] = frameDrawn(p, 2300, 4_000_000);
  assert.equal(p.msPerPoint, 2300 / 4_000_000);
  assert.equal(next, Math.floor(FRAME_BUDGET_MS / (2300 / 4_000_000)));
  assert.equal(first, next);
  // zoomed in, a chunk costs a quarter per point: the next chunk grows, a picture's first stays
  // sized for the costliest view seen (a new view may be that one)
  [next, first] = frameDrawn(p, 60, 400_000);
  assert.equal(next, Math.floor(FRAME_BUDGET_MS / (60 / 400_000)));
  assert.equal(first, Math.floor(FRAME_BUDGET_MS / (2300 / 4_000_000)));
  assert.ok(next * (60 / 400_000) <= FRAME_BUDGET_MS && first * (2300 / 4_000_000) <= FRAME_BUDGET_MS);
  // a frame of few points says little (a fixed cost per frame): the measure stays
  [next] = frameDrawn(p, 30, 1000);
  assert.equal(p.msPerPoint, 60 / 400_000);
  // both panes drawing their pictures in chunks share a frame's budget
  const [shared] = frameDrawn(p, 60, 400_000, 2);
  assert.equal(shared, Math.floor(FRAME_BUDGET_MS / 2 / (60 / 400_000)));
  // never thinner than the subsample drawn while moving, however slow
  assert.deepEqual(frameDrawn(p, 5000, 100_000), [LOD_POINTS, LOD_POINTS]);
});

test("small panes, fast ones and those not yet timed draw all points in one frame", () => {
  assert.deepEqual(frameDrawn(pane({ lodPoints: LOD_MIN_POINTS, msPerPoint: 0 }), 500, 300_000), [0, 0]);
  assert.deepEqual(frameDrawn(pane({ lodPoints: 0, msPerPoint: 0 }), 2000, 4_000_000), [0, 0]); // lines
  assert.deepEqual(frameDrawn(pane({ msPerPoint: 0 }), 10, 10), [0, 0]);
  // a fast GPU: all 4 million in 8 ms, one chunk larger than the pane
  const [next] = frameDrawn(pane({ lodPoints: 4_000_000, msPerPoint: 0 }), 8, 4_000_000);
  assert.ok(next > 4_000_000 * 1.25);
});
