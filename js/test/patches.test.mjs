// Unit tests of js/patches.mjs: every change to regl-scatterplot applies to the pinned version,
// and one that no longer matches fails the build instead of changing nothing.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { PATCHES, patchScatterplot } from "../patches.mjs";

const source = await readFile(
  fileURLToPath(new URL("../node_modules/regl-scatterplot/dist/regl-scatterplot.esm.js", import.meta.url)),
  "utf8",
);

test("every patch matches the pinned regl-scatterplot as often as it expects", () => {
  const patched = patchScatterplot(source);
  for (const { find, replace, count = 1 } of PATCHES) {
    assert.equal(source.split(find).length - 1, count);
    assert.ok(patched.includes(replace));
  }
  // the hover no longer redraws: the mouse's point is published instead
  assert.ok(!patched.includes("hover(raycast())"));
  assert.ok(patched.includes("setDetail: eeSetDetail"));
  // a still picture may take several frames: each draws a chunk over the last one's picture
  assert.ok(patched.includes("eeDrawBodies(eeFrame);") && !patched.includes("        drawPointBodies();\n      }\n"));
  assert.ok(patched.includes("}, canvas, eeFrame.all ? undefined : eeFrame.first ? 'first' : 'more');"));
});

test("a patch that finds nothing stops the build, naming itself", () => {
  assert.throws(() => patchScatterplot(source.replace("miter = true,", "miter = true ,")),
    /plain line joins.*expects 1 match\(es\), found 0/);
});
