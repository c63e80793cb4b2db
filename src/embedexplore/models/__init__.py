"""The tagging models: MusiCNN and VGG trained on the Million Song Dataset and MagnaTagATune.

>>> import embedexplore
>>> model = embedexplore.load_model("musicnn-mtt")          # doctest: +SKIP
>>> out = model.embed(waveform, sample_rate=44100)           # doctest: +SKIP
>>> out["taggrams"].shape, out["embeddings"].shape           # doctest: +SKIP
((10, 50), (10, 200))

Each model reads non-overlapping patches of 187 mel frames (2.992 s at 16 kHz) and returns, per
patch, its tag activations ("taggrams", 50-d) and the layer before ("embeddings": 200-d for
MusiCNN, 256-d for VGG), plus MusiCNN's "penultimate" and "pooled" layers. The weights are the
original trained weights of musicnn 0.1.0 (ISC licence), converted and shipped in the package:
loading a model never touches the network.

What happens at the edges of a track: patch ``k`` covers mel frames ``187k .. 187k+186`` of the
centred spectrogram of the whole track, i.e. starts at ``k * 2.992`` s. A final partial patch is
dropped, as in the original (so every segment is exactly 2.992 s long). A waveform shorter than one
patch is repeated until it fills one (musicnn's training data was "repeat-padded" the same way),
so that every non-empty track yields at least one segment; an empty waveform yields none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .arithmetic import tf32
from .frontend import HOP_LENGTH, N_FFT, N_MELS, MelFrontend
from .labels import MSD_LABELS, MTT_LABELS
from .musicnn_net import MusiCNN, musicnn
from .vgg_net import VGG, vgg
from .vggish_net import VGGish, load_vggish, vggish
from .waveform import mono_16k, resolve_device

__all__ = [
    "MUSICNN_MSD",
    "MUSICNN_MTT",
    "PATCH_FRAMES",
    "VGG",
    "VGG_MSD",
    "VGG_MTT",
    "MusiCNN",
    "Tagger",
    "TaggerBundle",
    "VGGish",
    "available",
    "load_model",
    "load_vggish",
    "musicnn",
    "vgg",
    "vggish",
]

logger = logging.getLogger(__name__)

PATCH_FRAMES = 187
"""Mel frames per patch (2.992 s)."""
PRECISIONS = ("float32", "tf32", "bf16")
#: What ``precision="auto"`` means on each kind of device. TF32 on NVIDIA GPUs: measured on an
#: H100 (benchmarks/results/gpu_check-2026-11-26-h100.log) it moves taggrams by <= 6.3e-4 and
#: embeddings by <= 1.0e-3 relative, within the 2e-3 a default may cost, for 2.3x the float32
#: throughput of all four models. Float32 elsewhere (the CPU has no TF32).
AUTO_PRECISION = {"cuda": "tf32"}
_SAMPLE_RATE = 16_000
_FRONTEND_PATCHES = 64
_WEIGHTS = Path(__file__).parent / "weights"
_LICENCE = "ISC (musicnn 0.1.0, Copyright (c) Music Technology Group, UPF 2019)"


@dataclass(frozen=True)
class TaggerBundle:
    """A pretrained tagger: architecture, training data, tag vocabulary and shipped weights.

    Each parameter is kept as the (read-only) attribute of the same name.

    Parameters
    ----------
    name : str
        The name :func:`load_model` knows it by, e.g. ``"musicnn-msd"``.
    architecture : {"musicnn", "vgg"}
        The network: :class:`MusiCNN` or :class:`VGG`.
    dataset : str
        The training data: ``"MSD"`` (Million Song Dataset) or ``"MTT"`` (MagnaTagATune).
    labels : tuple of str
        The 50 tag names, in the order of the ``taggrams`` columns.
    weights : str
        File name of the weights (safetensors) in the package's ``models/weights`` folder.
    licence : str, optional
        The weights' licence (ISC, musicnn 0.1.0).
    source : str, optional
        Where the weights come from.
    params : dict, optional
        Keyword arguments of the architecture's constructor (default: none, the original's
        sizes).
    """

    name: str
    architecture: str
    dataset: str
    labels: tuple[str, ...]
    weights: str
    licence: str = _LICENCE
    source: str = "musicnn==0.1.0 (PyPI), converted by scripts/convert_weights.py"
    params: dict = field(default_factory=dict)

    def build(self) -> torch.nn.Module:
        """The architecture with random weights.

        Returns
        -------
        torch.nn.Module
            A :class:`MusiCNN` or :class:`VGG` built with :attr:`params`, in eval mode, on the
            CPU.
        """
        return (musicnn if self.architecture == "musicnn" else vgg)(**self.params)

    def get_model(self, device: str | torch.device = "auto", precision: str = "auto") -> Tagger:
        """The model with its trained weights, in eval mode, on ``device``.

        Parameters
        ----------
        device : str or torch.device, default: "auto"
            ``"auto"`` picks CUDA when a GPU is visible, else the CPU.
        precision : {"auto", "float32", "tf32", "bf16"}, default: "auto"
            The network's arithmetic: see :func:`load_model`.

        Returns
        -------
        Tagger
            The network with the shipped weights, ready to :meth:`~Tagger.embed` audio.

        Raises
        ------
        ValueError
            An unknown ``precision``.
        """
        from safetensors.torch import load_file

        network = self.build()
        network.load_state_dict(load_file(_WEIGHTS / self.weights), strict=True)
        return Tagger(self, network.eval(), device=device, precision=precision)


MUSICNN_MSD = TaggerBundle(
    name="musicnn-msd", architecture="musicnn", dataset="MSD", labels=MSD_LABELS,
    weights="musicnn-msd.safetensors",
)  # fmt: skip
"""MusiCNN trained on the Million Song Dataset (50 Last.fm tags). Source: musicnn 0.1.0
checkpoint ``MSD_musicnn``; licence ISC (see ``models/weights/NOTICE``)."""

MUSICNN_MTT = TaggerBundle(
    name="musicnn-mtt", architecture="musicnn", dataset="MTT", labels=MTT_LABELS,
    weights="musicnn-mtt.safetensors",
)  # fmt: skip
"""MusiCNN trained on MagnaTagATune (50 tags). Source: musicnn 0.1.0 checkpoint ``MTT_musicnn``;
licence ISC (see ``models/weights/NOTICE``)."""

VGG_MSD = TaggerBundle(
    name="vgg-msd", architecture="vgg", dataset="MSD", labels=MSD_LABELS,
    weights="vgg-msd.safetensors",
)  # fmt: skip
"""The VGG-like baseline trained on the Million Song Dataset. Source: musicnn 0.1.0 checkpoint
``MSD_vgg``; licence ISC (see ``models/weights/NOTICE``)."""

VGG_MTT = TaggerBundle(
    name="vgg-mtt", architecture="vgg", dataset="MTT", labels=MTT_LABELS,
    weights="vgg-mtt.safetensors",
)  # fmt: skip
"""The VGG-like baseline trained on MagnaTagATune. Source: musicnn 0.1.0 checkpoint ``MTT_vgg``;
licence ISC (see ``models/weights/NOTICE``)."""

BUNDLES = {b.name: b for b in (MUSICNN_MSD, MUSICNN_MTT, VGG_MSD, VGG_MTT)}


def available():
    """The models :func:`load_model` knows, and VGGish (see :func:`load_vggish`).

    Returns
    -------
    pandas.DataFrame
        One row per model, indexed by ``name``: ``architecture``, ``dataset``, ``layers`` (text:
        names with their dimensions), ``tags`` (number of tags; 0 for VGGish), ``licence`` and
        ``source``.
    """
    import pandas as pd

    rows = []
    for b in BUNDLES.values():
        dims = b.build().dims
        rows.append({
            "name": b.name, "architecture": b.architecture, "dataset": b.dataset,
            "layers": ", ".join(f"{k} ({v})" for k, v in dims.items()),
            "tags": len(b.labels), "licence": b.licence, "source": b.source,
        })  # fmt: skip
    rows.append({
        "name": "vggish", "architecture": "vggish", "dataset": "AudioSet",
        "layers": "embeddings (128), postprocessed (128, with PCA parameters)", "tags": 0,
        "licence": "Apache 2.0 (weights not shipped: load_vggish(path))",
        "source": "tensorflow/models research/audioset/vggish, or torchvggish's port",
    })  # fmt: skip
    return pd.DataFrame(rows).set_index("name")


def load_model(name: str, device: str | torch.device = "auto", precision: str = "auto") -> Tagger:
    """A pretrained tagger by name: ``musicnn-msd``, ``musicnn-mtt``, ``vgg-msd``, ``vgg-mtt``.

    The weights are shipped in the package: nothing is downloaded.

    Parameters
    ----------
    name : str
        ``"musicnn-msd"``, ``"musicnn-mtt"``, ``"vgg-msd"`` or ``"vgg-mtt"``.
    device : str or torch.device, default: "auto"
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU.
    precision : {"auto", "float32", "tf32", "bf16"}, default: "auto"
        The arithmetic of the network: ``"float32"`` (parity with the originals to ~1e-5),
        ``"tf32"`` (TensorFloat-32 matrix products on NVIDIA GPUs: taggrams within ~6e-4, 2.3x
        faster on an H100) or ``"bf16"`` (bfloat16 autocast: ~1e-2); ``"auto"`` is ``"tf32"``
        on CUDA and ``"float32"`` elsewhere. The mel frontend always runs in float32.

    Returns
    -------
    Tagger
        The model, in eval mode on ``device``. Its :meth:`~Tagger.embed` gives, per 2.992 s
        patch, ``taggrams`` (50) and ``embeddings`` (200 for MusiCNN, 256 for VGG), plus
        MusiCNN's ``penultimate`` (200) and ``pooled`` (1506).

    Raises
    ------
    ValueError
        An unknown ``name`` (``"vggish"``: its weights are not shipped, see
        :func:`load_vggish`) or ``precision``.
    """
    if name == "vggish":
        raise ValueError(
            "VGGish's weights are not shipped with embedexplore: download Google's "
            "vggish_model.ckpt (or torchvggish's vggish-10086976.pth) and load it with "
            "embedexplore.models.load_vggish(path); see that function's documentation"
        )
    try:
        bundle = BUNDLES[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(BUNDLES)}") from None
    return bundle.get_model(device, precision)


class Tagger:
    """A pretrained model ready to embed audio (see :func:`load_model`).

    Parameters
    ----------
    bundle : TaggerBundle
        What the network is (name, tag labels).
    network : torch.nn.Module
        The network with its weights loaded (:class:`MusiCNN` or :class:`VGG`); moved to
        ``device`` and put in eval mode.
    device : str or torch.device, default: "auto"
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU.
    precision : {"auto", "float32", "tf32", "bf16"}, default: "auto"
        The network's arithmetic: see :func:`load_model`.

    Attributes
    ----------
    name : str
        The bundle's name, e.g. ``"musicnn-msd"``.
    labels : tuple of str
        The 50 tag names, in the order of the ``taggrams`` columns.
    layers : dict of str to int
        Layer names and their dimensions.
    device : torch.device
        Where the network and the frontend run.
    precision : str
        ``"float32"``, ``"tf32"`` or ``"bf16"`` (``"auto"`` resolved): see :func:`load_model`.
    bundle : TaggerBundle
        The bundle it was made from.
    network : torch.nn.Module
        The network itself: log-mel patches ``[batch, 187, 96]`` -> dict of layers.
    frontend : MelFrontend
        Waveform -> log-mel spectrogram, on the same device.

    Raises
    ------
    ValueError
        An unknown ``precision``.
    """

    def __init__(
        self,
        bundle: TaggerBundle,
        network: torch.nn.Module,
        *,
        device: str | torch.device = "auto",
        precision: str = "auto",
    ) -> None:
        if precision == "auto":
            precision = AUTO_PRECISION.get(resolve_device(device).type, "float32")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS} or 'auto', got {precision!r}")
        self.precision = precision
        if precision == "bf16" and resolve_device(device).type == "cpu":
            logger.warning(
                "bf16 on the CPU is emulated unless the CPU has native bfloat16 (AVX512-BF16, "
                "AMX): it can be 15x slower than float32, and moves taggrams by ~1e-2"
            )
        self.bundle = bundle
        self.name = bundle.name
        self.labels = bundle.labels
        self.device = resolve_device(device)
        self.network = network.to(self.device).eval()
        if isinstance(network, VGG):
            # VGG's 128-channel 3x3 convolutions run faster in NHWC: 1.5-1.6x with oneDNN on 2
            # CPU cores, 1.07-1.08x with cuDNN on an H100 (outputs unchanged there: measured
            # by benchmarks/gpu_profile.py). MusiCNN's one-channel convolutions gain nothing
            # (CUDA) or lose (CPU) that way.
            self.network = self.network.to(memory_format=torch.channels_last)
        # frames are cut from a zero-padded signal here, so the frontend itself does not centre
        self.frontend = MelFrontend(center=False).to(self.device)
        self.layers = dict(network.dims)

    def __repr__(self) -> str:
        return f"<Tagger {self.name} on {self.device} ({self.precision}): layers {self.layers}>"

    @torch.inference_mode()
    def embed(
        self,
        waveform: np.ndarray | torch.Tensor,
        sample_rate: int = _SAMPLE_RATE,
        *,
        batch_size: int = 64,
    ) -> dict[str, np.ndarray]:
        """Every layer for each 2.992 s patch of a mono waveform.

        Parameters
        ----------
        waveform : numpy.ndarray or torch.Tensor
            Mono audio of shape ``(n,)``: float (full scale +-1) or integer PCM (scaled to +-1),
            any sample rate (resampled to 16 kHz with soxr HQ if needed).
        sample_rate : int, default: 16000
            Its sample rate in Hz.
        batch_size : int, default: 64
            Patches per forward pass (memory bound on the device).

        Returns
        -------
        dict of str to numpy.ndarray
            One entry per layer in :attr:`layers`, each a ``float32`` array of shape
            ``(n_patches, dim)``: e.g. ``(n_patches, 50)`` for ``taggrams``,
            ``(n_patches, 200)`` for MusiCNN's ``embeddings``. Row ``k`` is patch ``k``, starting at
            ``k * 2.992`` s; see the module docstring for the edges.

        Raises
        ------
        ValueError
            ``batch_size`` below 1, a waveform that is not 1-D, not real or not finite, or a
            sample rate that is not positive.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        patches = self.patches(waveform, sample_rate)
        outputs: dict[str, list[np.ndarray]] = {k: [] for k in self.layers}
        for i in range(0, len(patches), batch_size):
            batch = self.forward(patches[i : i + batch_size])
            for k in outputs:
                outputs[k].append(batch[k].float().cpu().numpy())
        return {
            k: np.concatenate(v) if v else np.zeros((0, self.layers[k]), np.float32)
            for k, v in outputs.items()
        }

    @torch.inference_mode()
    def forward(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network on log-mel patches ``[batch, 187, 96]``, in :attr:`precision`.

        Parameters
        ----------
        patches : torch.Tensor
            Log-mel patches of shape ``(batch, 187, 96)`` (as :meth:`patches` returns them),
            moved to :attr:`device` as ``float32``.

        Returns
        -------
        dict of str to torch.Tensor
            One entry per layer in :attr:`layers`, each a ``float32`` tensor of shape
            ``(batch, dim)`` on :attr:`device`.
        """
        patches = patches.to(self.device, torch.float32)
        if self.precision == "bf16":
            with torch.autocast(self.device.type, dtype=torch.bfloat16):
                out = self.network(patches)
        else:
            with tf32(self.precision == "tf32", self.device):
                out = self.network(patches)
        return {k: v.float() for k, v in out.items()}

    @torch.inference_mode()
    def patches(
        self, waveform: np.ndarray | torch.Tensor, sample_rate: int = _SAMPLE_RATE
    ) -> torch.Tensor:
        """The log-mel patches the network reads, on :attr:`device`.

        Parameters
        ----------
        waveform : numpy.ndarray or torch.Tensor
            Mono audio of shape ``(n,)``, as for :meth:`embed`.
        sample_rate : int, default: 16000
            Its sample rate in Hz.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(n_patches, 187, 96)`` (187 mel frames of 96 bands,
            2.992 s each): ``n_patches = (1 + m // 256) // 187`` for ``m`` samples at 16 kHz,
            after a non-empty waveform shorter than 47,616 samples is repeated to that length;
            0 for an empty waveform.

        Raises
        ------
        ValueError
            A waveform that is not 1-D, not real or not finite, or a sample rate that is not
            positive.
        """
        x = mono_16k(waveform, sample_rate)
        if x.size == 0:
            return torch.zeros((0, PATCH_FRAMES, N_MELS), device=self.device)
        minimum = (PATCH_FRAMES - 1) * HOP_LENGTH  # samples giving 187 centred frames
        if x.size < minimum:
            x = np.tile(x, -(-minimum // x.size))[:minimum]  # repeat-pad, as musicnn's training
        n_frames = 1 + x.size // HOP_LENGTH
        n_patches = n_frames // PATCH_FRAMES
        # centred frames: frame i is the window around sample i * 256 of the zero-padded signal
        padded = np.zeros(x.size + N_FFT, np.float32)
        padded[N_FFT // 2 : N_FFT // 2 + x.size] = x
        out = torch.empty((n_patches, PATCH_FRAMES, N_MELS), device=self.device)
        step = _FRONTEND_PATCHES  # a few minutes of audio at a time bounds the STFT's memory
        for p0 in range(0, n_patches, step):
            p1 = min(n_patches, p0 + step)
            a = p0 * PATCH_FRAMES * HOP_LENGTH
            b = (p1 * PATCH_FRAMES - 1) * HOP_LENGTH + N_FFT
            signal = torch.from_numpy(padded[a:b]).to(self.device)
            logmel = self.frontend(signal.unsqueeze(0))[0]  # [(p1 - p0) * 187, 96]
            out[p0:p1] = logmel.reshape(p1 - p0, PATCH_FRAMES, N_MELS)
        return out
