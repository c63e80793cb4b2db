// Unit tests of js/src/traits.js: the binary traits (layout table in src/embedexplore/widget.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bitsOf, indicesOf, paneXY, pointLabel, pointTags, readPoints, SEGMENT_NONE, selectedIndices,
  selectionTrait, typed, XY_SCALE,
} from "../src/traits.js";
import { encodeXY, fakeModel, traitBytes } from "./fake_model.mjs";

test("typed() reads little-endian columns without copying an aligned buffer", () => {
  const bytes = new Uint8Array([1, 0, 0, 0, 0x00, 0x01, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  const dv = new DataView(bytes.buffer);
  const col = typed(Uint32Array, dv);
  assert.deepEqual(Array.from(col), [1, 256, 0xffffffff]);
  assert.equal(col.buffer, bytes.buffer); // a view, not a copy
  bytes[0] = 7;
  assert.equal(col[0], 7);
});

test("typed() copies a buffer that is not aligned for the type", () => {
  const bytes = new Uint8Array(9);
  const dv = new DataView(bytes.buffer, 1, 8); // offset 1: a Float32Array cannot view it
  dv.setFloat32(0, 1.5, true);
  dv.setFloat32(4, -2.25, true);
  const col = typed(Float32Array, dv);
  assert.deepEqual(Array.from(col), [1.5, -2.25]);
  assert.notEqual(col.buffer, bytes.buffer);
});

test("typed() stops at the count and at the buffer's end, and reads nothing as empty", () => {
  const dv = traitBytes(new Uint16Array([10, 20, 30, 40]));
  assert.deepEqual(Array.from(typed(Uint16Array, dv, 2)), [10, 20]);
  // a column still of the previous, shorter length: never read past it
  assert.deepEqual(Array.from(typed(Uint16Array, dv, 10)), [10, 20, 30, 40]);
  const odd = new DataView(new ArrayBuffer(5)); // 5 bytes: two whole uint16
  assert.equal(typed(Uint16Array, odd).length, 2);
  for (const empty of [undefined, null, new DataView(new ArrayBuffer(0))]) {
    const col = typed(Float32Array, empty, 3);
    assert.ok(col instanceof Float32Array);
    assert.equal(col.length, 0);
  }
});

test("selection bits: bit i % 8 of byte i / 8, both ways", () => {
  const bits = bitsOf([0, 3, 8, 9], 10);
  assert.deepEqual(Array.from(bits), [0b00001001, 0b00000011]);
  assert.equal(bitsOf([], 17).length, 3); // ceil(n / 8) bytes
  assert.deepEqual(indicesOf(new Uint8Array([0b10000001, 0b00000100]), 16), [0, 7, 10]);
  // bits past n (padding) are not points
  assert.deepEqual(indicesOf(new Uint8Array([0xff]), 3), [0, 1, 2]);
  // a shorter buffer (an old selection): the points past it are not selected
  assert.deepEqual(indicesOf(new Uint8Array([0b10]), 20), [1]);
});

test("selection bits round-trip for a random selection", () => {
  const n = 1003;
  const chosen = [];
  for (let i = 0; i < n; i++) if ((i * 7919) % 13 < 4) chosen.push(i);
  assert.deepEqual(indicesOf(bitsOf(chosen, n), n), chosen);
  assert.deepEqual(indicesOf(bitsOf([n - 1], n), n), [n - 1]);
});

test("the selected trait: a DataView of the bits, no bytes for no selection", () => {
  const dv = selectionTrait([1, 2, 12], 13);
  assert.ok(dv instanceof DataView);
  assert.deepEqual(Array.from(new Uint8Array(dv.buffer)), [0b110, 0b10000]);
  assert.equal(selectionTrait([], 13).byteLength, 0);
  const model = fakeModel({ selected: dv });
  assert.deepEqual(selectedIndices(model, 13), [1, 2, 12]);
  assert.deepEqual(selectedIndices(fakeModel({ selected: new DataView(new ArrayBuffer(0)) }), 13), []);
});

function collection() {
  // three points: track 0 rows 0 and 1, track 1 as a whole (a track average)
  return fakeModel({
    n_points: 3,
    point_track: traitBytes(new Uint32Array([0, 0, 1])),
    point_segment: traitBytes(new Uint32Array([0, 1, SEGMENT_NONE])),
    color_codes: traitBytes(new Uint16Array([2, 0, 1])),
    point_weight: traitBytes(new Float32Array([0.5, 1, 0])),
    highlighted: new DataView(new ArrayBuffer(0)),
    track_durations: traitBytes(new Float32Array([15, 200])),
    track_labels: ["Artist – Song", "Other – Tune"],
    segment_seconds: 10,
    hop_seconds: 10,
    left_xy: traitBytes(encodeXY([[0.1, -0.1], [0.2, -0.2], [0.3, -0.3]])),
    right_xy: traitBytes(encodeXY([[0.1, 0.2]])), // the old, shorter column
    left_tag_names: ["rock", "jazz", "pop"],
    left_tags: traitBytes(new Uint8Array([0, 1, 2, 2, 1, 0, 1, 1, 1])),
    right_tag_names: [],
    right_tags: new DataView(new ArrayBuffer(0)),
  });
}

test("readPoints() decodes the shared columns", () => {
  const d = readPoints(collection());
  assert.equal(d.n, 3);
  assert.deepEqual(Array.from(d.track), [0, 0, 1]);
  assert.deepEqual(Array.from(d.segment), [0, 1, SEGMENT_NONE]);
  assert.deepEqual(Array.from(d.codes), [2, 0, 1]);
  assert.deepEqual(Array.from(d.weight), [0.5, 1, 0]);
  assert.equal(d.highlighted.length, 0);
  assert.deepEqual(Array.from(d.durations), [15, 200]);
});

test("paneXY() gives x then y, shorter while the new column is on its way", () => {
  const model = collection();
  const xy = paneXY(model, "left", 3);
  assert.ok(xy instanceof Uint16Array); // as it arrived: decoded where it is read
  const v = Array.from(xy, (q) => q / XY_SCALE - 1);
  [0.1, 0.2, 0.3, -0.1, -0.2, -0.3].forEach((want, i) => assert.ok(Math.abs(v[i] - want) <= 1.6e-5, `${v[i]} ${want}`));
  assert.equal(paneXY(model, "right", 3).length, 2);
});

test("a point's label: its track, the row's time cut at the track's end, or the whole track", () => {
  const model = collection();
  const d = readPoints(model);
  assert.deepEqual(pointLabel(model, d, 0), { title: "Artist – Song", when: "0:00–0:10" });
  assert.deepEqual(pointLabel(model, d, 1), { title: "Artist – Song", when: "0:10–0:15" });
  assert.deepEqual(pointLabel(model, d, 2), { title: "Other – Tune", when: "whole track" });
});

test("a point's tags: three names from the pane's own list, or none", () => {
  const model = collection();
  assert.equal(pointTags(model, "left", 0), "rock, jazz, pop");
  assert.equal(pointTags(model, "left", 1), "pop, jazz, rock");
  assert.equal(pointTags(model, "left", 3), ""); // past the column
  assert.equal(pointTags(model, "right", 0), ""); // no tags in this pane
});
