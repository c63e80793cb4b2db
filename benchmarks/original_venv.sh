#!/usr/bin/env bash
# A throwaway venv with the ORIGINAL musicnn 0.1.0 under TensorFlow, for scripts/make_reference.py
# and benchmarks/original_musicnn.py (about 1.5 GB; not used by the package or its tests).
#   bash benchmarks/original_venv.sh            -> .venv-original/ (git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-original
pip() { .venv-original/bin/python -m pip --disable-pip-version-check -q "$@"; }
pip install "tensorflow-cpu==2.21.*" librosa
pip install --no-deps "tf-keras==2.21.*" musicnn==0.1.0
echo "run with: TF_USE_LEGACY_KERAS=1 .venv-original/bin/python ..."
