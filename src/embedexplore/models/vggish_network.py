"""The VGGish network (``vggish_slim.py``) and its postprocessor (``vggish_postprocess.py``).

Log-mel examples ``[batch, 96, 64]`` -> 128-d embeddings, plus the PCA-whitened, 8-bit
"postprocessed" ones when PCA parameters are loaded; the layers are described in
:mod:`embedexplore.models.vggish_net`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["EMBEDDING_SIZE", "QUANTISATIONS", "VGGish", "vggish"]

EMBEDDING_SIZE = 128
QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0
_FLAT = 6 * 4 * 512

_CONVS = (
    ("conv1", 1, 64), ("conv2", 64, 128), ("conv3_1", 128, 256), ("conv3_2", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512),
)  # fmt: skip
_FCS = (("fc1_1", _FLAT, 4096), ("fc1_2", 4096, 4096), ("fc2", 4096, EMBEDDING_SIZE))
QUANTISATIONS = ("floor", "round")


class VGGish(nn.Module):
    """The VGGish network. Input ``[batch, 96, 64]`` log-mel examples; output a dict of layers.

    Parameters
    ----------
    postprocess : bool, default: False
        Hold the PCA parameters (buffers ``pca_means`` [128] and ``pca_eigen_vectors``
        [128, 128], float64, zeros until set by ``load_state_dict``) and add the "postprocessed"
        layer.
    quantisation : {"floor", "round"}, default: "floor"
        How the postprocessor maps to 8 bits: ``"floor"`` as Google's ``vggish_postprocess``
        (``astype(np.uint8)`` truncates), ``"round"`` as torchvggish.

    Attributes
    ----------
    dims : dict of str to int
        ``{"embeddings": 128}``, plus ``"postprocessed": 128`` with ``postprocess=True``.

    Raises
    ------
    ValueError
        An unknown ``quantisation``.

    Notes
    -----
    No ReLU after ``fc2``, as in the original (see :mod:`embedexplore.models.vggish_net`).
    Module names follow the original's variable scopes: ``conv1 .. conv4_2``, ``fc1_1``,
    ``fc1_2``, ``fc2``.
    """

    LAYERS = ("embeddings", "postprocessed")

    def __init__(self, *, postprocess: bool = False, quantisation: str = "floor") -> None:
        super().__init__()
        if quantisation not in QUANTISATIONS:
            raise ValueError(f"quantisation must be one of {QUANTISATIONS}, got {quantisation!r}")
        self.quantisation = quantisation
        self.postprocess = postprocess
        for name, c_in, c_out in _CONVS:
            self.add_module(name, nn.Conv2d(c_in, c_out, 3, padding=1))
        for name, n_in, n_out in _FCS:
            self.add_module(name, nn.Linear(n_in, n_out))
        if postprocess:
            self.register_buffer("pca_means", torch.zeros(EMBEDDING_SIZE, dtype=torch.float64))
            # zeros until loaded (torch.eye on the meta device would import its decompositions)
            self.register_buffer(
                "pca_eigen_vectors",
                torch.zeros(EMBEDDING_SIZE, EMBEDDING_SIZE, dtype=torch.float64),
            )
        self.dims = {"embeddings": EMBEDDING_SIZE}
        if postprocess:
            self.dims["postprocessed"] = EMBEDDING_SIZE

    def extra_repr(self) -> str:
        return f"postprocess={self.postprocess}, quantisation={self.quantisation!r}"

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer for a batch of log-mel examples.

        Parameters
        ----------
        x : torch.Tensor
            ``float32`` tensor of shape ``(batch, 96, 64)``: 96 frames (0.96 s) of 64 mel bands.

        Returns
        -------
        dict of str to torch.Tensor
            ``"embeddings"``: shape ``(batch, 128)``, pre-activation (no ReLU); with PCA
            parameters (``postprocess=True``) also ``"postprocessed"``: ``float32`` of shape
            ``(batch, 128)`` holding integers 0..255.
        """
        h = x.unsqueeze(1)  # [B, 1, 96, 64]: NCHW of the original's NHWC [B, 96, 64, 1]
        h = F.max_pool2d(F.relu(self.conv1(h)), 2, 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2, 2)
        h = F.max_pool2d(F.relu(self.conv3_2(F.relu(self.conv3_1(h)))), 2, 2)
        h = F.max_pool2d(F.relu(self.conv4_2(F.relu(self.conv4_1(h)))), 2, 2)  # [B, 512, 6, 4]
        h = h.permute(0, 2, 3, 1).flatten(1)  # NHWC order, as TensorFlow flattens: 12288
        h = F.relu(self.fc1_2(F.relu(self.fc1_1(h))))
        embeddings = self.fc2(h)
        out = {"embeddings": embeddings}
        if self.postprocess:
            out["postprocessed"] = self.postprocess_embeddings(embeddings)
        return out

    def postprocess_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        """PCA (with whitening), clipping to [-2, 2] and 8-bit quantisation.

        Computed in float64, as the original.

        Parameters
        ----------
        embeddings : torch.Tensor
            Tensor of shape ``(batch, 128)``: the ``"embeddings"`` layer.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(batch, 128)`` holding integers 0..255, quantised as
            :attr:`quantisation` says.

        Raises
        ------
        RuntimeError
            This VGGish holds no PCA parameters (``postprocess=False``).
        """
        if not self.postprocess:
            raise RuntimeError("this VGGish holds no PCA parameters (postprocess=False)")
        x = embeddings.double()
        pca = (x - self.pca_means) @ self.pca_eigen_vectors.T
        scaled = (pca.clamp(QUANTIZE_MIN, QUANTIZE_MAX) - QUANTIZE_MIN) * (
            255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)
        )
        q = torch.floor(scaled) if self.quantisation == "floor" else torch.round(scaled)
        return q.float()


def vggish(**params) -> VGGish:
    """A VGGish with random weights (``VGGish(**params)``), in eval mode.

    Parameters
    ----------
    **params
        Keyword arguments of :class:`VGGish`.

    Returns
    -------
    VGGish
        The network, in eval mode, on the CPU.
    """
    return VGGish(**params).eval()
