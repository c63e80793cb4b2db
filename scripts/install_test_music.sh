#!/usr/bin/env bash
# Debian packages of freely licensed game music that the integration tests read (about 570 MB).
set -euo pipefail
exec bash "$(dirname "$0")/apt_install.sh" wesnoth-1.16-music colobot-common-sounds \
  fretsonfire-songs-muldjord nexuiz-music freedroidrpg-data asc-music
