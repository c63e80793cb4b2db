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

import contextlib
import errno
import logging
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from . import _missing, registry
from ._dirs import is_under
from ._extract_args import (  # _layers, _live_tracks: kept importable from here (benchmarks)
    DEFAULT_DTYPE,
    DEFAULT_LAYERS,
    _check_device,
    _entry_meta,
    _layers,
    _live_tracks,
    _pick_device,
    no_readable_audio,
)
from ._plan import (
    CLUSTER_SHARD_SECONDS,
    MIN_CLUSTER_SHARD,
    SHARD_SECONDS,
    SHARD_TRACKS,
    ShardSpec,
    decoder_for,
    plan,
    rates_of,
    shard_size,
)
from ._prefetch import Decoder
from ._shards import _adopt, _Run
from ._store_lacks import errors_kept, holds_tracks, rows_held, to_do
from ._store_state import (
    compact,
    drop_damaged,
    is_compact,
    manifest_from_parts,
    merge_tracks,
    recover,
    remove_parts,
    tracks_from_parts,
)
from .collection import Collection
from .embeddings import Embeddings, ExtractStats
from .models.runner import build
from .models.tagger import AUTO_PRECISION, PRECISIONS
from .store import DTYPES, DamagedStoreError, Store, StoreError

__all__ = ["DEFAULT_LAYERS", "DEFAULT_MODELS", "extract"]

#: ``_plan``: the name of before the plan had its own module (benchmarks use it)
_plan = plan
#: kept importable from here: what shards are (see embedexplore._plan)
SHARD_LIMITS = (SHARD_TRACKS, SHARD_SECONDS, MIN_CLUSTER_SHARD, CLUSTER_SHARD_SECONDS)

logger = logging.getLogger(__name__)

#: The models extracted unless asked otherwise: the four taggers (the registry says which).
DEFAULT_MODELS = registry.default_models()


