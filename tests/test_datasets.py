"""The demo collection: offline, deterministic, tagged, in several formats, safe to call twice."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from embedexplore import audio, datasets, scan


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    return datasets.demo(tmp_path_factory.mktemp("demo") / "collection", progress=False)


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_demo_is_tagged_as_planned_in_several_formats(demo_folder):
    plan = {t.relpath: t for t in datasets.demo_tracks()}
    c = scan(demo_folder, cache=False, progress=False)
    assert len(c.tracks) == len(plan) == 30 and len(c.errors) == 0
    assert c.tracks["container"].nunique() >= 5
    assert 20 * 60 <= c.duration <= 30 * 60
    for row in c.tracks.itertuples():
        t = plan[str(row.path)[len(str(demo_folder)) + 1 :]]
        assert row.duration == pytest.approx(t.seconds, abs=0.1)
        if t.artist is None:
            assert row.title == "field recording 3" and row.artist != row.artist  # NaN
        else:
            assert (row.title, row.artist, row.album, row.year) == (
                t.title,
                t.artist,
                t.album,
                t.year,
            )
            assert row.genre == list(t.genre)
    assert c.tracks["artist"].nunique() == 5


def test_demo_styles_sound_different(demo_folder):
    """Each style has its own spectral signature: the explorer needs something to separate."""
    centroids = {}
    for t in datasets.demo_tracks():
        x = audio.load(demo_folder / t.relpath, duration=10.0)
        spec = np.abs(np.fft.rfft(x.reshape(-1, 1000) * np.hanning(1000), axis=1)).mean(0)
        freqs = np.fft.rfftfreq(1000, 1 / 16_000)
        centroids.setdefault(t.style, []).append(float((spec * freqs).sum() / spec.sum()))
    means = {s: np.mean(v) for s, v in centroids.items()}
    # noise textures are brightest, low strings pads darkest; the five are mutually distinct
    assert means["noise"] > means["strings"] and means["guitar"] > means["strings"]
    values = sorted(means.values())
    assert min(np.diff(values)) > 20, means


def test_demo_is_deterministic_and_reused(demo_folder, tmp_path):
    again = datasets.demo(tmp_path / "again", progress=False)
    assert _digest(again) == _digest(demo_folder)
    before = _digest(again)
    assert datasets.demo(again, progress=False) == again  # found complete: nothing rewritten
    assert _digest(again) == before


def test_demo_refuses_to_write_into_a_folder_of_the_users(tmp_path):
    mine = tmp_path / "my music"
    mine.mkdir()
    (mine / "precious.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not an embedexplore demo folder"):
        datasets.demo(mine, progress=False)
    assert [p.name for p in mine.iterdir()] == ["precious.txt"]


def test_demo_default_location_is_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDEXPLORE_CACHE", str(tmp_path / "cache"))
    two = datasets.demo_tracks()[:2]  # two tracks are enough to check where it goes
    monkeypatch.setattr(datasets, "demo_tracks", lambda: two)
    folder = datasets.demo(progress=False)
    assert folder == tmp_path / "cache" / f"demo-v{datasets.DEMO_VERSION}"
    assert len(scan(folder, progress=False).tracks) == 2


@pytest.mark.realmusic
def test_game_music_lists_the_installed_soundtracks():
    from realmusic import INSTALL

    try:
        music = datasets.game_music()
    except FileNotFoundError:
        pytest.skip(f"no game music installed ({INSTALL})")
    assert list(music.columns) == ["path", "soundtrack", "package"]
    assert list(music["soundtrack"].unique()) == [
        s for s in datasets.GAME_SOUNDTRACKS if s in set(music["soundtrack"])
    ]
    for soundtrack, rows in music.groupby("soundtrack"):
        package = datasets.GAME_SOUNDTRACKS[soundtrack]
        folder = datasets.GAME_MUSIC_PACKAGES[package]
        assert (rows["package"] == package).all()
        if soundtrack == "fretsonfire":  # the full mix of each song, not its stems
            expected = set(folder.glob("*/song.ogg"))
            assert any(folder.glob("*/guitar.ogg"))
        else:
            expected = {p for p in folder.rglob("*") if p.suffix in (".ogg", ".mp3")}
        assert set(rows["path"]) == expected and len(expected) >= 3
        assert list(rows["path"]) == sorted(expected)
        assert audio.load(rows["path"].iloc[0], duration=1.0).size == 16_000  # real audio
    assert not any(p.suffix == ".pk3" for p in music["path"])
    assert music.attrs["missing"] == tuple(
        p for p in datasets.GAME_SOUNDTRACKS.values() if p not in set(music["package"])
    )


def test_game_music_says_how_to_install_it(monkeypatch, tmp_path):
    for package in datasets.GAME_MUSIC_PACKAGES:
        monkeypatch.setitem(datasets.GAME_MUSIC_PACKAGES, package, tmp_path / package)
    with pytest.raises(
        FileNotFoundError, match=r"sudo apt-get install wesnoth-1\.16-music colobot-common-sounds"
    ):
        datasets.game_music()
    # one package installed: its files, the others named missing
    folder = tmp_path / "asc-music"
    folder.mkdir()
    for name in ("b.mp3", "a.mp3", "notes.txt"):
        (folder / name).write_bytes(b"")
    music = datasets.game_music()
    assert [p.name for p in music["path"]] == ["a.mp3", "b.mp3"]
    assert set(music["soundtrack"]) == {"asc"} and "wesnoth-1.16-music" in music.attrs["missing"]


def test_install_script_installs_the_game_music_packages():
    """scripts/install_test_music.sh keeps its own list (bash): the same packages as
    GAME_MUSIC_PACKAGES, so that what the tests and notebook 03 read is what CI installs."""
    from embedexplore.datasets import GAME_MUSIC_PACKAGES

    script = Path(__file__).resolve().parent.parent / "scripts" / "install_test_music.sh"
    text = script.read_text(encoding="utf-8")
    command = text[text.index("apt_install.sh") :].split("\n\n")[0]
    named = {w for w in command.split()[1:] if w != "\\"}
    assert named == set(GAME_MUSIC_PACKAGES), named ^ set(GAME_MUSIC_PACKAGES)
