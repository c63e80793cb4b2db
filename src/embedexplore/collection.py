"""A music collection as a pandas DataFrame: :func:`scan` a folder, get one row per audio file.

>>> import embedexplore
>>> collection = embedexplore.scan("~/Music")          # doctest: +SKIP
>>> collection.tracks[["artist", "title", "duration"]]  # doctest: +SKIP
>>> collection.errors                                   # doctest: +SKIP

Nothing under the music folders is ever written: the scan cache lives in the user's cache
directory (see :mod:`embedexplore.scan_cache`).
"""

from __future__ import annotations

import fnmatch
import logging
import os
import time
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import audio, tags
from ._text import TEXT, printable, records_frame, text_array
from ._track_rows import (  # noqa: F401 - kept importable from here (tests, benchmarks)
    TRACK_COLUMNS,
    _row,
    _track_id,
    _tracks_frame,
    _unique_id,
)
from .scan_cache import ScanCache
from .scan_folders import find_audio_files

__all__ = ["AUDIO_EXTENSIONS", "Collection", "ScanStats", "scan"]

logger = logging.getLogger(__name__)

AUDIO_EXTENSIONS = frozenset(
    {
        ".mp3", ".mp2", ".ogg", ".oga", ".opus", ".flac", ".m4a", ".m4b", ".mp4", ".aac",
        ".alac", ".wav", ".wave", ".aif", ".aiff", ".aifc", ".wma", ".ape", ".wv", ".mpc",
        ".mka", ".webm", ".spx", ".tta", ".dsf",
    }
)  # fmt: skip
"""File extensions :func:`scan` reads (case-insensitive)."""

ERROR_COLUMNS = ("path", "reason", "indexed")

# save the cache every so many newly read files or seconds, so that a killed scan resumes (each
# save rewrites the whole cache: ~1 s for 100,000 files, hence not more often)
_CHECKPOINT_FILES = 5000
_CHECKPOINT_SECONDS = 30.0
_PARALLEL_MIN_FILES = 16  # fewer files than this are read on the calling thread


@dataclass(frozen=True)
class ScanStats:
    """What a scan did: files found, read anew, taken from the cache, dropped since last time.

    Each parameter is kept as the (read-only) attribute of the same name.

    Parameters
    ----------
    found : int
        Audio files found under the scanned roots.
    read : int
        Files read (probed and their tags parsed) in this scan: new or changed since the cache.
    cached : int
        Files whose record came from the scan cache unchanged.
    removed : int
        Files in the cache that are gone since the last scan.
    seconds : float
        Wall time of the scan in seconds.
    """

    found: int
    read: int
    cached: int
    removed: int
    seconds: float


