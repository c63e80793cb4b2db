"""A rescan of an unchanged 200-file folder reads no file again: how long each scan takes.

    .venv/bin/python benchmarks/rescan.py

Builds a 200-file folder (real music from Debian's game-music packages where installed, copied so
that there are 200 distinct files; else the demo collection's files), then times: a first scan with
an empty cache, a rescan with nothing changed, and a rescan after one file changed. Prints each
time, how many files were read, and the ratio first / rescan.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from _hardware import describe
from embedexplore import collection as collection_module
from embedexplore import datasets, scan

SOURCES = [
    Path("/usr/share/games/wesnoth/1.16/data/core/music"),
    Path("/usr/share/games/colobot/music"),
    Path("/usr/share/freedroidrpg/data/sound/music"),
    Path("/usr/share/games/asc/music"),
]


def _build(folder: Path, n: int = 200) -> str:
    files = [
        p
        for src in SOURCES
        if src.exists()
        for p in sorted(src.iterdir())
        if p.suffix in (".ogg", ".mp3")
    ]
    label = "real music (Debian game-music packages)"
    if not files:
        files = sorted(
            p
            for p in datasets.demo(progress=False).rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        label = "demo collection files"
    for i in range(n):
        src = files[i % len(files)]
        dst = folder / f"disc{i // 20:02d}" / f"{i:03d} {src.name}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
    return label


def _megabytes(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def main() -> None:
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["EMBEDEXPLORE_CACHE"] = str(tmp / "cache")
        folder = tmp / "music"
        label = _build(folder)
        reads = []
        real = collection_module.read_file
        collection_module.read_file = lambda p: reads.append(p) or real(p)

        def timed(what: str) -> float:
            reads.clear()
            t = time.perf_counter()
            c = scan(folder, progress=False)
            dt = time.perf_counter() - t
            print(
                f"{what:34s} {dt * 1000:8.1f} ms  files read: {len(reads):3d}  "
                f"tracks: {len(c.tracks)}, errors: {len(c.errors)}"
            )
            return dt

        print(f"200 files of {label}, {_megabytes(folder):.0f} MB")
        first = timed("first scan (empty cache)")
        again = min(timed("rescan, nothing changed") for _ in range(3))
        victim = next(folder.rglob("*.ogg"), None) or next(
            p for p in folder.rglob("*") if p.is_file()
        )
        os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
        timed("rescan after touching one file")
        print(f"rescan / first scan: {again / first:.3f} ({first / again:.0f}x faster)")


if __name__ == "__main__":
    main()
