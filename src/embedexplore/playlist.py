"""Playlists from the embedding space: from a selection, a "radio" around a seed, a path from
one track to another, and export to M3U8 and XSPF, which common players open.

>>> pl = embedexplore.playlist.from_selection(emb, rows, collection=coll)       # doctest: +SKIP
>>> pl = embedexplore.playlist.radio(emb, "musicnn-msd", seed=track_id, n=20,
...                                  per_artist=2, collection=coll)            # doctest: +SKIP
>>> embedexplore.playlist.to_m3u8(pl, "~/Music/evening.m3u8", relative=True)  # doctest: +SKIP

A playlist is a DataFrame of tracks in play order, indexed by ``track_id``: ``path``,
``duration``, ``artist``, ``title`` (when a collection is given) and ``segments`` (the segment
rows that put the track there). From a selection, a track enters when at least ``min_share`` of
its segments are selected (:data:`MIN_SHARE`, a quarter, unless asked otherwise).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from ._atomic import atomic_write

__all__ = ["MIN_SHARE", "ORDERS", "from_selection", "path", "radio", "to_m3u8", "to_xspf"]

ORDERS = ("selection", "time", "axis")

logger = logging.getLogger(__name__)


def _frame(embeddings, track_ids, collection, segments=None) -> pd.DataFrame:
    t = embeddings.tracks.loc[list(track_ids)]
    out = pd.DataFrame(
        {"path": t["path"], "duration": t["duration"]}, index=pd.Index(track_ids, name="track_id")
    )
    meta = collection.tracks if collection is not None else None
    for col in ("artist", "title", "album"):
        # .array keeps the collection's dtype: a numpy array would be inferred anew as pandas'
        # default string dtype, which (pyarrow's) refuses the lone surrogates a tag may hold
        out[col] = meta[col].reindex(out.index).array if meta is not None else np.nan
    out["segments"] = [list(segments.get(tid, [])) if segments else [] for tid in out.index]
    return out


#: The share of a track's segments that must be selected for it to enter a playlist made from
#: a selection: a quarter, so that a lasso that grazes a track (1 of its 76 segments) leaves it
#: out, while a track a quarter of which lies in the region is in.
MIN_SHARE = 0.25


def from_selection(
    embeddings, rows, *, order: str = "selection", model=None, collection=None,
    min_share: float = MIN_SHARE,
):  # fmt: skip
    """The tracks of selected segments, each once, if enough of each is selected.

    A track enters when at least ``min_share`` of its segments are among ``rows``. Where that
    leaves none of the selected tracks, the playlist is empty and a warning says to lower
    ``min_share``.

    Parameters
    ----------
    embeddings : Embeddings
        The embeddings the rows refer to.
    rows : array_like of int
        Segment rows (of ``embeddings.segments``, or of ``embeddings.segments_of(model)``
        where ``model`` is given), any shape (flattened), in selection order.
    order : {"selection", "time", "axis"}, default: "selection"
        ``"selection"`` (as first selected), ``"time"`` (release year, then album and track
        number, from ``collection``; tracks without a year last) or ``"axis"`` (along the first
        principal axis of the selected segments' ``model`` embeddings: a smooth progression).
    model : str, optional
        The model whose ``embeddings`` layer gives the axis; needed for ``order="axis"``. Its
        segments are those ``rows`` index.
    collection : Collection, optional
        Artist, title and album of the tracks; needed for ``order="time"``.
    min_share : float, default: 0.25
        The share of a track's segments (of those ``rows`` index) that must be selected for it
        to enter, from 0 to 1: 0 takes every track with a selected segment, 1 only the tracks
        selected whole (:data:`MIN_SHARE`).

    Returns
    -------
    pandas.DataFrame
        A playlist: one row per track in play order, indexed by ``track_id``, with ``path``,
        ``duration`` (seconds), ``artist``, ``title`` and ``album`` (from ``collection``; NaN
        without one) and ``segments`` (the selected rows of each track, in selection order).
        Empty where nothing is selected, or no track has ``min_share`` of it selected.

    Raises
    ------
    ValueError
        An unknown ``order``, ``order="time"`` without ``collection``, ``order="axis"``
        without ``model``, or ``min_share`` outside [0, 1].
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    if not 0 <= min_share <= 1:
        raise ValueError(f"min_share must be a share from 0 to 1, got {min_share!r}")
    rows = [int(r) for r in np.asarray(rows).ravel()]
    table = embeddings.segments_of(model) if model is not None else embeddings.segments
    ids = table["track_id"].astype(str).to_numpy()
    segments: dict[str, list[int]] = {}
    for r in rows:
        segments.setdefault(ids[r], []).append(r)
    shares = _shares(ids, segments)
    kept = {t for t, share in shares.items() if share >= min_share}
    if len(kept) < len(segments):
        if not kept:
            best = max(shares.values())
            which = (
                f"the one selected track has {best:.0%} of its segments selected, less than "
                f"min_share={min_share:g}"
                if len(segments) == 1
                else f"none of the {len(segments)} selected tracks has {min_share:.0%} of its "
                f"segments selected (the most: {best:.0%})"
            )
            warnings.warn(
                f"{which}, so the playlist is empty: pass a lower min_share (0 takes every "
                "track with a selected segment)",
                UserWarning,
                stacklevel=2,
            )
        segments = {t: rs for t, rs in segments.items() if t in kept}
        rows = [r for r in rows if ids[r] in kept]
    tracks = list(segments)
    if order == "time":
        if collection is None:
            raise ValueError("order='time' needs the collection (release years, track numbers)")
        meta = collection.tracks.reindex(tracks)
        key = meta[["year", "album", "track_number"]].copy()
        key["_missing"] = key["year"].isna()
        key["_pos"] = np.arange(len(tracks))
        tracks = list(key.sort_values(["_missing", "year", "album", "track_number", "_pos"]).index)
    elif order == "axis":
        if model is None:
            raise ValueError("order='axis' needs model= (whose embeddings give the axis)")
        from .projection import pca

        x = np.asarray(embeddings.array(model)[rows], np.float32)
        first = pca(x, 1)[:, 0] if len(rows) > 1 else np.zeros(1)
        where = {}
        for r, v in zip(rows, first, strict=True):
            where.setdefault(ids[r], []).append(v)
        tracks = sorted(tracks, key=lambda t: float(np.mean(where[t])))
    return _frame(embeddings, tracks, collection, segments)


def _shares(ids: np.ndarray, segments: dict[str, list[int]]) -> dict[str, float]:
    """For each track of ``segments`` (track id -> selected rows): the share of its rows
    (``ids``: the track of each row) that are selected."""
    total = pd.Series(ids).value_counts()
    return {t: len(set(rs)) / int(total[t]) for t, rs in segments.items()}


def _track_space(embeddings, model, layer):
    agg = embeddings.per_track(model, layer)
    ok = ~np.isnan(agg.mean).any(axis=1)
    return np.asarray(agg.track_ids[ok]).astype(str), agg.mean[ok]


def _unit(x):
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def radio(
    embeddings,
    model: str,
    seed,
    *,
    n: int = 20,
    per_artist: int | None = 2,
    layer: str = "embeddings",
    collection=None,
) -> pd.DataFrame:
    """A "radio" around a seed: the seed's track, then the tracks nearest to it.

    Nearest by cosine similarity between the tracks' mean embeddings; each track once, at most
    ``per_artist`` tracks of any one artist (artists from ``collection``; tracks of unknown
    artist are each their own).

    Parameters
    ----------
    embeddings : Embeddings
        The extracted embeddings.
    model : str
        The model whose space is searched, e.g. ``"musicnn-msd"``.
    seed : str or int
        A track id, or a segment row (int): a segment seeds with its own embedding.
    n : int, default: 20
        Length of the playlist, the seed's track included (fewer if the collection is small).
    per_artist : int or None, default: 2
        Most tracks of any one artist (the seed's track counts); None: no limit.
    layer : str, default: "embeddings"
        The layer of ``model``.
    collection : Collection, optional
        The artists (for ``per_artist``) and the titles.

    Returns
    -------
    pandas.DataFrame
        A playlist: one row per track in play order, indexed by ``track_id``, with ``path``,
        ``duration`` (seconds), ``artist``, ``title`` and ``album`` (from ``collection``; NaN
        without one) and ``segments`` (empty lists).

    Raises
    ------
    KeyError
        ``seed`` is a track id with no segments in ``embeddings``.
    ValueError
        ``per_artist`` is below 1.
    """
    ids, means = _track_space(embeddings, model, layer)
    if isinstance(seed, int | np.integer):
        seed_track = str(embeddings.segments_of(model)["track_id"].iloc[int(seed)])
        query = np.asarray(embeddings.array(model, layer)[int(seed)], np.float64)
    else:
        seed_track = str(seed)
        if seed_track not in set(ids):
            raise KeyError(f"no track {seed!r} with segments in these embeddings")
        query = means[list(ids).index(seed_track)]
    if per_artist is not None and per_artist < 1:
        raise ValueError(f"per_artist must be >= 1 or None, got {per_artist}")
    artists = _artists(ids, collection)
    order = np.argsort(-(_unit(means) @ _unit(query)), kind="stable")
    chosen = [seed_track]
    count = {artists[seed_track]: 1}
    for i in order:
        if len(chosen) >= n:
            break
        t = ids[i]
        if t == seed_track:
            continue
        a = artists[t]
        if per_artist is not None and count.get(a, 0) >= per_artist:
            continue
        chosen.append(t)
        count[a] = count.get(a, 0) + 1
    return _frame(embeddings, chosen, collection)


def _artists(ids, collection) -> dict[str, object]:
    if collection is None:
        return {t: ("track", t) for t in ids}
    col = collection.tracks["artist"].reindex(ids)
    return {
        t: (a.casefold() if isinstance(a, str) else ("track", t))
        for t, a in zip(ids, col, strict=True)
    }


def path(
    embeddings,
    model: str,
    start: str,
    end: str,
    *,
    steps: int = 10,
    layer: str = "embeddings",
    collection=None,
) -> pd.DataFrame:
    """A path from track ``start`` to track ``end`` through the embedding space.

    ``steps`` tracks (both ends included), each the unused track nearest (cosine) to the next
    point on the straight line between the two tracks' mean embeddings, so that each step is
    small.

    Parameters
    ----------
    embeddings : Embeddings
        The extracted embeddings.
    model : str
        The model whose space is walked, e.g. ``"musicnn-msd"``.
    start, end : str
        Track ids of the first and last track.
    steps : int, default: 10
        Tracks in the path, both ends included (fewer if the collection runs out of tracks).
    layer : str, default: "embeddings"
        The layer of ``model``.
    collection : Collection, optional
        Artist, title and album of the tracks.

    Returns
    -------
    pandas.DataFrame
        A playlist: one row per track in play order, indexed by ``track_id``, with ``path``,
        ``duration`` (seconds), ``artist``, ``title`` and ``album`` (from ``collection``; NaN
        without one) and ``segments`` (empty lists).

    Raises
    ------
    KeyError
        ``start`` or ``end`` is not a track with segments in ``embeddings``.
    ValueError
        ``steps`` is below 2.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    ids, means = _track_space(embeddings, model, layer)
    where = {t: i for i, t in enumerate(ids)}
    for t in (start, end):
        if t not in where:
            raise KeyError(f"no track {t!r} with segments in these embeddings")
    unit = _unit(means)
    a, b = unit[where[start]], unit[where[end]]
    used = {start, end}
    chosen = [start]
    for s in np.linspace(0.0, 1.0, steps)[1:-1]:
        point = _unit((1 - s) * a + s * b)
        for i in np.argsort(-(unit @ point), kind="stable"):
            if ids[i] not in used:
                chosen.append(ids[i])
                used.add(ids[i])
                break
    chosen.append(end)
    return _frame(embeddings, chosen, collection)


# Export. Tags and file names are data from the files, and some are hostile: a title
# "x\n/etc/passwd" must not become a second entry of an M3U8 file, a control character must not
# make an XSPF file that XML parsers reject.

# Characters that end a line for some reader: LF for every M3U reader (mpv, VLC), CR for many;
# VT, FF, FS, GS, RS, NEL, LS and PS for Python's str.splitlines, JavaScript and some editors.
# Tab and US (unit separator) are not line breaks but are whitespace that readers strip or
# split on, so they go too.
_LINE_BREAKS = re.compile(r"[\t\n\x0b\x0c\r\x1c-\x1f\x85\u2028\u2029]")
# What may not stand in a line of text: control characters (C0, DEL, C1; NUL and ESC among
# them) and lone surrogates (Python's stand-ins for the bytes of a file name that is not UTF-8).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# A path with any of these cannot be written as a plain M3U line (M3U has no escape).
_UNSAFE_IN_PATH = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# XML 1.0 allows only these characters (its production "Char"), not even as character
# references: every other one makes the document ill-formed.
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAMED = 10  # paths named in a warning, at most


def _one_line(text: str) -> str:
    """``text`` safe inside one M3U line: line breaks and tabs become spaces, other control
    characters and lone surrogates U+FFFD (the replacement character)."""
    return _CONTROLS.sub("\ufffd", _LINE_BREAKS.sub(" ", text))


def _xml_text(text: str) -> str:
    """``text`` as XML character data: characters XML 1.0 forbids become U+FFFD, markup is
    escaped, CR is written as a reference (a parser reads a literal CR back as LF)."""
    return escape(_NOT_XML.sub("\ufffd", text)).replace("\r", "&#13;")


def _label(row) -> str:
    artist = row.artist if isinstance(row.artist, str) else ""
    title = row.title if isinstance(row.title, str) else Path(row.path).stem
    return _one_line(f"{artist} - {title}" if artist else title)


def _whole(seconds, per_second: int = 1) -> int | None:
    """A duration in seconds as a whole number of seconds (or of 1/``per_second`` s); None
    where unknown (NaN, None)."""
    try:
        return round(float(seconds) * per_second)
    except (TypeError, ValueError, OverflowError):  # None, NaN, inf
        return None


def _location(p: str, target: Path, relative: bool, paths=os.path) -> str:
    """``p`` as the playlist ``target`` names it: absolute, or relative to the playlist's folder
    where asked, with the platform's separators. ``paths`` is the module of the platform's
    path rules (``os.path``; the tests pass ``ntpath`` to check Windows' on any machine)."""
    full = paths.abspath(p)
    if relative:
        try:
            return paths.relpath(full, paths.dirname(os.fspath(target)))
        except ValueError:  # on Windows, a file on another drive: no relative path leads there
            pass
    return full


def _file_uri(p: str, paths=os.path) -> str:
    """A ``file://`` URI of ``p``: the name's bytes percent-encoded, so any name fits. On
    Windows the drive or network share leads, names separated by "/" (``file:///C:/Music/a.mp3``,
    ``file://server/share/a.mp3``), as players and ``pathlib`` write them."""
    full = paths.abspath(p)
    if paths.sep == "/":
        return "file://" + quote(os.fsencode(full))
    drive, rest = paths.splitdrive(full)
    # Windows names are UTF-16: what os.fsencode gives there (UTF-8, lone surrogates kept)
    rest = quote(rest.replace(paths.sep, "/").encode("utf-8", "surrogatepass"))
    if drive.endswith(":"):  # C:
        return f"file:///{drive}{rest}"
    return "file:" + quote(drive.replace(paths.sep, "/").encode("utf-8", "surrogatepass")) + rest


def _relative_uri(p: str, target: Path, paths=os.path) -> str:
    """A relative URI reference from the playlist ``target``'s folder to ``p``: names separated
    by "/" on every platform, their bytes percent-encoded (so a ":" or "#" in a name is not read
    as a scheme or a fragment); a ``file://`` URI where no relative path leads (another drive)."""
    loc = _location(p, target, True, paths)
    if paths.isabs(loc):
        return _file_uri(p, paths)
    if paths.sep == "/":
        return quote(os.fsencode(loc))
    return quote(loc.replace(paths.sep, "/").encode("utf-8", "surrogatepass"))


def _m3u_location(p: str, target: Path, relative: bool, paths=os.path) -> str | None:
    """The line that names ``p`` in an M3U file, or None where no plain line can."""
    loc = _location(p, target, relative, paths)
    head = loc.split(paths.sep, 1)[0]
    if relative and not paths.isabs(loc) and (loc[:1] == "#" or loc[:1].isspace() or ":" in head):
        # a leading "#" makes a comment, leading spaces are stripped, "name:" reads as a URL
        # scheme: "./" keeps the line a path to the same file
        loc = paths.curdir + paths.sep + loc
    if _UNSAFE_IN_PATH.search(loc) or loc != loc.rstrip():  # readers strip trailing spaces
        return None
    return loc


def to_m3u8(playlist: pd.DataFrame, target, *, relative: bool = False) -> Path:
    """Write ``playlist`` as an M3U8 file (UTF-8, ``#EXTINF`` with duration and "artist - title").

    One entry per track, whatever its tags and file name. In the "artist - title" label, line
    breaks and tabs become spaces and other control characters and lone surrogates (from file
    names that are not UTF-8) become U+FFFD, so that no tag can start a line of its own.
    M3U has no escape for a path: a path that cannot be written as a plain line (a line break
    or other control character in it, bytes that are not UTF-8, trailing spaces) is written
    as a percent-encoded ``file://`` URI (absolute, even with ``relative=True``), which mpv,
    VLC and most players open, with a warning naming it (players that read only plain paths
    skip such a track; XSPF, see :func:`to_xspf`, has no such limit). A relative path that
    starts with ``#`` or a space or looks like a URL scheme is written as ``./path``. A track
    of unknown duration gets the duration -1.

    Parameters
    ----------
    playlist : pandas.DataFrame
        A playlist of this module (columns ``path``, ``duration``, ``artist``, ``title``).
    target : str or os.PathLike
        The file to write (replaced atomically if it exists).
    relative : bool, default: False
        Write paths relative to the playlist's folder instead of absolute paths. Paths have the
        separators of the platform the playlist is written on: ``\\`` on Windows, as Windows
        players (foobar2000, MusicBee, VLC, Winamp) write and read them. On Windows a track on
        another drive than the playlist keeps its absolute path (no relative path leads
        there).

    Returns
    -------
    pathlib.Path
        The file's absolute path.
    """
    target = Path(target).expanduser().resolve()
    lines = ["#EXTM3U"]
    as_uri = []
    for row in playlist.itertuples():
        seconds = _whole(row.duration)
        lines.append(f"#EXTINF:{-1 if seconds is None else seconds},{_label(row)}")
        loc = _m3u_location(row.path, target, relative)
        if loc is None:
            as_uri.append(row.path)
            loc = _file_uri(row.path)
        lines.append(loc)
    if as_uri:
        named = ", ".join(repr(p) for p in as_uri[:_NAMED])  # repr shows "\n" as \n
        more = f" and {len(as_uri) - _NAMED} more" if len(as_uri) > _NAMED else ""
        logger.warning(
            "%s: %d paths written as file:// URIs, as M3U cannot hold them as plain lines "
            "(players that read only plain paths will skip them; XSPF holds any path): %s%s",
            target, len(as_uri), named, more,
        )  # fmt: skip
    with atomic_write(target) as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8"))
    return target


def to_xspf(playlist: pd.DataFrame, target, *, relative: bool = False, title=None) -> Path:
    """Write ``playlist`` as XSPF (XML Shareable Playlist Format).

    Each track has its location, title, creator, album and duration (milliseconds), as tagged.
    Locations are URIs with the file name's bytes percent-encoded, so every path is written
    exactly. The file is well-formed UTF-8 XML whatever the tags: a character that XML 1.0
    forbids (a control character other than tab, LF and CR, a lone surrogate, U+FFFE, U+FFFF)
    becomes U+FFFD, the replacement character; CR is kept as ``&#13;``. A track of unknown
    duration has no duration element.

    Parameters
    ----------
    playlist : pandas.DataFrame
        A playlist of this module (columns ``path``, ``duration``, ``artist``, ``title``,
        optionally ``album``).
    target : str or os.PathLike
        The file to write (replaced atomically if it exists).
    relative : bool, default: False
        Write relative URI references (relative to the playlist's folder; names separated by
        ``/`` on every platform) instead of ``file://`` URIs (``file:///C:/...`` on Windows).
        On Windows a track on another drive keeps its ``file://`` URI.
    title : str, optional
        The playlist's title.

    Returns
    -------
    pathlib.Path
        The file's absolute path.
    """
    target = Path(target).expanduser().resolve()
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<playlist version="1" xmlns="http://xspf.org/ns/0/">',
    ]
    if title:
        out.append(f"  <title>{_xml_text(str(title))}</title>")
    out.append("  <trackList>")
    for row in playlist.itertuples():
        uri = _relative_uri(row.path, target) if relative else _file_uri(row.path)
        out.append("    <track>")
        out.append(f"      <location>{escape(uri)}</location>")
        # elements in the order of the XSPF schema
        for tag, value in (
            ("title", row.title),
            ("creator", row.artist),
            ("album", getattr(row, "album", None)),
        ):
            if isinstance(value, str):
                out.append(f"      <{tag}>{_xml_text(value)}</{tag}>")
        ms = _whole(row.duration, 1000)
        if ms is not None:
            out.append(f"      <duration>{ms}</duration>")
        out.append("    </track>")
    out += ["  </trackList>", "</playlist>", ""]
    with atomic_write(target) as f:
        f.write("\n".join(out).encode("utf-8"))  # strict: every text above is valid Unicode
    return target
