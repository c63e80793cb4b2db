"""The models' input: a log-compressed mel spectrogram, as an ``nn.Module`` on nnAudio.

musicnn's extractor computes ``librosa.feature.melspectrogram(y, sr=16000, hop_length=256,
n_fft=512, n_mels=96)`` (centred frames padded with zeros, Hann window, power 2, Slaney mel scale
with Slaney area normalisation, fmax 8 kHz), casts it to float16 and applies
``log10(10000 * x + 1)``. :class:`MelFrontend` does the same on the device where the models run:
nnAudio's mel spectrogram (an STFT as a 1-D convolution, librosa's filterbank), then the float16
rounding (emulated in float32 arithmetic: numpy 2 overflows multiplying a float16 array by 10000)
and the log compression.

Zero padding of the centred frames follows librosa >= 0.10 (and the project's specification).
The librosa of 2019 that musicnn 0.1.0 ran with padded by reflection instead; that changes the
first frame of a track only, and moves the first patch's taggrams by up to 0.011 (MusiCNN) and
0.004 (VGG), measured in review; later patches are unaffected.
"""

from __future__ import annotations

import torch
from nnAudio.features import MelSpectrogram
from torch import nn

from ..clock import MEL_HOP as HOP_LENGTH
from ..clock import SAMPLE_RATE
from .arithmetic import tf32

__all__ = ["MelFrontend"]

N_FFT = 512
N_MELS = 96


class MelFrontend(nn.Module):
    """Waveforms ``[batch, samples]`` at 16 kHz -> log-mel ``[batch, frames, 96]``.

    ``frames = 1 + samples // 256`` (centred frames, zero padding, as librosa); with
    ``center=False`` the caller pads, and ``frames = 1 + (samples - 512) // 256``.
    ``float16_rounding`` rounds the mel power to the nearest float16 value before the log, as the
    original did (its measured effect on the models' outputs: ``tests/test_frontend.py``).
    """

    def __init__(self, *, float16_rounding: bool = True, center: bool = True) -> None:
        super().__init__()
        self.float16_rounding = float16_rounding
        self.center = center
        self.mel = MelSpectrogram(
            sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS, window="hann",
            center=center, pad_mode="constant", power=2.0, htk=False, fmin=0.0, fmax=None, norm=1,
            trainable_mel=False, trainable_STFT=False, verbose=False,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"sr={SAMPLE_RATE}, n_fft={N_FFT}, hop={HOP_LENGTH}, n_mels={N_MELS}, "
            f"center={self.center}, float16_rounding={self.float16_rounding}"
        )

    def power(self, waveform: torch.Tensor) -> torch.Tensor:
        """The mel power spectrogram ``[batch, frames, 96]`` (librosa's, before any rounding)."""
        if waveform.ndim == 1:
            waveform = waveform.unsqueeze(0)
        with tf32(False, waveform.device):  # the STFT is a convolution: float32 on GPUs too
            return self.mel(waveform.float()).transpose(1, 2)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.power(waveform)
        if self.float16_rounding:
            # round to float16's grid, then compute in float32 (float16 would overflow at 10000 x)
            x = x.clamp(max=65504.0).half().float()
        return torch.log10(10000.0 * x + 1.0)
