"""How rows line up with tracks and time: a grid of rows (segments of a clock, or windows),
the segments table it gives, per-track statistics over it, and windows of several clocks.

Used by :mod:`embedexplore.embeddings` (each clock of a store is one grid) and by its windows
view (:meth:`Embeddings.windows <embedexplore.embeddings.Embeddings.windows>`).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd

from ._embedding_types import TrackAggregate
from ._text import text_index
from .clock import Clock

#: Rows read at a time by the statistics over tracks and windows (bounded memory).
BLOCK_ROWS = 65536


class Grid:
    """Rows of consecutive tracks: ``n[i]`` rows for track ``i``, from row ``first[i]``; row
    ``r`` of a track spans ``[start, end)`` seconds.

    Parameters
    ----------
    ids : list of str
        The tracks, in row order.
    n : numpy.ndarray
        ``int64`` rows per track.
    clock : embedexplore.clock.Clock, optional
        Rows are its segments: row ``k`` of a track spans the clock's segment ``k``.
    index : numpy.ndarray, optional
        Else the row's index within its track (a window's ``k``), ``int64`` per row...
    start, end : numpy.ndarray, optional
        ... and its times in seconds, ``float64`` per row.
    """

    def __init__(self, ids, n, *, clock: Clock | None = None, index=None, start=None, end=None):
        self.ids = list(ids)
        self.n = np.asarray(n, np.int64)
        self.first = (
            np.concatenate([[0], np.cumsum(self.n)])[:-1] if len(self.n) else np.zeros(0, np.int64)
        ).astype(np.int64)
        self.total = int(self.n.sum())
        self.clock = clock
        self._index, self._start, self._end = index, start, end
        self._segments: pd.DataFrame | None = None

    def within(self) -> np.ndarray:
        """Each row's index within its track (``int64``)."""
        if self._index is not None:
            return self._index
        return np.arange(self.total, dtype=np.int64) - np.repeat(self.first, self.n)

    def segments(self) -> pd.DataFrame:
        """The table of rows: ``track_id`` (categorical), ``segment``, ``start``, ``end``; index
        ``row``."""
        if self._segments is None:
            k = self.within()
            if self.clock is not None:
                start, end = self.clock.times(int(self.n.max()) if len(self.n) else 0)
                start, end = (start[k], end[k]) if self.total else (np.zeros(0), np.zeros(0))
            else:
                start, end = self._start, self._end
            table = pd.DataFrame(
                {
                    "track_id": pd.Categorical.from_codes(
                        np.repeat(np.arange(len(self.ids)), self.n),
                        categories=text_index(self.ids),
                    ),
                    "segment": k.astype(np.int32),
                    "start": start,
                    "end": end,
                }
            )
            table.index.name = "row"
            self._segments = table
        return self._segments


def track_means(x, grid: Grid, track_ids: pd.Index) -> TrackAggregate:
    """Mean and population standard deviation of ``x``'s rows over each track of ``grid``.

    Computed in float64, whole tracks of about :data:`BLOCK_ROWS` rows at a time; a track
    without rows gets NaN.
    """
    n, first = grid.n, grid.first
    dim = x.shape[1]
    mean = np.full((len(n), dim), np.nan, np.float32)
    std = np.full((len(n), dim), np.nan, np.float32)
    ends = np.cumsum(n)
    a = 0
    while a < len(n):
        # whole tracks, ~65,536 rows at a time (or one longer track): bounded memory
        b = int(np.searchsorted(ends, (ends[a - 1] if a else 0) + BLOCK_ROWS, side="right"))
        b = min(len(n), max(a + 1, b))
        lo, hi = int(first[a]), int(first[b - 1] + n[b - 1])
        block = np.asarray(x[lo:hi], np.float64)
        counts = n[a:b]
        has = counts > 0
        if not has.any():
            a = b
            continue
        starts = (first[a:b] - lo)[has]
        s1 = np.add.reduceat(block, starts, axis=0)
        s2 = np.add.reduceat(block * block, starts, axis=0)
        c = counts[has][:, None].astype(np.float64)
        m = s1 / c
        mean[a:b][has] = m
        std[a:b][has] = np.sqrt(np.maximum(s2 / c - m * m, 0.0))
        a = b
    return TrackAggregate(track_ids, mean, std, n)