def extract(
    collection: Collection | str | os.PathLike,
    *,
    store: str | os.PathLike,
    models=DEFAULT_MODELS,
    layers=DEFAULT_LAYERS,
    device: str | torch.device = "auto",
    precision: str = "auto",
    dtype: str = DEFAULT_DTYPE,
    batch_size: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    retry_errors: bool = False,
    prune: bool = False,
    shard_tracks: int | None = None,
    shard_seconds: float | None = None,
    cluster=None,
    max_in_flight: int | None = None,
    shard_timeout: float | None = None,
) -> Embeddings:
    """Run the models over every segment of ``collection`` and keep the results in ``store``.

    Only what the store lacks is computed: new or changed files (size or modification time),
    and models whose weights, precision or dtype changed. Tracks of the store that this
    collection no longer holds (a drive not mounted, a folder that cannot be read, a sub-folder
    extracted on its own) keep their rows, marked missing, until you ask to ``prune`` them: a
    warning says how many before anything is done. Interrupt it at any moment (Ctrl-C, a crash,
    a killed kernel) and run it again: it continues where it stopped.

    Parameters
    ----------
    collection : Collection or str or os.PathLike
        What :func:`embedexplore.scan` returned, or a folder (scanned first).
    store : str or os.PathLike
        The store's folder (created if new). Keep one store per collection.
    models : str or sequence of str
        Registered models (:func:`embedexplore.models.available`): the built-in taggers
        ``musicnn-msd``, ``musicnn-mtt``, ``vgg-msd``, ``vgg-mtt`` (the default: all four),
        the baselines ``mfcc-stats`` and ``chroma-stats``, ``vggish`` (once
        :func:`embedexplore.models.use_vggish` gave its weights), or your own
        (:func:`embedexplore.register_model`). Each runs at its own clock.
    layers : sequence of str or "all"
        Layers to keep, for the models that have them (default: ``taggrams`` and
        ``embeddings``; a model with neither keeps all its layers).
    device : str or torch.device
        ``"auto"`` (CUDA when visible, else the CPU, said in a log record), ``"cuda"``,
        ``"cuda:1"``, ``"cpu"``... A CUDA device where torch sees no GPU is an error, never
        swapped for the CPU (~100x slower): ask for ``"auto"`` to take the CPU then. With
        ``cluster``, the workers' devices count, not this process's.
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
    prune : bool
        Remove the rows of the store's tracks that this collection does not hold (by default
        they are kept). Refused, before anything is removed, when the scan could not read a
        folder or found nothing under a folder where the store has tracks (a drive not
        mounted): :func:`embedexplore.prune` removes named tracks in that case.
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
        The store's contents for ``models`` and the tracks of ``collection`` (open the store
        with :func:`embedexplore.open_store` to see those kept as missing too), with
        :attr:`Embeddings.stats` of this run. Its
        arrays (:meth:`Embeddings.array`) are ``(n_segments, dim)`` of ``dtype``, one row per
        2.992 s segment: ``dim`` 50 for ``taggrams``, 200 for MusiCNN's ``embeddings`` and
        ``penultimate``, 1506 for its ``pooled``, 256 for VGG's ``embeddings``.

    Raises
    ------
    ValueError
        A collection without a readable track (an empty folder, a folder of damaged files:
        ``collection.errors`` lists them), an unknown or repeated model, an unknown layer,
        precision, dtype or device, a CUDA device where torch sees none, ``batch_size`` below
        1, ``workers`` below 0, or a collection holding a track id twice.
    embedexplore.store.StoreError
        ``store`` is a folder holding other files, a store written by another version, or a
        store on a disk that is full or cannot be written (what was committed is kept);
        ``prune`` refused (see above).
    FileNotFoundError
        ``collection`` is a path that does not exist.
    """
    t_start = time.perf_counter()
    if not isinstance(collection, Collection):
        from .collection import scan

        collection = scan(collection, progress=progress)
    empty = no_readable_audio(collection)
    if empty is not None and not holds_tracks(store):  # raised before the store is touched;
        raise empty  # a store with tracks: a drive not mounted, say (they are kept, and said so)
    models = (models,) if isinstance(models, str) else tuple(models)
    if not models:
        raise ValueError(f"no model named; choose from {', '.join(registry.names())}")
    for m in models:
        registry.get(m)  # an unknown name: a ValueError listing the registered ones
    if len(set(models)) != len(models):
        raise ValueError(f"a model is named twice in {models}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if not collection.tracks.index.is_unique:
        dup = collection.tracks.index[collection.tracks.index.duplicated()][0]
        raise ValueError(f"the collection holds track id {dup!r} twice; scan it again")
    job = _Job(
        models=models, layers=layers, device=_check_device(device), precision=precision,
        dtype=dtype, batch_size=batch_size, workers=workers, progress=progress,
        retry_errors=retry_errors, prune=prune, shard_tracks=shard_tracks,
        shard_seconds=shard_seconds, max_in_flight=max_in_flight, shard_timeout=shard_timeout,
        t_start=t_start,
    )  # fmt: skip
    scanned = _live_tracks(collection)
    facts = _missing.ScanFacts.of(collection)
    if progress and len(collection.errors):
        print(_missing.scan_errors_line(collection), file=sys.stderr)
    if cluster is not None:
        from . import _cluster

        client, own_client = _cluster.client_for(cluster)
        try:
            return _extract(scanned, facts, store, job, client=client)
        finally:
            if own_client:
                client.close()
    return _extract(scanned, facts, store, job)


@dataclass
class _Job:
    """What :func:`extract` was asked to do (its arguments, checked)."""

    models: tuple[str, ...]
    layers: object
    device: str | torch.device
    precision: str
    dtype: str
    batch_size: int | None
    workers: int | None
    progress: bool
    retry_errors: bool
    prune: bool
    shard_tracks: int | None
    shard_seconds: float | None
    max_in_flight: int | None
    shard_timeout: float | None
    t_start: float


def _extract(scanned: list[dict], facts, store, job: _Job, *, client=None) -> Embeddings:
    """Extract ``scanned`` (the tracks found, as :func:`_live_tracks` lists them) into
    ``store``; ``facts`` (:class:`embedexplore._missing.ScanFacts`) tell what the scan could
    not see, so that tracks it did not find are kept, or pruned, knowingly."""
    models, device, precision = job.models, job.device, job.precision
    if client is not None:
        from . import _cluster

        if not client.scheduler_info().get("workers"):
            if job.progress:  # SLURM jobs, for instance, may wait in the queue
                print("waiting for the first Dask worker to start...", file=sys.stderr)
            client.wait_for_workers(1, timeout=job.shard_timeout)
        if str(device) == "auto":  # what the workers see, not this process
            device = client.submit(_cluster.worker_device_type, pure=False).result(
                timeout=job.shard_timeout
            )
        remote = torch.device(device)
        device = torch.device("cpu")  # the driver runs no model, but checks the registered ones
    else:
        device = remote = _pick_device(device)
    if precision == "auto":
        precision = AUTO_PRECISION.get(remote.type, "float32")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} or 'auto', got {precision!r}")
    batch_size, workers = job.batch_size, job.workers
    if batch_size is None:
        batch_size = 1024 if remote.type == "cuda" else 64
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if workers is None and client is None:  # on a cluster, each worker decides (_cluster)
        workers = max(1, (os.cpu_count() or 2) - 1) if remote.type == "cuda" else 1
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0, got {workers}")
    shard_tracks, shard_seconds = job.shard_tracks, job.shard_seconds
    if shard_tracks is not None and shard_tracks < 1:
        raise ValueError(f"shard_tracks must be >= 1, got {shard_tracks}")
    specs = {m: registry.get(m) for m in models}
    kept_layers = {m: _layers(s, job.layers) for m, s in specs.items()}
    versions = {
        m: s.store_version(precision if s.kind == "tagger" else "float32") for m, s in specs.items()
    }
    # the models are built, and the registered ones run once on noise, before the store is
    # touched: a model that cannot be built or returns what it did not declare changes nothing
    if client is None:
        taggers = {m: build(s, device, precision) for m, s in specs.items()}
    else:  # the workers build the models; the driver checks the registered ones on its CPU
        taggers = {m: build(s, device) for m, s in specs.items() if s.kind != "tagger"}
    for t in taggers.values():
        if hasattr(t, "probe"):
            t.probe()

    with _writing(store):
        st = Store(store, create=True)  # first: a store that cannot be written fails at once
        with st.lock():
            return _extract_locked(
                st, scanned, facts, job, specs, taggers, kept_layers, versions, precision,
                device, remote, batch_size, workers, shard_tracks, shard_seconds, client,
            )  # fmt: skip


