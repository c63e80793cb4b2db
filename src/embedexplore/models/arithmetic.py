"""The arithmetic the models run in on a GPU: TensorFloat-32 on or off, restored afterwards."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

# the switches are process-wide: overlapping blocks (threads) must not restore each other's state
_LOCK = threading.RLock()


@contextlib.contextmanager
def tf32(enabled: bool, device: torch.device | str) -> Iterator[None]:
    """Allow (or forbid) TensorFloat-32 in CUDA matrix products and cuDNN convolutions inside the
    block, whatever the global settings, and restore them after, also on an exception.

    PyTorch allows TF32 in cuDNN convolutions by default: on an NVIDIA GPU since Ampere that
    silently rounds inputs to 10 bits of mantissa, about 1e-3 relative, far above the 1e-4 parity
    of float32 with the original models. Nothing is touched for other devices. Uses the
    ``fp32_precision`` settings of torch >= 2.9 where they exist (mixing them with the older
    ``allow_tf32`` switches is an error there), else ``allow_tf32``.
    """
    if torch.device(device).type != "cuda":
        yield
        return
    with _LOCK:
        matmul, conv = torch.backends.cuda.matmul, getattr(torch.backends.cudnn, "conv", None)
        if hasattr(matmul, "fp32_precision") and conv is not None:
            saved = (matmul.fp32_precision, conv.fp32_precision)
            matmul.fp32_precision = conv.fp32_precision = "tf32" if enabled else "ieee"
            try:
                yield
            finally:
                matmul.fp32_precision, conv.fp32_precision = saved
        else:
            saved = (matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
            matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
            try:
                yield
            finally:
                matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved
