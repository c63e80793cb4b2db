// A pane's points as regl-scatterplot takes them, read from the traits' columns where they lie:
// no copy of the coordinates, colours or sizes. regl-scatterplot wants an Array of [x, y, z, w]
// per point (it turns columns into one); at 4 million points those arrays were about 700 MB of
// heap per pane and seconds to make. paneRows() gives an Array-like that makes a point's row
// when it is read (the few the library reads: under the mouse, in a lasso, a label's position),
// and fills the library's state texture straight from the columns (js/patches.mjs). Pure: no
// DOM, no WebGL.
import { XY_SCALE } from "./traits.js";

/**
 * Each point's index into legend.js's legendColors(): its `color_codes` entry, plus k where
 * something is `highlighted` (uint8[n]; any other length: nothing is) and the point is not.
 * @returns {(i: number) => number}
 */
export function colorIndex(codes, highlighted, k, n) {
  const hl = highlighted.length === n ? highlighted : null;
  return hl ? (i) => codes[i] + (hl[i] ? 0 : k) : (i) => codes[i];
}

/**
 * The rows regl-scatterplot draws: `rows[i]` is [x, y, colour index, size] of point i, made
 * when read; `rows.length` is n; Array.isArray(rows) holds (the library takes Arrays as they
 * are); `rows.fillState(data)` writes all of them into a Float32Array of 4 per point, and
 * `rows.eeXY(i, out)` a point's [x, y] into `out`.
 *
 * @param {Object} o
 * @param {Uint16Array} o.xy         `<side>_xy` (x then y, 2n)
 * @param {number} o.n
 * @param {Uint16Array} o.codes      `color_codes`
 * @param {Uint8Array} o.highlighted `highlighted` (any length but n: nothing highlighted)
 * @param {number} o.k               the legend's number of entries
 * @param {Float32Array} o.weight    `point_weight` (any length but n: 0)
 */
export function paneRows({ xy, n, codes, highlighted, k, weight }) {
  const z = colorIndex(codes, highlighted, k, n);
  const w = weight.length === n ? weight : null;
  const row = (i) => [xy[i] / XY_SCALE - 1, xy[n + i] / XY_SCALE - 1, z(i), w ? w[i] : 0];
  function fillState(data) {
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      data[j] = xy[i] / XY_SCALE - 1;
      data[j + 1] = xy[n + i] / XY_SCALE - 1;
      data[j + 2] = z(i);
      data[j + 3] = w ? w[i] : 0;
    }
  }
  /** Point i's [x, y] written into `out` (a lasso's test of a million points makes no rows). */
  function eeXY(i, out) {
    out[0] = xy[i] / XY_SCALE - 1;
    out[1] = xy[n + i] / XY_SCALE - 1;
    return out;
  }
  return new Proxy([], {
    get(target, key) {
      if (typeof key === "string") {
        if (key === "length") return n;
        if (key === "fillState") return fillState;
        if (key === "eeXY") return eeXY;
        const i = Number(key);
        if (Number.isInteger(i) && i >= 0 && i < n && key !== "") return row(i);
        if (Number.isInteger(i)) return undefined; // past the end, as an Array
      }
      return Reflect.get(target, key);
    },
  });
}
