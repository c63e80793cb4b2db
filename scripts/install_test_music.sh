#!/usr/bin/env bash
# Debian packages of freely licensed game music that the integration tests read (about 570 MB).
set -euo pipefail
packages=(wesnoth-1.16-music colobot-common-sounds fretsonfire-songs-muldjord nexuiz-music
          freedroidrpg-data asc-music)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install as root: apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
