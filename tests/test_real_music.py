"""Integration tests on real music: Debian's freely licensed game-music packages.

Installed by scripts/install_test_music.sh (CI runs it); each test skips, saying how to install
its package, where the package is absent.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

import audiofiles as af
from embedexplore import audio, scan
from realmusic import real_music

pytestmark = pytest.mark.realmusic


def _check_durations(collection, limit=None):
    """Every duration within 0.1 s of the length FFmpeg decodes (all samples counted)."""
    rows = collection.tracks if limit is None else collection.tracks.head(limit)
    for row in rows.itertuples():
        assert row.duration == pytest.approx(af.decoded_seconds(row.path), abs=0.1), row.path


def test_wesnoth_orchestral_ogg_fully_tagged():
    folder = real_music("wesnoth-1.16-music")
    c = scan(folder, progress=False)
    n_files = len(list(folder.glob("*.ogg")))
    assert len(c.tracks) == n_files >= 30 and len(c.errors) == 0
    battle = c.tracks[c.tracks["path"].str.endswith("/battle.ogg")].iloc[0]
    assert battle["title"] == "Battle Music"
    assert battle["artist"] == "Aleksi Aubry-Carlson"
    assert battle["album"] == "The Battle for Wesnoth OST"
    assert battle["album_artist"] == "Wesnoth Project"
    assert battle["genre"] == ["Romantic Classical"]
    assert battle["year"] == 2006 and battle["track_number"] == 9
    assert battle["codec"] == "vorbis" and battle["sample_rate"] == 44_100
    assert c.tracks["artist"].notna().mean() > 0.9
    _check_durations(c)


def test_colobot_tagged_ogg():
    folder = real_music("colobot-common-sounds")
    c = scan(folder, progress=False)
    assert len(c.tracks) == len(list(folder.glob("*.ogg"))) and len(c.errors) == 0
    assert c.tracks["album"].notna().sum() >= len(c.tracks) - 2
    assert {"Colobot: Gold Edition", "CoLoBoT - Original Soundtrack"} <= set(c.tracks["album"])
    _check_durations(c)


def test_fretsonfire_death_metal():
    folder = real_music("fretsonfire-songs-muldjord")
    c = scan(folder, progress=False)
    assert len(c.tracks) == len(list(folder.rglob("*.ogg"))) == 8
    assert set(c.tracks["artist"]) == {"Muldjord"}
    assert all(g == ["Death Metal"] for g in c.tracks["genre"])
    # each song folder holds song.ogg and guitar.ogg: distinct ids for the same file names
    assert c.tracks.index.is_unique
    _check_durations(c)


def test_freedroid_ambient_partly_untagged():
    folder = real_music("freedroidrpg-data")
    c = scan(folder, progress=False)
    assert len(c.tracks) == len(list(folder.glob("*.ogg"))) and len(c.errors) == 0
    untagged = c.tracks[c.tracks["artist"].isna()]
    assert len(untagged) > 0
    # the title of an untagged file is its file name, never a neighbour's title
    for row in untagged.itertuples():
        assert row.title == Path(row.path).stem
    _check_durations(c)


def test_asc_mp3():
    folder = real_music("asc-music")
    c = scan(folder, progress=False)
    assert sorted(Path(p).name for p in c.tracks["path"]) == [
        "frontiers.mp3",
        "machine_wars.mp3",
        "time_to_strike.mp3",
    ]
    assert set(c.tracks["codec"]) == {"mp3"}
    _check_durations(c)


def test_nexuiz_music_inside_a_pk3_archive(tmp_path):
    pk3 = real_music("nexuiz-music")
    # scanning the folder as it is installed: the archive is reported, not silently skipped
    c = scan(pk3.parent, progress=False)
    assert len(c.tracks) == 0
    assert c.errors["reason"].str.contains("archive").any()
    # the user extracts it (as the message says) and scans the audio
    with zipfile.ZipFile(pk3) as z:
        members = [m for m in z.namelist() if m.endswith(".ogg")]
        z.extractall(tmp_path, members)
    c = scan(tmp_path, progress=False)
    assert len(c.tracks) == len(members) > 5 and len(c.errors) == 0
    _check_durations(c, limit=4)


def test_bad_files_among_real_music(tmp_path):
    src = real_music("wesnoth-1.16-music")
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("battle.ogg", "elvish-theme.ogg", "legends_of_the_north.ogg"):
        if (src / name).exists():
            shutil.copy(src / name, lib / name)
    good = len(list(lib.iterdir()))
    data = (src / "battle.ogg").read_bytes()
    (lib / "half downloaded.ogg").write_bytes(data[: len(data) // 3])
    (lib / "zero.ogg").write_bytes(b"")
    (lib / "readme.mp3").write_text("These tracks are GPL.\n" * 40)
    mp3 = real_music("asc-music") / "frontiers.mp3"
    (lib / "cut.mp3").write_bytes(mp3.read_bytes()[:200_000])
    c = scan(lib, progress=False)
    by_name = {Path(p).name: r for p, r in zip(c.errors["path"], c.errors["reason"], strict=False)}
    assert set(by_name) == {"half downloaded.ogg", "zero.ogg", "readme.mp3", "cut.mp3"}
    assert by_name["half downloaded.ogg"].startswith("truncated")
    assert by_name["zero.ogg"] == "empty file (0 bytes)"
    assert by_name["cut.mp3"].startswith("truncated")
    assert len(c.tracks) == good + 2  # the truncated files stay, usable up to where they stop


def test_rescan_of_real_folder_reads_nothing():
    folder = real_music("wesnoth-1.16-music")
    first = scan(folder, progress=False)
    second = scan(folder, progress=False)
    assert second.stats.read == 0 and second.stats.cached == len(first.tracks)


def test_decoding_real_music_matches_a_one_shot_reference():
    """Streaming decode + soxr HQ equals decoding everything and resampling in one go."""
    import av
    import soxr

    path = real_music("asc-music") / "time_to_strike.mp3"
    ours = np.concatenate(list(audio.stream(path, chunk_seconds=7.0)))
    with av.open(str(path)) as c:
        pcm = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
        rate = c.streams.audio[0].rate
    reference = soxr.resample(pcm.mean(axis=0), rate, 16_000, quality="HQ")
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, atol=1e-6)
