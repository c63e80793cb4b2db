"""What every model does to its input first: pick the device, check and resample the waveform."""

from __future__ import annotations

import numpy as np
import torch

from ..clock import SAMPLE_RATE


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"``: CUDA when a GPU is visible, else the CPU; anything else as torch reads it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def mono_16k(waveform: np.ndarray | torch.Tensor, sample_rate: int) -> np.ndarray:
    """A mono waveform as float32 at 16 kHz (soxr HQ, as :mod:`embedexplore.audio`), checked."""
    if isinstance(waveform, torch.Tensor):
        waveform = waveform.detach().cpu()
        if not waveform.is_floating_point() and not waveform.is_complex():
            waveform = waveform.numpy()  # integers: scaled below
        else:
            waveform = waveform.float().numpy()  # bfloat16 has no numpy dtype
    x = np.asarray(waveform)
    if x.dtype.kind in "iu":
        # integer PCM: full scale is +-1, as decoders deliver it (int16 / 32768)
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float64) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    elif x.dtype.kind not in "f":
        raise ValueError(f"the waveform must hold real numbers, not {x.dtype}")
    x = x.astype(np.float32, copy=False)
    size = x.size
    if x.ndim != 1:
        raise ValueError(
            f"embed() takes a mono waveform [n]; got shape {x.shape} (average the channels first, "
            "e.g. waveform.mean(axis=0))"
        )
    if not np.isfinite(x).all():
        raise ValueError("the waveform holds NaN or infinite values")
    if sample_rate != SAMPLE_RATE:
        import soxr

        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {sample_rate}")
        x = soxr.resample(x, sample_rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
        if size and not x.size:  # a few samples at a high rate: keep the track non-empty
            x = np.zeros(1, np.float32)
    return x
