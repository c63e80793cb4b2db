from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

# Debian packages of freely licensed game music (see scripts/install_test_music.sh)
REAL_MUSIC = {
    "wesnoth-1.16-music": Path("/usr/share/games/wesnoth/1.16/data/core/music"),
    "colobot-common-sounds": Path("/usr/share/games/colobot/music"),
    "fretsonfire-songs-muldjord": Path("/usr/share/games/fretsonfire/data/songs/muldjord"),
    "nexuiz-music": Path("/usr/share/games/nexuiz/data/music.pk3"),
    "freedroidrpg-data": Path("/usr/share/freedroidrpg/data/sound/music"),
    "asc-music": Path("/usr/share/games/asc/music"),
}


@pytest.fixture
def rng():
    return np.random.default_rng(20221)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache directory: no test reads or writes the user's cache."""
    monkeypatch.setenv("EMBEDEXPLORE_CACHE", str(tmp_path_factory.mktemp("cache")))


def real_music(package: str) -> Path:
    """The installed folder (or file) of a music package, or skip saying how to install it."""
    path = REAL_MUSIC[package]
    if not path.exists():
        pytest.skip(f"{package} is not installed (bash scripts/install_test_music.sh, as root)")
    return path


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory):
    """The demo collection written, scanned and extracted with MusiCNN and VGG (MSD): the folder
    and the store (about 45 s on 2 cores, once per test session)."""
    import embedexplore as ee
    from embedexplore import datasets

    base = tmp_path_factory.mktemp("demo")
    folder = datasets.demo(base / "music", progress=False)
    collection = ee.scan(folder, progress=False)
    ee.extract(collection, store=base / "store", models=["musicnn-msd", "vgg-msd"], progress=False)
    return folder, base / "store"
