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
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import traitlets as t

from . import _explorer_colors as colors
from . import _explorer_requests as requests
from . import _explorer_scale as scale
from ._explorer_controls import COLOR_BY, PROJECTION_NAMES, VIEWS, filter_spec, menus, pane_spec
from ._explorer_tracks import (
    rows_of_tracks,
    rows_table,
    tag_columns,
    track_meta,
    tracks_matching,
    tracks_table,
)
from .widget import SEGMENT_NONE, ExplorerWidget

__all__ = ["COLOR_BY", "TIME_SCALES", "VIEWS", "Explorer"]

logger = logging.getLogger(__name__)

TIME_SCALES = tuple(scale.TIME_SCALES)  # "native", "10", "30", "track"


class Explorer(ExplorerWidget):
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
        self._refresh_points()

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

    # -- what is drawn ----------------------------------------------------------------------------

    def _refresh_points(self) -> None:
        tracks = self._shown_tracks()
        emb = self._emb
        counts = emb.tracks["n_segments"].to_numpy()
        if self.view == "averages":
            self._point_tracks = tracks[counts[tracks] > 0]
            self._point_rows = np.zeros(0, np.int64)
            segment = np.full(len(self._point_tracks), SEGMENT_NONE, np.uint32)
        else:
            rows = rows_of_tracks(emb.tracks, tracks)[:: self.every]
            self._point_rows = rows
            self._point_tracks = self._segment_track[rows]
            segment = emb.segments["segment"].to_numpy()[rows].astype(np.uint32)
        self._top = {}
        with self.hold_sync():
            self.n_points = len(self._point_tracks)
            self.point_track = self._point_tracks.astype("<u4").tobytes()
            self.point_segment = segment.astype("<u4").tobytes()
            self.point_weight = self._weights()
            self._syncing = True
            try:
                self.selected = self._bits_of_rows(self.selection)
            finally:
                self._syncing = False
        self._refresh_pane("left")
        self._refresh_pane("right")
        self._refresh_colors()
        self._refresh_highlight()

    def _model(self, side: str) -> str:
        return getattr(self, side)["model"]

    def _refresh_pane(self, side: str) -> None:
        spec = getattr(self, side)
        model = self._model(side)
        name = PROJECTION_NAMES[spec["projection"]]
        n = len(self._point_tracks)
        title = f"{model} · {spec['layer']} · {name}"
        if spec["projection"] == "tags":
            title = f"{model} · tags: {spec['x_tag']} × {spec['y_tag']}"
        setattr(self, f"{side}_title", title)
        if n and spec["projection"] in ("tsne", "umap"):
            wait = " (its first run in a session compiles first: about a minute)"
            setattr(self, f"{side}_status", f"computing {name} of {n:,} points…" +
                    (wait if spec["projection"] == "umap" else ""))  # fmt: skip
        xy = np.zeros((n, 2), np.float32)
        status = ""
        try:
            if n:
                xy = self._project(spec, model)
        except (ValueError, RuntimeError, MemoryError) as e:
            status = f"cannot project: {e}"
            logger.warning("%s pane: %s", side, status)
        tags, names = self._top_tags(model)
        with self.hold_sync():
            setattr(self, f"{side}_xy", _normalise(xy).T.astype("<f4").tobytes())
            setattr(self, f"{side}_tags", tags)
            setattr(self, f"{side}_tag_names", names)
            setattr(self, f"{side}_status", status)

    def _project(self, spec, model) -> np.ndarray:
        from .projection import project

        averages = self.view == "averages"
        rows = self._point_tracks if averages else self._point_rows
        level = "track" if averages else "segment"
        method = spec["projection"]
        layer = "taggrams" if method == "tags" else spec["layer"]
        if method != "tags" and len(rows) < 3:
            raise ValueError(f"{len(rows)} points: a projection needs at least 3")
        return project(self._emb, method, model=model, layer=layer, rows=rows, level=level,
                       seed=self._seed, tags=(spec["x_tag"], spec["y_tag"]) if method == "tags"
                       else None)  # fmt: skip

    def _taggrams(self, model: str) -> np.ndarray | None:
        """The shown points' taggrams of ``model`` (float32), or None if it has none."""
        if "taggrams" not in self._emb.layers(model):
            return None
        if self.view == "averages":
            return self._emb.per_track(model, "taggrams").mean[self._point_tracks]
        return np.asarray(self._emb.array(model, "taggrams")[self._point_rows], np.float32)

    def _top_tags(self, model: str) -> tuple[bytes, list[str]]:
        labels = self._emb.labels(model)
        if model not in self._top:
            x = self._taggrams(model)
            if x is None or not labels or not len(x):
                self._top[model] = np.zeros((len(self._point_tracks), 0), np.uint8)
            else:
                top = np.argpartition(-x, 3, axis=1)[:, :3]
                order = np.argsort(-np.take_along_axis(x, top, 1), axis=1)
                self._top[model] = np.take_along_axis(top, order, 1).astype(np.uint8)
        top = self._top[model]
        names = list(labels) if top.shape[1] else []
        return np.ascontiguousarray(top).tobytes(), names

    def _weights(self) -> bytes:
        if self.view != "averages" or not len(self._point_tracks):
            return b""
        model = self._model("left")
        layer = self.left["layer"]
        spread = self._emb.per_track(model, layer).std[self._point_tracks]
        s = np.nan_to_num(np.linalg.norm(spread, axis=1))
        lo, hi = float(s.min()), float(s.max())
        w = (s - lo) / (hi - lo) if hi > lo else np.full_like(s, 0.5)
        return w.astype("<f4").tobytes()

    def _tag_model(self, tag: str, embeddings=None) -> str | None:
        """The model whose activation of ``tag`` colours the points: the left pane's, else the
        right's, else any model with that tag (of ``embeddings``: by default those shown)."""
        emb = embeddings if embeddings is not None else self._emb
        for m in dict.fromkeys([self._model("left"), self._model("right"), *emb.models]):
            if m in emb.models and tag in (emb.labels(m) or ()) and "taggrams" in emb.layers(m):
                return m
        return None

    def _refresh_colors(self) -> None:
        n = len(self._point_tracks)
        by, kind = self.color_by, "categorical"
        model = self._tag_model(by[4:]) if by.startswith("tag:") else None
        if model is not None:
            x = self._taggrams(model)
            v = x[:, list(self._emb.labels(model)).index(by[4:])] if n else np.zeros(0)
            codes, legend = colors.ramp_codes(v, f"{by[4:]} ({model})")
            kind = "continuous"
        elif by == "none" or by.startswith("tag:"):  # a tag only a model of another clock has
            label = "all" if by == "none" else f"{by[4:]}: not among the models of these rows"
            codes, legend = np.zeros(n, np.int64), [{"label": label, "color": colors.ALL}]
        else:
            labels = self._meta[by].to_numpy(dtype=object)[self._point_tracks]
            codes, legend = colors.categories(labels)
        with self.hold_sync():
            self.color_codes = codes.astype("<u2").tobytes()
            self.legend = legend
            self.color_kind = kind

    def _shown_tracks(self) -> np.ndarray:
        if not self.music:
            return np.arange(len(self._meta), dtype=np.int64)
        hit = tracks_matching(self._meta, self.music, self._emb, self._model("left"))
        return np.flatnonzero(hit).astype(np.int64)

    def _refresh_highlight(self) -> None:
        if not self.highlight:
            self.highlighted = b""
            return
        hit = tracks_matching(self._meta, self.highlight)  # tags: of each point, below
        mask = hit[self._point_tracks]
        tags = self.highlight.get("tags", [])
        if tags:  # segments whose own three strongest tags (left pane's model) include one
            model = self._model("left")
            self._top_tags(model)
            top = self._top.get(model)
            if top is not None and top.shape[1]:
                cols = tag_columns(self._emb.labels(model), tags)
                mask |= np.isin(top, cols).any(axis=1)
        self.highlighted = mask.astype(np.uint8).tobytes()

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
        ``genre`` (the first), ``path``, and ``n_selected`` of the track's ``n_segments`` rows
        (segments or windows of ``explorer.embeddings``; both ``int64``).
        """
        return tracks_table(self._emb, self._meta, self.selection)

    def playlist(self, *, order: str = "selection", path=None, relative: bool = False):
        """The selection as a playlist, one entry per track, saved to ``path`` when given.

        Parameters
        ----------
        order : {"selection", "time", "axis"}, default: "selection"
            See :func:`embedexplore.playlist.from_selection`; ``"axis"`` uses the left pane's
            model.
        path : str or os.PathLike, optional
            A file to save the playlist to: ``.m3u8``/``.m3u`` (M3U8) or ``.xspf``.
        relative : bool, default: False
            Write paths relative to the playlist's folder.

        Returns
        -------
        pandas.DataFrame
            The tracks in play order (see :mod:`embedexplore.playlist`).

        Raises
        ------
        ValueError
            ``path`` has another extension, or ``order`` is invalid.
        """
        from . import playlist as pl

        out = pl.from_selection(self._emb, self.selection, order=order,
                                model=self._model("left"), collection=self._collection)  # fmt: skip
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


def _normalise(xy: np.ndarray) -> np.ndarray:
    """Centre on the bounding box and scale both axes alike into [-0.95, 0.95]."""
    xy = np.asarray(xy, np.float64)
    if not len(xy) or not np.isfinite(xy).all():
        return np.zeros((len(xy), 2), np.float32)
    lo, hi = xy.min(0), xy.max(0)
    half = float((hi - lo).max()) / 2
    scale = 0.95 / half if half > 0 else 1.0
    return ((xy - (lo + hi) / 2) * scale).astype(np.float32)
