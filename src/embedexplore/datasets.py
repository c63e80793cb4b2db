"""Music to try the library on: the offline demo collection, and Debian's game music.

>>> from embedexplore import datasets, scan
>>> folder = datasets.demo()        # doctest: +SKIP
>>> scan(folder).tracks             # doctest: +SKIP
>>> datasets.game_music()           # doctest: +SKIP

The demo is generated here, deterministically (the same bytes on every run of the same library
versions), with no network: synthesised tracks in five styles and six container formats. It is
the default collection of the README and the notebooks when the user has not pointed them at
their own music.

The game music is real music under free licences that Debian packages for its games (about
570 MB, installed with ``apt-get``): :func:`game_music` lists its files and their soundtracks.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av
import mutagen
import numpy as np
import pandas as pd
from mutagen.id3 import ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TRCK
from mutagen.mp4 import MP4

from . import synth
from ._dirs import user_cache_dir

__all__ = [
    "DEMO_VERSION",
    "GAME_MUSIC_PACKAGES",
    "GAME_SOUNDTRACKS",
    "DemoTrack",
    "demo",
    "demo_tracks",
    "game_music",
]

logger = logging.getLogger(__name__)

DEMO_VERSION = 1
"""Bumped whenever the demo's content changes; a folder from another version is rebuilt."""
_MARKER = ".embedexplore-demo.json"

#: Debian packages of freely licensed game music, and where each installs its music (a folder;
#: nexuiz-music's is one .pk3 archive).
GAME_MUSIC_PACKAGES = {
    "wesnoth-1.16-music": Path("/usr/share/games/wesnoth/1.16/data/core/music"),
    "colobot-common-sounds": Path("/usr/share/games/colobot/music"),
    "fretsonfire-songs-muldjord": Path("/usr/share/games/fretsonfire/data/songs/muldjord"),
    "nexuiz-music": Path("/usr/share/games/nexuiz/data/music.pk3"),
    "freedroidrpg-data": Path("/usr/share/freedroidrpg/data/sound/music"),
    "asc-music": Path("/usr/share/games/asc/music"),
}
#: The soundtracks :func:`game_music` lists, and their packages (nexuiz-music is left out: its
#: music is packed in a .pk3 archive that no audio reader opens).
GAME_SOUNDTRACKS = {
    "wesnoth": "wesnoth-1.16-music",
    "colobot": "colobot-common-sounds",
    "fretsonfire": "fretsonfire-songs-muldjord",
    "freedroidrpg": "freedroidrpg-data",
    "asc": "asc-music",
}
_AUDIO_SUFFIXES = (".ogg", ".mp3")

# (container format for FFmpeg, encoder, sample rate). No Ogg Vorbis: the PyAV wheels lack
# libvorbis, and FFmpeg's experimental native encoder writes wrong granule positions (its files
# state 2 s for 36 s of audio); real Vorbis files are covered by the tests on Debian's game music.
_FORMATS = {
    "mp3": ("mp3", "libmp3lame", 22050),
    "aiff": ("aiff", "pcm_s16be", 22050),
    "flac": ("flac", "flac", 16000),
    "m4a": ("ipod", "aac", 22050),
    "opus": ("ogg", "libopus", 24000),
    "wav": ("wav", "pcm_s16le", 22050),
}

_TITLES = {
    "beats": ["Pulse Grid", "Voltage", "Night Shift", "Concrete Loop", "Signal Path", "Strobe"],
    "piano": [
        "Étude in Grey",
        "Morning Room",
        "Letters",
        "Nocturne for Ana",
        "Rain Study",
        "Small Hours",
    ],
    "strings": [
        "Long Shadows",
        "Horizon Line",
        "Slow Tide",
        "Cathedral Air",
        "Winter Light",
        "Afterglow",
    ],
    "guitar": [
        "Iron Static",
        "Overdrive Sermon",
        "Riff Engine",
        "Feedback Choir",
        "Amp Ritual",
        "Fuzz Storm",
    ],
    "noise": [
        "Pressure Front",
        "Low Cloud",
        "Static Rain",
        "Wind Tunnel",
        "Dust Field",
        "Ionosphere",
    ],
}


