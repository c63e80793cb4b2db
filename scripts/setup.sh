#!/usr/bin/env bash
# Set up embedexplore in ./.venv from this checkout: Python >= 3.10, torch, the package (editable)
# and one of its extras.
#   bash scripts/setup.sh            # the package and JupyterLab (extra "lab"): the notebooks
#   bash scripts/setup.sh test       # the package and what the tests need (JupyterLab included)
# torch: EMBEDEXPLORE_TORCH picks the requirement (default torch==2.13.0, which on the project's
# CPU machines is a local CPU wheel; an unpinned torch pulls several GB of CUDA libraries).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-lab}"
python="${PYTHON:-python3}"
"$python" - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"embedexplore needs Python >= 3.10; this is {sys.version.split()[0]} (set PYTHON=...)")
PY
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# npm bundles the widget's frontend (js/) while the package installs
if ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "embedexplore needs Node.js and npm to build its widget: apt-get install nodejs npm" >&2
    exit 1
  fi
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  pip install "${EMBEDEXPLORE_TORCH:-torch==2.13.0}"
fi
pip install -e ".[$extras]"
