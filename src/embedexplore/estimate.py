"""How long an extraction will take, said before it starts.

>>> est = embedexplore.estimate_extraction(coll, store="~/music-embeddings",
...                                        models=["musicnn-msd", "vgg-msd"])   # doctest: +SKIP
>>> print(est)                                                                  # doctest: +SKIP
The store lacks musicnn-msd and vgg-msd for 1,000 tracks (62.5 h of audio): about 3 h 50 min on
this CPU.

What the store lacks is found the way :func:`embedexplore.extract` finds what to skip (the same
code: :mod:`embedexplore._store_lacks`), reading the store without writing to it. How fast each
model runs is measured on the device: a few seconds of noise through the model (the faster of two
runs, after a shorter one to warm it up), once per model and device in a process. Decoding is not
measured (it needs real files): it is counted at :data:`DECODE_REALTIME`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import registry
from ._extract_args import (
    DEFAULT_DTYPE,
    DEFAULT_LAYERS,
    _check_device,
    _layers,
    _live_tracks,
    _pick_device,
    no_readable_audio,
)
from ._store_lacks import holds_tracks, lacking
from .clock import SAMPLE_RATE
from .collection import Collection
from .models.runner import build
from .models.tagger import AUTO_PRECISION

__all__ = ["DECODE_REALTIME", "ExtractionEstimate", "estimate_extraction"]

logger = logging.getLogger(__name__)

#: Seconds of audio one decoding process turns into 16 kHz mono per second. Measured with
#: :func:`embedexplore.audio.load` on one core of a 2-core machine that was running other jobs:
#: Debian's game music (Vorbis 165-221x, MP3 290-359x; 231x overall) and the demo collection
#: (AAC, MP3, FLAC, WAV 410-510x, Opus 175x; 353x overall). 200 is a little under the real music,
#: which most collections are like (MP3, Vorbis, AAC at 44.1 kHz stereo).
DECODE_REALTIME = 200.0
#: Seconds of noise each model is timed on: about 4 of the taggers' 2.992 s patches on the CPU
#: (a second or less per model); on a GPU, 200 patches, so that it measures throughput rather
#: than the latency of small batches.
NOISE_SECONDS = {"cpu": 12.0, "cuda": 600.0}
#: (model, device, store version) -> seconds of computing per second of audio; ("log-mel",
#: device) for the taggers' shared frontend. Measured once per process.
_SPEEDS: dict[tuple, float] = {}


@dataclass(frozen=True, eq=False)
class ExtractionEstimate:
    """What an extraction into a store would compute, and how long it would take.

    Each parameter is kept as the (read-only) attribute of the same name; ``str()`` says it in
    one sentence.

    Parameters
    ----------
    seconds : float
        Expected wall time of the extraction: the models' computing (``missing.seconds``), the
        taggers' shared log-mel frontend and decoding, for what the store lacks; 0 when it
        lacks nothing.
    missing : pandas.DataFrame
        Indexed by model (in the order asked): ``tracks`` (``int64``) and ``hours`` of audio
        the store lacks of it, ``seconds`` its network needs for them, and ``realtime``, its
        measured speed (seconds of audio per second; NaN for a model that lacks nothing, which
        is not timed).
    device : str
        Where it was timed and would run, e.g. ``"cpu"``, ``"cuda:0"``.
    tracks : int
        Tracks to decode: those that some model lacks.
    hours : float
        Their audio, in hours.
    decoding_seconds : float
        The part of ``seconds`` spent decoding them and computing the taggers' log-mel
        spectrograms (once per track, whichever models need it).
    where : str
        The device in words, e.g. ``"this CPU"``.
    """

    seconds: float
    missing: pd.DataFrame
    device: str
    tracks: int
    hours: float
    decoding_seconds: float
    where: str

    def __str__(self) -> str:
        lacks = self.missing[self.missing["tracks"] > 0]
        if not len(lacks):
            return "The store holds every model asked for: nothing to extract."
        groups: dict[int, list[str]] = {}
        for model, n in lacks["tracks"].items():
            groups.setdefault(int(n), []).append(str(model))
        if len(lacks) > 4:
            what = f"{len(lacks)} models for {_tracks(self.tracks)}"
            audio = _audio(self.hours)
        elif len(groups) == 1:
            what = f"{_and(next(iter(groups.values())))} for {_tracks(self.tracks)}"
            audio = _audio(self.hours)
        else:
            parts = [f"{_and(ms)} for {n:,}" for n, ms in groups.items()]
            what = _and(parts) + " tracks"
            audio = _audio(self.hours) + " in all"
        return f"The store lacks {what} ({audio}): {_human(self.seconds)} on {self.where}."


def estimate_extraction(
    collection: Collection | str | os.PathLike,
    *,
    store: str | os.PathLike,
    models,
    device: str | torch.device = "auto",
) -> ExtractionEstimate:
    """How long :func:`embedexplore.extract` would take to give ``store`` what it lacks.

    The same question extraction asks first (which tracks each model lacks: new or changed
    files, models not yet stored or stored with other weights, precision or dtype; files that
    failed before and are unchanged are not tried again), asked without writing to the store,
    for an extraction with the default options. The models that lack something are timed on a
    few seconds of noise on ``device`` (after a warm-up run; once per model and device in a
    process: a second or two per model on a CPU).

    Parameters
    ----------
    collection : Collection or str or os.PathLike
        What :func:`embedexplore.scan` returned, or a folder (scanned first).
    store : str or os.PathLike
        The store's folder (it need not exist yet).
    models : str or sequence of str
        Registered models, as for :func:`embedexplore.extract`.
    device : str or torch.device, default: "auto"
        Where the extraction would run: ``"auto"`` (CUDA when visible, else the CPU),
        ``"cpu"``, ``"cuda"``... (``"cuda"`` where torch sees no GPU is an error, as for
        :func:`embedexplore.extract`).

    Returns
    -------
    ExtractionEstimate
        ``seconds``, ``missing`` (per model: tracks, hours, seconds) and ``device``; its
        ``str()`` is one sentence, e.g. "The store lacks vgg-msd and vgg-mtt for 1,000 tracks
        (62.5 h of audio): about 3 h 50 min on this CPU."

    Raises
    ------
    ValueError
        The collection has no readable track (and the store lists none), a model is unknown,
        named twice or cannot be built (VGGish without its weights), or ``device`` is unknown
        or a CUDA device where torch sees none.
    embedexplore.store.StoreError
        ``store`` is a folder of other files, or a store of another version.
    """
    t0 = time.perf_counter()
    if not isinstance(collection, Collection):
        from .collection import scan

        collection = scan(collection, progress=False)
    empty = no_readable_audio(collection)
    if empty is not None and not holds_tracks(store):
        raise empty
    models = (models,) if isinstance(models, str) else tuple(models)
    if not models:
        raise ValueError(f"no model named; choose from {', '.join(registry.names())}")
    specs = {m: registry.get(m) for m in models}  # an unknown name: a ValueError
    if len(specs) != len(models):
        raise ValueError(f"a model is named twice in {models}")
    dev = _pick_device(_check_device(device), say_cpu=False)
    precision = AUTO_PRECISION.get(dev.type, "float32")
    asked = {
        m: (
            s.store_version(precision if s.kind == "tagger" else "float32"),
            DEFAULT_DTYPE,
            _layers(s, DEFAULT_LAYERS),
            dict(s.layers),
        )
        for m, s in specs.items()
    }
    todo = lacking(store, _live_tracks(collection), asked)

    columns: dict[str, list] = {"tracks": [], "hours": [], "seconds": [], "realtime": []}
    union, mel = {}, {}  # track id -> duration: of the tracks to decode, to run the taggers on
    built: dict = {}  # the models built to be timed
    for m, spec in specs.items():
        tracks = todo[m]
        audio = sum(t["duration"] for t in tracks)
        speed = _speed(spec, dev, precision, built) if tracks else float("nan")  # s per s
        columns["tracks"].append(len(tracks))
        columns["hours"].append(audio / 3600)
        columns["seconds"].append(audio * speed if tracks else 0.0)
        columns["realtime"].append(1 / speed if tracks else float("nan"))
        union.update((t["id"], t["duration"]) for t in tracks)
        if spec.kind == "tagger":
            mel.update((t["id"], t["duration"]) for t in tracks)
    missing = pd.DataFrame(
        {k: np.array(v, np.int64 if k == "tracks" else np.float64) for k, v in columns.items()},
        index=pd.Index(list(specs), name="model"),
    )
    audio_seconds = float(sum(union.values()))
    frontend = sum(mel.values()) * _frontend_speed(specs, dev, precision, built) if mel else 0.0
    decoding = _decoding_seconds(audio_seconds, dev)
    computing = float(missing["seconds"].sum()) + frontend
    if dev.type == "cuda":  # decoding processes keep the GPU fed: the slower of the two
        total = max(computing, decoding)
    else:  # the decoding process and the models share the CPU's cores: one after the other
        total = computing + decoding
    logger.info("estimated in %.1f s: %s", time.perf_counter() - t0, missing.to_dict("index"))
    return ExtractionEstimate(
        seconds=float(total), missing=missing, device=str(dev), tracks=len(union),
        hours=audio_seconds / 3600, decoding_seconds=float(frontend + decoding),
        where=_where(dev),
    )  # fmt: skip


# -- timing ------------------------------------------------------------------------------------


def _noise(seconds: float, rate: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal(round(seconds * rate))).astype(np.float32)


def _noise_seconds(dev: torch.device) -> float:
    return NOISE_SECONDS["cuda" if dev.type == "cuda" else "cpu"]


def _timed(run, warm_up) -> float:
    """Seconds ``run()`` takes, after ``warm_up()`` (a smaller run of the same code: kernels
    chosen, weights in the caches, memory allocated): the faster of two runs, as other work on
    the machine only ever slows one down."""
    warm_up()
    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return min(times)


def _speed(spec: registry.ModelSpec, dev: torch.device, precision: str, built: dict) -> float:
    """Seconds ``spec``'s network takes per second of audio on ``dev`` (cached); the model
    built is kept in ``built`` (name -> runner)."""
    version = spec.store_version(precision if spec.kind == "tagger" else "float32")
    key = (spec.name, str(dev), version)
    if key not in _SPEEDS:
        runner = built[spec.name] = build(spec, dev, precision)
        seconds = max(_noise_seconds(dev), 2 * spec.clock.segment / spec.clock.sample_rate)
        wave = _noise(seconds, spec.clock.sample_rate)
        batch = (
            runner.patches(wave, spec.clock.sample_rate)
            if spec.kind == "tagger"
            else runner.segments(wave)
        )

        def run(rows=batch):  # as extraction runs it: the outputs copied back to the CPU
            out = runner.forward(rows)
            return {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in out.items()}

        _SPEEDS[key] = _timed(run, lambda: run(batch[:1])) / seconds
        logger.info("%s on %s: %.0fx realtime", spec.name, dev, 1 / _SPEEDS[key])
    return _SPEEDS[key]


def _frontend_speed(specs: dict, dev: torch.device, precision: str, built: dict) -> float:
    """Seconds the taggers' log-mel frontend takes per second of audio on ``dev`` (cached)."""
    key = ("log-mel", str(dev))
    if key not in _SPEEDS:
        name = next(m for m, s in specs.items() if s.kind == "tagger")
        runner = built.get(name) or build(specs[name], dev, precision)
        seconds = _noise_seconds(dev)
        wave = _noise(seconds, SAMPLE_RATE)

        def run(x=wave):
            out = runner.patches(x, SAMPLE_RATE)
            return out.cpu() if dev.type == "cuda" else out  # waits for the device

        _SPEEDS[key] = _timed(run, lambda: run(wave[: SAMPLE_RATE * 3])) / seconds
    return _SPEEDS[key]