@dataclass
class Collection:
    """An indexed music collection, as :func:`scan` returns it.

    Each parameter is kept as the attribute of the same name; ``len(collection)`` is the number
    of tracks.

    Parameters
    ----------
    tracks : pandas.DataFrame
        One row per audio file, indexed by ``track_id`` (stable across runs and machines: derived
        from the path relative to the scanned root). Columns: ``path`` (absolute), ``title``,
        ``artist``, ``album``, ``album_artist`` (text, NA when the file has no such tag; ``title``
        falls back to the file name), ``genre`` (list of str), ``year``, ``track_number``
        (nullable Int64), ``duration`` (seconds, measured from the audio stream), ``sample_rate``,
        ``channels``, ``codec``, ``container``, ``bit_rate``, ``size`` (bytes), ``mtime`` (UTC).
        Text (the index too) is pandas' string dtype held as Python ``str``, with or without
        pyarrow: a file name that is not valid UTF-8 keeps its bytes as surrogate escapes, and
        ``os.fsencode(path)`` gives them back.
    errors : pandas.DataFrame
        One row per file or folder with a problem: ``path``, ``reason``, and ``indexed`` (True
        where the file is still in ``tracks``, e.g. audio fine but tags unreadable; False for
        what was not indexed, such as a folder that cannot be read or a broken link).
    roots : tuple of pathlib.Path, default: ()
        The scanned folders.
    stats : ScanStats or None, default: None
        What the scan that built this collection did.
    """

    tracks: pd.DataFrame
    errors: pd.DataFrame
    roots: tuple[Path, ...] = ()
    stats: ScanStats | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.tracks)

    def __repr__(self) -> str:
        hours = self.tracks["duration"].sum() / 3600 if len(self.tracks) else 0.0
        return (
            f"<Collection: {len(self.tracks)} tracks, {hours:.1f} h, "
            f"{len(self.errors)} errors, roots={[printable(str(r)) for r in self.roots]}>"
        )

    @property
    def duration(self) -> float:
        """Total duration of all tracks in seconds."""
        return float(self.tracks["duration"].sum())

    def filter(
        self,
        *,
        artist: str | Iterable[str] | None = None,
        album: str | Iterable[str] | None = None,
        genre: str | Iterable[str] | None = None,
        path: str | None = None,
    ) -> Collection:
        """The tracks matching every given criterion, as a new Collection.

        Parameters
        ----------
        artist, album : str or list of str, optional
            Exact names, compared case-insensitively; ``artist`` matches ``artist`` or
            ``album_artist``.
        genre : str or list of str, optional
            Keep tracks having any of these genres (case-insensitive).
        path : str, optional
            A shell-style pattern (``*``, ``?``, ``[...]``) matched against the absolute path,
            e.g. ``"*/Live/*"`` or ``"*.flac"`` (case-sensitive).

        Returns
        -------
        Collection
            The matching rows of :attr:`tracks` (a copy, same index), with the same ``errors``,
            ``roots`` and ``stats``. A criterion left at None does not filter.
        """
        t = self.tracks
        keep = pd.Series(True, index=t.index)
        if artist is not None:
            wanted = _casefold_set(artist)
            keep &= _in_set(t["artist"], wanted) | _in_set(t["album_artist"], wanted)
        if album is not None:
            keep &= _in_set(t["album"], _casefold_set(album))
        if genre is not None:
            wanted = _casefold_set(genre)
            keep &= t["genre"].map(lambda gs: any(g.casefold() in wanted for g in gs)).astype(bool)
        if path is not None:
            keep &= t["path"].map(lambda p: fnmatch.fnmatchcase(p, path)).astype(bool)
        return Collection(self.tracks[keep].copy(), self.errors, self.roots, self.stats)

    def find(self, text: str) -> pd.DataFrame:
        """The tracks whose title, artist or album contains ``text``, ignoring case.

        A way to name a track without its 16-hex id: ``collection.find("crying").index[0]``.

        Parameters
        ----------
        text : str
            What to look for, e.g. ``"beatles"`` or ``"Crying"``: compared case-insensitively
            (``"STRASSE"`` finds "Straße") and whether the accents are composed or not.

        Returns
        -------
        pandas.DataFrame
            The matching rows of :attr:`tracks` (a copy, same columns and index, in collection
            order); none where nothing matches. Tracks without an artist or album tag match on
            what they have (the title falls back to the file name).
        """
        needle = _folded(str(text))
        t = self.tracks
        hit = pd.Series(False, index=t.index)
        for column in ("title", "artist", "album"):
            hit |= t[column].map(lambda v: isinstance(v, str) and needle in _folded(v)).astype(bool)
        return t[hit].copy()

    def artists(self) -> pd.Series:
        """Number of tracks per artist, most first.

        Returns
        -------
        pandas.Series
            Track counts (``int64``) indexed by artist name; tracks without an artist tag are
            not counted.
        """
        return self.tracks["artist"].value_counts()

    def genres(self) -> pd.Series:
        """Number of tracks per genre (a track with several genres counts in each), most first.

        Returns
        -------
        pandas.Series
            Track counts (``int64``) indexed by genre name; tracks without a genre are not
            counted.
        """
        genres = text_array(g for gs in self.tracks["genre"] for g in gs)
        return pd.Series(genres, name="genre").value_counts()

    def summary(self) -> str:
        """A few lines for a terminal: tracks, total duration, formats, errors.

        Returns
        -------
        str
            Newline-separated lines: track count, total duration (``h:mm:ss``) and size, the
            codecs, artist and album counts, the first 20 errors, and the scan's statistics.
            Printable whatever the terminal's encoding allows: the bytes of a file name that is
            not valid UTF-8 are shown as ``\\xe9`` escapes.
        """
        t = self.tracks
        lines = [
            f"{len(t)} tracks, {_hms(self.duration)} of audio, "
            f"{_bytes(int(t['size'].sum()) if len(t) else 0)}",
        ]
        if len(t):
            formats = t["codec"].value_counts()
            lines.append("formats: " + ", ".join(f"{c} {n}" for c, n in formats.items()))
            n_artists = t["artist"].nunique()
            lines.append(
                f"artists: {n_artists}, albums: {t['album'].nunique()}, "
                f"untagged (no artist): {int(t['artist'].isna().sum())}"
            )
        else:
            where = ", ".join(printable(str(r)) for r in self.roots) or "the folders scanned"
            lines.append(
                f"no readable audio in {where}: see the errors below"
                if len(self.errors)
                else f"no audio file in {where} (nor in its sub-folders)"
            )
        if len(self.errors):
            skipped = int((~self.errors["indexed"]).sum())
            lines.append(f"errors: {len(self.errors)} files ({skipped} not indexed)")
            for row in self.errors.head(20).itertuples():
                lines.append(printable(f"  {row.path}: {row.reason}"))
            if len(self.errors) > 20:
                lines.append(f"  ... and {len(self.errors) - 20} more (see collection.errors)")
        else:
            lines.append("errors: none")
        if self.stats is not None:
            s = self.stats
            lines.append(
                f"scan: {s.found} files, {s.read} read, {s.cached} from cache, "
                f"{s.removed} gone since last scan, {s.seconds:.2f} s"
            )
        return "\n".join(lines)