def _extract_locked(
    st, scanned, facts, job, specs, taggers, kept_layers, versions, precision, device, remote,
    batch_size, workers, shard_tracks, shard_seconds, client,
) -> Embeddings:  # fmt: skip
    models, dtype, progress = job.models, job.dtype, job.progress
    try:
        manifest = st.manifest()
    except DamagedStoreError as e:
        warnings.warn(f"{e}; rebuilt from the parts instead", RuntimeWarning, stacklevel=4)
        manifest = manifest_from_parts(st)
    try:
        previous = st.collection()
    except DamagedStoreError as e:
        warnings.warn(f"{e}; rebuilt from the parts instead", RuntimeWarning, stacklevel=4)
        previous = tracks_from_parts(st, manifest)
    known, others, superseded = merge_tracks(previous, scanned, prune=job.prune)
    _missing.check(st.path, previous, scanned, others, facts, prune=job.prune)
    # the tracks found under another id keep their old entry until compaction, when their rows
    # are under the new one: a run killed before that loses nothing
    st.set_collection(known + [{**t, "missing": True} for t in superseded.values()])
    checked: set = set()  # parts whose checksums were verified in this run (or written by it)
    meta = {m: _entry_meta(s) for m, s in specs.items()}
    declared = {m: dict(s.layers) for m, s in specs.items()}
    manifest = recover(st, manifest, models, versions, dtype, kept_layers, checked, meta, declared)
    every_model = list(manifest["models"])
    present = [t for t in known if not t.get("missing")]
    # a file that failed is tried again once it changed (or came back) since it failed
    errors = manifest["errors"] = errors_kept(manifest, present, job.retry_errors)

    def rows_and_work():
        have = rows_held(st, manifest, every_model, known, superseded)
        return have, to_do(present, errors, have, models)

    have, todo = rows_and_work()
    # the parts that compaction will read at the end: their checksums verified now, so that a
    # damaged part's tracks are computed again in this run, not in the next
    rewritten = [
        m for m in every_model
        if (m in models and any(t["id"] not in have[m] for t in todo))
        or not is_compact(manifest, m, known, have[m])
    ]  # fmt: skip
    dropped = drop_damaged(st, manifest, rewritten, content=True, checked=checked)
    if dropped:
        st.commit(manifest)
        remove_parts(st, dropped)
        have, todo = rows_and_work()
    if shard_tracks is None:
        shard_tracks = SHARD_TRACKS
        if client is not None:  # small work: smaller shards, so that every worker has some
            shard_tracks = shard_size(len(present))
    if shard_seconds is None:
        shard_seconds = SHARD_SECONDS if client is None else CLUSTER_SHARD_SECONDS
    shards = plan(todo, shard_tracks, shard_seconds)
    run = _Run(st, manifest, taggers, kept_layers, versions, dtype, batch_size, have, device,
               checked=checked)  # fmt: skip
    audio_seconds = 0.0
    failed = 0
    per_worker: dict = {}
    bar = _progress_bar(len(todo), remote if client is None else "a cluster", progress)
    try:
        if client is not None:
            from . import _cluster

            spec = ShardSpec(
                store=str(st.path), models=tuple(models), device=str(remote),
                precision=precision, dtype=dtype, layers=kept_layers, versions=versions,
                batch_size=batch_size, decoders=workers, rates=rates_of(specs), specs=specs,
            )  # fmt: skip
            if bar is not None and client.dashboard_link:
                bar.write(f"Dask dashboard: {client.dashboard_link}")

            def commit(result):
                _adopt(run.manifest, run.have, result["parts"])
                run.manifest["errors"].update(result["errors"])
                st.commit(run.manifest)

            audio_seconds, failed, per_worker = _cluster.run_shards(
                client, shards, spec, run.have, commit, bar, job.max_in_flight, job.shard_timeout
            )
        else:
            with Decoder(workers, fn=decoder_for(rates_of(specs))) as decoder:
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
    lost = compact(st, run.manifest, every_model, known, run.have, checked)
    if lost:
        logger.warning(
            "%d parts published in this run were damaged when compacted; their tracks are "
            "computed again by the next extraction", len(lost),
        )  # fmt: skip
    st.set_collection(known)  # the tracks found under another id: only their new entry
    run.profile["compacting the store"] = time.perf_counter() - t0
    elapsed = time.perf_counter() - job.t_start
    stats = ExtractStats(
        tracks=len(scanned), extracted=len(todo) - failed,
        reused=len(present) - len(todo) - len(errors.keys() - {t["id"] for t in todo}),
        failed=failed, audio_seconds=audio_seconds, seconds=elapsed, device=str(remote),
        profile=dict(run.profile), workers=per_worker,
        missing=len(known) - len(present), pruned=len(others) if job.prune else 0,
    )  # fmt: skip
    embeddings = Embeddings(st, models, stats=stats, track_ids=[t["id"] for t in scanned])
    if progress:
        print(_summary(stats, embeddings), file=sys.stderr)
    return embeddings


