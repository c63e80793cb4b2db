"""The driver's own work when a 500,000-track archive is extracted on a Dask cluster, simulated.

    .venv/bin/python benchmarks/cluster_plan.py [--tracks 500000] [--models M ...] [--store-dir DIR]

``extract(collection, store=..., cluster=client)`` plans the shards on the driver (the process that
called it), submits each shard as a Dask task and, as each task finishes, commits the parts it
published into the store's manifest. Here there is no cluster, no model and no audio: the archive
is ``--tracks`` fake tracks (30,000 h at the default 500,000: durations drawn from a seeded
lognormal of mean 216 s, clipped to 10 s - 1 h; ids made as ``scan`` makes them) and a fake worker
writes each shard's parts itself into a real store (one segment per track, one layer one value
wide, fsync'd as the library does). What is timed is the driver's code from
``embedexplore.extraction`` and ``embedexplore._cluster``, called as ``_extract`` calls it:

1. the track list (``_live_tracks`` from a collection-shaped DataFrame, ``Store.set_collection``);
2. a fresh plan: ``_plan`` with the cluster's default shard sizes, then each shard's ``need`` and
   ``shard_id`` as ``run_shards`` submits it, and the pickled size of each task's arguments;
3. the commits (``_adopt`` + ``Store.commit`` per shard, in plan order), once without and once
   with decode errors in the manifest (``--errors``, 0.5 % of the tracks); the fake workers'
   writing is timed apart (it is the workers' time, not the driver's);
4. a driver killed half-way through the second run and run again (in a forked process, so that
   its memory is its own): everything it does before its first task;
5. the driver's memory (RSS) along the way;
6. the end of the run, the compaction (``_store_state.compact``), over the fake parts: this
   shows only the per-part overhead;
   the size of the real arrays it rewrites is computed on paper (not measured) for the default
   models and layers at float16.

The shards are cut as ``extract`` cuts them on a cluster (``_plan.shard_size`` of
the collection, ``CLUSTER_SHARD_SECONDS``): 2,500 shards of 200 tracks at the default size,
which runs in about 2.5 minutes on 2 cores (``--tracks 5000``: 10 seconds). ``--shard-seconds
3600`` gives the single-machine cut (28,790 shards of 17 tracks, 115,160 parts): about 35 minutes,
most of it in the commits, each of which rewrites the whole manifest. ``--models`` picks fewer
models (fewer parts, a smaller manifest: then not the figures of a default extraction).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pickle
import resource
import shutil
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _hardware import describe

MEAN_SECONDS = 216.0  # 30,000 h over 500,000 tracks
SIGMA = 0.6  # of the lognormal: ~90 % of the tracks between 1 and 8 min
TINY = {"taggrams": 1}  # the fake parts' one layer
REASON = (
    "not a readable audio file: damaged, cut short or not audio (Invalid data found when "
    "processing input)"
)


def _row(label: str, seconds: float) -> str:
    return f"{label:84s} {seconds:8.3f} s"


def _rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        with open(f"/proc/{os.getpid()}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _fs(path: Path) -> str:
    """The file system holding ``path`` (type and mount point), from /proc/mounts."""
    best = ("?", "")
    try:
        real = str(path.resolve())
        with open("/proc/mounts") as f:
            for line in f:
                _dev, mnt, kind, *_ = line.split()
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) > len(
                    best[1]
                ):
                    best = (kind, mnt)
    except OSError:
        pass
    return f"{best[0]} on {best[1]}"


class _Counted:
    """Wraps a Store method on one instance: calls and seconds spent in them."""

    def __init__(self, st, name: str, maps: bool = False) -> None:
        self.fn = getattr(st, name)
        self.calls = 0
        self.seconds = 0.0
        self.maps = maps  # count the process's memory maps and open files every 100 calls
        self.max_maps = self.max_fds = 0
        setattr(st, name, self)

    def __call__(self, *a, **k):
        t = time.perf_counter()
        try:
            return self.fn(*a, **k)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - t
            if self.maps and self.calls % 100 == 1:
                with open("/proc/self/maps") as f:
                    self.max_maps = max(self.max_maps, sum(1 for _ in f))
                self.max_fds = max(self.max_fds, len(os.listdir("/proc/self/fd")))


def build_tracks(n: int, hours: float, seed: int, root: Path):
    """The fake archive: a DataFrame shaped like ``Collection.tracks`` (the columns that
    ``_live_tracks`` reads) and the durations."""
    from embedexplore.collection import TEXT, _track_id

    rng = np.random.default_rng(seed)
    mean = hours * 3600 / n
    mu = np.log(mean) - SIGMA**2 / 2  # the lognormal's mean is exp(mu + sigma^2 / 2)
    duration = rng.lognormal(mu, SIGMA, n).clip(10.0, 3600.0)
    size = (duration * 1411200 / 8 * 0.58).astype(np.int64)  # FLAC: ~58 % of CD audio
    mtime_ns = 1_600_000_000_000_000_000 + rng.integers(0, 10**17, n)
    ids, paths = [], []
    for i in range(n):
        rel = f"Artist {i // 60:05d}/Album {i // 12 % 5 + 1}/{i % 12 + 1:02d} Track {i:06d}.flac"
        ids.append(_track_id(rel))  # as scan() makes ids: from the path relative to the root
        paths.append(f"{root}/{rel}")
    df = pd.DataFrame(
        {
            "path": pd.array(paths, dtype=TEXT),
            "duration": duration,
            "size": size,
            "mtime": pd.to_datetime(mtime_ns, unit="ns", utc=True),
        },
        index=pd.Index(ids, name="track_id"),
    )
    return df, duration


def make_bad_files(live: list[dict], fraction: float, seed: int) -> set[str]:
    """Pick ``fraction`` of the tracks as files that fail to decode, and create them (sparse,
    with the track's size and mtime) so that a rerun's check of failed files sees them
    unchanged, as it would on a real archive."""
    rng = np.random.default_rng(seed + 1)
    k = round(fraction * len(live))
    bad = set()
    for i in sorted(rng.choice(len(live), size=k, replace=False).tolist()):
        t = live[i]
        p = Path(t["path"])
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "wb") as f:
            f.truncate(t["size"])
        os.utime(p, ns=(t["mtime_ns"], t["mtime_ns"]))
        bad.add(t["id"])
    return bad


@contextlib.contextmanager
def _no_fsync(on: bool):
    """No fsync while a fake worker writes a part (``write_part`` and ``atomic_write`` call
    ``os.fsync``), when ``on``."""
    if not on:
        yield
        return
    real = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = real


def run_commits(st, shards, models, versions, bad, write: bool, fsync_shards=0, on_half=None):
    """Every shard as a worker publishes it and the driver commits it, in plan order.

    The fake workers fsync what they write (as ``write_part`` does) for the first
    ``fsync_shards`` shards only, to save time: the driver's commits always do. Returns the
    driver's seconds per commit and in ``_adopt``, the fake workers' seconds and parts (with
    fsync, without), the final manifest and its size on disk.
    """
    from embedexplore._shards import _adopt, _stat
    from embedexplore._store_files import dumps as _dumps
    from embedexplore._store_state import recover
    from embedexplore.store import part_id

    manifest = recover(
        st, st.manifest(), models, versions, "float16", {m: dict(TINY) for m in models}, set()
    )
    have = {m: {} for m in models}

    adopt_s = []

    def commit(result):  # as _extract's commit closure (timing _adopt apart)
        t = time.perf_counter()
        _adopt(manifest, have, result["parts"])
        manifest["errors"].update(result["errors"])
        adopt_s.append(time.perf_counter() - t)
        st.commit(manifest)

    commit_s = np.empty(len(shards))
    worker_s = [0.0, 0.0]
    n_parts = [0, 0]
    half = len(shards) // 2
    for i, shard in enumerate(shards):
        # the worker: its errors as _Run records them, its parts written and published
        synced = i < fsync_shards
        t = time.perf_counter()
        errors = {}
        for tr in shard:
            if tr["id"] in bad:
                size, mtime_ns = _stat(tr["path"])
                errors[tr["id"]] = {
                    "path": tr["path"], "size": size, "mtime_ns": mtime_ns, "reason": REASON,
                }  # fmt: skip
        ok = [tr for tr in shard if tr["id"] not in errors]
        parts = []
        if ok:
            fps = [(tr["id"], tr["size"], tr["mtime_ns"]) for tr in ok]
            rows = [(tr["id"], 1) for tr in ok]
            for m in models:
                if write:
                    with _no_fsync(not synced):
                        pid = st.write_part(
                            m, version=versions[m], dtype="float16", tracks=fps,
                            n_segments=[1] * len(ok),
                            arrays={"taggrams": np.zeros((len(ok), 1), np.float16)},
                        )  # fmt: skip
                else:
                    pid = part_id(m, versions[m], "float16", TINY, fps)
                parts.append((m, pid, rows))
                n_parts[not synced] += 1
        result = {"parts": parts, "errors": errors}
        worker_s[not synced] += time.perf_counter() - t
        # the driver
        t = time.perf_counter()
        commit(result)
        commit_s[i] = time.perf_counter() - t
        if on_half is not None and i == half - 1:
            on_half(manifest)
    t = time.perf_counter()
    _dumps(manifest)  # the JSON encoding in Store.commit, once more for the last manifest
    encode_s = time.perf_counter() - t
    return types.SimpleNamespace(
        commit_s=commit_s, adopt_s=float(sum(adopt_s)), encode_s=encode_s, worker_s=worker_s,
        parts=n_parts, manifest=manifest, size=(st.path / "manifest.json").stat().st_size,
    )  # fmt: skip


def resume(path, live, shards, half, models, versions, spec, plan_sizes) -> list[str]:
    """A rerun of a driver killed once ``half`` shards were committed: what it does before its
    first task, step by step, as ``_extract`` does it (in a forked process); the lines to print.

    ``plan_sizes``: ``(shard_tracks, shard_seconds, unused)`` as the first run planned with
    them; ``shard_tracks`` None: ``_plan.shard_size`` of the collection, as ``_extract`` does.
    """
    from embedexplore._plan import shard_size
    from embedexplore._shards import _stat
    from embedexplore._store_state import recover
    from embedexplore.embeddings import live_rows
    from embedexplore.extraction import _plan
    from embedexplore.store import Store

    rss0 = _rss_mb()
    steps = []

    def step(what, t):
        steps.append((what, time.perf_counter() - t))

    t = time.perf_counter()
    st = Store(path, create=True)
    step("Store(path, create=True)", t)
    read_part = _Counted(st, "read_part")
    valid_part = _Counted(st, "inspect_part")
    uncommitted = _Counted(st, "uncommitted_parts")
    with st.lock():
        t = time.perf_counter()
        st.set_collection(live)
        step("st.set_collection(live)", t)
        t = time.perf_counter()
        manifest = st.manifest()
        step(f"st.manifest() ({(Path(path) / 'manifest.json').stat().st_size:,} bytes)", t)
        committed = sum(len(e["parts"]) for e in manifest["models"].values())
        t = time.perf_counter()
        manifest = recover(
            st, manifest, models, versions, "float16", {m: dict(TINY) for m in models}, set()
        )
        step(f"recover (validates {committed:,} committed parts)", t)
        steps.append((f"  of which inspect_part: {valid_part.calls:,} calls", valid_part.seconds))
        steps.append(
            (f"  of which uncommitted_parts: {uncommitted.calls} call(s)", uncommitted.seconds)
        )
        reads_before = read_part.calls
        t = time.perf_counter()
        parts_cache: dict = {}
        have = {m: live_rows(st, manifest, m, live, parts_cache) for m in models}
        step(
            f"live_rows x {len(models)} models (reads {read_part.calls - reads_before:,} "
            "part indexes again)",
            t,
        )
        t = time.perf_counter()
        live_ids = {tr["id"] for tr in live}
        errors = {
            tid: e
            for tid, e in manifest.get("errors", {}).items()
            if tid in live_ids and _stat(e["path"]) == (int(e["size"]), int(e["mtime_ns"]))
        }
        manifest["errors"] = errors
        todo = [
            tr
            for tr in live
            if tr["id"] not in errors and any(tr["id"] not in have[m] for m in models)
        ]
        step(f"errors kept ({len(errors):,}, one stat each) and todo ({len(todo):,} tracks)", t)
        t = time.perf_counter()
        shard_tracks, shard_seconds, _ = plan_sizes
        if shard_tracks is None:
            shard_tracks = shard_size(len(live))
        planned = _plan(todo, shard_tracks, shard_seconds)
        step(f"shard_size + _plan of what is missing ({len(planned):,} shards)", t)
        t = time.perf_counter()
        for tracks in planned:
            need = {m: [tr["id"] for tr in tracks if tr["id"] not in have[m]] for m in models}
            spec.shard_id(tracks, need)
        step("need + shard_id of every shard (run_shards, as it submits them)", t)
    first_tracks = max(len(s) for s in shards)
    same = [[tr["id"] for tr in s] for s in planned] == [
        [tr["id"] for tr in s] for s in shards[half:]
    ]
    # shard sizes come from the collection, not from the work left: the same cuts as the first
    # run (so the same batches, the same values)
    assert len(planned) == len(shards) - half, (len(planned), len(shards) - half)
    assert same, "the rerun cuts the missing work differently"
    assert shard_tracks >= first_tracks
    check = (
        f"  shards planned {len(planned):,} = the {len(shards) - half:,} not committed "
        "(the same cuts: asserted)"
    )
    before = sum(s for w, s in steps if not w.startswith("  "))
    return [
        f"resume after {half:,} of {len(shards):,} shards committed (a forked process): what "
        "the rerun does before its first task",
        *(_row(f"  {what}", s) for what, s in steps),
        _row("  total", before),
        check,
        f"  memory (RSS): {_rss_mb() - rss0:+.0f} MB over the killed driver's at the fork",
    ]


def on_paper(durations: np.ndarray) -> None:
    """The real store's arrays for the default models and layers at float16 (not measured)."""
    from embedexplore import registry
    from embedexplore.extraction import DEFAULT_LAYERS, DEFAULT_MODELS

    samples = np.round(durations * 16_000).astype(np.int64)
    segments = int(((1 + samples // 256) // 187).sum())  # Tagger.patches' count
    print(
        f"on paper (computed, not measured): {len(durations):,} tracks, "
        f"{durations.sum() / 3600:,.0f} h -> {segments:,} segments of 2.992 s "
        f"(sum of (1 + samples // 256) // 187 per track)"
    )
    total = 0
    for m in DEFAULT_MODELS:
        dims = {k: v for k, v in registry.get(m).layers.items() if k in DEFAULT_LAYERS}
        size = segments * sum(dims.values()) * 2
        total += size
        print(
            f"  {m:12s} {', '.join(f'{k} {v}' for k, v in dims.items()):28s} "
            f"{size / 1e9:7.1f} GB at float16"
        )
    print(
        f"  all {len(DEFAULT_MODELS)} models: {total / 1e9:.1f} GB, which compaction reads and "
        "writes again on the driver at the end of the run"
    )


def main() -> None:
    from embedexplore._plan import shard_size
    from embedexplore.extraction import CLUSTER_SHARD_SECONDS, DEFAULT_MODELS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=500_000)
    ap.add_argument(
        "--hours", type=float, default=None, help="of audio in all (default: 216 s a track)"
    )
    ap.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS))
    ap.add_argument("--errors", type=float, default=0.005, help="fraction of tracks that fail")
    ap.add_argument(
        "--store-dir",
        default=None,
        help="an empty or new folder for the stores and the failing files (default: a "
        "temporary folder, removed at the end)",
    )
    ap.add_argument(
        "--shard-tracks",
        type=int,
        default=None,
        help="default: as extract() on a cluster, _plan.shard_size(tracks)",
    )
    ap.add_argument(
        "--shard-seconds",
        type=float,
        default=CLUSTER_SHARD_SECONDS,
        help=f"default: as extract() on a cluster, {CLUSTER_SHARD_SECONDS:.0f}",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--worker-fsync-shards",
        type=int,
        default=200,
        help="the fake workers fsync their parts for this many shards, then not (time)",
    )
    ap.add_argument(
        "--compact", action=argparse.BooleanOptionalAction, default=True, help="time the compaction"
    )
    args = ap.parse_args()

    import torch

    from embedexplore import registry
    from embedexplore._plan import ShardSpec
    from embedexplore._store_state import compact, live_rows
    from embedexplore.extraction import (
        DEFAULT_LAYERS,
        _live_tracks,
        _plan,
    )
    from embedexplore.store import Store

    print(describe())
    print(f"torch {torch.__version__} (not used: no model runs here)")
    hours = args.hours if args.hours is not None else args.tracks * MEAN_SECONDS / 3600
    models = tuple(args.models)
    if args.shard_tracks is None:
        shard_tracks = shard_size(args.tracks)
        tracks_how = "shard_size of the collection"
    else:
        shard_tracks, tracks_how = args.shard_tracks, "--shard-tracks"
    plan_sizes = (args.shard_tracks, args.shard_seconds, None)  # for the rerun
    own_dir = args.store_dir is None
    base = Path(tempfile.mkdtemp(prefix="cluster-plan-") if own_dir else args.store_dir)
    base.mkdir(parents=True, exist_ok=True)
    if any(base.iterdir()):
        sys.exit(f"{base} is not empty")
    print(
        f"{args.tracks:,} tracks, {hours:,.0f} h; models {', '.join(models)}"
        f"{'' if models == DEFAULT_MODELS else ' (not all of DEFAULT_MODELS)'}; shards of at "
        f"most {shard_tracks} tracks ({tracks_how}) or {args.shard_seconds:.0f} s; stores in "
        f"{base} "
        f"({_fs(base)})"
    )
    try:
        # -- 1. the archive, as the driver sees it ---------------------------------------------
        rss_start = _rss_mb()
        t = time.perf_counter()
        df, durations = build_tracks(args.tracks, hours, args.seed, base / "music")
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        live = _live_tracks(types.SimpleNamespace(tracks=df))
        live_s = time.perf_counter() - t
        q = np.percentile(durations, [1, 50, 99])
        print(
            f"archive: {len(live):,} tracks, {durations.sum() / 3600:,.0f} h, mean "
            f"{durations.mean():.0f} s (1 % / median / 99 %: {q[0]:.0f} / {q[1]:.0f} / "
            f"{q[2]:.0f} s); made in {build_s:.1f} s (not the driver's)"
        )
        print(_row("_live_tracks (collection.tracks -> list of dicts)", live_s))
        bad = make_bad_files(live, args.errors, args.seed)
        del df
        rss_tracks = _rss_mb()
        probe = Store(base / "probe", create=True)
        t = time.perf_counter()
        probe.set_collection(live)
        set_s = time.perf_counter() - t
        size = (probe.path / "collection.json").stat().st_size
        shutil.rmtree(probe.path)
        print(_row(f"Store.set_collection(live): {size:,} bytes, on every run", set_s))

        # -- 2. a fresh plan -------------------------------------------------------------------
        versions = {m: registry.get(m).store_version("tf32") for m in models}
        layers = {
            m: {k: v for k, v in registry.get(m).layers.items() if k in DEFAULT_LAYERS}
            for m in models
        }
        spec = ShardSpec(
            store=str(base / "store"), models=tuple(models), device="cuda", precision="tf32",
            dtype="float16", layers=layers, versions=versions, batch_size=1024, decoders=15,
        )  # fmt: skip
        t = time.perf_counter()
        shards = _plan(live, shard_tracks, args.shard_seconds)
        plan_s = time.perf_counter() - t
        have0: dict = {m: {} for m in models}
        ids_s = pickle_s = 0.0
        keys, sizes = set(), []
        for tracks in shards:
            t = time.perf_counter()
            need = {m: [tr["id"] for tr in tracks if tr["id"] not in have0[m]] for m in models}
            keys.add(spec.shard_id(tracks, need))
            t1 = time.perf_counter()
            sizes.append(len(pickle.dumps((spec, tracks, need), protocol=5)))
            t2 = time.perf_counter()
            ids_s += t1 - t
            pickle_s += t2 - t1
        assert len(keys) == len(shards), "two shards share a task key"
        n = [len(s) for s in shards]
        rss_plan = _rss_mb()
        print(
            f"fresh plan: {len(shards):,} shards, tracks per shard min/median/max "
            f"{min(n)}/{statistics.median(n):.0f}/{max(n)}, "
            f"{sum(n) / len(shards):.1f} on average"
        )
        print(_row("  _plan", plan_s))
        print(_row("  need + shard_id of every shard (as run_shards submits it)", ids_s))
        print(
            _row("  pickle.dumps((spec, tracks, need)) of every shard", pickle_s) + ": "
            f"median {statistics.median(sizes):,.0f} bytes a task, {sum(sizes):,} in all"
        )

        # -- 3. commits, without then with errors; 4. the resume, half-way through the second --
        st_a = Store(base / "store-no-errors", create=True)
        a = run_commits(st_a, shards, models, versions, set(), write=False)
        del a.manifest
        shutil.rmtree(st_a.path)

        def summary(label, r):
            k = min(100, len(r.commit_s))
            print(
                f"commits, {label}: {len(r.commit_s):,} shards, {sum(r.parts):,} parts; driver "
                f"(_adopt + Store.commit) {r.commit_s.sum():.2f} s in all, of which _adopt "
                f"{r.adopt_s:.2f} s; mean {r.commit_s[:k].mean() * 1000:.2f} ms over the first "
                f"{k} and {r.commit_s[-k:].mean() * 1000:.2f} ms over the last {k} (max "
                f"{r.commit_s.max() * 1000:.1f} ms); final manifest.json {r.size:,} bytes, its "
                f"JSON encoding {r.encode_s * 1000:.1f} ms"
            )

        summary("no decode errors (parts named, not written)", a)

        st_b = Store(spec.store, create=True)
        half = len(shards) // 2
        at_half = {}
        report = base / "resume.txt"

        def on_half(manifest):
            at_half["size"] = (st_b.path / "manifest.json").stat().st_size
            at_half["rss"] = _rss_mb()
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the rerun
                code = 0
                try:
                    lines = resume(
                        st_b.path, live, shards, half, models, versions, spec, plan_sizes
                    )
                    report.write_text("\n".join(lines) + "\n")
                except BaseException:  # noqa: BLE001 (the child must end in os._exit)
                    import traceback

                    traceback.print_exc()
                    code = 1
                sys.stderr.flush()
                os._exit(code)
            _, status = os.waitpid(pid, 0)
            if status:
                raise SystemExit("the resumed driver failed (see above)")

        b = run_commits(
            st_b, shards, models, versions, bad, write=True,
            fsync_shards=args.worker_fsync_shards, on_half=on_half,
        )  # fmt: skip
        rss_commits, peak_commits = _rss_mb(), _peak_mb()
        summary(f"{len(b.manifest['errors']):,} decode errors ({args.errors:.1%})", b)
        k = min(100, len(b.commit_s))
        last = b.commit_s[-k:].mean()
        print(
            f"  manifest.json at the half-way point {at_half['size']:,} bytes; the last {k} "
            f"commits (mean {last * 1000:.1f} ms) cap the driver at {1 / last:.0f} shards/s"
        )
        for n, sec, how in zip(b.parts, b.worker_s, ("with", "without"), strict=True):
            if n:
                print(
                    f"  the fake workers wrote {n:,} parts {how} fsync (write_part) in {sec:.1f} "
                    f"s, {sec / n * 1000:.2f} ms a part (the workers' time, not the driver's)"
                )
        print(report.read_text(), end="")

        # -- 6. the end of the run ---------------------------------------------------------------
        if args.compact:
            read_part = _Counted(st_b, "read_part")
            open_array = _Counted(st_b, "open_array", maps=True)
            remove_part = _Counted(st_b, "remove_part")
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            max_maps = Path("/proc/sys/vm/max_map_count").read_text().strip()
            failed = None
            t = time.perf_counter()
            try:
                have = {m: live_rows(st_b, b.manifest, m, live, {}) for m in models}
                compact(st_b, b.manifest, models, live, have, set())
            except OSError as e:  # kept as text: its frames would hold the parts' files open
                failed = f"{type(e).__name__}: {e}"
            compact_s = time.perf_counter() - t
            print(
                "compact (checksums verified, then rewritten) over the fake parts (1 row of 1 "
                "value a track: the per-part overhead only): "
                f"{'FAILED after ' if failed else ''}{compact_s:.2f} s"
                + (f" with {failed}" if failed else "")
            )
            print(
                f"  in it: read_part {read_part.calls:,} calls {read_part.seconds:.2f} s, "
                f"open_array {open_array.calls:,} calls {open_array.seconds:.2f} s, remove_part "
                f"{remove_part.calls:,} calls {remove_part.seconds:.2f} s; the process had up to "
                f"{open_array.max_fds:,} open files (RLIMIT_NOFILE soft {soft}, hard {hard}) and "
                f"{open_array.max_maps:,} memory maps (vm.max_map_count {max_maps}), sampled "
                "every 100 open_array calls"
            )
        b.manifest = None
        print(
            f"driver memory (RSS): after the imports {rss_start:.0f} MB, after the track list "
            f"{rss_tracks:.0f} MB, after the plan {rss_plan:.0f} MB, half-way through the "
            f"commits {at_half['rss']:.0f} MB, at the end of the commits {rss_commits:.0f} MB "
            f"(peak so far {peak_commits:.0f} MB); peak by the end {_peak_mb():.0f} MB"
        )
        on_paper(durations)
    finally:
        if own_dir:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