def _decoding_seconds(audio_seconds: float, dev: torch.device) -> float:
    """Decoding ``audio_seconds`` with the processes extraction starts by default: one on the
    CPU (the models use the cores), one per core but one beside a GPU."""
    decoders = max(1, (os.cpu_count() or 2) - 1) if dev.type == "cuda" else 1
    return audio_seconds / DECODE_REALTIME / decoders


# -- words -------------------------------------------------------------------------------------


def _where(dev: torch.device) -> str:
    if dev.type == "cuda":
        try:
            return f"this GPU ({torch.cuda.get_device_name(dev)})"
        except (RuntimeError, AssertionError):
            return "this GPU"
    return "this CPU" if dev.type == "cpu" else f"{dev}"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _tracks(n: int) -> str:
    return f"{n:,} track{'' if n == 1 else 's'}"


def _audio(hours: float) -> str:
    if hours >= 1:
        return f"{hours:,.1f} h of audio"
    return f"{max(1, round(hours * 60))} min of audio"


def _human(seconds: float) -> str:
    """``seconds`` as a person says an estimate: "about 40 s", "about 4 min", "about 3 h 50
    min", "about 27 h"."""
    if seconds < 59.5:
        return f"about {max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    if seconds < 10 * 3600:
        h, m = divmod(round(seconds / 300) * 5, 60)
        return f"about {h} h {m} min" if m else f"about {h} h"
    return f"about {round(seconds / 3600):,} h"
