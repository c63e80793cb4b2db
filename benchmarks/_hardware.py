"""One line describing the machine a benchmark ran on, printed at the top of each benchmark."""

from __future__ import annotations

import os
import platform


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import av
    import numpy
    import soxr

    return (
        f"hardware: {cpu}, {os.cpu_count()} logical cores{mem}; Python "
        f"{platform.python_version()}, PyAV {av.__version__} (libavcodec "
        f"{'.'.join(map(str, av.library_versions['libavcodec']))}), soxr {soxr.__version__}, "
        f"numpy {numpy.__version__}"
    )
