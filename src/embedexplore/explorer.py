"""The Explorer: a collection's segments in two linked scatter panes, in the notebook.

>>> explorer = embedexplore.Explorer(collection, embeddings)                    # doctest: +SKIP
>>> explorer                                      # shows the widget            # doctest: +SKIP
>>> explorer.left = {"model": "vgg-mtt", "projection": "umap"}                   # doctest: +SKIP
>>> explorer.time_scale = "10"                    # 10 s windows                # doctest: +SKIP
>>> explorer.selected_tracks                      # after a lasso               # doctest: +SKIP
>>> explorer.observe(lambda change: print(len(change.new)), "selection")        # doctest: +SKIP

Each pane shows one space (a model of the registry, a layer) through one projection; both panes
show the same points (segments, windows of a few seconds, or whole tracks: the time scale), so
hovering or selecting in one marks the same segments in the other. The linking runs in
the browser and keeps working while the kernel is busy; the kernel computes projections, answers
audio requests and turns the selection into DataFrames and playlists.

The Explorer shows at once: t-SNE and UMAP are computed in the background, each pane showing
its progress meanwhile, and a new choice in a menu supersedes the projection still running
(see :mod:`embedexplore._explorer_jobs`). ``explorer.wait()`` blocks until both panes are done.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import traitlets as t

from . import _explorer_requests as requests
from . import _explorer_scale as scale
from ._explorer_controls import COLOR_BY, VIEWS, filter_spec, menus, pane_spec
from ._explorer_drawing import Drawing
from ._explorer_jobs import Projections
from ._explorer_tracks import rows_of_tracks, rows_table, track_meta, tracks_table
from .playlist import MIN_SHARE
from .widget import ExplorerWidget

__all__ = ["COLOR_BY", "TIME_SCALES", "VIEWS", "Explorer"]

TIME_SCALES = tuple(scale.TIME_SCALES)  # "native", "10", "30", "track"


class Explorer(Drawing, ExplorerWidget):
    """Two linked scatter panes of a collection's segments, with audio and selections.

    Parameters
    ----------
    collection : Collection or None
        The scanned collection: artist, title, album and genre of each track (without it, file
        names label the points).
    embeddings : Embeddings
        What :func:`embedexplore.extract` returned, :func:`embedexplore.open_store`, or a
        windows view of them (:meth:`Embeddings.windows
        <embedexplore.embeddings.Embeddings.windows>`).
    left, right : dict, optional
        Each pane's space and projection: ``model`` (a model of the store by its full name,
        e.g. ``"musicnn-msd"``, ``"vggish"``, one you registered; ``{"model": "musicnn",
        "dataset": "msd"}`` is still understood), ``layer`` (``"embeddings"``,
        ``"taggrams"``, ...), ``projection`` (``"pca"``, ``"std-pca"``, ``"tsne"``, ``"umap"``,
        ``"tags"``) and, for ``"tags"``, ``x_tag`` and ``y_tag``. Missing keys take defaults:
        MusiCNN left and VGG right (MSD, embeddings, t-SNE), where the store holds them.
    color_by : str, default: "artist"
        ``"artist"``, ``"album"``, ``"genre"``, ``"none"``, or ``"tag:NAME"`` (that tag's
        activation, e.g. ``"tag:piano"``).
    view : str, default: "segments"
        ``"segments"`` (one point per row of the time scale), ``"trajectories"`` (a line
        through each track's rows in time order) or ``"averages"`` (one point per track, the
        mean of its rows, sized by their spread).
    time_scale : str, default: "native"
        What a row is, one of :data:`TIME_SCALES`: ``"native"`` (the models' own segments,
        e.g. 2.992 s; where the two panes' models have different clocks, windows of the
        coarser one's segment length, and :attr:`scale_note` says so; given a windows view,
        its windows), ``"10"`` or ``"30"``
        (windows of that many seconds: each model's vector is the mean of its segments
        centred in the window) or ``"track"`` (one row per track).
    every : int, default: 1
        Show every ``every``-th row (the thesis' "reduction"); 1 shows all.
    music : dict, optional
        Which music to show: ``{"artists": [...], "albums": [...], "genres": [...],
        "tracks": [...], "tags": [...]}`` (a track qualifies if it matches any entry; ``tags`` are
        the model's, among a track's three strongest). Empty: all.
    highlight : dict, optional
        Same keys: the matching points are drawn strongly and the rest dimmed.
    seed : int, default: 0
        Seed of the t-SNE and UMAP projections.
    height : int, default: 440
        Height of the panes in pixels.

    Attributes
    ----------
    embeddings : Embeddings
        What the panes show (read-only): the embeddings given, those of the panes' clock, or
        a windows view of them; its ``segments`` are the rows.
    selection : numpy.ndarray
        ``int64`` array of shape ``(n_selected,)``: the selected rows, sorted and unique, of
        ``explorer.embeddings.segments``; set it (any integer sequence) to select from code.
        Observers fire on every change (``explorer.observe(fn, "selection")``). A change of
        the rows shown (another time scale, or a pane's model of another clock) clears it.
    left, right, color_by, view, time_scale, every, music, highlight
        The parameters of the same names, as traits synced with the widget's menus both ways
        (``left`` and ``right`` normalised: every key of :data:`~embedexplore.widget.PANE_KEYS`
        filled in, ``model`` the full name); setting one from code validates it
        (:class:`traitlets.TraitError` on a bad value) and redraws.
    ready : bool
        True when no pane is computing its projection (see :meth:`wait`).
    left_status, right_status : str
        What each pane says over its points: its projection's progress (``"t-SNE of 423
        points: computing… 35%"``), why it could not project, or nothing.
    scale_note : str
        Why the panes do not show their models' own segments, e.g. ``"tiny: 1 s segments,
        vgg-msd: 2.992 s segments — both panes show 2.992 s windows"``; empty otherwise.
    segment_seconds, hop_seconds : float
        A row's length and the time from one row's start to the next (0: whole tracks).

    Raises
    ------
    TypeError
        ``embeddings`` is not an :class:`~embedexplore.Embeddings`.
    ValueError
        The store holds no extracted model yet.
    traitlets.TraitError
        A pane spec, ``color_by``, ``view``, ``time_scale``, ``every``, ``music`` or
        ``highlight`` is invalid (an unknown model, layer, projection or tag, an unknown key).

    Notes
    -----
    The constructor returns at once. Tag axes, and PCA and STD-PCA of up to 100,000 points, are
    computed in it (they take milliseconds); t-SNE, UMAP and PCA of more points in the
    background, one after the other, where each pane says ``computing…`` with its progress
    (t-SNE: the share of its iterations; others: the seconds spent) until its points come, and
    the kernel stays free meanwhile. Outside a notebook (a script) a progress bar on stderr
    shows each one. A new choice of a pane's model, layer or projection, or of the rows shown,
    supersedes what is computing: its result is never drawn, and a t-SNE stops within 10
    iterations (a UMAP or a PCA cannot be stopped: the next one waits for its end). A
    projection that fails says why in its pane (``left_status``) and in the log. :meth:`wait`
    blocks until both panes are done (``left_xy`` and ``right_xy`` then hold their points);
    the selection, :attr:`selected_tracks` and :meth:`playlist` need no waiting.
    """

    selection = t.Any()

    def __init__(
        self,
        collection,
        embeddings,
        *,
        left: dict | None = None,
        right: dict | None = None,
        color_by: str = "artist",
        view: str = "segments",
        time_scale: str = "native",
        every: int = 1,
        music: dict | None = None,
        highlight: dict | None = None,
        seed: int = 0,
        height: int = 440,
    ) -> None:
        # not hasattr(embeddings, "segments"): reading it raises where the clocks differ
        if not (hasattr(embeddings, "segments_of") and hasattr(embeddings, "array")):
            raise TypeError(
                "embeddings must be what embedexplore.extract() or open_store() returns, got "
                f"{type(embeddings).__name__}"
            )
        if not embeddings.models:
            raise ValueError(f"the store {embeddings.path} holds no extracted model yet")
        self._base = embeddings  # what the menus offer; self._emb: the rows shown
        self._collection = collection
        self._seed = int(seed)
        self._ready = False
        self._syncing = False
        self._views: dict[tuple, object] = {}  # the rows shown so far, by key (see _explorer_scale)
        self._meta = track_meta(embeddings, collection)
        self._point_rows = np.zeros(0, np.int64)  # row of each point (segments view)
        self._point_tracks = np.zeros(0, np.int64)
        self._top: dict[str, np.ndarray] = {}
        # every change of the traits, by the kernel's thread or the projections' worker, holds
        # self._projections.lock (why: see _explorer_jobs)
        self._projections = Projections(self._show_projection)
        left = self._pane_spec(left or {}, "left")
        right = self._pane_spec(right or {}, "right")
        shown = self._show(left["model"], right["model"], scale.check_time_scale(time_scale))
        super().__init__(
            left=left,
            right=right,
            color_by=color_by,
            view=view,
            time_scale=time_scale,
            every=every,
            music=music or {},
            highlight=highlight or {},
            height=height,
            selection=np.zeros(0, np.int64),
            segment_seconds=shown.segment_seconds,
            hop_seconds=shown.hop_seconds,
            scale_note=shown.note,
        )
        self.track_labels = list(self._meta["label"])
        durations = embeddings.tracks["duration"].to_numpy(np.float64)
        self.track_durations = durations.astype("<f4").tobytes()
        self.options = menus(embeddings, self._meta)
        self.on_msg(self._on_message)
        self._ready = True
        with self._projections.lock:
            self._refresh_points()

    # -- the projections in the background (see _explorer_jobs) ---------------------------------

    @property
    def ready(self) -> bool:
        """True when no pane is computing its projection (see :meth:`wait`)."""
        return self._projections.ready

    def wait(self, timeout: float | None = None) -> Explorer:
        """Block until both panes' projections are done (or failed: see their status).

        In a notebook a progress bar shows while it waits; in a script the bars of the
        projections themselves show.

        Parameters
        ----------
        timeout : float, optional
            At most this many seconds (None: until done).

        Returns
        -------
        Explorer
            This Explorer, e.g. ``explorer = ee.Explorer(collection, emb).wait()``.

        Raises
        ------
        TimeoutError
            A pane is still computing after ``timeout`` seconds (it goes on computing).
        """
        self._projections.wait(timeout)
        return self

    def close(self) -> None:
        """Close the widget (its page goes blank) and stop the projections it computes."""
        self._projections.cancel()
        super().close()

    def set_state(self, sync_data) -> None:
        """Apply a state change sent by the browser (see :meth:`ExplorerWidget.set_state
        <embedexplore.widget.ExplorerWidget.set_state>`), holding the Explorer's lock.

        Parameters
        ----------
        sync_data : dict
            Trait names and their JSON values, as the browser sent them.
        """
        # while it runs, traitlets holds the notifications of every trait set, and rolls them
        # back with a refused value: a projection's result set meanwhile would be lost (see
        # _explorer_jobs)
        with self._projections.lock:
            super().set_state(sync_data)

    def notify_change(self, change) -> None:
        """Send a changed trait to the page and call its observers, holding the Explorer's lock.

        Parameters
        ----------
        change : dict
            The change, as traitlets gives it (``name``, ``old``, ``new``, ...).
        """
        # whichever thread set the trait: the observers redraw in hold_sync batches, which must
        # not mix with the projections' worker's changes (see _explorer_jobs)
        with self._projections.lock:
            super().notify_change(change)

    def _show_projection(self, side: str, **traits) -> None:
        # called by self._projections, the lock held: the one place the traits of a pane's
        # projection change
        for name, value in traits.items():
            setattr(self, f"{side}_{name}", value)

    # -- validation of the controls (from code and from the browser alike) ---------------------

    def _pane_spec(self, spec, side: str) -> dict:
        return pane_spec(self._base, spec, side)

    @t.validate("left", "right")
    def _check_pane(self, proposal):
        return self._pane_spec(proposal.value, proposal.trait.name)

    @t.validate("color_by")
    def _check_color(self, proposal):
        value = proposal.value
        if value in COLOR_BY:
            return value
        tag = value[4:] if isinstance(value, str) and value.startswith("tag:") else None
        if tag is not None and self._tag_model(tag, self._base):
            return value
        raise t.TraitError(
            f"color_by must be one of {COLOR_BY} or 'tag:NAME' with a tag of the store's models, "
            f"got {value!r}"
        )

    @t.validate("view")
    def _check_view(self, proposal):
        if proposal.value not in VIEWS:
            raise t.TraitError(f"view must be one of {VIEWS}, got {proposal.value!r}")
        return proposal.value

    @t.validate("time_scale")
    def _check_time_scale(self, proposal):
        return scale.check_time_scale(proposal.value)

    @t.validate("every")
    def _check_every(self, proposal):
        if proposal.value < 1:
            raise t.TraitError(f"every must be >= 1, got {proposal.value}")
        return proposal.value

    @t.validate("music", "highlight")
    def _check_filter(self, proposal):
        return filter_spec(proposal.value, proposal.trait.name)

    @t.validate("selected")
    def _check_selected(self, proposal):
        # bits for other points (a page still showing the previous view, or a hostile one) would
        # select the wrong segments: refused, and the page gets the kernel's bits back
        n = len(self._point_tracks)
        if len(proposal.value) not in (0, (n + 7) // 8):
            raise t.TraitError(
                f"selected holds {len(proposal.value)} bytes, but the {n} points shown take "
                f"{(n + 7) // 8}"
            )
        return proposal.value

    @t.validate("selection")
    def _check_selection(self, proposal):
        rows = np.asarray(proposal.value if proposal.value is not None else [], dtype=object)
        try:
            rows = np.unique(np.asarray(rows.ravel(), np.int64))
        except (TypeError, ValueError) as e:
            raise t.TraitError(f"selection must be rows (integers): {e}") from None
        n = len(self._emb.segments)
        if len(rows) and (rows[0] < 0 or rows[-1] >= n):
            raise t.TraitError(
                f"selection rows must lie in [0, {n}) (rows of explorer.embeddings.segments)"
            )
        return rows

    # -- reacting to changes ----------------------------------------------------------------------

    @t.observe("music", "every", "view")
    def _points_changed(self, change):
        if self._ready:
            self._refresh_points()

    @t.observe("left", "right")
    def _pane_changed(self, change):
        if not self._ready:
            return
        if self._rows_changed():  # a model of another clock: other rows
            self._refresh_points()
            return
        self._refresh_pane(change.name)
        if change.name == "left":
            self._refresh_colors()
            self._refresh_highlight()

    @t.observe("time_scale")
    def _time_scale_changed(self, change):
        if self._ready:
            self._rows_changed()
            self._refresh_points()

    @t.observe("color_by")
    def _color_changed(self, change):
        if self._ready:
            self._refresh_colors()

    @t.observe("highlight")
    def _highlight_changed(self, change):
        if self._ready:
            self._refresh_highlight()

    @t.observe("selected")
    def _selected_changed(self, change):
        if self._syncing or not self._ready:
            return
        bits = np.frombuffer(change.new or b"", np.uint8)
        n = len(self._point_tracks)
        picked = np.flatnonzero(np.unpackbits(bits, bitorder="little")[:n]) if len(bits) else []
        self._syncing = True
        try:
            self.selection = self._rows_of_points(np.asarray(picked, np.int64))
        finally:
            self._syncing = False

    @t.observe("selection")
    def _selection_changed(self, change):
        if self._syncing or not self._ready:
            return
        self._syncing = True
        try:
            self.selected = self._bits_of_rows(change.new)
        finally:
            self._syncing = False

    # -- the rows shown (see _explorer_scale) -----------------------------------------------------

    @property
    def embeddings(self):
        """The embeddings the panes show, whose rows :attr:`selection` indexes (read-only).

        The :class:`~embedexplore.Embeddings` given (with only the models of the panes' clock,
        where the store holds models of several clocks), or a windows view of them
        (:meth:`Embeddings.windows <embedexplore.embeddings.Embeddings.windows>`) at a time
        scale other than ``"native"``, or where the panes' models have different clocks.
        """
        return self._emb

    def _show(self, left: str, right: str, time_scale: str) -> scale.Rows:
        shown = scale.rows_shown(self._base, left, right, time_scale, self._views)
        self._shown = shown
        self._emb = shown.embeddings
        counts = self._emb.tracks["n_segments"].to_numpy()
        self._segment_track = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        return shown

    def _rows_changed(self) -> bool:
        """Show the rows of the panes' models at the time scale; True (and the selection
        cleared) if they are other rows than before."""
        before = self._shown.key
        shown = self._show(self._model("left"), self._model("right"), self.time_scale)
        with self.hold_sync():
            self.segment_seconds = shown.segment_seconds
            self.hop_seconds = shown.hop_seconds
            self.scale_note = shown.note
        if shown.key == before:
            return False
        if len(self.selection):
            self._syncing = True  # the bits follow in _refresh_points
            try:
                self.selection = np.zeros(0, np.int64)
            finally:
                self._syncing = False
        return True

    # -- selection --------------------------------------------------------------------------------

    def _rows_of_points(self, points: np.ndarray) -> np.ndarray:
        if self.view != "averages":
            return np.sort(self._point_rows[points])
        return rows_of_tracks(self._emb.tracks, np.sort(self._point_tracks[points]))

    def _bits_of_rows(self, rows) -> bytes:
        rows = np.asarray(rows if rows is not None else [], np.int64)
        if self.view == "averages":
            mask = np.isin(self._point_tracks, np.unique(self._segment_track[rows]))
        else:
            mask = np.isin(self._point_rows, rows)
        return np.packbits(mask, bitorder="little").tobytes() if mask.any() else b""

    @property
    def selected_segments(self) -> pd.DataFrame:
        """The selected rows (segments or windows) with their track's tags and strongest tags.

        A :class:`pandas.DataFrame` of the ``n_selected`` rows of
        ``explorer.embeddings.segments`` (same index; ``start`` and ``end`` in seconds), with
        the track's ``artist``, ``title``, ``album`` and ``genre`` (its first), and
        ``top_tags`` (list of the three strongest tags of the left pane's model, when that
        model's taggrams are stored: of the row's mean taggram for a window).
        """
        return rows_table(self._emb, self._meta, self.selection, self._model("left"))

    @property
    def selected_tracks(self) -> pd.DataFrame:
        """The tracks of the selection, in order of first selected row.

        A :class:`pandas.DataFrame` indexed by ``track_id``: ``artist``, ``title``, ``album``,
        ``genre`` (the first), ``path``, ``n_selected`` of the track's ``n_segments`` rows
        (segments or windows of ``explorer.embeddings``; both ``int64``) and ``share``, the
        first divided by the second (``float64``; what :meth:`playlist`'s ``min_share`` is
        compared with).
        """
        out = tracks_table(self._emb, self._meta, self.selection)
        out["share"] = (out["n_selected"] / out["n_segments"]).astype(np.float64)
        return out

    def playlist(
        self, *, order: str = "selection", path=None, relative: bool = False,
        min_share: float = MIN_SHARE,
    ):  # fmt: skip
        """The selection as a playlist, one entry per track, saved to ``path`` when given.

        A track enters when at least ``min_share`` of its rows are selected (its ``share`` in
        :attr:`selected_tracks`): a lasso that grazes a long track leaves it out.

        Parameters
        ----------
        order : {"selection", "time", "axis"}, default: "selection"
            See :func:`embedexplore.playlist.from_selection`; ``"axis"`` uses the left pane's
            model.
        path : str or os.PathLike, optional
            A file to save the playlist to: ``.m3u8``/``.m3u`` (M3U8) or ``.xspf``.
        relative : bool, default: False
            Write paths relative to the playlist's folder.
        min_share : float, default: 0.25
            The share of a track's rows that must be selected for it to enter, from 0 to 1: 0
            takes every track with a selected row. Where no track has that share, the playlist
            is empty and a warning says to lower it.

        Returns
        -------
        pandas.DataFrame
            The tracks in play order (see :mod:`embedexplore.playlist`).

        Raises
        ------
        ValueError
            ``path`` has another extension, ``order`` is invalid or ``min_share`` is outside
            [0, 1].
        """
        from . import playlist as pl

        out = pl.from_selection(self._emb, self.selection, order=order,
                                model=self._model("left"), collection=self._collection,
                                min_share=min_share)  # fmt: skip
        if path is not None:
            suffix = str(path).lower().rsplit(".", 1)[-1]
            if suffix in ("m3u8", "m3u"):
                pl.to_m3u8(out, path, relative=relative)
            elif suffix == "xspf":
                pl.to_xspf(out, path, relative=relative)
            else:
                raise ValueError(f"save a playlist as .m3u8 or .xspf, not {path}")
        return out

    # -- the browser's requests -------------------------------------------------------------------

    def _on_message(self, _widget, content, _buffers) -> None:
        requests.answer(self, content, embeddings=self._emb, labels=self._meta["label"])
