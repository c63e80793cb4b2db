"""Reading a file's tags with mutagen into one normalised record.

Each tagging scheme names the same fields differently: ID3 frames (v1, v2.3, v2.4, also inside
WAV and AIFF chunks), Vorbis comments (ogg vorbis, opus, flac, speex), MP4 atoms (m4a, aac, alac),
APEv2 (monkey's audio, wavpack, musepack) and ASF (wma). :func:`read_tags` maps all of them onto
the fields of :data:`FIELDS`; a field the file does not carry is ``None`` (the caller chooses the
fallback), never another file's value.
"""

from __future__ import annotations

import logging
import os
import re
import struct
from typing import Any

import mutagen
from mutagen.apev2 import APEv2
from mutagen.asf import ASFTags
from mutagen.id3 import ID3, TCON
from mutagen.mp4 import MP4Tags

__all__ = ["FIELDS", "TagError", "read_tags"]

logger = logging.getLogger(__name__)

FIELDS = ("title", "artist", "album", "album_artist", "genre", "year", "track_number")
"""The fields :func:`read_tags` returns."""

#: Text joining several values of a single-valued field (artists, titles); genres stay a list.
JOIN = "; "


class TagError(Exception):
    """The tags of a file are present but cannot be parsed.

    Raised by :func:`read_tags`; the audio itself may still be fine.
    """


# Field -> keys, per scheme, in order of preference.
_VORBIS = {
    "title": ("title",),
    "artist": ("artist",),
    "album": ("album",),
    "album_artist": ("albumartist", "album artist", "album_artist"),
    "genre": ("genre",),
    "year": ("date", "year", "originaldate"),
    "track_number": ("tracknumber", "track"),
}
_ID3 = {
    "title": ("TIT2",),
    "artist": ("TPE1",),
    "album": ("TALB",),
    "album_artist": ("TPE2",),
    "genre": ("TCON",),
    "year": ("TDRC", "TYER", "TDOR", "TORY"),
    "track_number": ("TRCK",),
}
_MP4 = {
    "title": ("\xa9nam",),
    "artist": ("\xa9ART",),
    "album": ("\xa9alb",),
    "album_artist": ("aART",),
    "genre": ("\xa9gen", "gnre"),
    "year": ("\xa9day",),
    "track_number": ("trkn",),
}
_APE = {
    "title": ("title",),
    "artist": ("artist",),
    "album": ("album",),
    "album_artist": ("album artist", "albumartist"),
    "genre": ("genre",),
    "year": ("year", "date"),
    "track_number": ("track",),
}
_ASF = {
    "title": ("Title",),
    "artist": ("Author", "WM/AlbumArtist"),
    "album": ("WM/AlbumTitle",),
    "album_artist": ("WM/AlbumArtist",),
    "genre": ("WM/Genre",),
    "year": ("WM/Year", "WM/OriginalReleaseYear"),
    "track_number": ("WM/TrackNumber", "WM/Track"),
}

_YEAR = re.compile(r"(?<!\d)(\d{4})(?!\d)")
_INT = re.compile(r"\s*(\d{1,6})(?!\d)")


def read_tags(path: str | os.PathLike) -> dict[str, Any]:
    """Read the tags of one file.

    ID3, Vorbis comments, MP4 atoms, APEv2 and ASF are mapped onto the same fields; a file with
    no tags, or a format mutagen does not know, gives every field None (``genre`` empty).

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.

    Returns
    -------
    dict
        The keys of :data:`FIELDS`: ``title``, ``artist``, ``album``, ``album_artist`` (str or
        None; several values joined by ``"; "``), ``genre`` (list of str, possibly empty),
        ``year`` and ``track_number`` (int or None).

    Raises
    ------
    TagError
        The file has a tag block that mutagen cannot parse (the audio may still be fine), or
        mutagen cannot open the file at all (e.g. it does not exist).
    """
    try:
        f = mutagen.File(os.fspath(path))
    except mutagen.MutagenError as e:
        raise TagError(f"unreadable tags ({_reason(e)})") from None
    except (
        ValueError,
        TypeError,
        KeyError,
        IndexError,
        EOFError,
        OverflowError,
        UnicodeError,
        AttributeError,
        AssertionError,
        ZeroDivisionError,
        struct.error,
    ) as e:
        # mutagen parses untrusted bytes; on malformed input it occasionally raises plain errors
        raise TagError(f"unreadable tags ({type(e).__name__}: {e})") from None
    out: dict[str, Any] = {k: None for k in FIELDS}
    out["genre"] = []
    tags = getattr(f, "tags", None) if f is not None else None
    if not tags:
        return out
    raw = _raw_fields(tags)
    for field in ("title", "artist", "album", "album_artist"):
        values = raw.get(field, [])
        out[field] = JOIN.join(values) if values else None
    out["genre"] = _split_genres(raw.get("genre", []))
    out["year"] = _first_year(raw.get("year", []))
    out["track_number"] = _first_int(raw.get("track_number", []))
    return out


