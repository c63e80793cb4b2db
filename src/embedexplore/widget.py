"""The Explorer's synced state: the traits the browser and the kernel share, and nothing else.

The behaviour (what the traits are computed from, the audio requests, the selection as
DataFrames) lives in :mod:`embedexplore.explorer`; the frontend in ``js/src/widget.js`` reads and
writes exactly these traits. Arrays travel as little-endian binary buffers (``bytes`` here, a
``DataView`` in the browser, wrapped without a copy), never as JSON lists:

======================  ===========  ============================================================
trait                   layout       meaning
======================  ===========  ============================================================
``point_track``         uint32[n]    track index (row of ``embeddings.tracks``) of each point
``point_segment``       uint32[n]    row index within its track: segment or window ``k``
                                     (``SEGMENT_NONE``: a track average)
``track_durations``     float32[t]   each track's duration in seconds (ends the last window)
``left_xy``             uint16[2n]   the left pane's x then y, in [-1, 1] (aspect kept), each
                                     as ``round((v + 1) * 32767.5)`` (:func:`encode_xy`)
``left_tags``           uint8[3n]    each point's three strongest tags (into ``left_tag_names``)
``color_codes``         uint16[n]    each point's entry of ``legend``
``point_weight``        float32[n]   a size in [0, 1] (track averages: the spread of its segments)
``highlighted``         uint8[n]     1 where a point is highlighted (empty: nothing is)
``selected``            bits[n]      the selection, bit ``i % 8`` of byte ``i // 8``; both ways
======================  ===========  ============================================================

The coordinates travel as 16-bit integers, half the bytes of float32 (4 M points: 32 MB a pane
instead of 64): a coordinate is then within 1.6e-5 of its value, a 30th of a pixel on a pane
4,000 pixels wide. :func:`decode_xy` gives them back as the browser reads them.

Row ``k`` of a track spans ``[k * hop_seconds, k * hop_seconds + segment_seconds)``, cut at the
track's end (both 0: the row is the whole track); the page uses them for labels only, the kernel
cuts clips from its own table of rows.

The browser may write only the controls (``left``, ``right``, ``color_by``, ``view``,
``time_scale``, ``every``, ``music``, ``highlight``) and ``selected``: the traits tagged
``from_browser``. Any other change
it sends is dropped and the kernel's value sent back, and a control value the kernel refuses
(a :class:`traitlets.TraitError`) is logged and reset the same way, so a hostile or stale page
can neither change what the kernel computes from nor leave a traceback in the notebook.
"""

from __future__ import annotations

import logging
from pathlib import Path

import anywidget
import numpy as np
import traitlets as t

from .audio import SEGMENT_SECONDS

__all__ = ["PANE_KEYS", "SEGMENT_NONE", "XY_SCALE", "ExplorerWidget", "decode_xy", "encode_xy"]

logger = logging.getLogger(__name__)

SEGMENT_NONE = 0xFFFFFFFF
PANE_KEYS = ("model", "layer", "projection", "x_tag", "y_tag")
# a coordinate v in [-1, 1] travels as round((v + 1) * XY_SCALE), 0..65535 (js/src/traits.js)
XY_SCALE = 32767.5


def encode_xy(xy) -> bytes:
    """A pane's points as the ``<side>_xy`` trait: uint16 x then y.

    Parameters
    ----------
    xy : array_like, shape (n, 2)
        Coordinates in [-1, 1] (values outside are clipped to it).

    Returns
    -------
    bytes
        ``4 n`` bytes, little-endian: the n x values, then the n y values.
    """
    xy = np.asarray(xy, np.float64).reshape(-1, 2)
    q = np.rint((np.clip(xy, -1.0, 1.0) + 1.0) * XY_SCALE)
    return np.ascontiguousarray(q.T, "<u2").tobytes()


def decode_xy(data: bytes) -> np.ndarray:
    """The points of a ``<side>_xy`` trait, as the browser reads them.

    Parameters
    ----------
    data : bytes
        The trait's value (:func:`encode_xy`).

    Returns
    -------
    numpy.ndarray
        float32, shape (n, 2), in [-1, 1].
    """
    q = np.frombuffer(data, "<u2").reshape(2, -1)
    return (q.T.astype(np.float32) / np.float32(XY_SCALE) - np.float32(1.0)).astype(np.float32)


_STATIC = Path(__file__).parent / "static"


def _bundle(name: str) -> Path | str:
    path = _STATIC / name
    if path.exists():
        return path
    # an editable install without the built frontend: say how to build it instead of failing
    # with a blank output cell
    return (
        "export default { render({ el }) { el.textContent = "
        "\"embedexplore: the widget's frontend is not built; run `npm --prefix js ci && "
        'npm --prefix js run build` in the source tree (or reinstall the package)."; } };'
        if name.endswith(".js")
        else ""
    )


def _bytes_from_browser(value, _widget) -> bytes:
    # the browser's bytes arrive as a memoryview, which the Bytes trait refuses: copy them. Only
    # a buffer is taken: bytes() of a JSON number would allocate that many zero bytes (2**40: a
    # terabyte), of a list would make bytes of its items.
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise t.TraitError(f"selected must arrive as a binary buffer, got {type(value).__name__}")


def _count_bits(data: bytes) -> int:
    """How many points a ``selected`` bitmask holds."""
    return int(np.unpackbits(np.frombuffer(data, np.uint8)).sum())


