"""How a scan turns what it read of each file into the tracks table: the track ids (stable
across runs and machines: from the path relative to the scanned root), one row per file, and the
typed DataFrame :attr:`embedexplore.collection.Collection.tracks` holds."""

from __future__ import annotations

import hashlib
import logging
import os
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd

from ._text import TEXT, records_frame

# the warnings of a scan come from the scan's logger, wherever they are written
logger = logging.getLogger("embedexplore.collection")

TRACK_COLUMNS = (
    "path", "title", "artist", "album", "album_artist", "genre", "year", "track_number",
    "duration", "sample_rate", "channels", "codec", "container", "bit_rate", "size", "mtime",
)  # fmt: skip


def _relative_key(base: Path, path: str, paths=os.path) -> str:
    # "/" between names on every OS: a collection copied to Windows keeps its track ids.
    # ``paths`` is the module of the OS's path rules (the tests pass ntpath to check Windows')
    rel = paths.relpath(path, base).replace(paths.sep, "/")
    # the same name can reach us in composed or decomposed Unicode (macOS vs Linux copies)
    return unicodedata.normalize("NFC", rel)


def _track_id(key: str) -> str:
    return hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _unique_id(base: Path, path: str, seen: dict[str, str]) -> str:
    key = _relative_key(base, path)
    tid = _track_id(key)
    if tid in seen and seen[tid] != path:
        # the same relative path under two scanned roots: qualify it with the root's name, then,
        # if that is taken too, with the whole path
        other = seen[tid]
        candidates = (f"{base.name}/{key}", unicodedata.normalize("NFC", Path(path).as_posix()))
        for key in candidates:
            tid = _track_id(key)
            if tid not in seen:
                break
        logger.warning(
            "%s has the same path relative to its root as %s; its id is derived from %r",
            path,
            other,
            key,
        )
    seen[tid] = path
    return tid


def _display_name(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    # file names that are not valid UTF-8 keep their bytes as surrogates; show them as U+FFFD
    return stem.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _row(track_id: str, path: str, size: int, mtime_ns: int, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "track_id": track_id,
        "path": path,
        "title": r.get("title") or _display_name(path),
        "artist": r.get("artist"),
        "album": r.get("album"),
        "album_artist": r.get("album_artist"),
        "genre": list(r.get("genre") or []),
        "year": r.get("year"),
        "track_number": r.get("track_number"),
        "duration": r["duration"],
        "sample_rate": r["sample_rate"],
        "channels": r["channels"],
        "codec": r["codec"],
        "container": r["container"],
        "bit_rate": r.get("bit_rate"),
        "size": size,
        "mtime": mtime_ns,
    }


def _tracks_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = records_frame(
        rows,
        ["track_id", *TRACK_COLUMNS],
        {
            "track_id": TEXT,
            "path": TEXT,
            "title": TEXT,
            "artist": TEXT,
            "album": TEXT,
            "album_artist": TEXT,
            "year": "Int64",
            "track_number": "Int64",
            "duration": "float64",
            "sample_rate": "int64",
            "channels": "int64",
            "codec": TEXT,
            "container": TEXT,
            "bit_rate": "Int64",
            "size": "int64",
            "mtime": "int64",
        },
    )
    df["mtime"] = pd.to_datetime(df["mtime"], unit="ns", utc=True)
    return df.set_index("track_id")  # genre stays object: a list per track
