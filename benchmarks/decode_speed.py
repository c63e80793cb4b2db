"""Decoding speed per core (ogg, mp3) and memory while streaming a 1-hour file.

    .venv/bin/python benchmarks/decode_speed.py

Prints, for real music where Debian's game-music packages are installed (synthesised files
otherwise): FFmpeg decoding alone, and our whole pipeline (decode, mono, soxr HQ to 16 kHz), as
multiples of realtime on one core (best of 3 runs, one thread); then the resident memory while
streaming a file of about an hour, sampled along the way.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: numpy/soxr must not spread out

import av

from _hardware import describe
from embedexplore import audio, datasets

WESNOTH = Path("/usr/share/games/wesnoth/1.16/data/core/music")
ASC = Path("/usr/share/games/asc/music")


def _ffmpeg_only(path: Path) -> None:
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        for packet in c.demux(s):
            s.codec_context.decode(packet)


def _pipeline(path: Path) -> None:
    for _ in audio.stream(path):
        pass


def _best(fn, path, repeats=3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(path)
        best = min(best, time.perf_counter() - t)
    return best


def _inputs(tmp: Path) -> list[tuple[str, list[Path]]]:
    sets = []
    if WESNOTH.exists():
        sets.append(
            ("ogg vorbis 44.1 kHz stereo (wesnoth-1.16-music)", sorted(WESNOTH.glob("*.ogg"))[:6])
        )
    if ASC.exists():
        sets.append(("mp3 22.05 kHz stereo (asc-music)", sorted(ASC.glob("*.mp3"))))
    if not sets:
        print("note: game-music packages not installed; using the demo collection's files")
        demo = datasets.demo(progress=False)
        sets = [
            ("ogg opus 24 kHz stereo (demo collection)", sorted(demo.rglob("*.opus"))),
            ("mp3 22.05 kHz stereo (demo collection)", sorted(demo.rglob("*.mp3"))),
        ]
    return sets


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _long_file(tmp: Path) -> tuple[Path, str]:
    """About an hour of mp3: real tracks back to back (MP3 frames concatenate into one stream)."""
    if ASC.exists():
        parts, label = sorted(ASC.glob("*.mp3")) * 4, "asc-music tracks concatenated 4x"
    else:
        parts = sorted(datasets.demo(progress=False).rglob("*.mp3")) * 16
        label = "demo collection mp3s concatenated 16x"
    path = tmp / "hour.mp3"
    with open(path, "wb") as f:
        for p in parts:
            f.write(p.read_bytes())
    return path, f"mp3 ({label})"


def main() -> None:
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for label, files in _inputs(tmp):
            seconds = sum(audio.probe(p).duration for p in files)
            for p in files:  # warm the page cache and the imports
                _ffmpeg_only(p)
            t_ffmpeg = sum(_best(_ffmpeg_only, p) for p in files)
            t_ours = sum(_best(_pipeline, p) for p in files)
            print(f"{label}: {len(files)} files, {seconds / 60:.1f} min of audio")
            print(f"  FFmpeg decoding alone:             {seconds / t_ffmpeg:7.0f}x realtime/core")
            print(f"  decode + mono + soxr HQ to 16 kHz:  {seconds / t_ours:7.0f}x realtime/core")

        path, label = _long_file(tmp)
        duration = audio.probe(path).duration
        base = _rss_mb()
        samples, peak, n = [], base, 0
        t = time.perf_counter()
        for chunk in audio.stream(path, chunk_seconds=30.0):
            n += chunk.size
            peak = max(peak, _rss_mb())
            samples.append(_rss_mb())
        elapsed = time.perf_counter() - t
        quarter = [samples[int(len(samples) * q) - 1] for q in (0.25, 0.5, 0.75, 1.0)]
        print(
            f"streaming a {duration / 60:.0f}-minute {label}: {n / 16_000 / 60:.1f} min out "
            f"at {duration / elapsed:.0f}x realtime"
        )
        print(
            f"  resident memory before: {base:.0f} MB; peak while streaming: {peak:.0f} MB "
            f"(+{peak - base:.0f} MB); at 25/50/75/100 %: "
            + " / ".join(f"{m:.0f}" for m in quarter)
            + " MB"
        )
        print(f"  (the whole track as one array at 16 kHz would be {n * 4 / 2**20:.0f} MB)")


if __name__ == "__main__":
    main()
