"""The models: MusiCNN and VGG trained on the Million Song Dataset and MagnaTagATune, the
handcrafted baselines, VGGish, yours (:func:`embedexplore.register_model`), and the taggers
untrained, as a control (:func:`random_weights`).

>>> import embedexplore
>>> embedexplore.models.available()                          # doctest: +SKIP
>>> model = embedexplore.load_model("musicnn-mtt")          # doctest: +SKIP
>>> out = model.embed(waveform, sample_rate=44100)           # doctest: +SKIP
>>> out["taggrams"].shape, out["embeddings"].shape           # doctest: +SKIP
((10, 50), (10, 200))

Which models there are, their layers, labels and clocks: :mod:`embedexplore.registry`, the one
list. This package imports no torch until a model is built: listing the models, their labels or
their layer sizes is instant. The taggers: :mod:`embedexplore.models.tagger`; any other model:
:mod:`embedexplore.models.runner`.
"""

from __future__ import annotations

import importlib
import os

from ..registry import available, register_model

__all__ = [
    "PRECISIONS",
    "VGG",
    "MusiCNN",
    "Tagger",
    "VGGish",
    "WaveformModel",
    "available",
    "load_model",
    "load_vggish",
    "musicnn",
    "random_weights",
    "register_model",
    "use_vggish",
    "vgg",
    "vggish",
]

#: names served from the modules that import torch, on first use
_LAZY = {
    "Tagger": "tagger", "PRECISIONS": "tagger", "AUTO_PRECISION": "tagger",
    "WaveformModel": "runner", "ModelError": "runner",
    "MusiCNN": "musicnn_net", "musicnn": "musicnn_net", "VGG": "vgg_net", "vgg": "vgg_net",
    "VGGish": "vggish_net", "vggish": "vggish_net", "load_vggish": "vggish_net",
    "random_weights": "random_init",
}  # fmt: skip


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name == "PATCH_FRAMES":
        from ..clock import PATCH_FRAMES

        return PATCH_FRAMES
    from .. import registry

    old = name.lower().replace("_", "-")  # MUSICNN_MSD: the registry's "musicnn-msd"
    if name in ("BUNDLES", "TaggerBundle") or (name.isupper() and old in registry.default_models()):
        import warnings

        warnings.warn(
            f"embedexplore.models.{name} is deprecated: the models are declared in "
            "embedexplore.registry (registry.get(name) gives a ModelSpec)",
            DeprecationWarning,
            stacklevel=2,
        )
        if name == "TaggerBundle":
            return registry.ModelSpec
        if name == "BUNDLES":
            return {m: registry.get(m) for m in registry.default_models()}
        return registry.get(old)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_model(name: str, device="auto", precision: str = "auto"):
    """A registered model by name, ready to embed audio: e.g. ``"musicnn-msd"``.

    The built-in weights are shipped in the package: nothing is downloaded.

    Parameters
    ----------
    name : str
        A registered model (:func:`available`): ``"musicnn-msd"``, ``"musicnn-mtt"``,
        ``"vgg-msd"``, ``"vgg-mtt"``, ``"mfcc-stats"``, ``"chroma-stats"``, ``"vggish"`` (once
        :func:`use_vggish` gave its weights) or one you registered.
    device : str or torch.device, default: "auto"
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU.
    precision : {"auto", "float32", "tf32", "bf16"}, default: "auto"
        The arithmetic of the taggers' networks: ``"float32"`` (parity with the originals to
        ~1e-5), ``"tf32"`` (TensorFloat-32 matrix products on NVIDIA GPUs: taggrams within
        ~6e-4, 2.3x faster on an H100) or ``"bf16"`` (bfloat16 autocast: ~1e-2); ``"auto"`` is
        ``"tf32"`` on CUDA and ``"float32"`` elsewhere. The mel frontend always runs in
        float32, and so do the other models.

    Returns
    -------
    Tagger or WaveformModel
        The model, in eval mode on ``device``. A :class:`Tagger`'s :meth:`~Tagger.embed` gives,
        per 2.992 s patch, ``taggrams`` (50) and ``embeddings`` (200 for MusiCNN, 256 for VGG),
        plus MusiCNN's ``penultimate`` (200) and ``pooled`` (1506).

    Raises
    ------
    ValueError
        An unknown ``name`` or ``precision``, or VGGish before :func:`use_vggish`.
    """
    from .. import registry
    from .runner import build

    return build(registry.get(name), device, precision)


def use_vggish(weights: str | os.PathLike, pca: str | os.PathLike | None = None):
    """Give VGGish its weights: ``"vggish"`` then extracts, compares and shows like any model.

    VGGish's weights are not shipped with embedexplore (see :func:`load_vggish` for where to
    get them). It runs at its own clock, 0.96 s examples (each reading 0.975 s of audio).

    Parameters
    ----------
    weights : str or os.PathLike
        Weights in a format :func:`load_vggish` reads (a ``.npz`` of Google's
        ``vggish_model.ckpt``, a checkpoint prefix, torchvggish's ``.pth``, or a
        ``.pth``/``.safetensors`` of :class:`VGGish`'s own state dict). On a Dask cluster the
        workers read it at the same path.
    pca : str or os.PathLike, optional
        The PCA parameters: adds the ``postprocessed`` layer (PCA and 8-bit quantisation).

    Returns
    -------
    embedexplore.registry.ModelSpec
        The model as registered, its version the checksum of the weights.

    Raises
    ------
    FileNotFoundError
        No file at ``weights``.
    ValueError
        Weights that are not VGGish's.
    """
    from .vggish_net import register_vggish

    return register_vggish(weights, pca)
