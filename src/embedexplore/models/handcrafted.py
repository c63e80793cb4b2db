"""Two baselines that need no weights: MFCC and chroma statistics per segment, on the device.

A learned embedding is worth what it adds over the classic descriptors; these are the classic
descriptors, computed per segment as librosa computes them, but as PyTorch modules that run
batched on the device the models run on.

Definitions (``segment``: one row of the input, a mono waveform at ``sample_rate`` Hz):

- :class:`MFCCStats` (40-d): ``M = librosa.feature.mfcc(y=segment, sr=sample_rate)`` with
  librosa's defaults, i.e. the power spectrogram of centred frames (``n_fft=2048``, hop 512,
  periodic Hann window, frames padded with zeros), 128 mel bands from 0 Hz to ``sample_rate / 2``
  (Slaney mel scale, Slaney area normalisation), ``power_to_db`` with ``ref=1.0``,
  ``amin=1e-10`` and a floor ``top_db=80`` dB below the segment's own maximum, then the
  orthonormal DCT-II over the bands, first 20 coefficients; the embedding is
  ``[M.mean(axis=1), M.std(axis=1)]`` (mean over frames, then the population standard deviation,
  ``ddof=0``).
- :class:`ChromaStats` (24-d): ``C = librosa.feature.chroma_stft(y=segment, sr=sample_rate,
  tuning=0.0)``, i.e. the same power spectrogram projected on ``librosa.filters.chroma`` (12
  pitch classes starting at C, a Gaussian octave weighting centred on octave 5 with half-width 2,
  each FFT bin's weights of unit L2 norm), each frame then divided by its largest bin; the
  embedding is ``[C.mean(axis=1), C.std(axis=1)]``. A frame whose largest bin is below float32's
  smallest normal number (silence) is left as it is, zeros (librosa's threshold is float64's
  smallest normal number: frames between the two are beyond float32 anyway).

  The tuning is fixed at A = 440 Hz (``tuning=0.0``): librosa's default estimates a tuning per
  call (from the spectral peaks of that segment alone), so that two segments of one track can be
  folded onto pitch classes that differ by a fraction of a semitone; a fixed reference keeps the
  pitch classes the same for every segment. How far librosa's default lies from ours is measured
  by the benchmark below, as information.

The STFT and the mel spectrogram, and for the MFCCs the dB conversion with its per-segment floor
and the DCT too, are nnAudio's (``nnAudio.features.MFCC`` and ``STFT``: librosa's definitions, as
1-D convolutions and a matrix product). nnAudio has no chroma, so the chroma filter bank is
written here from its definition (:func:`chroma_filter_bank`): no well-kept torch library provides
one, and torchaudio is not usable here (its PyPI builds are CUDA-only and fail to import on a
machine without a GPU).

Arithmetic: float32 throughout, on the input's device (TensorFloat-32 off on GPUs, as for the
models); a floating input of another precision (float64, float16) is converted to float32 first,
integer samples are refused (their scale is not that of a waveform in [-1, 1]).

Agreement with librosa 0.11 (float64 input, one call per segment), measured on all 447 segments
of 2.992 s (47,872 samples at 16 kHz, the segments the extraction gives the models) of 5 real
tracks with ``.venv/bin/python benchmarks/handcrafted_agreement.py`` (figures in
``benchmarks/results/handcrafted_agreement-2026-12-04-cpu.log``); largest absolute difference
(largest relative difference, where not near zero):

==========================  ================  ================  ================
feature                     absolute          relative          largest value
==========================  ================  ================  ================
MFCC means                  4.2e-5            4.4e-6            1131
MFCC standard deviations    2.1e-5            1.9e-6            207
chroma means                1.7e-7            4.9e-7            1
chroma standard deviations  1.6e-7            1.9e-6            0.49
==========================  ================  ================  ================

The tests hold the MFCC statistics to ``atol=2e-4, rtol=1e-6`` and the chroma statistics to
``atol=1e-6`` (``tests/test_handcrafted.py`` says why). librosa's default chroma (tuning
estimated per segment: from -0.50 to +0.43 of a semitone on these segments) differs from ours by
up to 0.20.
"""

from __future__ import annotations

import numpy as np
import torch
from nnAudio.features import MFCC, STFT
from torch import nn

from .arithmetic import tf32

__all__ = ["ChromaStats", "MFCCStats", "chroma_filter_bank"]

N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
N_MFCC = 20
N_CHROMA = 12

A0_HZ = 27.5
"""The reference of the chroma's octave numbers: A0, four octaves below A4 = 440 Hz."""
CENTRE_OCTAVE = 5.0
"""Centre of the chroma's Gaussian octave weighting, in octaves above A0 (A5, 880 Hz)."""
OCTAVE_WIDTH = 2.0
"""Half-width (standard deviation) of that weighting, in octaves."""


