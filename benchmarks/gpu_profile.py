"""Where the models' GPU time goes: throughput per setting, and the top CUDA kernels.

    python benchmarks/gpu_profile.py            # on a CUDA machine (benchmarks/gpu_check.sh)

For MusiCNN and VGG (MSD weights; the MTT ones have the same shapes), in float32 and tf32:
patches/s at batch 1024 as loaded, with ``torch.backends.cudnn.benchmark`` on, and with the
network in channels-last (NHWC) layout; then a torch.profiler table of the CUDA kernels of two
forward passes of each network in tf32.
"""

from __future__ import annotations

import time

import torch
from torch.profiler import ProfilerActivity, profile

from embedexplore import load_model


def speed(model, x, seconds: float = 2.0) -> float:
    model.forward(x)
    torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        model.forward(x)
        n += len(x)
    torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main() -> None:
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    x = torch.randn(1024, 187, 96, device="cuda") + 2.0
    for name in ("musicnn-msd", "vgg-msd"):
        for precision in ("float32", "tf32"):
            model = load_model(name, device="cuda", precision=precision)
            torch.backends.cudnn.benchmark = False
            base = speed(model, x)
            ref = model.forward(x[:256])["taggrams"]
            torch.backends.cudnn.benchmark = True
            bench = speed(model, x)
            model.network = model.network.to(memory_format=torch.channels_last)
            nhwc = speed(model, x)
            torch.backends.cudnn.benchmark = False
            nhwc_nobench = speed(model, x)
            moved = (model.forward(x[:256])["taggrams"] - ref).abs().max().item()
            print(
                f"{name:12s} {precision:8s} patches/s: as loaded {base:8.0f} | cudnn.benchmark "
                f"{bench:8.0f} | channels_last + benchmark {nhwc:8.0f} | channels_last "
                f"{nhwc_nobench:8.0f} (taggrams moved by {moved:.1e})",
                flush=True,
            )
    for name in ("musicnn-msd", "vgg-msd"):
        model = load_model(name, device="cuda", precision="tf32")
        model.forward(x)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(2):
                model.forward(x)
            torch.cuda.synchronize()
        print(f"\n{name}, tf32, batch 1024, two forward passes: CUDA kernels by total time")
        print(
            prof.key_averages().table(
                sort_by="cuda_time_total", row_limit=12, max_name_column_width=70
            )
        )


if __name__ == "__main__":
    main()
