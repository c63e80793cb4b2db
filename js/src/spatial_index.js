// The spatial index of a pane's points (KDBush, the format regl-scatterplot reads with
// `draw(points, {spatialIndex})`), made from `<side>_xy` as it arrived. Used in the worker
// (spatial_worker.js) and, for small panes, on the main thread (spatial.js). Pure.
import KDBush from "kdbush";
import { XY_SCALE } from "./traits.js";

/** Points per leaf: KDBush's default, a little faster to build than regl-scatterplot's 16. */
export const NODE_SIZE = 64;

/** The KDBush index of the n points of `xy` (uint16, x then y), as its ArrayBuffer. */
export function spatialIndexOf(xy, n) {
  // float32 coordinates: half the memory of KDBush's default float64, and exact enough for
  // positions that came as 16-bit integers
  const index = new KDBush(n, NODE_SIZE, Float32Array);
  for (let i = 0; i < n; i++) index.add(xy[i] / XY_SCALE - 1, xy[n + i] / XY_SCALE - 1);
  index.finish();
  return index.data;
}
