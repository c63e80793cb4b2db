from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(20221)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own cache directory: no test reads or writes the user's cache."""
    monkeypatch.setenv("EMBEDEXPLORE_CACHE", str(tmp_path_factory.mktemp("cache")))


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
