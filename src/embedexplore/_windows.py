"""Embeddings at another time scale: windows of a few seconds, or whole tracks.

What :meth:`Embeddings.windows <embedexplore.embeddings.Embeddings.windows>` returns. Window
``k`` of a track spans ``[k * w, (k + 1) * w)``; a model's vector for it is the mean of the model's
segments whose centre falls in it, so that models of different clocks (2.992 s, 0.96 s, 1 s...)
line up on the same rows. A track's windows are those that hold the centre of a segment of every
model (all of them up to its end, for models whose hop is at most ``w``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._embedding_types import TrackAggregate
from ._grid import Grid, track_means, window_grid, window_means
from .embeddings import Embeddings

__all__ = ["Windows"]


class Windows(Embeddings):
    """A view of ``embeddings`` with one row per window (see the module docstring).

    Parameters
    ----------
    embeddings : Embeddings
        What the windows are made of.
    seconds : float or "track"
        The windows' length in seconds, or ``"track"`` (one window per track).

    Attributes
    ----------
    seconds : float or str
        The windows' length, or ``"track"``.
    base : Embeddings
        The segments the windows are made of.

    Raises
    ------
    ValueError
        ``seconds`` is not a positive number nor ``"track"``.
    """

    def __init__(self, embeddings: Embeddings, seconds) -> None:
        if isinstance(embeddings, Windows):
            embeddings = embeddings.base
        if isinstance(seconds, str) and seconds == "track":
            length = None
        else:
            try:
                length = float(seconds)
            except (TypeError, ValueError):
                length = math.nan
            if isinstance(seconds, bool) or not math.isfinite(length) or length <= 0:
                raise ValueError(
                    f"windows take a positive number of seconds or 'track', got {seconds!r}"
                )
        self.base = embeddings
        self.seconds = "track" if length is None else length
        self.path, self.stats, self.models = embeddings.path, embeddings.stats, embeddings.models
        self.errors = embeddings.errors
        self._store, self._layers = embeddings._store, embeddings._layers
        self._clocks, self._stored_labels = embeddings._clocks, embeddings._stored_labels
        grids = {m: embeddings._grid(m) for m in self.models}
        durations = embeddings.tracks["duration"].to_numpy(np.float64)
        if grids:
            self._window, self._keys = window_grid(grids, length, durations)
        else:
            self._window, self._keys = Grid(list(embeddings.tracks.index), 0 * durations), {}
        self._grids = {"windows": self._window}
        self._cache: dict[tuple[str, str], np.ndarray] = {}
        self.tracks = embeddings.tracks.copy()
        self.tracks["n_segments"] = self._window.n
        self.tracks["first_row"] = self._window.first

    def __repr__(self) -> str:
        what = "whole tracks" if self.seconds == "track" else f"windows of {self.seconds:g} s"
        return (
            f"<Embeddings in {what}: {self._window.total} rows of {len(self.tracks)} tracks, "
            f"models {list(self.models)}, store {self.path}>"
        )

    def _grid(self, model: str | None) -> Grid:
        if model is not None:
            self._check(model)
        return self._window

    def array(self, model: str, layer: str = "embeddings") -> np.ndarray:
        """``model``'s ``layer`` averaged over each window: ``float32`` ``[n_windows, dim]``.

        Parameters
        ----------
        model : str
            One of :attr:`models`.
        layer : str, default: "embeddings"
            One of :meth:`layers` of ``model``.

        Returns
        -------
        numpy.ndarray
            Row ``i`` is window ``i`` of :attr:`segments`: the mean (computed in float64) of the
            model's segments whose centre falls in it.

        Raises
        ------
        KeyError
            ``model`` is not one of :attr:`models`, or ``layer`` is not stored for it.
        """
        key = (model, layer)
        if key not in self._cache:
            x = self.base.array(model, layer)
            self._cache[key] = window_means(x, self._keys[model], self._window)
        return self._cache[key]

    def per_track(self, model: str, layer: str = "embeddings") -> TrackAggregate:
        """Mean and spread of ``layer`` over each track's windows.

        Parameters
        ----------
        model : str
            One of :attr:`models`.
        layer : str, default: "embeddings"
            One of :meth:`layers` of ``model``.

        Returns
        -------
        TrackAggregate
            As :meth:`Embeddings.per_track`, over windows instead of segments.
        """
        return track_means(self.array(model, layer), self._window, self.tracks.index)

    def windows(self, seconds) -> Embeddings:
        """Windows of ``seconds`` of the same segments (see :meth:`Embeddings.windows`).

        Parameters
        ----------
        seconds : float or "track"
            The windows' length, or ``"track"``.

        Returns
        -------
        Embeddings
            The view.
        """
        return Windows(self.base, seconds)

    def join(self, tracks: pd.DataFrame | None = None, columns=None) -> pd.DataFrame:
        """:attr:`segments` (the windows) with the tracks' metadata alongside.

        Parameters
        ----------
        tracks : pandas.DataFrame or Collection, optional
            As for :meth:`Embeddings.join`.
        columns : list of str, optional
            The metadata columns to add.

        Returns
        -------
        pandas.DataFrame
            One row per window.
        """
        return super().join(tracks, columns)
