#!/usr/bin/env bash
# The README's first command: set embedexplore up in ./.venv with JupyterLab (scripts/setup.sh),
# then open JupyterLab on the explore notebook with the offline demo collection (scripts/lab.sh).
# Arguments go to `jupyter lab`, e.g. --port=8899 --no-browser.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec bash scripts/lab.sh "$@"
