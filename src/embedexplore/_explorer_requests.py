"""The Explorer's answers to the browser's requests: audio clips of indexed segments only.

A request is a custom widget message (a JSON object with an ``id`` the reply echoes). Nothing in
it is trusted: it names a track and a row of it (a segment, or a window at a time scale of
windows) by index, never a path, and the kernel cuts the clip from its own table of the rows
shown (``start`` and ``end`` of that row, at most :data:`~embedexplore.clips.MAX_CLIP_SECONDS`),
not from any length the page sends. A refused request gets an error reply that names the track
by its index and label, never by its file's path (the page may be shared or screenshotted; the
kernel log keeps the path).
"""

from __future__ import annotations

import logging
import math
import numbers
import os

import pandas as pd

from . import clips
from .audio import AudioError

logger = logging.getLogger(__name__)

_MAX_ID = 2**53  # request ids are echoed back; keep them plain JSON numbers or short strings
_MAX_ID_CHARS = 64


class Refused(Exception):
    """A browser request the kernel does not answer with data."""


def answer(widget, content, *, embeddings, labels: pd.Series) -> None:
    """Answer one custom message of the widget's page with ``widget.send``.

    Parameters
    ----------
    widget : anywidget.AnyWidget
        Where the reply goes (its ``send``).
    content : object
        The message as the page sent it (anything JSON can hold).
    embeddings : Embeddings
        The rows shown: its ``tracks`` and ``segments`` (segments, or windows) are the only
        tracks and spans served.
    labels : pandas.Series
        A label per track (``"artist - title"``), in the order of ``embeddings.tracks``: what
        an error reply calls a track.
    """
    request = content.get("id") if isinstance(content, dict) else None
    if not _plain_id(request):
        request = None
    try:
        if not isinstance(content, dict):
            raise Refused("a request must be a JSON object")
        kind = content.get("type")
        if kind == "audio":
            reply, data = audio(embeddings, labels, content)
            widget.send({"type": "audio", "id": request, "ok": True, **reply}, buffers=[data])
        else:
            shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
            raise Refused(f"unknown request type {shown!r}")
    except Refused as e:
        logger.warning("refused a widget request: %s", e)
        widget.send({"type": "error", "id": request, "ok": False, "error": str(e)})


def audio(embeddings, labels: pd.Series, content: dict) -> tuple[dict, bytes]:
    """WAV bytes of one row (or, with ``chunk``, of the track from there on).

    Parameters
    ----------
    embeddings : Embeddings
        The tracks served, and their segments' ``start`` and ``end``.
    labels : pandas.Series
        A label per track, for error messages.
    content : dict
        ``track`` (row of ``embeddings.tracks``), ``segment`` (row within the track) and
        optionally ``chunk`` (``k``: the ``k``-th :data:`~embedexplore.clips.MAX_CLIP_SECONDS`
        span from the segment's start on), all integers.

    Returns
    -------
    reply : dict
        ``track``, ``segment``, ``chunk``, ``start`` and ``end`` (seconds: what the clip
        holds, at most :data:`~embedexplore.clips.MAX_CLIP_SECONDS`) and ``mime``.
    data : bytes
        The WAV file.

    Raises
    ------
    Refused
        An index is not an integer or out of range, or the file cannot be decoded (the message
        names the track by index and label, not by path).
    """
    tracks = embeddings.tracks
    track = _index(content.get("track"), len(tracks), "track")
    n_segments = int(tracks["n_segments"].iat[track])
    segment = _index(content.get("segment"), n_segments, "segment")
    row = int(tracks["first_row"].iat[track]) + segment
    start = float(embeddings.segments["start"].iat[row])
    end = float(embeddings.segments["end"].iat[row])
    track_end = float(tracks["duration"].iat[track])
    chunk = content.get("chunk")
    if chunk is not None:
        n_chunks = 1 + math.ceil(track_end / clips.MAX_CLIP_SECONDS)
        chunk = _index(chunk, n_chunks, "chunk")
        start += chunk * clips.MAX_CLIP_SECONDS
        end = start + clips.MAX_CLIP_SECONDS
        if start >= track_end:
            raise Refused("that chunk starts after the end of the track")
    path = str(tracks["path"].iat[track])
    try:
        data = clips.clip(path, start=start, duration=end - start)
    except Exception as e:  # noqa: BLE001 - any decoder failure becomes an error reply
        logger.warning("cannot play track %d (%s): %s", track, path, e)
        # an AudioError says why in words meant for the user (scrubbed of the path all the same:
        # a decoder's own message may quote it); any other failure is the kernel's business
        why = _without_path(str(e), path) if isinstance(e, AudioError) else "the decoder failed"
        raise Refused(
            f"cannot play track {track} ({labels.iat[track]}): {why} (details in the kernel log)"
        ) from None
    return {"track": track, "segment": segment, "chunk": chunk, "start": start,
            "end": min(end, track_end, start + clips.MAX_CLIP_SECONDS),
            "mime": "audio/wav"}, data  # fmt: skip


def _plain_id(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= _MAX_ID
    return isinstance(value, str) and len(value) <= _MAX_ID_CHARS


def _index(value, n: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise Refused(f"{name} must be an integer index, got {type(value).__name__}")
    if not 0 <= value < n:
        raise Refused(f"{name} {value} is out of range (0..{n - 1})")
    return int(value)


def _without_path(text: str, path: str) -> str:
    """``text`` with the file's path (as given, absolute or resolved) and its folders cut out."""
    forms = {path, os.path.abspath(path), os.path.realpath(path)}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "the file")
    folders = {os.path.dirname(f) for f in forms}
    for folder in sorted(folders, key=len, reverse=True):
        if len(folder) > 1:  # not "/" alone
            text = text.replace(folder, "…")
    return text
