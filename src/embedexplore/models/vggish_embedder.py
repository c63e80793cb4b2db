"""VGGish on audio: :class:`VGGishEmbedder` (a whole waveform at any sample rate) and
:class:`VGGishSegments` (batches of fixed-length segments, as a pipeline cuts them).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from .arithmetic import tf32
from .vggish_frontend import (
    EXAMPLE_FRAMES,
    EXAMPLE_HOP_SAMPLES,
    EXAMPLE_SAMPLES,
    HOP_LENGTH,
    N_MELS,
    SAMPLE_RATE,
    WINDOW_LENGTH,
    VGGishFrontend,
)
from .vggish_network import VGGish
from .waveform import mono_16k, resolve_device

__all__ = ["SEGMENT_HOP_SAMPLES", "SEGMENT_SAMPLES", "VGGishEmbedder", "VGGishSegments", "layers"]

_FRONTEND_EXAMPLES = 64  # examples per frontend call in VGGishEmbedder (about a minute of audio)

SEGMENT_SAMPLES = EXAMPLE_SAMPLES
"""Samples per segment (15600 at 16 kHz, 0.975 s): what one example reads, 95 hops and a window."""
SEGMENT_HOP_SAMPLES = EXAMPLE_HOP_SAMPLES
"""Samples between the starts of successive segments (15360, 0.96 s): one example's hop."""


@contextlib.contextmanager
def _float32(device: torch.device) -> Iterator[None]:
    """float32 arithmetic inside the block, as the original, whatever the caller chose for other
    models: TF32 forbidden on CUDA, any surrounding autocast (bf16) turned off. Besides the
    embeddings' own accuracy, the postprocessor's 8-bit steps magnify small errors into whole
    units."""
    # torch.autocast knows these two on every torch embedexplore supports (and refuses "meta")
    if device.type in ("cpu", "cuda"):
        no_autocast = torch.autocast(device.type, enabled=False)
    else:
        no_autocast = contextlib.nullcontext()
    with tf32(False, device), no_autocast:
        yield


