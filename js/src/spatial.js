// A pane's spatial index, built in a Web Worker for large panes so that the page stays live
// while it is made (about a second at 4 million points); regl-scatterplot takes it ready-made
// (pane.js) instead of sending the worker one JavaScript array per point. Where a page allows no
// workers from Blob URLs (a strict content security policy), the main thread builds it.
import workerSource from "./spatial_worker.js?worker";
import { spatialIndexOf } from "./spatial_index.js";

/** Below this many points the index is built on the main thread (a worker costs ~30 ms). */
export const WORKER_MIN_POINTS = 100_000;

/** The index of no points: what a pane draws with until its own is built. */
export const EMPTY_INDEX = spatialIndexOf(new Uint16Array(0), 0);

let workerUrl = null;

/** The KDBush buffer of the n points of `xy` (uint16, x then y), built off the main thread. */
export function buildSpatialIndex(xy, n) {
  if (n < WORKER_MIN_POINTS) return Promise.resolve(spatialIndexOf(xy, n));
  return new Promise((resolve, reject) => {
    const here = () => {
      try {
        resolve(spatialIndexOf(xy, n));
      } catch (e) {
        reject(e);
      }
    };
    let worker;
    try {
      workerUrl ??= URL.createObjectURL(new Blob([workerSource], { type: "text/javascript" }));
      worker = new Worker(workerUrl, { name: "embedexplore spatial index" });
    } catch {
      here();
      return;
    }
    worker.onmessage = ({ data }) => {
      worker.terminate();
      if (data.error) reject(new Error(data.error));
      else resolve(data.data);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      worker.terminate();
      here(); // the worker could not start (refused by the page's policy)
    };
    const copy = xy.slice(0, 2 * n); // the trait's buffer stays with the model
    worker.postMessage({ xy: copy, n }, [copy.buffer]);
  });
}
