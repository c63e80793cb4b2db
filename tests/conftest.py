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


@pytest.fixture(scope="session")
def clocks_store(tmp_path_factory):
    """Five tracks (9-40 s of tones with slow swells) extracted with vgg-msd (2.992 s segments)
    and "tiny" (1 s, :func:`tiny_model`): the folder and the store (about 15 s). "tiny" is
    registered for the extraction only."""
    import embedexplore as ee
    from audiofiles import write
    from tinymodel import TINY, tiny_model

    base = tmp_path_factory.mktemp("clocks")
    rng = np.random.default_rng(5)
    rate = 22050
    for i, seconds in enumerate([14, 23, 31, 9, 40]):
        t = np.arange(seconds * rate) / rate
        swell = 0.5 + 0.4 * np.sin(2 * np.pi * t / (3 + i))
        x = swell * np.sin(2 * np.pi * 110 * (i + 2) * t) + 0.05 * rng.standard_normal(len(t))
        write(base / "music" / f"track{i}.wav", (0.5 * x).astype(np.float32)[None], rate=rate)
    ee.register_model("tiny", tiny_model(), **TINY)
    try:
        ee.extract(base / "music", store=base / "store", models=["vgg-msd", "tiny"],
                   device="cpu", progress=False)  # fmt: skip
    finally:
        ee.registry.unregister("tiny")
    return base / "music", base / "store"