class VGGishEmbedder:
    """VGGish with its input pipeline, ready to embed audio (see
    :func:`~embedexplore.models.vggish_net.load_vggish`).

    Parameters
    ----------
    network : VGGish
        The network with its weights loaded; moved to ``device`` and put in eval mode.
    device : str or torch.device, default: "cpu"
        ``"auto"`` picks CUDA when a GPU is visible, else the CPU.
    source : str, default: ""
        Where the weights came from (shown by ``repr``).

    Attributes
    ----------
    name : str
        ``"vggish"``.
    layers : dict of str to int
        ``{"embeddings": 128}``, plus ``"postprocessed": 128`` with PCA parameters.
    device : torch.device
        Where the network and the frontend run.
    network : VGGish
        Log-mel examples ``[batch, 96, 64]`` -> dict of layers, in eval mode.
    frontend : VGGishFrontend
        Waveform -> log-mel examples, on the same device.
    source : str
        Where the weights came from.

    Notes
    -----
    Short input: a waveform shorter than one example (15600 samples, 0.975 s, at 16 kHz) yields
    no example in the original. By default (``pad_short=True``) a non-empty one is repeated until
    it fills one example, as embedexplore does for its other models, so every non-empty track
    gets one row; ``pad_short=False`` keeps the original's behaviour (zero rows). An empty
    waveform always yields zero rows.
    """

    name = "vggish"

    def __init__(
        self, network: VGGish, *, device: str | torch.device = "cpu", source: str = ""
    ) -> None:
        self.device = resolve_device(device)
        self.network = network.to(self.device).eval()
        self.frontend = VGGishFrontend().to(self.device)
        self.layers = dict(network.dims)
        self.source = source

    def __repr__(self) -> str:
        return f"<VGGishEmbedder on {self.device}: layers {self.layers}, weights {self.source}>"

    @torch.inference_mode()
    def examples(
        self,
        waveform: np.ndarray | torch.Tensor,
        sample_rate: int = SAMPLE_RATE,
        *,
        pad_short: bool = True,
    ) -> torch.Tensor:
        """The log-mel examples of a mono waveform, on :attr:`device`.

        Example ``k`` starts at ``k * 0.96`` s; see the class notes for short input.

        Parameters
        ----------
        waveform : numpy.ndarray or torch.Tensor
            Mono audio of shape ``(n,)``, as for :meth:`embed`.
        sample_rate : int, default: 16000
            Its sample rate in Hz.
        pad_short : bool, default: True
            Repeat a waveform shorter than one example until it fills one.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(n_examples, 96, 64)``: 96 frames of 64 log-mel bands
            each, ``n_examples = (1 + (m - 400) // 160) // 96`` for ``m >= 400`` samples at
            16 kHz (after padding), else 0.

        Raises
        ------
        ValueError
            A waveform that is not 1-D, not real or not finite, or a sample rate that is not
            positive.
        """
        x = mono_16k(waveform, sample_rate)
        if pad_short and 0 < x.size < EXAMPLE_SAMPLES:
            x = np.tile(x, -(-EXAMPLE_SAMPLES // x.size))[:EXAMPLE_SAMPLES]
        n_frames = 1 + (x.size - WINDOW_LENGTH) // HOP_LENGTH if x.size >= WINDOW_LENGTH else 0
        n = n_frames // EXAMPLE_FRAMES
        out = torch.empty((n, EXAMPLE_FRAMES, N_MELS), device=self.device)
        with _float32(self.device):
            for p0 in range(0, n, _FRONTEND_EXAMPLES):  # bounds the STFT's memory
                p1 = min(n, p0 + _FRONTEND_EXAMPLES)
                a, b = p0 * EXAMPLE_HOP_SAMPLES, (p1 - 1) * EXAMPLE_HOP_SAMPLES + EXAMPLE_SAMPLES
                out[p0:p1] = self.frontend(torch.from_numpy(x[a:b]).to(self.device))
        return out

    @torch.inference_mode()
    def forward(self, examples: torch.Tensor) -> dict[str, torch.Tensor]:
        """The network on log-mel examples, in float32 (no TF32, no autocast: as the original).

        Parameters
        ----------
        examples : torch.Tensor
            ``float32`` tensor of shape ``(batch, 96, 64)`` (as :meth:`examples` returns them),
            moved to :attr:`device`.

        Returns
        -------
        dict of str to torch.Tensor
            One entry per layer in :attr:`layers`, each a ``float32`` tensor of shape
            ``(batch, 128)`` on :attr:`device`.
        """
        with _float32(self.device):
            out = self.network(examples.to(self.device))
        return {k: v.float() for k, v in out.items()}

    @torch.inference_mode()
    def embed(
        self,
        waveform: np.ndarray | torch.Tensor,
        sample_rate: int = SAMPLE_RATE,
        *,
        batch_size: int = 64,
        pad_short: bool = True,
    ) -> dict[str, np.ndarray]:
        """Every layer for each 0.96 s example of a mono waveform.

        Parameters
        ----------
        waveform : numpy.ndarray or torch.Tensor
            Mono audio of shape ``(n,)``, float in [-1, 1] (the original reads 16-bit WAV /
            32768; integer PCM is scaled so), any sample rate (resampled to 16 kHz with soxr HQ
            if needed).
        sample_rate : int, default: 16000
            Its sample rate in Hz.
        batch_size : int, default: 64
            Examples per forward pass.
        pad_short : bool, default: True
            Repeat a waveform shorter than one example until it fills one (see the class notes).

        Returns
        -------
        dict of str to numpy.ndarray
            One entry per layer in :attr:`layers`, each a ``float32`` array of shape
            ``(n_examples, 128)``; row ``k`` is the example starting at ``k * 0.96`` s.

        Raises
        ------
        ValueError
            A waveform that is not 1-D, not real or not finite, a sample rate that is not
            positive, or ``batch_size < 1``.
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        examples = self.examples(waveform, sample_rate, pad_short=pad_short)
        outputs: dict[str, list[np.ndarray]] = {k: [] for k in self.layers}
        for i in range(0, len(examples), batch_size):
            batch = self.forward(examples[i : i + batch_size])
            for k in outputs:
                outputs[k].append(batch[k].cpu().numpy())
        return {
            k: np.concatenate(v) if v else np.zeros((0, self.layers[k]), np.float32)
            for k, v in outputs.items()
        }


class VGGishSegments(nn.Module):
    """VGGish on a batch of segments: waveforms ``[batch, 15600]`` at 16 kHz -> 128-d per layer.

    The interface of a model run on fixed-length segments: a track at :attr:`sample_rate` is cut
    into segments of :attr:`segment_samples` every :attr:`hop_samples` (segment ``k`` is samples
    ``k * 15360 .. k * 15360 + 15599``, ``1 + (n - 15600) // 15360`` of them, a shorter non-empty
    track repeated until it fills one), and each segment is exactly one VGGish example: segment
    ``k`` is example ``k`` of :meth:`VGGishEmbedder.embed` on the same track, and the counts agree.

    Parameters
    ----------
    network : VGGish
        The network with its weights loaded, e.g. ``load_vggish(path).network``; kept (not
        copied) as the submodule :attr:`network` and put in eval mode. The frontend is created on
        its device; ``.to(device)`` moves both.

    Attributes
    ----------
    sample_rate : int
        ``16000``: the segments' sample rate in Hz.
    segment_samples : int
        ``SEGMENT_SAMPLES`` (15600, 0.975 s): samples per segment.
    hop_samples : int
        ``SEGMENT_HOP_SAMPLES`` (15360, 0.96 s): samples between the starts of segments.
    layers : dict of str to int
        The outputs and their sizes, as :func:`layers`: ``{"embeddings": 128}``, plus
        ``"postprocessed": 128`` when the network holds PCA parameters.
    network : VGGish
        Log-mel examples -> dict of layers.
    frontend : VGGishFrontend
        Waveforms -> log-mel examples, on the network's device.

    Notes
    -----
    The arithmetic is float32 on every device, as the original's and :meth:`VGGishEmbedder.forward`:
    TF32 is forbidden on CUDA and any surrounding autocast turned off inside :meth:`forward`.
    Gradients are not switched off: run it under ``torch.inference_mode()``.
    """

    sample_rate = SAMPLE_RATE
    segment_samples = SEGMENT_SAMPLES
    hop_samples = SEGMENT_HOP_SAMPLES

    def __init__(self, network: VGGish) -> None:
        super().__init__()
        if not isinstance(network, VGGish):
            raise TypeError(f"VGGishSegments wraps a VGGish network, not {type(network).__name__}")
        device = next(network.parameters()).device
        self.network = network.eval()
        self.frontend = VGGishFrontend().to(device)
        self.layers = layers(network)

    def extra_repr(self) -> str:
        return (
            f"sr={self.sample_rate}, segment={self.segment_samples}, hop={self.hop_samples}, "
            f"layers={self.layers}"
        )

    def forward(self, segments: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every layer for each segment.

        Parameters
        ----------
        segments : torch.Tensor
            Tensor of shape ``(batch, 15600)``: each row one segment of mono audio at 16 kHz,
            float in [-1, 1]; cast to ``float32`` and moved to the module's device if it is not
            there already.

        Returns
        -------
        dict of str to torch.Tensor
            One entry per layer in :attr:`layers`, each a ``float32`` tensor of shape
            ``(batch, 128)`` on the module's device; row ``b`` is segment ``b``'s.

        Raises
        ------
        ValueError
            ``segments`` not of shape ``(batch, 15600)``.
        """
        if segments.ndim != 2 or segments.shape[1] != SEGMENT_SAMPLES:
            raise ValueError(
                f"VGGishSegments takes segments of shape (batch, {SEGMENT_SAMPLES}) at "
                f"{SAMPLE_RATE} Hz, got {tuple(segments.shape)}"
            )
        device = self.frontend.window.device
        if not len(segments):  # MKL's FFT refuses an empty batch
            return {k: torch.zeros((0, dim), device=device) for k, dim in self.layers.items()}
        x = segments.to(device=device, dtype=torch.float32)
        with _float32(device):
            # 96 frames of 400 every 160 fill 15600 samples: exactly one example per segment
            out = self.network(self.frontend(x))
        return {k: v.float() for k, v in out.items()}


def layers(network: VGGish | VGGishSegments | VGGishEmbedder) -> dict[str, int]:
    """The output layers of a VGGish and their sizes, read from its configuration (nothing runs).

    Parameters
    ----------
    network : VGGish, VGGishSegments or VGGishEmbedder
        The network, or either of its wrappers.

    Returns
    -------
    dict of str to int
        ``{"embeddings": 128}``, plus ``"postprocessed": 128`` when the network holds PCA
        parameters, in the order :meth:`VGGishSegments.forward` returns them.

    Raises
    ------
    TypeError
        ``network`` is none of these.
    """
    if isinstance(network, VGGishSegments | VGGishEmbedder):
        network = network.network
    if not isinstance(network, VGGish):
        raise TypeError(f"not a VGGish network: {type(network).__name__}")
    return dict(network.dims)
