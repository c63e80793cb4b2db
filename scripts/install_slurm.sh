#!/usr/bin/env bash
# Debian's SLURM and MUNGE, for the test that runs extraction on a one-node SLURM cluster
# (tests/test_slurm.py starts its own daemons on 127.0.0.1 from a generated slurm.conf; the
# packages' services are not used).
set -euo pipefail
exec bash "$(dirname "$0")/apt_install.sh" slurmctld slurmd slurm-client munge
