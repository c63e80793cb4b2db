// Decoding the synced traits: the frontend's half of the layout table in
// src/embedexplore/widget.py. Arrays arrive as little-endian DataViews over the message's bytes
// and are wrapped as typed arrays without copying (copied only when the buffer is not aligned
// for the type, which the typed-array constructors require). Pure: no DOM, no WebGL.
import { spanText } from "./scale.js";

/**
 * The synced traits, as `model.get(name)` gives them (DataViews for the arrays).
 * @typedef {Object} Traits
 * @property {number} n_points
 * @property {DataView} point_track   uint32[n]
 * @property {DataView} point_segment uint32[n]: row k of its track (0xFFFFFFFF: a track average)
 * @property {string[]} track_labels
 * @property {DataView} track_durations float32[tracks]
 * @property {number} segment_seconds  a row's length (0: whole tracks)
 * @property {number} hop_seconds      from one row's start to the next
 * @property {string} scale_note       why the panes show windows, or ""
 * @property {DataView} left_xy       uint16[2n]: x then y, q for q / XY_SCALE - 1 (same for right_xy)
 * @property {DataView} left_tags     uint8[3n] (same for right_tags)
 * @property {string[]} left_tag_names
 * @property {string} left_title
 * @property {string} left_status    what the pane says over its points (progress, an error), or ""
 * @property {boolean} left_computing its projection computes in the kernel: no points until done
 * @property {number} left_progress   the share of it done, 0 to 1 (-1: the method does not say)
 * @property {DataView} color_codes   uint16[n]
 * @property {{label: string, color: string, count?: number, low?: number, high?: number}[]} legend
 * @property {"categorical"|"continuous"} color_kind
 * @property {DataView} point_weight  float32[n] or empty
 * @property {DataView} highlighted   uint8[n] or empty
 * @property {DataView} selected      bits[n] (bit i % 8 of byte i / 8), both ways
 * @property {Object} options         menus: models ([name, title]), layers, tags, time_scales, ...
 * @property {Object} left            {model, layer, projection, x_tag, y_tag}
 * @property {string} color_by
 * @property {string} view
 * @property {string} time_scale      "native", "10", "30" or "track"
 * @property {number} every
 * @property {Object} music
 * @property {Object} highlight
 * @property {number} height
 */

/** `point_segment` of a track average (src/embedexplore/widget.py's SEGMENT_NONE). */
export const SEGMENT_NONE = 0xffffffff;
/** The panes, as the traits name them (`left_xy`, `right_xy`, ...). */
export const SIDES = ["left", "right"];
/**
 * `<side>_xy` holds each coordinate in [-1, 1] as q = round((v + 1) * XY_SCALE), a uint16
 * (src/embedexplore/widget.py's encode_xy): v = q / XY_SCALE - 1, within 1.6e-5 of the
 * kernel's value, a 30th of a pixel on a pane 4,000 pixels wide.
 */
export const XY_SCALE = 32767.5;

/**
 * A typed array of `Type` over the DataView `dv`, at most `count` items and never past the
 * buffer: between two messages a column may still have its old length, which the callers detect
 * (and redraw once the new column arrives). An empty or missing trait gives an empty array.
 */
export function typed(Type, dv, count) {
  if (!dv || !dv.byteLength) return new Type(0);
  const n = Math.min(count ?? Infinity, Math.floor(dv.byteLength / Type.BYTES_PER_ELEMENT));
  if (dv.byteOffset % Type.BYTES_PER_ELEMENT === 0) return new Type(dv.buffer, dv.byteOffset, n);
  return new Type(dv.buffer.slice(dv.byteOffset, dv.byteOffset + n * Type.BYTES_PER_ELEMENT));
}

/** The `selected` trait's bits for point indices: bit i % 8 of byte i / 8, ceil(n / 8) bytes. */
export function bitsOf(indices, n) {
  const bytes = new Uint8Array(Math.ceil(n / 8));
  for (const i of indices) bytes[i >> 3] |= 1 << (i & 7);
  return bytes;
}

/** The point indices (ascending) whose bit is set, of the first `n`. */
export function indicesOf(bits, n) {
  const out = [];
  for (let i = 0; i < n; i++) if (bits[i >> 3] & (1 << (i & 7))) out.push(i);
  return out;
}

/**
 * The columns shared by both panes.
 * @returns {{n: number, track: Uint32Array, segment: Uint32Array, codes: Uint16Array,
 *   weight: Float32Array, highlighted: Uint8Array, durations: Float32Array}}
 */
export function readPoints(model) {
  const n = model.get("n_points");
  return {
    n,
    track: typed(Uint32Array, model.get("point_track"), n),
    segment: typed(Uint32Array, model.get("point_segment"), n),
    codes: typed(Uint16Array, model.get("color_codes"), n),
    weight: typed(Float32Array, model.get("point_weight")),
    highlighted: typed(Uint8Array, model.get("highlighted")),
    durations: typed(Float32Array, model.get("track_durations")),
  };
}

/**
 * A pane's `<side>_xy`: uint16[2n], x then y (shorter while a new column is on its way), as it
 * arrived: points.js and spatial_index.js decode each coordinate where they read it.
 */
export function paneXY(model, side, n) {
  return typed(Uint16Array, model.get(`${side}_xy`), 2 * n);
}

/** The point indices of the `selected` trait, of the first `n` points. */
export function selectedIndices(model, n) {
  const bits = typed(Uint8Array, model.get("selected"));
  return bits.length ? indicesOf(bits, n) : [];
}

/** The value of the `selected` trait for point indices (no bytes for no selection). */
export function selectionTrait(indices, n) {
  const bits = indices.length ? bitsOf(indices, n) : new Uint8Array(0);
  return new DataView(bits.buffer);
}

/** A point's label: its track's name and the row's time ("0:10–0:20" or "whole track"). */
export function pointLabel(model, data, i) {
  const names = model.get("track_labels");
  const seg = data.segment[i];
  const when = seg === SEGMENT_NONE ? "whole track" : spanText(seg, model.get("segment_seconds"),
    model.get("hop_seconds"), data.durations[data.track[i]]);
  return { title: names[data.track[i]] ?? "?", when };
}

/** A point's three strongest tags in a pane (`<side>_tags` into `<side>_tag_names`), or "". */
export function pointTags(model, side, i) {
  const names = model.get(`${side}_tag_names`);
  const tags = typed(Uint8Array, model.get(`${side}_tags`));
  if (!names.length || tags.length < 3 * (i + 1)) return "";
  return [0, 1, 2].map((j) => names[tags[3 * i + j]]).join(", ");
}
