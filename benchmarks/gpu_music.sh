#!/usr/bin/env bash
# Copy ~10 MB of real music (Debian's freedroidrpg-data and asc-music: 5 Vorbis, 1 MP3, 15 min)
# into ./.gpu-music (git-ignored), for the extraction benchmarks of benchmarks/gpu_check.sh.
# The device's working tree is limited to 64 MiB, wheels included: hence so little, linked
# many times over on the device.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpu-music
for f in hellforce.ogg Hyperbattle.ogg Suspicion.ogg temple.ogg Ambience.ogg; do
  cp /usr/share/freedroidrpg/data/sound/music/$f .gpu-music/
done
cp /usr/share/games/asc/music/machine_wars.mp3 .gpu-music/
du -sh .gpu-music
