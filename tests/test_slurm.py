"""Extraction on SLURM (dask-jobqueue) writes the very store one machine and a LocalCluster write.

A one-node SLURM cluster (Debian's slurmctld, slurmd and munge on 127.0.0.1; tests/slurm.py)
runs the Dask workers as batch jobs, started by :func:`embedexplore.slurm_cluster` exactly as on
a lab's cluster, minus the GPUs (``gpus=0``: CPU workers).
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import embedexplore as ee
from clusters import TIMEOUT, assert_same_store, extract, local_cluster, music_folder
from slurm import one_node_slurm

pytest.importorskip("distributed", reason="pip install 'embedexplore[distributed]'")
pytest.importorskip("dask_jobqueue", reason="pip install 'embedexplore[distributed]'")

pytestmark = [pytest.mark.realmusic, pytest.mark.slow]


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    with one_node_slurm(tmp_path_factory.mktemp("slurm")) as conf:
        yield conf


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = music_folder(tmp_path_factory.mktemp("slurm-music") / "music")
    collection = ee.scan(root, cache=False, progress=False)
    victim = sorted(root.glob("*.ogg"))[2]  # decodes badly at extraction: the errors table
    victim.write_bytes(victim.read_bytes()[:200] + bytes(5000))
    return collection


def _jobs() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %j %T"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.split("\n")[:-1]


def test_one_machine_a_local_cluster_and_slurm_write_the_same_store(slurm, folder, tmp_path):
    single = extract(folder, tmp_path / "single")
    assert (single.stats.extracted, single.stats.failed) == (7, 1)
    with local_cluster() as client:
        extract(folder, tmp_path / "local", cluster=client)

    cluster = ee.slurm_cluster(
        2, gpus=0, cores=1, memory="2GB", walltime="00:20:00", interface="lo",
        log_directory=str(tmp_path / "jobs"),
    )  # fmt: skip
    try:
        assert "#SBATCH --cpus-per-task=1" in cluster.job_script()
        assert "DASK_DISTRIBUTED__WORKER__DAEMON=False" in cluster.job_script()
        from distributed import Client

        with Client(cluster, timeout=TIMEOUT) as client:
            client.wait_for_workers(2, timeout=TIMEOUT)
            assert len([j for j in _jobs() if "RUNNING" in j]) == 2  # two SLURM jobs
            # as on one machine here: one torch thread (Dask's workers set OMP_NUM_THREADS=1)
            threads = client.run(lambda: __import__("torch").get_num_threads())
            assert set(threads.values()) == {1}
            many = extract(folder, tmp_path / "slurm", cluster=client)
            assert (many.stats.extracted, many.stats.failed) == (7, 1)
            assert len(many.stats.workers) == 2  # both jobs ran shards
            for w in many.stats.workers.values():
                assert w["tracks"] > 0 and w["realtime"] > 0
                # the jobs' workers are not daemons: they decode in a process
                assert w["decoders"] == "1 process"
    finally:
        cluster.close()
    assert_same_store(tmp_path / "single", tmp_path / "local")
    assert_same_store(tmp_path / "single", tmp_path / "slurm")
    assert len(ee.open_store(tmp_path / "slurm").errors) == 1


def test_the_command_line_runs_slurm_jobs_and_ends_them(slurm, folder, tmp_path, capsys):
    from embedexplore.cli import main

    music = folder.roots[0]
    args = ["extract", str(music), "--store", str(tmp_path / "cli"), "--models", "vgg-mtt",
            "--device", "cpu", "--no-cache", "-q", "--slurm", "2", "--slurm-gpus", "0",
            "--slurm-cores", "1", "--slurm-memory", "2GB", "--slurm-walltime", "00:20:00",
            "--slurm-interface", "lo", "--slurm-logs", str(tmp_path / "jobs"),
            "--shard-timeout", str(TIMEOUT)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "7 extracted" in out and "0 failed" in out
    one = extract(folder, tmp_path / "one", models=["vgg-mtt"])
    np.testing.assert_allclose(  # one shard of 7 tracks, not three: other batches
        np.asarray(ee.open_store(tmp_path / "cli").array("vgg-mtt"), np.float32),
        np.asarray(one.array("vgg-mtt"), np.float32),
        atol=2e-3,
    )
    # the jobs end with the command (the cluster is closed, its jobs cancelled)
    for _ in range(60):
        if not _jobs():
            break
        __import__("time").sleep(1)
    assert _jobs() == []
