"""Extraction on a Dask cluster: the shards of :func:`embedexplore.extract` run as Dask tasks.

The driver (the process that called ``extract``) plans the shards exactly as on one machine,
submits each as a task keyed by the shard's id, and commits what each task published, in the
order tasks finish; only the driver writes the store's manifest. A task runs the single-machine
code for one shard (:class:`embedexplore.extraction._Run`, with decoding threads instead of
processes: a Dask worker's process may not start children) with models kept loaded in the worker
process between tasks, and writes and publishes its parts into the store (atomic renames; see
:mod:`embedexplore.store`). The store therefore ends byte-for-byte as one machine writes it.

Dask distributed (futures API) is the engine, not something written here: scheduling, retries of
failed tasks and re-running the tasks of a worker that died are its job.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque

_MODELS: dict = {}  # in a worker process: the loaded models, kept between tasks


def client_for(cluster):
    """A ``distributed.Client`` for ``cluster`` (a Client, or a scheduler address) and whether
    it was made here (then the caller closes it)."""
    try:
        from distributed import Client
    except ImportError:
        raise ImportError(
            "extract(cluster=...) needs Dask distributed: pip install 'embedexplore[distributed]'"
        ) from None
    if isinstance(cluster, Client):
        return cluster, False
    if isinstance(cluster, str):
        return Client(cluster, timeout="60s"), True
    raise TypeError(
        f"cluster must be a distributed.Client or a scheduler address such as "
        f"'tcp://host:8786', got {type(cluster).__name__}"
    )


def worker_device_type() -> str:
    """What ``device="auto"`` resolves to on a worker (``"cuda"`` or ``"cpu"``)."""
    from .models.waveform import resolve_device

    return resolve_device("auto").type


def shard_id(spec: dict, tracks: list[dict], need: dict) -> str:
    """The id of one shard's task: its tracks (ids and file fingerprints), what each model must
    compute and how. Submitting the same shard twice runs it once (Dask keys tasks by it)."""
    h = hashlib.sha1()
    fixed = {k: spec[k] for k in ("versions", "dtype", "layers", "batch_size")}
    h.update(json.dumps(fixed, sort_keys=True).encode())
    h.update(json.dumps([[t["id"], t["size"], t["mtime_ns"]] for t in tracks]).encode())
    h.update(json.dumps({m: sorted(v) for m, v in sorted(need.items())}).encode())
    return h.hexdigest()[:20]


def _taggers(models, device: str, precision: str) -> dict:
    from .models import BUNDLES

    key = (tuple(models), device, precision)
    if key not in _MODELS:
        _MODELS.clear()  # one model set per worker process
        _MODELS[key] = {m: BUNDLES[m].get_model(device, precision) for m in models}
    return _MODELS[key]


def run_shard(spec: dict, tracks: list[dict], need: dict) -> dict:
    """A task: decode and run one shard, write and publish its parts (never commit them).

    Returns what the driver commits: ``parts`` (``(model, part_id, [(track_id, n)])``),
    ``errors`` (track id -> error record), ``seconds`` of audio, ``failed`` tracks, the worker's
    address and the task's wall time.
    """
    from .extraction import _Decoder, _Run
    from .store import Store

    t0 = time.perf_counter()
    models = [m for m in spec["models"] if need.get(m)]
    taggers = _taggers(spec["models"], spec["device"], spec["precision"])
    device = next(iter(taggers.values())).device
    have = {
        m: {t["id"]: None for t in tracks if t["id"] not in set(need.get(m, ()))} for m in models
    }
    run = _Run(
        Store(spec["store"]), {"errors": {}, "models": {}}, {m: taggers[m] for m in models},
        {m: spec["layers"][m] for m in models}, spec["versions"], spec["dtype"],
        spec["batch_size"], have, device, publish_only=True,
    )  # fmt: skip
    decoder = _Decoder(spec["decoders"])
    decoder.threads = True  # a Dask worker's process is a daemon: no child processes
    with decoder:
        decoded = decoder.map([t["path"] for t in tracks], [t["duration"] for t in tracks])
        seconds, failed = run.shard(tracks, decoded, None)
    try:
        from distributed import get_worker

        where = get_worker().address
    except (ImportError, ValueError):
        where = f"pid {os.getpid()}"
    return {
        "parts": run.published, "errors": run.manifest["errors"], "seconds": seconds,
        "failed": failed, "worker": where, "elapsed": time.perf_counter() - t0,
        "tracks": len(tracks),
    }  # fmt: skip


def run_shards(
    client, shards: list[list[dict]], spec: dict, have: dict, commit, bar,
    max_in_flight: int | None = None, timeout: float | None = None,
) -> tuple[float, int]:  # fmt: skip
    """Run ``shards`` on the cluster, at most ``max_in_flight`` at a time (default: two per
    worker thread), calling ``commit(result)`` on the driver as each finishes.

    ``timeout``: seconds to wait for the next shard to finish before giving up with a
    ``TimeoutError`` (None: no limit). Returns the seconds of audio extracted and the tracks
    that failed.
    """
    from distributed import wait

    if max_in_flight is None:
        threads = sum(client.nthreads().values()) or 1
        max_in_flight = 2 * threads
    pending = deque(shards)
    in_flight: set = set()
    seconds, failed = 0.0, 0
    workers: set = set()

    def submit_next() -> None:
        tracks = pending.popleft()
        need = {m: [t["id"] for t in tracks if t["id"] not in have[m]] for m in spec["models"]}
        key = f"embedexplore-shard-{shard_id(spec, tracks, need)}"
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
            workers.add(result["worker"])
            if bar is not None:
                bar.update(result["tracks"])
                bar.audio_seconds += result["seconds"]
                elapsed = time.perf_counter() - bar.started
                bar.set_postfix_str(
                    f"{bar.audio_seconds / 3600:.2f} h audio, "
                    f"{bar.audio_seconds / max(elapsed, 1e-9):.0f}x realtime, "
                    f"{len(workers)} workers, {failed} failed"
                )
            future.release()
            if pending:
                submit_next()
    return seconds, failed
