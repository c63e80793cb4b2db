"""MusiCNN (Pons & Serra, 2019): musically motivated convolutions over a log-mel spectrogram.

A PyTorch reimplementation of ``musicnn/models.py`` of musicnn 0.1.0 (``build_musicnn`` with
``num_filt_midend=64, num_units_backend=200``), layer for layer, so that the original trained
weights load and give the same outputs. Shapes are those of the original (input 187 frames x 96
mel bands):

front-end  input BatchNorm (one scalar); timbral convolutions 7x38 and 7x67 (204 filters, time
           padded 3/3, valid in frequency) and temporal convolutions 128x1, 64x1, 32x1 (51
           filters, TensorFlow "same" padding: the extra row at the end), each conv -> ReLU ->
           BatchNorm -> max over frequency; concatenated: 561 features per frame.
mid-end    three 1-D convolutions over time (kernel 7, 64 filters), the 2nd and 3rd residual;
           concatenated with the front-end: 753 features per frame.
back-end   max and mean over time, interleaved ([max0, mean0, max1, ...]): 1506 ("pooled");
           BatchNorm; dense 1506 -> 200 ("embeddings", before its ReLU); ReLU; BatchNorm
           ("penultimate"); dense 200 -> 50; sigmoid ("taggrams").

Every BatchNorm uses TensorFlow's default epsilon 1e-3 and runs in eval mode.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import TF_BATCHNORM
from .fused import conv_relu_bn_max

__all__ = ["MusiCNN", "musicnn", "musicnn_weights_from_tensorflow"]

EPS = 1e-3  # TensorFlow's batch_normalization default


def _bn2d(n: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(n, eps=EPS)


def _bn1d(n: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(n, eps=EPS)


class MusiCNN(nn.Module):
    """The MusiCNN tagger. Input ``[batch, 187, 96]`` log-mel patches; output a dict of layers.

    Parameters
    ----------
    n_mels : int, default: 96
        Mel bands of the input.
    n_classes : int, default: 50
        Tags.
    frontend_filters : float, default: 1.6
        Width multiplier of the front-end (1.6: 204 timbral and 51 temporal filters).
    midend_filters : int, default: 64
        Filters of each mid-end convolution.
    backend_units : int, default: 200
        Units of the penultimate dense layer (the ``embeddings`` dimension).

    Attributes
    ----------
    dims : dict of str to int
        Each layer's dimension: ``pooled`` 1506, ``embeddings`` and ``penultimate`` 200,
        ``taggrams`` 50 (with the default sizes).
    """

    LAYERS = ("pooled", "embeddings", "penultimate", "taggrams")

    def __init__(
        self,
        *,
        n_mels: int = 96,
        n_classes: int = 50,
        frontend_filters: float = 1.6,
        midend_filters: int = 64,
        backend_units: int = 200,
    ) -> None:
        super().__init__()
        timbral = int(frontend_filters * 128)
        temporal = int(frontend_filters * 32)
        self.input_bn = _bn2d(1)
        self.timbral_convs = nn.ModuleList(
            [nn.Conv2d(1, timbral, (7, int(f * n_mels))) for f in (0.4, 0.7)]
        )
        self.timbral_bns = nn.ModuleList([_bn2d(timbral) for _ in range(2)])
        self.temporal_convs = nn.ModuleList([nn.Conv2d(1, temporal, (k, 1)) for k in (128, 64, 32)])
        self.temporal_bns = nn.ModuleList([_bn2d(temporal) for _ in range(3)])
        front = 2 * timbral + 3 * temporal
        self.midend_convs = nn.ModuleList(
            [nn.Conv1d(c, midend_filters, 7) for c in (front, midend_filters, midend_filters)]
        )
        self.midend_bns = nn.ModuleList([_bn1d(midend_filters) for _ in range(3)])
        pooled = 2 * (front + 3 * midend_filters)
        self.pooled_bn = _bn1d(pooled)
        self.dense = nn.Linear(pooled, backend_units)
        self.dense_bn = _bn1d(backend_units)
        self.classifier = nn.Linear(backend_units, n_classes)
        self.dims = {
            "pooled": pooled, "embeddings": backend_units, "penultimate": backend_units,
            "taggrams": n_classes,
        }  # fmt: skip

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer for a batch of log-mel patches.

        Parameters
        ----------
        x : torch.Tensor
            ``float32`` tensor of shape ``(batch, frames, n_mels)``, ``(batch, 187, 96)`` for
            the trained weights.

        Returns
        -------
        dict of str to torch.Tensor
            The layers of :attr:`LAYERS`, each of shape ``(batch, dim)`` with ``dim`` from
            :attr:`dims`: ``pooled`` (1506), ``embeddings`` (200, before its ReLU),
            ``penultimate`` (200) and ``taggrams`` (50, sigmoid activations in [0, 1]).
        """
        x = self.input_bn(x.unsqueeze(1))  # [B, 1, T, F]
        padded = F.pad(x, (0, 0, 3, 3))  # time 3/3, frequency untouched ("valid")
        timbral = [
            conv_relu_bn_max(padded, conv, bn, _max_over_frequency)  # [B, C, T]
            for conv, bn in zip(self.timbral_convs, self.timbral_bns, strict=True)
        ]
        temporal = []
        for conv, bn in zip(self.temporal_convs, self.temporal_bns, strict=True):
            k = conv.kernel_size[0]
            # TensorFlow "same": (k - 1) rows of padding, the odd one at the end
            same = F.pad(x, (0, 0, (k - 1) // 2, k // 2))
            temporal.append(conv_relu_bn_max(same, conv, bn, _max_over_frequency))
        front = torch.cat(timbral + temporal, dim=1)  # [B, 561, T]
        features = [front]
        h = front
        for i, (conv, bn) in enumerate(zip(self.midend_convs, self.midend_bns, strict=True)):
            out = bn(F.relu(conv(F.pad(h, (3, 3)))))
            h = out if i == 0 else out + h
            features.append(h)
        midend = torch.cat(features, dim=1)  # [B, 753, T]
        # max and mean over time, interleaved feature by feature, as TensorFlow's flatten of the
        # [B, 753, 2] stack lays them out
        pooled = torch.stack([midend.amax(dim=2), midend.mean(dim=2)], dim=2).flatten(1)
        embeddings = self.dense(self.pooled_bn(pooled))
        penultimate = self.dense_bn(F.relu(embeddings))
        logits = self.classifier(penultimate)
        return {
            "pooled": pooled,
            "embeddings": embeddings,
            "penultimate": penultimate,
            "taggrams": torch.sigmoid(logits),
        }


def _max_over_frequency(x: torch.Tensor) -> torch.Tensor:
    return x.amax(dim=3)


def musicnn(**params) -> MusiCNN:
    """A MusiCNN with random weights (``MusiCNN(**params)``), in eval mode.

    Parameters
    ----------
    **params
        Keyword arguments of :class:`MusiCNN`.

    Returns
    -------
    MusiCNN
        The network, in eval mode, on the CPU.
    """
    return MusiCNN(**params).eval()


def _bn(prefix: str, name: str, v: dict, used: set) -> dict[str, np.ndarray]:
    out = {}
    for ours, theirs in TF_BATCHNORM:
        key = f"{name}/{theirs}"
        out[f"{prefix}.{ours}"] = v[key]
        used.add(key)
    return out


def musicnn_weights_from_tensorflow(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map the variables of a musicnn checkpoint onto :class:`MusiCNN`'s state dict.

    Every trained variable is mapped by name; optimizer slots (``*/Adam*``) and ``beta*_power``
    are skipped.

    Parameters
    ----------
    variables : dict of str to numpy.ndarray
        The checkpoint's variables by name (``conv2d/kernel`` [HWIO], ``batch_normalization/*``,
        ``dense/kernel`` [in, out], ...), e.g. from
        :func:`~embedexplore.models.checkpoint.read_checkpoint`.

    Returns
    -------
    dict of str to torch.Tensor
        A state dict for ``MusiCNN().load_state_dict``: ``float32`` contiguous tensors,
        kernels HWIO -> OIHW, dense ``W`` -> ``W.T``.

    Raises
    ------
    KeyError
        A variable is missing, or left unmapped (the message names those).
    """
    v = {k: a for k, a in variables.items() if "/Adam" not in k and "_power" not in k}
    used: set[str] = set()
    out: dict[str, np.ndarray] = {}

    def conv2d(prefix, name):
        out[f"{prefix}.weight"] = v[f"{name}/kernel"].transpose(3, 2, 0, 1)  # HWIO -> OIHW
        out[f"{prefix}.bias"] = v[f"{name}/bias"]
        used.update({f"{name}/kernel", f"{name}/bias"})

    def conv1d(prefix, name):
        # a [7, C, 1, 64] kernel sliding over time only: Conv1d weight [64, C, 7]
        out[f"{prefix}.weight"] = v[f"{name}/kernel"][:, :, 0, :].transpose(2, 1, 0)
        out[f"{prefix}.bias"] = v[f"{name}/bias"]
        used.update({f"{name}/kernel", f"{name}/bias"})

    def dense(prefix, name):
        out[f"{prefix}.weight"] = v[f"{name}/kernel"].T
        out[f"{prefix}.bias"] = v[f"{name}/bias"]
        used.update({f"{name}/kernel", f"{name}/bias"})

    # creation order in musicnn/models.py names the variables conv2d, conv2d_1, ...
    out.update(_bn("input_bn", "batch_normalization", v, used))
    conv2d("timbral_convs.0", "conv2d")
    conv2d("timbral_convs.1", "conv2d_1")
    for i in range(3):
        conv2d(f"temporal_convs.{i}", f"conv2d_{2 + i}")
        conv1d(f"midend_convs.{i}", f"conv2d_{5 + i}")
    for i in range(2):
        out.update(_bn(f"timbral_bns.{i}", f"batch_normalization_{1 + i}", v, used))
    for i in range(3):
        out.update(_bn(f"temporal_bns.{i}", f"batch_normalization_{3 + i}", v, used))
        out.update(_bn(f"midend_bns.{i}", f"batch_normalization_{6 + i}", v, used))
    out.update(_bn("pooled_bn", "batch_normalization_9", v, used))
    dense("dense", "dense")
    out.update(_bn("dense_bn", "batch_normalization_10", v, used))
    dense("classifier", "dense_1")
    left = sorted(set(v) - used)
    if left:
        raise KeyError(f"checkpoint variables not mapped onto MusiCNN: {left}")
    return {k: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for k, a in out.items()}
