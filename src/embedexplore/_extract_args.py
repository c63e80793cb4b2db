"""What :func:`embedexplore.extract` is asked to do, checked and resolved: the device, the
layers kept of each model, the tracks of a collection as the store lists them, and the one
sentence for a collection without a readable track. Shared by extraction and
:mod:`embedexplore.estimate`, which must read the same request the same way.
"""

from __future__ import annotations

import logging

import torch

from . import registry
from ._text import printable
from .collection import Collection
from .models.waveform import resolve_device

# the records of an extraction come from the extraction's logger, wherever they are written
logger = logging.getLogger("embedexplore.extraction")

#: The layers stored unless asked otherwise: what the explorer shows (MusiCNN also has
#: "penultimate" and "pooled"; pass ``layers="all"`` to keep every layer).
DEFAULT_LAYERS = ("taggrams", "embeddings")
#: How the arrays are stored unless asked otherwise (see :func:`embedexplore.extract`).
DEFAULT_DTYPE = "float16"


def no_readable_audio(collection: Collection) -> ValueError | None:
    """The error to raise for a collection without a readable track (None where it has one):
    one sentence naming its folders, the files with errors, and where they are listed."""
    if len(collection.tracks):
        return None
    roots = [printable(str(r)) for r in collection.roots]
    where = ", ".join(roots) if roots else "this collection"
    n = len(collection.errors)
    found = collection.stats.found if collection.stats is not None else 0
    if found > n:  # the scan found tracks, and a filter left none of them
        return ValueError(
            f"No track in this collection: the scan of {where} found {found}, but none is left "
            "(a filter that matches nothing?)."
        )
    return ValueError(
        f"No readable audio in {where}: 0 tracks, {n} file{'' if n == 1 else 's'} with errors "
        "(see collection.errors)."
    )


def _check_device(device):
    """``device`` if torch knows it, else a ``ValueError`` listing what it takes."""
    if isinstance(device, torch.device) or str(device) == "auto":
        return device
    try:
        torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(
            f"unknown device {str(device)[:40]!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ) from None
    return device


def _pick_device(device, *, say_cpu: bool = True) -> torch.device:
    """The device ``device`` names; ``"auto"``: CUDA when visible, else the CPU (said in a
    log record, unless not ``say_cpu``). CUDA asked for where torch sees none: a
    ``ValueError`` (an explicit device is never swapped for another; ``"auto"`` is for that)."""
    if str(device) == "auto":
        picked = resolve_device("auto")
        if picked.type == "cpu" and say_cpu:
            logger.warning(
                "no GPU is visible to torch: extracting on the CPU (about 10-15x realtime on 2 "
                "cores for all four models); with an NVIDIA GPU, install a CUDA build of torch"
            )
        return picked
    picked = torch.device(device)
    if picked.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} was asked for, but torch sees no CUDA GPU "
            f"(torch {torch.__version__}, built {'with' if torch.version.cuda else 'without'} "
            "CUDA): check nvidia-smi and that a CUDA build of torch is installed, or pass "
            "device='auto' (the GPU when there is one, else the CPU) or device='cpu'"
        )
    return picked


def _layers(spec: registry.ModelSpec, layers) -> dict[str, int]:
    """The layers of ``spec`` to keep: ``layers`` ("all", or names), those it has."""
    have = dict(spec.layers)
    if layers == "all":
        return have
    default = not isinstance(layers, str) and tuple(layers) == DEFAULT_LAYERS
    layers = (layers,) if isinstance(layers, str) else tuple(layers)
    wanted = {k: v for k, v in have.items() if k in layers}
    if default and not wanted:  # a model with neither taggrams nor embeddings: all it has
        return have
    known = {k for n in registry.names() for k in registry.get(n).layers}
    unknown = [k for k in layers if k not in known]
    if unknown or not wanted:
        raise ValueError(
            f"unknown layer(s) {unknown or layers!r}; {spec.name} has {', '.join(have)}"
        )
    return wanted


def _entry_meta(spec: registry.ModelSpec) -> dict:
    """What a store records of a model beside its version: its clock, and the labels of a
    model not built in (so that a store opens with them where the model is not registered)."""
    meta = {"clock": spec.clock.to_json()}
    if spec.labels is not None and not spec.builtin:
        meta["labels"] = list(spec.labels)
    return meta


def _live_tracks(collection: Collection) -> list[dict]:
    """The collection's tracks as extraction and the store list them: ``id``, ``path``,
    ``size``, ``mtime_ns``, ``duration``."""
    t = collection.tracks
    mtime = t["mtime"]
    mtime_ns = mtime.astype("int64") if mtime.dtype.kind == "i" else mtime.map(lambda v: v.value)
    return [
        {"id": tid, "path": p, "size": int(s), "mtime_ns": int(m), "duration": float(d)}
        for tid, p, s, m, d in zip(
            t.index, t["path"], t["size"], mtime_ns, t["duration"], strict=True
        )
    ]
