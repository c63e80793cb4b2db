"""Listen in the notebook: exact segments and tracks as small players that live in the saved file.

>>> listen.segment(embeddings, row=42)                          # doctest: +SKIP
>>> listen.players(playlist_frame, embeddings)                  # doctest: +SKIP

Each clip is decoded by :func:`embedexplore.clips.faded_span` (sample-exact seeking, so a
segment's clip is exactly the 2.992 s the models saw), mixed to mono, and encoded as MP3 at
22.05 kHz and 48 kbit/s with the encoder FFmpeg bundles in PyAV: a segment is about 18 kB, small
enough to keep in a notebook next to the figure it belongs to (a WAV of it would be 132 kB), and
every browser plays MP3. IPython's ``Audio`` has no way to embed compressed bytes under a given
type in a table, hence the small HTML written here.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable

import av
import numpy as np
import pandas as pd

from . import audio, clips
from .clock import SEGMENT_SECONDS

__all__ = ["Clip", "clip", "mp3_bytes", "players", "segment"]

RATE = 22_050
"""Sample rate of the clips (Hz)."""
BIT_RATE = 48_000
"""MP3 bit rate of the clips (bit/s): transparent enough to tell a piano from a synth."""
MAX_SECONDS = 30.0
"""The longest clip made: notebooks stay small."""


def mp3_bytes(samples: np.ndarray, sample_rate: int = RATE, *, bit_rate: int = BIT_RATE) -> bytes:
    """Encode mono samples as an MP3 file in memory.

    Parameters
    ----------
    samples : np.ndarray of shape ``(n,)``
        Mono audio, float, in [-1, 1].
    sample_rate : int
        Its sample rate in Hz.
    bit_rate : int
        Bit rate in bit/s.

    Returns
    -------
    bytes
        An MP3 file (MPEG-1/2 layer III, constant bit rate).
    """
    x = np.clip(np.asarray(samples, np.float32).reshape(1, -1), -1.0, 1.0)
    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=sample_rate, layout="mono")
        stream.codec_context.bit_rate = bit_rate
        step = 4608
        for i in range(0, x.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(x[:, i : i + step]), format="fltp", layout="mono"
            )
            frame.sample_rate = sample_rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


class Clip:
    """A short piece of audio that shows as a player in a notebook (and in its saved file).

    Parameters
    ----------
    data : bytes
        An MP3 file.
    label : str
        Text shown next to the player.
    seconds : float
        Its length in seconds.

    Attributes
    ----------
    data, label, seconds
        As given.
    """

    def __init__(self, data: bytes, label: str = "", seconds: float = 0.0) -> None:
        self.data = data
        self.label = label
        self.seconds = seconds

    def __repr__(self) -> str:
        return f"<Clip {self.label!r}: {self.seconds:.3f} s, {len(self.data)} bytes of MP3>"

    def player(self) -> str:
        """The ``<audio>`` element of this clip.

        Returns
        -------
        str
            HTML with the clip inline as a data URI.
        """
        src = "data:audio/mpeg;base64," + base64.b64encode(self.data).decode("ascii")
        title = html.escape(self.label, quote=True)
        return f'<audio controls preload="none" title="{title}" src="{src}"></audio>'

    def _repr_html_(self) -> str:
        text = f" <span>{html.escape(self.label)}</span>" if self.label else ""
        return f'<div class="embedexplore-clip">{self.player()}{text}</div>'


def clip(
    path: str | os.PathLike,
    start: float = 0.0,
    duration: float = SEGMENT_SECONDS,
    *,
    label: str | None = None,
    fade: float = 0.01,
) -> Clip:
    """The span ``[start, start + duration)`` of an audio file, mono, as a :class:`Clip`.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.
    start : float
        Where the clip starts, in seconds.
    duration : float
        Its length in seconds, at most :data:`MAX_SECONDS`.
    label : str, optional
        Text shown next to the player (default: the file name and the span).
    fade : float
        Seconds of fade-in and fade-out, so that the cut does not click.

    Returns
    -------
    Clip
        Shorter than ``duration`` where the file ends first.

    Raises
    ------
    ValueError
        ``duration`` is not in (0, :data:`MAX_SECONDS`].
    embedexplore.audio.AudioError
        The file cannot be decoded.
    """
    if not 0 < duration <= MAX_SECONDS:
        raise ValueError(f"duration must be in (0, {MAX_SECONDS}] seconds, got {duration}")
    x = clips.faded_span(path, start=start, duration=duration, sample_rate=RATE, fade=fade)
    if label is None:
        label = f"{os.path.basename(os.fspath(path))} {_span(start, start + len(x) / RATE)}"
    return Clip(mp3_bytes(x), label, len(x) / RATE)


def _span(a: float, b: float) -> str:
    return f"{_clock(a)}-{_clock(b)}"


def _clock(t: float) -> str:
    m, s = divmod(float(t), 60.0)
    return f"{int(m)}:{s:06.3f}"


def segment(embeddings, row: int, *, model: str | None = None, label: str | None = None) -> Clip:
    """The exact audio of one segment of ``embeddings`` (2.992 s for the original models, or
    less at a track's end; a window of ``embeddings.windows(...)``).

    Parameters
    ----------
    embeddings : Embeddings
        Extracted embeddings (:func:`embedexplore.open_store`), or a windows view of them.
    row : int
        The segment's row in ``embeddings.segments`` (in ``embeddings.segments_of(model)``
        with ``model``).
    model : str, optional
        Whose segments ``row`` counts (needed where the models have different clocks).
    label : str, optional
        Text shown next to the player (default: the file name and the span).

    Returns
    -------
    Clip
        The segment's audio, mono, as MP3.

    Raises
    ------
    IndexError
        ``row`` is not a row of ``embeddings.segments``.
    """
    table = embeddings.segments if model is None else embeddings.segments_of(model)
    n = len(table)
    if not -n <= int(row) < n:
        raise IndexError(f"row {row} is outside the {n} segments")
    seg = table.iloc[int(row)]
    path = str(embeddings.tracks.at[seg["track_id"], "path"])
    return clip(path, float(seg["start"]), float(seg["end"] - seg["start"]), label=label)


def players(
    table: pd.DataFrame,
    embeddings=None,
    *,
    seconds: float = SEGMENT_SECONDS,
    columns: Iterable[str] | None = None,
    max_rows: int = 50,
):
    """A table with a player in each row, for a notebook.

    A row plays its segment where ``table`` is indexed by segment rows of ``embeddings`` (as
    ``explorer.selected_segments``) or has a ``row`` column; otherwise it plays ``seconds`` of its
    track from the middle, found by a ``path`` column (playlists, ``selected_tracks``).

    Parameters
    ----------
    table : pd.DataFrame
        The rows to show.
    embeddings : Embeddings, optional
        Needed for segment rows.
    seconds : float
        Length of the clip of a track, in seconds.
    columns : iterable of str, optional
        Columns shown next to the player (default: ``artist``, ``title`` and, where present,
        ``start``, ``top_tags`` or ``score``).
    max_rows : int
        At most this many rows are shown (and encoded).

    Returns
    -------
    IPython.display.HTML
        The table; its ``data`` is the HTML text.

    Raises
    ------
    ValueError
        ``table`` has neither segment rows nor a ``path`` column.
    """
    from IPython.display import HTML

    shown = table.head(max_rows)
    if columns is None:
        wanted = ("artist", "title", "start", "top_tags", "score")
        columns = [c for c in wanted if c in shown.columns]
    columns = list(columns)
    rows_from = None
    if embeddings is not None:
        if "row" in shown.columns:
            rows_from = shown["row"].to_numpy()
        elif shown.index.name == "row":
            rows_from = shown.index.to_numpy()
    if rows_from is None and "path" not in shown.columns:
        raise ValueError("players() needs segment rows (and the embeddings) or a 'path' column")
    cells = []
    for i in range(len(shown)):
        record = shown.iloc[i]
        if rows_from is not None:
            c = segment(embeddings, int(rows_from[i]), label="")
        else:
            path = str(record["path"])
            total = float(record["duration"]) if "duration" in shown.columns else None
            if total is None or not np.isfinite(total):
                total = audio.probe(path).duration
            start = max(0.0, (total - seconds) / 2)
            c = clip(path, start, min(seconds, MAX_SECONDS), label="")
        texts = "".join(f"<td>{html.escape(_text(record[k]))}</td>" for k in columns)
        cells.append(f"<tr><td>{c.player()}</td>{texts}</tr>")
    head = "".join(f"<th>{html.escape(k)}</th>" for k in ["listen", *columns])
    more = (
        f"<p>{len(table) - len(shown)} more rows not shown</p>" if len(table) > len(shown) else ""
    )
    return HTML(
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(cells)}</tbody></table>{more}"
    )


def _text(value) -> str:
    if isinstance(value, list | tuple | np.ndarray):
        return ", ".join(str(v) for v in value)
    try:
        if pd.isna(value):  # a missing artist or album shows as nothing, not "nan"
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, float | np.floating):
        return f"{value:.3g}"
    return str(value)
