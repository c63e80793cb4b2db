#!/usr/bin/env bash
# Set everything up and run all tests: the package, the test tools, the real-music packages
# (Debian's freely licensed game music; installed when running as root with apt, otherwise the
# tests that need them are skipped with a message), Debian's chromium for the widget's browser
# tests, Debian's SLURM and MUNGE (the one-node SLURM test), then pytest: the tests, then the
# example notebooks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
bash scripts/install_test_music.sh || echo "note: test music not installed; those tests will skip"
bash scripts/install_browser.sh || echo "note: chromium not installed; the browser tests will skip"
bash scripts/install_players.sh || echo "note: mpv not installed; the playlist player tests will skip"
bash scripts/install_slurm.sh || echo "note: SLURM not installed; the SLURM test will skip"
# --nbval-lax: the example notebooks run cell by cell after the tests (examples/conftest.py gives
# them a private cache); only cells marked NBVAL_CHECK_OUTPUT have their output compared
exec .venv/bin/python -m pytest --nbval-lax --nbval-current-env \
  --nbval-sanitize-with examples/sanitize.cfg --nbval-cell-timeout=900 "$@"
