"""The Explorer's time scale: which rows both panes show, and the models' menu.

Both panes show the same rows, so that hovering or selecting in one marks the same point in the
other. At the ``"native"`` time scale the rows are the segments of the panes' models when they
share a clock (MusiCNN beside VGG: 2.992 s); when they do not (VGGish's 0.96 s beside MusiCNN's
2.992 s), both show windows of the coarser clock's segment length, and a note says so. The other
time scales are windows of 10 s or 30 s, or whole tracks (:meth:`Embeddings.windows
<embedexplore.embeddings.Embeddings.windows>`).

The frontend's half is ``js/src/scale.js`` (the times of a row, for labels and audio).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import traitlets as t

#: The time scales, in menu order, and their names in the menu.
TIME_SCALES = {"native": "native segments", "10": "10 s windows", "30": "30 s windows",
               "track": "whole tracks"}  # fmt: skip


@dataclass(frozen=True)
class Rows:
    """What the panes show: an :class:`~embedexplore.Embeddings` (or a windows view of one).

    ``key`` is the same exactly when the rows are; ``segment_seconds`` is a row's length and
    ``hop_seconds`` the time from one row's start to the next (both 0 for whole tracks);
    ``note`` says why the panes do not show their models' own segments (or is empty).
    """

    embeddings: object
    key: tuple
    segment_seconds: float
    hop_seconds: float
    note: str = ""


def check_time_scale(value) -> str:
    """``value`` if it is one of :data:`TIME_SCALES`, else a :class:`traitlets.TraitError`."""
    if isinstance(value, str) and value in TIME_SCALES:
        return value
    shown = repr(value) if len(repr(value)) < 60 else f"{repr(value)[:59]}…"
    raise t.TraitError(f"time_scale must be one of {tuple(TIME_SCALES)}, got {shown}")


def seconds(value: float) -> str:
    """A length in seconds as the Explorer writes it: ``"2.992 s"``, ``"1 s"``."""
    return f"{value:.4g} s"


def _segments(clock) -> str:
    text = f"{seconds(clock.segment_seconds)} segments"
    if clock.hop != clock.segment:
        text += f" every {seconds(clock.hop_seconds)}"
    return text


def model_title(embeddings, model: str) -> str:
    """``model``'s name with what the registry says of it and its clock (as stored).

    E.g. ``"musicnn-msd (musicnn, MSD, 2.992 s segments)"``, ``"tiny (custom, 1 s segments)"``;
    a model the registry does not know (registered in another session) shows its name and clock.
    """
    from .registry import find

    spec = find(model)
    parts = []
    if spec is not None:
        parts.append(spec.architecture)
        if spec.dataset and spec.dataset != "-":
            parts.append(spec.dataset)
    parts.append(_segments(embeddings.clock(model)))
    return f"{model} ({', '.join(parts)})"


def model_menu(embeddings) -> list[list[str]]:
    """``[name, title]`` of every model of ``embeddings``, in their order (the panes' menus)."""
    return [[m, model_title(embeddings, m)] for m in embeddings.models]


def _one_table(embeddings) -> bool:
    """Whether all models of ``embeddings`` share one table of rows."""
    try:
        embeddings.segments  # noqa: B018 (raises where the models' clocks differ)
    except ValueError:
        return False
    return True


def rows_shown(base, left: str, right: str, time_scale: str, views: dict) -> Rows:
    """The rows both panes show for these models and this time scale.

    Parameters
    ----------
    base : Embeddings
        What the Explorer was given (segments, or a windows view).
    left, right : str
        The panes' models.
    time_scale : str
        One of :data:`TIME_SCALES`.
    views : dict
        Views made before, by key (reused: a windows view keeps its arrays in memory).

    Returns
    -------
    Rows
        The embeddings to show and their times.
    """
    from ._windows import Windows

    if time_scale != "native":
        length = "track" if time_scale == "track" else float(time_scale)
        return _windows(base, length, views)
    if isinstance(base, Windows):  # the Explorer was given windows: they are its rows
        return _windows(base, base.seconds, views, view=base)
    a, b = base.clock(left), base.clock(right)
    if _one_table(base) or a == b:
        key = ("native", a.key)
        if key not in views:
            views[key] = base if _one_table(base) else one_clock(base, left)
        return Rows(views[key], key, a.segment_seconds, a.hop_seconds)
    coarse = max((a, b), key=lambda c: (c.segment_seconds, c.hop_seconds))
    rows = _windows(base, coarse.segment_seconds, views)
    note = (
        f"{left}: {_segments(a)}, {right}: {_segments(b)} — both panes show "
        f"{seconds(coarse.segment_seconds)} windows"
    )
    return Rows(rows.embeddings, rows.key, rows.segment_seconds, rows.hop_seconds, note)


def _windows(base, length, views: dict, view=None) -> Rows:
    key = ("windows", length)
    if key not in views:
        views[key] = view if view is not None else base.windows(length)
    step = 0.0 if length == "track" else float(length)
    return Rows(views[key], key, step, step)


def one_clock(base, model: str):
    """``base`` with only the models of ``model``'s clock: one table of rows, its segments.

    A shallow copy sharing the store, its parts and its arrays (nothing is read again);
    ``tracks["n_segments"]`` and ``["first_row"]`` are those of that clock.
    """
    clock = base.clock(model)
    view = copy.copy(base)
    view.models = tuple(m for m in base.models if base.clock(m) == clock)
    grid = base._grid(model)
    view._grids = {clock: grid}
    view.tracks = base.tracks.copy()
    view.tracks["n_segments"] = grid.n
    view.tracks["first_row"] = grid.first
    return view
