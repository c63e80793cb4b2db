"""What every model does to its input first: pick the device, check and resample the waveform."""

from __future__ import annotations

import numpy as np
import torch

SAMPLE_RATE = 16_000


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"``: CUDA when a GPU is visible, else the CPU; anything else as torch reads it."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def mono_16k(waveform: np.ndarray | torch.Tensor, sample_rate: int) -> np.ndarray:
    """A mono waveform as float32 at 16 kHz (soxr HQ, as :mod:`embedexplore.audio`), checked."""
    if isinstance(waveform, torch.Tensor):
        waveform = waveform.detach().cpu().numpy()
    x = np.asarray(waveform, dtype=np.float32)
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
    return x
