"""VGGish's input pipeline: waveforms at 16 kHz -> log-mel examples of 0.96 s.

``vggish_params.py``'s constants, ``mel_features.spectrogram_to_mel_matrix`` and
``vggish_input.waveform_to_examples`` (tensorflow/models ``research/audioset/vggish``, Apache 2.0)
in PyTorch; the steps are described in :mod:`embedexplore.models.vggish_net`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..clock import VGGISH, VGGISH_EXAMPLE_FRAMES, VGGISH_FRAME, VGGISH_FRAME_HOP

__all__ = [
    "EXAMPLE_FRAMES",
    "EXAMPLE_HOP_SAMPLES",
    "EXAMPLE_SAMPLES",
    "SAMPLE_RATE",
    "VGGishFrontend",
    "vggish_mel_matrix",
]

# vggish_params.py
# VGGish's clock (its sample rate, frames and examples) is declared in embedexplore.clock
SAMPLE_RATE = VGGISH.sample_rate
WINDOW_LENGTH = VGGISH_FRAME  # 25 ms
HOP_LENGTH = VGGISH_FRAME_HOP  # 10 ms
FFT_LENGTH = 512  # 2 ** ceil(log2(400))
N_MELS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_FRAMES = VGGISH_EXAMPLE_FRAMES
"""Frames per example (0.96 s)."""
EXAMPLE_SAMPLES = (EXAMPLE_FRAMES - 1) * HOP_LENGTH + WINDOW_LENGTH
"""Samples one example reads (15600, 0.975 s): the shortest waveform that yields one example."""
EXAMPLE_HOP_SAMPLES = EXAMPLE_FRAMES * HOP_LENGTH
"""Samples between the starts of successive examples (15360, 0.96 s)."""


def _periodic_hann(n: int) -> np.ndarray:
    """The periodic Hann window ``0.5 - 0.5 cos(2 pi i / n)``, ``i = 0 .. n-1`` (float64)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _hz_to_mel(hz):
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def vggish_mel_matrix(
    n_mels: int = N_MELS,
    n_bins: int = FFT_LENGTH // 2 + 1,
    sample_rate: int = SAMPLE_RATE,
    fmin: float = MEL_MIN_HZ,
    fmax: float = MEL_MAX_HZ,
) -> np.ndarray:
    """The mel weights of ``mel_features.spectrogram_to_mel_matrix``.

    Parameters
    ----------
    n_mels : int, default: 64
        Mel bands.
    n_bins : int, default: 257
        Frequency bins of the magnitude spectrum (``n_fft // 2 + 1``).
    sample_rate : int, default: 16000
        Sample rate of the audio in Hz.
    fmin, fmax : float, default: 125.0, 7500.0
        Lowest and highest edge of the bands in Hz.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(n_bins, n_mels)``: ``mel = magnitude @ matrix``. Bin ``j``
        is at ``j * (sr / 2) / (n_bins - 1)`` Hz; band ``i`` is the triangle over the HTK-mel
        edges ``e[i], e[i+1], e[i+2]`` (``n_mels + 2`` points evenly spaced in mel from ``fmin``
        to ``fmax``), linear in mel, peak 1; row 0 (DC) is zero.

    Raises
    ------
    ValueError
        Unless ``0 <= fmin < fmax <= sample_rate / 2``.
    """
    if not 0.0 <= fmin < fmax <= sample_rate / 2:
        raise ValueError(f"need 0 <= fmin < fmax <= {sample_rate / 2}, got {fmin}, {fmax}")
    bins = _hz_to_mel(np.linspace(0.0, sample_rate / 2, n_bins))[:, None]  # [n_bins, 1]
    edges = np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]  # [n_mels] each
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0] = 0.0  # the DC bin, as HTK
    return weights


class VGGishFrontend(nn.Module):
    """Waveforms ``[batch, samples]`` at 16 kHz -> VGGish's log-mel examples ``[n, 96, 64]``.

    The arithmetic is float32 (the original: float64 NumPy); the steps are described in
    :mod:`embedexplore.models.vggish_net`. The window and the mel matrix are buffers, so the
    module runs on any device.
    """

    def __init__(self) -> None:
        super().__init__()
        window = torch.from_numpy(_periodic_hann(WINDOW_LENGTH)).float()
        self.register_buffer("window", window, persistent=False)
        mel = torch.from_numpy(vggish_mel_matrix()).float()
        self.register_buffer("mel_basis", mel, persistent=False)  # [257, 64]

    def extra_repr(self) -> str:
        return (
            f"sr={SAMPLE_RATE}, window={WINDOW_LENGTH}, hop={HOP_LENGTH}, n_fft={FFT_LENGTH}, "
            f"n_mels={N_MELS} ({MEL_MIN_HZ:g}-{MEL_MAX_HZ:g} Hz), examples of {EXAMPLE_FRAMES}"
        )

    def magnitude(self, waveform: torch.Tensor) -> torch.Tensor:
        """The STFT magnitude of 25 ms frames every 10 ms (periodic Hann, 512-point FFT).

        Parameters
        ----------
        waveform : torch.Tensor
            Audio at 16 kHz of shape ``(batch, samples)`` or ``(samples,)``.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(batch, frames, 257)`` (``batch`` 1 for a 1-D
            waveform), ``frames = 1 + (samples - 400) // 160``, zero when ``samples < 400``.
        """
        x = waveform.float()
        if x.ndim == 1:
            x = x.unsqueeze(0)
        if x.shape[-1] < WINDOW_LENGTH:
            return x.new_zeros((x.shape[0], 0, FFT_LENGTH // 2 + 1))
        frames = x.unfold(-1, WINDOW_LENGTH, HOP_LENGTH) * self.window  # [B, T, 400]
        return torch.fft.rfft(frames, n=FFT_LENGTH).abs()

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """The log-mel spectrogram ``log(mel + 0.01)``.

        Parameters
        ----------
        waveform : torch.Tensor
            Audio at 16 kHz of shape ``(batch, samples)`` or ``(samples,)``.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(batch, frames, 64)``, frames as :meth:`magnitude`.
        """
        return torch.log(self.magnitude(waveform) @ self.mel_basis + LOG_OFFSET)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """The log-mel examples of each waveform.

        Parameters
        ----------
        waveform : torch.Tensor
            Audio at 16 kHz of shape ``(batch, samples)`` or ``(samples,)``.

        Returns
        -------
        torch.Tensor
            ``float32`` tensor of shape ``(batch * n_examples, 96, 64)``, with
            ``n_examples = frames // 96`` per waveform; rows ``b * n_examples ..`` are waveform
            ``b``'s examples in time order. Empty when a waveform is shorter than 15600 samples.
        """
        logmel = self.log_mel(waveform)
        batch, frames, _ = logmel.shape
        n = frames // EXAMPLE_FRAMES
        return logmel[:, : n * EXAMPLE_FRAMES].reshape(batch * n, EXAMPLE_FRAMES, N_MELS)
