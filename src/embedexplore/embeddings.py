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

import numpy as np
import pandas as pd

from ._embedding_types import ExtractStats, TrackAggregate
from ._grid import Grid, track_means
from ._store_state import entry_clock, live_rows, tracks_from_parts
from ._text import TEXT, records_frame, text_array, text_index
from .clock import Clock
from .store import DamagedStoreError, Part, Store, StoreError

__all__ = ["Embeddings", "ExtractStats", "TrackAggregate", "live_rows", "open_store"]


class Embeddings:
    """The extracted embeddings of a collection, read from a store.

    Usually made by :func:`open_store` or :func:`embedexplore.extract`. ``len(embeddings)`` is
    the number of segments (of the first model's clock).

    Each model keeps its own clock (:meth:`clock`): the original models and the handcrafted
    baselines cut 2.992 s segments, VGGish 0.96 s ones, a model you registered its own.
    :meth:`array` is aligned with :meth:`segments_of` the model; where all models share one
    clock, :attr:`segments` is that table for all of them. :meth:`windows` lines models of
    different clocks up on common windows (10 s, 30 s, whole tracks).

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
        The models read; :attr:`tracks` holds the tracks that have rows for all of them.
    segments : pandas.DataFrame
        Where all :attr:`models` share one clock: one row per segment, ``track_id``
        (categorical), ``segment`` (index within the track), ``start`` and ``end`` (seconds:
        exactly ``k * 2.992`` and ``(k + 1) * 2.992`` for the original models). Row ``i`` is
        row ``i`` of every :meth:`array`. ``n_segments`` rows, index ``row``. Reading it when
        the models have different clocks is a ``ValueError``: use :meth:`segments_of` or
        :meth:`windows`.
    tracks : pandas.DataFrame
        One row per track, indexed by ``track_id``, in collection order: ``path``,
        ``duration`` (seconds), ``n_segments``, ``first_row`` (its first row in
        :attr:`segments`; of the first model's clock where clocks differ), ``missing`` (True
        for a track the last extraction did not find, whose rows are kept until pruned).
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
        in it, or models of one clock disagree on the segment counts.
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
        self._clocks = {m: entry_clock(known[m]) for m in self.models}
        self._stored_labels = {
            m: tuple(known[m]["labels"]) for m in self.models if "labels" in known[m]
        }
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
        ids = [t["id"] for t in kept]
        # one grid of rows per clock: models of one clock cut the same segments
        self._grids: dict[Clock, Grid] = {}
        leader: dict[Clock, str] = {}
        for m in self.models:
            clock = self._clocks[m]
            n = np.array([self._rows[m][t][2] for t in ids], np.int64)
            if clock not in self._grids:
                self._grids[clock], leader[clock] = Grid(ids, n, clock=clock), m
            elif not np.array_equal(n, self._grids[clock].n):
                raise StoreError(f"{m} and {leader[clock]} disagree on segment counts")
        if not self._grids:
            self._grids[None] = Grid(ids, np.zeros(len(ids), np.int64))
        primary = next(iter(self._grids.values()))
        self.tracks = pd.DataFrame(
            {
                "path": text_array(t["path"] for t in kept),
                "duration": np.array([t["duration"] for t in kept], np.float64),
                "n_segments": primary.n,
                "first_row": primary.first,
                "missing": np.array([bool(t.get("missing")) for t in kept], bool),
            },
            index=text_index(ids, name="track_id"),
        )
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
        rows = " + ".join(
            f"{g.total} segments"
            + (f" of {g.clock.segment_seconds:.4g} s" if len(self._grids) > 1 else "")
            for g in self._grids.values()
        )
        return (
            f"<{type(self).__name__}: {rows} of {len(self.tracks)} tracks ({hours:.1f} h), "
            f"models {list(self.models)}, {len(self.errors)} errors, store {self.path}>"
        )

    def __len__(self) -> int:
        return next(iter(self._grids.values())).total

    @property
    def segments(self) -> pd.DataFrame:
        """One row per segment where all models share a clock (see the class docstring)."""
        if len(self._grids) > 1:
            clocks = ", ".join(f"{m}: {self._clocks[m].segment_seconds:.4g} s" for m in self.models)
            raise ValueError(
                f"these embeddings hold models with different clocks ({clocks}): use "
                "segments_of(model) for one model's segments, or windows(seconds) to line "
                "them up on common windows"
            )
        return next(iter(self._grids.values())).segments()

    def _grid(self, model: str | None) -> Grid:
        if model is None:
            self.segments  # noqa: B018 (the error where clocks differ)
            return next(iter(self._grids.values()))
        self._check(model)
        return self._grids[self._clocks[model]]

    def clock(self, model: str) -> Clock:
        """The clock of ``model``'s segments: sample rate, segment and hop.

        Parameters
        ----------
        model : str
            One of :attr:`models`.

        Returns
        -------
        embedexplore.clock.Clock
            E.g. ``Clock(sample_rate=16000, segment=47872, hop=47872)`` (2.992 s).

        Raises
        ------
        KeyError
            ``model`` is not one of :attr:`models`.
        """
        self._check(model)
        return self._clocks[model]

    def segments_of(self, model: str) -> pd.DataFrame:
        """``model``'s own segments, row for row with :meth:`array` of it.

        Parameters
        ----------
        model : str
            One of :attr:`models`.

        Returns
        -------
        pandas.DataFrame
            The columns of :attr:`segments` (``track_id``, ``segment``, ``start``, ``end``)
            at ``model``'s clock: segment ``k`` spans ``[k * hop, k * hop + segment)``, exact.

        Raises
        ------
        KeyError
            ``model`` is not one of :attr:`models`.
        """
        return self._grid(model).segments()

    def labels(self, model: str) -> tuple[str, ...] | None:
        """The tag names of ``model``'s ``taggrams`` columns (None: it has no tags).

        From the registry, or from the store for a model registered when it was extracted.

        Parameters
        ----------
        model : str
            One of :attr:`models`.

        Returns
        -------
        tuple of str or None
            In column order.

        Raises
        ------
        KeyError
            ``model`` is not one of :attr:`models`.
        """
        from .registry import find

        self._check(model)
        if model in self._stored_labels:
            return self._stored_labels[model]
        spec = find(model)
        return spec.labels if spec is not None else None

    def windows(self, seconds) -> Embeddings:
        """A view whose rows are windows of ``seconds`` of each track, or whole tracks.

        Window ``k`` of a track spans ``[k * seconds, (k + 1) * seconds)`` (the last one ends
        with the track); each model's vector is the mean of its segments whose centre falls in
        the window. Models of different clocks line up on the same windows: a track's windows
        are those holding the centre of a segment of every model.

        Parameters
        ----------
        seconds : float or "track"
            The windows' length, or ``"track"``: one row per track, the mean of all its
            segments.

        Returns
        -------
        Embeddings
            The view: :attr:`segments` (one row per window: ``segment`` is ``k``, ``start``
            and ``end`` its times), :attr:`tracks` (``n_segments``: its windows), and every
            method of the embeddings, so that projections, neighbours, S_n, playlists and the
            Explorer take it as they take segments. Its arrays are float32, computed in memory
            on first use.

        Raises
        ------
        ValueError
            ``seconds`` is not a positive number nor ``"track"``.
        """
        from ._windows import Windows

        return Windows(self, seconds)

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
        if model not in self.models or "taggrams" not in self.layers(model):
            raise KeyError(f"{model!r} has no taggrams in the store {self.path}")
        if track_id is None:
            rows = slice(0, self._grid(model).total)
        elif track_id in self.tracks.index:
            rows = self.rows(track_id, model)
        else:
            raise KeyError(f"no track {track_id!r} with segments in these embeddings")
        x = np.asarray(self.array(model, "taggrams")[rows], np.float32)
        labels = self.labels(model)
        labels = list(labels) if labels is not None else None
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
        """``model``'s ``layer`` for every row of :meth:`segments_of` it, ``[n_segments, dim]``.

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
            MusiCNN's embeddings, 50 for taggrams): row ``i`` is row ``i`` of
            :meth:`segments_of` the model (of :attr:`segments`, where all share a clock).
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
        grid = self._grid(model)
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
                and np.array_equal(starts[1:], np.cumsum(grid.n)[:-1])
                and sum(part.n_segments) == grid.total
            ):
                return self._store.open_array(model, pid, layer)
        out = np.empty((grid.total, dim), self._dtypes[model])
        self._gather(model, layer, rows, out)
        return out

    def _gather(self, model: str, layer: str, rows, out: np.ndarray) -> None:
        """Copy ``rows`` (``(part, first, n)`` per track) into ``out`` in order, in runs."""
        self._store.gather(model, layer, rows, out)

    def track(self, track_id: str, model: str | None = None) -> pd.DataFrame:
        """The segments of one track (their index is their row in :meth:`array`).

        Parameters
        ----------
        track_id : str
            A track id of :attr:`tracks`.
        model : str, optional
            Whose segments (default: those of :attr:`segments`, where all models share a
            clock).

        Returns
        -------
        pandas.DataFrame
            The track's rows of :attr:`segments` (of :meth:`segments_of` ``model``), in time
            order.

        Raises
        ------
        KeyError
            No such track in these embeddings.
        """
        return self._grid(model).segments().iloc[self.rows(track_id, model)]

    def rows(self, track_id: str, model: str | None = None) -> slice:
        """The rows of one track in :attr:`segments` and :meth:`array`.

        Parameters
        ----------
        track_id : str
            A track id of :attr:`tracks`.
        model : str, optional
            At whose clock (default: that of :attr:`segments`).

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
        grid = self._grid(model)  # without a model: the one clock (an error where they differ)
        i = self.tracks.index.get_loc(track_id)
        return slice(int(grid.first[i]), int(grid.first[i] + grid.n[i]))

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
        return track_means(self.array(model, layer), self._grid(model), self.tracks.index)

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
