"""What extraction reports and what per-track statistics look like (kept apart from
:mod:`embedexplore.embeddings`, which reads stores, so that each stays small)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["ExtractStats", "TrackAggregate"]


@dataclass(frozen=True)
class ExtractStats:
    """What an extraction run did.

    Each parameter is kept as the (read-only) attribute of the same name.

    Parameters
    ----------
    tracks : int
        Live tracks in the collection.
    extracted : int
        Tracks computed in this run.
    reused : int
        Tracks whose rows were already in the store.
    failed : int
        Tracks that could not be read in this run (see :attr:`Embeddings.errors`).
    audio_seconds : float
        Seconds of audio decoded and run through the models in this run.
    seconds : float
        Wall time of the run in seconds.
    device : str
        The device the models ran on, e.g. ``"cpu"`` or ``"cuda"``.
    profile : dict of str to float, optional
        Seconds spent in each phase of the run (see ``embedexplore._shards.SYNC_PHASES``);
        not compared by ``==``.
    workers : dict of str to dict, optional
        On a cluster: for each worker's address, its ``tracks``, ``audio_seconds``,
        ``busy_seconds`` (the wall time of its tasks), ``realtime`` (audio seconds per busy
        second) and ``decoders`` (e.g. ``"7 processes"``); empty on one machine. Not compared
        by ``==``.
    missing : int, default: 0
        Tracks of the store not in this collection whose rows were kept.
    pruned : int, default: 0
        Tracks of the store not in this collection whose rows were removed (``prune=True``).
    """

    tracks: int
    extracted: int
    reused: int
    failed: int
    audio_seconds: float
    seconds: float
    device: str
    profile: dict = field(default_factory=dict, compare=False)
    workers: dict = field(default_factory=dict, compare=False)
    missing: int = 0
    pruned: int = 0

    @property
    def realtime(self) -> float:
        """Seconds of audio processed per second of wall time (NaN for a run of no time)."""
        return self.audio_seconds / self.seconds if self.seconds > 0 else float("nan")


@dataclass(frozen=True)
class TrackAggregate:
    """Per-track statistics of a layer (the "averages" view): rows follow ``track_ids``.

    What :meth:`Embeddings.per_track` returns; each parameter is kept as the (read-only)
    attribute of the same name.

    Parameters
    ----------
    track_ids : pandas.Index
        The ``n_tracks`` track ids, in the order of :attr:`Embeddings.tracks`.
    mean : numpy.ndarray
        ``float32`` array of shape ``(n_tracks, dim)``: each track's mean over its segments (NaN
        for a track with no segment).
    std : numpy.ndarray
        ``float32`` array of shape ``(n_tracks, dim)``: the population standard deviation over
        each track's segments (NaN for a track with no segment).
    n_segments : numpy.ndarray
        ``int64`` array of shape ``(n_tracks,)``: the segments each statistic is taken over.
    """

    track_ids: pd.Index
    mean: np.ndarray
    std: np.ndarray
    n_segments: np.ndarray
