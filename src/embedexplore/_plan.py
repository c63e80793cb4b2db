"""The plan of an extraction: how work is cut into shards, what a shard's task carries, and what
decoding processes run. Shared by :mod:`embedexplore.extraction` (one machine, and the driver of
a cluster) and :mod:`embedexplore._cluster` (the workers), which import it and not each other.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass, field

from . import _decode
from .clock import SAMPLE_RATE

#: A shard closes once it holds this many tracks or this much audio (seconds, from the scan).
SHARD_TRACKS = 200
SHARD_SECONDS = 3600.0
#: The smallest shard planned by default on a cluster: each task has a fixed cost (scheduling,
#: sending its track list, one commit of the manifest on the driver).
MIN_CLUSTER_SHARD = 4
#: On a cluster, shards of 200 tracks of 4-7 minutes are not cut (benchmarks/cluster_plan.py:
#: at 3600 s, a 500,000-track archive made 28,790 shards of 17 tracks, and the driver's commits,
#: one per shard, each rewriting the growing manifest, took 784 s of its time in all).
CLUSTER_SHARD_SECONDS = 86400.0


@dataclass(frozen=True)
class ShardSpec:
    """What every shard's task on a cluster worker needs besides its tracks.

    ``specs`` are the models' declarations (:class:`embedexplore.registry.ModelSpec`), sent with
    the task so that a model registered in the driver's session runs on workers that never saw
    it; ``rates`` the sample rates the tracks are decoded to; ``decoders`` the worker's decoding
    processes (None: the worker decides).
    """

    store: str
    models: tuple[str, ...]
    device: str
    precision: str
    dtype: str
    layers: dict
    versions: dict
    batch_size: int
    decoders: int | None
    rates: tuple[int, ...] = (SAMPLE_RATE,)
    specs: dict = field(default_factory=dict, compare=False)

    def shard_id(self, tracks: list[dict], need: dict) -> str:
        """The id of one shard's task: its tracks (ids and file fingerprints), what each model
        must compute and how. Submitting the same shard twice runs it once (Dask keys tasks by
        it)."""
        h = hashlib.sha1()
        fixed = {
            "versions": self.versions, "dtype": self.dtype, "layers": self.layers,
            "batch_size": self.batch_size,
        }  # fmt: skip
        h.update(json.dumps(fixed, sort_keys=True).encode())
        h.update(json.dumps([[t["id"], t["size"], t["mtime_ns"]] for t in tracks]).encode())
        h.update(json.dumps({m: sorted(v) for m, v in sorted(need.items())}).encode())
        return h.hexdigest()[:20]


def plan(todo: list[dict], max_tracks: int, max_seconds: float) -> list[list[dict]]:
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


def shard_size(n_tracks: int) -> int:
    """Tracks per shard by default on a cluster, for a collection of ``n_tracks`` live tracks:
    200, or fewer for a small collection, so that it makes at least 64 shards (work for 32
    worker threads, two shards each), but not fewer than 4 tracks.

    It depends on the collection only, not on what is left to do nor on the workers present, so
    that a resumed run cuts what is missing exactly as the first run did (the same batches: the
    same values).
    """
    return min(SHARD_TRACKS, max(MIN_CLUSTER_SHARD, -(-n_tracks // 64)))


def rates_of(specs: dict) -> tuple[int, ...]:
    """The sample rates the tracks are decoded to for ``specs``' models."""
    return tuple(sorted({s.clock.sample_rate for s in specs.values()}))


@functools.cache  # the same function for the same rates: a cluster worker keeps its decoders
def decoder_for(rates: tuple[int, ...]):
    """What decoding processes run for models reading ``rates``: one 16 kHz waveform as
    always, or one per rate."""
    if tuple(rates) == (SAMPLE_RATE,):
        return _decode.decode
    return functools.partial(_decode.decode, rates=tuple(rates))
