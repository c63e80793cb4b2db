"""Collections made of a few real tracks, for the benchmarks: hard links, so no extra disk."""

from __future__ import annotations

import os
from pathlib import Path


def link_copies(files: list[Path], dest: Path, copies: int = 1) -> Path:
    """Link each of ``files`` ``copies`` times under ``dest/copyNNNN/`` (distinct names, so that
    two folders may hold the same file name); a symbolic link where a hard link cannot be made.
    Returns ``dest``."""
    for c in range(copies):
        d = dest / f"copy{c:04d}"
        d.mkdir(parents=True)
        for i, f in enumerate(files):
            name = f"{i:04d}-{f.name}"
            try:
                os.link(f, d / name)
            except OSError:
                os.symlink(Path(f).resolve(), d / name)
    return dest
