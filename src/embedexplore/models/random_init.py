"""The random-weights control: a tagger's architecture, untrained.

>>> import embedexplore as ee
>>> name = ee.models.random_weights("musicnn-msd", seed=0)    # doctest: +SKIP
>>> ee.extract(collection, store="~/emb", models=["musicnn-msd", name])   # doctest: +SKIP

A network with random weights already maps similar spectrograms to nearby points: how well a
trained model retrieves the same artist or album means little until it is compared with the
same network untrained (a control every study of learned features should carry). The control
here is the tagger's network built under ``torch.manual_seed(seed)``: PyTorch's default
initialisation of every convolution and dense layer, batch norms at their defaults (scale 1,
shift 0, running mean 0 and variance 1). The same seed gives the same weights, so the same
outputs, on every call; the MSD and MTT taggers of one architecture share their network, so
``"musicnn-msd"`` and ``"musicnn-mtt"`` give the same control for one seed.

It reads the same 2.992 s segments (the clock of the tagger, so its rows pair one to one with
the tagger's) through the same log-mel frontend, with one difference: it reads each segment on
its own, so the first mel frame of a segment sees zeros, not the 16 ms of audio before it, as
the tagger's does. It runs in float32. Its ``taggrams`` have no tag names: untrained, they
name nothing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import registry
from ..clock import PATCH_FRAMES
from .frontend import N_FFT, MelFrontend
from .runner import resolve

__all__ = ["FACTORY", "SegmentTagger", "random_network", "random_weights"]

#: What builds every random-weights control: how a registry entry is known to be one.
FACTORY = f"{__name__}:random_network"


def random_weights(name: str, seed: int = 0) -> str:
    """Register the untrained twin of a tagger: same network, layers and clock, random weights.

    Parameters
    ----------
    name : str
        A built-in tagger: ``"musicnn-msd"``, ``"musicnn-mtt"``, ``"vgg-msd"`` or
        ``"vgg-mtt"``.
    seed : int, default: 0
        The seed of the initialisation (``torch.manual_seed(seed)``).

    Returns
    -------
    str
        The name registered, ``"<name>-random<seed>"`` (e.g. ``"musicnn-msd-random0"``): use it
        with :func:`embedexplore.extract`, :func:`embedexplore.load_model` and everything else.
        Calling again with the same arguments returns the same name.

    Raises
    ------
    ValueError
        ``name`` is not a built-in tagger, ``seed`` is not a whole number >= 0, or the name
        is taken by another model.
    """
    spec = registry.get(name)
    if spec.kind != "tagger":
        taggers = ", ".join(n for n in registry.names() if registry.get(n).kind == "tagger")
        raise ValueError(
            f"random_weights works on the built-in taggers ({taggers}); {name!r} is not one"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}")
    twin = f"{name}-random{seed}"
    source = f"embedexplore.models.random_weights({name!r}, seed={seed})"
    old = registry.find(twin)
    if old is not None:
        if old.source == source:
            return twin
        raise ValueError(
            f"a model named {twin!r} is already registered ({old.source or 'by you'}): remove it "
            "with embedexplore.registry.unregister first"
        )
    registry.register(
        registry.ModelSpec(
            name=twin,
            layers=dict(spec.layers),
            clock=spec.clock,
            version=f"1: {spec.factory} {dict(spec.params)}, torch default init, seed {seed}",
            architecture=spec.architecture,
            dataset=f"none (random weights, seed {seed})",
            licence="no weights (random initialisation)",
            source=source,
            factory=FACTORY,
            params={"factory": spec.factory, "params": dict(spec.params), "seed": seed},
        )
    )
    return twin


def random_network(factory: str, params: dict, seed: int) -> SegmentTagger:
    """The waveform model of the random-weights control (what its registry entry builds).

    Parameters
    ----------
    factory : str
        The tagger's network factory, ``"module:attribute"``.
    params : dict
        Its keyword arguments.
    seed : int
        The seed of the initialisation.

    Returns
    -------
    SegmentTagger
        The network with PyTorch's default initialisation under ``torch.manual_seed(seed)``,
        in eval mode on the CPU.
    """
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(seed)
        network = resolve(factory)(**params)
    return SegmentTagger(network).eval()


class SegmentTagger(nn.Module):
    """A tagger's network reading waveform segments through the log-mel frontend.

    Parameters
    ----------
    network : torch.nn.Module
        Log-mel patches ``[batch, 187, 96]`` -> dict of layers (:class:`~.musicnn_net.MusiCNN`,
        :class:`~.vgg_net.VGG`).
    """

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.frontend = MelFrontend(center=False)
        self.network = network

    def forward(self, segments: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network's layers for a batch of waveform segments.

        Parameters
        ----------
        segments : torch.Tensor
            ``float32`` tensor of shape ``(batch, 47872)``: 2.992 s of 16 kHz audio each.

        Returns
        -------
        dict of str to torch.Tensor
            The network's layers, each of shape ``(batch, dim)``.
        """
        # frame i is centred on sample 256 i of the segment, as the tagger's on the track
        padded = F.pad(segments, (N_FFT // 2, 0))
        return self.network(self.frontend(padded)[:, :PATCH_FRAMES])