@dataclass(frozen=True)
class DemoTrack:
    """One track of the demo collection, as :func:`demo` writes it.

    Each parameter is kept as the (read-only) attribute of the same name.

    Parameters
    ----------
    style : str
        The synthesised style: ``"beats"``, ``"piano"``, ``"strings"``, ``"guitar"`` or
        ``"noise"``.
    number : int
        Track number within its album, 1 to 6.
    title, artist, album : str or None
        The tags written (None for the one untagged file).
    genre : tuple of str
        The genre tags (empty for the untagged file).
    year : int or None
        The year tag.
    seconds : float
        Length in seconds (30 to 60, one decimal).
    format : str
        File format and extension: ``"mp3"``, ``"aiff"``, ``"flac"``, ``"m4a"``, ``"opus"`` or
        ``"wav"``.
    relpath : str
        Path of the file relative to the demo folder, ``"Artist/Album/NN Title.ext"``
        (``"Unsorted/field recording 3.ext"`` for the untagged file).
    seed : int
        Seed of the synthesis (the same seed renders the same audio).
    """

    style: str
    number: int
    title: str | None
    artist: str | None
    album: str | None
    genre: tuple[str, ...]
    year: int | None
    seconds: float
    format: str
    relpath: str
    seed: int


def demo_tracks() -> list[DemoTrack]:
    """The plan of the demo collection: 30 tracks, 6 per style, 30-60 s, formats in rotation.

    Returns
    -------
    list of DemoTrack
        The 30 tracks in the order :func:`demo` writes them; deterministic.
    """
    rng = np.random.default_rng(2022)
    formats = list(_FORMATS)
    tracks = []
    for s, (style, (_, artist, album, genres)) in enumerate(synth.STYLES.items()):
        year = 2016 + s
        for i in range(6):
            fmt = formats[(s + i) % len(formats)]
            seconds = float(np.round(rng.uniform(30, 60), 1))
            title = _TITLES[style][i]
            tagged = not (style == "noise" and i == 5)  # one file without tags, as in real life
            folder = f"{artist}/{album}" if tagged else "Unsorted"
            name = f"{i + 1:02d} {title}.{fmt}" if tagged else f"field recording 3.{fmt}"
            tracks.append(
                DemoTrack(
                    style=style,
                    number=i + 1,
                    title=title if tagged else None,
                    artist=artist if tagged else None,
                    album=album if tagged else None,
                    genre=tuple(genres) if tagged else (),
                    year=year if tagged else None,
                    seconds=seconds,
                    format=fmt,
                    relpath=f"{folder}/{name}",
                    seed=1000 * s + i,
                )
            )
    return tracks


def demo(path: str | os.PathLike | None = None, *, progress: bool = True) -> Path:
    """Write the demo collection (or find it already written) and return its folder.

    Parameters
    ----------
    path : path, optional
        Folder to write into; it must not exist, be empty, or hold this version of the demo.
        Defaults to ``<user cache>/demo-v<version>``.
    progress : bool
        Show a progress bar while tracks are rendered (about 20 s of CPU the first time).

    Returns
    -------
    pathlib.Path
        The folder holding the collection (absolute).

    Raises
    ------
    FileExistsError
        ``path`` exists, is not empty and is not a demo folder (nothing of it is overwritten).
    """
    target = (
        Path(path).expanduser() if path is not None else user_cache_dir() / f"demo-v{DEMO_VERSION}"
    )
    target = target.absolute()
    if _is_complete(target):
        return target
    if target.exists() and any(target.iterdir()):
        if (target / _MARKER).exists():
            logger.info("rebuilding the demo collection in %s (other version)", target)
            shutil.rmtree(target)
        else:
            raise FileExistsError(
                f"{target} exists and is not an embedexplore demo folder: choose an empty or new "
                "folder (nothing of yours is overwritten)"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    # build beside the target and rename at the end, so that an interrupted build leaves nothing
    # that looks complete
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        from ._progress import progress_bar

        plan = demo_tracks()
        # tracks are independent and deterministic each: render and encode them on all cores
        # (numpy, scipy and FFmpeg do their work outside Python's lock)
        with (
            ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
            progress_bar(
                total=len(plan),
                desc="writing demo collection",
                unit="track",
                disable=not progress,
                leave=False,
            ) as bar,  # fmt: skip
        ):
            for _ in pool.map(lambda t: _write_track(staging, t), plan):
                bar.update(1)
        (staging / _MARKER).write_text(json.dumps({"version": DEMO_VERSION, "tracks": len(plan)}))
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def game_music() -> pd.DataFrame:
    """The files of Debian's game-music packages installed here, with their soundtracks.

    Real music, freely licensed, with labels a retrieval measure can use: each soundtrack is one
    game's score (mostly one composer or a few). Fret on Fire's songs come as stems: only the
    full mix (``song.ogg``) is listed, not the guitar and rhythm parts.

    Returns
    -------
    pandas.DataFrame
        One row per file, sorted by soundtrack (in :data:`GAME_SOUNDTRACKS` order) then path:
        ``path`` (:class:`pathlib.Path`), ``soundtrack`` (str, e.g. ``"wesnoth"``) and
        ``package`` (the Debian package). ``attrs["missing"]`` lists the packages that are not
        installed.

    Raises
    ------
    FileNotFoundError
        None of the packages is installed (the message gives the command that installs them).
    """
    rows, missing = [], []
    for soundtrack, package in GAME_SOUNDTRACKS.items():
        folder = GAME_MUSIC_PACKAGES[package]
        if not folder.is_dir():
            missing.append(package)
            continue
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _AUDIO_SUFFIXES)
        if soundtrack == "fretsonfire":
            files = [p for p in files if p.name == "song.ogg"]
        rows += [{"path": p, "soundtrack": soundtrack, "package": package} for p in files]
    if not rows:
        raise FileNotFoundError(
            "none of Debian's game-music packages is installed: sudo apt-get install "
            + " ".join(GAME_SOUNDTRACKS.values())
        )
    out = pd.DataFrame(rows, columns=["path", "soundtrack", "package"])
    out.attrs["missing"] = tuple(missing)
    return out


