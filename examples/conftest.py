"""pytest --nbval-lax runs these notebooks (scripts/test.sh). Their kernels inherit this
process's environment: give them a private cache (demo collection, stores, projections) and a
private output folder for the playlists, so that a test run neither reads nor writes the user's
files, and the three notebooks share one extraction of the demo collection."""

from __future__ import annotations

import os
import shutil
import tempfile

_made: list[str] = []


def pytest_configure(config):
    if not config.getoption("nbval_lax", default=False) and not config.getoption(
        "nbval", default=False
    ):
        return
    base = tempfile.mkdtemp(prefix="embedexplore-notebooks-")
    _made.append(base)
    os.environ["EMBEDEXPLORE_CACHE"] = os.path.join(base, "cache")
    os.environ["EMBEDEXPLORE_OUT"] = os.path.join(base, "playlists")


def pytest_unconfigure(config):
    for base in _made:
        shutil.rmtree(base, ignore_errors=True)
