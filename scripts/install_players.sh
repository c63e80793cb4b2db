#!/usr/bin/env bash
# Debian's mpv, the real M3U8 reader that the playlist tests play their exported playlists with
# (audio and video to null outputs), to prove that hostile tags and file names add no entry.
set -euo pipefail
exec bash "$(dirname "$0")/apt_install.sh" mpv
