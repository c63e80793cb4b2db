#!/usr/bin/env bash
# The GPU check, run on the lent GPU machine in one call (about 5 minutes):
#   here:   bash benchmarks/gpu_wheels.sh
#   device: run(command="bash benchmarks/gpu_check.sh", carry=[".whl"], timeout_s=480)
# Installs what the image lacks from the carried wheels, prints the hardware, then:
#   1. parity with the original models on CUDA: the figures for float32, tf32 and bf16
#      (benchmarks/parity_report.py), then tests/test_parity.py on CUDA in float32 (the CPU
#      bounds) and in tf32 (bound 2e-3, the most a default precision may cost);
#   2. model-only throughput per precision (benchmarks/model_speed.py);
#   3. the CPU test suite (the real-music tests skip: those packages are not there).
# Every figure is printed; the exit status is non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || { echo "install from .whl failed"; exit 1; }
export PYTHONPATH="/tmp/site:$PWD/src"
export EMBEDEXPLORE_CACHE=/tmp/embedexplore-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
status=0
step() { echo; echo "== $*"; "$@" || status=1; }
for p in float32 tf32 bf16; do
  step timeout 120 python3 benchmarks/parity_report.py --device cuda --precision "$p"
done
EMBEDEXPLORE_TEST_DEVICE=cuda step timeout 180 python3 -m pytest -q -p no:cacheprovider \
  tests/test_parity.py
EMBEDEXPLORE_TEST_DEVICE=cuda EMBEDEXPLORE_TEST_PRECISION=tf32 \
  EMBEDEXPLORE_TEST_TAGGRAM_ATOL=2e-3 EMBEDEXPLORE_TEST_EMBEDDING_RTOL=2e-3 \
  step timeout 180 python3 -m pytest -q -p no:cacheprovider tests/test_parity.py \
  -k "networks_equal or end_to_end"
for p in float32 tf32 bf16; do
  step timeout 60 python3 benchmarks/model_speed.py --device cuda --precision "$p" \
    --batch 1024 --seconds 5
done
step timeout 240 python3 -m pytest -q -p no:cacheprovider tests -x \
  --deselect tests/test_packaging.py::test_wheel_contains_the_package
exit $status