@contextlib.contextmanager
def _writing(store):
    """Errors of the disk the store is on (full, read-only, no permission) as a
    :class:`StoreError` saying what to do: what was committed before is kept."""
    try:
        yield
    except OSError as e:
        root = os.path.abspath(Path(store).expanduser())
        name = os.path.abspath(os.fsdecode(e.filename)) if e.filename else None
        if e.errno not in _DISK_ERRORS or (name is not None and not is_under(name, root)):
            raise  # not the store's disk (a model's weights, say)
        what = e.strerror or str(e)
        where = f" ({e.filename})" if e.filename else ""
        raise StoreError(
            f"cannot write to the store {os.fspath(store)}: {what}{where}. What was extracted "
            "before is kept; free some space (or choose a folder you may write to) and run "
            "again to continue"
        ) from e


_DISK_ERRORS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.EIO}
)


# -- feedback ------------------------------------------------------------------------------------


def _progress_bar(total: int, device: torch.device, progress: bool):
    if not progress or total == 0:
        return None
    from ._progress import progress_bar

    bar = progress_bar(total=total, unit="track", desc=f"extracting on {device}")
    bar.audio_seconds = 0.0
    bar.started = time.perf_counter()
    return bar


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
    if stats.missing:
        text += (
            f"; {stats.missing} tracks of the store not in this collection kept (prune=True "
            "removes them)"
        )
    if stats.pruned:
        text += f"; {stats.pruned} tracks no longer in the collection pruned"
    for worker, w in sorted(stats.workers.items()):
        text += (
            f"\n  {worker}: {w['tracks']} tracks, {w['audio_seconds'] / 3600:.2f} h of audio in "
            f"{w['busy_seconds']:.1f} s of tasks: {w['realtime']:.0f}x realtime, decoding "
            f"in {w['decoders']}"
        )
    return text + f"\n{emb!r}"
