"""The arithmetic the models run in: TensorFloat-32 on or off, restored afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def tf32(enabled: bool) -> Iterator[None]:
    """Allow (or forbid) TensorFloat-32 in CUDA matrix products and cuDNN convolutions inside the
    block, whatever the global settings, and restore them after, also on an exception.

    PyTorch allows TF32 in cuDNN convolutions by default: on an NVIDIA GPU since Ampere that
    silently rounds inputs to 10 bits of mantissa, about 1e-3 relative, far above the 1e-4 parity
    of float32 with the original models. No effect on the CPU.
    """
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
