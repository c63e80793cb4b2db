"""Extraction on a Dask cluster writes the very store one machine writes.

A small folder of real music (excerpts of Debian's FreedroidRPG music) is extracted on one
machine and on a Dask LocalCluster of two worker processes, in shards of three tracks; the two
stores hold identical arrays, segment tables and committed parts.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import embedexplore as ee
from audiofiles import excerpt
from realmusic import real_music

distributed = pytest.importorskip("distributed", reason="pip install 'embedexplore[distributed]'")

pytestmark = [pytest.mark.realmusic, pytest.mark.slow]
MODELS = ["musicnn-msd", "vgg-mtt"]
TIMEOUT = 300  # every wait on the cluster is bounded: a hang fails instead of eating CI


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist") / "music"
    for i, src in enumerate(sorted(real_music("freedroidrpg-data").glob("*.ogg"))[:8]):
        excerpt(src, root / f"{i:02d} {src.stem}.ogg", 4.0 + 2.0 * (i % 3))
    collection = ee.scan(root, cache=False, progress=False)
    # scanned sound, then damaged: its decoding fails during extraction (the errors table)
    victim = sorted(root.glob("*.ogg"))[4]
    victim.write_bytes(victim.read_bytes()[:200] + bytes(5000))
    return collection


@pytest.fixture(scope="module")
def cluster():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            worker_class=distributed.Nanny,
        ) as lc,
        distributed.Client(lc, timeout=TIMEOUT) as client,
    ):  # fmt: skip
        yield client


def _extract(collection, store, models=MODELS, **kw):
    """Extraction with one torch thread, as Dask's worker processes run (OMP_NUM_THREADS=1):
    with another number of threads the CPU's sums run in another order, and one value in a few
    thousand lands on the neighbouring float16."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        if "cluster" in kw:  # a hang fails the test instead of eating CI
            kw.setdefault("shard_timeout", TIMEOUT)
        return ee.extract(collection, store=store, models=models, device="cpu", progress=False,
                          shard_tracks=3, **kw)  # fmt: skip
    finally:
        torch.set_num_threads(threads)


def _same_store(a, b) -> None:
    ea, eb = ee.open_store(a), ee.open_store(b)
    assert list(ea.models) == list(eb.models) == MODELS
    assert ea.segments.equals(eb.segments) and ea.tracks.equals(eb.tracks)
    for m in MODELS:
        for layer in ("taggrams", "embeddings"):
            np.testing.assert_array_equal(ea.array(m, layer), eb.array(m, layer))
    assert ea.errors.equals(eb.errors) and len(ea.errors) == 1
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in (a, b))
    assert {m: e["parts"] for m, e in ma["models"].items()} == {
        m: e["parts"] for m, e in mb["models"].items()
    }


def test_a_cluster_writes_the_store_one_machine_writes(folder, cluster, tmp_path):
    threads = cluster.run(lambda: __import__("torch").get_num_threads())
    assert set(threads.values()) == {1}  # what _extract uses here too
    single = _extract(folder, tmp_path / "single")
    assert single.stats.extracted == 7 and single.stats.failed == 1
    many = _extract(folder, tmp_path / "cluster", cluster=cluster)
    assert many.stats.extracted == 7 and many.stats.failed == 1
    _same_store(tmp_path / "single", tmp_path / "cluster")
    # both workers took part: the models ran in two processes, each loaded once
    loaded = cluster.run(lambda: len(__import__("embedexplore._cluster")._cluster._MODELS))
    assert sorted(loaded.values()) == [1, 1]
    # a second run on the cluster finds nothing to do
    again = _extract(folder, tmp_path / "cluster", cluster=cluster)
    assert again.stats.extracted == 0 and again.stats.reused == 7


def test_a_scheduler_address_works_too_and_resumes_a_partial_store(folder, cluster, tmp_path):
    collection = folder
    # half the models on one machine first, then the rest through the scheduler's address
    _extract(collection, tmp_path / "s", models=MODELS[:1])
    _extract(collection, tmp_path / "s", cluster=cluster.scheduler.address)
    _extract(folder, tmp_path / "one")
    _same_store(tmp_path / "s", tmp_path / "one")


def test_cluster_argument_errors(folder, tmp_path):
    with pytest.raises(TypeError, match="scheduler address"):
        ee.extract(folder, store=tmp_path / "x", models=MODELS[:1], cluster=3, progress=False)


def test_the_command_line_extracts_through_a_scheduler(folder, cluster, tmp_path, capsys):
    from embedexplore.cli import main

    music = folder.roots[0]  # scanned again: the damaged file is now left out by the scan
    address = cluster.scheduler.address
    args = ["extract", str(music), "--store", str(tmp_path / "cli"), "--models", *MODELS,
            "--device", "cpu", "--no-cache", "-q", "--scheduler", address]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "11 segments of 7 tracks" in out and "7 extracted" in out
    # the same tracks, cut into other shards (so other batches): the same values
    np.testing.assert_allclose(
        np.asarray(ee.open_store(tmp_path / "cli").array("vgg-mtt"), np.float32),
        np.asarray(_extract(folder, tmp_path / "one").array("vgg-mtt"), np.float32),
        atol=2e-3,
    )
