#!/usr/bin/env bash
# Download, on this (CPU) machine, the wheels that the GPU machine's image lacks, into ./.whl
# (git-ignored), for benchmarks/gpu_check.sh. The GPU image has Python 3.12 with torch, numpy,
# pandas, scipy, tqdm, pytest and safetensors; it reaches no package registry.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
dl() {
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any -d .whl "$@"
}
# soundfile (libsndfile, the second decoder) and cffi, which it loads its library with
dl "soundfile==$(.venv/bin/python -c "import soundfile; print(soundfile.__version__)")"
dl "cffi==$(.venv/bin/python -c 'import cffi; print(cffi.__version__)')"
dl "av==$(.venv/bin/python -c 'import av; print(av.__version__)')"
dl "soxr==$(.venv/bin/python -c 'import soxr; print(soxr.__version__)')"
dl "mutagen==$(.venv/bin/python -c 'import mutagen; print(mutagen.version_string)')"
dl "nnAudio==$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("nnAudio"))')"
# Dask distributed, for benchmarks/cluster_gpu.py (workers sharing one GPU); the venv's versions
for p in dask distributed cloudpickle msgpack toolz tornado zict tblib psutil sortedcontainers \
         click jinja2 markupsafe locket partd fsspec pyyaml; do
  dl "$p==$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$p'))")"
done
ls -la .whl
