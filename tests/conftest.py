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


#: How the tests register their own model, "tiny" (see :func:`tiny_model`).
TINY = {"sample_rate": 22050, "segment_seconds": 1.0, "layers": {"embeddings": 4}, "version": "1"}


def tiny_model():
    """A model of the tests' own, registered as "tiny": the RMS energy of each eighth of a 1 s
    segment at 22,050 Hz through a fixed linear layer (4 dimensions). Self-contained: the browser
    tests put its source into a notebook cell."""
    import torch

    class Tiny(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(8, 4)
            with torch.no_grad():
                self.linear.weight.copy_(torch.linspace(-1.0, 1.0, 32).reshape(4, 8))
                self.linear.bias.zero_()

        def forward(self, x):
            n = x.shape[1] // 8 * 8
            rms = x[:, :n].reshape(x.shape[0], 8, -1).pow(2).mean(-1).sqrt()
            return {"embeddings": self.linear(rms)}

    return Tiny()


@pytest.fixture(scope="session")
def clocks_store(tmp_path_factory):
    """Five tracks (9-40 s of tones with slow swells) extracted with vgg-msd (2.992 s segments)
    and "tiny" (1 s, :func:`tiny_model`): the folder and the store (about 15 s). "tiny" is
    registered for the extraction only."""
    import embedexplore as ee
    from audiofiles import write

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
