// Unit tests of js/src/scale.js: node --test js/test/ (run by tests/test_widget_js.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import { clipKey, clock, rowSpan, spanText } from "../src/scale.js";

function close(actual, expected) {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-9, `${actual} != ${expected}`));
}

test("clock writes m:ss", () => {
  assert.equal(clock(0), "0:00");
  assert.equal(clock(59.9), "0:59");
  assert.equal(clock(61), "1:01");
  assert.equal(clock(3600), "60:00");
});

test("a segment spans k * hop to k * hop + length", () => {
  close(rowSpan(2, 2.992, 2.992, 100), [5.984, 8.976]);
  close(rowSpan(3, 0.96, 0.48, 100), [1.44, 2.4]); // overlapping segments
  assert.equal(spanText(20, 2.992, 2.992, 100), "0:59–1:02");
});

test("the last window ends with the track", () => {
  assert.deepEqual(rowSpan(3, 10, 10, 34.5), [30, 34.5]);
  assert.equal(spanText(3, 10, 10, 34.5), "0:30–0:34");
  assert.deepEqual(rowSpan(3, 10, 10, NaN), [30, 40]); // duration unknown
  assert.deepEqual(rowSpan(3, 10, 10, undefined), [30, 40]);
});

test("a row of length 0 is the whole track", () => {
  assert.equal(rowSpan(0, 0, 0, 200), null);
  assert.equal(spanText(0, 0, 0, 200), "whole track");
});

test("clips of another time scale have other keys", () => {
  const native = clipKey(4, 0, null, 2.992, 2.992);
  assert.notEqual(native, clipKey(4, 0, null, 10, 10));
  assert.notEqual(native, clipKey(4, 0, null, 0, 0));
  assert.notEqual(native, clipKey(4, 0, 0, 2.992, 2.992)); // "play on" from there
  assert.notEqual(clipKey(1, 23, null, 1, 1), clipKey(12, 3, null, 1, 1));
  assert.equal(native, clipKey(4, 0, undefined, 2.992, 2.992));
});
