// Unit tests of js/src/linking.js on a fake widget model and fake panes: the selection takes one
// path from a lasso or from Python; the hover is linked across the panes.
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { createLinking, HOVER_PLAY_DELAY_MS } from "../src/linking.js";
import { bitsOf, SEGMENT_NONE } from "../src/traits.js";
import { fakeModel, fakeScatterplot, traitBytes } from "./fake_model.mjs";

function setup({ n = 20, unlocked = false } = {}) {
  const model = fakeModel({ selected: new DataView(new ArrayBuffer(0)) });
  const panes = {
    left: { side: "left", sp: fakeScatterplot(), pane: { dataset: {} } },
    right: { side: "right", sp: fakeScatterplot(), pane: { dataset: {} } },
  };
  const state = {
    hovered: -1, hoverSide: "", playing: -1, hoverTimer: 0, selection: [],
    data: { n, track: new Uint32Array(n).map((_, i) => i % 3), segment: new Uint32Array(n).fill(SEGMENT_NONE) },
  };
  const played = [];
  const audio = { unlocked, playSegment: (track, segment) => played.push([track, segment]) };
  const root = { dataset: {} };
  const status = { textContent: "" };
  const labelled = [];
  const sent = [];
  const linking = createLinking({ model, panes, state, audio, root, status,
    showHover: (p) => labelled.push([p.side, state.hovered, state.hoverSide, state.playing]),
    sent: () => sent.push(model.callsOf("save_changes").length) });
  model.on("change:selected", linking.fromKernel);
  return { model, panes, state, audio, root, status, labelled, played, linking, sent };
}

const sentBits = (model) => model.callsOf("set").filter((c) => c[1] === "selected").map((c) => Array.from(new Uint8Array(c[2].buffer, c[2].byteOffset, c[2].byteLength)));

test("lasso -> the other pane, the counts and the selected trait", () => {
  const { model, panes, state, root, status, linking } = setup({ n: 20 });
  linking.fromPane("left", new Uint32Array([2, 9, 17]));
  assert.deepEqual(state.selection, [2, 9, 17]);
  assert.deepEqual(panes.left.sp.calls, []); // the lasso's own pane has it already
  const [[kind, given, opts]] = panes.right.sp.calls;
  assert.equal(kind, "select");
  assert.deepEqual(given, [2, 9, 17]);
  assert.notEqual(given, state.selection); // a copy: select() splices what it is given
  assert.deepEqual(opts, { preventEvent: true });
  assert.equal(panes.left.pane.dataset.selected, "3");
  assert.equal(panes.right.pane.dataset.selected, "3");
  assert.equal(root.dataset.selected, "3");
  assert.equal(status.textContent, "3 selected");
  assert.deepEqual(sentBits(model), [[0b100, 0b10, 0b10]]); // 3 bytes for 20 points
  assert.deepEqual(Array.from(bitsOf([2, 9, 17], 20)), [0b100, 0b10, 0b10]);
  assert.equal(model.callsOf("save_changes").length, 1);
});

test("a selection made here is announced once it has left for the kernel; Python's is not", () => {
  const { model, linking, sent } = setup({ n: 20 });
  linking.fromPane("left", [1, 2]);
  assert.deepEqual(sent, [1]); // after save_changes
  model.fromKernel("selected", traitBytes(bitsOf([4], 20)));
  assert.deepEqual(sent, [1]);
});

test("a deselect in a pane clears the other and sends no bytes", () => {
  const { model, panes, root, status, linking } = setup();
  linking.fromPane("right", new Uint32Array([1, 2]));
  linking.fromPane("right", []);
  assert.deepEqual(panes.left.sp.calls.map((c) => c[0]), ["select", "deselect"]);
  assert.deepEqual(panes.right.sp.calls, []);
  assert.deepEqual(sentBits(model), [[0b110, 0, 0], []]);
  assert.equal(status.textContent, "");
  assert.equal(root.dataset.selected, "0");
});