def chroma_filter_bank(sample_rate: int, n_fft: int = N_FFT) -> np.ndarray:
    """The weights that fold a power spectrum onto 12 pitch classes (librosa's chroma filters).

    Equal to ``librosa.filters.chroma(sr=sample_rate, n_fft=n_fft)`` with its defaults
    (``n_chroma=12, tuning=0.0, ctroct=5.0, octwidth=2, norm=2, base_c=True``), written from
    that definition rather than taken from librosa (not a dependency of the package).

    Parameters
    ----------
    sample_rate : int
        Sample rate of the audio in Hz.
    n_fft : int, default: 2048
        FFT length.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of shape ``(12, n_fft // 2 + 1)``; row 0 is C, row 9 is A. Each FFT bin
        ``k > 0`` (at ``f = k * sample_rate / n_fft`` Hz) sits at ``p = 12 * log2(f / 27.5)``
        semitones above A0; its weight on pitch class ``c`` (counted from A) is a Gaussian in
        the circular distance ``d`` from ``p`` to ``c`` (wrapped into [-6, 6)), of standard
        deviation half the bin's width in semitones (at least half a semitone). The weights of
        each bin have unit L2 norm over the 12 classes, then are scaled by a Gaussian in
        octaves, ``exp(-((p / 12 - 5) / 2) ** 2 / 2)``. The DC bin is placed 1.5 octaves below
        bin 1.
    """
    # semitones above A0 of every FFT bin up to (excluding) the sample rate; the bins above
    # Nyquist are dropped only at the end, as their positions set the width of the last kept one
    freqs = np.arange(1, n_fft) * (sample_rate / n_fft)
    semitones = N_CHROMA * np.log2(freqs / A0_HZ)
    semitones = np.concatenate([[semitones[0] - 1.5 * N_CHROMA], semitones])
    # a bin's Gaussian is as wide as the bin (to the next one, in semitones), but never narrower
    # than one pitch class: above ~1.6 kHz (at 2048 points) bins are closer than a semitone
    width = np.append(np.maximum(np.diff(semitones), 1.0), 1.0)
    half = N_CHROMA / 2
    distance = np.mod(semitones[None, :] - np.arange(N_CHROMA)[:, None] + half, N_CHROMA) - half
    weights = np.exp(-0.5 * (2.0 * distance / width) ** 2)
    weights /= np.linalg.norm(weights, axis=0, keepdims=True)
    weights *= np.exp(-0.5 * ((semitones / N_CHROMA - CENTRE_OCTAVE) / OCTAVE_WIDTH) ** 2)
    # rows were counted from A; C is 3 semitones above A
    weights = np.roll(weights, -3, axis=0)
    return weights[:, : n_fft // 2 + 1]


def _waveforms(x: torch.Tensor) -> torch.Tensor:
    """``x`` as float32 ``[batch, samples]``, or an error saying what is wrong with it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor [batch, samples], got {type(x).__name__}")
    if x.ndim != 2:
        raise ValueError(f"expected waveforms of shape [batch, samples], got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"expected floating-point samples in [-1, 1], got {x.dtype}")
    return x.float()


def _mean_and_std(features: torch.Tensor) -> torch.Tensor:
    """``[batch, n, frames]`` -> ``[batch, 2n]``: the mean over frames, then the population std."""
    std, mean = torch.std_mean(features, dim=-1, correction=0)
    return torch.cat([mean, std], dim=-1)


def _keep_out_of_state_dict(module: nn.Module) -> None:
    """Make every buffer of ``module`` and its children non-persistent.

    The buffers are filter banks computed from the parameters: nothing to save or load, and a
    model with no weights loads an empty state dict. nnAudio registers its kernels as persistent
    buffers, so they are registered again here.
    """
    for child in module.modules():
        for name, buffer in list(child.named_buffers(recurse=False)):
            delattr(child, name)
            child.register_buffer(name, buffer, persistent=False)


def _check_sample_rate(sample_rate: int) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise TypeError(f"sample_rate must be an int, got {type(sample_rate).__name__}")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    return int(sample_rate)


class MFCCStats(nn.Module):
    """Segments -> the mean and standard deviation over frames of their 20 MFCCs (40-d).

    See the module docstring for the definition (librosa's ``feature.mfcc`` with its defaults).

    Parameters
    ----------
    sample_rate : int
        Sample rate of the waveforms in Hz; the mel bands reach ``sample_rate / 2``.

    Examples
    --------
    >>> model = MFCCStats(16000)
    >>> model(torch.zeros(3, 47872))["embeddings"].shape
    torch.Size([3, 40])
    """

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = _check_sample_rate(sample_rate)
        # nnAudio's MFCC: its dB floor is top_db below each row's own maximum, as librosa's
        # per call; the mel bands' Slaney area normalisation is MelSpectrogram's default (norm=1,
        # which MFCC cannot pass on: its own ``norm`` names the DCT's)
        self.mfcc = MFCC(
            sr=self.sample_rate, n_mfcc=N_MFCC, norm="ortho", ref=1.0, amin=1e-10, top_db=80.0,
            n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS, window="hann", center=True,
            pad_mode="constant", power=2.0, htk=False, fmin=0.0, fmax=None,
            trainable_mel=False, trainable_STFT=False, verbose=False,
        )  # fmt: skip
        _keep_out_of_state_dict(self)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_fft={N_FFT}, hop={HOP_LENGTH}, n_mels={N_MELS}, "
            f"n_mfcc={N_MFCC}"
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The MFCC statistics of each segment.

        Parameters
        ----------
        x : torch.Tensor
            Waveforms of shape ``(batch, samples)``, one segment per row, at ``sample_rate`` Hz;
            floating point (converted to float32), on any device.

        Returns
        -------
        dict of str to torch.Tensor
            ``"embeddings"``: ``float32`` tensor of shape ``(batch, 40)`` on ``x``'s device
            (``batch`` may be 0): columns 0-19 the mean over frames of MFCCs 0-19, columns 20-39
            their population standard deviation.

        Raises
        ------
        TypeError
            ``x`` is not a tensor, or its samples are not floating point.
        ValueError
            ``x`` is not 2-D.
        """
        x = _waveforms(x)
        if x.shape[0] == 0:  # nnAudio's DCT (an FFT) refuses an empty batch
            return {"embeddings": x.new_zeros((0, 2 * N_MFCC))}
        with tf32(False, x.device):  # the STFT and mel are a convolution and a matrix product
            mfcc = self.mfcc(x)  # [batch, 20, frames]
        return {"embeddings": _mean_and_std(mfcc)}


class ChromaStats(nn.Module):
    """Segments -> the mean and standard deviation over frames of their 12 chroma bins (24-d).

    See the module docstring for the definition (librosa's ``feature.chroma_stft`` with
    ``tuning=0.0``: pitch classes relative to A = 440 Hz, never a tuning estimated per segment).

    Parameters
    ----------
    sample_rate : int
        Sample rate of the waveforms in Hz.

    Examples
    --------
    >>> model = ChromaStats(16000)
    >>> model(torch.zeros(3, 47872))["embeddings"].shape
    torch.Size([3, 24])
    """

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sample_rate = _check_sample_rate(sample_rate)
        self.stft = STFT(
            n_fft=N_FFT, hop_length=HOP_LENGTH, window="hann", freq_scale="no", center=True,
            pad_mode="constant", sr=self.sample_rate, output_format="Complex", trainable=False,
            verbose=False,
        )  # fmt: skip
        bank = torch.from_numpy(chroma_filter_bank(self.sample_rate)).float()
        self.register_buffer("filter_bank", bank, persistent=False)  # [12, 1025]
        _keep_out_of_state_dict(self)

    def extra_repr(self) -> str:
        return (
            f"sample_rate={self.sample_rate}, n_fft={N_FFT}, hop={HOP_LENGTH}, "
            f"n_chroma={N_CHROMA}, tuning=0.0"
        )

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The chroma statistics of each segment.

        Parameters
        ----------
        x : torch.Tensor
            Waveforms of shape ``(batch, samples)``, one segment per row, at ``sample_rate`` Hz;
            floating point (converted to float32), on any device.

        Returns
        -------
        dict of str to torch.Tensor
            ``"embeddings"``: ``float32`` tensor of shape ``(batch, 24)`` on ``x``'s device
            (``batch`` may be 0): columns 0-11 the mean over frames of the chroma bins C, C#, ...,
            B, columns 12-23 their population standard deviation.

        Raises
        ------
        TypeError
            ``x`` is not a tensor, or its samples are not floating point.
        ValueError
            ``x`` is not 2-D.
        """
        x = _waveforms(x)
        if x.shape[0] == 0:  # as MFCCStats'
            return {"embeddings": x.new_zeros((0, 2 * N_CHROMA))}
        with tf32(False, x.device):  # the STFT and the projection are products of float32
            spectrum = self.stft(x)  # [batch, 1025, frames, (real, imaginary)]
            power = spectrum.square().sum(dim=-1)
            chroma = self.filter_bank @ power  # [batch, 12, frames]
        # each frame divided by its largest bin; a frame below the smallest normal float32 (as
        # silence) is left as it is, as librosa leaves one below the smallest normal float64
        peak = chroma.amax(dim=1, keepdim=True)
        peak = torch.where(peak < torch.finfo(chroma.dtype).tiny, torch.ones_like(peak), peak)
        return {"embeddings": _mean_and_std(chroma / peak)}
