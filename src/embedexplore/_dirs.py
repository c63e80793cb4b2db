"""Folders: where embedexplore keeps its own files (never inside the user's music folders), and
whether a path lies inside a folder, compared as the operating system compares names."""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The folder name under the operating system's cache folder.
APP_NAME = "embedexplore"


def user_cache_dir() -> Path:
    """Where embedexplore keeps what it can compute again (scan caches, projections, the demo
    collection, the stores of :func:`default_store`).

    ``$EMBEDEXPLORE_CACHE`` if set; else the operating system's user cache folder, as
    ``platformdirs`` names it: ``$XDG_CACHE_HOME/embedexplore`` or ``~/.cache/embedexplore``
    on Linux, ``~/Library/Caches/embedexplore`` on macOS,
    ``%LOCALAPPDATA%\\embedexplore\\Cache`` on Windows. On macOS, ``~/.cache/embedexplore``
    where it exists already: versions before 0.2 kept their stores there, and a collection's
    store is hours of extraction. Not created here.
    """
    explicit = os.environ.get("EMBEDEXPLORE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    legacy = Path.home() / ".cache" / APP_NAME
    if sys.platform == "darwin" and legacy.is_dir():
        return legacy  # not abandoned: the stores there are hours of extraction
    # appauthor=False: no publisher folder above ours on Windows (%LOCALAPPDATA%\embedexplore)
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def is_under(path: str | os.PathLike, folder: str | os.PathLike, *, paths=os.path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it.

    Both are absolute and normalised by the caller (as ``os.path.abspath`` or ``realpath``
    give them). Names compare as ``os.path.normcase`` makes them: case-insensitively, with
    either slash, on Windows (``C:\\Music`` holds ``c:/music/a.mp3``); exactly elsewhere
    (macOS too, whose paths here come from one scan, in one spelling).
    ``paths`` is the module of the operating system's path rules (``os.path``; the tests pass
    ``ntpath`` to check Windows' rules on any machine).
    """
    p, f = paths.normcase(os.fspath(path)), paths.normcase(os.fspath(folder))
    if p == f:
        return True
    # one separator after the folder (a root, "/" or "C:\\", has it already), so that /musical
    # is not taken to lie inside /music
    return p.startswith(f.rstrip(paths.sep) + paths.sep)


def default_store(folder: str | os.PathLike) -> Path:
    """The store :func:`embedexplore.extract` results for ``folder`` go to when the user names
    none: in the user cache, one per folder (its name, and a hash of its absolute path so that
    two folders called "Music" do not share one).

    Parameters
    ----------
    folder : str or os.PathLike
        The music folder.

    Returns
    -------
    Path
        ``<cache>/stores/<name>-<12 hex digits>``; not created here. ``<cache>`` is
        ``$EMBEDEXPLORE_CACHE``, else the operating system's user cache folder (on Linux
        ``~/.cache/embedexplore``, on macOS ``~/Library/Caches/embedexplore``, on Windows
        ``%LOCALAPPDATA%\\embedexplore\\Cache``).
    """
    import hashlib
    import re

    # resolve(): the same folder reached through a link, or named in another case on Windows
    # (where resolve gives the case on disk), gets the same store
    path = Path(folder).expanduser().resolve()
    digest = hashlib.sha1(os.fsencode(path)).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name)[:40] or "root"
    return user_cache_dir() / "stores" / f"{name}-{digest}"
