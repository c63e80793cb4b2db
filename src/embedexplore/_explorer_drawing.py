"""What the Explorer's panes draw: the points of the rows shown, each pane's projection, title
and strongest tags, the colours and the highlight. A part of :class:`embedexplore.Explorer`
(its base class), which holds the state these methods read and write and calls them when a
control changes.
"""

from __future__ import annotations

import logging
from functools import partial

import numpy as np

from . import _explorer_colors as colors
from ._explorer_controls import PROJECTION_NAMES
from ._explorer_jobs import in_background, job
from ._explorer_tracks import rows_of_tracks, tag_columns, tracks_matching
from .widget import SEGMENT_NONE

# the records of the Explorer come from its logger, wherever they are written
logger = logging.getLogger("embedexplore.explorer")


class Drawing:
    """The drawing methods of :class:`embedexplore.Explorer` (see the module docstring)."""

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
        method = spec["projection"]
        name = PROJECTION_NAMES[method]
        n = len(self._point_tracks)
        title = f"{model} · {spec['layer']} · {name}"
        if method == "tags":
            title = f"{model} · tags: {spec['x_tag']} × {spec['y_tag']}"
        tags, names = self._top_tags(model)
        jobs = self._projections
        with jobs.lock:
            generation = jobs.start(side)
            try:
                self._draw_pane(side, generation, spec, model, method, name, n, title, tags, names)
            except BaseException as e:
                # whatever failed, the pane ends this generation with the error: never a status
                # of a projection that no one computes, nor a wait() that never returns
                jobs.finish(side, generation, None, f"cannot project: {e}")
                raise

    def _draw_pane(self, side, generation, spec, model, method, name, n, title, tags, names):
        jobs = self._projections
        with self.hold_sync():
            setattr(self, f"{side}_title", title)
            setattr(self, f"{side}_tags", tags)
            setattr(self, f"{side}_tag_names", names)
        try:
            args = self._projection_args(spec, model)
        except ValueError as e:
            jobs.finish(side, generation, None, _refused(side, e))
            return
        if in_background(method, n):  # seconds to minutes: see _explorer_jobs
            note = " (a session's first UMAP compiles: ~1 min)"
            compute = partial(_project_normalised, args)
            jobs.submit(side, job(generation, name, n, compute,
                                  note if method == "umap" else ""))  # fmt: skip
            return
        xy, error = np.zeros((n, 2)), ""
        try:
            if n:
                xy = _project_normalised(args)
        except (ValueError, RuntimeError, MemoryError) as e:
            xy, error = None, _refused(side, e)
        jobs.finish(side, generation, xy, error)

    def _projection_args(self, spec, model) -> dict:
        """What :func:`~embedexplore.project` computes the pane from: the rows shown now (the
        worker may run after they changed)."""
        averages = self.view == "averages"
        rows = self._point_tracks if averages else self._point_rows
        method = spec["projection"]
        if method != "tags" and 0 < len(rows) < 3:
            raise ValueError(f"{len(rows)} points: a projection needs at least 3")
        return {"data": self._emb, "method": method, "model": model,
                "layer": "taggrams" if method == "tags" else spec["layer"],
                "rows": rows.copy(), "level": "track" if averages else "segment",
                "seed": self._seed,
                "tags": (spec["x_tag"], spec["y_tag"]) if method == "tags" else None}  # fmt: skip

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


def _project_normalised(args: dict, progress=None) -> np.ndarray:
    from .projection import project

    return _normalise(project(**args, progress=progress))


def _refused(side: str, error: Exception) -> str:
    status = f"cannot project: {error}"
    logger.warning("%s pane: %s", side, status)
    return status


def _normalise(xy: np.ndarray) -> np.ndarray:
    """Centre on the bounding box and scale both axes alike into [-0.95, 0.95]."""
    xy = np.asarray(xy, np.float64)
    if not len(xy) or not np.isfinite(xy).all():
        return np.zeros((len(xy), 2), np.float32)
    lo, hi = xy.min(0), xy.max(0)
    half = float((hi - lo).max()) / 2
    scale = 0.95 / half if half > 0 else 1.0
    return ((xy - (lo + hi) / 2) * scale).astype(np.float32)
