"""The cost of the Dask engine: extraction of the same folder on one machine and on a LocalCluster.

    python benchmarks/cluster_overhead.py [--folder DIR] [--models M ...] [--shard-tracks 4]
        [--repeats 2] [--limit N]

Default folder: Debian's FreedroidRPG music (16 tracks, 49 minutes; ``bash
scripts/install_test_music.sh``). Four runs, each into a new store, in this order, repeated
``--repeats`` times (the best of each is kept):

- ``one machine, 1 thread``: ``extract(..., device="cpu")`` with one torch thread and one
  decoding process: the reference for
- ``LocalCluster 1x1``: one Dask worker process of one thread (torch uses one thread there, as
  Dask sets OMP_NUM_THREADS=1), decoding in one process (``distributed.worker.daemon: False``,
  as :func:`embedexplore.slurm_cluster` sets it): the same computation, so the ratio is the
  engine's overhead (tasks, sending track lists, publishing parts, the driver's commits);
- ``one machine, all cores``: the default single-machine run (torch on every core), against
- ``LocalCluster Nx1``: one single-threaded worker per core, what a user of this machine would
  get from the cluster path.

Each LocalCluster runs twice: first cold (its workers load the models and start their
decoders), then warm (a second extraction into a new store on the same workers): the
difference is the one-off cost of starting, the warm ratio the cost per hour of audio.

Every run cuts the work into the same shards (``--shard-tracks``), and each store is checked
against the first run's (same arrays up to float16 rounding). Prints the hardware, each run's
wall time and realtime factor, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _hardware import describe
from _music import link_copies

FREEDROID = Path("/usr/share/freedroidrpg/data/sound/music")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", type=Path, default=FREEDROID)
    ap.add_argument("--models", nargs="+", default=["musicnn-msd", "vgg-msd"])
    ap.add_argument("--shard-tracks", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None, help="only the first N tracks")
    args = ap.parse_args()
    if not args.folder.exists():
        sys.exit(f"{args.folder} not found: bash scripts/install_test_music.sh (as root)")

    import dask
    import distributed
    import torch

    import embedexplore as ee

    print(describe())
    print(f"torch {torch.__version__}, dask {dask.__version__}, distributed "
          f"{distributed.__version__}")  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="ee-overhead-"))
    folder = args.folder
    if args.limit:  # the first N files, linked into a folder of their own
        files = sorted(p for p in args.folder.iterdir() if p.is_file())[: args.limit]
        folder = link_copies(files, work / "music")
    collection = ee.scan(folder, cache=False, progress=False)
    hours = collection.tracks["duration"].sum() / 3600
    print(f"folder: {args.folder}: {len(collection.tracks)} tracks, {hours * 60:.1f} min; "
          f"models {' '.join(args.models)}; shards of {args.shard_tracks} tracks")  # fmt: skip
    cores = os.cpu_count() or 1
    best: dict[str, float] = {}
    first = None

    def run(name, threads, **kw):
        nonlocal first
        store = work / f"{name.replace(' ', '_').replace(',', '')}-{time.monotonic_ns()}"
        saved = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            t0 = time.perf_counter()
            emb = ee.extract(collection, store=store, models=args.models, device="cpu",
                             progress=False, shard_tracks=args.shard_tracks, **kw)  # fmt: skip
            wall = time.perf_counter() - t0
        finally:
            torch.set_num_threads(saved)
        arrays = [np.asarray(emb.array(m), np.float32) for m in args.models]
        if first is None:
            first = arrays
        for a, b in zip(arrays, first, strict=True):
            np.testing.assert_allclose(a, b, atol=2e-3)
        workers = "; ".join(
            f"{w['tracks']} tracks at {w['realtime']:.0f}x, decoding in {w['decoders']}"
            for w in emb.stats.workers.values()
        )
        print(f"  {name:<26} {wall:7.1f} s  {emb.stats.audio_seconds / wall:6.1f}x realtime"
              + (f"  (workers: {workers})" if workers else ""), flush=True)  # fmt: skip
        best[name] = min(best.get(name, float("inf")), wall)
        shutil.rmtree(store, ignore_errors=True)

    saved_env = dict(os.environ)  # Dask leaves OMP_NUM_THREADS=1 behind for its workers
    try:
        with dask.config.set({"distributed.worker.daemon": False}):
            for r in range(args.repeats):
                print(f"round {r + 1}:")
                run("one machine, 1 thread", 1, workers=1)
                with (
                    distributed.LocalCluster(n_workers=1, threads_per_worker=1,
                                             dashboard_address=None) as lc,
                    distributed.Client(lc) as client,
                ):  # fmt: skip
                    run("LocalCluster 1x1", 1, cluster=client, workers=1)
                    run("LocalCluster 1x1, warm", 1, cluster=client, workers=1)
                os.environ.clear()
                os.environ.update(saved_env)
                run(f"one machine, {cores} threads", cores)
                with (
                    distributed.LocalCluster(n_workers=cores, threads_per_worker=1,
                                             dashboard_address=None) as lc,
                    distributed.Client(lc) as client,
                ):  # fmt: skip
                    run(f"LocalCluster {cores}x1", 1, cluster=client, workers=1)
                    run(f"LocalCluster {cores}x1, warm", 1, cluster=client, workers=1)
                os.environ.clear()
                os.environ.update(saved_env)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("best of each:")
    for name, wall in best.items():
        print(f"  {name:<26} {wall:7.1f} s")
    one, alone = best["one machine, 1 thread"], best[f"one machine, {cores} threads"]
    for warm in ("", ", warm"):
        print(f"engine overhead, LocalCluster 1x1{warm} / one machine 1 thread: "
              f"{best[f'LocalCluster 1x1{warm}'] / one:.3f}")  # fmt: skip
    for warm in ("", ", warm"):
        print(f"LocalCluster {cores}x1{warm} / one machine {cores} threads: "
              f"{best[f'LocalCluster {cores}x1{warm}'] / alone:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
