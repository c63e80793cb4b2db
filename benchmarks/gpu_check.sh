#!/usr/bin/env bash
# The GPU check, run on the lent GPU machine in one call (about 3 minutes today):
#   here:   bash benchmarks/gpu_wheels.sh
#   device: run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=480)
# Installs what the image lacks from the carried wheels, prints the hardware, runs the test suite
# (the real-music tests skip: the game-music packages are not there) and the benchmarks, and
# prints every figure. Later issues add their CUDA parity tests and GPU benchmarks here.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || { echo "install from .whl failed"; exit 1; }
export PYTHONPATH="/tmp/site:$PWD/src"
export EMBEDEXPLORE_CACHE=/tmp/embedexplore-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 - <<'PY'
import torch
print("torch", torch.__version__, "cuda available:", torch.cuda.is_available(),
      torch.cuda.get_device_name() if torch.cuda.is_available() else "")
PY
status=0
python3 -m pytest -q -p no:cacheprovider tests || status=1
for b in decode_speed rescan resampling_quality; do
  echo "== benchmarks/$b.py"
  timeout 120 python3 "benchmarks/$b.py" || status=1
done
exit $status
