"""Extraction: every 2.992 s segment of a collection through the tagging models, into a store.

>>> coll = embedexplore.scan("~/Music")                                      # doctest: +SKIP
>>> emb = embedexplore.extract(coll, store="~/music-embeddings")              # doctest: +SKIP

How it runs: processes decode the tracks (PyAV, soxr: 16 kHz mono) ahead of the models, in
collection order. The main process computes each track's log-mel patches on the device (the
frontend is shared by all four models, so the audio is decoded and transformed once), packs the
patches of consecutive tracks into batches of ``batch_size`` and runs every requested model on
each batch.

Work is cut into *shards*: consecutive tracks still to do, about an hour of audio or 200 tracks.
A shard's rows are written as one part per model and committed to the store together (see
:mod:`embedexplore.store`), so a killed run loses at most the shard in progress and the next run
continues from there. Batches never straddle two shards and shards are planned the same way on
every run, so a resumed run computes exactly the batches an uninterrupted one would: the arrays are
identical. At the end each model's rows are compacted into one part in collection order.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import hashlib
import logging
import multiprocessing
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import _decode
from .collection import Collection
from .embeddings import Embeddings, ExtractStats, live_rows
from .models import BUNDLES, Tagger
from .models.waveform import resolve_device
from .store import DTYPES, PREPROCESSING, Store

__all__ = ["DEFAULT_LAYERS", "DEFAULT_MODELS", "extract"]

logger = logging.getLogger(__name__)

DEFAULT_MODELS = ("musicnn-msd", "musicnn-mtt", "vgg-msd", "vgg-mtt")
#: The layers stored unless asked otherwise: what the explorer shows (MusiCNN also has
#: "penultimate" and "pooled"; pass ``layers="all"`` to keep every layer).
DEFAULT_LAYERS = ("taggrams", "embeddings")
#: A shard closes once it holds this many tracks or this much audio (seconds, from the scan).
SHARD_TRACKS = 200
#: The smallest shard planned by default on a cluster: each task has a fixed cost (scheduling,
#: sending its track list, one commit of the manifest on the driver).
MIN_CLUSTER_SHARD = 4
SHARD_SECONDS = 3600.0
#: On a cluster, shards of 200 tracks of 4-7 minutes are not cut (benchmarks/cluster_plan.py:
#: at 3600 s, a 500,000-track archive made 28,790 shards of 17 tracks, and the driver's commits,
#: one per shard, each rewriting the growing manifest, took 784 s of its time in all).
CLUSTER_SHARD_SECONDS = 86400.0
_WEIGHTS = Path(__file__).parent / "models" / "weights"
#: Benchmarks set this to wait for the device after each phase, so that the phases' times in
#: ``ExtractStats.profile`` are the device's (it slows extraction a little).
SYNC_PHASES = False


def extract(
    collection: Collection | str | os.PathLike,
    *,
    store: str | os.PathLike,
    models=DEFAULT_MODELS,
    layers=DEFAULT_LAYERS,
    device: str | torch.device = "auto",
    precision: str = "auto",
    dtype: str = "float16",
    batch_size: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    retry_errors: bool = False,
    shard_tracks: int | None = None,
    shard_seconds: float | None = None,
    cluster=None,
    max_in_flight: int | None = None,
    shard_timeout: float | None = None,
) -> Embeddings:
    """Run the models over every segment of ``collection`` and keep the results in ``store``.

    Only what the store lacks is computed: new or changed files (size or modification time),
    and models whose weights, precision or dtype changed; rows of tracks no longer in the
    collection drop out. Interrupt it at any moment (Ctrl-C, a crash, a killed kernel) and run
    it again: it continues where it stopped.

    Parameters
    ----------
    collection : Collection or str or os.PathLike
        What :func:`embedexplore.scan` returned, or a folder (scanned first).
    store : str or os.PathLike
        The store's folder (created if new). Keep one store per collection.
    models : str or sequence of str
        Any of ``musicnn-msd``, ``musicnn-mtt``, ``vgg-msd``, ``vgg-mtt`` (default: all four).
    layers : sequence of str or "all"
        Layers to keep, for the models that have them (default: ``taggrams`` and
        ``embeddings``).
    device : str or torch.device
        ``"auto"`` (CUDA when visible, else the CPU), ``"cuda"``, ``"cuda:1"``, ``"cpu"``...
    precision : str
        The networks' arithmetic: ``"auto"`` (TF32 on CUDA, float32 on the CPU), ``"float32"``
        (parity with the originals), ``"tf32"`` or ``"bf16"``; see
        :func:`embedexplore.load_model`. A store keeps one precision per model: changing it
        recomputes that model.
    dtype : str
        How the arrays are stored: ``"float16"`` (default; half the disk and memory; rounding
        moves each value by at most 2**-11 of itself, i.e. embeddings by <= 4.9e-4 relative and
        taggrams by <= 4.9e-4 absolute) or ``"float32"`` (the models' output unchanged).
    batch_size : int, optional
        Patches per forward pass (default 1024 on a GPU, 64 on the CPU).
    workers : int, optional
        Decoding processes (default: on a GPU, one per core but one; on the CPU, one, since the
        models use the cores). ``0`` decodes in this process.
    progress : bool
        Show a progress bar (tracks, hours of audio, speed) and a summary at the end.
    retry_errors : bool
        Try again the files that failed before. By default a file that failed is tried again
        only once it changed (or reappeared).
    shard_tracks, shard_seconds : int, float
        How much work is committed at a time (see the module docstring): a shard closes once
        it holds ``shard_tracks`` tracks (default 200; on a cluster, fewer for a collection of
        under 12,800 tracks, so that it makes 64 shards, but not below 4 tracks) or
        ``shard_seconds`` seconds of audio (default 3600 on one machine, 86400 on a cluster,
        where each shard costs a task and a commit on this process, and a lost shard is
        redone by another worker).
    cluster : distributed.Client or str or distributed.deploy.Cluster, optional
        Run the shards on a Dask cluster: a ``distributed.Client``, a scheduler's address such
        as ``"tcp://host:8786"``, or a cluster object such as :func:`embedexplore.slurm_cluster`
        returns (needs ``pip install 'embedexplore[distributed]'``). The
        workers must see the music and the store at the same paths as this process; they write
        the shards' arrays, this process commits them, and the store ends as one machine would
        write it. ``device`` and ``workers`` then apply on each worker (``workers``: its
        decoders; by default, on a GPU, the worker's CPUs but one).
    max_in_flight : int, optional
        With ``cluster``: shards submitted at a time (default: two per worker thread), which
        bounds the scheduler's queue and the driver's memory.
    shard_timeout : float, optional
        With ``cluster``: seconds to wait for the first worker, and then for the next shard to
        finish, before giving up with a ``TimeoutError`` (what was committed is kept); default:
        no limit.

    Returns
    -------
    Embeddings
        The store's contents for ``models``, with :attr:`Embeddings.stats` of this run. Its
        arrays (:meth:`Embeddings.array`) are ``(n_segments, dim)`` of ``dtype``, one row per
        2.992 s segment: ``dim`` 50 for ``taggrams``, 200 for MusiCNN's ``embeddings`` and
        ``penultimate``, 1506 for its ``pooled``, 256 for VGG's ``embeddings``.

    Raises
    ------
    ValueError
        An unknown or repeated model, an unknown layer, precision or dtype, ``batch_size`` below
        1, ``workers`` below 0, or a collection holding a track id twice.
    embedexplore.store.StoreError
        ``store`` is a folder holding other files, or a store written by another version.
    FileNotFoundError
        ``collection`` is a path that does not exist.
    """
    t_start = time.perf_counter()
    if not isinstance(collection, Collection):
        from .collection import scan

        collection = scan(collection, progress=progress)
    models = (models,) if isinstance(models, str) else tuple(models)
    unknown = [m for m in models if m not in BUNDLES]
    if unknown or not models:
        raise ValueError(
            f"unknown model(s) {unknown or models!r}; choose from {', '.join(BUNDLES)}"
        )
    if len(set(models)) != len(models):
        raise ValueError(f"a model is named twice in {models}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if cluster is not None:
        from . import _cluster

        client, own_client = _cluster.client_for(cluster)
        try:
            return _extract(collection, store, models, layers, device, precision, dtype,
                            batch_size, workers, progress, retry_errors, shard_tracks,
                            shard_seconds, t_start, client=client,
                            max_in_flight=max_in_flight, shard_timeout=shard_timeout)  # fmt: skip
        finally:
            if own_client:
                client.close()
    return _extract(
        collection, store, models, layers, device, precision, dtype, batch_size, workers,
        progress, retry_errors, shard_tracks, shard_seconds, t_start,
    )  # fmt: skip


def _extract(collection, store, models, layers, device, precision, dtype, batch_size, workers,
             progress, retry_errors, shard_tracks, shard_seconds, t_start, *, client=None,
             max_in_flight=None, shard_timeout=None) -> Embeddings:  # fmt: skip
    if client is not None:
        from . import _cluster
        from .models import AUTO_PRECISION

        if not client.scheduler_info().get("workers"):
            if progress:  # SLURM jobs, for instance, may wait in the queue
                print("waiting for the first Dask worker to start...", file=sys.stderr)
            client.wait_for_workers(1, timeout=shard_timeout)
        if str(device) == "auto":  # what the workers see, not this process
            device = client.submit(_cluster.worker_device_type, pure=False).result(
                timeout=shard_timeout
            )
        remote = torch.device(device)
        if precision == "auto":
            precision = AUTO_PRECISION.get(remote.type, "float32")
        device = torch.device("cpu")  # the driver loads the models only to learn their layers
    else:
        device = remote = _pick_device(device)
    if batch_size is None:
        batch_size = 1024 if remote.type == "cuda" else 64
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if workers is None and client is None:  # on a cluster, each worker decides (_cluster)
        workers = max(1, (os.cpu_count() or 2) - 1) if remote.type == "cuda" else 1
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")

    taggers = {
        m: BUNDLES[m].get_model(device, "float32" if client is not None else precision)
        for m in models
    }
    if client is not None:
        for t in taggers.values():
            t.precision = precision  # the workers' arithmetic, which the versions record
    precision = next(iter(taggers.values())).precision  # "auto" resolved
    kept_layers = {m: _layers(t, layers) for m, t in taggers.items()}
    versions = {m: _version(m, precision) for m in models}

    if not collection.tracks.index.is_unique:
        dup = collection.tracks.index[collection.tracks.index.duplicated()][0]
        raise ValueError(f"the collection holds track id {dup!r} twice; scan it again")

    st = Store(store, create=True)
    with st.lock():
        live = _live_tracks(collection)
        st.set_collection(live)
        manifest = _recover(st, st.manifest(), models, versions, dtype, kept_layers)
        parts_cache: dict = {}
        have = {m: live_rows(st, manifest, m, live, parts_cache) for m in models}
        # a file that failed is tried again once it changed (or came back) since it failed
        live_ids = {t["id"] for t in live}
        errors = {
            tid: e
            for tid, e in manifest.get("errors", {}).items()
            if not retry_errors
            and tid in live_ids
            and _stat(e["path"]) == (int(e["size"]), int(e["mtime_ns"]))
        }
        manifest["errors"] = errors
        todo = [
            t for t in live if t["id"] not in errors and any(t["id"] not in have[m] for m in models)
        ]
        if shard_tracks is None:
            shard_tracks = SHARD_TRACKS
            if client is not None:  # small work: smaller shards, so that every worker has some
                shard_tracks = _cluster.shard_size(len(live))
        if shard_seconds is None:
            shard_seconds = SHARD_SECONDS if client is None else CLUSTER_SHARD_SECONDS
        if shard_tracks < 1:
            raise ValueError(f"shard_tracks must be >= 1, got {shard_tracks}")
        shards = _plan(todo, shard_tracks, shard_seconds)
        run = _Run(st, manifest, taggers, kept_layers, versions, dtype, batch_size, have, device)
        audio_seconds = 0.0
        failed = 0
        per_worker: dict = {}
        bar = _progress_bar(len(todo), remote if client is None else "a cluster", progress)
        try:
            if client is not None:
                spec = {
                    "store": str(st.path), "models": list(models), "device": str(remote),
                    "precision": precision, "dtype": dtype, "layers": kept_layers,
                    "versions": versions, "batch_size": batch_size, "decoders": workers,
                }  # fmt: skip
                if bar is not None and client.dashboard_link:
                    bar.write(f"Dask dashboard: {client.dashboard_link}")

                def commit(result):
                    _adopt(run.manifest, run.have, result["parts"])
                    run.manifest["errors"].update(result["errors"])
                    st.commit(run.manifest)

                audio_seconds, failed, per_worker = _cluster.run_shards(
                    client, shards, spec, run.have, commit, bar, max_in_flight, shard_timeout
                )
            else:
                with _Decoder(workers) as decoder:
                    paths = [t["path"] for t in todo]
                    decoded = decoder.map(paths, [t["duration"] for t in todo])
                    for shard in shards:
                        seconds, n_failed = run.shard(shard, decoded, bar)
                        audio_seconds += seconds
                        failed += n_failed
        finally:
            if bar is not None:
                bar.close()
        t0 = time.perf_counter()
        _compact(st, run.manifest, models, live)
        run.profile["compacting the store"] = time.perf_counter() - t0
        elapsed = time.perf_counter() - t_start
        stats = ExtractStats(
            tracks=len(live), extracted=len(todo) - failed,
            reused=len(live) - len(todo) - len(errors.keys() - {t["id"] for t in todo}),
            failed=failed, audio_seconds=audio_seconds, seconds=elapsed, device=str(remote),
            profile=dict(run.profile), workers=per_worker,
        )  # fmt: skip
    embeddings = Embeddings(st, models, stats=stats)
    if progress:
        print(_summary(stats, embeddings), file=sys.stderr)
    return embeddings


# -- planning ------------------------------------------------------------------------------------


def _pick_device(device) -> torch.device:
    if str(device) == "auto":
        picked = resolve_device("auto")
        if picked.type == "cpu":
            logger.warning(
                "no GPU is visible to torch: extracting on the CPU (about 10-15x realtime on 2 "
                "cores for all four models); with an NVIDIA GPU, install a CUDA build of torch"
            )
        return picked
    picked = torch.device(device)
    if picked.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            f"device={str(device)!r} was asked for, but torch sees no CUDA GPU "
            f"(torch {torch.__version__}, built {'with' if torch.version.cuda else 'without'} "
            "CUDA): extracting on the CPU instead, which is ~100x slower. Check nvidia-smi and "
            "that a CUDA build of torch is installed, or pass device='cpu' to silence this.",
            RuntimeWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return picked


def _layers(tagger: Tagger, layers) -> dict[str, int]:
    if layers == "all":
        return dict(tagger.layers)
    layers = (layers,) if isinstance(layers, str) else tuple(layers)
    wanted = {k: v for k, v in tagger.layers.items() if k in layers}
    unknown = [k for k in layers if not any(k in BUNDLES[m].build().dims for m in BUNDLES)]
    if unknown or not wanted:
        raise ValueError(
            f"unknown layer(s) {unknown or layers!r}; {tagger.name} has {', '.join(tagger.layers)}"
        )
    return wanted


def _version(model: str, precision: str) -> str:
    """Changes whenever the model's results would: its weights and its arithmetic."""
    digest = hashlib.sha256((_WEIGHTS / BUNDLES[model].weights).read_bytes()).hexdigest()
    prep = hashlib.sha256(PREPROCESSING.encode()).hexdigest()
    return f"{digest[:16]}/{precision}/{prep[:8]}"


def _live_tracks(collection: Collection) -> list[dict]:
    t = collection.tracks
    mtime = t["mtime"]
    mtime_ns = mtime.astype("int64") if mtime.dtype.kind == "i" else mtime.map(lambda v: v.value)
    return [
        {"id": tid, "path": p, "size": int(s), "mtime_ns": int(m), "duration": float(d)}
        for tid, p, s, m, d in zip(
            t.index, t["path"], t["size"], mtime_ns, t["duration"], strict=True
        )
    ]


def _recover(st: Store, manifest, models, versions, dtype, kept_layers) -> dict:
    """Bring the manifest in line with what this run asks for; adopt or drop stray parts.

    ``kept_layers`` is updated in place: a model the store already keeps with more layers than
    asked goes on being written with all of them.
    """
    manifest.setdefault("models", {})
    manifest.setdefault("errors", {})
    committed = {(m, p) for m, e in manifest["models"].items() for p in e["parts"]}
    # a committed part that cannot be read (lost in a crash of the machine): drop it, so that
    # its tracks are computed again instead of the store failing from now on
    for m, entry in manifest["models"].items():
        good = [p for p in entry["parts"] if st.valid_part(m, p) is not None]
        if len(good) < len(entry["parts"]):
            logger.warning("%s: %d damaged parts dropped", m, len(entry["parts"]) - len(good))
            entry["parts"] = good
    stale = []
    for m in models:
        entry = manifest["models"].get(m)
        fits = (
            entry is not None
            and entry["version"] == versions[m]
            and entry["dtype"] == dtype
            and set(kept_layers[m]) <= set(entry["layers"])
        )
        if entry is not None and not fits:
            logger.warning(
                "%s: the store holds it with other weights, preprocessing, precision, dtype or "
                "fewer layers; its rows are computed again",
                m,
            )
            stale += [(m, p) for p in entry["parts"]]
        if fits:
            kept_layers[m] = dict(entry["layers"])
        else:
            manifest["models"][m] = {
                "version": versions[m], "dtype": dtype, "layers": kept_layers[m], "parts": [],
            }  # fmt: skip
    # parts published but never committed (a writer killed in between): adopt the sound ones
    for m, pid in st.uncommitted_parts(manifest):
        if (m, pid) in committed:
            continue  # dropped just above: removed only once the manifest says so
        entry = manifest["models"].get(m)
        part = st.valid_part(m, pid)
        if (
            entry is not None
            and part is not None
            and part.version == entry["version"]
            and part.dtype == entry["dtype"]
            and part.layers == entry["layers"]
        ):
            entry["parts"].append(pid)
        else:
            st.remove_part(m, pid)
    st.commit(manifest)
    st.clear_tmp()
    for m, pid in stale:
        if pid not in manifest["models"][m]["parts"]:
            st.remove_part(m, pid)
    return manifest


def _stat(path: str) -> tuple[int, int]:
    """(size, mtime in ns) of a file, or (-1, -1) when it cannot be seen."""
    try:
        st = os.stat(path)
    except OSError:
        return -1, -1
    return st.st_size, st.st_mtime_ns


def _plan(todo: list[dict], max_tracks: int, max_seconds: float) -> list[list[dict]]:
    """Consecutive tracks, cut into shards: the same cut for the same work, on every run."""
    shards: list[list[dict]] = []
    current: list[dict] = []
    seconds = 0.0
    for t in todo:
        current.append(t)
        seconds += t["duration"]
        if len(current) >= max_tracks or seconds >= max_seconds:
            shards.append(current)
            current, seconds = [], 0.0
    if current:
        shards.append(current)
    return shards


# -- decoding ------------------------------------------------------------------------------------


class _Decoder:
    """Decodes files in worker processes, yielding results in order, a bounded amount ahead.

    At most ``2 * workers`` files and two hours of audio (460 MB of 16 kHz float32; but at least
    one file, however long) are decoded ahead of the models. A worker that
    dies (a decoder crash on a hostile file) is replaced; the files it may have held are tried
    again one at a time, and a file that kills a worker on its own is reported as an error.
    """

    #: Seconds of audio decoded ahead of the models at most (but always at least one file).
    AHEAD_SECONDS = 7200.0

    def __init__(self, workers: int, fn=_decode.decode) -> None:
        self.workers = workers
        self.fn = fn
        self.ahead = max(2, 2 * workers)
        self.pool: cf.Executor | None = None
        self.threads = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def _new_pool(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
        if self.threads:
            self.pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="decode")
            return
        self.pool = cf.ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_decode.worker_init,
        )
        try:
            self.pool.submit(_decode.ping).result(timeout=120)
        except (cf.process.BrokenProcessPool, cf.TimeoutError, OSError) as e:
            # typically a script that starts extraction at import time: each new process
            # imports the script again. Threads decode too (more slowly: the GIL).
            warnings.warn(
                f"decoding processes could not start ({type(e).__name__}); decoding in threads "
                'instead. In a script, call extract() under `if __name__ == "__main__":` so '
                "that worker processes can start.",
                RuntimeWarning,
                stacklevel=2,
            )
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.threads = True
            self.pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="decode")

    def map(self, paths: list[str], seconds: list[float] | None = None):
        """Yield ``fn(path)`` for each path, in order (``seconds``: each file's duration)."""
        if self.workers == 0:
            for p in paths:
                yield self.fn(p)
            return
        seconds = seconds if seconds is not None else [0.0] * len(paths)
        if self.pool is None:  # a pool is kept between calls (a cluster worker's shards)
            self._new_pool()
        queue: collections.deque = collections.deque()  # (index, future), in order
        suspects: collections.deque = collections.deque()  # in flight when a worker died
        try:
            yield from self._ordered(paths, seconds, queue, suspects)
        finally:  # the caller stopped early: what is queued is not decoded
            for _, future in queue:
                future.cancel()

    def _ordered(self, paths, seconds, queue, suspects):
        nxt = 0
        while nxt < len(paths) or queue or suspects:
            if suspects:
                # one at a time, so that a crash names the file that causes it
                i = suspects.popleft()
                try:
                    result = self.pool.submit(self.fn, paths[i]).result()
                except cf.process.BrokenProcessPool:
                    self._new_pool()
                    result = "error", "the decoder crashed on this file (FFmpeg died reading it)"
                yield result
                continue
            try:
                while (
                    nxt < len(paths)
                    and len(queue) < self.ahead
                    and (
                        not queue
                        or sum(seconds[j] for j, _ in queue) + seconds[nxt] <= self.AHEAD_SECONDS
                    )
                ):
                    queue.append((nxt, self.pool.submit(self.fn, paths[nxt])))
                    nxt += 1
                result = queue[0][1].result()
            except cf.process.BrokenProcessPool:
                # a worker died: the files it may have held are all those in flight
                suspects.extend(j for j, _ in queue)
                queue.clear()
                self._new_pool()
                continue
            queue.popleft()
            yield result


