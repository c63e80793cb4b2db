"""End-to-end extraction speed (decode included) over a folder of real music, with a profile.

    python benchmarks/extract_speed.py --folder DIR [--copies N] [--device cuda] [--check 5]

``--copies N`` links every file of DIR N times under distinct names (hard links: no extra disk),
so that a few real tracks make a large collection; decoding and the models do all the work for
every copy (no result is reused), but the files are read from the page cache after the first
copy, so disk reading is not measured. Prints the hardware, the run's figures, the time spent in
each phase (with the device synchronised after each, see ``_shards.SYNC_PHASES``), the memory
of this process and of the decoding processes over the run, and optionally the parity of
``--check`` random tracks with ``load_model(...).embed`` on the same device.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _hardware import describe
from _music import link_copies


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


class _Memory(threading.Thread):
    """Samples the RSS of this process and of its children twice a second."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        me = os.getpid()
        t0 = time.perf_counter()
        while not self.stop.wait(0.5):
            kids = _children(me)
            self.samples.append(
                (time.perf_counter() - t0, _rss_mb(me), sum(_rss_mb(k) for k in kids))
            )

    def report(self) -> str:
        if len(self.samples) < 4:
            return "memory: run too short to sample"
        s = np.array(self.samples)
        q = max(1, len(s) // 5)
        first, last = s[:q], s[-q:]
        return (
            f"memory (RSS, MB): main process {s[:, 1].min():.0f}-{s[:, 1].max():.0f} "
            f"(first fifth of the run median {np.median(first[:, 1]):.0f}, last fifth "
            f"{np.median(last[:, 1]):.0f}); decoding processes together "
            f"{s[:, 2].min():.0f}-{s[:, 2].max():.0f}; {len(s)} samples"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", required=True, nargs="+", help="one or more folders")
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--dtype", default="float16")
    ap.add_argument("--models", nargs="+", default=None)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--check", type=int, default=0, help="tracks to compare with embed()")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N files")
    args = ap.parse_args()

    import torch

    import embedexplore
    import embedexplore.extraction as ex
    from embedexplore import _shards, audio, load_model

    print(describe())
    if torch.cuda.is_available():
        print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    else:
        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, no GPU")
    exts = {".ogg", ".mp3", ".flac", ".opus", ".m4a", ".wav"}
    files = sorted(
        p for folder in args.folder for p in Path(folder).rglob("*") if p.suffix.lower() in exts
    )
    if args.limit:
        files = files[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        music = link_copies(files, Path(tmp) / "music", args.copies)
        t = time.perf_counter()
        coll = embedexplore.scan(music, cache=False, progress=False)
        scan_s = time.perf_counter() - t
        print(
            f"collection: {len(files)} files x {args.copies} copies = {len(coll)} tracks, "
            f"{coll.duration / 3600:.2f} h of audio (scanned in {scan_s:.1f} s, not counted)"
        )
        _shards.SYNC_PHASES = True
        mem = _Memory()
        mem.start()
        models = tuple(args.models) if args.models else ex.DEFAULT_MODELS
        emb = embedexplore.extract(
            coll, store=Path(tmp) / "store", models=models, device=args.device,
            precision=args.precision, dtype=args.dtype, batch_size=args.batch,
            workers=args.workers, progress=False,
        )  # fmt: skip
        mem.stop.set()
        mem.join()
        s = emb.stats
        print(
            f"extract: {s.extracted} tracks, {len(emb.segments)} segments, "
            f"{s.audio_seconds / 3600:.2f} h of audio in {s.seconds:.1f} s on {s.device} "
            f"({args.precision}, models {', '.join(models)}): {s.realtime:.0f}x realtime, "
            f"{len(emb.segments) / s.seconds:.0f} segments/s, {s.failed} failed"
        )
        for phase, sec in sorted(s.profile.items(), key=lambda kv: -kv[1]):
            print(f"  {phase:28s} {sec:8.2f} s  {100 * sec / s.seconds:5.1f}%")
        print(mem.report())
        if args.check:
            rng = np.random.default_rng(0)
            picks = rng.choice(
                len(emb.tracks), size=min(args.check, len(emb.tracks)), replace=False
            )
            worst_t, worst_e = 0.0, 0.0
            for m in models:
                model = load_model(m, device=s.device, precision=args.precision)
                for i in picks:
                    tid = emb.tracks.index[i]
                    rate = model.clock.sample_rate
                    ref = model.embed(audio.load(emb.tracks.loc[tid, "path"], sample_rate=rate))
                    r = emb.rows(tid, m)
                    if "taggrams" in emb.layers(m):
                        got_t = np.asarray(emb.array(m, "taggrams")[r], np.float32)
                        worst_t = max(worst_t, float(np.abs(got_t - ref["taggrams"]).max()))
                    got_e = np.asarray(emb.array(m, "embeddings")[r], np.float32)
                    den = np.maximum(np.linalg.norm(ref["embeddings"], axis=1), 1e-12)
                    rel = np.linalg.norm(got_e - ref["embeddings"], axis=1) / den
                    worst_e = max(worst_e, float(rel.max()))
            print(
                f"check vs load_model().embed() on {len(picks)} tracks x {len(models)} models "
                f"(store dtype {args.dtype}): taggrams max abs {worst_t:.2e}, embeddings max "
                f"rel {worst_e:.2e}"
            )


if __name__ == "__main__":
    main()
