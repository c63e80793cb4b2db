"""One writer at a time: the store's lock (``filelock``: flock here, LockFileEx on Windows)
refuses a second writer, in another process or in this one, and dies with a killed writer."""

from __future__ import annotations

import subprocess
import sys

import pytest

from embedexplore.store import Store, StoreError

# a writer that takes the lock, says so, and waits to be killed
HOLD = """
import sys, time
from embedexplore.store import Store
with Store(sys.argv[1], create=True).lock():
    print("locked", flush=True)
    time.sleep(300)
"""


def test_a_killed_writer_leaves_the_store_unlocked(tmp_path):
    store = tmp_path / "store"
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline() == "locked\n"
        st = Store(store)
        with pytest.raises(StoreError, match="another process is extracting into"), st.lock():
            pass
        writer.kill()  # SIGKILL here, TerminateProcess on Windows: no clean-up runs
        writer.wait(timeout=60)
        with st.lock():  # the operating system released the dead writer's lock
            pass
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        writer.stdout.close()
    assert Store(store).manifest() == {"models": {}, "errors": {}}  # a store as it was made


def test_two_locks_of_one_process_refuse_each_other(tmp_path):
    st = Store(tmp_path / "store", create=True)
    with st.lock():
        with pytest.raises(StoreError, match="wait for it to finish"), st.lock():
            pass
        with pytest.raises(StoreError), Store(st.path).lock():
            pass
    with st.lock():  # released on leaving the block, and the store still opens
        Store(st.path, create=True)


def test_a_damaged_part_still_open_is_never_committed_again(tmp_path, monkeypatch):
    # Windows: a part a reader memory-maps cannot be removed (remove_part says False there); a
    # damaged one is then refused with what to do, never taken for a part another writer
    # published meanwhile. The Windows refusal is stood in for by remove_part's answer.
    import numpy as np

    st = Store(tmp_path / "store", create=True)
    args = dict(version="1", dtype="float32", tracks=[("t1", 10, 20)], n_segments=[3])
    arrays = {"embeddings": np.arange(6, dtype=np.float32).reshape(3, 2)}
    pid = st.write_part("m", **args, arrays=arrays)
    npy = st.part_path("m", pid) / "embeddings.npy"
    npy.write_bytes(npy.read_bytes()[:-4] + b"\0\0\0\0")  # its checksum no longer holds
    monkeypatch.setattr(Store, "remove_part", lambda self, model, pid: False)
    with pytest.raises(StoreError, match=r"is damaged .* still open by a reader: close"):
        st.write_part("m", **args, arrays=arrays)
    monkeypatch.undo()
    assert st.write_part("m", **args, arrays=arrays) == pid  # removed, then written again
    assert st.inspect_part("m", pid, content=True)[1] is None