def _short(text: object, limit: int = 200) -> str:
    """``text`` as a string of at most ``limit`` characters (a browser's value can be megabytes)."""
    text = str(text)
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


class ExplorerWidget(anywidget.AnyWidget):
    """Two linked scatter panes of a collection's segments (the traits only).

    Use :class:`embedexplore.Explorer`, which fills these traits from a collection and its
    embeddings. The binary traits and their layouts (for ``n`` points) are listed in the module
    docstring of :mod:`embedexplore.widget`; every array is little-endian ``bytes``.

    Parameters
    ----------
    *args
        Passed to :class:`anywidget.AnyWidget`.
    **kwargs
        Initial values of the traits by name (e.g. ``left={...}``, ``view="segments"``), as for
        any :class:`anywidget.AnyWidget`.
    """

    _esm = _bundle("widget.js")
    _css = _bundle("widget.css")

    # what is drawn (kernel -> browser)
    n_points = t.Int(0).tag(sync=True)
    point_track = t.Bytes(b"").tag(sync=True)
    point_segment = t.Bytes(b"").tag(sync=True)
    track_labels = t.List(t.Unicode()).tag(sync=True)
    track_durations = t.Bytes(b"").tag(sync=True)
    # the rows' times, for the labels only: the kernel cuts clips from its own table of rows
    segment_seconds = t.Float(SEGMENT_SECONDS).tag(sync=True)
    hop_seconds = t.Float(SEGMENT_SECONDS).tag(sync=True)
    scale_note = t.Unicode("").tag(sync=True)
    left_xy = t.Bytes(b"").tag(sync=True)
    right_xy = t.Bytes(b"").tag(sync=True)
    left_tags = t.Bytes(b"").tag(sync=True)
    right_tags = t.Bytes(b"").tag(sync=True)
    left_tag_names = t.List(t.Unicode()).tag(sync=True)
    right_tag_names = t.List(t.Unicode()).tag(sync=True)
    left_title = t.Unicode("").tag(sync=True)
    right_title = t.Unicode("").tag(sync=True)
    left_status = t.Unicode("").tag(sync=True)
    right_status = t.Unicode("").tag(sync=True)
    # each pane's projection computing in the background (see _explorer_jobs): whether it
    # computes, and the share done (-1: the method does not say: UMAP, PCA)
    left_computing = t.Bool(False).tag(sync=True)
    right_computing = t.Bool(False).tag(sync=True)
    left_progress = t.Float(-1.0).tag(sync=True)
    right_progress = t.Float(-1.0).tag(sync=True)
    color_codes = t.Bytes(b"").tag(sync=True)
    legend = t.List(t.Dict()).tag(sync=True)
    color_kind = t.Unicode("categorical").tag(sync=True)
    point_weight = t.Bytes(b"").tag(sync=True)
    highlighted = t.Bytes(b"").tag(sync=True)
    options = t.Dict().tag(sync=True)
    status = t.Unicode("").tag(sync=True)
    height = t.Int(440).tag(sync=True)

    # controls (both ways: the widget's menus set them, and so can code)
    left = t.Dict().tag(sync=True, from_browser=True)
    right = t.Dict().tag(sync=True, from_browser=True)
    color_by = t.Unicode("artist").tag(sync=True, from_browser=True)
    view = t.Unicode("segments").tag(sync=True, from_browser=True)
    time_scale = t.Unicode("native").tag(sync=True, from_browser=True)
    every = t.Int(1).tag(sync=True, from_browser=True)
    music = t.Dict().tag(sync=True, from_browser=True)
    highlight = t.Dict().tag(sync=True, from_browser=True)
    selected = t.Bytes(b"").tag(sync=True, from_browser=True, from_json=_bytes_from_browser)

    def set_state(self, sync_data) -> None:
        """Apply a state change sent by the browser: only the traits it may write, validated.

        Parameters
        ----------
        sync_data : dict
            Trait names and their JSON values (binary buffers in place), as the browser sent
            them. Names not tagged ``from_browser`` are dropped; a value the traits refuse
            changes nothing. Either way the kernel's values of those names are sent back, so the
            page shows what the kernel holds. A selection taken is acknowledged with the custom
            message ``{"type": "selected", "points": n}``.
        """
        if not isinstance(sync_data, dict):
            logger.warning("ignored a widget state update that is not an object")
            return
        writable = {
            name: value
            for name, value in sync_data.items()
            if isinstance(name, str)
            and self.has_trait(name)
            and self.trait_metadata(name, "from_browser", False)
        }
        refused = [name for name in sync_data if name not in writable]
        if refused:
            logger.warning(
                "ignored the browser's change of %s: only the kernel sets %s",
                _short(", ".join(map(str, refused))),
                "it" if len(refused) == 1 else "them",
            )
            self.send_state([n for n in refused if n in self.keys])
        if not writable:
            return
        try:
            super().set_state(writable)
        except t.TraitError as e:
            logger.warning("refused the browser's %s: %s", ", ".join(writable), _short(e))
            self.send_state(list(writable))
            return
        if "selected" in writable:
            # the page draws a large selection from a subsample until the kernel has it: the
            # full redraw of millions of points would otherwise take the CPU the kernel needs
            # to receive it (js/src/widget.js)
            self.send({"type": "selected", "points": _count_bits(self.selected)})
