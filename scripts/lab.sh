#!/usr/bin/env bash
# Open JupyterLab on 127.0.0.1 with examples/01_explore_your_collection.ipynb, after writing the
# offline demo collection it starts with (once; about 20 s). Needs scripts/setup.sh first (the
# README's first command, scripts/explore.sh, runs both). Arguments go to `jupyter lab`:
#   bash scripts/lab.sh --port=8899 --no-browser
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/jupyter ]; then
  echo "no .venv with JupyterLab here: run bash scripts/setup.sh first" >&2
  exit 1
fi
.venv/bin/embedexplore demo
root=()
if [ "$(id -u)" = 0 ]; then
  root=(--allow-root)  # containers and CI machines run as root; Jupyter refuses it otherwise
fi
echo
echo "Opening JupyterLab on 127.0.0.1 with the explore notebook: run its cells (Run > Run All"
echo "Cells). Stop the server with Ctrl-C."
exec .venv/bin/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir="$PWD/examples" \
  "${root[@]}" "$@" "$PWD/examples/01_explore_your_collection.ipynb"