# -- the models ----------------------------------------------------------------------------------


@dataclass
class _Pending:
    """One model's work in the current shard: its tracks, their patches not yet run, outputs."""

    tracks: list = field(default_factory=list)
    n_segments: list = field(default_factory=list)
    patches: list = field(default_factory=list)
    n_patches: int = 0
    outputs: dict = field(default_factory=dict)


@dataclass
class _Run:
    store: Store
    manifest: dict
    taggers: dict[str, Tagger]
    layers: dict[str, dict[str, int]]
    versions: dict[str, str]
    dtype: str
    batch_size: int
    have: dict[str, dict]
    device: torch.device
    profile: dict = field(default_factory=dict)
    #: a cluster worker's run: parts are written and published, and listed in ``published``
    #: for the driver, which alone commits them (see :func:`_adopt`)
    publish_only: bool = False
    published: list = field(default_factory=list)

    def shard(self, tracks: list[dict], decoded, bar) -> tuple[float, int]:
        """Decode, run and commit one shard; returns (audio seconds, failed tracks).

        Each model runs on the shard's tracks that it lacks, and only those, in batches of
        ``batch_size`` patches cut in track order from the start of the shard.
        """
        needed = [m for m in self.taggers if any(t["id"] not in self.have[m] for t in tracks)]
        frontend = self.taggers[needed[0]]
        work = {m: _Pending(outputs={k: [] for k in self.layers[m]}) for m in needed}
        seconds = 0.0
        failed = 0
        for t in tracks:
            t0 = time.perf_counter()
            status, result = next(decoded)
            self._tick("waiting for decoders", t0)
            if status == "ok":
                t0 = time.perf_counter()
                try:
                    patches = frontend.patches(result, 16_000)
                except (RuntimeError, MemoryError, ValueError) as e:  # out of memory, NaN audio
                    status, result = "error", f"cannot compute its spectrogram ({e})"
                    if self.device.type == "cuda":
                        torch.cuda.empty_cache()
                self._tick("frontend (log-mel)", t0)
            if status != "ok":
                failed += 1
                size, mtime_ns = _stat(t["path"])  # the file as it failed
                self.manifest["errors"][t["id"]] = {
                    "path": t["path"], "size": size, "mtime_ns": mtime_ns, "reason": result,
                }  # fmt: skip
                logger.warning("%s: %s", t["path"], result)
                if bar is not None:
                    bar.update(1)
                continue
            seconds += result.size / 16_000
            for m in needed:
                if t["id"] in self.have[m]:
                    continue
                w = work[m]
                w.tracks.append(t)
                w.n_segments.append(len(patches))
                for a in range(0, len(patches), self.batch_size):
                    piece = patches[a : a + self.batch_size]
                    w.patches.append(piece)
                    w.n_patches += len(piece)
                    while w.n_patches >= self.batch_size:
                        self._run(m, w, self.batch_size)
            del patches
            if bar is not None:
                bar.update(1)
                bar.audio_seconds += result.size / 16_000
                _postfix(bar)
        for m, w in work.items():
            if w.n_patches:
                self._run(m, w, w.n_patches)
        t0 = time.perf_counter()
        self._commit(work)
        self._tick("writing the store", t0, sync=False)
        return seconds, failed

    def _tick(self, phase: str, t0: float, sync: bool = True) -> None:
        if sync and SYNC_PHASES and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.profile[phase] = self.profile.get(phase, 0.0) + time.perf_counter() - t0

    def _run(self, m: str, w: _Pending, size: int) -> None:
        """Run model ``m`` on the first ``size`` pending patches."""
        t0 = time.perf_counter()
        batch = torch.cat(w.patches) if len(w.patches) > 1 else w.patches[0]
        head, rest = batch[:size], batch[size:]
        try:
            out = self.taggers[m].forward(head)
        except torch.cuda.OutOfMemoryError:
            raise torch.cuda.OutOfMemoryError(
                f"a batch of {size} patches does not fit in the GPU's memory; pass a smaller "
                "batch_size (e.g. --batch-size 256); what was done so far is kept"
            ) from None
        for k in self.layers[m]:
            w.outputs[k].append(out[k].cpu().numpy().astype(self.dtype))
        w.patches = [rest] if len(rest) else []
        w.n_patches = len(rest)
        self._tick("models (and copies back)", t0)

    def _commit(self, work: dict[str, _Pending]) -> None:
        added = []
        for m, w in work.items():
            if not w.tracks:
                continue
            arrays = {
                k: np.concatenate(v) if v else np.zeros((0, self.layers[m][k]), self.dtype)
                for k, v in w.outputs.items()
            }
            pid = self.store.write_part(
                m, version=self.versions[m], dtype=self.dtype,
                tracks=[(t["id"], t["size"], t["mtime_ns"]) for t in w.tracks],
                n_segments=w.n_segments, arrays=arrays,
            )  # fmt: skip
            added.append((m, pid, w))
        published = [
            (m, pid, [(t["id"], n) for t, n in zip(w.tracks, w.n_segments, strict=True)])
            for m, pid, w in added
        ]
        if self.publish_only:
            self.published += published
            return
        _adopt(self.manifest, self.have, published)
        self.store.commit(self.manifest)