def _is_complete(folder: Path) -> bool:
    try:
        info = json.loads((folder / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return info.get("version") == DEMO_VERSION


def _write_track(root: Path, track: DemoTrack) -> Path:
    container_format, codec, rate = _FORMATS[track.format]
    x = synth.render(track.style, seconds=track.seconds, sample_rate=rate, seed=track.seed)
    out = root / track.relpath
    out.parent.mkdir(parents=True, exist_ok=True)
    _encode(out, x, rate, container_format, codec)
    if track.artist is not None:
        _tag(out, track)
    return out


def _encode(path: Path, x: np.ndarray, rate: int, container_format: str, codec: str) -> None:
    """Encode stereo float32 ``x`` [2, n]; bit-exact mode keeps the output deterministic."""
    with av.open(
        os.fspath(path), "w", format=container_format, options={"fflags": "+bitexact"}
    ) as container:
        stream = container.add_stream(codec, rate=rate, layout="stereo")
        if codec in ("libmp3lame", "aac", "libopus"):
            stream.codec_context.bit_rate = 128_000
        step = 4096
        for i in range(0, x.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(x[:, i : i + step]), format="fltp", layout="stereo"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def _tag(path: Path, t: DemoTrack) -> None:
    fmt = t.format
    if fmt in ("mp3", "wav", "aiff"):  # ID3, in a WAV or AIFF chunk for the latter two
        f = mutagen.File(path)
        if f.tags is None:
            f.add_tags()
        tags: ID3 = f.tags
        tags.add(TIT2(encoding=3, text=t.title))
        tags.add(TPE1(encoding=3, text=t.artist))
        tags.add(TALB(encoding=3, text=t.album))
        tags.add(TPE2(encoding=3, text=t.artist))
        tags.add(TCON(encoding=3, text=list(t.genre)))
        tags.add(TDRC(encoding=3, text=str(t.year)))
        tags.add(TRCK(encoding=3, text=f"{t.number}/6"))
        f.save()
    elif fmt == "m4a":
        f = MP4(path)
        f["\xa9nam"], f["\xa9ART"], f["\xa9alb"], f["aART"] = t.title, t.artist, t.album, t.artist
        f["\xa9gen"], f["\xa9day"], f["trkn"] = list(t.genre), str(t.year), [(t.number, 6)]
        f.save()
    else:  # Vorbis comments: ogg vorbis, opus, flac
        f = mutagen.File(path)
        f["title"], f["artist"], f["album"], f["albumartist"] = t.title, t.artist, t.album, t.artist
        f["genre"], f["date"], f["tracknumber"] = list(t.genre), str(t.year), f"{t.number}/6"
        f.save()
