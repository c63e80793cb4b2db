"""Where Debian's game-music packages put their music, for the integration tests.

A module of its own, not conftest.py: with the example notebooks' conftest.py also loaded
(pytest --nbval-lax runs tests/ and examples/), ``from conftest import ...`` may find the other
one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Debian packages of freely licensed game music (see scripts/install_test_music.sh): the list is
# the library's, which game_music() reads
from embedexplore.datasets import GAME_MUSIC_PACKAGES as REAL_MUSIC

__all__ = ["INSTALL", "REAL_MUSIC", "real_music"]

INSTALL = "bash scripts/install_test_music.sh, as root"


def real_music(package: str) -> Path:
    """The installed folder (or file) of a music package, or skip saying how to install it."""
    path = REAL_MUSIC[package]
    if not path.exists():
        pytest.skip(f"{package} is not installed ({INSTALL})")
    return path
