// The times of the rows the panes show (segments, windows or whole tracks): the frontend's half of
// src/embedexplore/_explorer_scale.py. Row k of a track spans [k * hop, k * hop + length), cut at
// the track's end; a length of 0 means the row is the whole track. Only labels and the audio
// cache use them: the kernel cuts each clip from its own table of rows.

/** Seconds as m:ss. */
export function clock(seconds) {
  const m = Math.floor(seconds / 60);
  const s = Math.floor(seconds % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
}

/**
 * [start, end] in seconds of row `k` of a track, or null for a whole track (`length` 0).
 * `duration` (NaN or undefined: unknown) cuts the last window.
 */
export function rowSpan(k, length, hop, duration) {
  if (!(length > 0)) return null;
  const start = k * hop;
  const end = start + length;
  return [start, Number.isFinite(duration) && duration > start ? Math.min(end, duration) : end];
}

/** The row's time in the track for a label: "0:10–0:20", or "whole track". */
export function spanText(k, length, hop, duration) {
  const span = rowSpan(k, length, hop, duration);
  return span ? `${clock(span[0])}–${clock(span[1])}` : "whole track";
}

/**
 * The audio cache's key of a clip: the same track and row index are another span at another
 * time scale, so the rows' length and hop are part of it.
 */
export function clipKey(track, segment, chunk, length, hop) {
  return `${length}/${hop}:${track}:${segment}:${chunk ?? ""}`;
}