def window_keys(grid: Grid, seconds: float | None, durations: np.ndarray) -> np.ndarray:
    """For each row of a clock's ``grid``: the window its segment's centre falls in,
    ``floor(centre / seconds)`` (0 for every row with ``seconds`` None, one window a track),
    as a sortable key ``(track << 32) | window``.

    Computed in integers (the window's length as a fraction ``p / q`` of seconds), so that a
    centre on a window's edge falls in the window it starts. A centre past the track's end (the
    segment of a track shorter than one, repeated to fill it) counts in the track's last
    window.
    """
    clock = grid.clock
    k = grid.within()
    track = np.repeat(np.arange(len(grid.n), dtype=np.int64), grid.n)
    if seconds is None:
        win = np.zeros(grid.total, np.int64)
    else:
        w = Fraction(seconds).limit_denominator(1_000_000)
        # centre / w = (2 k hop + segment) / (2 rate) * q / p, in whole numbers
        centre2 = 2 * k * clock.hop + clock.segment
        win = (centre2 * w.denominator) // (2 * clock.sample_rate * w.numerator)
        dur = durations[track]
        last = np.where(
            np.isfinite(dur) & (dur > 0), np.ceil(np.nan_to_num(dur) / float(w)) - 1, np.inf
        )
        win = np.minimum(win, last).astype(np.int64)
    if len(win) and win.max() >= 2**31:
        raise ValueError(
            f"windows of {seconds} s are too short for tracks this long: use longer windows"
        )
    return (track << 32) | win


def window_grid(
    grids: dict[str, Grid], seconds: float | None, durations: np.ndarray
) -> tuple[Grid, dict[str, np.ndarray]]:
    """The windows of ``seconds`` (None: whole tracks) that hold the centre of a segment of
    every model, and for each model its rows' keys.

    Parameters
    ----------
    grids : dict of str to Grid
        Each model's grid (same tracks, in the same order).
    seconds : float or None
        The windows' length.
    durations : numpy.ndarray
        The tracks' durations: the last window ends at the track's end (it may be partial).

    Returns
    -------
    grid : Grid
        One row per window, in track then time order.
    keys : dict of str to numpy.ndarray
        Each model's row keys (see :func:`window_keys`).
    """
    keys = {m: window_keys(g, seconds, durations) for m, g in grids.items()}
    common = None
    for k in keys.values():
        u = np.unique(k)
        common = u if common is None else np.intersect1d(common, u, assume_unique=True)
    common = common if common is not None else np.zeros(0, np.int64)
    ids = next(iter(grids.values())).ids
    track = common >> 32
    win = common & 0xFFFFFFFF
    n = np.bincount(track, minlength=len(ids)).astype(np.int64)
    if seconds is None:
        start = np.zeros(len(common))
        end = durations[track].astype(np.float64)
    else:
        start = win * float(seconds)
        end = np.fmin((win + 1) * float(seconds), durations[track])  # NaN duration: full
    grid = Grid(ids, n, index=win, start=start, end=end)
    grid.keys = common
    return grid, keys


def window_means(x, keys: np.ndarray, windows: Grid) -> np.ndarray:
    """The mean of ``x``'s rows in each window of ``windows`` (rows keyed by ``keys``, in
    order), ``float32`` ``[windows, dim]``; computed in float64, in blocks."""
    out = np.zeros((windows.total, x.shape[1]), np.float32)
    lo = 0
    while lo < len(keys):
        hi = min(len(keys), lo + BLOCK_ROWS)
        # extend the block to the end of its last window, so that a window is never split
        while hi < len(keys) and keys[hi] == keys[hi - 1]:
            hi += 1
        k = keys[lo:hi]
        keep = np.isin(k, windows.keys)
        if not keep.any():
            lo = hi
            continue
        block = np.asarray(x[lo:hi], np.float64)[keep]
        k = k[keep]
        starts = np.flatnonzero(np.concatenate([[True], k[1:] != k[:-1]]))
        sums = np.add.reduceat(block, starts, axis=0)
        counts = np.diff(np.concatenate([starts, [len(k)]]))[:, None]
        out[np.searchsorted(windows.keys, k[starts])] = sums / counts
        lo = hi
    return out
