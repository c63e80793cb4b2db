#!/usr/bin/env bash
# Debian packages of freely licensed game music that the integration tests and notebook 03 read
# (about 570 MB). The same list, with where each puts its music: embedexplore.datasets.
# GAME_MUSIC_PACKAGES (tests/test_datasets.py checks that the two agree).
set -euo pipefail
exec bash "$(dirname "$0")/apt_install.sh" wesnoth-1.16-music colobot-common-sounds \
  fretsonfire-songs-muldjord nexuiz-music freedroidrpg-data asc-music
