"""What the Dask tests share: a LocalCluster, extraction as a worker runs it, and the comparison of
two stores (tests/test_distributed.py, tests/test_distributed_faults.py)."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import embedexplore as ee

MODELS = ["musicnn-msd", "vgg-mtt"]
TIMEOUT = 300  # every wait on the cluster is bounded: a hang fails instead of eating CI


def music_folder(root: Path) -> Path:
    """Eight excerpts (4-8 s) of Debian's FreedroidRPG music in ``root`` (skips the test where
    the package is not installed)."""
    from audiofiles import excerpt
    from realmusic import real_music

    for i, src in enumerate(sorted(real_music("freedroidrpg-data").glob("*.ogg"))[:8]):
        excerpt(src, root / f"{i:02d} {src.stem}.ogg", 4.0 + 2.0 * (i % 3))
    return root


@contextmanager
def local_cluster():
    """A Client of a LocalCluster: two worker processes of one thread each."""
    import distributed

    # Dask sets OMP_NUM_THREADS=1 (and the like) in this process's environment for its workers
    # and leaves it there: later tests' subprocesses would then compute with one thread
    saved = dict(os.environ)
    try:
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
            ) as lc,
            distributed.Client(lc, timeout=TIMEOUT) as client,
        ):
            yield client
    finally:
        os.environ.clear()
        os.environ.update(saved)


def extract(collection, store, models=MODELS, **kw):
    """Extraction in shards of 3 tracks, with one torch thread, as Dask's worker processes run
    (OMP_NUM_THREADS=1): with another number of threads the CPU's sums run in another order,
    and one value in a few thousand lands on the neighbouring float16."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if "cluster" in kw:
            kw.setdefault("shard_timeout", TIMEOUT)
        return ee.extract(collection, store=store, models=models, device="cpu", progress=False,
                          shard_tracks=3, **kw)  # fmt: skip
    finally:
        torch.set_num_threads(threads)


def assert_same_store(a, b) -> None:
    """Two stores hold the same segments, arrays, errors and committed parts, and nothing else."""
    ea, eb = ee.open_store(a), ee.open_store(b)
    assert list(ea.models) == list(eb.models) == MODELS
    assert ea.segments.equals(eb.segments) and ea.tracks.equals(eb.tracks)
    for m in MODELS:
        for layer in ("taggrams", "embeddings"):
            np.testing.assert_array_equal(ea.array(m, layer), eb.array(m, layer))
    assert ea.errors.equals(eb.errors)
    ma, mb = (json.loads((Path(p) / "manifest.json").read_text()) for p in (a, b))
    assert {m: e["parts"] for m, e in ma["models"].items()} == {
        m: e["parts"] for m, e in mb["models"].items()
    }
    for p in (a, b):  # one part per model after compaction, nothing stray
        assert sorted(x.name for x in (Path(p) / "parts").iterdir()) == sorted(MODELS)
        assert all(len(list((Path(p) / "parts" / m).iterdir())) == 1 for m in MODELS)
