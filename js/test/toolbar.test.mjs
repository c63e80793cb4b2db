// Unit tests of js/src/toolbar.js's pure part: what a pane's header menus write.
import assert from "node:assert/strict";
import { test } from "node:test";
import { nextPaneSpec } from "../src/toolbar.js";

const options = {
  layers: { "musicnn-msd": ["embeddings", "penultimate", "taggram"], "vggish": ["fc1", "fc2"] },
  tags: { "musicnn-msd": ["rock", "jazz"] },
};
const spec = { model: "musicnn-msd", layer: "penultimate", projection: "tags", x_tag: "rock", y_tag: "jazz" };

test("another layer or projection changes only that key", () => {
  assert.deepEqual(nextPaneSpec(spec, "layer", "taggram", options), { ...spec, layer: "taggram" });
  assert.deepEqual(nextPaneSpec(spec, "x_tag", "jazz", options), { ...spec, x_tag: "jazz" });
  assert.equal(spec.layer, "penultimate"); // not changed in place
});

test("another model: its own layer, no tag projection without tags, no tag axes", () => {
  assert.deepEqual(nextPaneSpec(spec, "model", "vggish", options),
    { model: "vggish", layer: "fc1", projection: "pca", x_tag: "", y_tag: "" });
  const umap = { ...spec, model: "vggish", layer: "fc2", projection: "umap" };
  assert.deepEqual(nextPaneSpec(umap, "model", "musicnn-msd", options),
    { model: "musicnn-msd", layer: "embeddings", projection: "umap", x_tag: "", y_tag: "" });
  const kept = nextPaneSpec({ ...spec, layer: "taggram" }, "model", "musicnn-msd", options);
  assert.equal(kept.layer, "taggram");
  assert.equal(kept.projection, "tags");
});