def scan(
    paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    cache: bool | str | os.PathLike = True,
    workers: int | None = None,
    progress: bool = True,
    extensions: Iterable[str] | None = None,
) -> Collection:
    """Index the audio files under one or more folders.

    Parameters
    ----------
    paths : path or list of paths
        Folders to walk (recursively; hidden files and folders are skipped), or single files.
        Symbolic links are followed, each real folder walked once (links in a loop or to a
        folder already walked add nothing); a file reachable by several paths is indexed once,
        under its path without links if it has one, else the first found (hard links without
        symbolic links are each indexed). A folder that cannot be read, a dangling link or one
        that cannot be followed is a row of :attr:`Collection.errors` (see
        :mod:`embedexplore.scan_folders`).
    cache : bool or path
        ``True`` keeps a cache in the user's cache directory so that a later scan reads only new
        or changed files (same path, size and modification time means unchanged); a path names
        the directory for the cache files instead; ``False`` reads every file.
    workers : int, optional
        Files read at once (threads: decoding runs in FFmpeg outside Python's lock). Defaults to
        the number of CPU cores, at most 8.
    progress : bool
        Show a progress bar while files are read.
    extensions : iterable of str, optional
        File extensions to read, e.g. ``[".flac"]``; defaults to :data:`AUDIO_EXTENSIONS`.

    Returns
    -------
    Collection
        One row per readable audio file in :attr:`Collection.tracks`, the problems in
        :attr:`Collection.errors`.

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    ValueError
        ``paths`` is empty, or ``workers`` is below 1.
    """
    started = time.perf_counter()
    roots = _roots(paths)
    exts = (
        AUDIO_EXTENSIONS
        if extensions is None
        else frozenset(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)
    )
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")

    rows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen_ids: dict[str, str] = {}
    seen_paths: set[str] = set()
    found = read = cached = removed = 0
    for root, (files, walk_errors) in zip(roots, find_audio_files(roots, exts), strict=True):
        # a root inside another root: its files are indexed once, under the first root
        files = [f for f in files if f[0] not in seen_paths]
        seen_paths.update(f[0] for f in files)
        errors.extend(walk_errors)
        # a single file, or only some extensions, is a partial view of the folder's cache: it
        # must keep the entries it did not look at
        partial = root.is_file() or extensions is not None
        store = None
        if cache is not False:
            store = ScanCache(
                root.parent if root.is_file() else root, None if cache is True else Path(cache)
            )
        old = store.load() if store is not None else {}
        entries: dict[str, dict[str, Any]] = {}
        to_read: list[tuple[str, int, int]] = []
        for path, st_size, st_mtime_ns in files:
            hit = old.get(path)
            if (
                hit is not None
                and hit.get("size") == st_size
                and hit.get("mtime_ns") == st_mtime_ns
                and not hit.get("record", {}).get("retry")
            ):
                entries[path] = hit
            else:
                to_read.append((path, st_size, st_mtime_ns))
        found += len(files)
        cached += len(entries)
        read += len(to_read)
        current = {p for p, _, _ in files}
        kept = {p: e for p, e in old.items() if p not in current} if partial else {}
        removed += 0 if partial else len(set(old) - current)
        if to_read:
            _read_all(to_read, entries, store, kept, workers=workers, progress=progress, root=root)
        if store is not None and (to_read or set(old) != set(entries) | set(kept)):
            _save_quietly(store, {**kept, **entries})
        base = root.parent if root.is_file() else root
        for path, st_size, st_mtime_ns in files:
            entry = entries[path]
            record = entry["record"]
            if "error" in record:
                errors.append({"path": path, "reason": record["error"], "indexed": False})
                continue
            for problem in ("issue", "tags_error"):
                if record.get(problem):
                    errors.append({"path": path, "reason": record[problem], "indexed": True})
            track_id = _unique_id(base, path, seen_ids)
            rows.append(_row(track_id, path, st_size, st_mtime_ns, record))

    tracks = _tracks_frame(rows)
    errors_df = records_frame(
        errors, ERROR_COLUMNS, {"path": TEXT, "reason": TEXT, "indexed": "bool"}
    )
    stats = ScanStats(
        found=found,
        read=read,
        cached=cached,
        removed=removed,
        seconds=time.perf_counter() - started,
    )
    logger.info("scan: %s", stats)
    return Collection(tracks=tracks, errors=errors_df, roots=tuple(roots), stats=stats)


