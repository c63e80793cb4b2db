"""The scan cache: what a previous scan read from each file, keyed by path, size and mtime.

One gzip-compressed JSON file per scanned root folder, kept in the user's cache directory (never in
the music folder), written atomically. JSON rather than pickle: a cache file is data, and loading
it must not be able to run code. A cache that cannot be read (killed mid-write by an older
version, corrupted, from another format version) is ignored with a warning and rebuilt.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from ._atomic import atomic_write
from ._dirs import user_cache_dir

__all__ = ["FORMAT_VERSION", "ScanCache"]

logger = logging.getLogger(__name__)

#: Bump whenever what a scan stores per file, or how it reads files, changes.
FORMAT_VERSION = 2  # 2: libsndfile reads what FFmpeg refuses; chained Oggs; short Vorbis durations


class ScanCache:
    """The cache file of one scanned root.

    Parameters
    ----------
    root : Path
        The scanned folder (absolute).
    directory : Path, optional
        Where cache files live; defaults to ``<user cache>/scans``.
    """

    def __init__(self, root: Path, directory: Path | None = None) -> None:
        self.root = Path(root)
        self.directory = Path(directory) if directory is not None else user_cache_dir() / "scans"
        key = hashlib.sha1(os.fsencode(self.root)).hexdigest()[:16]
        self.file = self.directory / f"{key}.json.gz"

    def load(self) -> dict[str, dict[str, Any]]:
        """Entries by absolute path: ``{"size", "mtime_ns", "record"}``; empty when unusable."""
        try:
            with gzip.open(self.file, "rt", encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, EOFError, ValueError, UnicodeError) as e:
            logger.warning("ignoring the unreadable scan cache %s (%s); rescanning", self.file, e)
            return {}
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            logger.info("scan cache %s is from another version; rescanning", self.file)
            return {}
        if data.get("root") != os.fsdecode(self.root):
            logger.warning("scan cache %s belongs to another folder; rescanning", self.file)
            return {}
        entries = data.get("files")
        return entries if isinstance(entries, dict) else {}

    def save(self, entries: dict[str, dict[str, Any]]) -> None:
        """Replace the cache file with ``entries``, atomically."""
        payload = {"version": FORMAT_VERSION, "root": os.fsdecode(self.root), "files": entries}
        # ensure_ascii keeps file names that are not valid UTF-8 (surrogate escapes) round-tripping
        text = json.dumps(payload, ensure_ascii=True, separators=(",", ":"))
        with atomic_write(self.file) as f:
            f.write(gzip.compress(text.encode("ascii"), compresslevel=5, mtime=0))
