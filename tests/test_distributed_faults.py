"""Faults on a Dask LocalCluster: a task that raises once, a worker process that dies in the
middle of a shard, the driver killed half-way and run again. Each run ends with the store one
machine writes without faults: no segment lost, none duplicated.

Faults are injected into the worker processes with ``client.run`` before any task runs (each test
has its own cluster); a flag file makes each fault happen once across the cluster.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import embedexplore as ee
from clusters import MODELS, TIMEOUT, assert_same_store, extract, local_cluster, music_folder

distributed = pytest.importorskip("distributed", reason="pip install 'embedexplore[distributed]'")

pytestmark = [pytest.mark.realmusic, pytest.mark.slow]


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    root = music_folder(tmp_path_factory.mktemp("faults") / "music")
    return ee.scan(root, cache=False, progress=False)


@pytest.fixture(scope="module")
def reference(collection, tmp_path_factory):
    store = tmp_path_factory.mktemp("reference") / "store"
    extract(collection, store)
    return store


@pytest.fixture
def client():
    with local_cluster() as c:  # its own cluster: faults are injected before any task runs
        yield c


def _once(flag: str) -> bool:
    """True the first time it is called for ``flag`` anywhere on this machine."""
    try:
        os.close(os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _raise_once(flag: str) -> None:
    import embedexplore._cluster as cluster

    original = cluster.run_shard

    def faulty(spec, tracks, need):
        if _once(flag):
            raise RuntimeError("injected fault: this task fails once")
        return original(spec, tracks, need)

    cluster.run_shard = faulty


def _die_after_first_part(flag: str) -> None:
    from embedexplore.store import Store

    original = Store.write_part

    def write_then_die(self, *args, **kwargs):
        pid = original(self, *args, **kwargs)
        if _once(flag):
            os._exit(1)  # the worker process dies with a part published, not committed
        return pid

    Store.write_part = write_then_die


@pytest.mark.parametrize(
    "inject",
    [
        pytest.param(_raise_once, id="a task that raises once is retried"),
        pytest.param(
            _die_after_first_part, id="a worker that dies mid-shard loses that shard only"
        ),
    ],
)
def test_a_fault_on_a_worker_ends_with_the_fault_free_store(
    inject, collection, reference, client, tmp_path
):
    flag = str(tmp_path / "fault")
    client.run(inject, flag)
    emb = extract(collection, tmp_path / "store", cluster=client)
    assert Path(flag).exists(), "the fault did not happen"
    assert emb.stats.extracted == 8 and emb.stats.failed == 0
    assert_same_store(tmp_path / "store", reference)


def test_the_driver_killed_half_way_resumes(collection, reference, client, tmp_path):
    """A driver process is killed once the first shard is committed; running the same
    extraction again finishes the store."""
    import json

    store = tmp_path / "store"
    saved = tmp_path / "collection.pkl"
    saved.write_bytes(pickle.dumps(collection))
    script = textwrap.dedent(f"""
        import pickle, time
        import embedexplore as ee
        import embedexplore._cluster as cluster

        original = cluster.run_shards

        def slow_commit(client, shards, spec, have, commit, *args, **kwargs):
            def commit_then_wait(result):
                commit(result)
                time.sleep(30)  # killed here, after its first commit
            return original(client, shards, spec, have, commit_then_wait, *args, **kwargs)

        cluster.run_shards = slow_commit
        collection = pickle.loads(open({str(saved)!r}, "rb").read())
        ee.extract(collection, store={str(store)!r}, models={MODELS!r}, device="cpu",
                   progress=False, shard_tracks=3, cluster={client.scheduler.address!r},
                   shard_timeout={TIMEOUT})
    """)
    driver = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            manifest = store / "manifest.json"
            parts = (
                [p for e in json.loads(manifest.read_text())["models"].values() for p in e["parts"]]
                if manifest.exists()
                else []
            )
            if parts:
                break
            assert driver.poll() is None, "the driver ended before committing a shard"
            assert time.monotonic() < deadline, "no shard committed in time"
            time.sleep(0.2)
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
    emb = extract(collection, store, cluster=client)
    assert 0 < emb.stats.extracted < 8 and emb.stats.reused == 8 - emb.stats.extracted
    assert_same_store(store, reference)