def _save_quietly(store: ScanCache, entries: dict[str, dict[str, Any]]) -> None:
    """Save the cache; a cache that cannot be written costs the next scan time, not this one."""
    try:
        store.save(entries)
    except OSError as e:
        logger.warning(
            "cannot write the scan cache %s (%s); the next scan will read every file "
            "again (set EMBEDEXPLORE_CACHE to a writable folder)",
            store.file,
            e,
        )


def read_file(path: str) -> dict[str, Any]:
    """Everything a scan learns from one file: stream parameters, integrity and tags.

    Never raises for a bad file.

    Parameters
    ----------
    path : str
        The audio file.

    Returns
    -------
    dict
        The tag fields of :func:`embedexplore.tags.read_tags` and the
        :class:`~embedexplore.audio.AudioInfo` fields, plus ``tags_error`` (a reason or None;
        unreadable tags leave the tag fields None and ``genre`` empty); or, when the audio
        cannot be read, ``{"error": reason, "retry": bool}``, where ``retry`` is True for
        problems that may be fixed without changing the file (permissions, a missing file) and
        for unexpected errors.
    """
    try:
        info = audio.probe(path)
    except audio.AudioError as e:
        # access problems can be fixed without touching the file (chmod keeps its mtime):
        # such errors are retried by the next scan instead of being cached as final
        transient = str(e).startswith(
            ("permission denied", "file not found", "cannot access", "cannot open")
        )
        return {"error": str(e), "retry": transient}
    except Exception as e:  # an unexpected failure on one file must not stop a whole scan
        logger.exception("unexpected error while reading %s", path)
        return {"error": f"unexpected error: {type(e).__name__}: {e}", "retry": True}
    record: dict[str, Any] = {
        "duration": info.duration,
        "sample_rate": info.sample_rate,
        "channels": info.channels,
        "codec": info.codec,
        "container": info.container,
        "bit_rate": info.bit_rate,
        "issue": info.issue,
        "tags_error": None,
    }
    try:
        record.update(tags.read_tags(path))
    except tags.TagError as e:
        record.update({k: None for k in tags.FIELDS}, genre=[], tags_error=str(e))
    except Exception as e:  # noqa: BLE001 - same reason as above; the audio is still usable
        record.update(
            {k: None for k in tags.FIELDS},
            genre=[],
            tags_error=f"unreadable tags ({type(e).__name__}: {e})",
        )
    return record


def _roots(paths) -> list[Path]:
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    roots = []
    for p in paths:
        root = Path(p).expanduser()
        if not root.exists():
            raise FileNotFoundError(f"no such file or folder: {os.fspath(root)!r}")
        root = root.resolve()
        if root not in roots:
            roots.append(root)
    if not roots:
        raise ValueError("scan() needs at least one folder")
    return roots


def _read_all(to_read, entries, store, kept, *, workers: int, progress: bool, root: Path) -> None:
    """Read ``to_read`` files into ``entries``, saving the cache now and then along the way."""
    from ._progress import progress_bar

    bar = progress_bar(
        total=len(to_read), unit="file", desc=f"scanning {root.name or root}",
        disable=not progress, leave=False,
    )  # fmt: skip
    last_save = time.monotonic()
    since_save = 0

    def done(item, record):
        nonlocal last_save, since_save
        path, st_size, st_mtime_ns = item
        entries[path] = {"size": st_size, "mtime_ns": st_mtime_ns, "record": record}
        bar.update(1)
        since_save += 1
        if store is not None and (
            since_save >= _CHECKPOINT_FILES or time.monotonic() - last_save > _CHECKPOINT_SECONDS
        ):
            _save_quietly(store, {**kept, **entries})
            last_save, since_save = time.monotonic(), 0

    try:
        if workers == 1 or len(to_read) < _PARALLEL_MIN_FILES:
            for item in to_read:
                done(item, read_file(item[0]))
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scan") as pool:
                for item, record in zip(
                    to_read, pool.map(read_file, [i[0] for i in to_read]), strict=False
                ):
                    done(item, record)
    finally:
        bar.close()


def _casefold_set(values: str | Iterable[str]) -> set[str]:
    if isinstance(values, str):
        values = [values]
    return {str(v).casefold() for v in values}


def _folded(text: str) -> str:
    """``text`` as :meth:`Collection.find` compares it: composed, then case-folded."""
    return unicodedata.normalize("NFC", text).casefold()


def _in_set(column: pd.Series, wanted: set[str]) -> pd.Series:
    return column.map(lambda v: isinstance(v, str) and v.casefold() in wanted).astype(bool)


def _hms(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"