test("a selection from Python: both panes select it, nothing is sent back", () => {
  const { model, panes, state, root, status } = setup({ n: 12 });
  model.fromKernel("selected", traitBytes(bitsOf([0, 5, 11], 12)));
  assert.deepEqual(state.selection, [0, 5, 11]);
  for (const side of ["left", "right"]) {
    assert.deepEqual(panes[side].sp.calls, [["select", [0, 5, 11], { preventEvent: true }]]);
    assert.equal(panes[side].pane.dataset.selected, "3");
  }
  assert.equal(root.dataset.selected, "3");
  assert.equal(status.textContent, "3 selected");
  assert.equal(model.callsOf("set").length, 0);
  assert.equal(model.callsOf("save_changes").length, 0);
  // the same selection again (e.g. the echo of a lasso) changes nothing
  model.fromKernel("selected", traitBytes(bitsOf([0, 5, 11], 12)));
  assert.equal(panes.left.sp.calls.length, 1);
  // an empty selection deselects both panes
  model.fromKernel("selected", new DataView(new ArrayBuffer(0)));
  assert.deepEqual(panes.right.sp.calls.at(-1), ["deselect", { preventEvent: true }]);
  assert.deepEqual(state.selection, []);
});

test("a lasso's bits come back from Python as the same points", () => {
  const { model, panes, state, linking } = setup({ n: 30 });
  linking.fromPane("left", [3, 4, 29]);
  const [, , sent] = model.callsOf("set")[0];
  const before = panes.left.sp.calls.length + panes.right.sp.calls.length;
  model.fromKernel("selected", sent); // the kernel's echo
  assert.deepEqual(state.selection, [3, 4, 29]);
  assert.equal(panes.left.sp.calls.length + panes.right.sp.calls.length, before);
});

test("a lasso's points in the spatial index's order: the kernel's echo changes nothing", () => {
  const { model, panes, state, linking } = setup({ n: 30 });
  linking.fromPane("left", [29, 3, 17, 4]); // kdbush's order, not ascending
  const before = panes.left.sp.calls.length + panes.right.sp.calls.length;
  model.fromKernel("selected", traitBytes(bitsOf([3, 4, 17, 29], 30))); // the echo, a new buffer
  assert.deepEqual(state.selection, [29, 3, 17, 4]);
  assert.equal(panes.left.sp.calls.length + panes.right.sp.calls.length, before);
  // another selection from Python still applies
  model.fromKernel("selected", traitBytes(bitsOf([3, 4], 30)));
  assert.deepEqual(state.selection, [3, 4]);
});

test("hover: both panes show the point's label and marks, and no points are drawn again", () => {
  const { panes, state, root, labelled, played, linking } = setup();
  linking.hover("left", 7);
  assert.equal(state.hovered, 7);
  assert.equal(state.hoverSide, "left");
  // nothing asked of either scatterplot: a hover redraws no points
  assert.deepEqual(panes.right.sp.calls, []);
  assert.deepEqual(panes.left.sp.calls, []);
  assert.deepEqual(labelled, [["left", 7, "left", -1], ["right", 7, "left", -1]]);
  assert.equal(root.dataset.hovered, "7");
  linking.hover("right", -1);
  assert.deepEqual(labelled.slice(2), [["left", -1, "right", -1], ["right", -1, "right", -1]]);
  assert.deepEqual(panes.left.sp.calls, []);
  assert.equal(root.dataset.hovered, "-1");
  assert.deepEqual(played, []); // sound is off
});

test("the point playing is marked in both panes while the player plays", () => {
  const { state, labelled, played, linking } = setup({ n: 20 });
  linking.playPoint(8);
  assert.deepEqual(played, [[8 % 3, SEGMENT_NONE]]);
  assert.equal(state.playing, -1); // not yet: the clip is on its way
  linking.playing(true);
  assert.equal(state.playing, 8);
  assert.deepEqual(labelled.map((l) => [l[0], l[3]]), [["left", 8], ["right", 8]]);
  linking.playing(true); // playing on: no change, nothing redrawn
  assert.equal(labelled.length, 2);
  linking.playing(false);
  assert.equal(state.playing, -1);
  assert.equal(labelled.length, 4);
});

test("hover plays the point after a pause once sound is on, unless the pointer moved on", async () => {
  const { played, linking } = setup({ unlocked: true });
  linking.hover("left", 4);
  linking.hover("left", 5); // moved on: only 5 plays
  assert.deepEqual(played, []);
  await sleep(HOVER_PLAY_DELAY_MS + 50);
  assert.deepEqual(played, [[5 % 3, SEGMENT_NONE]]);
  linking.hover("left", 6);
  linking.hover("left", -1); // left the point before the pause ended
  await sleep(HOVER_PLAY_DELAY_MS + 50);
  assert.equal(played.length, 1);
});
