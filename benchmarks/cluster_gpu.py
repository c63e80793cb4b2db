"""Dask workers on one GPU: one worker for the GPU vs two workers sharing it, against one machine.

    python benchmarks/cluster_gpu.py --folder .gpu-music --copies 30 [--device cuda]

``--copies N`` links every file of the folder N times (hard links), so that a few real tracks
make a collection of some hours. Three runs, each into a new store, all four models, default
precision:

- ``one machine``: ``extract(..., device=DEVICE)``, the single-machine engine (the reference);
- ``1 worker / GPU``: a LocalCluster of one single-threaded worker, deciding its own decoders
  (the machine's cores but one, in processes: ``distributed.worker.daemon: False``);
- ``2 workers / GPU``: two single-threaded workers sharing the GPU, each with half the cores
  (two model sets on one GPU; each feeds it while the other decodes).

Prints the hardware, each run's wall time, realtime factor and per-worker figures, and the
ratios to the reference. Runs on the CPU too (``--device cpu``), to check the script itself.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _hardware import describe
from _music import link_copies

EXTS = {".ogg", ".mp3", ".flac", ".opus", ".m4a", ".wav"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", type=Path, required=True)
    ap.add_argument("--copies", type=int, default=30)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--models", nargs="+", default=None, help="default: all four")
    args = ap.parse_args()

    import dask
    import distributed
    import torch

    import embedexplore as ee
    from embedexplore.extraction import DEFAULT_MODELS

    models = args.models or list(DEFAULT_MODELS)
    print(describe())
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else "none (CPU run)"
    print(f"torch {torch.__version__}, distributed {distributed.__version__}, GPU: {gpu}")
    files = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in EXTS)
    work = Path(tempfile.mkdtemp(prefix="ee-cluster-gpu-"))
    cores = os.cpu_count() or 2
    results: dict[str, float] = {}
    try:
        music = link_copies(files, work / "music", args.copies)
        coll = ee.scan(music, cache=False, progress=False)
        print(f"collection: {len(files)} files x {args.copies} copies = {len(coll)} tracks, "
              f"{coll.duration / 3600:.2f} h; models {' '.join(models)}")  # fmt: skip

        def run(name, **kw):
            store = work / f"store-{len(results)}"
            t0 = time.perf_counter()
            emb = ee.extract(coll, store=store, models=models, device=args.device,
                             progress=False, **kw)  # fmt: skip
            wall = time.perf_counter() - t0
            results[name] = wall
            print(f"  {name:<18} {wall:7.1f} s  {emb.stats.audio_seconds / wall:8.0f}x realtime",
                  flush=True)  # fmt: skip
            for w, s in sorted(emb.stats.workers.items()):
                print(f"      {w}: {s['tracks']} tracks, {s['realtime']:.0f}x while busy, "
                      f"decoding in {s['decoders']}")  # fmt: skip
            shutil.rmtree(store, ignore_errors=True)

        run("one machine")
        saved = dict(os.environ)
        with dask.config.set({"distributed.worker.daemon": False}):
            for n in (1, 2):
                with (
                    distributed.LocalCluster(n_workers=n, threads_per_worker=1,
                                             dashboard_address=None) as lc,
                    distributed.Client(lc) as client,
                ):  # fmt: skip
                    # each worker's decoders: its share of the cores, but one
                    run(f"{n} worker{'s' if n > 1 else ''} / GPU", cluster=client,
                        workers=max(1, cores // n - 1))  # fmt: skip
                os.environ.clear()
                os.environ.update(saved)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ref = results["one machine"]
    for name, wall in results.items():
        print(f"{name} / one machine (wall time): {wall / ref:.3f}")


if __name__ == "__main__":
    main()
