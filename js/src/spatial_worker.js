// The Web Worker that builds a pane's spatial index off the main thread (see spatial.js): it
// receives {xy, n} (a copy of `<side>_xy`, transferred) and answers {data} (the index's buffer,
// transferred) or {error}.
import { spatialIndexOf } from "./spatial_index.js";

self.onmessage = ({ data: { xy, n } }) => {
  try {
    const data = spatialIndexOf(xy, n);
    self.postMessage({ data }, [data]);
  } catch (e) {
    self.postMessage({ error: String(e?.message ?? e) });
  }
};
