// Unit tests of js/src/marks.js: which marks a pane shows for the hovered and the playing point,
// and what is drawn for them on a (fake) 2-D canvas.
import assert from "node:assert/strict";
import { test } from "node:test";
import { drawMarks, HOVER_COLOR, marksFor, PLAYING_COLOR } from "../src/marks.js";
import { fakeContext2d } from "./fake_model.mjs";

const position = (i) => (i === 99 ? undefined : [10 * i, 20 * i]);

test("the pane the mouse is in marks the point, the other pane marks it linked", () => {
  const state = { hovered: 3, hoverSide: "left", playing: -1, position };
  assert.deepEqual(marksFor({ side: "left", ...state }), [{ kind: "hover", x: 30, y: 60 }]);
  assert.deepEqual(marksFor({ side: "right", ...state }), [{ kind: "linked", x: 30, y: 60 }]);
  assert.deepEqual(marksFor({ side: "right", ...state, hovered: -1 }), []);
  // a point the pane cannot place (not drawn yet) is not marked
  assert.deepEqual(marksFor({ side: "right", ...state, hovered: 99 }), []);
  // the playing point, under the hovered one
  assert.deepEqual(marksFor({ side: "right", ...state, playing: 2 }).map((m) => m.kind), ["playing", "linked"]);
});

test("drawing: cleared each time; a ring for the hovered point, a crosshair for the linked one", () => {
  const g = fakeContext2d();
  drawMarks(g, [], { width: 200, height: 100, scale: 2 });
  assert.deepEqual(g.calls, [["setTransform", 2, 0, 0, 2, 0, 0], ["clearRect", 0, 0, 200, 100]]);
  const hover = fakeContext2d();
  drawMarks(hover, [{ kind: "hover", x: 50, y: 40 }], { width: 200, height: 100 });
  const arcs = hover.calls.filter((c) => c[0] === "arc");
  assert.deepEqual(arcs.map((c) => c.slice(1, 4)), [[50, 40, 3.5], [50, 40, 7]]);
  assert.ok(hover.calls.some((c) => c[0] === "strokeStyle=" && c[1] === HOVER_COLOR));
  assert.equal(hover.calls.filter((c) => c[0] === "lineTo").length, 0); // no crosshair
  const linked = fakeContext2d();
  drawMarks(linked, [{ kind: "linked", x: 50, y: 40 }], { width: 200, height: 100 });
  const lines = linked.calls.filter((c) => c[0] === "lineTo").map((c) => c.slice(1));
  assert.deepEqual(lines, [[40, 40], [200, 40], [50, 30], [50, 100]]); // across the pane, open around it
  const playing = fakeContext2d();
  drawMarks(playing, [{ kind: "playing", x: 5, y: 6 }], { width: 200, height: 100 });
  assert.ok(playing.calls.some((c) => c[0] === "strokeStyle=" && c[1] === PLAYING_COLOR));
  assert.deepEqual(playing.calls.filter((c) => c[0] === "arc").map((c) => c.slice(1, 4)), [[5, 6, 11]]);
});
