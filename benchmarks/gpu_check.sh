#!/usr/bin/env bash
# The GPU check, run on the lent GPU machine in one call (about 7 minutes):
#   here:   bash benchmarks/gpu_wheels.sh        # wheels the image lacks, into .whl
#           bash benchmarks/gpu_music.sh         # ~10 MB of real music, into .gpu-music
#   device: run(command="bash benchmarks/gpu_check.sh", carry=[".whl", ".gpu-music"],
#               timeout_s=560)
# Installs what the image lacks from the carried wheels, prints the hardware, then:
#   1. parity with the original models on CUDA: the figures for float32, tf32 and bf16
#      (benchmarks/parity_report.py), then tests/test_parity.py on CUDA in float32 (the CPU
#      bounds) and in tf32 (bound 2e-3, the most a default precision may cost);
#   2. model-only throughput per precision and layout, with the top CUDA kernels
#      (benchmarks/gpu_profile.py, benchmarks/model_speed.py);
#   3. end-to-end extraction of real music, all four models, with a profile and a parity check
#      against load_model().embed() (benchmarks/extract_speed.py), in float32 and the default (tf32);
#   4. extraction of 10,000 tiny tracks: per-track overhead and memory over the run;
#   5. Dask: one worker for the GPU vs two workers sharing it, against one machine
#      (benchmarks/cluster_gpu.py).
# Every figure is printed and kept in $OUT/gpu_check.log; the exit status is non-zero if any
# step failed. `bash benchmarks/gpu_check.sh quick` (about 2 minutes, for a session with little
# device time left) runs only the parity tests on CUDA in float32 and the two extractions of
# real music (step 3).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
LOG="${OUT:-/tmp}/gpu_check.log"
exec > >(tee "$LOG") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || { echo "install from .whl failed"; exit 1; }
export PYTHONPATH="/tmp/site:$PWD/src"
export EMBEDEXPLORE_CACHE=/tmp/embedexplore-cache
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
status=0
step() { echo; echo "== $*"; "$@" || { echo "!! step failed: $*"; status=1; }; }
if [ "${1:-}" = quick ]; then
  EMBEDEXPLORE_TEST_DEVICE=cuda step timeout 120 python3 -m pytest -q -p no:cacheprovider \
    tests/test_parity.py
  step timeout 150 python3 benchmarks/extract_speed.py --folder .gpu-music --copies 60 \
    --device cuda --precision float32 --dtype float32 --check 3
  step timeout 100 python3 benchmarks/extract_speed.py --folder .gpu-music --copies 60 \
    --device cuda
  exit $status
fi
for p in float32 tf32 bf16; do
  step timeout 90 python3 benchmarks/parity_report.py --device cuda --precision "$p"
done
step timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_vggish.py -k cuda
EMBEDEXPLORE_TEST_DEVICE=cuda step timeout 120 python3 -m pytest -q -p no:cacheprovider \
  tests/test_parity.py
EMBEDEXPLORE_TEST_DEVICE=cuda EMBEDEXPLORE_TEST_PRECISION=tf32 \
  EMBEDEXPLORE_TEST_TAGGRAM_ATOL=2e-3 EMBEDEXPLORE_TEST_EMBEDDING_RTOL=2e-3 \
  step timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_parity.py \
  -k "networks_equal or end_to_end"
step timeout 120 python3 benchmarks/gpu_profile.py
for p in float32 tf32 bf16; do
  step timeout 45 python3 benchmarks/model_speed.py --device cuda --precision "$p" \
    --batch 1024 --seconds 4
done
if [ -d .gpu-music ]; then
  step timeout 150 python3 benchmarks/extract_speed.py --folder .gpu-music --copies 60 \
    --device cuda --precision float32 --dtype float32 --check 3
  step timeout 100 python3 benchmarks/extract_speed.py --folder .gpu-music --copies 60 \
    --device cuda
  mkdir -p /tmp/tiny
  step python3 -c "import sys; sys.path.insert(0, 'tests'); from audiofiles import excerpt; \
excerpt('.gpu-music/hellforce.ogg', '/tmp/tiny/tiny.ogg', 3.2)"
  step timeout 150 python3 benchmarks/extract_speed.py --folder /tmp/tiny --copies 10000 \
    --device cuda
  step timeout 180 python3 benchmarks/cluster_gpu.py --folder .gpu-music --copies 40
  # the baselines and a registered model on CUDA: extraction speed, and the store against
  # load_model().embed() on the same device
  step timeout 120 python3 benchmarks/extract_speed.py --folder .gpu-music --copies 20 \
    --device cuda --models mfcc-stats chroma-stats --dtype float32 --check 3
else
  echo "no .gpu-music: run benchmarks/gpu_music.sh here first; extraction benchmarks skipped"
  status=1
fi
exit $status