def _adopt(manifest: dict, have: dict, published: list) -> None:
    """Name published parts in ``manifest`` (not yet written to disk) and record their rows in
    ``have``.

    Parameters
    ----------
    manifest : dict
        The store's manifest, changed in place.
    have : dict
        ``{model: {track_id: (part_id, first_row, n_segments)}}``, changed in place.
    published : list of tuple
        ``(model, part_id, [(track_id, n_segments), ...])`` in row order, as a shard's run
        lists them.
    """
    for m, pid, rows in published:
        if pid not in manifest["models"][m]["parts"]:
            manifest["models"][m]["parts"].append(pid)
        off = 0
        for tid, n in rows:
            have[m][tid] = (pid, off, int(n))
            off += int(n)


def _compact(st: Store, manifest: dict, models, live: list[dict]) -> None:
    """Rewrite each model's live rows as one part in collection order, if they are not."""
    cache: dict = {}
    old: list[tuple[str, str]] = []
    for m in models:
        entry = manifest["models"][m]
        rows = live_rows(st, manifest, m, live, cache)
        order = [t for t in live if t["id"] in rows]
        spans = [rows[t["id"]] for t in order]
        total = sum(s[2] for s in spans)
        if len(entry["parts"]) == 1 and spans:
            part = cache[(m, entry["parts"][0])]
            starts = [s[1] for s in spans]
            if (
                sum(part.n_segments) == total
                and starts == sorted(starts)
                and (starts == list(np.concatenate([[0], np.cumsum([s[2] for s in spans])])[:-1]))
            ):
                continue  # already one part, in order, with no dead rows
        if not entry["parts"]:
            continue

        class _Fill:
            layers = entry["layers"]

            def __call__(self, layer, out, _m=m, _spans=spans):
                st.gather(_m, layer, _spans, out)

        pid = st.write_part(
            m, version=entry["version"], dtype=entry["dtype"],
            tracks=[(t["id"], t["size"], t["mtime_ns"]) for t in order],
            n_segments=[s[2] for s in spans], fill=_Fill(),
        )  # fmt: skip
        old += [(m, p) for p in entry["parts"] if p != pid]
        entry["parts"] = [pid]
    st.commit(manifest)
    for m, pid in old:
        st.remove_part(m, pid)


