"""The VGG-like baseline of musicnn (Pons & Serra, 2019): five 3x3 conv blocks over the log-mel.

A PyTorch reimplementation of ``vgg()`` in ``musicnn/models.py`` of musicnn 0.1.0 with 128
filters: input BatchNorm; five blocks of conv 3x3 ("same" padding) -> ReLU -> BatchNorm ->
max-pool, the pools [4,1] stride [2,2], then [2,2]/2 three times, then [4,4]/4 (all "valid"),
which turns 187 x 96 into 2 x 1 x 128; flattened in TensorFlow's NHWC order: 256 ("embeddings");
dense 256 -> 50; sigmoid ("taggrams"). BatchNorm epsilon 1e-3 (TensorFlow's default).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..clock import PATCH_FRAMES
from .checkpoint import TF_BATCHNORM
from .fused import conv_relu_bn_max

__all__ = ["VGG", "vgg", "vgg_weights_from_tensorflow"]

EPS = 1e-3
POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))


class VGG(nn.Module):
    """The VGG tagger. Input ``[batch, 187, 96]`` log-mel patches; output a dict of layers.

    Parameters
    ----------
    n_mels : int, default: 96
        Mel bands of the input.
    n_frames : int, default: 187
        Frames of the input (sets the size of the flattened ``embeddings``).
    n_classes : int, default: 50
        Tags.
    filters : int, default: 128
        Filters of each convolution.

    Attributes
    ----------
    dims : dict of str to int
        Each layer's dimension: ``embeddings`` 256 (2 x 1 x 128 after the last pool),
        ``taggrams`` 50 (with the default sizes).
    """

    LAYERS = ("embeddings", "taggrams")

    def __init__(
        self,
        *,
        n_mels: int = 96,
        n_frames: int = PATCH_FRAMES,
        n_classes: int = 50,
        filters: int = 128,
    ) -> None:
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=EPS)
        self.convs = nn.ModuleList(
            [nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5)]
        )
        self.bns = nn.ModuleList([nn.BatchNorm2d(filters, eps=EPS) for _ in range(5)])
        self.pools = nn.ModuleList([nn.MaxPool2d(k, s) for k, s in POOLS])
        # the first pool ([4,1] stride [2,2]) keeps every other frequency bin of the first
        # convolution's output and nothing else of those columns: computing the convolution at
        # frequency stride 2 and pooling [4,1] stride [2,1] gives the same numbers for half the
        # work and memory of the largest layer (VGG 1.2x faster on 2 CPU cores)
        (kt, kf), (st, sf) = POOLS[0]
        self._first = (sf, nn.MaxPool2d((kt, kf), (st, 1))) if kf == 1 else None
        t, f = n_frames, n_mels
        for (kt, kf), (st, sf) in POOLS:
            t, f = (t - kt) // st + 1, (f - kf) // sf + 1
        flat = t * f * filters
        self.classifier = nn.Linear(flat, n_classes)
        self.dims = {"embeddings": flat, "taggrams": n_classes}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer for a batch of log-mel patches.

        Parameters
        ----------
        x : torch.Tensor
            ``float32`` tensor of shape ``(batch, n_frames, n_mels)``, ``(batch, 187, 96)`` for
            the trained weights.

        Returns
        -------
        dict of str to torch.Tensor
            The layers of :attr:`LAYERS`, each of shape ``(batch, dim)`` with ``dim`` from
            :attr:`dims`: ``embeddings`` (256, flattened in TensorFlow's NHWC order) and
            ``taggrams`` (50, sigmoid activations in [0, 1]).
        """
        h = self.input_bn(x.unsqueeze(1))
        for i, (conv, bn, pool) in enumerate(zip(self.convs, self.bns, self.pools, strict=True)):
            if i == 0 and self._first is not None:
                stride, pool = self._first
                h = conv_relu_bn_max(h, conv, bn, pool, stride=(1, stride))
            else:
                h = conv_relu_bn_max(h, conv, bn, pool)  # = pool(bn(relu(conv(h))))
        embeddings = h.permute(0, 2, 3, 1).flatten(1)  # NHWC order, as TensorFlow flattens
        return {"embeddings": embeddings, "taggrams": torch.sigmoid(self.classifier(embeddings))}


def vgg(**params) -> VGG:
    """A VGG with random weights (``VGG(**params)``), in eval mode.

    Parameters
    ----------
    **params
        Keyword arguments of :class:`VGG`.

    Returns
    -------
    VGG
        The network, in eval mode, on the CPU.
    """
    return VGG(**params).eval()


def vgg_weights_from_tensorflow(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map the variables of a musicnn VGG checkpoint onto :class:`VGG`'s state dict.

    Optimizer slots (``*/Adam*``) and ``beta*_power`` are skipped.

    Parameters
    ----------
    variables : dict of str to numpy.ndarray
        The checkpoint's variables by name (``1CNN/kernel`` .. ``5CNN/kernel`` [HWIO],
        ``batch_normalization*``, ``dense/kernel`` [in, out]), e.g. from
        :func:`~embedexplore.models.checkpoint.read_checkpoint`.

    Returns
    -------
    dict of str to torch.Tensor
        A state dict for ``VGG().load_state_dict``: ``float32`` contiguous tensors, kernels
        HWIO -> OIHW, dense ``W`` -> ``W.T``.

    Raises
    ------
    KeyError
        A variable is missing, or left unmapped (the message names those).
    """
    v = {k: a for k, a in variables.items() if "/Adam" not in k and "_power" not in k}
    used: set[str] = set()
    out: dict[str, np.ndarray] = {}

    def take(key):
        used.add(key)
        return v[key]

    def bn(prefix, name):
        for ours, theirs in TF_BATCHNORM:
            out[f"{prefix}.{ours}"] = take(f"{name}/{theirs}")

    bn("input_bn", "batch_normalization")
    for i in range(5):
        out[f"convs.{i}.weight"] = take(f"{i + 1}CNN/kernel").transpose(3, 2, 0, 1)
        out[f"convs.{i}.bias"] = take(f"{i + 1}CNN/bias")
        bn(f"bns.{i}", f"batch_normalization_{i + 1}")
    out["classifier.weight"] = take("dense/kernel").T
    out["classifier.bias"] = take("dense/bias")
    left = sorted(set(v) - used)
    if left:
        raise KeyError(f"checkpoint variables not mapped onto VGG: {left}")
    return {k: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for k, a in out.items()}
