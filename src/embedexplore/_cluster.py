"""Extraction on a Dask cluster: the shards of :func:`embedexplore.extract` run as Dask tasks.

The driver (the process that called ``extract``) plans the shards exactly as on one machine,
submits each as a task keyed by the shard's id, and commits what each task published, in the
order tasks finish; only the driver writes the store's manifest. A task runs the single-machine
code for one shard (:class:`embedexplore._shards._Run`, with decoding threads instead of
processes: a Dask worker's process may not start children) with models kept loaded in the worker
process between tasks, and writes and publishes its parts into the store (atomic renames; see
:mod:`embedexplore.store`). The store therefore ends byte-for-byte as one machine writes it.

Dask distributed (futures API) is the engine, not something written here: scheduling, retries of
failed tasks and re-running the tasks of a worker that died are its job.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque

from ._plan import ShardSpec, decoder_for

_MODELS: dict = {}  # in a worker process: the loaded models, kept between tasks
_LOCK = threading.Lock()
_LOCAL = threading.local()  # in a worker thread: its decoder, kept between tasks


def client_for(cluster):
    """A ``distributed.Client`` for ``cluster`` (a Client, a scheduler address, or a Dask
    cluster object such as dask-jobqueue's) and whether it was made here (then the caller
    closes it; a cluster object stays up)."""
    try:
        from distributed import Client
        from distributed.deploy import Cluster
    except ImportError:
        raise ImportError(
            "extract(cluster=...) needs Dask distributed: pip install 'embedexplore[distributed]'"
        ) from None
    if isinstance(cluster, Client):
        return cluster, False
    if isinstance(cluster, (str, Cluster)):
        return Client(cluster, timeout="60s"), True
    raise TypeError(
        f"cluster must be a distributed.Client, a Dask cluster object (e.g. "
        f"embedexplore.slurm_cluster(...)) or a scheduler address such as 'tcp://host:8786', "
        f"got {type(cluster).__name__}"
    )


def slurm_cluster(
    jobs: int,
    *,
    partition: str | None = None,
    gpus: int = 1,
    cores: int = 8,
    memory: str = "32GB",
    walltime: str = "04:00:00",
    account: str | None = None,
    options=(),
    interface: str | None = None,
    log_directory: str | None = None,
):
    """Start Dask workers as SLURM jobs, for :func:`embedexplore.extract`'s ``cluster``.

    Each job runs one Dask worker with ``gpus`` GPUs (one by default: the worker keeps one
    model set on it) and ``cores`` CPUs, which decode the audio that feeds the GPU. The jobs
    are submitted with ``sbatch`` through dask-jobqueue (``pip install
    'embedexplore[distributed]'``); the scheduler runs in this process, so this machine (a login
    node, typically) must be reachable from the compute nodes, which must see the music, the
    store and this Python environment at the same paths.

    Parameters
    ----------
    jobs : int
        Worker jobs to submit (one GPU each, by default).
    partition : str, optional
        The SLURM partition (``sbatch -p``); default: the cluster's default partition.
    gpus : int
        GPUs per job (``--gres=gpu:N``); ``0`` for CPU-only nodes, where each job then runs
        ``cores`` single-threaded workers instead of one.
    cores : int
        CPUs per job (``--cpus-per-task``).
    memory : str
        Memory per job (``--mem``), e.g. ``"32GB"``.
    walltime : str
        Time limit per job (``-t``), e.g. ``"HH:MM:SS"``. A job's worker leaves a few minutes
        before the limit (Dask's ``--lifetime``) and a new job takes its place; a shard it was
        running is run again elsewhere.
    account : str, optional
        The account to charge (``-A``).
    options : sequence of str
        More ``#SBATCH`` options, e.g. ``["--constraint=a100", "--qos=long"]``.
    interface : str, optional
        The network interface the scheduler listens on, e.g. ``"ib0"`` (default: Dask's
        choice of this machine's address).
    log_directory : str, optional
        Where the jobs' stdout and stderr go (default: the folder ``sbatch`` runs in).

    Returns
    -------
    dask_jobqueue.SLURMCluster
        The cluster, with ``jobs`` jobs requested; pass it as ``cluster=`` to
        :func:`embedexplore.extract` and ``close()`` it when done (that cancels the jobs).

    Raises
    ------
    ImportError
        dask-jobqueue is not installed.
    ValueError
        ``jobs`` below 1, ``gpus`` below 0, ``cores`` below 1, or a ``walltime`` SLURM does not
        read.
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise ImportError(
            "slurm_cluster() needs dask-jobqueue: pip install 'embedexplore[distributed]'"
        ) from None
    if jobs < 1 or gpus < 0 or cores < 1:
        raise ValueError(f"need jobs >= 1, gpus >= 0, cores >= 1; got {jobs}, {gpus}, {cores}")
    directives = [f"--gres=gpu:{gpus}"] if gpus else []
    directives += list(options)
    if gpus:
        # one worker process of one thread: it runs one shard at a time on its GPU(s), while
        # the job's other cores decode (run_shard's decoders)
        shape = {"cores": 1, "processes": 1, "job_cpu": cores}
    else:
        shape = {"cores": cores, "processes": cores}  # single-threaded workers, one per core
    # a job at its time limit is killed; its worker leaves first (Dask's --lifetime, a few
    # minutes before the limit, staggered), and the cluster submits a job in its place
    # (adapt with a fixed size: scale() alone would not replace it)
    limit = walltime_seconds(walltime)
    margin = min(300, limit // 5)
    lifetime = ["--lifetime", f"{limit - margin}s", "--lifetime-stagger", f"{margin // 2}s"]
    cluster = SLURMCluster(
        queue=partition, account=account, memory=memory, walltime=walltime,
        job_extra_directives=directives, interface=interface, log_directory=log_directory,
        # worker processes may start processes (the decoders) instead of decoding in threads
        job_script_prologue=["export DASK_DISTRIBUTED__WORKER__DAEMON=False"],
        worker_extra_args=lifetime, **shape,
    )  # fmt: skip
    cluster.adapt(minimum_jobs=jobs, maximum_jobs=jobs)
    return cluster


def walltime_seconds(walltime: str) -> int:
    """SLURM's time formats in seconds: ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``,
    ``D-HH:MM:SS``."""
    text = str(walltime).strip()
    try:
        days, _, rest = text.rpartition("-")
        parts = [int(x) for x in rest.split(":")]
        if days:
            parts += [0] * (3 - len(parts))  # D-HH, D-HH:MM
            h, m, sec = parts
            total = ((int(days) * 24 + h) * 60 + m) * 60 + sec
        else:
            if len(parts) > 3:
                raise ValueError
            sec = [60, 1] if len(parts) == 2 else [3600, 60, 1] if len(parts) == 3 else [60]
            total = sum(x * k for x, k in zip(parts, sec, strict=True))
    except ValueError:
        raise ValueError(
            f"walltime {walltime!r} is not a SLURM time (e.g. '04:00:00' or '1-00:00:00')"
        ) from None
    if total <= 0:
        raise ValueError(f"walltime must be positive, got {walltime!r}")
    return total


def worker_device_type() -> str:
    """What ``device="auto"`` resolves to on a worker (``"cuda"`` or ``"cpu"``)."""
    from .models.waveform import resolve_device

    return resolve_device("auto").type


def _taggers(spec: ShardSpec) -> dict:
    """This worker's models for ``spec`` (built once, shared by its threads). The models'
    declarations come with the task (``spec.specs``), so that a model registered in the
    driver's session (a notebook, a script) runs on workers that never saw it."""
    from .models.runner import build

    models, device, precision = spec.models, spec.device, spec.precision
    key = (tuple(models), device, precision, json.dumps(spec.versions, sort_keys=True))
    with _LOCK:  # a worker's threads share one model set
        if key not in _MODELS:
            _MODELS.clear()  # one model set per worker process
            _MODELS[key] = {m: build(spec.specs[m], device, precision) for m in models}
        return _MODELS[key]


def _usable_cpus() -> int:
    """The CPUs this process may run on: its affinity where the OS tells it (Linux), else all
    the machine's (macOS and Windows have no os.sched_getaffinity)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _decoder(decoders: int | None, device_type: str, rates: tuple[int, ...]):
    """This worker thread's decoder, kept between tasks (so are its decoding processes).

    ``decoders`` None: on a GPU, the CPUs this worker may use (SLURM's allocation, or the
    process's affinity) shared among its threads, but one; on the CPU, one (the models use the
    cores). A Dask worker process is a daemon, which may not start processes, unless the
    cluster sets ``distributed.worker.daemon: False`` (:func:`slurm_cluster` does): it then
    decodes in processes, otherwise in threads.
    """
    import multiprocessing

    from ._prefetch import Decoder

    if decoders is None:
        decoders = 1
        if device_type == "cuda":
            cpus = int(os.environ.get("SLURM_CPUS_PER_TASK") or _usable_cpus())
            try:
                from distributed import get_worker

                threads = get_worker().state.nthreads
            except (ImportError, ValueError, AttributeError):
                threads = 1
            decoders = max(1, cpus // max(threads, 1) - 1)
    threads = multiprocessing.current_process().daemon
    current = getattr(_LOCAL, "decoder", None)
    fn = decoder_for(rates)
    if (
        current is None
        or current.workers != decoders
        or current.threads != threads
        or current.fn != fn
    ):
        if current is not None:
            current.__exit__(None, None, None)
        current = _LOCAL.decoder = Decoder(decoders, fn=fn)
        current.threads = threads
    return current


def run_shard(spec: ShardSpec, tracks: list[dict], need: dict) -> dict:
    """A task: decode and run one shard, write and publish its parts (never commit them).

    Returns what the driver commits: ``parts`` (``(model, part_id, [(track_id, n)])``),
    ``errors`` (track id -> error record), ``seconds`` of audio, ``failed`` tracks, the worker's
    address and the task's wall time.
    """
    from ._shards import _Run
    from .store import Store

    t0 = time.perf_counter()
    models = [m for m in spec.models if need.get(m)]
    taggers = _taggers(spec)
    device = next(iter(taggers.values())).device
    needed = {m: set(need[m]) for m in models}
    have = {m: {t["id"]: None for t in tracks if t["id"] not in needed[m]} for m in models}
    run = _Run(
        Store(spec.store), {"errors": {}, "models": {}}, {m: taggers[m] for m in models},
        {m: spec.layers[m] for m in models}, spec.versions, spec.dtype, spec.batch_size, have,
        device, publish_only=True,
    )  # fmt: skip
    decoder = _decoder(spec.decoders, device.type, spec.rates)
    # the decoder holds at most two hours of decoded audio ahead of the models (Decoder), and
    # only this shard's: a worker thread holds less than one shard's decoded audio at a time
    decoded = decoder.map([t["path"] for t in tracks], [t["duration"] for t in tracks])
    try:
        seconds, failed = run.shard(tracks, decoded, None)
    finally:
        decoded.close()  # a shard that raised: what was decoded ahead is dropped
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):
        where = f"pid {os.getpid()}"
    return {
        "parts": run.published, "errors": run.manifest["errors"], "seconds": seconds,
        "failed": failed, "worker": where, "elapsed": time.perf_counter() - t0,
        "tracks": len(tracks),
        "decoders": f"{decoder.workers} {'thread' if decoder.threads else 'process'}"
        + ("s" if decoder.workers != 1 else ""),
    }  # fmt: skip


def run_shards(
    client, shards: list[list[dict]], spec: ShardSpec, have: dict, commit, bar,
    max_in_flight: int | None = None, timeout: float | None = None,
) -> tuple[float, int, dict]:  # fmt: skip
    """Run ``shards`` on the cluster, at most ``max_in_flight`` at a time (default: two per
    worker thread), calling ``commit(result)`` on the driver as each finishes.

    ``timeout``: seconds to wait for the next shard to finish before giving up with a
    ``TimeoutError`` (None: no limit). Returns the seconds of audio extracted, the tracks
    that failed, and per worker its ``tracks``, ``audio_seconds``, ``busy_seconds`` and
    ``realtime``.
    """
    from distributed import wait

    if max_in_flight is None:
        threads = sum(client.nthreads().values()) or 1
        max_in_flight = 2 * threads
    pending = deque(shards)
    in_flight: set = set()
    seconds, failed = 0.0, 0
    workers: dict[str, dict] = {}

    def submit_next() -> None:
        tracks = pending.popleft()
        need = {m: [t["id"] for t in tracks if t["id"] not in have[m]] for m in spec.models}
        key = f"embedexplore-shard-{spec.shard_id(tracks, need)}"
        in_flight.add(client.submit(run_shard, spec, tracks, need, key=key, retries=2))

    while pending and len(in_flight) < max_in_flight:
        submit_next()
    while in_flight:
        done, in_flight = wait(in_flight, timeout=timeout, return_when="FIRST_COMPLETED")
        in_flight = set(in_flight)
        for future in done:
            result = future.result()  # raises what the task raised after its retries
            commit(result)
            seconds += result["seconds"]
            failed += result["failed"]
            w = workers.setdefault(
                result["worker"], {"tracks": 0, "audio_seconds": 0.0, "busy_seconds": 0.0}
            )
            w["tracks"] += result["tracks"]
            w["audio_seconds"] += result["seconds"]
            w["busy_seconds"] += result["elapsed"]
            w["realtime"] = w["audio_seconds"] / max(w["busy_seconds"], 1e-9)
            w["decoders"] = result["decoders"]
            if bar is not None:
                bar.update(result["tracks"])
                bar.audio_seconds += result["seconds"]
                elapsed = time.perf_counter() - bar.started
                speeds = sorted(w["realtime"] for w in workers.values())
                bar.set_postfix_str(
                    f"{bar.audio_seconds / 3600:.2f} h audio, "
                    f"{bar.audio_seconds / max(elapsed, 1e-9):.0f}x realtime, "
                    + (
                        f"{len(workers)} workers at {speeds[0]:.0f}-{speeds[-1]:.0f}x each"
                        if len(workers) > 1
                        else f"1 worker at {speeds[0]:.0f}x"
                    )
                    + f", {failed} failed"
                )
            future.release()
            if pending:
                submit_next()
    return seconds, failed, workers