# -- feedback ------------------------------------------------------------------------------------


def _progress_bar(total: int, device: torch.device, progress: bool):
    if not progress or total == 0:
        return None
    from ._progress import progress_bar

    bar = progress_bar(total=total, unit="track", desc=f"extracting on {device}")
    bar.audio_seconds = 0.0
    bar.started = time.perf_counter()
    return bar


def _postfix(bar) -> None:
    elapsed = time.perf_counter() - bar.started
    bar.set_postfix_str(
        f"{bar.audio_seconds / 3600:.2f} h audio, {bar.audio_seconds / max(elapsed, 1e-9):.0f}x "
        "realtime",
        refresh=False,
    )


def _summary(stats: ExtractStats, emb: Embeddings) -> str:
    text = (
        f"extracted {stats.extracted} tracks ({stats.audio_seconds / 3600:.2f} h of audio) in "
        f"{stats.seconds:.1f} s on {stats.device}"
    )
    if stats.audio_seconds:
        text += f": {stats.realtime:.0f}x realtime"
    if stats.reused:
        text += f"; {stats.reused} tracks were already in the store"
    if stats.failed:
        text += f"; {stats.failed} could not be read (see .errors)"
    for worker, w in sorted(stats.workers.items()):
        text += (
            f"\n  {worker}: {w['tracks']} tracks, {w['audio_seconds'] / 3600:.2f} h of audio in "
            f"{w['busy_seconds']:.1f} s of tasks: {w['realtime']:.0f}x realtime, decoding "
            f"in {w['decoders']}"
        )
    return text + f"\n{emb!r}"
