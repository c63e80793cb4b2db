"""What the registry holds for each model: :class:`ModelSpec` (kept apart from
:mod:`embedexplore.registry`, which lists and checks them). Imports no torch."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .clock import Clock

__all__ = ["KINDS", "WEIGHTS", "ModelSpec"]

#: Where the package keeps the converted weights of the built-in taggers.
WEIGHTS = Path(__file__).parent / "models" / "weights"
#: The kinds of model: ``tagger`` reads log-mel patches of the shared musicnn frontend (the
#: original models: the audio is transformed once for all of them); ``waveform`` reads
#: segments of the waveform at its own clock.
KINDS = ("tagger", "waveform")


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """One model, as the registry declares it.

    Each parameter is kept as the (read-only) attribute of the same name.

    Parameters
    ----------
    name : str
        The name every function takes, e.g. ``"musicnn-msd"``: letters, digits, ``.``, ``_``,
        ``-``.
    layers : mapping of str to int
        Every layer the model gives, and its dimension.
    clock : embedexplore.clock.Clock
        Its sample rate, segment and hop.
    version : str
        Changes whenever the model's results would: a store recomputes a model whose version
        changed, and only that model.
    architecture : str, default: "custom"
        The network's family, e.g. ``"musicnn"``.
    dataset : str, default: "-"
        What it was trained on, e.g. ``"MSD"``.
    labels : tuple of str, optional
        The tag names of its ``taggrams`` layer, in column order.
    licence, source : str, optional
        The weights' licence and where they come from.
    kind : {"waveform", "tagger"}, default: "waveform"
        ``"waveform"``: the model reads waveform segments ``[batch, segment]`` at its clock;
        ``"tagger"``: a built-in tagger reading the shared log-mel patches.
    model : callable, optional
        The model itself (a ``torch.nn.Module`` or a function), as :func:`register_model`
        got it.
    factory : str, optional
        ``"module:attribute"``: what builds the model, called with ``params`` (built-in models,
        built only when used, so that listing them imports no torch).
    params : mapping, optional
        Keyword arguments of ``factory``.
    weights : str, optional
        A built-in tagger's weights file in the package (its checksum is its version).
    builtin : bool, default: False
        Shipped with embedexplore (cannot be replaced).
    default : bool, default: False
        Extracted when no models are named.
    needs : str, optional
        Why the model cannot be built yet (VGGish without its weights): the error extraction
        gives.
    checkpoint : str, optional
        The original's checkpoint that ``scripts/convert_weights.py`` converts into ``weights``
        (the built-in taggers: ``"MSD_musicnn"``...).
    """

    name: str
    layers: Mapping[str, int]
    clock: Clock
    version: str
    architecture: str = "custom"
    dataset: str = "-"
    labels: tuple[str, ...] | None = None
    licence: str = ""
    source: str = ""
    kind: str = "waveform"
    model: Any = None
    factory: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    weights: str | None = None
    builtin: bool = False
    default: bool = False
    needs: str | None = None
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", MappingProxyType(dict(self.layers)))
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))

    def __repr__(self) -> str:
        return (
            f"<ModelSpec {self.name}: {self.architecture}, layers {dict(self.layers)}, "
            f"{self.clock.describe()}>"
        )

    def __reduce__(self):
        # pickled with the task to cluster workers: the fields, the model object by value
        # where cloudpickle does so (a model defined in a notebook or script)
        return (_rebuild, (self._fields(),))

    def _fields(self) -> dict:
        return {f: getattr(self, f) for f in self.__dataclass_fields__} | {
            "layers": dict(self.layers), "params": dict(self.params)
        }  # fmt: skip

    def describe_layers(self) -> str:
        """The layers in words.

        Returns
        -------
        str
            E.g. ``"taggrams (50), embeddings (200)"``.
        """
        return ", ".join(f"{k} ({v})" for k, v in self.layers.items())

    def store_version(self, precision: str) -> str:
        """The version a store records for this model run in ``precision``.

        Parameters
        ----------
        precision : str
            ``"float32"``, ``"tf32"`` or ``"bf16"`` (registered models always run in float32).

        Returns
        -------
        str
            ``"<version>/<precision>/<preprocessing or clock>"``; for the built-in taggers the
            checksum of their weights file, as stores have always recorded it.
        """
        if self.kind == "tagger":
            from .store import PREPROCESSING

            digest = hashlib.sha256((WEIGHTS / self.weights).read_bytes()).hexdigest()
            prep = hashlib.sha256(PREPROCESSING.encode()).hexdigest()
            return f"{digest[:16]}/{precision}/{prep[:8]}"
        version = self.version.replace("/", "_")
        return f"{version}/{precision}/{self.clock.key}"


def _rebuild(fields: dict) -> ModelSpec:
    return ModelSpec(**fields)
