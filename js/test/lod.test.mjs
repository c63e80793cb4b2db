// Unit tests of js/src/lod.js: which pane draws a subsample while moving, and which one.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  LOD_MIN_POINTS, LOD_POINTS, LOD_SLOW_MS, noteText, startMoving, stopMoving, subsample, wantsSubsample,
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
  return { sp: fakeScatterplot(), pane: { dataset: {} }, note: { textContent: "", style: {} },
    busy: false, drawn: true, lodPoints: 2 * LOD_MIN_POINTS, frameMs: 2 * LOD_SLOW_MS,
    lodOn: false, lodIdx: null, lodTimer: 0, noteText: "", ...over };
}

test("only a drawn, large pane that draws slowly takes the subsample", () => {
  assert.equal(wantsSubsample(pane()), true);
  assert.equal(wantsSubsample(pane({ lodPoints: LOD_MIN_POINTS })), false);
  assert.equal(wantsSubsample(pane({ frameMs: LOD_SLOW_MS })), false); // a fast GPU
  assert.equal(wantsSubsample(pane({ frameMs: NaN })), false); // not timed yet
  assert.equal(wantsSubsample(pane({ busy: true })), false);
  assert.equal(wantsSubsample(pane({ drawn: false })), false);
});

test("moving filters to the subsample; settling draws all points with the selection again", () => {
  const p = pane();
  const state = { selection: [1, 5], hovered: 3 };
  startMoving(p, state);
  assert.equal(p.lodOn, true);
  assert.equal(p.pane.dataset.moving, "1");
  const [[kind, idx, opts]] = p.sp.calls;
  assert.equal(kind, "filter");
  assert.deepEqual(idx, subsample(p.lodPoints, LOD_POINTS));
  assert.deepEqual(opts, { preventEvent: true });
  assert.equal(noteText(p), `drawing ${LOD_POINTS.toLocaleString()} of ${p.lodPoints.toLocaleString()} points while moving`);
  assert.equal(p.note.style.display, "block");
  startMoving(p, state); // still moving: no second filter
  assert.equal(p.sp.calls.length, 1);
  stopMoving(p, state);
  assert.equal(p.lodOn, false);
  assert.equal(p.pane.dataset.moving, undefined);
  assert.deepEqual(p.sp.calls.slice(1), [
    ["unfilter", { preventEvent: true }],
    ["select", [1, 5], { preventEvent: true }],
    ["hover", 3, { preventEvent: true }],
  ]);
  assert.notEqual(p.sp.calls[2][1], state.selection); // a copy
  assert.equal(p.note.style.display, "none");
});

test("a small pane never filters", () => {
  const p = pane({ lodPoints: 1000 });
  startMoving(p, { selection: [], hovered: -1 });
  stopMoving(p, { selection: [], hovered: -1 });
  assert.deepEqual(p.sp.calls, []);
  assert.equal(p.lodOn, false);
});
