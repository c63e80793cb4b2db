"""Where Debian's game-music packages put their music, for the integration tests.

A module of its own, not conftest.py: with the example notebooks' conftest.py also loaded
(pytest --nbval-lax runs tests/ and examples/), ``from conftest import ...`` may find the other
one.
"""

from __future__ import annotations

from pathlib import Path

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


def real_music(package: str) -> Path:
    """The installed folder (or file) of a music package, or skip saying how to install it."""
    path = REAL_MUSIC[package]
    if not path.exists():
        pytest.skip(f"{package} is not installed (bash scripts/install_test_music.sh, as root)")
    return path
