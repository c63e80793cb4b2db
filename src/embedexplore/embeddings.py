"""Reading a store: the segments table and the arrays aligned with it, row for row.

>>> emb = embedexplore.open_store("~/music-embeddings")              # doctest: +SKIP
>>> emb.segments.head()                                              # doctest: +SKIP
>>> x = emb.array("musicnn-msd", "embeddings")     # [n_segments, 200], memory-mapped
>>> agg = emb.per_track("musicnn-msd")             # mean and spread per track
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._store_state import live_rows, tracks_from_parts
from ._text import TEXT, records_frame, text_array, text_index
from .audio import segment_times
from .store import DamagedStoreError, Part, Store, StoreError

__all__ = ["Embeddings", "ExtractStats", "TrackAggregate", "live_rows", "open_store"]


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


class Embeddings:
    """The extracted embeddings of a collection, read from a store.

    Usually made by :func:`open_store` or :func:`embedexplore.extract`. ``len(embeddings)`` is
    the number of segments.

    Parameters
    ----------
    store : str or os.PathLike or embedexplore.store.Store
        The store's folder, or an open store.
    models : str or sequence of str, optional
        The models to read (default: every model with rows in the store).
    stats : ExtractStats, optional
        What the extraction run that wrote these embeddings did (kept as :attr:`stats`).
    track_ids : iterable of str, optional
        Only these tracks (default: every track of the store with rows, those kept as missing
        included).

    Attributes
    ----------
    path : pathlib.Path
        The store.
    models : tuple of str
        The models read; :attr:`segments` holds the tracks that have rows for all of them.
    segments : pandas.DataFrame
        One row per 2.992 s segment: ``track_id`` (categorical), ``segment`` (index within the
        track), ``start`` and ``end`` (seconds, exactly ``k * 2.992`` and ``(k + 1) * 2.992``).
        Row ``i`` is row ``i`` of every :meth:`array`. ``n_segments`` rows, index ``row``.
    tracks : pandas.DataFrame
        One row per track in :attr:`segments`, indexed by ``track_id``, in collection order:
        ``path``, ``duration`` (seconds), ``n_segments``, ``first_row`` (its first row in
        :attr:`segments`), ``missing`` (True for a track the last extraction did not find,
        whose rows are kept until pruned).
    errors : pandas.DataFrame
        Tracks that could not be extracted: ``track_id``, ``path``, ``reason``.
    stats : ExtractStats or None
        Set when these embeddings come from :func:`embedexplore.extract`.

    Raises
    ------
    FileNotFoundError
        There is no folder at ``store``.
    embedexplore.store.StoreError
        The folder is not a store (or one of another format), a model of ``models`` has no rows
        in it, or its models disagree on the segment counts.
    """

    def __init__(
        self,
        store: str | os.PathLike | Store,
        models=None,
        *,
        stats=None,
        track_ids: Iterable[str] | None = None,
    ) -> None:
        self._store = store if isinstance(store, Store) else Store(store)
        self.path = self._store.path
        self.stats = stats
        manifest = self._store.manifest()
        known = manifest.get("models", {})
        if models is None:  # every model with rows (a model just added may have none yet)
            models = tuple(m for m, e in known.items() if e["parts"]) or tuple(known)
        elif isinstance(models, str):
            models = (models,)
        missing = [m for m in models if m not in known]
        if missing:
            raise StoreError(
                f"the store {self.path} holds no rows of {', '.join(missing)}; it has "
                f"{', '.join(known) or 'none yet'} (extract those models first)"
            )
        self.models = tuple(models)
        self._layers = {m: dict(known[m]["layers"]) for m in self.models}
        self._dtypes = {m: known[m]["dtype"] for m in self.models}
        for attempt in range(5):
            # a writer compacting meanwhile may remove parts the manifest just read names:
            # read again (the new manifest names the new parts)
            live = self._tracks(manifest)
            self._parts: dict[tuple[str, str], Part] = {}
            try:
                self._rows = {
                    m: live_rows(self._store, manifest, m, live, self._parts) for m in models
                }
                break
            except StoreError:
                if attempt == 4:
                    raise
                time.sleep(0.2)
                manifest = self._store.manifest()
                known = manifest.get("models", {})
        wanted = set(track_ids) if track_ids is not None else None
        kept = [
            t
            for t in live
            if all(t["id"] in self._rows[m] for m in self.models)
            and (wanted is None or t["id"] in wanted)
        ]
        n = np.array(
            [self._rows[self.models[0]][t["id"]][2] if self.models else 0 for t in kept],
            np.int64,
        )
        for m in self.models[1:]:  # every model cuts the same segments (same preprocessing)
            other = np.array([self._rows[m][t["id"]][2] for t in kept], np.int64)
            if not np.array_equal(n, other):
                raise StoreError(f"{m} and {self.models[0]} disagree on segment counts")
        ids = [t["id"] for t in kept]
        first = np.concatenate([[0], np.cumsum(n)])[:-1] if len(n) else np.zeros(0, np.int64)
        self.tracks = pd.DataFrame(
            {
                "path": text_array(t["path"] for t in kept),
                "duration": np.array([t["duration"] for t in kept], np.float64),
                "n_segments": n,
                "first_row": first.astype(np.int64),
                "missing": np.array([bool(t.get("missing")) for t in kept], bool),
            },
            index=text_index(ids, name="track_id"),
        )
        total = int(n.sum())
        segment = np.arange(total, dtype=np.int64) - np.repeat(first, n)
        start, end = segment_times(int(n.max()) if len(n) else 0)
        self.segments = pd.DataFrame(
            {
                "track_id": pd.Categorical.from_codes(
                    np.repeat(np.arange(len(ids)), n), categories=text_index(ids)
                ),
                "segment": segment.astype(np.int32),
                "start": start[segment] if total else np.zeros(0),
                "end": end[segment] if total else np.zeros(0),
            }
        )
        self.segments.index.name = "row"
        live_ids = {t["id"] for t in live if not t.get("missing")}
        if wanted is not None:
            live_ids &= wanted
        errors = [
            {"track_id": tid, "path": e["path"], "reason": e["reason"]}
            for tid, e in manifest.get("errors", {}).items()
            if tid in live_ids
        ]
        columns = ["track_id", "path", "reason"]
        self.errors = records_frame(errors, columns, dict.fromkeys(columns, TEXT))

    def _tracks(self, manifest: dict) -> list[dict]:
        """The store's tracks; rebuilt from its parts if ``collection.json`` is lost."""
        try:
            return self._store.collection()
        except DamagedStoreError as e:
            warnings.warn(
                f"{e}. The list of tracks is read from the parts meanwhile.",
                RuntimeWarning,
                stacklevel=4,
            )
            return tracks_from_parts(self._store, manifest)

    def __repr__(self) -> str:
        hours = self.tracks["duration"].sum() / 3600
        return (
            f"<Embeddings: {len(self.segments)} segments of {len(self.tracks)} tracks "
            f"({hours:.1f} h), models {list(self.models)}, {len(self.errors)} errors, "
            f"store {self.path}>"
        )

    def __len__(self) -> int:
        return len(self.segments)

    def taggram(self, model: str, track_id: str | None = None) -> pd.DataFrame:
        """Tag activations per segment, as a table with the tag names as columns.

        Parameters
        ----------
        model : str
            One of :attr:`models` (with a ``taggrams`` layer).
        track_id : str, optional
            One track's segments only, in time order (default: every segment).

        Returns
        -------
        pd.DataFrame
            float32, of shape ``(n_segments, 50)``: one row per segment (indexed by its row in
            :attr:`segments`), one column per tag of the model's training dataset, each in
            [0, 1].

        Raises
        ------
        KeyError
            ``model`` has no taggrams in the store, or ``track_id`` has no segments here.
        """
        from .models import BUNDLES

        if model not in self.models or "taggrams" not in self.layers(model):
            raise KeyError(f"{model!r} has no taggrams in the store {self.path}")
        if track_id is None:
            rows = slice(0, len(self.segments))
        elif track_id in self.tracks.index:
            rows = self.rows(track_id)
        else:
            raise KeyError(f"no track {track_id!r} with segments in these embeddings")
        x = np.asarray(self.array(model, "taggrams")[rows], np.float32)
        labels = list(BUNDLES[model].labels) if model in BUNDLES else None
        index = pd.RangeIndex(rows.start, rows.start + len(x), name="row")
        return pd.DataFrame(x, index=index, columns=labels)

    def layers(self, model: str) -> dict[str, int]:
        """The layers stored for ``model`` and their dimensions.

        Parameters
        ----------
        model : str
            One of :attr:`models`.

        Returns
        -------
        dict of str to int
            Layer name -> dimension, e.g. ``{"taggrams": 50, "embeddings": 200}``.

        Raises
        ------
        KeyError
            ``model`` is not one of :attr:`models`.
        """
        self._check(model)
        return dict(self._layers[model])

    def array(self, model: str, layer: str = "embeddings") -> np.ndarray:
        """``model``'s ``layer`` for every row of :attr:`segments`, ``[n_segments, dim]``.

        Memory-mapped (read-only, no copy) when the store is compacted, as it is after every
        :func:`~embedexplore.extract` run; otherwise gathered into memory.

        Parameters
        ----------
        model : str
            One of :attr:`models`.
        layer : str, default: "embeddings"
            One of :meth:`layers` of ``model``.

        Returns
        -------
        numpy.ndarray
            Array of shape ``(n_segments, dim)``, ``dim = layers(model)[layer]`` (e.g. 200 for
            MusiCNN's embeddings, 50 for taggrams): row ``i`` is row ``i`` of :attr:`segments`.
            Its dtype is the one chosen at extraction: ``float16`` by default (see
            :func:`embedexplore.extract` for its cost) or ``float32``.

        Raises
        ------
        KeyError
            ``model`` is not one of :attr:`models`, or ``layer`` is not stored for it.
        """
        self._check(model)
        if layer not in self._layers[model]:
            raise KeyError(
                f"{model} has no stored layer {layer!r}; stored: {', '.join(self._layers[model])}"
            )
        dim = self._layers[model][layer]
        rows = [self._rows[model][t] for t in self.tracks.index]
        if not rows:
            return np.zeros((0, dim), self._dtypes[model])
        pids = {r[0] for r in rows}
        if len(pids) == 1:
            pid = rows[0][0]
            part = self._parts[(model, pid)]
            starts = np.array([r[1] for r in rows], np.int64)
            if (
                starts[0] == 0
                and np.array_equal(starts[1:], np.cumsum(self.tracks["n_segments"].to_numpy())[:-1])
                and sum(part.n_segments) == len(self.segments)
            ):
                return self._store.open_array(model, pid, layer)
        out = np.empty((len(self.segments), dim), self._dtypes[model])
        self._gather(model, layer, rows, out)
        return out

    def _gather(self, model: str, layer: str, rows, out: np.ndarray) -> None:
        """Copy ``rows`` (``(part, first, n)`` per track) into ``out`` in order, in runs."""
        self._store.gather(model, layer, rows, out)

    def track(self, track_id: str) -> pd.DataFrame:
        """The segments of one track (their index is their row in :meth:`array`).

        Parameters
        ----------
        track_id : str
            A track id of :attr:`tracks`.

        Returns
        -------
        pandas.DataFrame
            The track's ``n_segments`` rows of :attr:`segments`, in time order.

        Raises
        ------
        KeyError
            No such track in these embeddings.
        """
        if track_id not in self.tracks.index:
            raise KeyError(f"no track {track_id!r} in these embeddings")
        first, n = self.tracks.loc[track_id, ["first_row", "n_segments"]]
        return self.segments.iloc[int(first) : int(first) + int(n)]

    def rows(self, track_id: str) -> slice:
        """The rows of one track in :attr:`segments` and :meth:`array`.

        Parameters
        ----------
        track_id : str
            A track id of :attr:`tracks`.

        Returns
        -------
        slice
            ``slice(first_row, first_row + n_segments)``.

        Raises
        ------
        KeyError
            No such track in these embeddings.
        """
        if track_id not in self.tracks.index:
            raise KeyError(f"no track {track_id!r} in these embeddings")
        first, n = self.tracks.loc[track_id, ["first_row", "n_segments"]]
        return slice(int(first), int(first) + int(n))

    def per_track(self, model: str, layer: str = "embeddings") -> TrackAggregate:
        """Mean and spread of ``layer`` over each track's segments.

        Computed in float64, ~65,536 rows at a time, in bounded memory; tracks with no segment
        get NaN.

        Parameters
        ----------
        model : str
            One of :attr:`models`.
        layer : str, default: "embeddings"
            One of :meth:`layers` of ``model``.

        Returns
        -------
        TrackAggregate
            ``mean`` and ``std``: ``float32`` arrays of shape ``(n_tracks, dim)``; ``n_segments``:
            ``int64`` array of shape ``(n_tracks,)``; rows in the order of :attr:`tracks`.

        Raises
        ------
        KeyError
            ``model`` is not one of :attr:`models`, or ``layer`` is not stored for it.
        """
        x = self.array(model, layer)
        n = self.tracks["n_segments"].to_numpy()
        first = self.tracks["first_row"].to_numpy()
        dim = x.shape[1]
        mean = np.full((len(n), dim), np.nan, np.float32)
        std = np.full((len(n), dim), np.nan, np.float32)
        ends = np.cumsum(n)
        a = 0
        while a < len(n):
            # whole tracks, ~65,536 rows at a time (or one longer track): bounded memory
            b = int(np.searchsorted(ends, (ends[a - 1] if a else 0) + 65536, side="right"))
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
        return TrackAggregate(self.tracks.index, mean, std, n)

    def join(self, tracks: pd.DataFrame | None = None, columns=None) -> pd.DataFrame:
        """:attr:`segments` with the tracks' metadata alongside.

        Parameters
        ----------
        tracks : pandas.DataFrame or Collection, optional
            A :class:`~embedexplore.Collection`'s ``tracks`` (or the collection itself); by
            default the ``path`` and ``duration`` stored here.
        columns : list of str, optional
            The metadata columns to add (default: all of ``tracks``).

        Returns
        -------
        pandas.DataFrame
            One row per segment (same index as :attr:`segments`): the columns of
            :attr:`segments`, then the metadata columns not already among them (NA for a track
            missing from ``tracks``).
        """
        if tracks is None:
            tracks = self.tracks[["path", "duration"]]
        elif hasattr(tracks, "tracks"):
            tracks = tracks.tracks
        if columns is not None:
            tracks = tracks[list(columns)]
        meta = tracks.reindex(pd.Index(self.segments["track_id"].astype(TEXT)))
        meta.index = self.segments.index
        overlap = [c for c in meta.columns if c in self.segments.columns]
        return self.segments.join(meta.drop(columns=overlap))

    def _check(self, model: str) -> None:
        if model not in self.models:
            raise KeyError(f"no model {model!r} in these embeddings; models: {list(self.models)}")


def open_store(path: str | os.PathLike, models=None, *, collection=None) -> Embeddings:
    """The embeddings in a store written by :func:`embedexplore.extract`.

    Parameters
    ----------
    path : str or os.PathLike
        The store's folder.
    models : str or sequence of str, optional
        The models to read (default: every model with rows in the store).
    collection : Collection or iterable of str, optional
        Only the tracks of this collection (a :class:`~embedexplore.Collection`, or track
        ids). By default every track with rows, those that the last extraction did not find
        (kept until pruned, ``tracks["missing"]``) included.

    Returns
    -------
    Embeddings
        The segments, tracks and errors of the store, and its arrays through
        :meth:`Embeddings.array`; :attr:`Embeddings.stats` is None.

    Raises
    ------
    FileNotFoundError
        There is no folder at ``path``.
    embedexplore.store.StoreError
        The folder is not a store (or one of another format), a model of ``models`` has no
        rows in it, or a file it needs is damaged (:class:`~embedexplore.store.DamagedStoreError`:
        the message says to run ``embedexplore verify --store PATH --repair``).
    """
    if collection is not None and hasattr(collection, "tracks"):
        collection = collection.tracks.index
    return Embeddings(Store(path), models, track_ids=collection)
