// Unit tests of js/src/legend.js: the points' colours and what the legend shows.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DIM_ALPHA, legendColors, legendView, NO_LEGEND_COLOR, rgba } from "../src/legend.js";

test("rgba() turns #rrggbb into 0..1 channels", () => {
  assert.deepEqual(rgba("#ff8000", 1), [1, 128 / 255, 0, 1]);
  assert.deepEqual(rgba("#000000", 0.5), [0, 0, 0, 0.5]);
});

test("the colour list: the legend's colours, then the same dimmed", () => {
  const { k, list } = legendColors([{ label: "a", color: "#ff0000" }, { label: "b", color: "#0000ff" }]);
  assert.equal(k, 2);
  assert.deepEqual(list, [[1, 0, 0, 1], [0, 0, 1, 1], [1, 0, 0, DIM_ALPHA], [0, 0, 1, DIM_ALPHA]]);
  assert.deepEqual(legendColors([]), { k: 0, list: [NO_LEGEND_COLOR] });
});

test("a categorical legend: one key per entry, with its count", () => {
  const view = legendView([{ label: "rock", color: "#aa0000", count: 12 }, { label: "jazz", color: "#00aa00" }], "categorical");
  assert.deepEqual(view, { keys: [
    { label: "rock", color: "#aa0000", title: "12 points" },
    { label: "jazz", color: "#00aa00", title: "" },
  ] });
  assert.deepEqual(legendView([], "continuous"), { keys: [] });
});

test("a continuous legend: a ramp through the entries' colours, low to high", () => {
  const entries = [
    { label: "tag: rock", color: "#000000", low: 0.0123, high: 0.9876 },
    { label: "", color: "#808080" },
    { label: "", color: "#ffffff" },
  ];
  assert.deepEqual(legendView(entries, "continuous"), { ramp: {
    label: "tag: rock", low: "0.01", high: "0.99",
    background: "linear-gradient(to right, #000000, #808080, #ffffff)",
  } });
});
