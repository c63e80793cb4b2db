"""The models embedexplore knows: one registry, the single source of truth.

Every model is declared here once: its name, architecture, training data, tag labels, layers and
their sizes, clock (sample rate, segment and hop), version, licence and source, and how to build
it. Extraction, reading, the command line, the Explorer, projections and weight conversion all
read it. Nothing here imports torch: listing the models, their labels or their layer sizes is
instant.

>>> import embedexplore
>>> embedexplore.registry.names()                                 # doctest: +SKIP
('musicnn-msd', 'musicnn-mtt', 'vgg-msd', 'vgg-mtt', 'mfcc-stats', 'chroma-stats', 'vggish')
>>> def brightness(x):                       # [batch, samples] numpy -> {layer: [batch, dim]}
...     return {"embeddings": x.std(axis=1, keepdims=True)}
>>> embedexplore.register_model(
...     "loudness", brightness, sample_rate=22050, segment_seconds=1.0,
...     layers={"embeddings": 1}, version="1")                     # doctest: +SKIP

Models of other packages appear by themselves: a package declares an entry point in the group
``embedexplore.models`` naming a function that calls :func:`register_model` (or returns
:class:`ModelSpec` objects), e.g. in its ``pyproject.toml``::

    [project.entry-points."embedexplore.models"]
    my-model = "my_package.embedexplore_plugin:register"

Entry points are loaded the first time the list of models is read (or a name is not found).
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ._model_spec import KINDS, WEIGHTS, ModelSpec
from ._store_files import SAFE_NAME
from .clock import ORIGINAL, VGGISH, Clock

__all__ = [
    "ENTRY_POINT_GROUP",
    "KINDS",
    "WEIGHTS",
    "ModelSpec",
    "available",
    "default_models",
    "get",
    "names",
    "register",
    "register_model",
    "unregister",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "embedexplore.models"
_MUSICNN_LICENCE = "ISC (musicnn 0.1.0, Copyright (c) Music Technology Group, UPF 2019)"
_MUSICNN_SOURCE = "musicnn==0.1.0 (PyPI), converted by scripts/convert_weights.py"
#: Bounds of a sensible clock: no audio file holds more.
MAX_SAMPLE_RATE = 1_000_000
MAX_SEGMENT_SECONDS = 86_400


_LOCK = threading.RLock()
_MODELS: dict[str, ModelSpec] = {}
_PLUGINS_LOADED = False


def _builtins() -> None:
    """Declare the shipped models (once, on first use)."""
    if _MODELS:
        return
    from .models.labels import MSD_LABELS, MTT_LABELS

    musicnn_layers = {"pooled": 1506, "embeddings": 200, "penultimate": 200, "taggrams": 50}
    vgg_layers = {"embeddings": 256, "taggrams": 50}
    taggers = (
        ("musicnn-msd", "musicnn", "MSD", MSD_LABELS, musicnn_layers, "MSD_musicnn"),
        ("musicnn-mtt", "musicnn", "MTT", MTT_LABELS, musicnn_layers, "MTT_musicnn"),
        ("vgg-msd", "vgg", "MSD", MSD_LABELS, vgg_layers, "MSD_vgg"),
        ("vgg-mtt", "vgg", "MTT", MTT_LABELS, vgg_layers, "MTT_vgg"),
    )
    for name, arch, dataset, labels, layers, checkpoint in taggers:
        _MODELS[name] = ModelSpec(
            name=name, layers=layers, clock=ORIGINAL, version=f"musicnn 0.1.0 {checkpoint}",
            architecture=arch, dataset=dataset, labels=labels, licence=_MUSICNN_LICENCE,
            source=f"{_MUSICNN_SOURCE} (checkpoint {checkpoint})", kind="tagger",
            factory=f"embedexplore.models.{arch}_net:{arch}", weights=f"{name}.safetensors",
            builtin=True, default=True, checkpoint=checkpoint,
        )  # fmt: skip
    for name, what, dim in (("mfcc-stats", "MFCCStats", 40), ("chroma-stats", "ChromaStats", 24)):
        _MODELS[name] = ModelSpec(
            name=name, layers={"embeddings": dim}, clock=ORIGINAL, version="1",
            architecture="handcrafted", dataset="-", licence="no weights",
            source="embedexplore.models.handcrafted (librosa's definitions, on the device)",
            factory=f"embedexplore.models.handcrafted:{what}",
            params={"sample_rate": ORIGINAL.sample_rate}, builtin=True,
        )  # fmt: skip
    _MODELS["vggish"] = ModelSpec(
        name="vggish", layers={"embeddings": 128}, clock=VGGISH, version="weights not loaded",
        architecture="vggish", dataset="AudioSet",
        licence="Apache 2.0 (weights not shipped: embedexplore.models.use_vggish(path))",
        source="tensorflow/models research/audioset/vggish, or torchvggish's port",
        factory="embedexplore.models.vggish_net:vggish_segments", builtin=True,
        needs=(
            "VGGish's weights are not shipped with embedexplore: download Google's "
            "vggish_model.ckpt (or torchvggish's vggish-10086976.pth) and call "
            "embedexplore.models.use_vggish(path) first"
        ),
    )  # fmt: skip


def _load_plugins() -> None:
    """Register the models of installed packages (entry points of :data:`ENTRY_POINT_GROUP`)."""
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
            out = obj if isinstance(obj, ModelSpec) else obj() if callable(obj) else obj
            specs = (out,) if isinstance(out, ModelSpec) else tuple(out or ())
            for spec in specs:
                if not isinstance(spec, ModelSpec):
                    raise TypeError(f"it gave {type(spec).__name__}, not a ModelSpec")
                if spec.name not in _MODELS or _MODELS[spec.name] is not spec:
                    register(spec)
        except Exception as e:  # noqa: BLE001 (one broken plugin must not hide the others)
            warnings.warn(
                f"the model plugin {ep.name!r} ({ep.value}) could not be loaded: "
                f"{type(e).__name__}: {e}",
                RuntimeWarning,
                stacklevel=3,
            )


def names() -> tuple[str, ...]:
    """The names of every registered model, built-in first, in registration order.

    Returns
    -------
    tuple of str
        E.g. ``("musicnn-msd", ..., "vggish", "my-model")``.
    """
    with _LOCK:
        _builtins()
        _load_plugins()
        return tuple(_MODELS)


def default_models() -> tuple[str, ...]:
    """The models :func:`embedexplore.extract` runs when none are named: the four taggers.

    Returns
    -------
    tuple of str
        ``("musicnn-msd", "musicnn-mtt", "vgg-msd", "vgg-mtt")``.
    """
    with _LOCK:
        _builtins()
        return tuple(n for n, s in _MODELS.items() if s.default)


def get(name: str) -> ModelSpec:
    """The registered model ``name``.

    Parameters
    ----------
    name : str
        A model's name.

    Returns
    -------
    ModelSpec
        Its declaration.

    Raises
    ------
    ValueError
        No model of that name (the message lists those there are).
    """
    with _LOCK:
        _builtins()
        if name not in _MODELS:
            _load_plugins()
        try:
            return _MODELS[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown model {str(name)[:60]!r}; registered: {', '.join(_MODELS)} (register "
                "your own with embedexplore.register_model)"
            ) from None


def find(name: str) -> ModelSpec | None:
    """The registered model ``name``, or None (no error)."""
    try:
        return get(name)
    except ValueError:
        return None


def labels(name: str) -> tuple[str, ...] | None:
    """The tag names of model ``name``'s ``taggrams`` layer (None if it has no tags).

    Parameters
    ----------
    name : str
        A registered model.

    Returns
    -------
    tuple of str or None
        In column order.
    """
    return get(name).labels


def check(spec: ModelSpec) -> None:
    """A ``ValueError`` (``TypeError``) saying what is wrong with a model's declaration.

    What :func:`register` checks of every model, those of :func:`register_model` and of
    plugins alike, so that nothing the store cannot record enters the registry.

    Parameters
    ----------
    spec : ModelSpec
        The declaration.

    Raises
    ------
    ValueError
        A name that is not plain, a clock that is not a :class:`~embedexplore.clock.Clock` of
        sensible size, layers that are not names with positive dimensions, labels that do not
        match a ``taggrams`` layer, an empty version or an unknown kind.
    TypeError
        Neither a callable model nor a factory.
    """
    name = spec.name
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or len(name) > 64:
        raise ValueError(
            f"a model's name may hold letters, digits, '.', '_', '-' (up to 64): {str(name)[:70]!r}"
        )
    what = f"model {name!r}"
    if spec.model is None and not isinstance(spec.factory, str):
        raise TypeError(f"{what}: no model (a callable) and no factory ('module:attribute')")
    if spec.model is not None and not callable(spec.model):
        raise TypeError(
            f"{what}: model must be a torch.nn.Module or a callable, not "
            f"{type(spec.model).__name__}"
        )
    c = spec.clock
    if not isinstance(c, Clock):
        raise ValueError(f"{what}: its clock must be an embedexplore.clock.Clock, not {c!r}")
    if c.sample_rate > MAX_SAMPLE_RATE or c.segment > c.sample_rate * MAX_SEGMENT_SECONDS:
        raise ValueError(
            f"{what}: {c.describe()} is beyond what a track holds (sample rates up to "
            f"{MAX_SAMPLE_RATE} Hz, segments up to {MAX_SEGMENT_SECONDS} s)"
        )
    if not spec.layers:
        raise ValueError(f"{what}: layers must map each layer's name to its dimension")
    for k, v in spec.layers.items():
        if not isinstance(k, str) or not SAFE_NAME.fullmatch(k):
            raise ValueError(f"{what}: layer name {str(k)[:40]!r} is not a plain name")
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise ValueError(f"{what}: layer {k!r} must have a positive whole dimension, got {v!r}")
    if spec.labels is not None:
        if not all(isinstance(x, str) for x in spec.labels):
            raise ValueError(f"{what}: labels must be strings")
        if spec.layers.get("taggrams") != len(spec.labels):
            raise ValueError(
                f"{what}: {len(spec.labels)} labels name the columns of a 'taggrams' layer, but "
                f"its layers are {dict(spec.layers)}"
            )
    if not isinstance(spec.version, str) or not spec.version.strip():
        raise ValueError(f"{what}: version must be a non-empty string (e.g. '1')")
    if spec.kind not in KINDS:
        raise ValueError(f"{what}: kind must be one of {KINDS}, got {spec.kind!r}")


def register(spec: ModelSpec, *, replace: bool = False) -> ModelSpec:
    """Add a declared model to the registry (what :func:`register_model` does once checked).

    Parameters
    ----------
    spec : ModelSpec
        The model.
    replace : bool, default: False
        Replace a model of the same name registered before (never a built-in one).

    Returns
    -------
    ModelSpec
        ``spec``.

    Raises
    ------
    ValueError
        The name is taken (and ``replace`` is False, or it is a built-in model's), or the
        declaration is not sound (:func:`check`).
    TypeError
        Neither a callable model nor a factory.
    """
    check(spec)
    with _LOCK:
        _builtins()
        old = _MODELS.get(spec.name)
        if old is not None and (old.builtin or not replace):
            raise ValueError(
                f"a model named {spec.name!r} is already registered ("
                + ("built into embedexplore" if old.builtin else old.source or "by you")
                + "); choose another name"
                + ("" if old.builtin else ", or pass replace=True to replace it")
            )
        _MODELS[spec.name] = spec
        return spec


def _replace_builtin(spec: ModelSpec) -> None:
    """Put ``spec`` in place of the built-in model of its name (VGGish given its weights)."""
    with _LOCK:
        _builtins()
        _MODELS[spec.name] = spec


def unregister(name: str) -> None:
    """Remove a model registered with :func:`register_model` (built-in ones stay).

    Parameters
    ----------
    name : str
        Its name.

    Raises
    ------
    ValueError
        No such model, or a built-in one.
    """
    with _LOCK:
        spec = get(name)
        if spec.builtin:
            raise ValueError(f"{name!r} is built into embedexplore and cannot be removed")
        del _MODELS[name]


def register_model(
    name: str,
    model: Callable,
    *,
    sample_rate: int,
    segment_seconds: float,
    layers: Mapping[str, int],
    hop_seconds: float | None = None,
    labels: Sequence[str] | None = None,
    version: str,
    architecture: str = "custom",
    dataset: str = "-",
    licence: str = "",
    source: str = "",
    replace: bool = False,
) -> ModelSpec:
    """Register your own model: its name then works everywhere a built-in model's does.

    :func:`embedexplore.extract` (on one machine and on a Dask cluster, where the model is sent
    to the workers with each task), :func:`embedexplore.open_store`, projections, neighbours,
    S_n, playlists, the Explorer and the command line.

    Parameters
    ----------
    name : str
        Its name: letters, digits, ``.``, ``_``, ``-``; not one already registered.
    model : torch.nn.Module or callable
        A ``torch.nn.Module`` taking a float32 tensor ``[batch, samples]`` (one segment per row,
        mono, at ``sample_rate``, on the extraction's device) and returning a dict layer ->
        tensor ``[batch, dim]``; or any callable taking a float32 numpy array ``[batch,
        samples]`` and returning such a dict of numpy arrays (or tensors). A module runs in
        eval mode under ``torch.inference_mode`` in float32.
    sample_rate : int
        The sample rate it reads, in Hz: each track is decoded to it (mono, soxr HQ).
    segment_seconds : float
        The length of one segment in seconds (a whole number of samples).
    layers : mapping of str to int
        The layers it returns and their dimensions, e.g. ``{"embeddings": 64}``.
    hop_seconds : float, optional
        Seconds between segment starts (default: ``segment_seconds``, no overlap). Segment
        ``k`` of a track is ``[k * hop, k * hop + segment)``; a partial last segment is dropped
        and a track shorter than one segment is repeated until it fills one.
    labels : sequence of str, optional
        Tag names: then it must return a ``taggrams`` layer with that many columns.
    version : str
        Its version: change it when its results change, and the next extraction recomputes
        this model (only).
    architecture, dataset, licence, source : str, optional
        Shown by :func:`embedexplore.models.available`.
    replace : bool, default: False
        Replace a model you registered before under ``name``.

    Returns
    -------
    ModelSpec
        What was registered.

    Raises
    ------
    ValueError
        A name that is taken or not plain, a sample rate that is not a positive whole number, a
        segment or hop that is not a positive whole number of samples, layers that are not
        names with positive dimensions, labels that do not match a ``taggrams`` layer, or an
        empty version.
    TypeError
        ``model`` is not callable.
    """
    if not callable(model):
        raise TypeError(
            f"model {str(name)[:40]!r}: model must be a torch.nn.Module or a callable, not "
            f"{type(model).__name__}"
        )
    for what, v in (("segment_seconds", segment_seconds), ("hop_seconds", hop_seconds)):
        if isinstance(v, bool | str):
            raise ValueError(f"model {str(name)[:40]!r}: {what} must be a number, got {v!r}")
    clock = Clock.from_seconds(
        sample_rate, segment_seconds, hop_seconds, what=f"model {str(name)[:40]!r}"
    )
    if not isinstance(layers, Mapping):
        raise ValueError(
            f"model {str(name)[:40]!r}: layers must map each layer's name to its dimension"
        )
    layers = {k: int(v) if isinstance(v, np.integer) else v for k, v in layers.items()}
    if labels is not None and not isinstance(labels, str):
        labels = tuple(labels)
    spec = ModelSpec(
        name=name, layers=layers, clock=clock, version=version, architecture=architecture,
        dataset=dataset, labels=labels, licence=licence,
        source=source or f"registered by {getattr(model, '__module__', None) or 'you'}",
        model=model,
    )  # fmt: skip
    return register(spec, replace=replace)


def available():
    """Every registered model: the built-in ones, the handcrafted baselines, VGGish, yours.

    Imports no torch.

    Returns
    -------
    pandas.DataFrame
        One row per model, indexed by ``name``: ``architecture``, ``dataset``, ``layers``
        (text: names with their dimensions), ``tags`` (number of tags, 0 for none),
        ``sample_rate``, ``segment_seconds``, ``hop_seconds``, ``version``, ``licence`` and
        ``source``.
    """
    import pandas as pd

    rows = []
    for n in names():
        s = get(n)
        rows.append({
            "name": s.name, "architecture": s.architecture, "dataset": s.dataset,
            "layers": s.describe_layers(), "tags": len(s.labels or ()),
            "sample_rate": s.clock.sample_rate, "segment_seconds": s.clock.segment_seconds,
            "hop_seconds": s.clock.hop_seconds, "version": s.version, "licence": s.licence,
            "source": s.source,
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("name")
