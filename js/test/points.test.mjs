// Unit tests of js/src/points.js and js/src/spatial_index.js: a pane's rows read from the
// traits' columns (no copies), the state texture filled from them, and the spatial index.
import assert from "node:assert/strict";
import { test } from "node:test";
import KDBush from "kdbush";
import { colorIndex, paneRows } from "../src/points.js";
import { spatialIndexOf } from "../src/spatial_index.js";
import { XY_SCALE } from "../src/traits.js";
import { encodeXY } from "./fake_model.mjs";

const near = (a, b) => Math.abs(a - b) <= 1.6e-5;

test("a point's colour: its code, dimmed (+k) where others are highlighted", () => {
  const codes = new Uint16Array([0, 1, 2, 1]);
  const all = (f) => [0, 1, 2, 3].map(f);
  assert.deepEqual(all(colorIndex(codes, new Uint8Array(0), 3, 4)), [0, 1, 2, 1]);
  assert.deepEqual(all(colorIndex(codes, new Uint8Array([1, 0, 0, 1]), 3, 4)), [0, 4, 5, 1]);
  // a highlight column of another length (the old points) highlights nothing
  assert.deepEqual(all(colorIndex(codes, new Uint8Array([1, 0]), 3, 4)), [0, 1, 2, 1]);
});

function threePoints(over = {}) {
  return paneRows({ xy: encodeXY([[0.5, -0.5], [-1, 1], [0, 0.25]]), n: 3,
    codes: new Uint16Array([2, 0, 1]), highlighted: new Uint8Array([0, 1, 0]), k: 3,
    weight: new Float32Array([0.25, 0.5, 1]), ...over });
}

test("rows: an Array to regl-scatterplot, each row made from the columns when read", () => {
  const rows = threePoints();
  assert.ok(Array.isArray(rows)); // the library takes Arrays as they are, without converting
  assert.equal(rows.length, 3);
  const [x, y, z, w] = rows[0];
  assert.ok(near(x, 0.5) && near(y, -0.5));
  assert.deepEqual([z, w], [2 + 3, 0.25]); // dimmed: another point is highlighted
  assert.deepEqual(rows[1].slice(2), [0, 0.5]);
  assert.ok(near(rows[1][0], -1) && near(rows[1][1], 1));
  assert.equal(rows[3], undefined); // past the end, as an Array
  assert.equal(rows[-1], undefined);
  assert.equal(rows.length, 3);
  // no weight column (its length is not n): 0
  assert.equal(threePoints({ weight: new Float32Array(0) })[2][3], 0);
});

test("fillState writes [x, y, colour, size] per point into the library's texture data", () => {
  const rows = threePoints();
  const data = new Float32Array(4 * 4).fill(-9); // the texture is square: room past n
  rows.fillState(data);
  for (let i = 0; i < 3; i++) {
    const row = rows[i];
    for (let j = 0; j < 4; j++) assert.equal(data[4 * i + j], Math.fround(row[j]));
  }
  assert.deepEqual(Array.from(data.subarray(12)), [-9, -9, -9, -9]); // untouched
});

test("the spatial index: KDBush's format, float32, finds the points where the rows put them", () => {
  const n = 2000;
  const pts = Array.from({ length: n }, (_, i) => [Math.sin(i) * 0.9, Math.cos(i * 1.7) * 0.9]);
  const xy = encodeXY(pts);
  const buffer = spatialIndexOf(xy, n);
  assert.ok(buffer instanceof ArrayBuffer);
  const index = KDBush.from(buffer);
  assert.equal(index.numItems, n);
  assert.equal(index.coords.constructor, Float32Array);
  const found = index.range(-0.1, -0.1, 0.1, 0.1).sort((a, b) => a - b);
  const expected = [];
  for (let i = 0; i < n; i++) {
    const x = xy[i] / XY_SCALE - 1;
    const y = xy[n + i] / XY_SCALE - 1;
    if (Math.fround(x) >= Math.fround(-0.1) && Math.fround(x) <= Math.fround(0.1)
      && Math.fround(y) >= Math.fround(-0.1) && Math.fround(y) <= Math.fround(0.1)) expected.push(i);
  }
  assert.ok(expected.length > 5);
  assert.deepEqual(found, expected);
  // an empty pane has an empty index
  assert.equal(KDBush.from(spatialIndexOf(new Uint16Array(0), 0)).numItems, 0);
});

test("eeXY: a point's coordinates written into the array given, as its row has them", () => {
  const rows = threePoints();
  const out = [9, 9];
  for (let i = 0; i < 3; i++) {
    assert.equal(rows.eeXY(i, out), out); // no new array per point (a lasso tests millions)
    assert.deepEqual(out, rows[i].slice(0, 2));
  }
  assert.ok(near(out[0], 0) && near(out[1], 0.25));
});
