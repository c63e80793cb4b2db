"""A built-in tagger ready to embed audio: the shared log-mel frontend and a network.

Each tagger reads non-overlapping patches of 187 mel frames (2.992 s at 16 kHz, the clock
:data:`embedexplore.clock.ORIGINAL`) and returns, per patch, its tag activations ("taggrams",
50-d) and the layer before ("embeddings": 200-d for MusiCNN, 256-d for VGG), plus MusiCNN's
"penultimate" and "pooled" layers. The weights are the original trained weights of musicnn 0.1.0
(ISC licence), converted and shipped in the package: loading a model never touches the network.

What happens at the edges of a track: patch ``k`` covers mel frames ``187k .. 187k+186`` of the
centred spectrogram of the whole track, i.e. starts at ``k * 2.992`` s. A final partial patch is
dropped, as in the original (so every segment is exactly 2.992 s long). A waveform shorter than one
patch is repeated until it fills one (musicnn's training data was "repeat-padded" the same way),
so that every non-empty track yields at least one segment; an empty waveform yields none.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ..clock import MEL_HOP, PATCH_FRAMES, SAMPLE_RATE
from ..registry import WEIGHTS, ModelSpec
from .arithmetic import tf32
from .frontend import N_FFT, N_MELS, MelFrontend
from .vgg_net import VGG
from .waveform import mono_16k, resolve_device

__all__ = ["AUTO_PRECISION", "PRECISIONS", "Tagger", "build_tagger"]

logger = logging.getLogger(__name__)

PRECISIONS = ("float32", "tf32", "bf16")
#: What ``precision="auto"`` means on each kind of device. TF32 on NVIDIA GPUs: measured on an
#: H100 (benchmarks/results/gpu_check-2026-11-26-h100.log) it moves taggrams by <= 6.3e-4 and
#: embeddings by <= 1.0e-3 relative, within the 2e-3 a default may cost, for 2.3x the float32
#: throughput of all four models. Float32 elsewhere (the CPU has no TF32).
AUTO_PRECISION = {"cuda": "tf32"}
_FRONTEND_PATCHES = 64


def build_tagger(
    spec: ModelSpec, device: str | torch.device = "auto", precision: str = "auto"
) -> Tagger:
    """The built-in tagger ``spec`` with its shipped weights, in eval mode, on ``device``.

    Parameters
    ----------
    spec : embedexplore.registry.ModelSpec
        A model of kind ``"tagger"``.
    device : str or torch.device, default: "auto"
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU.
    precision : {"auto", "float32", "tf32", "bf16"}, default: "auto"
        The network's arithmetic: see :func:`embedexplore.load_model`.

    Returns
    -------
    Tagger
        The network with the shipped weights, ready to :meth:`~Tagger.embed` audio.
    """
    from safetensors.torch import load_file

    from .runner import resolve

    network = resolve(spec.factory)(**spec.params)
    network.load_state_dict(load_file(WEIGHTS / spec.weights), strict=True)
    return Tagger(spec, network.eval(), device=device, precision=precision)


class Tagger:
    """A pretrained model ready to embed audio (see :func:`load_model`).

    Parameters
    ----------
    spec : embedexplore.registry.ModelSpec
        What the network is (name, tag labels, layers, clock).
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
        The model's name, e.g. ``"musicnn-msd"``.
    labels : tuple of str
        The 50 tag names, in the order of the ``taggrams`` columns.
    layers : dict of str to int
        Layer names and their dimensions.
    device : torch.device
        Where the network and the frontend run.
    precision : str
        ``"float32"``, ``"tf32"`` or ``"bf16"`` (``"auto"`` resolved): see :func:`load_model`.
    spec : embedexplore.registry.ModelSpec
        The registry's declaration of the model.
    clock : embedexplore.clock.Clock
        Its segment clock (:data:`embedexplore.clock.ORIGINAL`).
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
        spec: ModelSpec,
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
        self.spec = spec
        self.name = spec.name
        self.labels = spec.labels
        self.clock = spec.clock
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
        sample_rate: int = SAMPLE_RATE,
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
        self, waveform: np.ndarray | torch.Tensor, sample_rate: int = SAMPLE_RATE
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
        minimum = (PATCH_FRAMES - 1) * MEL_HOP  # samples giving 187 centred frames
        if x.size < minimum:
            x = np.tile(x, -(-minimum // x.size))[:minimum]  # repeat-pad, as musicnn's training
        n_frames = 1 + x.size // MEL_HOP
        n_patches = n_frames // PATCH_FRAMES
        # centred frames: frame i is the window around sample i * 256 of the zero-padded signal
        padded = np.zeros(x.size + N_FFT, np.float32)
        padded[N_FFT // 2 : N_FFT // 2 + x.size] = x
        out = torch.empty((n_patches, PATCH_FRAMES, N_MELS), device=self.device)
        step = _FRONTEND_PATCHES  # a few minutes of audio at a time bounds the STFT's memory
        for p0 in range(0, n_patches, step):
            p1 = min(n_patches, p0 + step)
            a = p0 * PATCH_FRAMES * MEL_HOP
            b = (p1 * PATCH_FRAMES - 1) * MEL_HOP + N_FFT
            signal = torch.from_numpy(padded[a:b]).to(self.device)
            logmel = self.frontend(signal.unsqueeze(0))[0]  # [(p1 - p0) * 187, 96]
            out[p0:p1] = logmel.reshape(p1 - p0, PATCH_FRAMES, N_MELS)
        return out