def _reason(e: Exception) -> str:
    return str(e).strip() or type(e).__name__


def _raw_fields(tags) -> dict[str, list[str]]:
    """Field -> list of cleaned, non-empty text values, for whichever scheme ``tags`` is."""
    if isinstance(tags, ID3):
        return _from_id3(tags)
    if isinstance(tags, MP4Tags):
        return _from_mp4(tags)
    if isinstance(tags, APEv2):
        return _from_mapping(tags, _APE, casefold=True)
    if isinstance(tags, ASFTags):
        return _from_mapping(tags, _ASF, casefold=False)
    # Vorbis comments (ogg, opus, flac, speex) behave like a case-insensitive multi-dict
    return _from_mapping(tags, _VORBIS, casefold=True)


def _clean(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value).replace("\x00", " ").strip()
    return text or None


def _values(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        items = value
    else:
        items = [value]
    out = []
    for item in items:
        raw = getattr(item, "value", item)
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        # a null byte separates several values in APEv2 and ID3v2.4 text
        for part in str(raw).split("\x00"):
            text = _clean(part)
            if text is not None:
                out.append(text)
    return out


def _from_mapping(tags, table, *, casefold: bool) -> dict[str, list[str]]:
    present = {}
    for key in tags.keys():  # noqa: SIM118 - iterating Vorbis comments yields (key, value) pairs
        present.setdefault(key.lower() if casefold else key, key)
    out = {}
    for field, keys in table.items():
        for key in keys:
            real = present.get(key.lower() if casefold else key)
            if real is None:
                continue
            values = _values(tags[real])
            if values:
                out[field] = values
                break
    return out


def _from_id3(tags: ID3) -> dict[str, list[str]]:
    out = {}
    for field, frame_ids in _ID3.items():
        for fid in frame_ids:
            frames = tags.getall(fid)
            if not frames:
                continue
            values: list[str] = []
            for frame in frames:
                if fid == "TCON":
                    # resolves ID3v1 numeric references such as "(17)" and v2.4 null separators
                    values.extend(g for g in (_clean(g) for g in frame.genres) if g)
                else:
                    values.extend(v for v in (_clean(t) for t in frame.text) if v)
            if values:
                out[field] = values
                break
    return out


def _from_mp4(tags: MP4Tags) -> dict[str, list[str]]:
    out = {}
    for field, keys in _MP4.items():
        for key in keys:
            if key not in tags:
                continue
            value = tags[key]
            if key == "trkn":
                values = [str(pair[0]) for pair in value if pair and pair[0]]
            elif key == "gnre":
                values = [g for g in (_id3v1_genre(n) for n in value) if g]
            else:
                values = _values(value)
            if values:
                out[field] = values
                break
    return out


def _id3v1_genre(number: int) -> str | None:
    # MP4 "gnre" atoms store the ID3v1 genre number plus one
    try:
        genres = TCON(encoding=3, text=[f"({int(number) - 1})"]).genres
    except (ValueError, TypeError):
        return None
    return genres[0] if genres else None


def _split_genres(values: list[str]) -> list[str]:
    """Genres as a list: several tag values, or one value holding ``;``, ``/`` or ``,``-lists."""
    out: list[str] = []
    for value in values:
        parts = re.split(r"\s*[;/|]\s*|\s*,\s+", value) if len(values) == 1 else [value]
        for part in parts:
            part = part.strip()
            if part and part not in out:
                out.append(part)
    return out


def _first_year(values: list[str]) -> int | None:
    for value in values:
        m = _YEAR.search(value)
        if m:
            year = int(m.group(1))
            if 1000 <= year <= 2999:
                return year
    return None


def _first_int(values: list[str]) -> int | None:
    for value in values:
        m = _INT.match(value)
        if m:
            n = int(m.group(1))
            if 0 < n < 100_000:
                return n
    return None
