"""Extraction on a Dask cluster writes the very store one machine writes.

A small folder of real music (excerpts of Debian's FreedroidRPG music) is extracted on one
machine and on a Dask LocalCluster of two worker processes, in shards of three tracks; the two
stores hold identical arrays, segment tables and committed parts.
"""

from __future__ import annotations

import numpy as np
import pytest

import embedexplore as ee
from clusters import MODELS, TIMEOUT, assert_same_store, extract, local_cluster, music_folder

distributed = pytest.importorskip("distributed", reason="pip install 'embedexplore[distributed]'")

pytestmark = [pytest.mark.realmusic, pytest.mark.slow]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = music_folder(tmp_path_factory.mktemp("dist") / "music")
    collection = ee.scan(root, cache=False, progress=False)
    # scanned sound, then damaged: its decoding fails during extraction (the errors table)
    victim = sorted(root.glob("*.ogg"))[4]
    victim.write_bytes(victim.read_bytes()[:200] + bytes(5000))
    return collection


@pytest.fixture(scope="module")
def cluster():
    with local_cluster() as client:
        yield client


def test_a_cluster_writes_the_store_one_machine_writes(folder, cluster, tmp_path):
    threads = cluster.run(lambda: __import__("torch").get_num_threads())
    assert set(threads.values()) == {1}  # what _extract uses here too
    single = extract(folder, tmp_path / "single")
    assert single.stats.extracted == 7 and single.stats.failed == 1
    many = extract(folder, tmp_path / "cluster", cluster=cluster)
    assert many.stats.extracted == 7 and many.stats.failed == 1
    assert_same_store(tmp_path / "single", tmp_path / "cluster")
    assert len(ee.open_store(tmp_path / "cluster").errors) == 1
    # both workers took part: the models ran in two processes, each loaded once
    loaded = cluster.run(lambda: len(__import__("embedexplore._cluster")._cluster._MODELS))
    assert sorted(loaded.values()) == [1, 1]
    # a second run on the cluster finds nothing to do
    again = extract(folder, tmp_path / "cluster", cluster=cluster)
    assert again.stats.extracted == 0 and again.stats.reused == 7


def test_a_scheduler_address_works_too_and_resumes_a_partial_store(folder, cluster, tmp_path):
    collection = folder
    # half the models on one machine first, then the rest through the scheduler's address
    extract(collection, tmp_path / "s", models=MODELS[:1])
    extract(collection, tmp_path / "s", cluster=cluster.scheduler.address)
    extract(folder, tmp_path / "one")
    assert_same_store(tmp_path / "s", tmp_path / "one")


def test_small_collections_are_cut_into_smaller_shards_on_a_cluster():
    from embedexplore._plan import shard_size

    assert shard_size(500_000) == shard_size(12_800) == 200  # the default shard
    assert shard_size(1000) == 16  # 64 shards: work for 32 worker threads
    assert shard_size(7) == 4  # never below 4 tracks


def test_slurm_time_limits_are_read_as_slurm_reads_them():
    from embedexplore._cluster import walltime_seconds

    assert walltime_seconds("04:00:00") == 4 * 3600
    assert walltime_seconds("90") == 90 * 60  # minutes
    assert walltime_seconds("10:30") == 10 * 60 + 30
    assert walltime_seconds("1-12") == 36 * 3600
    assert walltime_seconds("2-00:30:00") == 48 * 3600 + 1800
    for bad in ("4h", "", "1:2:3:4", "00:00:00"):
        with pytest.raises(ValueError, match="walltime"):
            walltime_seconds(bad)


def test_cluster_argument_errors(folder, tmp_path):
    with pytest.raises(TypeError, match="scheduler address"):
        ee.extract(folder, store=tmp_path / "x", models=MODELS[:1], cluster=3, progress=False)


def test_the_command_line_extracts_through_a_scheduler(folder, cluster, tmp_path, capsys):
    from embedexplore.cli import main

    music = folder.roots[0]  # scanned again: the damaged file is now left out by the scan
    address = cluster.scheduler.address
    args = ["extract", str(music), "--store", str(tmp_path / "cli"), "--models", *MODELS,
            "--device", "cpu", "--no-cache", "-q", "--scheduler", address,
            "--shard-timeout", str(TIMEOUT)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "11 segments of 7 tracks" in out and "7 extracted" in out
    # the same tracks, cut into other shards (so other batches): the same values
    np.testing.assert_allclose(
        np.asarray(ee.open_store(tmp_path / "cli").array("vgg-mtt"), np.float32),
        np.asarray(extract(folder, tmp_path / "one").array("vgg-mtt"), np.float32),
        atol=2e-3,
    )


def test_registered_models_run_on_the_workers_and_write_the_same_store(folder, cluster, tmp_path):
    """Models registered in this session (a torch module and a numpy function defined here, as
    in a notebook) go to the workers with the tasks: the store is the one one machine writes."""
    import numpy as np
    import torch

    class Energy(torch.nn.Module):  # defined here: sent by value, as a notebook's would be
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.lin = torch.nn.Linear(8, 4)

        def forward(self, x):
            e = x[:, : 8 * (x.shape[1] // 8)].reshape(len(x), 8, -1).pow(2).mean(-1)
            return {"embeddings": self.lin(e)}

    def peaks(x):
        return {"embeddings": np.abs(x).max(1, keepdims=True)}

    ee.register_model("energy-d", Energy(), sample_rate=22050, segment_seconds=1.0,
                      layers={"embeddings": 4}, version="1")  # fmt: skip
    ee.register_model("peaks-d", peaks, sample_rate=8000, segment_seconds=0.5,
                      layers={"embeddings": 1}, version="1")  # fmt: skip
    models = ["energy-d", "peaks-d", "vgg-mtt"]
    try:
        single = extract(folder, tmp_path / "single", models=models)
        many = extract(folder, tmp_path / "cluster", models=models, cluster=cluster)
        assert many.stats.extracted == single.stats.extracted == 7
        a, b = ee.open_store(tmp_path / "single"), ee.open_store(tmp_path / "cluster")
        for m in models:
            assert a.segments_of(m).equals(b.segments_of(m))
            np.testing.assert_array_equal(a.array(m), b.array(m))
        assert (a.segments_of("energy-d")["start"] % 1 == 0).all()
    finally:
        ee.registry.unregister("energy-d")
        ee.registry.unregister("peaks-d")
