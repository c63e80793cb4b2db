"""Model-only throughput: log-mel patches per second through each network, and all four.

    .venv/bin/python benchmarks/model_speed.py [--device cuda] [--precision float32|tf32|bf16]
                                               [--batch 256] [--seconds 5]

Patches are random log-mel input on the device (decoding and the mel frontend excluded: that is
the extraction benchmark's job). Prints patches/s and the equivalent multiple of realtime
(one patch = 2.992 s of audio) with the hardware.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from embedexplore.models import PATCH_FRAMES, load_model

NAMES = ["musicnn-msd", "musicnn-mtt", "vgg-msd", "vgg-mtt"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"device: {args.device} ({name}), precision {args.precision}, batch {args.batch}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
    )
    models = {n: load_model(n, device=device, precision=args.precision) for n in NAMES}
    x = torch.randn(args.batch, PATCH_FRAMES, 96, device=device) + 2.0
    totals = {}
    for n, m in models.items():
        m.forward(x)  # warm-up (cuDNN autotuning, allocator)
        _sync(device)
        count, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            m.forward(x)
            count += args.batch
        _sync(device)
        rate = count / (time.perf_counter() - t0)
        totals[n] = rate
        print(f"  {n:12s} {rate:10.1f} patches/s  ({rate * 2.992:9.0f}x realtime)")
    all_four = 1 / sum(1 / r for r in totals.values())
    print(f"  all four     {all_four:10.1f} patches/s  ({all_four * 2.992:9.0f}x realtime)")


if __name__ == "__main__":
    main()
