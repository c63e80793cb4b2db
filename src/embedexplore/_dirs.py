"""Where embedexplore keeps its own files: never inside the user's music folders."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """``$EMBEDEXPLORE_CACHE``, else ``$XDG_CACHE_HOME/embedexplore``, else ``~/.cache/...``."""
    explicit = os.environ.get("EMBEDEXPLORE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "embedexplore"


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
        ``<cache>/stores/<name>-<12 hex digits>``; not created here.
    """
    import hashlib
    import re

    path = Path(folder).expanduser().resolve()
    digest = hashlib.sha1(os.fsencode(path)).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", path.name)[:40] or "root"
    return user_cache_dir() / "stores" / f"{name}-{digest}"
