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
